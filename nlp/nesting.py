"""Separators at the top level of a span: outside quotes and brackets.

Splitting a paragraph into sentences, clauses or list members must not cut inside “…” or （…）. An
opening mark never closed in the span (a closing ” lost by OCR at a line end, or by a typist) opens
nothing: otherwise it would hide every separator after it and the rest of the paragraph would become
one finding. Used by the finding splitter and the compound splitter alike.
"""

from __future__ import annotations

from collections.abc import Iterator

OPENERS = "“（(《「"
CLOSERS = "”）)》」"


def unclosed_openers(text: str, start: int, end: int) -> set[int]:
    """Offsets of opening marks in ``text[start:end]`` that no later closing mark in the span closes."""
    pending: list[int] = []
    for i in range(start, end):
        if text[i] in OPENERS:
            pending.append(i)
        elif text[i] in CLOSERS and pending:
            pending.pop()
    return set(pending)


def top_level(text: str, start: int, end: int, separators: str) -> Iterator[int]:
    """Offsets of ``separators`` in ``text[start:end]`` that stand outside quotes and brackets."""
    ignored = unclosed_openers(text, start, end)
    depth = 0
    for i in range(start, end):
        ch = text[i]
        if ch in OPENERS and i not in ignored:
            depth += 1
        elif ch in CLOSERS:
            depth = max(0, depth - 1)
        elif ch in separators and depth == 0:
            yield i
