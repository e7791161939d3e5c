"""Load the compiled contract artifacts committed under contracts/build/.

The artifacts are produced by ``npm --prefix contracts run build`` (solc-js). Each carries a
``sourceHash`` over contracts/src/*.sol; :func:`stale_artifacts` recomputes it so a test (or a
start-up check) notices sources edited without recompiling, without needing node.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from core.errors import ConfigError

CONTRACTS_DIR = Path(__file__).resolve().parents[1] / "contracts"
BUILD_DIR = CONTRACTS_DIR / "build"
SRC_DIR = CONTRACTS_DIR / "src"


@dataclass(frozen=True)
class Artifact:
    """One compiled contract: ABI and creation/runtime bytecode (0x-prefixed hex)."""

    name: str
    abi: list[dict[str, Any]]
    bytecode: str
    deployed_bytecode: str
    source_hash: str

    @property
    def initcode(self) -> bytes:
        return bytes.fromhex(self.bytecode.removeprefix("0x"))


@cache
def load_artifact(name: str, build_dir: Path = BUILD_DIR) -> Artifact:
    """Return the artifact of contract ``name``; ConfigError if it was never built."""
    path = build_dir / f"{name}.json"
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"contract artifact {path} is missing: run `npm --prefix contracts run build`") from None
    return Artifact(
        name=raw["contractName"],
        abi=raw["abi"],
        bytecode=raw["bytecode"],
        deployed_bytecode=raw.get("deployedBytecode", ""),
        source_hash=raw["sourceHash"],
    )


def source_hash(src_dir: Path = SRC_DIR) -> str:
    """sha256 over the names and contents of src/*.sol; must match compile.js:sourceHash()."""
    h = hashlib.sha256()
    for path in sorted(src_dir.glob("*.sol"), key=lambda p: p.name):
        h.update(path.name.encode())
        h.update(b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def artifact_names(build_dir: Path = BUILD_DIR) -> list[str]:
    return sorted(p.stem for p in build_dir.glob("*.json"))


def stale_artifacts(build_dir: Path = BUILD_DIR, src_dir: Path = SRC_DIR) -> list[str]:
    """Names of artifacts not compiled from the current sources (empty list = up to date)."""
    current = source_hash(src_dir)
    return [n for n in artifact_names(build_dir) if load_artifact(n, build_dir).source_hash != current]
