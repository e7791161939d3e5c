"""The watch-rule evaluator as pure functions over price sequences."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from core.rules import PricePoint, PriceRule, RuleState, WalletRule, evaluate_price, run_sequence, wallet_matches

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def points(*prices: float | str, step: float = 60) -> list[PricePoint]:
    return [PricePoint(at=T0 + timedelta(seconds=i * step), price=Decimal(str(p))) for i, p in enumerate(prices)]


def rule(**kw: object) -> PriceRule:
    base: dict[str, object] = {"alert_id": "price.ETH.x", "owner": "alice", "symbol": "ETH", "cooldown_seconds": 0}
    return PriceRule(**{**base, **kw})


def test_hovering_around_the_threshold_fires_once_per_crossing() -> None:
    fired = run_sequence(rule(above=Decimal(100)), points(99, 101, 101.5, 100.5, 101, 98.9, 101.2))
    assert [f.price for f in fired] == [Decimal("101"), Decimal("101.2")]


def test_below_rule_mirrors_above() -> None:
    fired = run_sequence(rule(below=Decimal(100)), points(101, 99, 98.5, 99.5, 99, 101.1, 98.8))
    assert [f.price for f in fired] == [Decimal("99"), Decimal("98.8")]


def test_cooldown_holds_a_second_crossing_until_it_has_passed() -> None:
    r = rule(above=Decimal(100), cooldown_seconds=900)
    # fires at t=60; back under at t=120; above again at t=180 (cooldown running): nothing; t=1000: fires
    seq = [*points(99, 101, 98, 101.5), PricePoint(at=T0 + timedelta(seconds=1000), price=Decimal("101.6"))]
    assert [f.price for f in run_sequence(r, seq)] == [Decimal("101"), Decimal("101.6")]


def test_hysteresis_is_settable() -> None:
    r = rule(above=Decimal(100), hysteresis_pct=Decimal(5))
    assert len(run_sequence(r, points(99, 101, 96, 101))) == 1  # 96 is not 5% under
    assert len(run_sequence(r, points(99, 101, 95, 101))) == 2


def test_move_rule_compares_with_the_price_a_window_ago() -> None:
    r = rule(move_pct=Decimal(5), window_seconds=3600)
    # 10-minute steps: 100 -> 104 (4%) -> 106 (6% vs 100): fires once, with 100 as the reference
    fired = run_sequence(r, points(100, 104, 106, 106.5, step=600))
    assert len(fired) == 1
    assert fired[0].reference == Decimal(100) and fired[0].move_pct == Decimal("6.00")
    # a fall counts too
    assert len(run_sequence(r, points(100, 94, step=600))) == 1


def test_move_rule_forgets_moves_older_than_its_window() -> None:
    r = rule(move_pct=Decimal(5), window_seconds=600)
    # +6% spread over 3 hours is never 5% within 10 minutes
    assert run_sequence(r, points(100, 102, 104, 106, step=3600)) == []


def test_a_fired_rule_state_is_disarmed_and_remembers_when() -> None:
    state, firing = evaluate_price(rule(above=Decimal(100)), RuleState(), Decimal(101), T0)
    assert firing is not None and not state.armed and state.last_fired_at == T0 and state.fired_count == 1


def test_wallet_rules_match_direction_and_token() -> None:
    me, other = "0x" + "a" * 40, "0x" + "b" * 40
    incoming = WalletRule(alert_id="w", owner="alice", address=me.upper().replace("0X", "0x"), direction="in")
    assert wallet_matches(incoming, other, me, None) == "in"
    assert wallet_matches(incoming, me, other, None) is None  # outgoing
    assert wallet_matches(incoming, other, me, "TUSD") is None  # a token, the rule is for ETH
    both_tusd = WalletRule(alert_id="w", owner="alice", address=me, direction="both", token="TUSD")
    assert wallet_matches(both_tusd, me, other, "TUSD") == "out"
    assert wallet_matches(both_tusd, other, me, "tusd") == "in"
