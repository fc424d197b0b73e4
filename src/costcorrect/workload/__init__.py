"""What traffic arrives: seeded arrival processes and request streams for the serving engines."""

from costcorrect.workload.arrivals import gamma_arrivals, poisson_arrivals
from costcorrect.workload.stream import (
    TRACE_COLUMNS,
    LengthStats,
    RequestStream,
    read_trace,
    synthetic_stream,
    write_trace,
)

__all__ = [
    "TRACE_COLUMNS",
    "LengthStats",
    "RequestStream",
    "gamma_arrivals",
    "poisson_arrivals",
    "read_trace",
    "synthetic_stream",
    "write_trace",
]
