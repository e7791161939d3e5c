"""current_time: city names and IANA names resolve; unknown zones are refused by name."""

from __future__ import annotations

import pytest

from core.errors import BadInputError
from core.tools import ToolContext
from services.tools.builtin import CurrentTimeArgs, current_time
from services.tools.clock import resolve_zone

CTX: ToolContext[None] = ToolContext(call_id="c1", session_id="s1", owner="alice", idempotency_key="k1")


@pytest.mark.parametrize(
    ("name", "zone"),
    [
        ("Tokyo", "Asia/Tokyo"),
        ("tokyo", "Asia/Tokyo"),
        ("Tokyo?", "Asia/Tokyo"),
        ("Asia/Tokyo", "Asia/Tokyo"),
        ("New York", "America/New_York"),
        ("new york", "America/New_York"),
        ("London", "Europe/London"),
        ("the UK", "Europe/London"),
        ("Ho Chi Minh", "Asia/Ho_Chi_Minh"),
        ("Europe/Paris", "Europe/Paris"),
        ("UTC", "UTC"),
        ("", "UTC"),
    ],
)
def test_resolves(name: str, zone: str) -> None:
    assert resolve_zone(name).key == zone


@pytest.mark.parametrize("name", ["Narnia", "Mars/Olympus", "../../etc/passwd"])
def test_unknown_zone_is_refused_by_name(name: str) -> None:
    with pytest.raises(BadInputError) as err:
        resolve_zone(name)
    assert repr(name) in str(err.value)
    assert "unknown time zone" in str(err.value)


async def test_tool_answers_with_the_city_and_its_zone() -> None:
    result = await current_time(CurrentTimeArgs(timezone="Tokyo"), CTX)
    assert "in Tokyo (Asia/Tokyo), UTC+09:00." in result.output
    assert result.data["zone"] == "Asia/Tokyo"
    assert result.data["iso"].endswith("+09:00")


async def test_tool_defaults_to_utc() -> None:
    result = await current_time(CurrentTimeArgs(), CTX)
    assert result.output.endswith("in UTC, UTC+00:00.")


async def test_tool_refuses_unknown_zone() -> None:
    with pytest.raises(BadInputError, match="'Atlantis'"):
        await current_time(CurrentTimeArgs(timezone="Atlantis"), CTX)
