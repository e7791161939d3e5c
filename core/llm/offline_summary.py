"""The offline model's running summary and recall: deterministic, so a test can rely on them.

A summary keeps one line per user message that states something (not a question) holding a fact
the model can parse: a number, an address, a name. Asked later ("what is my locker code?"), the
model answers from the line sharing the most words with the question.
"""

from __future__ import annotations

import re

#: the summarise node's instruction starts with this (core/summarise_node.py)
SUMMARY_MARKER = "[impressox:summarise]"
#: how the LLM node introduces the summary to the model, after the persona (core/nodes.py)
SUMMARY_HEADING = "Summary of the earlier conversation (older messages are no longer shown):"
#: lines kept (the oldest go first)
MAX_LINES = 80

_LINE = re.compile(r"^turn (\d+) (user|assistant): (.*)$")
_FACT = re.compile(r"\d|0x[0-9a-fA-F]{6,}")
_NAME = re.compile(r"\b[A-Z][a-z]{2,}\b")
_STOP = {
    "what",
    "which",
    "who",
    "whom",
    "when",
    "where",
    "why",
    "how",
    "did",
    "does",
    "was",
    "were",
    "are",
    "the",
    "and",
    "you",
    "your",
    "my",
    "mine",
    "me",
    "is",
    "tell",
    "remember",
    "recall",
    "said",
    "say",
    "told",
    "again",
    "that",
    "this",
    "about",
    "for",
    "from",
    "with",
    "have",
    "had",
    "can",
    "could",
    "please",
    "remind",
}


def summarise(request: str, previous: str | None = None) -> str:
    """The summarise node's user message (``Summary so far: ... New messages: ...``) -> the new summary."""
    head, _, new = request.partition("\nNew messages:\n")
    before = head.removeprefix("Summary so far:\n").strip()
    lines = [] if before in ("", "(empty)") else before.splitlines()
    for raw in new.splitlines():
        m = _LINE.match(raw.strip())
        if not m or m.group(2) != "user":
            continue
        text = " ".join(m.group(3).split())
        # a name: a capitalised word past the first (which any sentence has)
        fact = _FACT.search(text) or _NAME.search(text, 1)
        if text.endswith("?") or text.startswith("/") or not fact:
            continue
        lines.append(f"- turn {m.group(1)}: {text[:240]}")
    return "\n".join(lines[-MAX_LINES:])


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9]+", text.lower()) if len(w) > 2 and w not in _STOP}


def recall(question: str, summary: str) -> str | None:
    """An answer to ``question`` from the summary's line sharing the most words with it, if any."""
    q = question.strip()
    if not re.match(r"^(what|which|who|when|where|do you (still )?remember|remind me|recall)\b", q, re.I):
        return None
    wanted = _words(q)
    best, score = None, 0
    for line in summary.splitlines():
        overlap = len(wanted & _words(line))
        if overlap > score:  # ties: the earlier statement wins
            best, score = line, overlap
    if best is None:
        return None
    m = re.match(r"^- turn (\d+): (.*)$", best)
    said, turn = (m.group(2), m.group(1)) if m else (best, "?")
    return f"From earlier in our conversation (turn {turn}), you said: {said}"
