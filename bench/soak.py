"""Chaos soak: sessions taking turns on `impressox up --workers 2 --api-workers 2` while a fault
injector SIGKILLs, at random, a worker, an API process, the chain listener, Redis or the Temporal
server (the stack's supervisor restarts each; nobody helps it).

Each simulated user sends its session's messages one after another, with its own message ids, and
retries a message (the same id) until it has its answer, the way a client that lost its
connection does: the platform must answer every message exactly once. A tenth of the messages
are transfers, approved by a scripted approver through the API; every approved transfer must be
mined exactly once and nothing unapproved ever. Beside them two schedules fire every 30 s and an
outside wallet deposits into the vault every 12 s (a wallet alert watches it): every scheduled run
and every deposit must be notified exactly once (a deposit notification and an alert each), the
listener's kills notwithstanding. Prints one JSON object:

    .venv/bin/python bench/soak.py [--seconds 600] [--sessions 8] [--fault-every 15] [--seed 1]

messages sent / answered exactly once / lost / answered twice; transfers approved vs mined;
notifications expected / delivered / missing / twice (schedule runs, deposits, alerts); p50
and p99 turn latency in and out of faults (a turn is "in a fault" when one was injected while it
ran); and how long each fault took to heal (until a probe turn was answered again).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from temporalio.client import Client

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devstack.processes import find_executable, free_port, stop_process

RECIPIENT = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"  # anvil account 3
AMOUNT_WEI = 10**15  # 0.001 ETH
#: an outside wallet (anvil account 1) that deposits into the vault now and then: each deposit is a
#: chain event the listener must turn into a deposit notification and a wallet-alert notification
DEPOSITOR = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
DEPOSIT_WEI = 10**16  # 0.01 ETH
#: schedules firing during the soak (each run notifies its answer once)
SCHEDULES = 2
FAULTS = ("worker", "api", "listener", "redis", "temporal")


@dataclass
class Outcome:
    session: str
    message_id: str
    kind: str
    started: float
    ended: float | None = None
    turn: int | None = None
    tries: int = 0
    #: requests that failed from the client's side (connection lost, 5xx): retried with the same id
    errors: int = 0
    #: what each failure was ("HTTP 503", "ReadError", ...)
    error_kinds: list[str] = field(default_factory=list)
    #: requests whose connection the server closed or reset before answering: a kill -9 mid-request,
    #: or, in a rolling restart, a kept-alive connection the stopping process closed as the request
    #: was on its way (HTTP/1.1's keep-alive race; browsers resend those by themselves): resent at
    #: once (every request here is idempotent: it carries its message id)
    disconnected: int = 0
    approved: bool = False


@dataclass
class Soak:
    api: str
    up_pid: int
    chain_rpc: str
    outcomes: list[Outcome] = field(default_factory=list)
    faults: list[dict] = field(default_factory=list)
    stop: bool = False
    probe_session: str | None = None
    #: the automations firing beside the chats: schedule ids, deposits sent (tx hashes mined)
    schedules: list[str] = field(default_factory=list)
    deposits: list[str] = field(default_factory=list)

    # ------------------------------------------------------------------ the stack's processes
    def processes(self) -> dict[str, list[int]]:
        """The stack's children by role, found through /proc (descendants of `up`)."""
        children: dict[int, list[int]] = {}
        cmdlines: dict[int, str] = {}
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                stat = (proc / "stat").read_text()
                ppid = int(stat[stat.rfind(")") + 2 :].split()[1])
                cmdlines[int(proc.name)] = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except (OSError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(proc.name))
        tree, todo = [], [self.up_pid]
        while todo:
            pid = todo.pop()
            for child in children.get(pid, []):
                tree.append(child)
                todo.append(child)
        roles: dict[str, list[int]] = {name: [] for name in FAULTS}
        for pid in tree:
            cmd = cmdlines.get(pid, "")
            if " worker " in f"{cmd} " and "impressox" in cmd:
                roles["worker"].append(pid)
            elif ("impressox" in cmd and " api " in f"{cmd} ") or "spawn_main" in cmd:
                roles["api"].append(pid)  # uvicorn's manager or one of the API processes it spawned
            elif "impressox" in cmd and " listener" in cmd:
                roles["listener"].append(pid)
            elif "redis-server" in cmd:
                roles["redis"].append(pid)
            elif "temporal" in cmd and "start-dev" in cmd:
                roles["temporal"].append(pid)
        return roles

    async def inject(
        self, kind: str, rng: random.Random, http: httpx.AsyncClient, sig: int = signal.SIGKILL, pid: int | None = None
    ) -> None:
        roles = self.processes()
        if not roles[kind]:
            return
        pid = pid or rng.choice(roles[kind])
        at = time.monotonic()
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        # a stopped process drains first (a rolling restart's SIGTERM): wait until it is gone
        while Path(f"/proc/{pid}").exists() and "Z" not in self.state_of(pid) and time.monotonic() - at < 120:
            await asyncio.sleep(0.2)
        # healed: a new process has the killed one's role and a probe turn is answered again
        healed = None
        while not self.stop and time.monotonic() - at < 180:
            if len(self.processes()[kind]) >= len(roles[kind]) and await self.probe(http):
                healed = time.monotonic() - at
                break
            await asyncio.sleep(0.5)
        self.faults.append({"kind": kind, "at": at, "healed_s": round(healed, 2) if healed else None})

    def api_processes(self) -> list[int]:
        """The API processes uvicorn's manager spawned (not the manager itself)."""
        return [pid for pid in self.processes()["api"] if "spawn_main" in self.cmdline(pid)]

    @staticmethod
    def state_of(pid: int) -> str:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return "gone"
        return stat[stat.rfind(")") + 2 :].split()[0]

    @staticmethod
    def cmdline(pid: int) -> str:
        try:
            return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            return ""

    async def probe(self, http: httpx.AsyncClient) -> bool:
        try:
            if self.probe_session is None:
                r = await http.post("/v1/sessions", json={"agent": "assistant"}, timeout=10)
                self.probe_session = r.json()["session_id"] if r.status_code == 201 else None
            if self.probe_session is None:
                return False
            r = await http.post(
                f"/v1/sessions/{self.probe_session}/messages?wait=20",
                json={"text": "what is 2 + 2?", "message_id": f"probe-{uuid.uuid4().hex[:8]}"},
                timeout=30,
            )
            return r.status_code == 200 and "4" in r.json().get("reply", "")
        except (httpx.HTTPError, ValueError, KeyError):
            return False

    # ------------------------------------------------------------------ a user
    async def user(self, http: httpx.AsyncClient, index: int, rng: random.Random, deadline: float) -> None:
        sid = None
        while sid is None and not self.stop:
            try:
                r = await http.post("/v1/sessions", json={"agent": "assistant"}, timeout=30)
                if r.status_code == 201:
                    sid = r.json()["session_id"]
            except httpx.HTTPError:
                await asyncio.sleep(1)
        n = 0
        while sid is not None and time.monotonic() < deadline and not self.stop:
            n += 1
            transfer = rng.random() < 0.1
            a, b = rng.randint(2, 999), rng.randint(2, 99)
            text = f"send 0.001 ETH to {RECIPIENT}" if transfer else f"what is {a} * {b}?"
            out = Outcome(sid, f"u{index}-m{n}", "transfer" if transfer else "calc", time.monotonic())
            self.outcomes.append(out)
            await self.until_answered(http, out, text, expect=None if transfer else str(a * b))

    async def until_answered(self, http: httpx.AsyncClient, out: Outcome, text: str, expect: str | None) -> None:
        body = {"text": text, "message_id": out.message_id}
        while not self.stop:
            out.tries += 1
            try:
                r = await http.post(f"/v1/sessions/{out.session}/messages?wait=30", json=body, timeout=60)
                reply = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
            except (httpx.RemoteProtocolError, httpx.ReadError) as e:
                # closed ("without sending a response") or reset (ReadError: the server closed a
                # connection holding a request it had not read, and the kernel answered RST)
                if isinstance(e, httpx.ReadError) or "without sending a response" in str(e):
                    out.disconnected += 1
                else:
                    out.errors += 1
                    out.error_kinds.append(type(e).__name__)
                continue
            except (httpx.HTTPError, ValueError) as e:
                out.errors += 1
                out.error_kinds.append(type(e).__name__)
                await asyncio.sleep(0.5)
                continue
            if r.status_code >= 500:
                out.errors += 1
                out.error_kinds.append(f"HTTP {r.status_code}")
            status = reply.get("status")
            if r.status_code == 200 and status == "awaiting_approval":
                await self.approve(http, out)
                continue
            if r.status_code == 200 and status in ("done", "failed"):
                out.ended, out.turn = time.monotonic(), reply.get("turn")
                if expect is not None and expect not in reply.get("reply", ""):
                    out.kind += ":wrong"
                return
            await asyncio.sleep(0.5)  # 202 pending, 429, 5xx while a part restarts: ask again

    async def approve(self, http: httpx.AsyncClient, out: Outcome) -> None:
        """The scripted human: approve this session's pending transfer (once)."""
        try:
            view = (await http.get(f"/v1/sessions/{out.session}", timeout=30)).json()
            for pending in view.get("pending_approvals", []):
                out.approved = True  # asked: a lost answer must not make a mined transfer look unapproved
                await http.post(
                    f"/v1/sessions/{out.session}/approvals/{pending['call_id']}",
                    json={"approve": True},
                    timeout=60,
                )
        except (httpx.HTTPError, ValueError, KeyError):
            await asyncio.sleep(0.5)

    # ------------------------------------------------------------------ automations
    async def set_up_automations(self, http: httpx.AsyncClient, every_seconds: int) -> None:
        """Schedules asking a question every ``every_seconds``, and a wallet alert on the depositor."""
        for i in range(SCHEDULES):
            body = {"prompt": f"what is {i + 6} * 7?", "every_seconds": every_seconds}
            self.schedules.append((await http.post("/v1/schedules", json=body, timeout=60)).json()["schedule_id"])
        body = {"kind": "wallet", "address": DEPOSITOR, "direction": "out"}
        assert (await http.post("/v1/alerts", json=body, timeout=60)).status_code in (200, 201)

    async def depositor(self, vault: str, every: float, deadline: float) -> None:
        """Deposits from outside (anvil is not one of the faults: the chain is the world's)."""
        async with httpx.AsyncClient(base_url=self.chain_rpc, timeout=30) as rpc:
            while time.monotonic() < deadline - every / 2 and not self.stop:
                await asyncio.sleep(every)
                tx = {"from": DEPOSITOR, "to": vault, "value": hex(DEPOSIT_WEI)}
                sent = await rpc.post(
                    "", json={"jsonrpc": "2.0", "id": 1, "method": "eth_sendTransaction", "params": [tx]}
                )
                self.deposits.append(sent.json()["result"])

    async def notifications(self, http: httpx.AsyncClient, temporal: str, within: float = 180) -> dict:
        """Expected vs delivered, once the schedules are paused, their last runs done and the
        listener caught up: a deposit and an alert notification per deposit, one per scheduled run."""
        for sid in self.schedules:
            for _ in range(30):
                try:
                    if (await http.post(f"/v1/schedules/{sid}/pause", timeout=30)).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(1)
        client = await Client.connect(temporal)
        runs_query = "WorkflowType='ScheduledTurnWorkflow'"
        seen: dict = {}
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            running = (await client.count_workflows(f"{runs_query} AND ExecutionStatus='Running'")).count
            runs = (await client.count_workflows(runs_query)).count
            try:
                notes = (await http.get("/v1/notifications", timeout=30)).json()
            except (httpx.HTTPError, ValueError):
                await asyncio.sleep(1)
                continue
            by_kind = Counter(n["kind"] for n in notes)
            deposit_txs = Counter(n["data"].get("tx_hash") for n in notes if n["kind"] == "deposit")
            alert_txs = Counter(n["data"].get("tx_hash") for n in notes if n["kind"] == "alert")
            fired = Counter(
                (n["data"].get("schedule_id"), n["data"].get("fired_at")) for n in notes if n["kind"] == "schedule"
            )
            expected = 2 * len(self.deposits) + runs
            delivered = by_kind["deposit"] + by_kind["alert"] + by_kind["schedule"]
            twice = sum(c - 1 for c in (*deposit_txs.values(), *alert_txs.values(), *fired.values()) if c > 1)
            missing = (
                sum(1 for tx in self.deposits if deposit_txs[tx] == 0)
                + sum(1 for tx in self.deposits if alert_txs[tx] == 0)
                + max(0, runs - len(fired))
            )
            seen = {
                "schedule_runs": runs,
                "schedule_notifications": by_kind["schedule"],
                "deposits_sent": len(self.deposits),
                "deposit_notifications": by_kind["deposit"],
                "alert_notifications": by_kind["alert"],
                "notifications_expected": expected,
                "notifications_delivered": delivered,
                "notifications_missing": missing,
                "notifications_twice": twice,
            }
            if running == 0 and missing == 0:
                break
            await asyncio.sleep(2)
        return seen

    # ------------------------------------------------------------------ the verdict
    async def transcripts(self, http: httpx.AsyncClient) -> dict[str, list[dict]]:
        out: dict[str, list[dict]] = {}
        for sid in {o.session for o in self.outcomes}:
            for _ in range(60):
                try:
                    r = await http.get(f"/v1/sessions/{sid}", timeout=30)
                    if r.status_code == 200:
                        out[sid] = r.json()["messages"]
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(1)
        return out


