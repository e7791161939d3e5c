"""The web client's build inputs: its typed API client matches the API's OpenAPI schema (a renamed
field must break the build, so the committed schema.d.ts has to be current), and its Vitest unit
tests pass (stream parser with resume, approval countdown, formatting, safe Markdown)."""

from __future__ import annotations

import subprocess
import sys

from core.settings import PROJECT_ROOT

WEB = PROJECT_ROOT / "web"


def run(*cmd: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=WEB, capture_output=True, text=True, timeout=timeout)


def test_the_committed_api_types_match_the_openapi_schema(tmp_path) -> None:
    schema = tmp_path / "openapi.json"
    dumped = run(sys.executable, "scripts/dump_openapi.py", str(schema))
    assert dumped.returncode == 0, dumped.stderr
    check = run("node_modules/.bin/openapi-typescript", str(schema), "-o", "src/api/schema.d.ts", "--check")
    assert check.returncode == 0, (
        f"web/src/api/schema.d.ts is stale: run `make web-schema`\n{check.stdout}{check.stderr}"
    )


def test_the_web_unit_tests_pass() -> None:
    tests = run("node_modules/.bin/vitest", "run", timeout=600)
    assert tests.returncode == 0, tests.stdout[-3000:] + tests.stderr[-2000:]
