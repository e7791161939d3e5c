"""Markdown-ish model output -> Telegram text + entities (aiogram's formatting nodes).

Never hand-escaped MarkdownV2: whatever the model writes, the message is plain text plus
entities, so it cannot fail to parse. Understood: ```code blocks```, `inline code`, **bold**.
"""

from __future__ import annotations

import re
from typing import Any

from aiogram.utils.formatting import Bold, Code, Pre, Text

_TOKENS = re.compile(r"```(?:(\w+)\n)?(.*?)```|`([^`\n]+)`|\*\*([^*\n]+)\*\*", re.S)


def to_entities(markdown: str) -> dict[str, Any]:
    """``text`` and ``entities`` keyword arguments for ``send_message``."""
    parts: list[Any] = []
    pos = 0
    for m in _TOKENS.finditer(markdown):
        if m.start() > pos:
            parts.append(markdown[pos : m.start()])
        if m.group(2) is not None:
            parts.append(Pre(m.group(2).strip("\n"), language=m.group(1)))
        elif m.group(3) is not None:
            parts.append(Code(m.group(3)))
        else:
            parts.append(Bold(m.group(4)))
        pos = m.end()
    parts.append(markdown[pos:])
    return Text(*parts).as_kwargs()
