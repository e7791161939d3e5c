"""Chat identities and link codes, durable in Temporal (visible in the Web UI, no Redis).

``BotIdentityWorkflow`` (id ``identity:<task queue>:<platform>:<chat user id>``) is one chat user: the
platform user it is linked to (``ImpressoxOwner`` search attribute, so ``GET /v1/links`` is a
visibility query), the session each of its conversations talks to, and its recent wrong link
codes (a few per window, then refused). ``LinkCodeWorkflow`` (id ``link-code:<task queue>:<HMAC of the code>``) is one
one-time code: redeemed once, or expired after its time to live.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import SearchAttributePair, TypedSearchAttributes

with workflow.unsafe.imports_passed_through():
    from core.bots import IdentityStart, IdentityView, LinkCodeStart, SessionBinding
    from core.temporal.search_attributes import OWNER, PLATFORM

#: wrong codes an identity may try per window before /link is refused for the rest of it
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=10)
UPDATES_PER_RUN = 500


def identity_workflow_id(task_queue: str, platform: str, user_id: str) -> str:
    """Scoped by the deployment's task queue, like the vault registry (deployments may share a server)."""
    return f"identity:{task_queue}:{platform}:{user_id}"


def link_code_workflow_id(task_queue: str, digest: str) -> str:
    """``digest`` is core.link_codes.code_digest of the code: keyed, so the id reveals nothing."""
    return f"link-code:{task_queue}:{digest}"


@workflow.defn
class BotIdentityWorkflow:
    @workflow.init
    def __init__(self, start: IdentityStart) -> None:
        self._s = start
        self._updates = 0

    @workflow.run
    async def run(self, start: IdentityStart) -> None:
        await workflow.wait_condition(
            lambda: self._updates >= UPDATES_PER_RUN or workflow.info().is_continue_as_new_suggested()
        )
        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.continue_as_new(self._s)

    @workflow.update
    def link(self, user: str) -> IdentityView:
        """Tie this identity to ``user``; its conversations start fresh sessions as that user."""
        self._updates += 1
        self._s.linked_user = user
        self._s.sessions = {}
        self._s.failures = []
        workflow.upsert_search_attributes([OWNER.value_set(user)])
        return self.view()

    @workflow.update
    def unlink(self) -> IdentityView:
        self._updates += 1
        self._s.linked_user = None
        self._s.sessions = {}
        workflow.upsert_search_attributes([OWNER.value_unset()])
        return self.view()

    @workflow.update
    def bind(self, binding: SessionBinding) -> IdentityView:
        self._updates += 1
        self._s.sessions[binding.conversation] = binding.session_id
        return self.view()

    @workflow.update
    def failed_code(self) -> int:
        """Record a wrong code; returns how many more tries this window allows."""
        self._updates += 1
        now = workflow.now()
        self._s.failures = [t for t in self._s.failures if now - t < FAILURE_WINDOW] + [now]
        return max(0, MAX_FAILURES - len(self._s.failures))

    @workflow.query
    def tries_left(self) -> int:
        now = workflow.now()
        return max(0, MAX_FAILURES - len([t for t in self._s.failures if now - t < FAILURE_WINDOW]))

    @workflow.query
    def view(self) -> IdentityView:
        return IdentityView(
            platform=self._s.platform,
            user_id=self._s.user_id,
            linked_user=self._s.linked_user,
            sessions=dict(self._s.sessions),
        )


def identity_attributes(platform: str) -> TypedSearchAttributes:
    return TypedSearchAttributes([SearchAttributePair(PLATFORM, platform)])


@workflow.defn
class LinkCodeWorkflow:
    """One code: ``redeem`` once within its time to live, then the workflow ends."""

    @workflow.init
    def __init__(self, start: LinkCodeStart) -> None:
        self._user = start.user
        self._redeemed_by: str | None = None
        self._expired = False

    @workflow.run
    async def run(self, start: LinkCodeStart) -> str | None:
        try:
            await workflow.wait_condition(lambda: self._redeemed_by is not None, timeout=start.ttl_seconds)
        except TimeoutError:
            self._expired = True
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._redeemed_by

    @workflow.update
    def redeem(self, identity: str) -> str:
        """The code's user, once: the identity that redeems it is linked to them."""
        self._redeemed_by = identity
        return self._user

    @redeem.validator
    def _validate_redeem(self, identity: str) -> None:
        if self._expired or self._redeemed_by is not None:
            raise ValueError("this code has expired or was already used")
