"""Chat service: what the chat platforms' bots share (and the API's ``/v1/links``).

A chat user is an identity (``<platform>:<id>``, e.g. ``telegram:<id>``) kept in its own
BotIdentityWorkflow. Unlinked, it acts as a platform user of its own (``<user prefix>-<id>``, the
prefix its platform's registry entry declares: ``tg-<id>``, ``dc-<id>``), who owns no vault, so
nothing that moves money works; ``/link CODE`` ties it to the user who asked for the code, and
from then on its conversations are that user's sessions.

Conversations map to sessions here: a DM is the identity's current session (``/new`` starts
another), a group or channel one session per (chat, user). Session ids keep the
``<platform>:<owner>:<suffix>`` shape, with the platform as a search attribute.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

from temporalio.client import (
    Client,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.service import RPCError, RPCStatusCode

from core.bots import (
    IdentityStart,
    IdentityView,
    LinkCode,
    LinkCodeStart,
    LinkedIdentity,
    NotifySubscription,
    SessionBinding,
)
from core.errors import BadInputError, ConflictError, NotFoundError
from core.link_codes import code_digest, link_code_key
from core.names import USER_NAME
from core.notifications import NotificationsStart
from core.platforms import PlatformRegistry
from core.quotas import int_quota, refusal
from core.schemas import ReplyAddress
from core.settings import Settings
from services.sessions import QUERY_TIMEOUT, SessionService, owner_of
from workflows.agent_session import AgentSessionWorkflow
from workflows.identity import (
    BotIdentityWorkflow,
    LinkCodeWorkflow,
    identity_attributes,
    identity_workflow_id,
    link_code_workflow_id,
)
from workflows.notifications import NotificationsWorkflow, notifications_workflow_id

CODE_DIGITS = 8
DM = "dm"
#: how much of a tool's result ``/stop`` repeats (a result may be long; the platforms cap a message)
STOP_RESULT_CHARS = 200


def conversation_key(chat_id: str | int, private: bool) -> str:
    """DMs share the identity's current session; a group gets its own per (chat, user)."""
    return DM if private else f"chat:{chat_id}"


class LinkError(BadInputError):
    """A /link that did not link (wrong, expired or used code, too many tries)."""


