"""The local chain keeps its port across `impressox up` restarts, so a wallet pointed at it keeps working."""

from __future__ import annotations

import socket
from pathlib import Path

from cli.up_chain import DEFAULT_PORT, chain_port
from devstack.processes import free_port, port_in_use


def test_the_chain_port_is_the_last_one_while_it_is_free_and_another_when_it_is_taken(tmp_path: Path) -> None:
    last = free_port()
    (tmp_path / "chain").mkdir()
    (tmp_path / "chain" / "port").write_text(str(last))
    assert chain_port(tmp_path) == last  # free: the same port again, though 8545 may be free too

    with socket.socket() as taken:  # something else holds it now
        taken.bind(("127.0.0.1", last))
        taken.listen()
        moved = chain_port(tmp_path)
    assert moved != last and not port_in_use(moved)
    assert (tmp_path / "chain" / "port").read_text() == str(moved)  # and that one is kept for next time
    assert chain_port(tmp_path) == moved


def test_a_first_start_takes_8545_unless_it_is_taken(tmp_path: Path) -> None:
    taken = port_in_use(DEFAULT_PORT)
    port = chain_port(tmp_path)
    assert (port != DEFAULT_PORT) if taken else (port == DEFAULT_PORT)
    assert (tmp_path / "chain" / "port").read_text() == str(port)
