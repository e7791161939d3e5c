"""Approval signatures bind the session, the call, its exact arguments and the verdict."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from core import approvals
from core.settings import load_settings

KEY = b"k" * 32
ARGS = {"to": "0xabc", "amount": "0.01", "token": "ETH"}


def test_canonical_args_do_not_depend_on_key_order_or_spacing() -> None:
    assert approvals.canonical_args({"b": 1, "a": [1, {"y": 2, "x": "é"}]}) == '{"a":[1,{"x":"é","y":2}],"b":1}'
    reordered = {"token": "ETH", "amount": "0.01", "to": "0xabc"}
    sig = approvals.sign(KEY, "web:alice:s1", "c1", ARGS, True)
    assert approvals.verify(KEY, sig, "web:alice:s1", "c1", reordered, True)


@pytest.mark.parametrize(
    ("session", "call", "args", "verdict", "key"),
    [
        ("web:bob:s1", "c1", ARGS, True, KEY),  # another session
        ("web:alice:s1", "c2", ARGS, True, KEY),  # another call
        ("web:alice:s1", "c1", {**ARGS, "amount": "10"}, True, KEY),  # other arguments
        ("web:alice:s1", "c1", {**ARGS, "to": "0xevil"}, True, KEY),
        ("web:alice:s1", "c1", ARGS, False, KEY),  # the opposite verdict
        ("web:alice:s1", "c1", ARGS, True, b"x" * 32),  # another key
    ],
)
def test_a_signature_is_valid_only_for_its_own_decision(session, call, args, verdict, key) -> None:
    sig = approvals.sign(KEY, "web:alice:s1", "c1", ARGS, True)
    assert approvals.verify(KEY, sig, "web:alice:s1", "c1", ARGS, True)
    assert not approvals.verify(key, sig, session, call, args, verdict)


@pytest.mark.parametrize("forged", [None, "", "v1:" + "0" * 64, "anything", "é" * 10])
def test_missing_or_forged_signatures_are_refused_without_raising(forged: str | None) -> None:
    assert not approvals.verify(KEY, forged, "web:alice:s1", "c1", ARGS, True)


def test_fields_cannot_bleed_into_each_other() -> None:
    sig = approvals.sign(KEY, "web:a:s", "1c", ARGS, True)
    assert not approvals.verify(KEY, sig, "web:a:s1", "c", ARGS, True)


def test_the_key_comes_from_settings_or_a_private_file_in_the_data_dir(tmp_path: Path) -> None:
    assert approvals.approval_key(load_settings(data_dir=tmp_path, approval_key="s3cret")) == b"s3cret"
    assert not (tmp_path / "keys" / "approval.key").exists()
    settings = load_settings(data_dir=tmp_path)
    key = approvals.approval_key(settings)
    path = tmp_path / "keys" / "approval.key"
    assert len(key) >= 32 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert approvals.approval_key(settings) == key
