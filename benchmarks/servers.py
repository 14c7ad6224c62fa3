"""The server layer: the same handlerkit app under ``handlerkit serve``'s gunicorn worker and under granian.

Usage::

    python benchmarks/servers.py            # prints the table and the decision
    python benchmarks/servers.py --write    # ... and records it in benchmarks/results/

Needs ``wrk`` and the ``bench`` extra's ``granian``. Both servers run one worker
process with 4 threads (gunicorn: ``handlerkit.workers.ThreadWorker``, as
``handlerkit serve --workers 1`` runs it; granian: ``--interface wsgi
--blocking-threads 4``), pinned to the same one CPU (equal CPU), keep-alive on,
and wrk drives them from the other CPUs with 8 connections. Each round runs
every endpoint's two servers back to back in a shuffled order; the table shows
medians over rounds, and the ratio is the median of per-round ratios. CPU µs
per request are the whole server process tree's user+system time over the
requests completed.

The decision rule is issue 18's: granian becomes ``handlerkit serve --server
granian`` only if it serves at least 1.5x the requests per second of
``handlerkit serve`` on endpoint A at equal CPU, *and* keeps what ``handlerkit
serve`` guarantees. So the script also checks, against both servers (each
with the /echo route of tests/serving): every refusal class of
tests/support/slow_clients.py answered with its status in the JSON error
shape, and the slow-client goal (200 slowloris and 50 slow-body connections
open, at least 95 % of another client's requests answered within 1 s).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse  # noqa: E402
import contextlib  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Iterator  # noqa: E402

from benchmarks import http as bench_http  # noqa: E402
from benchmarks.common import ROOT, fmt, machine, median, table, write_results  # noqa: E402
from benchmarks.workload import DESCRIPTIONS  # noqa: E402
from tests.support.slow_clients import REFUSAL_CASES, Attack, exchange, probe  # noqa: E402

ENDPOINTS = ("A", "B", "C", "E")
SERVERS = ("handlerkit serve", "granian")
#: granian must reach this multiple of handlerkit serve's req/s on A to be offered.
GOAL = 1.5


#: What both servers serve: the benchmark's app, and for the checks tests/serving's /echo app.
THROUGHPUT = "benchmarks.apps.handlerkit_app:create"
CHECKS = "benchmarks.servers:echo_app"
ECHO = {"echo/route.py": "def POST(request):\n    return {'n': len(request.bytes())}\n\ndef GET():\n    return {'ok': True}\n"}


def echo_app() -> object:
    """A handlerkit App with only the ``/echo`` route the serving tests use."""
    from handlerkit import create_app
    from handlerkit.testing import write_app

    return create_app(write_app(Path(tempfile.mkdtemp(prefix="hk-echo-")) / "app", ECHO))


def command(server: str, port: int, factory: str) -> list[str]:
    """The command line that serves *factory*'s app with *server* on *port*."""
    if server == "granian":
        return [
            sys.executable, "-m", "granian", "--interface", "wsgi", "--factory",
            "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
            "--blocking-threads", "4", "--no-log", factory,
        ]
    return [
        sys.executable, "-m", "gunicorn", factory + "()",
        "--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "4",
        "--worker-class", "handlerkit.workers.ThreadWorker", "--log-level", "warning",
    ]


def tree_cpu(pid: int) -> float:
    """User + system CPU seconds of *pid* and every process under it."""
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        with contextlib.suppress(OSError):
            user, system = bench_http.cpu_seconds(current)
            total += user + system
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(c) for c in (task / "children").read_text().split()]
    return total


