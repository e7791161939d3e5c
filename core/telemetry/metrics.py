"""Prometheus metrics of one process: ours (prometheus_client) and the Temporal SDK's.

Every process that runs long (API, worker, listener, bots) exposes one Prometheus text
endpoint: the API at ``/metrics`` on its own port (operators only when API keys are set), the
others on their ``metrics_port`` (``up`` gives each one a free port and records the URLs in
``<data_dir>/stack.json``). The Temporal SDK's runtime metrics (``temporal_*``: workflow task
latencies, activity schedule-to-start, poller counts, ...) come from the Rust core's own
Prometheus exporter, bound to a private loopback port and folded into the same text on each
scrape, so an operator scrapes one URL per process.

Several API processes on one port (``impressox api --workers N``, ``up --api-workers N``) are
one endpoint: whichever process a scrape lands on answers for all of them. The process that
starts them (``cli.serve``) gives them a fresh directory in ``PROMETHEUS_MULTIPROC_DIR``
(prometheus_client's multiprocess mode: each process writes its values to files there, and a
scrape sums them with ``MultiProcessCollector``; a gauge says how, ``impressox_stream_clients``
is the live processes' sum) and removes it when they stop. Each API process also records there
where its own Temporal SDK exporter is (:func:`join_api_processes`), and a scrape folds every
live one's ``temporal_*`` series in, each labelled with its process's ``pid`` (an SDK counter
is per process: summing across processes would hide a restarted one's reset). A process that
leaves marks itself dead (its live gauges no longer count); one that died without leaving is
found gone at the next scrape and marked so there.

The turn counters are recorded where the turn ends, in the session workflow, through
``workflow.metric_meter()`` (not recorded on replay, so a restarted worker never counts a turn
twice); they are named ``impressox_*`` like the rest.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import socket
import threading
import urllib.request
from collections.abc import Iterable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

#: seconds; turns of the offline model take tens of ms, a real model's seconds to minutes
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)

# ---------------------------------------------------------------- ours (recorded in this process)
LLM_CALLS = Counter("impressox_llm_calls", "LLM calls by the model that answered", ["model", "outcome", "cache"])
LLM_TOKENS = Counter("impressox_llm_tokens", "LLM tokens by model and kind (prompt, completion)", ["model", "kind"])
LLM_COST = Counter("impressox_llm_cost_usd", "LLM cost in USD by model (litellm's cost map, model_prices)", ["model"])
FIRST_TOKEN = Histogram(
    "impressox_first_token_seconds",
    "From a node's start to the model's first streamed text",
    ["model"],
    buckets=LATENCY_BUCKETS,
)
LLM_FALLBACKS = Counter("impressox_llm_fallbacks", "Calls that moved on to a fallback model", ["model", "reason"])
TOOL_CALLS = Counter(
    "impressox_tool_calls", "Tool activity attempts by tool and outcome (ok, error)", ["tool", "outcome"]
)
TRANSFERS = Counter(
    "impressox_transfers",
    "Transfers by the chain tools, by outcome: sent, found (an earlier attempt sent it), refused",
    ["outcome"],
)
GAS_COST = Counter("impressox_gas_cost_usd", "Gas paid by the agent's transactions, in USD at the feed's price")
ALERTS_FIRED = Counter("impressox_alerts_fired", "Alert notifications delivered", ["kind"])
SCHEDULE_RUNS = Counter("impressox_schedule_runs", "Scheduled turns run, by outcome", ["outcome"])
STREAM_CLIENTS = Gauge(
    "impressox_stream_clients",
    "Clients following a turn's event stream now",
    multiprocess_mode="livesum",  # several API processes: the sum over the live ones
)
RATE_LIMITED = Counter("impressox_rate_limit_refusals", "Requests refused by a rate limit (429)", ["rule"])
BUDGET_REFUSALS = Counter("impressox_budget_refusals", "Turns refused because the user's daily budget is spent")
API_TURNS = Histogram(
    "impressox_api_turn_seconds",
    "A waited chat request's turn, as the API saw it",
    ["outcome"],
    buckets=LATENCY_BUCKETS,
)

# ---------------------------------------------------------------- recorded by workflows (Temporal's meter)
#: names of the workflow-side metrics (see workflows/telemetry.py); they reach Prometheus through the
#: Temporal runtime's exporter, so the SDK's counter suffix rules apply there
TURNS = "impressox_turns_total"
TURN_SECONDS = "impressox_turn_seconds"
APPROVALS = "impressox_approvals"


#: set by the process that starts several API processes, before they start (see cli.serve)
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def _runtime_families(url: str) -> list[Metric]:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            text = r.read().decode()
    except OSError as exc:
        log.debug("Temporal runtime metrics unavailable at %s: %s", url, exc)
        return []
    return list(text_string_to_metric_families(text))


class TemporalRuntimeCollector(Collector):
    """The Temporal runtime's Prometheus text (a private loopback port), parsed on each scrape."""

    def __init__(self, url: str) -> None:
        self.url = url

    def collect(self) -> Iterator[Metric]:
        yield from _runtime_families(self.url)

    def describe(self) -> Iterable[Metric]:
        return []  # no fixed set: registered without a name check


