"""costcorrect — inference economics: $ per SLO-compliant token and per correct answer."""

__version__ = "0.1.0"
