"""How the CLI talks to agent sessions: through the API of a running stack, else directly.

``impressox up`` records its API URL in the stack file; the CLI then goes through the API like
any other front door (so whatever the API adds to a decision, e.g. its approval signature,
applies). Without a stack file the CLI uses the session service on the configured Temporal
server itself. Both sides answer with the same models.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, Protocol

import httpx
from pydantic import BaseModel

from cli import credentials
from core.agents import AgentFactory
from core.errors import BadInputError, ConflictError, ImpressoxError, NotFoundError, UnavailableError
from core.schemas import SessionView, TurnResult
from core.settings import Settings
from core.temporal.client import connect
from core.turn_events import ApprovalRequiredEvent, ResetEvent, StreamEvent, TokenEvent, TurnFold, parse_event
from services.sessions import PendingTurn, SessionService, SessionSummary
from services.tools import load_tools

PLATFORM = "cli"
#: how long to wait for a stack that does not answer before saying so
CONNECT_SECONDS = 3.0


class KeyRequiredError(ImpressoxError):
    """The API wants a key the CLI did not send, or refused the one it sent."""


class Decision(BaseModel):
    """The outcome of an approve/reject: the call's status and result once it has run."""

    call_id: str
    approved: bool
    status: str
    result: str | None = None


class Backend(Protocol):
    where: str

    async def create(self, agent: str) -> str: ...
    async def send(self, session_id: str, text: str, wait: float) -> TurnResult | PendingTurn: ...
    async def view(self, session_id: str) -> SessionView: ...
    async def sessions(self) -> list[SessionSummary]: ...
    async def decide(self, session_id: str, call_id: str, approve: bool) -> Decision: ...
    async def end(self, session_id: str) -> None: ...
    async def cancel(self, session_id: str, call_id: str) -> Decision: ...
    async def stop_turn(self, session_id: str) -> TurnResult | None: ...
    async def close(self) -> None: ...


class ApiBackend:
    """The API of a running stack, as the user of ``api_key`` (none: keyless loopback mode, the
    API's one local user). ``key_source`` says where the key came from, for a refusal's message."""

    def __init__(self, api_url: str, api_key: str | None = None, key_source: str = "") -> None:
        self.where = api_url
        self.key_source = key_source
        self.has_key = bool(api_key)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.http = httpx.AsyncClient(
            base_url=api_url, timeout=httpx.Timeout(330, connect=CONNECT_SECONDS), trust_env=False, headers=headers
        )

    async def create(self, agent: str) -> str:
        r = await self._call("POST", "/v1/sessions", json={"agent": agent, "platform": PLATFORM})
        return r.json()["session_id"]

    async def send_streaming(
        self, session_id: str, text: str, wait: float, on_text: Callable[[str], None]
    ) -> TurnResult | PendingTurn:
        """Send with ``?stream=true`` and hand each token to ``on_text`` as it arrives (a ``reset``
        hands a newline: a retried model call starts over). Ends with the ``done`` event's result;
        a stream that ends without one (the wait ran out) is a pending turn."""
        message_id = uuid.uuid4().hex  # ours, so a stream cut short still names its message
        request = self.http.build_request(
            "POST",
            f"/v1/sessions/{session_id}/messages",
            json={"text": text, "message_id": message_id},
            params={"stream": "true"},
            headers={"Accept": "text/event-stream"},
            timeout=httpx.Timeout(wait + 30, connect=CONNECT_SECONDS),
        )
        try:
            response = await self.http.send(request, stream=True)
            try:
                if response.status_code >= 400:
                    await response.aread()
                    self._raise_for(response)
                fold = TurnFold()
                async for kind, data in _sse_events(response):
                    ev = parse_event(kind, data)
                    fold.apply(ev)
                    if isinstance(ev, TokenEvent):
                        on_text(ev.text)
                    elif isinstance(ev, ResetEvent):
                        # what is printed stays printed: the retried call starts over on a new line
                        on_text("\n")
                    elif isinstance(ev, ApprovalRequiredEvent):  # the turn waits for a human: say so now
                        return TurnResult.model_validate(_body(ev))
                    elif fold.end is not None:
                        body = _body(fold.end)
                        if fold.end.status == "queued_behind_approval":
                            return PendingTurn.model_validate(body)
                        return TurnResult.model_validate(body)
            finally:
                await response.aclose()
        except httpx.TimeoutException:
            pass
        except httpx.TransportError as exc:
            raise UnavailableError(
                f"the API at {self.where} does not answer ({type(exc).__name__}); is `impressox up` running?"
            ) from None
        return PendingTurn(message_id=message_id)

    async def send(self, session_id: str, text: str, wait: float) -> TurnResult | PendingTurn:
        r = await self._call(
            "POST", f"/v1/sessions/{session_id}/messages", json={"text": text}, params={"wait": min(wait, 300)}
        )
        if r.status_code == 202:  # accepted, not answered yet
            return PendingTurn.model_validate(r.json())
        return TurnResult.model_validate(r.json())

    async def view(self, session_id: str) -> SessionView:
        return SessionView.model_validate((await self._call("GET", f"/v1/sessions/{session_id}")).json())

    async def stop_turn(self, session_id: str) -> TurnResult | None:
        """Stop the session's running turn (Ctrl-C); None when none was running any more."""
        try:
            r = await self._call("POST", f"/v1/sessions/{session_id}/turns/current/cancel")
        except ConflictError:
            return None
        return TurnResult.model_validate(r.json())

    async def sessions(self) -> list[SessionSummary]:
        return [SessionSummary.model_validate(s) for s in (await self._call("GET", "/v1/sessions")).json()]

    async def decide(self, session_id: str, call_id: str, approve: bool) -> Decision:
        r = await self._call("POST", f"/v1/sessions/{session_id}/approvals/{call_id}", json={"approve": approve})
        return Decision.model_validate(r.json())

    async def end(self, session_id: str) -> None:
        await self._call("DELETE", f"/v1/sessions/{session_id}")

    async def cancel(self, session_id: str, call_id: str) -> Decision:
        r = await self._call("POST", f"/v1/sessions/{session_id}/approvals/{call_id}/cancel", json={})
        return Decision.model_validate(r.json())

    async def close(self) -> None:
        await self.http.aclose()

    async def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            r = await self.http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise UnavailableError(
                f"the API at {self.where} does not answer ({type(exc).__name__}); is `impressox up` running?"
            ) from None
        if r.status_code < 400:
            return r
        self._raise_for(r)
        return r

    def _raise_for(self, r: httpx.Response) -> None:
        if r.status_code == 401:  # one line saying how to give a (valid) key
            if not self.has_key:
                raise KeyRequiredError(f"the API at {self.where} needs an API key: {credentials.HOW}")
            raise KeyRequiredError(
                f"the API at {self.where} refused the API key from {self.key_source or 'the caller'}: "
                f"{credentials.HOW} with a valid one"
            )
        try:
            said = r.json().get("error") or r.text
        except (ValueError, AttributeError):
            said = r.text
        kind = {404: NotFoundError, 409: ConflictError, 422: BadInputError, 503: UnavailableError}.get(
            r.status_code, ImpressoxError
        )
        raise kind(f"the API answered {r.status_code}: {said}")