class ChatService:
    def __init__(
        self, client: Client, settings: Settings, sessions: SessionService, platforms: PlatformRegistry | None = None
    ) -> None:
        self.client = client
        self.settings = settings
        self.sessions = sessions
        #: the chat platforms whose identities this service serves (none: it only issues and lists links)
        self.platforms = platforms or PlatformRegistry()

    @cached_property
    def _link_key(self) -> bytes:
        return link_code_key(self.settings)

    # ------------------------------------------------------------------ identities
    def _check(self, platform: str, user_id: str) -> None:
        if platform not in self.platforms or not str(user_id).lstrip("-").isalnum():
            raise BadInputError(f"invalid chat identity {platform}:{user_id}")

    async def identity(self, platform: str, user_id: str) -> IdentityView:
        self._check(platform, user_id)
        try:
            return await self.client.get_workflow_handle(
                identity_workflow_id(self.settings.task_queue, platform, user_id)
            ).query(BotIdentityWorkflow.view, rpc_timeout=QUERY_TIMEOUT)
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return IdentityView(platform=platform, user_id=user_id)
            raise

    def owner(self, view: IdentityView) -> str:
        """The platform user this chat identity acts as."""
        return view.linked_user or self.platforms.get(view.platform).user(view.user_id)

    async def _identity_handle(self, platform: str, user_id: str) -> WorkflowHandle[Any, None]:
        self._check(platform, user_id)
        return await self.client.start_workflow(
            BotIdentityWorkflow.run,
            IdentityStart(platform=platform, user_id=user_id),
            id=identity_workflow_id(self.settings.task_queue, platform, user_id),
            task_queue=self.settings.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            search_attributes=identity_attributes(platform),
            static_summary=f"{platform} user {user_id}",
        )

    # ------------------------------------------------------------------ conversations
    async def session_for(self, platform: str, user_id: str, conversation: str) -> tuple[str, str]:
        """(owner, session id) of a conversation, starting its session on first use."""
        view = await self.identity(platform, user_id)
        owner = self.owner(view)
        sid = view.sessions.get(conversation)
        if sid and owner_of(sid) == owner:
            return owner, sid
        return owner, await self._new_session(platform, user_id, conversation, owner)

    async def new_session(self, platform: str, user_id: str, conversation: str) -> str:
        """``/new``: the conversation talks to a fresh session from now on."""
        view = await self.identity(platform, user_id)
        return await self._new_session(platform, user_id, conversation, self.owner(view))

    async def end_session(self, platform: str, user_id: str, conversation: str) -> str | None:
        """``/end``: end the conversation's session (a later message reopens it); None if it has none."""
        view = await self.identity(platform, user_id)
        owner = self.owner(view)
        sid = view.sessions.get(conversation)
        if not sid or owner_of(sid) != owner:
            return None
        try:
            await self.sessions.end(owner, sid)
        except NotFoundError:
            return None  # ended already
        return sid

    async def _new_session(self, platform: str, user_id: str, conversation: str, owner: str) -> str:
        sid = await self.sessions.create(owner, self.settings.bot_agent, platform=platform)
        handle = await self._identity_handle(platform, user_id)
        await handle.execute_update(BotIdentityWorkflow.bind, SessionBinding(conversation=conversation, session_id=sid))
        return sid

    async def send(
        self, platform: str, user_id: str, conversation: str, text: str, address: ReplyAddress, message_id: str
    ) -> tuple[str, str]:
        """Signal a chat message into its session (the reply comes back by ``deliver``)."""
        owner, sid = await self.session_for(platform, user_id, conversation)
        try:
            await self.sessions.send(owner, sid, text, wait=0, message_id=message_id, reply_to=address)
        except NotFoundError:  # the session was ended: the conversation moves on to a new one
            sid = await self._new_session(platform, user_id, conversation, owner)
            await self.sessions.send(owner, sid, text, wait=0, message_id=message_id, reply_to=address)
        return owner, sid

    async def stop(self, platform: str, user_id: str, conversation: str) -> str:
        """``/stop``: stop the conversation's running turn; what to tell the chat."""
        owner, sid = await self.session_for(platform, user_id, conversation)
        try:
            result = await self.sessions.turns.cancel(owner, sid)
        except ConflictError:
            return "Nothing to stop: no answer is being written."
        done = [c for c in result.tool_calls if c.status == "ok"]
        # each result shortened: the answer must fit one chat message (the cut reply has them whole)
        ran = "; ".join(f"{c.name}: {_shortened(c.result or '', STOP_RESULT_CHARS)}" for c in done)
        return "Stopped." + (f" Before the stop: {_shortened(ran, 4 * STOP_RESULT_CHARS)}" if ran else "")

    async def wait_turn(self, session_id: str, message_id: str, timeout: float) -> None:
        """Return when the message's turn is answered or needs an approval (for "typing…")."""
        handle = self.client.get_workflow_handle(session_id)
        try:
            await handle.execute_update(
                AgentSessionWorkflow.wait_turn, message_id, rpc_timeout=timedelta(seconds=timeout)
            )
        except (WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError, RPCError):
            pass

    async def resolve_approval(self, platform: str, user_id: str, suffix: str, call_ref: str) -> tuple[str, str, str]:
        """(owner, session id, call id) of a pressed approval button, for its owner only.

        The button names the session by its suffix; the presser's own owner completes the id,
        so a stranger's press points at a session that is not theirs and is refused as unknown.
        """
        owner = self.owner(await self.identity(platform, user_id))
        sid = f"{platform}:{owner}:{suffix}"
        view = await self.sessions.get(owner, sid)
        call = next((p.call_id for p in view.pending_approvals if call_reference(p.call_id) == call_ref), None)
        if call is None:
            raise NotFoundError("this approval is no longer pending")
        return owner, sid, call

    # ------------------------------------------------------------------ linking
    async def new_code(self, user: str) -> LinkCode:
        """A one-time code (8 digits, expires after ``link_code_ttl_seconds``) for ``/link CODE``;
        at most max_link_codes_per_hour per user."""
        ttl = self.settings.link_code_ttl_seconds
        cap = int_quota(self.settings, user, "max_link_codes_per_hour")
        got = await self.sessions.tenants.reserve(user, "link_code", "issued", cap)
        if not got.granted:
            wait = round(got.retry_after_seconds or 3600)
            raise refusal(user, "link codes per hour", cap, "max_link_codes_per_hour", f"try again in {wait} s")
        for _ in range(5):
            code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
            try:
                await self.client.start_workflow(
                    LinkCodeWorkflow.run,
                    LinkCodeStart(user=user, ttl_seconds=ttl),
                    id=link_code_workflow_id(self.settings.task_queue, code_digest(self._link_key, code)),
                    task_queue=self.settings.task_queue,
                    # a code is never issued twice while its workflow is retained
                    id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                    static_summary=f"link code of {user}",
                )
            except RPCError as exc:
                if exc.status == RPCStatusCode.ALREADY_EXISTS:
                    continue
                raise
            return LinkCode(code=code, expires_at=datetime.now(UTC) + timedelta(seconds=ttl))
        raise BadInputError("could not issue a link code; try again")

    async def link(self, platform: str, user_id: str, code: str) -> str:
        """Redeem ``code``: this chat identity acts as the code's user from now on."""
        code = code.strip()
        handle = await self._identity_handle(platform, user_id)
        if await handle.query(BotIdentityWorkflow.tries_left, rpc_timeout=QUERY_TIMEOUT) <= 0:
            raise LinkError("too many wrong codes; wait 10 minutes and ask for a new one")
        user: str | None = None
        why = "that code is wrong"
        if code.isdigit() and len(code) == CODE_DIGITS:
            code_handle = self.client.get_workflow_handle(
                link_code_workflow_id(self.settings.task_queue, code_digest(self._link_key, code))
            )
            try:
                user = await code_handle.execute_update(LinkCodeWorkflow.redeem, f"{platform}:{user_id}")
            except WorkflowUpdateFailedError:
                why = "that code has expired or was already used"
            except RPCError as exc:
                if exc.status != RPCStatusCode.NOT_FOUND:
                    raise
                why = "that code is wrong or has expired"
        if user is None:
            left = await handle.execute_update(BotIdentityWorkflow.failed_code)
            raise LinkError(f"{why}; ask for a new one with POST /v1/links ({left} tries left)")
        await handle.execute_update(BotIdentityWorkflow.link, user)
        return user

    async def unlink(self, platform: str, user_id: str) -> None:
        handle = await self._identity_handle(platform, user_id)
        await handle.execute_update(BotIdentityWorkflow.unlink)

    async def links(self, user: str) -> list[LinkedIdentity]:
        """The chat identities linked to ``user`` (a visibility query over identity workflows)."""
        if not USER_NAME.match(user):
            raise BadInputError(f"invalid user {user!r}")
        query = (
            f"WorkflowType='BotIdentityWorkflow' AND ImpressoxOwner='{user}' AND ExecutionStatus='Running' "
            f"AND TaskQueue='{self.settings.task_queue}'"
        )
        out: list[LinkedIdentity] = []
        async for wf in self.client.list_workflows(query, limit=100):
            platform, uid = wf.id.rsplit(":", 2)[1:]
            out.append(LinkedIdentity(identity=f"{platform}:{uid}", platform=platform))
        return out

    # ------------------------------------------------------------------ notifications
    async def freeze(self, platform: str, user_id: str) -> str:
        """``/freeze``: pause the vault of the user this chat acts as (on-chain), withdraw every
        pending approval; what to tell the chat. Only the owner's wallet can unfreeze it."""
        from services.vaults import VaultRegistryService  # the bots need it only for this command

        user = self.owner(await self.identity(platform, user_id))
        vaults = VaultRegistryService(self.client, self.settings)
        try:
            tx = await vaults.freeze(user)
        finally:
            await vaults.close()
        withdrawn = await self.sessions.withdraw_approvals(user, "the vault was frozen")
        done = f"transaction {tx}" if tx else "it was frozen already"
        return (
            f"Your vault is frozen ({done}); pending approvals withdrawn in {withdrawn} session(s). "
            "Only its owner wallet can unfreeze it, with an unpause() transaction."
        )

    async def notify(self, platform: str, user_id: str, address: ReplyAddress, on: bool) -> str:
        """``/notify_on`` / ``/notify_off``: this chat gets (or stops getting) the user's notifications."""
        user = self.owner(await self.identity(platform, user_id))
        await self.client.start_workflow(
            NotificationsWorkflow.run,
            NotificationsStart(user=user, keep_per_kind=int_quota(self.settings, user, "notifications_kept_per_kind")),
            id=notifications_workflow_id(user),
            task_queue=self.settings.task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            start_signal="subscribe",
            start_signal_args=[NotifySubscription(address=address, on=on)],
            static_summary=f"notifications of {user}",
        )
        return user


def call_reference(call_id: str) -> str:
    """A short, stable name for a tool call id (button data has little room: 64 bytes on Telegram)."""
    return hashlib.sha256(call_id.encode()).hexdigest()[:10]


def _shortened(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def new_message_id(platform: str, chat_id: str | int, message_id: str | int) -> str:
    """The session message id of a chat message: a redelivered update is answered once."""
    return f"{platform}-{chat_id}-{message_id}" if message_id else uuid.uuid4().hex
