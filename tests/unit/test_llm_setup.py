"""litellm is set up by an explicit call, never by importing the platform's modules."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

#: each test starts a Python that imports litellm (seconds): `make test` runs them, `make test-fast` does not
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def _python(code: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LITELLM_")}
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_importing_the_worker_and_the_api_neither_imports_nor_configures_litellm() -> None:
    result = _python(
        "import os, sys\n"
        "import api.app, core.llm.gateway, core.nodes, temporal.worker, services.tools\n"
        "assert 'litellm' not in sys.modules, 'litellm imported'\n"
        "assert 'LITELLM_LOCAL_MODEL_COST_MAP' not in os.environ, 'environment changed'\n"
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_setup_uses_the_local_price_list_registers_the_offline_model_and_is_idempotent() -> None:
    result = _python(
        "import os\n"
        "from core.llm import setup_litellm\n"
        "first = setup_litellm(); second = setup_litellm()\n"
        "assert first is second\n"
        "assert os.environ['LITELLM_LOCAL_MODEL_COST_MAP'] == 'True'\n"
        "assert [p['provider'] for p in first.custom_provider_map].count('offline') == 1\n"
        "assert first.telemetry is False\n"
        "r = first.completion(model='offline/impressox-offline-v1', messages=[{'role': 'user', 'content': 'hi'}])\n"
        "print(r.choices[0].message.content)\n"
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip()
