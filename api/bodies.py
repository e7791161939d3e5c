"""Request bodies are read, bounded and checked here before FastAPI or pydantic sees them.

Why: a JSON parser that recurses (``json.loads``) on a 100,000-deep array overflows the C stack
once something in the process has raised the recursion limit (py_ecc, imported by web3, does),
and a 10 MB string or a 1,000,000-digit number costs memory and CPU before validation can
refuse it. So the guard:

- refuses a body larger than ``api_max_body_bytes`` (413), without buffering more than the limit;
- for a JSON body (or one without a content type), refuses invalid UTF-8, nesting deeper than
  ``api_max_json_depth`` (found by an iterative scan, no recursion), numbers longer than
  ``MAX_NUMBER_CHARS``, ``NaN``/``Infinity`` and duplicate keys (422, like
  any other body FastAPI cannot accept), each with a plain message;
- then replays the checked body to the app, which parses it again (cheap: it is bounded now).
"""

from __future__ import annotations

import email.message
import json
import re
from collections.abc import Callable

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.responses import send_json_error

#: a JSON number longer than this is refused (Python's int() refuses more than 4,300 digits with an
#: exception message; nothing this API accepts needs more than a few digits)
MAX_NUMBER_CHARS = 100
#: an oversized body up to this size is read (and dropped) before the 413, so the client, still sending,
#: is not cut off by a connection reset before it can read the answer; past it the connection is dropped
DRAIN_LIMIT = 64 * 1_048_576
# a JSON string token (escapes included; an unterminated one runs to the end, so every match
# succeeds at its first try and the scan stays linear) or one bracket: brackets inside strings are skipped
_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?|[\[\]{}]', re.DOTALL)


class BodyProblem(Exception):
    """A request body this API refuses; the message is safe to show to the caller."""


def json_problem(body: bytes, max_depth: int) -> str | None:
    """Why ``body`` is not acceptable JSON for this API, or None when it is."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "the request body is not valid UTF-8"
    depth = 0
    for token in _TOKENS.finditer(text):
        char = token.group()
        if char in "[{":
            depth += 1
            if depth > max_depth:
                return f"the JSON body is nested deeper than {max_depth} levels"
        elif char in "]}":
            depth -= 1
    try:
        json.loads(
            text,
            parse_constant=_no_constant,
            parse_int=_bounded(int),
            parse_float=_bounded(float),
            object_pairs_hook=_unique,
        )
    except BodyProblem as exc:
        return str(exc)
    except json.JSONDecodeError as exc:
        return f"the request body is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
    except (ValueError, RecursionError):  # defensive: the checks above should leave none of these
        return "the request body is not acceptable JSON"
    return None


def _no_constant(name: str) -> object:
    raise BodyProblem(f"{name} is not a JSON number")


def _bounded(kind: Callable[[str], object]) -> Callable[[str], object]:
    def parse(token: str) -> object:
        if len(token) > MAX_NUMBER_CHARS:
            raise BodyProblem(f"a number in the request body is longer than {MAX_NUMBER_CHARS} characters")
        value = kind(token)
        if value in (float("inf"), float("-inf")):
            raise BodyProblem("a number in the request body is out of range")
        return value

    return parse


def _unique(pairs: list[tuple[str, object]]) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in pairs:
        if key in out:
            raise BodyProblem(f"the key {json.dumps(key)[:80]} appears twice in one object")
        out[key] = value
    return out


def _is_json(content_type: str | None) -> bool:
    """Whether FastAPI will parse this body as JSON: no content type, or application/json or
    application/*+json, decided exactly as fastapi.routing does it (email.message)."""
    if not content_type:
        return True
    message = email.message.Message()
    message["content-type"] = content_type
    if message.get_content_maintype() != "application":
        return False
    subtype = message.get_content_subtype()
    return subtype == "json" or subtype.endswith("+json")


class BodyGuard:
    """ASGI middleware: bound and check every request body before the app reads it."""

    def __init__(self, app: ASGIApp, max_bytes: int, max_depth: int, larger: dict[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_depth = max_depth
        #: path prefix -> its own size limit (the codec endpoint takes whole history pages)
        self.larger = larger or {}

    def limit_for(self, path: str) -> int:
        return next((n for prefix, n in self.larger.items() if path.startswith(prefix)), self.max_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        max_bytes = self.limit_for(scope["path"])
        too_big = f"the request body is larger than {max_bytes} bytes"
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > DRAIN_LIMIT):
            await send_json_error(send, 413, too_big)  # the server then drops the connection
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client went away: nothing to answer
            chunk = message.get("body", b"")
            size += len(chunk)
            if size <= max_bytes:
                chunks.append(chunk)
            elif size > DRAIN_LIMIT:
                break
            else:
                chunks.clear()  # too big: read on (discarding) so the client gets to read the 413
            if not message.get("more_body", False):
                break
        if size > max_bytes:
            await send_json_error(send, 413, too_big)
            return
        body = b"".join(chunks)
        if body and _is_json(headers.get("content-type")):
            problem = json_problem(body, self.max_depth)
            if problem:
                await send_json_error(send, 422, problem)
                return
        await self.app(scope, _replay(body, receive), send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that hands the app the checked body once, then the client's later messages
    (e.g. http.disconnect, which streaming responses wait for)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
