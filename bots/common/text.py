"""Splitting long replies at a platform's message limit (its registry entry's ``text_limit``), on
line boundaries where possible."""

from __future__ import annotations


def split_text(text: str, limit: int) -> list[str]:
    """Chunks of at most ``limit`` characters: whole lines where they fit, else hard cuts."""
    text = text or "(no answer)"
    chunks: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        while len(line) > limit:  # a single line longer than a message
            if current:
                chunks.append(current)
                current = ""
            chunks.append(line[:limit])
            line = line[limit:]
        if len(current) + len(line) > limit:
            chunks.append(current)
            current = ""
        current += line
    if current:
        chunks.append(current)
    return [c.rstrip("\n") or c for c in chunks]
