"""Benchmark: the web client's first load on the local stack, in headless Chromium.

Starts `impressox up` on free ports (or uses --api URL), then loads `/` in fresh browser
contexts (empty cache) and measures time to interactive: from navigation start until the
"New session" button is enabled (the app has loaded, rendered and fetched /v1/agents).
Also the JS and CSS bytes the page loads, raw and gzipped. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.settings import PROJECT_ROOT
from devstack.processes import find_executable, free_port

ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def start_stack(tmp: Path) -> tuple[subprocess.Popen, str]:
    ports = {"api": free_port(), "temporal": free_port(), "ui": free_port(), "chain": free_port()}
    cmd = [find_executable("impressox"), "up", "--data-dir", str(tmp / "data")]
    for name, port in ports.items():
        cmd += [f"--{name}-port", str(port)]
    log = (tmp / "up.log").open("w")
    env = dict(os.environ, IMPRESSOX_REDIS_URL="redis://127.0.0.1:1/0")
    proc = subprocess.Popen(
        cmd, env=env, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    deadline = time.time() + 240
    while "Ctrl-C stops everything" not in (tmp / "up.log").read_text():
        if proc.poll() is not None or time.time() > deadline:
            raise SystemExit((tmp / "up.log").read_text()[-2000:])
        time.sleep(0.3)
    return proc, f"http://127.0.0.1:{ports['api']}"


def measure(api: str, runs: int) -> dict:
    from playwright.sync_api import expect, sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    times: list[float] = []
    assets: dict[str, bytes] = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=ARGS)
        for _ in range(runs + 1):  # the first load warms the server, not the browser (fresh context)
            context = browser.new_context()
            page = context.new_page()

            def keep(response) -> None:
                if "/assets/" in response.url:
                    assets[response.url] = response.body()

            page.on("response", keep)
            page.goto(api + "/")
            # polled by Playwright's own injected script (the page's CSP forbids wait_for_function's eval)
            expect(page.get_by_role("button", name="New session")).to_be_enabled(timeout=60_000)
            times.append(page.evaluate("performance.now()"))
            context.close()
        browser.close()
    times = times[1:]

    def size(ext: str, packed: bool) -> int:
        return sum(len(gzip.compress(b, 9)) if packed else len(b) for u, b in assets.items() if u.endswith(ext))

    return {
        "runs": runs,
        "time_to_interactive_ms_median": round(statistics.median(times)),
        "time_to_interactive_ms_max": round(max(times)),
        "js_bytes": size(".js", False),
        "js_bytes_gzipped": size(".js", True),
        "css_bytes_gzipped": size(".css", True),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api", help="an API already running (default: start `impressox up`)")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if args.api:
        print(json.dumps(measure(args.api, args.runs)))
        return
    with tempfile.TemporaryDirectory(prefix="web-load-") as tmp:
        proc, api = start_stack(Path(tmp))
        try:
            print(json.dumps(measure(api, args.runs)))
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(60)


if __name__ == "__main__":
    main()
