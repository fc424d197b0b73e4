"""Cost per correct answer (DESIGN: the one equation; spec/economics.md §1)."""