@contextlib.contextmanager
def running(log_dir: Path, factory: str = THROUGHPUT) -> Iterator[dict[str, tuple[int, subprocess.Popen[bytes]]]]:
    """Start both servers on the server CPU; yield ``{server: (port, process)}``; stop them by PID."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    started: dict[str, tuple[int, subprocess.Popen[bytes]]] = {}
    try:
        for server in SERVERS:
            port = bench_http.free_port()
            log = open(log_dir / f"{server.replace(' ', '-')}.log", "wb")  # noqa: SIM115
            proc = subprocess.Popen(
                bench_http.pinned(command(server, port, factory), "server"),
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            )
            started[server] = (port, proc)
        for server, (port, proc) in started.items():
            ready = "/hello" if factory == THROUGHPUT else "/echo"
            bench_http.wait_ready(server, port, proc, log_dir / f"{server.replace(' ', '-')}.log", path=ready)
        yield started
    finally:
        for _, proc in started.values():
            bench_http.stop(proc)


def measure(rounds: int, duration: float, workdir: Path) -> list[dict[tuple[str, str], dict[str, float]]]:
    scripts = {e: bench_http.lua_script(e, workdir) for e in ENDPOINTS}
    per_round = []
    with running(workdir) as started:
        for server, (port, _) in started.items():
            for endpoint in ENDPOINTS:
                bench_http.check(server, port, endpoint)
                bench_http.run_wrk(port, scripts[endpoint], 1, 8)  # warm-up
        shuffle = random.Random(18).shuffle
        for _ in range(rounds):
            results: dict[tuple[str, str], dict[str, float]] = {}
            order = list(ENDPOINTS)
            shuffle(order)
            for endpoint in order:
                players = list(SERVERS)
                shuffle(players)
                for server in players:
                    port, proc = started[server]
                    before = tree_cpu(proc.pid)
                    result = bench_http.run_wrk(port, scripts[endpoint], duration, 8)
                    done = result["rps"] * max(1, round(duration))
                    result["cpu_us"] = (tree_cpu(proc.pid) - before) * 1e6 / max(done, 1)
                    results[server, endpoint] = result
            per_round.append(results)
    return per_round


def conditions(workdir: Path, probing: float = 6.0) -> dict[str, dict[str, str]]:
    """What each server answers to the refusal cases, and its share of requests answered under attack."""
    found: dict[str, dict[str, str]] = {}
    with running(workdir, CHECKS) as started:
        for server, (port, _) in started.items():
            answers = {}
            for case, (raw, status) in REFUSAL_CASES.items():
                try:
                    got, headers, body = exchange(port, raw, timeout=5)
                except OSError:
                    got, headers, body = 0, {}, b""
                shape = "JSON" if headers.get("content-type") == "application/json" and body.startswith(b'{"error"') else (
                    "empty" if not body else "other")
                answers[case] = f"{got or 'no answer'} {shape}" + ("" if got == status and shape == "JSON" else f" (want {status} JSON)")
            with Attack(port, loris=200, slow_body=50):
                time.sleep(2)
                results = []
                until = time.monotonic() + probing
                while time.monotonic() < until:
                    results.append(probe(port))
                    time.sleep(0.05)
            answers["slow clients: answered within 1 s"] = f"{sum(results)}/{len(results)} ({sum(results) / len(results):.0%})"
            found[server] = answers
    return found


def conditions_table(found: dict[str, dict[str, str]]) -> tuple[str, bool]:
    """The conditions as a table, and whether granian meets all of them."""
    cases = list(found[SERVERS[0]])
    rows = [[case, *(found[server][case] for server in SERVERS)] for case in cases]
    ok = all("want" not in found["granian"][case] for case in REFUSAL_CASES)
    answered = found["granian"]["slow clients: answered within 1 s"]
    ok = ok and int(answered.split("/")[0]) >= 0.95 * int(answered.split("/")[1].split()[0])
    return table(["request", *SERVERS], rows), ok


def report(per_round: list[dict[tuple[str, str], dict[str, float]]]) -> tuple[str, float]:
    rows = []
    ratio_a = 0.0
    for endpoint in ENDPOINTS:
        mine, other = ("handlerkit serve", endpoint), ("granian", endpoint)
        ratio = median([r[other]["rps"] / r[mine]["rps"] for r in per_round])
        cpu_ratio = median([r[mine]["cpu_us"] / r[other]["cpu_us"] for r in per_round])
        if endpoint == "A":
            ratio_a = ratio
        for server in SERVERS:
            values = [r[server, endpoint] for r in per_round]
            rows.append([
                f"{endpoint}: {DESCRIPTIONS[endpoint]}" if server == SERVERS[0] else "",
                server,
                fmt(median([v["rps"] for v in values]), 0),
                fmt(median([v["p50"] for v in values]), 2),
                fmt(median([v["p99"] for v in values]), 2),
                fmt(median([v["cpu_us"] for v in values]), 0),
                fmt(ratio, 2) + "x" if server == "granian" else "",
                fmt(cpu_ratio, 2) + "x" if server == "granian" else "",
            ])
    text = table(
        ["endpoint", "server", "req/s", "p50 ms", "p99 ms", "CPU µs/req",
         "granian req/s ÷ serve", "serve CPU ÷ granian"],
        rows,
    )
    return text + "\n", ratio_a


def decision(ratio_a: float, safe: bool) -> str:
    """The issue's rule applied to the figures."""
    faster = ratio_a >= GOAL
    if faster and safe:
        verdict = "offer it as `handlerkit serve --server granian`."
    elif faster:
        verdict = ("not offered, because keeping the JSON refusals and the slow-client goal is a"
                   " condition of offering it.")
    else:
        verdict = "not offered: below the goal."
    return (
        f"granian serves {ratio_a:.2f}x the requests per second of `handlerkit serve` on A at "
        f"equal CPU (goal for offering it: {GOAL}x); it "
        + ("meets" if safe else "does not meet")
        + " the refusal and slow-client conditions above. So it is " + verdict + "\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--write", action="store_true", help="record the table in benchmarks/results/")
    parser.add_argument("--pin", choices=("on", "off"), default="on")
    parser.add_argument("--smoke", action="store_true", help="one round of 1 s, short attack")
    args = parser.parse_args(argv)
    if args.smoke:
        args.rounds, args.duration = 1, 1.0
    if shutil.which("wrk") is None:
        raise SystemExit("needs wrk: apt-get install wrk")
    if args.pin == "on":
        bench_http.PINNING.update(bench_http.pin_plan())
    with tempfile.TemporaryDirectory() as tmp:
        per_round = measure(args.rounds, args.duration, Path(tmp))
        checks, safe = conditions_table(conditions(Path(tmp), probing=2.0 if args.smoke else 6.0))
    text, ratio_a = report(per_round)
    text += "\nWhat each server answers (the conditions of offering granian):\n\n" + checks + "\n\n" + decision(ratio_a, safe)
    heading = (
        f"{machine()}; one worker process, 4 threads each, both on CPU "
        f"{bench_http.PINNING.get('server', 'any')}; wrk -t1 -c8 from the others; "
        f"{args.rounds} rounds of {args.duration:g} s.\n\n"
    )
    print(heading + text)
    if args.write:
        path = write_results("servers", "## The server layer: handlerkit serve and granian\n\n" + heading + text)
        print(f"written to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
