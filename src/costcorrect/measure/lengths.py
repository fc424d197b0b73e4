"""Token-length distributions of generated requests: ``256`` (fixed), ``uniform:LO:HI``,
``normal:MEAN:SD`` or ``lognormal:MEDIAN:SIGMA`` (samples rounded, at least 1), seeded."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from costcorrect.errors import InputError

FORMS = ("fixed", "uniform", "normal", "lognormal")


@dataclass(frozen=True)
class LengthDist:
    form: str
    a: float
    b: float = 0.0

    @classmethod
    def parse(cls, text: str, field: str = "length") -> LengthDist:
        parts = str(text).strip().split(":")
        expected = "N, uniform:LO:HI, normal:MEAN:SD or lognormal:MEDIAN:SIGMA (tokens)"
        try:
            if len(parts) == 1:
                dist = cls("fixed", float(parts[0]))
            elif len(parts) == 3 and parts[0] in FORMS[1:]:
                dist = cls(parts[0], float(parts[1]), float(parts[2]))
            else:
                raise ValueError
        except ValueError:
            raise InputError(field, text, expected) from None
        ok = dist.a >= 1 and (dist.form != "uniform" or dist.b >= dist.a) and dist.b >= 0
        if not ok:
            raise InputError(field, text, expected + " with lengths ≥ 1")
        return dist

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        if self.form == "fixed":
            x = np.full(n, self.a)
        elif self.form == "uniform":
            x = rng.uniform(self.a, self.b + 1, n)
        elif self.form == "normal":
            x = rng.normal(self.a, self.b, n)
        else:
            x = self.a * np.exp(rng.normal(0.0, self.b, n))
        return np.maximum(1, np.floor(x)).astype(np.int64)
