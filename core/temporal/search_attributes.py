"""Custom search attributes: sessions can be filtered by owner, agent and platform
in the Web UI and with ``temporal workflow list --query "ImpressoxOwner='alice'"``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.common import (
    SearchAttributeIndexedValueType,
    SearchAttributeKey,
    SearchAttributePair,
    TypedSearchAttributes,
)

OWNER = SearchAttributeKey.for_keyword("ImpressoxOwner")
AGENT = SearchAttributeKey.for_keyword("ImpressoxAgent")
PLATFORM = SearchAttributeKey.for_keyword("ImpressoxPlatform")
#: when a session last took a message: session lists sort by it, ``sessions end --idle`` filters on it
LAST_ACTIVE = SearchAttributeKey.for_datetime("ImpressoxLastActive")
ALL = (OWNER, AGENT, PLATFORM, LAST_ACTIVE)
_TYPES = {SearchAttributeIndexedValueType.KEYWORD: "Keyword", SearchAttributeIndexedValueType.DATETIME: "Datetime"}


def cli_flags() -> list[str]:
    """``--search-attribute`` flags for ``temporal server start-dev``."""
    return [arg for key in ALL for arg in ("--search-attribute", f"{key.name}={_TYPES[key.indexed_value_type]}")]


def session_attributes(
    owner: str, agent: str, platform: str, last_active: datetime | None = None
) -> TypedSearchAttributes:
    pairs: list[SearchAttributePair[Any]] = [
        SearchAttributePair(OWNER, owner),
        SearchAttributePair(AGENT, agent),
        SearchAttributePair(PLATFORM, platform),
    ]
    if last_active is not None:
        pairs.append(SearchAttributePair(LAST_ACTIVE, last_active))
    return TypedSearchAttributes(pairs)


async def ensure_registered(client: Client) -> None:
    """Register the attributes on a server that lacks them (any server, not only ours)."""
    existing = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=client.namespace)
    )
    missing = {
        k.name: IndexedValueType.ValueType(int(k.indexed_value_type))
        for k in ALL
        if k.name not in existing.custom_attributes
    }
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=client.namespace, search_attributes=missing)
        )