def recipient_balance(rpc: str) -> int:
    r = httpx.post(rpc, json={"jsonrpc": "2.0", "id": 1, "method": "eth_getBalance", "params": [RECIPIENT, "latest"]})
    return int(r.json()["result"], 16)


def percentile(xs: list[float], q: float) -> float | None:
    if not xs:
        return None
    xs = sorted(xs)
    return round(1000 * xs[min(len(xs) - 1, int(q * len(xs)))], 1)


def start_up(
    tmp: Path, workers: int, api_workers: int, extra_env: dict[str, str] | None = None
) -> tuple[subprocess.Popen, dict[str, int]]:
    ports = {"api": free_port(), "temporal": free_port(), "ui": free_port(), "chain": free_port()}
    cmd = [find_executable("impressox"), "up", "--data-dir", str(tmp / "data")]
    for name, port in ports.items():
        cmd += [f"--{name}-port", str(port)]
    cmd += ["--workers", str(workers), "--api-workers", str(api_workers)]
    # an unreachable Redis: `up` starts its own, which the injector may kill (and `up` restarts)
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMPRESSOX_")}
    env["IMPRESSOX_REDIS_URL"] = "redis://127.0.0.1:1/0"
    for limit in ("RATE_LIMIT", "RATE_LIMIT_MESSAGES", "RATE_LIMIT_SESSIONS"):  # the soak is one busy user
        env[f"IMPRESSOX_{limit}"] = "100000/minute"
    env.update(extra_env or {})
    log = (tmp / "up.log").open("w+")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + 240
    while time.time() < deadline:
        log.flush()
        log.seek(0)
        if "Ctrl-C stops everything" in log.read():
            return proc, ports
        if proc.poll() is not None:
            break
        time.sleep(0.5)
    log.seek(0)
    stop_process(proc, 30)
    raise RuntimeError(f"impressox up did not start: {log.read()[-2000:]}")


