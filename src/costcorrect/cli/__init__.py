"""The ``costcorrect`` command line: one command per question, thin over the library."""

from costcorrect.cli.app import main

__all__ = ["main"]
