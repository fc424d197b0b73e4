"""``python -m costcorrect`` runs the CLI."""

from costcorrect.cli import main

main()
