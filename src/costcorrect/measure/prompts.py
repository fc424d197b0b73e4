"""The prompt text the load generator sends: ``tokens`` tokens of text, distinct per request
(its number leads, so no two share a cached prefix). Without a tokenizer the length is
approximate (one word per token, as the engines' own random datasets assume for English);
with a Hugging Face ``tokenizer.json`` (the ``tokenizers`` package, ``pip install
'costcorrect[tokenizer]'``) the text encodes to exactly ``tokens`` tokens of that tokenizer,
special tokens not counted — exact for the completions endpoint; the chat endpoint adds the
model's template around it."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from costcorrect.errors import InputError

WORDS = (
    "time",
    "cost",
    "token",
    "cache",
    "batch",
    "queue",
    "model",
    "answer",
    "serve",
    "price",
    "energy",
    "route",
    "query",
    "tensor",
    "latency",
    "memory",
    "budget",
    "signal",
    "prompt",
    "decode",
    "prefill",
    "worker",
    "cluster",
    "request",
)
#: re-encodings tried to land on the exact length before keeping the closest text
EXACT_TRIES = 8

PromptBuilder = Callable[[int, int], str]


def word_prompt(tokens: int, i: int) -> str:
    """About ``tokens`` tokens of text for request ``i`` (one word per token)."""
    words = [WORDS[(i * 7 + k * 3) % len(WORDS)] for k in range(max(1, tokens - 2))]
    return f"{i} " + " ".join(words)


class TokenizerPrompts:
    """Prompts of exactly ``tokens`` tokens under one tokenizer: the request's number (when
    the prompt is long enough to hold it), then filler token ids decoded to text, re-encoded
    and trimmed or extended until the count is exact (the closest text after
    :data:`EXACT_TRIES` re-encodings)."""

    def __init__(self, path: str) -> None:
        try:
            from tokenizers import Tokenizer
        except ImportError:
            raise InputError(
                "tokenizer", path, "the `tokenizers` package (pip install 'costcorrect[tokenizer]')"
            ) from None
        if not Path(path).is_file():
            raise InputError("tokenizer", path, "an existing tokenizer.json file")
        try:
            self.tokenizer = Tokenizer.from_file(str(path))
        except Exception as err:  # the library's own parse errors
            raise InputError("tokenizer", path, f"a Hugging Face tokenizer.json ({err})") from None
        ids = self.tokenizer.encode(" ".join(WORDS), add_special_tokens=False).ids
        self.filler = [t for t in ids if self.tokenizer.decode([t])]  # no unknown/special ids
        if not self.filler:
            raise InputError("tokenizer", path, "a tokenizer that encodes English words")

    def count(self, text: str) -> int:
        """Tokens of ``text`` (special tokens not counted)."""
        return len(self.tokenizer.encode(text, add_special_tokens=False).ids)

    def __call__(self, tokens: int, i: int) -> str:
        head, used = str(i), self.count(str(i))
        if used >= tokens:  # too short to lead with the number: filler only
            head, used = "", 0
        filler = self.filler
        n = max(0, tokens - used)
        best, best_gap = head, abs(used - tokens)
        for _ in range(EXACT_TRIES):
            ids = [filler[(i * 7 + k) % len(filler)] for k in range(n)]
            text = head + self.tokenizer.decode(ids)
            got = self.count(text)
            if abs(got - tokens) < best_gap:
                best, best_gap = text, abs(got - tokens)
            if got == tokens:
                break
            n = max(0, n + tokens - got)
        return best


@lru_cache(maxsize=4)
def prompt_builder(tokenizer: str | None = None) -> PromptBuilder:
    """The prompt builder of a run: exact under ``tokenizer`` (a tokenizer.json path), else
    :func:`word_prompt`."""
    return word_prompt if tokenizer is None else TokenizerPrompts(tokenizer)
