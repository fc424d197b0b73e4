"""The ``costcorrect`` command line: one command per question, thin over the library."""

import os

# The CLI uses no pydantic plugins; skipping their entry-point scan saves start-up time.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

from costcorrect.cli.app import main

__all__ = ["main"]
