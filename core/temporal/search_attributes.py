"""Custom search attributes: sessions can be filtered by owner, agent and platform
in the Web UI and with ``temporal workflow list --query "ImpressoxOwner='alice'"``."""

from __future__ import annotations

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

OWNER = SearchAttributeKey.for_keyword("ImpressoxOwner")
AGENT = SearchAttributeKey.for_keyword("ImpressoxAgent")
PLATFORM = SearchAttributeKey.for_keyword("ImpressoxPlatform")
ALL = (OWNER, AGENT, PLATFORM)


def cli_flags() -> list[str]:
    """``--search-attribute`` flags for ``temporal server start-dev``."""
    return [arg for key in ALL for arg in ("--search-attribute", f"{key.name}=Keyword")]


def session_attributes(owner: str, agent: str, platform: str) -> TypedSearchAttributes:
    return TypedSearchAttributes(
        [
            SearchAttributePair(OWNER, owner),
            SearchAttributePair(AGENT, agent),
            SearchAttributePair(PLATFORM, platform),
        ]
    )


async def ensure_registered(client: Client) -> None:
    """Register the attributes on a server that lacks them (any server, not only ours)."""
    existing = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=client.namespace)
    )
    missing = {
        k.name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD for k in ALL if k.name not in existing.custom_attributes
    }
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=client.namespace, search_attributes=missing)
        )