async def soak(
    seconds: float,
    sessions: int,
    fault_every: float,
    seed: int,
    workers: int = 2,
    api_workers: int = 2,
    rolling: bool = False,
    schedule_every: int = 30,
    deposit_every: float = 12,
) -> dict:
    """The soak (see the module's doc); ``rolling``: instead of random kills, SIGTERM every worker
    process and then every API process once, one after the other (a rolling restart)."""
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="impressox-soak-") as tmp_name:
        tmp = Path(tmp_name)
        proc, ports = start_up(tmp, workers, api_workers)
        api = f"http://127.0.0.1:{ports['api']}"
        chain = f"http://127.0.0.1:{ports['chain']}"
        state = Soak(api=api, up_pid=proc.pid, chain_rpc=chain)
        try:
            before = recipient_balance(chain)
            async with httpx.AsyncClient(base_url=api, timeout=60) as http:
                await state.set_up_automations(http, schedule_every)
                vault = (await http.get("/v1/vault", timeout=60)).json()["address"]
                deadline = time.monotonic() + seconds
                depositor = asyncio.create_task(state.depositor(vault, deposit_every, deadline))
                users = [
                    asyncio.create_task(state.user(http, i, random.Random(seed * 1000 + i), deadline))
                    for i in range(sessions)
                ]

                async def injector() -> None:
                    # every kind of fault once in a random order, then again: a short run covers them all
                    order: list[str] = []
                    while time.monotonic() < deadline - fault_every / 2:
                        await asyncio.sleep(rng.uniform(0.5, 1.5) * fault_every)
                        if not order:
                            order = rng.sample(FAULTS, len(FAULTS))
                        if time.monotonic() < deadline:
                            await state.inject(order.pop(), rng, http)

                async def rolling_restart() -> None:
                    await asyncio.sleep(fault_every)
                    for kind in ("worker", "api"):
                        # the API's: the processes uvicorn's manager spawned (it restarts each)
                        pids = state.processes()["worker"] if kind == "worker" else state.api_processes()
                        for pid in pids:
                            await state.inject(kind, rng, http, sig=signal.SIGTERM, pid=pid)

                faults = asyncio.create_task(rolling_restart() if rolling else injector())
                # the users finish the message they are on after the deadline (bounded: 5 minutes)
                _, late = await asyncio.wait(users, timeout=seconds + 300)
                state.stop = bool(late)
                for task in late:
                    task.cancel()
                await faults
                await depositor
                transcripts = await state.transcripts(http)
                notified = await state.notifications(http, f"127.0.0.1:{ports['temporal']}")
            await asyncio.sleep(2)  # the last receipt's block
            mined = (recipient_balance(chain) - before) // AMOUNT_WEI
            return verdict(state, transcripts, mined) | notified
        finally:
            stop_process(proc, 60)


