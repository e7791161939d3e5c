"""A small fake Telegram Bot API server (stdlib, a thread) for the bot tests: the network edge.

``/bot<token>/<method>`` with form or JSON parameters; ``getUpdates`` long-polls a queue
filled by ``push_*``; every other call is recorded in ``calls`` (with its arrival time in
``_at``, monotonic seconds). ``messages`` holds what a chat shows now: sent messages as later
edited or deleted. ``fail_next`` answers the next calls of a method with an error (429 with
``retry_after``), as Telegram does.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

BOT = {"id": 4242, "is_bot": True, "first_name": "Impressox", "username": "impressox_test_bot"}


def _value(v: str) -> Any:
    if v[:1] in "{[":
        try:
            return json.loads(v)
        except ValueError:
            return v
    return v


class NotModified(Exception):
    pass


class FakeTelegram:
    def __init__(self, token: str = "4242:TEST") -> None:
        self.token = token
        self.calls: list[tuple[str, dict[str, Any]]] = []
        #: (chat id, message id) -> text, in the order the messages were sent
        self.messages: dict[tuple[str, int], str] = {}
        self.updates: list[dict[str, Any]] = []
        self.polls = 0
        self.faults: list[list[Any]] = []
        self._ids = itertools.count(1)
        self._mids = itertools.count(1000)
        self.cond = threading.Condition()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # updates in
    def push_message(
        self, user: int, text: str, chat: int | None = None, kind: str = "private", mention: bool = False
    ) -> dict[str, Any]:
        entities = []
        if mention:
            text = f"@{BOT['username']} {text}"
            entities.append({"type": "mention", "offset": 0, "length": len(str(BOT["username"])) + 1})
        if text.startswith("/"):
            entities.append({"type": "bot_command", "offset": 0, "length": len(text.split()[0])})
        msg: dict[str, Any] = {
            "message_id": next(self._mids),
            "date": int(time.time()),
            "chat": {"id": chat if chat is not None else user, "type": kind},
            "from": {"id": user, "is_bot": False, "first_name": f"u{user}"},
            "text": text,
        }
        if entities:
            msg["entities"] = entities
        return self._push({"message": msg})

    def push_callback(self, user: int, message: dict[str, Any], data: str) -> dict[str, Any]:
        cq = {
            "id": str(next(self._ids)),
            "from": {"id": user, "is_bot": False, "first_name": f"u{user}"},
            "chat_instance": "1",
            "message": message,
            "data": data,
        }
        return self._push({"callback_query": cq})

    def _push(self, update: dict[str, Any]) -> dict[str, Any]:
        with self.cond:
            update = {"update_id": next(self._ids), **update}
            self.updates.append(update)
            self.cond.notify_all()
        return update

    def fail_next(self, method: str, code: int = 429, retry_after: int = 2, times: int = 1) -> None:
        with self.cond:
            self.faults.append([method.lower(), code, retry_after, times])

    # calls out
    def sent(self, chat: int | None = None, methods: tuple[str, ...] = ("sendMessage",)) -> list[dict[str, Any]]:
        with self.cond:
            return [p for m, p in self.calls if m in methods and (chat is None or str(p.get("chat_id")) == str(chat))]

    def texts(self, chat: int | None = None) -> list[str]:
        """What the chat shows now: the bot's messages, oldest first, with their latest edit."""
        with self.cond:
            return [t for (c, _), t in self.messages.items() if chat is None or c == str(chat)]

    def edit_times(self, chat: int | None = None) -> list[float]:
        """When each accepted ``sendMessage``/``editMessageText`` to the chat arrived (monotonic s)."""
        return [p["_at"] for p in self.sent(chat, ("sendMessage", "editMessageText"))]

    def wait_for(self, predicate: Any, timeout: float = 60) -> Any:
        end = time.time() + timeout
        with self.cond:
            while True:
                found = predicate()
                if found or time.time() > end:
                    return found
                self.cond.wait(0.2)

    # HTTP
    def _answer(self, method: str, params: dict[str, Any]) -> Any:
        m = method.lower()
        if m == "getme":
            return BOT
        if m == "getupdates":
            self.polls += 1
            offset = int(params.get("offset") or 0)
            end = time.time() + min(float(params.get("timeout") or 0), 1.0)
            with self.cond:
                while True:
                    batch = [u for u in self.updates if u["update_id"] >= offset]
                    if batch or time.time() >= end:
                        return batch
                    self.cond.wait(max(0.0, end - time.time()))
        if m == "deletemessage":
            with self.cond:
                self.messages.pop((str(params["chat_id"]), int(params["message_id"])), None)
            return True
        if m in ("sendmessage", "editmessagetext", "editmessagereplymarkup"):
            mid = int(params.get("message_id") or next(self._mids))
            key = (str(params["chat_id"]), mid)
            with self.cond:
                if m != "editmessagereplymarkup":
                    if m == "editmessagetext" and self.messages.get(key) == params.get("text", ""):
                        raise NotModified()
                    self.messages[key] = params.get("text", "")
            msg = {
                "message_id": mid,
                "date": int(time.time()),
                "chat": {"id": int(params["chat_id"]), "type": "private"},
                "from": BOT,
                "text": params.get("text", ""),
            }
            params["_message"] = msg
            return msg
        return True

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                path = urllib.parse.urlsplit(self.path).path
                method = path.rsplit("/", 1)[-1]
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                at = time.monotonic()
                if self.headers.get("Content-Type", "").startswith("application/json"):
                    params = json.loads(raw or "{}")
                else:
                    params = {k: _value(v) for k, v in urllib.parse.parse_qsl(raw)}
                if not path.startswith(f"/bot{fake.token}/"):
                    return self._send(404, {"ok": False, "error_code": 404, "description": "Not Found"})
                with fake.cond:
                    fault = next((f for f in fake.faults if f[0] == method.lower() and f[3] > 0), None)
                    if fault:
                        fault[3] -= 1
                        fake.calls.append((method + ":refused", {**params, "_at": at}))
                if fault:
                    body = {"ok": False, "error_code": fault[1], "description": "Too Many Requests"}
                    if fault[1] == 429:
                        body["parameters"] = {"retry_after": fault[2]}
                    return self._send(fault[1], body)
                try:
                    result = fake._answer(method, params)
                except NotModified:  # Telegram's answer to an edit that changes nothing
                    desc = "Bad Request: message is not modified"
                    return self._send(400, {"ok": False, "error_code": 400, "description": desc})
                if method.lower() != "getupdates":
                    params["_at"] = at
                    with fake.cond:
                        fake.calls.append((method, params))
                        fake.cond.notify_all()
                self._send(200, {"ok": True, "result": result})

            do_GET = do_POST

            def _send(self, code: int, body: dict[str, Any]) -> None:
                raw = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        return Handler
