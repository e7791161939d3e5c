"""How often a schedule spec can fire: the shortest gap between two firings of an
``every_seconds`` interval or a cron expression (5, 6 or 7 fields, ``@every``, ``@hourly`` ...),
so a schedule firing more often than schedule_min_interval_seconds is refused before Temporal
ever sees it.

For cron the gap is a lower bound from the finest fields (seconds, then minutes): a spec whose
fields cannot be read here is refused as invalid rather than let through unchecked.
"""

from __future__ import annotations

import re

from core.errors import BadInputError

_NAMED = {"@yearly": 366 * 86400, "@annually": 366 * 86400, "@monthly": 28 * 86400, "@weekly": 7 * 86400}
_NAMED |= {"@daily": 86400, "@midnight": 86400, "@hourly": 3600}
_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")


def go_duration_seconds(text: str) -> float:
    """``5h30m``, ``90s``, ``1.5h`` (Go's time.ParseDuration, as Temporal reads ``@every``)."""
    if not text or _DURATION.sub("", text):
        raise BadInputError(f"cannot read the duration {text!r} (e.g. 90s, 5m, 1h30m)")
    return sum(float(n) * _GO_UNITS[u] for n, u in _DURATION.findall(text))


def _values(field: str, low: int, high: int) -> list[int]:
    """The values a numeric cron field (``*``, ``a``, ``a-b``, ``*/n``, ``a-b/n``, lists) allows."""
    out: set[int] = set()
    for part in field.split(","):
        rng, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if step < 1:
            raise ValueError(part)
        if rng in ("*", "?"):
            start, end = low, high
        elif "-" in rng:
            a, b = rng.split("-", 1)
            start, end = int(a), int(b)
        else:
            start = int(rng)
            end = high if step_text else start
        out.update(range(start, end + 1, step))
    if not out or min(out) < low or max(out) > high:
        raise ValueError(field)
    return sorted(out)


def _min_gap(values: list[int], period: int) -> int | None:
    """The shortest distance between allowed values on a circle of ``period`` (None: one value)."""
    if len(values) < 2:
        return None
    return min([b - a for a, b in zip(values, values[1:], strict=False)] + [values[0] + period - values[-1]])


def cron_min_interval_seconds(cron: str) -> float:
    text = re.sub(r"^\s*CRON_TZ=\S+\s+", "", cron).strip()
    low = text.lower()
    if low.startswith("@every"):
        spec = low.removeprefix("@every").strip().split("/", 1)[0]  # "@every 5m/1m": the offset does not count
        return go_duration_seconds(spec)
    if low in _NAMED:
        return _NAMED[low]
    fields = text.split()
    if len(fields) not in (5, 6, 7):
        raise BadInputError(f"invalid cron {cron!r}: 5, 6 or 7 fields, or @every <duration>, @hourly, @daily ...")
    try:
        if len(fields) == 7:  # seconds first
            gap = _min_gap(_values(fields[0], 0, 59), 60)
            if gap is not None:
                return gap
            minute_field = fields[1]
        else:
            minute_field = fields[0]
        gap = _min_gap(_values(minute_field, 0, 59), 60)
    except ValueError:
        raise BadInputError(f"invalid cron {cron!r}: cannot read its seconds or minutes field") from None
    # one minute value: at most once an hour (the hours field can only make it rarer)
    return 60 * gap if gap is not None else 3600


def min_interval_seconds(cron: str | None, every_seconds: int | None) -> float:
    """The shortest gap between two firings of the spec, in seconds."""
    if every_seconds is not None:
        return float(every_seconds)
    return cron_min_interval_seconds(cron or "")
