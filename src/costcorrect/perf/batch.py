"""The work of one iteration, as aggregate token counts (numpy arrays broadcast together)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

import numpy as np

from costcorrect.errors import InputError

if TYPE_CHECKING:
    from numpy.typing import ArrayLike


def _nonnegative(name: str, value: ArrayLike) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        bad = arr[~(np.isfinite(arr) & (arr >= 0))].flat[0]
        raise InputError(name, float(bad), "a finite number ≥ 0")
    return arr


@dataclass(frozen=True)
class Batch:
    """Token counts of one iteration; every field is an array (or scalar) in tokens/sequences.

    ``prefill_attn_pairs`` = Σᵢ nᵢ·(cᵢ + (nᵢ+1)/2) query–key pairs of the prefill chunks (nᵢ new
    tokens on cᵢ cached); ``prefill_kv_tokens`` = Σᵢ (cᵢ + nᵢ) tokens of KV the chunks attend to;
    ``decode_kv_tokens`` = Σⱼ cⱼ context tokens read by the decoding sequences.
    """

    prefill_tokens: np.ndarray
    prefill_attn_pairs: np.ndarray
    prefill_kv_tokens: np.ndarray
    prefill_seqs: np.ndarray
    decode_seqs: np.ndarray
    decode_kv_tokens: np.ndarray

    @classmethod
    def prefill(
        cls, prompt_tokens: ArrayLike, batch: ArrayLike = 1, cached_tokens: ArrayLike = 0
    ) -> Batch:
        """``batch`` identical prompts of ``prompt_tokens`` new tokens on ``cached_tokens``."""
        n = _nonnegative("prompt_tokens", prompt_tokens)
        b = _nonnegative("batch", batch)
        c = _nonnegative("cached_tokens", cached_tokens)
        zero = np.zeros(np.broadcast(n, b, c).shape)
        return cls(
            prefill_tokens=b * n + zero,
            prefill_attn_pairs=b * n * (c + (n + 1.0) / 2.0) + zero,
            prefill_kv_tokens=b * (c + n) + zero,
            prefill_seqs=b + zero,
            decode_seqs=zero,
            decode_kv_tokens=zero,
        )

    @classmethod
    def decode(cls, batch: ArrayLike, context: ArrayLike) -> Batch:
        """``batch`` sequences each generating one token on ``context`` tokens of KV."""
        b = _nonnegative("batch", batch)
        c = _nonnegative("context", context)
        zero = np.zeros(np.broadcast(b, c).shape)
        return cls(zero, zero, zero, zero, b + zero, b * c + zero)

    def __add__(self, other: Batch) -> Batch:
        """A mixed iteration (e.g. a chunked-prefill batch with piggybacked decodes)."""
        return Batch(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    @property
    def tokens(self) -> np.ndarray:
        """Rows through the GEMMs: new prefill tokens plus one per decoding sequence."""
        return self.prefill_tokens + self.decode_seqs

    @property
    def sequences(self) -> np.ndarray:
        return self.prefill_seqs + self.decode_seqs