class ApiProcessesRuntimeCollector(Collector):
    """Every live API process's Temporal runtime text, each series labelled with its ``pid``; an
    API process gone without leaving (killed) is marked dead here."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def collect(self) -> Iterator[Metric]:
        families: dict[str, Metric] = {}
        for pid, url in sorted(_api_processes(self.path).items()):
            for family in _runtime_families(url):
                merged = families.setdefault(family.name, Metric(family.name, family.documentation, family.type))
                merged.samples += [s._replace(labels={**s.labels, "pid": str(pid)}) for s in family.samples]
        yield from families.values()

    def describe(self) -> Iterable[Metric]:
        return []


def _api_processes(path: Path) -> dict[int, str]:
    """pid -> Temporal runtime URL of each API process that joined and still runs."""
    found = {}
    for entry in path.glob("api-*.json"):
        try:
            info = json.loads(entry.read_text())
            pid, url = int(info["pid"]), str(info["runtime_url"])
        except (OSError, ValueError, KeyError, TypeError):
            continue  # being written, or removed between the glob and the read
        if _alive(pid):
            found[pid] = url
        else:
            _leave(path, pid)
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _leave(path: Path, pid: int) -> None:
    try:
        mark_process_dead(pid, str(path))  # its live gauges' files go
    except FileNotFoundError:
        pass  # another process's scrape found it gone at the same time
    (path / f"api-{pid}.json").unlink(missing_ok=True)


_api_dir: Path | None = None


def join_api_processes() -> bool:
    """In one of several API processes (``PROMETHEUS_MULTIPROC_DIR`` set by whoever started them):
    record this process's Temporal runtime exporter there, leave at exit, and answer ``/metrics``
    for all of them from then on. False (nothing done) in a lone API process."""
    global _api_dir
    if not os.environ.get(MULTIPROC_ENV):
        return False
    path = Path(os.environ[MULTIPROC_ENV])
    pid = os.getpid()
    entry = path / f"api-{pid}.json"
    tmp = entry.with_suffix(".tmp")
    tmp.write_text(json.dumps({"pid": pid, "runtime_url": install_temporal_runtime()}))
    tmp.replace(entry)  # atomic: a scrape never reads half of it
    atexit.register(_leave, path, pid)
    _api_dir = path
    return True


_runtime_url: str | None = None


def install_temporal_runtime() -> str:
    """Make this process's Temporal runtime export Prometheus on a private port (before any client
    connects) and fold it into our registry; returns that port's URL. Idempotent."""
    global _runtime_url
    if _runtime_url is not None:
        return _runtime_url
    from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

    port = _free_port()
    runtime = Runtime(
        telemetry=TelemetryConfig(
            metrics=PrometheusConfig(
                bind_address=f"127.0.0.1:{port}",
                # seconds, like every other duration here (the SDK's default is milliseconds)
                durations_as_seconds=True,
                histogram_bucket_overrides={TURN_SECONDS: list(LATENCY_BUCKETS)},
            )
        )
    )
    Runtime.set_default(runtime, error_if_already_set=False)
    _runtime_url = f"http://127.0.0.1:{port}/metrics"
    REGISTRY.register(TemporalRuntimeCollector(_runtime_url))
    return _runtime_url


def metrics_text() -> tuple[bytes, str]:
    """(body, content type) of this process's Prometheus text; in one of several API processes,
    of all of them (see the module's doc)."""
    if _api_dir is None:
        return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
    registry = CollectorRegistry()
    registry.register(ApiProcessesRuntimeCollector(_api_dir))  # first: it marks the killed ones dead
    MultiProcessCollector(registry, path=str(_api_dir))
    return generate_latest(registry), CONTENT_TYPE_LATEST


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path.split("?")[0] not in ("/metrics", "/"):
            self.send_error(404)
            return
        body, ctype = metrics_text()
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def serve_metrics(port: int, host: str = "127.0.0.1") -> str:
    """Serve ``/metrics`` on ``host:port`` (0: any free port) in a daemon thread; returns its URL."""
    server = ThreadingHTTPServer((host, port), _Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return f"http://{host}:{server.server_address[1]}/metrics"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
