"""The chaos soak, short: sessions taking turns (a tenth of them approved transfers) on
`impressox up --workers 2 --api-workers 2` while a worker, an API process, the listener, Redis and
the Temporal server are each SIGKILLed once in a random order (bench/soak.py; the 10-minute run is
`bench/soak.py --seconds 600`). Every message is answered exactly once, right; every approved
transfer is mined once and nothing else; every scheduled run and every outside deposit is notified
once (the deposit and its wallet alert); every fault heals without help. And a rolling restart
(SIGTERM to each worker and API process in turn) under the same load fails no request."""

from __future__ import annotations

from bench.soak import FAULTS, soak


async def test_a_short_soak_with_every_component_killed_loses_and_repeats_nothing() -> None:
    result = await soak(seconds=150, sessions=4, fault_every=6, seed=7)
    assert result["messages_sent"] >= 20, result
    assert (result["lost"], result["answered_twice"], result["wrong_answers"]) == (0, 0, 0), result
    assert result["answered_exactly_once"] == result["messages_sent"], result
    assert result["transfers_mined"] == result["transfers_approved"] and result["unapproved_transfers"] == 0, result
    assert result["unhealed_faults"] == 0, result
    assert {k for k, n in result["faults_by_kind"].items() if n} == set(FAULTS), result  # each kind at least once
    # the schedules' runs and the outside deposits (each a deposit and a wallet alert): notified once each
    assert result["schedule_runs"] >= 4 and result["deposits_sent"] >= 5, result
    assert (result["notifications_missing"], result["notifications_twice"]) == (0, 0), result
    assert result["notifications_delivered"] == result["notifications_expected"], result


async def test_a_rolling_restart_of_every_worker_and_api_process_fails_no_turn() -> None:
    result = await soak(seconds=60, sessions=4, fault_every=5, seed=3, rolling=True)
    assert result["faults_by_kind"]["worker"] == 2 and result["faults_by_kind"]["api"] == 2, result
    assert result["unhealed_faults"] == 0, result
    # a drained worker finishes its activities, a stopping API process its requests: nobody sees an
    # error (a request on a kept-alive connection the stopping process closed is resent at once, as
    # a browser does: result["disconnected_before_response"] counts those)
    assert result["failed_requests"] == 0, (result["failed_request_kinds"], result)
    assert (result["lost"], result["answered_twice"], result["wrong_answers"]) == (0, 0, 0), result
    assert result["transfers_mined"] == result["transfers_approved"], result
    assert (result["notifications_missing"], result["notifications_twice"]) == (0, 0), result
