"""How often a schedule spec can fire (the minimum-interval quota reads it)."""

from __future__ import annotations

import pytest

from core.errors import BadInputError
from services.schedule_intervals import min_interval_seconds


@pytest.mark.parametrize(
    ("cron", "seconds"),
    [
        ("* * * * *", 60),
        ("*/5 * * * *", 300),
        ("0,30 * * * *", 1800),
        ("0 9 * * *", 3600),  # one minute value: at most hourly
        ("0 9 * * MON-FRI", 3600),
        ("CRON_TZ=Europe/Paris 0 9 * * *", 3600),
        ("*/10 * * * * * *", 10),  # seven fields: seconds first
        ("0 * * * * * *", 60),
        ("@every 1s", 1),
        ("@every 1h30m", 5400),
        ("@every 5m/1m", 300),  # the offset does not make it fire more often
        ("@hourly", 3600),
        ("@daily", 86400),
    ],
)
def test_the_shortest_gap_of_a_cron_spec(cron: str, seconds: float) -> None:
    assert min_interval_seconds(cron, None) == seconds


def test_every_seconds_is_its_own_gap() -> None:
    assert min_interval_seconds(None, 90) == 90


@pytest.mark.parametrize("cron", ["@every", "@every soon", "* * *", "x * * * *", "*/0 * * * *", "61 * * * *"])
def test_a_spec_that_cannot_be_read_is_refused(cron: str) -> None:
    with pytest.raises(BadInputError):
        min_interval_seconds(cron, None)
