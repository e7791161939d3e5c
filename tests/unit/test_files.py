"""Atomic JSON writes: the file holds the old content or the new, never half of either."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.files import write_json_atomic
from core.names import USER_NAME
from core.settings import ApiKey


def test_write_creates_the_folder_replaces_the_file_and_leaves_no_temp_file(tmp_path: Path) -> None:
    path = tmp_path / "state" / "deployments.json"
    write_json_atomic(path, {"a": 1})
    write_json_atomic(path, {"b": [2]}, indent=2, sort_keys=True)
    assert json.loads(path.read_text()) == {"b": [2]}
    assert path.read_text().endswith("\n")
    assert [p.name for p in path.parent.iterdir()] == ["deployments.json"]


def test_a_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "listener.json"
    write_json_atomic(path, {"next_block": 7})
    with pytest.raises(TypeError):
        write_json_atomic(path, {"next_block": object()})
    assert json.loads(path.read_text()) == {"next_block": 7}
    assert [p.name for p in tmp_path.iterdir()] == ["listener.json"]


@pytest.mark.parametrize(
    ("name", "ok"), [("alice", True), ("a.b@c-d_e", True), ("", False), ("a:b", False), ("x" * 65, False)]
)
def test_one_user_name_shape_for_keys_and_sessions(name: str, ok: bool) -> None:
    assert bool(USER_NAME.match(name)) is ok
    try:
        ApiKey(user=name, key="k")
        accepted = True
    except ValueError:
        accepted = False
    assert accepted is ok
