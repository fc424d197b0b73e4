"""Per-request records of a benchmark run (schema ``costcorrect.bench.record/1``), one JSON
object per line, written as each request ends so an interrupted run keeps what it measured.

Timing (seconds, from the run's start on the client's monotonic clock):
- ``scheduled_s``: when the request should start; ``sent_s``: when it did (``lag_s`` the
  difference: the client could not keep up when it grows);
- TTFT = first content event − scheduled time (client-side queueing is included on purpose:
  an open-loop user waits from their own start time);
- ITL: gaps between successive arrivals of content (an event may carry several tokens, and
  events that arrive in one network read share its time, so they make one gap);
- E2E = last content event − scheduled time, so Σ ITL = E2E − TTFT;
- TPOT = (E2E − TTFT) / (output tokens − 1), tokens from the final ``usage`` when the server
  sends it, else the count of content events.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from costcorrect.errors import InputError

SCHEMA = "costcorrect.bench.record/1"


@dataclass
class RequestRecord:
    """One request: what was asked, when, what came back."""

    id: int
    scheduled_s: float
    input_tokens_requested: int
    output_tokens_requested: int
    sent_s: float = math.nan
    status: str = "error"
    http_status: int | None = None
    error: str = ""
    ttft_s: float = math.nan
    e2e_s: float = math.nan
    itl_s: list[float] = field(default_factory=list)
    output_tokens: int = 0
    prompt_tokens: int | None = None
    usage_reported: bool = False
    schema: str = SCHEMA

    @property
    def lag_s(self) -> float:
        return self.sent_s - self.scheduled_s

    @property
    def tpot_s(self) -> float:
        if self.output_tokens < 2 or not math.isfinite(self.ttft_s):
            return math.nan
        return (self.e2e_s - self.ttft_s) / (self.output_tokens - 1)

    def to_json(self) -> str:
        out = asdict(self)
        out["lag_s"], out["tpot_s"] = self.lag_s, self.tpot_s
        return json.dumps(out, allow_nan=True)


def records_frame(records: Iterable[RequestRecord]) -> pd.DataFrame:
    """A table of records (one row each, ITLs as lists)."""
    rows = []
    for r in records:
        row = asdict(r)
        row["lag_s"], row["tpot_s"] = r.lag_s, r.tpot_s
        rows.append(row)
    return pd.DataFrame(rows)


def read_records(path: str | Path) -> list[RequestRecord]:
    """Records from a JSONL (possibly of an interrupted run) or Parquet file."""
    path = Path(path)
    if not path.is_file():
        raise InputError("records", str(path), "an existing .jsonl or .parquet records file")
    names = {f for f in RequestRecord.__dataclass_fields__}
    try:
        if path.suffix == ".parquet":
            rows = pd.read_parquet(path).to_dict("records")
        else:
            rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    except (ValueError, OSError) as err:
        raise InputError("records", str(path), f"records written by costcorrect ({err})") from None
    out = []
    for i, row in enumerate(rows):
        if row.get("schema") != SCHEMA:
            raise InputError("records", f"{path.name} row {i + 1}", f"schema {SCHEMA}")
        row = {k: v for k, v in row.items() if k in names}
        row["itl_s"] = [float(x) for x in row.get("itl_s", [])]
        out.append(RequestRecord(**row))
    return out


def write_records(path: str | Path, records: Iterable[RequestRecord]) -> None:
    """Write records atomically as .parquet, or else as JSON lines."""
    import io

    from costcorrect.io import atomic_write

    path = Path(path)
    if path.suffix == ".parquet":
        buffer = io.BytesIO()
        records_frame(records).to_parquet(buffer, index=False)
        atomic_write(path, buffer.getvalue())
    else:
        atomic_write(path, "".join(r.to_json() + "\n" for r in records))
