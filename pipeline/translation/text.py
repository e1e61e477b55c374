"""Text handling above every backend: what is sent to the model, in what batches, and how it comes back.

    result = translate_texts(translator, texts, "fra_Latn", known=cache_lookup)

1. Structure is kept, not translated: each text is cut at newlines, option letters like `(A)` (and a
   leading `A.`/`1)`), and placeholders (`{name}`, `<image>`, `[MASK]`, `%s`); pieces with no letters
   (numbers, punctuation, whitespace) are kept as they are. Only the pieces between are sent.
2. A piece the model cannot take whole (over max_input_tokens) is split at sentence boundaries (and,
   for one over-long sentence, between words) and its translations are rejoined.
3. Each distinct piece is translated once: duplicates within the call share one request, and pieces
   `known` already (the cache) are not sent at all. Empty strings are never sent.
4. The rest is sorted by length and cut into batches by a token budget (padding counted), so a batch
   wastes little on padding; results go back to their original places.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .backends.base import Translator
from .languages import join_separator

# Kept verbatim wherever they are: option letters "(A)", placeholders.
PROTECTED = re.compile(r"(\([A-Za-z0-9]\)|\{[^{}\s]{0,40}\}|<[A-Za-z_][\w-]{0,30}>|\[[A-Z_]{2,20}\]|%[sd])")
# A list marker at the start of a line: "A. ", "b) ", "12. ", "- ", "* ".
LINE_MARKER = re.compile(r"^(\s*(?:[A-Za-z][.)]|\d{1,3}[.)]|[-*•])\s+)")
NOTHING_TO_TRANSLATE = re.compile(r"^[\W\d_]*$")  # no letters at all
SENTENCE_END = re.compile(r"(?<=[.!?;:\u3002\uff01\uff1f])\s+")  # and the CJK full stop, ! and ?


@dataclass
class Stats:
    asked: int = 0  # non-empty texts asked for
    pieces: int = 0  # distinct pieces they came to
    cached: int = 0  # distinct pieces known already
    sent: int = 0  # distinct pieces sent to the model
    batches: int = 0
    tokens: int = 0  # source tokens sent
    seconds: float = 0.0  # time in the model

    def add(self, other: Stats) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class Result:
    texts: list[str]
    new: dict[str, str] = field(default_factory=dict)  # piece -> translation, for the cache
    stats: Stats = field(default_factory=Stats)


Part = tuple[bool, str]  # (translate?, text)


def structure(text: str) -> list[Part]:
    """The text cut into verbatim parts and parts to translate; joining every part gives the text back."""
    parts: list[Part] = []
    for line in re.split(r"(\r?\n)", text):
        if line in ("\n", "\r\n") or not line:
            if line:
                parts.append((False, line))
            continue
        marker = LINE_MARKER.match(line)
        if marker:
            parts.append((False, marker.group(1)))
            line = line[marker.end() :]
        for index, chunk in enumerate(PROTECTED.split(line)):
            if index % 2 == 1:
                parts.append((False, chunk))
            elif chunk:
                parts.extend(_trim(chunk))
    return parts


def _trim(chunk: str) -> list[Part]:
    """Leading and trailing whitespace stays where it is; a chunk without letters is not sent."""
    if NOTHING_TO_TRANSLATE.match(chunk):
        return [(False, chunk)]
    core = chunk.strip()
    start = chunk.index(core)
    out: list[Part] = []
    if start:
        out.append((False, chunk[:start]))
    out.append((True, core))
    if rest := chunk[start + len(core) :]:
        out.append((False, rest))
    return out


def split_long(piece: str, tokens: int, limit: int, count: Callable[[list[str]], list[int]]) -> list[str]:
    """A piece over `limit` tokens as a list of pieces within it, cut at sentences, then words."""
    if tokens <= limit:
        return [piece]
    sentences = [s for s in SENTENCE_END.split(piece) if s.strip()]
    counts = count(sentences)
    pieces: list[str] = []
    current: list[str] = []
    current_tokens = 0
    for sentence, n in zip(sentences, counts, strict=True):
        if n > limit:
            if current:
                pieces.append(" ".join(current))
                current, current_tokens = [], 0
            pieces.extend(_split_words(sentence, n, limit))
            continue
        if current and current_tokens + n > limit:
            pieces.append(" ".join(current))
            current, current_tokens = [], 0
        current.append(sentence)
        current_tokens += n
    if current:
        pieces.append(" ".join(current))
    return pieces


def _split_words(sentence: str, tokens: int, limit: int) -> list[str]:
    words = sentence.split()
    per_piece = max(1, int(len(words) * limit / max(tokens, 1) * 0.9))
    return [" ".join(words[i : i + per_piece]) for i in range(0, len(words), per_piece)]


def batches(pieces: list[str], tokens: dict[str, int], budget: int) -> list[list[str]]:
    """Pieces sorted longest first, cut so that (longest in batch) x (batch size) stays within budget."""
    ordered = sorted(pieces, key=lambda p: (-tokens[p], p))
    out: list[list[str]] = []
    current: list[str] = []
    for piece in ordered:
        width = tokens[current[0]] if current else tokens[piece]  # the first is the longest
        if current and width * (len(current) + 1) > budget:
            out.append(current)
            current = []
        current.append(piece)
    if current:
        out.append(current)
    return out


def translate_texts(
    translator: Translator,
    texts: list[str],
    target: str,
    *,
    known: Callable[[list[str]], dict[str, str]] | None = None,
    batch_tokens: int | None = None,
    max_input_tokens: int | None = None,
) -> Result:
    """Translate `texts` into `target` (an NLLB code), in order; see the module docstring."""
    config = translator.config
    budget = batch_tokens or config.batch_tokens
    limit = max_input_tokens or config.max_input_tokens
    stats = Stats(asked=sum(1 for t in texts if t.strip()))
    layouts = [structure(text) if text.strip() else [(False, text)] for text in texts]
    distinct = list(dict.fromkeys(part for layout in layouts for send, part in layout if send))
    counted = dict(zip(distinct, translator.count_tokens(distinct), strict=True))
    pieces_of = {part: split_long(part, counted[part], limit, translator.count_tokens) for part in distinct}
    units = list(dict.fromkeys(unit for pieces in pieces_of.values() for unit in pieces))
    stats.pieces = len(units)

    done = dict(known(units)) if known and units else {}
    stats.cached = sum(1 for unit in units if unit in done)
    todo = [unit for unit in units if unit not in done]
    new: dict[str, str] = {}
    if todo:
        unit_tokens = dict(zip(todo, translator.count_tokens(todo), strict=True))
        for batch in batches(todo, unit_tokens, budget):
            started = time.perf_counter()
            outputs = translator.translate_batch(batch, target)
            stats.seconds += time.perf_counter() - started
            stats.batches += 1
            stats.tokens += sum(unit_tokens[u] for u in batch)
            new.update(zip(batch, outputs, strict=True))
        stats.sent = len(todo)
        done.update(new)

    separator = join_separator(target)
    out = []
    for layout in layouts:
        out.append("".join(separator.join(done[u] for u in pieces_of[part]) if send else part for send, part in layout))
    return Result(texts=out, new=new, stats=stats)
