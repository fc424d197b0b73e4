"""Show it (DESIGN layer `report`): figures of results computed elsewhere; computes nothing."""
