"""Time zones by IANA name or by city/country name."""

from __future__ import annotations

import re
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

from core.errors import BadInputError

# common names that are not the last part of an IANA id
_ALIASES = {
    "utc": "UTC",
    "gmt": "UTC",
    "z": "UTC",
    "new york": "America/New_York",
    "nyc": "America/New_York",
    "san francisco": "America/Los_Angeles",
    "sf": "America/Los_Angeles",
    "california": "America/Los_Angeles",
    "seattle": "America/Los_Angeles",
    "washington": "America/New_York",
    "boston": "America/New_York",
    "miami": "America/New_York",
    "beijing": "Asia/Shanghai",
    "china": "Asia/Shanghai",
    "japan": "Asia/Tokyo",
    "india": "Asia/Kolkata",
    "mumbai": "Asia/Kolkata",
    "delhi": "Asia/Kolkata",
    "new delhi": "Asia/Kolkata",
    "bangalore": "Asia/Kolkata",
    "uk": "Europe/London",
    "england": "Europe/London",
    "france": "Europe/Paris",
    "germany": "Europe/Berlin",
    "vietnam": "Asia/Ho_Chi_Minh",
    "hanoi": "Asia/Ho_Chi_Minh",
    "saigon": "Asia/Ho_Chi_Minh",
    "korea": "Asia/Seoul",
    "australia": "Australia/Sydney",
    "dubai": "Asia/Dubai",
    "uae": "Asia/Dubai",
    "hong kong": "Asia/Hong_Kong",
    "taiwan": "Asia/Taipei",
    "brazil": "America/Sao_Paulo",
    "sao paulo": "America/Sao_Paulo",
    "russia": "Europe/Moscow",
    "pst": "America/Los_Angeles",
    "est": "America/New_York",
    "cet": "Europe/Paris",
}


@cache
def _by_city() -> dict[str, str]:
    out: dict[str, str] = {}
    for zone in sorted(available_timezones()):
        out.setdefault(zone.rsplit("/", 1)[-1].replace("_", " ").lower(), zone)
    return out


def resolve_zone(name: str) -> ZoneInfo:
    """A ZoneInfo for 'Asia/Tokyo', 'Tokyo', 'new york', 'UTC' ..."""
    text = re.sub(r"\s+", " ", name.strip().strip("?.!")).removeprefix("the ")
    if not text:
        return ZoneInfo("UTC")
    key = text.lower()
    zone = _ALIASES.get(key) or _by_city().get(key)
    if zone is None and "/" in text:
        zone = next((z for z in available_timezones() if z.lower() == key), None)
    if zone is None:
        raise BadInputError(
            f"unknown time zone {name!r}: try a city such as Tokyo or an IANA name such as Europe/Paris"
        )
    return ZoneInfo(zone)
