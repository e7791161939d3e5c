"""The committed contract artifacts are compiled from the current sources."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from chain.artifacts import CONTRACTS_DIR, load_artifact, source_hash, stale_artifacts


def test_artifacts_match_source_hash() -> None:
    assert stale_artifacts() == [], "contracts/src changed without `npm --prefix contracts run build`"
    for name in ("AgentVault", "AgentVaultV2", "ERC1967Proxy", "TestToken", "MockPriceFeed"):
        art = load_artifact(name)
        assert art.source_hash == source_hash()
        assert len(art.initcode) > 100


def test_source_edit_makes_artifacts_stale(tmp_path) -> None:
    src = tmp_path / "src"
    shutil.copytree(CONTRACTS_DIR / "src", src)
    (src / "AgentVault.sol").write_text((src / "AgentVault.sol").read_text() + "\n// edited\n")
    assert set(stale_artifacts(src_dir=src)) >= {"AgentVault", "AgentVaultV2"}


def test_recompiling_reproduces_committed_bytecode() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is required to recompile contracts (solc-js); install Node 20+", pytrace=False)
    proc = subprocess.run(
        [node, "compile.js", "--check"], cwd=CONTRACTS_DIR, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert "up to date" in proc.stdout