def verdict(state: Soak, transcripts: dict[str, list[dict]], mined: int) -> dict:
    sent = state.outcomes
    answered = [o for o in sent if o.ended is not None]
    replies: dict[tuple[str, str], int] = {}
    for sid, messages in transcripts.items():
        for m in messages:
            if m.get("role") == "assistant" and m.get("message_id"):
                replies[(sid, m["message_id"])] = replies.get((sid, m["message_id"]), 0) + 1
    twice = [o for o in sent if replies.get((o.session, o.message_id), 0) > 1]
    # a message older than the transcript window is not in it: count those as answered by their reply
    lost = [o for o in sent if o.ended is None]
    wrong = [o for o in sent if o.kind.endswith(":wrong")]
    fault_times = [f["at"] for f in state.faults]

    def in_fault(o: Outcome) -> bool:
        return any(o.started <= t <= (o.ended or t) for t in fault_times)

    calcs = [(o, o.ended - o.started) for o in answered if o.ended is not None and o.kind.startswith("calc")]
    lat_in = [took for o, took in calcs if in_fault(o)]
    lat_out = [took for o, took in calcs if not in_fault(o)]
    approved = sum(1 for o in sent if o.kind.startswith("transfer") and o.approved)
    return {
        "messages_sent": len(sent),
        "answered_exactly_once": len(answered) - len(twice),
        "lost": len(lost),
        "answered_twice": len(twice),
        "wrong_answers": len(wrong),
        "retries": sum(o.tries - 1 for o in sent),
        "failed_requests": sum(o.errors for o in sent),
        "failed_request_kinds": dict(Counter(k for o in sent for k in o.error_kinds)),
        "disconnected_before_response": sum(o.disconnected for o in sent),
        "transfers_requested": sum(1 for o in sent if o.kind.startswith("transfer")),
        "transfers_approved": approved,
        "transfers_mined": mined,
        "unapproved_transfers": max(0, mined - approved),
        "turn_ms_p50_outside_faults": percentile(lat_out, 0.5),
        "turn_ms_p99_outside_faults": percentile(lat_out, 0.99),
        "turn_ms_p50_in_faults": percentile(lat_in, 0.5),
        "turn_ms_p99_in_faults": percentile(lat_in, 0.99),
        "faults": len(state.faults),
        "faults_by_kind": {k: sum(1 for f in state.faults if f["kind"] == k) for k in FAULTS},
        "heal_seconds": [f["healed_s"] for f in state.faults],
        "unhealed_faults": sum(1 for f in state.faults if f["healed_s"] is None),
        "unhealed_kinds": sorted({f["kind"] for f in state.faults if f["healed_s"] is None}),
        "heal_seconds_by_kind_max": {
            k: max((f["healed_s"] or 0 for f in state.faults if f["kind"] == k), default=None) for k in FAULTS
        },
        "median_heal_seconds": statistics.median([f["healed_s"] for f in state.faults if f["healed_s"]] or [0]),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=600)
    p.add_argument("--sessions", type=int, default=8)
    p.add_argument("--fault-every", type=float, default=15, help="mean seconds between injected faults")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--rolling", action="store_true", help="a rolling restart (SIGTERM each process) instead")
    args = p.parse_args()
    result = soak(args.seconds, args.sessions, args.fault_every, args.seed, rolling=args.rolling)
    print(json.dumps(asyncio.run(result), indent=2))


if __name__ == "__main__":
    main()
