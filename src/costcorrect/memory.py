"""Refuse work that cannot fit in this machine's memory, up front and in one line."""

from __future__ import annotations

import os
from pathlib import Path

from costcorrect.errors import InputError
from costcorrect.units import format_quantity

#: bytes a simulated request costs over a whole run (stream, engine state, records): the peak
#: RSS of `serve simulate` grew by ~180 B per request from 200k to 1M requests (measured here)
BYTES_PER_SIMULATED_REQUEST = 200
#: runs below this size are not checked (every machine this runs on has it free)
ALWAYS_FITS_BYTES = 256e6
#: the share of the available memory one run may plan to use
USABLE_SHARE = 0.5


def available_bytes() -> float | None:
    """Memory available to a new allocation (Linux ``MemAvailable``; else physical pages),
    in bytes, or None where the system does not say."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return float(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None


def require_requests_fit(field: str, n: int) -> None:
    """An :class:`InputError` on ``field`` when ``n`` simulated requests would need more than
    half of the available memory, naming the size needed and the largest run that fits."""
    need = n * BYTES_PER_SIMULATED_REQUEST
    if need <= ALWAYS_FITS_BYTES:  # ordinary runs: no system call on the sampling path
        return
    available = available_bytes()
    if available is None or need <= USABLE_SHARE * available:
        return
    most = int(USABLE_SHARE * available // BYTES_PER_SIMULATED_REQUEST)
    raise InputError(
        field,
        n,
        f"at most {most:,} requests here (about {BYTES_PER_SIMULATED_REQUEST} B each: "
        f"{format_quantity(need, 'bytes')} needed, {format_quantity(available, 'bytes')} "
        "available)",
    )
