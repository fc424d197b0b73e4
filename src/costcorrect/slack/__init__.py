"""Serving slack (DESIGN layer `slack`, spec/economics.md §6): what idle serving capacity is
worth to RL rollouts, priced at the marginal-of-idle rate."""
