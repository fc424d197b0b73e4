"""Training vs test-time allocation (DESIGN layer `allocate`, spec/economics.md §4): whether
the next dollar lowers cost per correct answer faster as rollouts or as training."""