class DirectBackend:
    """The session service on the configured Temporal server, as the configured local user."""

    def __init__(self, sessions: SessionService, user: str) -> None:
        self.sessions_service = sessions
        self.user = user
        self.where = sessions.settings.temporal_address

    async def create(self, agent: str) -> str:
        return await self.sessions_service.create(self.user, agent, platform=PLATFORM)

    async def send(self, session_id: str, text: str, wait: float) -> TurnResult | PendingTurn:
        return await self.sessions_service.send(self.user, session_id, text, wait)

    async def view(self, session_id: str) -> SessionView:
        return await self.sessions_service.get(self.user, session_id)

    async def stop_turn(self, session_id: str) -> TurnResult | None:
        try:
            return await self.sessions_service.turns.cancel(self.user, session_id)
        except ConflictError:
            return None

    async def sessions(self) -> list[SessionSummary]:
        return await self.sessions_service.list(self.user)

    async def decide(self, session_id: str, call_id: str, approve: bool) -> Decision:
        record = await self.sessions_service.decide(self.user, session_id, call_id, approve)
        if record is None:
            return Decision(call_id=call_id, approved=approve, status="running")
        return Decision(call_id=call_id, approved=approve, status=record.status, result=record.result)

    async def end(self, session_id: str) -> None:
        await self.sessions_service.end(self.user, session_id)

    async def cancel(self, session_id: str, call_id: str) -> Decision:
        record = await self.sessions_service.cancel_transfer(self.user, session_id, call_id)
        return Decision(call_id=call_id, approved=False, status=record.status, result=record.result)

    async def close(self) -> None:
        pass


async def open_backend(
    settings: Settings, api_url: str | None, api_key: str | None = None, key_source: str = ""
) -> Backend:
    """The API when a stack gave its URL, else the session service over a Temporal client."""
    if api_url:
        return ApiBackend(api_url, api_key, key_source)
    try:
        client = await connect(settings, wait_seconds=CONNECT_SECONDS)
    except ConnectionError:
        raise UnavailableError(
            f"cannot reach Temporal at {settings.temporal_address} and no running stack is recorded in "
            f"{settings.data_dir} (start one with `impressox up`)"
        ) from None
    agents = AgentFactory.from_yaml(settings.agents_file, load_tools(settings.tool_modules), settings)
    return DirectBackend(SessionService(client, settings, agents), settings.local_user)


def _body(ev: StreamEvent) -> dict[str, Any]:
    """The JSON data an event came with (its fields as sent, without the event's name)."""
    return ev.model_dump(exclude={"event"}, exclude_unset=True)


async def _sse_events(response: httpx.Response) -> Any:
    """(event, data) pairs of a server-sent event stream (comments and ids skipped)."""
    kind, data = "message", list[str]()
    async for line in response.aiter_lines():
        if not line:
            if data:
                yield kind, "\n".join(data)
            kind, data = "message", []
        elif line.startswith(":"):
            continue
        else:
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "event":
                kind = value
            elif field == "data":
                data.append(value)
