"""Over HTTP: each framework served by gunicorn on loopback, driven by ``wrk`` in short bounded runs.

Usage::

    python benchmarks/http.py                    # sync and gthread; exits 1 when a goal is missed
    python benchmarks/http.py --write            # ... and records the tables
    python benchmarks/http.py --smoke            # handlerkit and raw, endpoint A, about 1 s of wrk

Needs ``wrk`` (``apt-get install wrk``). Every framework gets its own gunicorn
(one worker; ``sync``, then ``gthread`` with 4 threads), all started before
measuring. In each round, an endpoint's frameworks run back to back in a
shuffled order; each (framework, endpoint) run lasts ``--duration`` seconds.
The tables show medians over rounds, and every ratio is the median of the
per-round ratios. With two or more CPUs, gunicorn runs on the last one and
wrk on the others (``taskset``; ``--pin off`` turns it off). Servers are
stopped by PID.

This file is ``benchmarks/http.py``; it removes its own folder from
``sys.path`` first so the standard library's ``http`` is not shadowed.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402

from benchmarks.apps import FRAMEWORKS, endpoints  # noqa: E402
from benchmarks.common import (  # noqa: E402
    ROOT,
    fmt,
    machine,
    median,
    table,
    verdict,
    write_results,
    write_summary,
)
from benchmarks.workload import DESCRIPTIONS, ENDPOINTS, EXPECTED, http_request  # noqa: E402

#: Goals from issue 7 (sync worker): at least this share of raw WSGI's req/s on A, B, C.
RAW_SHARE = 0.90


#: Port -> the gunicorn master serving it (its one worker is what run_wrk watches).
MASTERS: dict[int, subprocess.Popen[bytes]] = {}

#: CPU sets for ``--pin``: the servers on one CPU, wrk on the others (empty: not pinned).
PINNING: dict[str, str] = {}


def pin_plan() -> dict[str, str]:
    """Return ``{"server": cpus, "client": cpus}`` splitting this process's CPUs, or ``{}``.

    With at least two CPUs and ``taskset`` available, the gunicorn masters (and
    so their workers) get the last CPU and wrk the others: the server never
    shares a core with the load generator or migrates between cores mid-run.
    """
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(cpus) < 2 or shutil.which("taskset") is None:
        return {}
    return {"server": str(cpus[-1]), "client": ",".join(str(c) for c in cpus[:-1])}


def pinned(command: list[str], role: str) -> list[str]:
    """Prefix *command* with ``taskset`` for *role* ("server" or "client") when pinning is on."""
    cpus = PINNING.get(role)
    return ["taskset", "-c", cpus, *command] if cpus else command


def free_port() -> int:
    """Return a loopback port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop *proc* by PID: SIGTERM, then SIGKILL after 10 s."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(5)


@contextlib.contextmanager
def servers(
    names: list[str], worker_class: str, log_dir: Path, extra_routes: int | None = None
) -> Iterator[dict[str, int]]:
    """Start one gunicorn per framework; yield ``{name: port}``; stop them all by PID."""
    procs: dict[str, subprocess.Popen[bytes]] = {}
    ports: dict[str, int] = {}
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    try:
        for name in names:
            port = free_port()
            command = [
                sys.executable,
                "-m",
                "gunicorn",
                f"benchmarks.apps:create({name!r}, {extra_routes!r})",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "1",
                "--worker-class",
                worker_class,
                "--threads",
                "4" if worker_class == "gthread" else "1",
                "--timeout",
                "60",
                "--graceful-timeout",
                "5",
                "--log-level",
                "warning",
            ]
            log = open(log_dir / f"{name}-{worker_class}.log", "wb")  # noqa: SIM115 - closed with the process
            procs[name] = MASTERS[port] = subprocess.Popen(
                pinned(command, "server"), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
            )
            ports[name] = port
        for name, port in ports.items():
            wait_ready(name, port, procs[name], log_dir / f"{name}-{worker_class}.log")
        yield ports
    finally:
        for proc in procs.values():
            stop(proc)


def wait_ready(
    name: str,
    port: int,
    proc: subprocess.Popen[bytes],
    log: Path,
    timeout: float = 90,
    path: str = "/hello",
) -> None:
    """Block until the server answers *path* (A's by default) with 200, or fail with its log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(
                f"{name}: gunicorn exited {proc.returncode}:\n{log.read_text()[-3000:]}"
            )
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as response:
                if response.status == 200:
                    return
        time.sleep(0.2)
    raise SystemExit(f"{name}: not ready within {timeout} s:\n{log.read_text()[-3000:]}")


def check(name: str, port: int, endpoint: str) -> None:
    """Fail unless the server answers *endpoint* with the expected status and JSON."""
    method, target, headers, body = http_request(endpoint)
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{target}", data=body or None, method=method, headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            status, data = response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        status, data = exc.code, exc.read()
    if (status, data) != EXPECTED[endpoint]:
        raise SystemExit(
            f"{name} {endpoint} over HTTP: {status} {data!r}, expected {EXPECTED[endpoint]}"
        )


def lua_script(endpoint: str, directory: Path) -> Path:
    """Write the wrk script that sends *endpoint*'s request."""
    method, target, headers, body = http_request(endpoint)
    lines = [f"wrk.method = {json.dumps(method)}", f"wrk.path = {json.dumps(target)}"]
    for key, value in headers.items():
        lines.append(f"wrk.headers[{json.dumps(key)}] = {json.dumps(value)}")
    if body:
        lines.append(f"wrk.body = {json.dumps(body.decode())}")
    path = directory / f"{endpoint}.lua"
    path.write_text("\n".join(lines) + "\n")
    return path


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if match is None:
        raise ValueError(text)
    return float(match.group(1)) * _UNITS[match.group(2)]


def worker_pid(master: int, timeout: float = 30) -> int:
    """Return the PID of the (single) worker forked by gunicorn master *master*."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
            if children:
                return int(children[0])
        time.sleep(0.1)
    raise SystemExit(f"gunicorn {master} has no worker after {timeout} s")


def cpu_seconds(pid: int) -> tuple[float, float]:
    """Return the user and the system CPU seconds process *pid* (all its threads) has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def run_wrk(
    port: int, script: Path, duration: float, connections: int, worker: int | None = None
) -> dict[str, float]:
    """Run wrk once; return req/s, p50 and p99 in ms, errors, and the worker's CPU µs per request.

    ``cpu_us`` is the worker process's own CPU time (``/proc/PID/stat``,
    user + system, every thread) divided by the requests wrk completed: what
    one request costs the server, which other tenants of the machine do not
    inflate the way they inflate wall-clock req/s. ``user_us`` is its user
    part, the framework's and gunicorn's Python; the system part is the
    kernel's TCP work, the same for every framework.
    """
    user_before, system_before = cpu_seconds(worker) if worker else (0.0, 0.0)
    command = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(duration))}s",
        "--latency",
        "--timeout",
        "5s",
        "-s",
        str(script),
        f"http://127.0.0.1:{port}",
    ]
    output = subprocess.run(
        pinned(command, "client"), capture_output=True, text=True, timeout=duration + 30, check=True
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    errors = 0.0
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    if non2xx:
        errors += float(non2xx.group(1))
    result = {"rps": rps, "p50": p50, "p99": p99, "errors": errors}
    if worker:
        time.sleep(0.05)  # let the worker finish the last in-flight requests
        done = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
        user, system = cpu_seconds(worker)
        result["user_us"] = (user - user_before) * 1e6 / max(done, 1)
        result["cpu_us"] = result["user_us"] + (system - system_before) * 1e6 / max(done, 1)
    return result


Results = dict[tuple[str, str], dict[str, float]]
Rounds = list[dict[tuple[str, str], dict[str, float]]]


def measure(
    names: list[str],
    eps: list[str],
    worker_class: str,
    rounds: int,
    duration: float,
    workdir: Path,
    extra_routes: int | None = None,
) -> tuple[Results, Rounds]:
    """Serve, check and drive every (framework, endpoint) pair.

    Returns the medians per pair and every round's own results. Within a
    round, each endpoint's frameworks run back to back (endpoints and
    frameworks in a shuffled order), so the ratios of one round compare runs
    seconds apart; the goals use the median of those per-round ratios.
    """
    served = {name: [e for e in eps if e in endpoints(name)] for name in names}
    scripts = {e: lua_script(e, workdir) for e in eps}
    connections = 8 if worker_class == "gthread" else 2
    per_round: Rounds = []
    with servers(names, worker_class, workdir, extra_routes) as ports:
        for name in names:
            for endpoint in served[name]:
                check(name, ports[name], endpoint)
                run_wrk(ports[name], scripts[endpoint], 1, connections)  # warm-up
        workers = {name: worker_pid(MASTERS[ports[name]].pid) for name in names}
        shuffle = random.Random(5).shuffle
        for _ in range(rounds):
            results: dict[tuple[str, str], dict[str, float]] = {}
            order = list(eps)
            shuffle(order)
            for endpoint in order:
                players = [name for name in names if endpoint in served[name]]
                shuffle(players)
                for name in players:
                    results[name, endpoint] = run_wrk(
                        ports[name], scripts[endpoint], duration, connections, workers[name]
                    )
            per_round.append(results)
    medians = {
        pair: {
            key: median([r[pair][key] for r in per_round])
            for key in ("rps", "p50", "p99", "errors", "cpu_us", "user_us")
        }
        for pair in per_round[0]
    }
    return medians, per_round


def paired_ratio(
    per_round: Rounds, mine: tuple[str, str], other: tuple[str, str], metric: str
) -> float:
    """Return the median over rounds of capacity(*mine*) / capacity(*other*), each round's own runs."""
    return median(
        [capacity(r[mine], metric) / capacity(r[other], metric) for r in per_round]
    )


#: --metric -> (the result key, what it is); "wall" is wrk's req/s.
METRICS = {
    "user": ("user_us", "worker user CPU µs/request"),
    "cpu": ("cpu_us", "worker CPU µs/request"),
    "wall": ("rps", "req/s"),
}


def capacity(result: dict[str, float], metric: str) -> float:
    """Return requests per second by *metric*: wrk's measured req/s, or 1 / the worker's CPU per request."""
    if metric != "wall":
        return 1e6 / result[METRICS[metric][0]]
    return result["rps"]


def sync_goals(
    present: Callable[[str, str], bool],
    lead: Callable[[str, str], float],
    figures: Callable[[str, str, float], str],
    digits: int = 2,
) -> tuple[list[list[str]], list[str]]:
    """Judge issue 7's HTTP goals (sync worker): A, B, C ≥ RAW_SHARE× raw WSGI and ahead of Falcon and Bottle.

    Args:
        present: ``present(framework, endpoint)``: whether that pair was measured.
        lead: ``lead(endpoint, other)``: handlerkit's capacity over *other*'s.
        figures: ``figures(endpoint, other, lead)``: the goal row's figures column.
        digits: Decimals of the ratio in a missed goal's line.

    Returns:
        The goal rows (goal, figures, verdict) and one line per missed goal.
    """
    rows: list[list[str]] = []
    missed: list[str] = []
    for e in ("A", "B", "C"):
        if not present("handlerkit", e):
            continue
        for other in ("raw", "falcon", "bottle"):
            if not present(other, e):
                continue
            value = lead(e, other)
            if other == "raw":
                ok = value >= RAW_SHARE
                goal, miss = f"sync {e}: ≥ {RAW_SHARE:.2f}× raw WSGI", f"sync {e}: {value:.{digits}f}× raw"
            else:
                ok = value > 1
                goal, miss = f"sync {e}: ahead of {other}", f"sync {e}: behind {other}"
            rows.append([goal, figures(e, other, value), verdict(ok)])
            if not ok:
                missed.append(miss)
    return rows, missed


def report(
    worker_class: str,
    results: Results,
    names: list[str],
    metric: str = "user",
    per_round: Rounds | None = None,
) -> tuple[str, list[list[str]], list[str]]:
    """Return the Markdown tables, goal rows and missed goals for one worker class.

    Ratios and goals use *metric*: ``user`` (default) compares the user CPU
    time one request costs the gunicorn worker, ``cpu`` its user + system
    time (1 / cost is the req/s one busy worker sustains), ``wall`` wrk's
    measured req/s. Each ratio is the
    median of the per-round ratios (*per_round*; without it, the ratio of the
    medians).
    """
    rounds = per_round or [results]

    def ratio(mine: tuple[str, str], other: tuple[str, str]) -> float:
        return paired_ratio(rounds, mine, other, metric)

    eps = [e for e in ENDPOINTS if any((n, e) in results for n in names)]
    rows = []
    for e in eps:
        for n in names:
            if (n, e) not in results:
                continue
            r = results[n, e]
            has_raw = ("raw", e) in results
            has_hk = ("handlerkit", e) in results
            rows.append(
                [
                    f"{e}: {DESCRIPTIONS[e]}" if n == names[0] else e,
                    n,
                    fmt(r["rps"], 0),
                    fmt(r["p50"], 2),
                    fmt(r["p99"], 2),
                    fmt(r["user_us"], 0),
                    fmt(r["cpu_us"], 0),
                    fmt(ratio((n, e), ("raw", e)), 2) + "×" if has_raw else "-",
                    fmt(ratio(("handlerkit", e), (n, e)), 2) + "×" if has_hk else "-",
                    fmt(r["errors"], 0),
                ]
            )
    goal_rows: list[list[str]] = []
    missed: list[str] = []
    key, unit = METRICS[metric]

    def figure(result: dict[str, float]) -> str:
        return fmt(result[key], 0)

    if worker_class == "sync":

        def figures(e: str, other: str, value: float) -> str:
            hk, theirs = figure(results["handlerkit", e]), figure(results[other, e])
            pair = f"raw {theirs}, handlerkit {hk}" if other == "raw" else f"handlerkit {hk}, {other} {theirs}"
            return f"{pair} {unit}; per round: {fmt(value, 2)}×"

        goal_rows, missed = sync_goals(
            lambda name, e: (name, e) in results,
            lambda e, other: ratio(("handlerkit", e), (other, e)),
            figures,
        )
    round_rows = [
        [
            f"{e}: handlerkit ÷ {other}",
            " ".join(
                fmt(capacity(r["handlerkit", e], metric) / capacity(r[other, e], metric), 2)
                for r in rounds
            ),
            fmt(ratio(("handlerkit", e), (other, e)), 2) + "×",
        ]
        for e in eps
        for other in names
        if other != "handlerkit" and ("handlerkit", e) in results and (other, e) in results
    ]
    text = (
        f"### gunicorn `{worker_class}`, 1 worker\n\n"
        + table(
            [
                "endpoint",
                "framework",
                "req/s (wrk)",
                "p50 ms",
                "p99 ms",
                "worker user µs/req",
                "worker CPU µs/req",
                "÷ raw",
                "hk ÷ this",
                "non-2xx",
            ],
            rows,
        )
        + "\n"
        + (
            f"\nEvery round's ratio ({unit}; above 1: handlerkit ahead):\n\n"
            + table(["comparison", "round by round", "median"], round_rows)
            + "\n"
            if round_rows and len(rounds) > 1
            else ""
        )
    )
    return text, goal_rows, missed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=2.0, help="seconds per wrk run")
    parser.add_argument("--workers", default="sync,gthread", help="worker classes to run")
    parser.add_argument("--frameworks", default=",".join(FRAMEWORKS))
    parser.add_argument("--endpoints", default="A,B,C,D,E")
    parser.add_argument(
        "--metric",
        choices=tuple(METRICS),
        default="user",
        help="ratios and goals from the worker's user CPU µs per request (default), its user +"
        " system CPU, or wrk's req/s",
    )
    parser.add_argument(
        "--pin",
        choices=("auto", "off"),
        default="auto",
        help="auto (default): gunicorn on the last CPU, wrk on the others (taskset, 2+ CPUs)",
    )
    parser.add_argument("--smoke", action="store_true", help="handlerkit and raw, A, sync, 1 s")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("http.py needs wrk: apt-get install wrk", file=sys.stderr)
        return 2
    if args.smoke:
        names, eps, workers, rounds, duration = ["handlerkit", "raw"], ["A"], ["sync"], 1, 1.0
    else:
        names = [n for n in args.frameworks.split(",") if n]
        eps = [e for e in args.endpoints.split(",") if e]
        workers = [w for w in args.workers.split(",") if w]
        rounds, duration = args.rounds, args.duration
    PINNING.clear()
    if args.pin == "auto":
        PINNING.update(pin_plan())
    pinning = (
        f"gunicorn pinned to CPU {PINNING['server']}, wrk to CPU {PINNING['client']} (taskset)"
        if PINNING
        else "not pinned"
    )
    sections, goal_rows, missed = [], [], []
    with tempfile.TemporaryDirectory(prefix="handlerkit-http-") as tmp:
        for worker_class in workers:
            results, per_round = measure(
                names, eps, worker_class, rounds, duration, Path(tmp), 20 if args.smoke else None
            )
            text, goals, miss = report(worker_class, results, names, args.metric, per_round)
            sections.append(text)
            goal_rows += goals
            missed += miss
    goals_table = (
        table(["goal", "figures", "result"], goal_rows) if goal_rows else "(no goals in this mode)"
    )
    text = (
        f"## Over HTTP (`python benchmarks/http.py`)\n\n{machine()}; wrk 1 thread, "
        f"{rounds} rounds × {duration:g} s per pair, medians; sync: 2 connections, gthread: 8;\n"
        f"{pinning}. In each round an endpoint's frameworks run back to back, in a shuffled\n"
        "order; every ratio is the median of the per-round ratios.\n"
        + {
            "user": "Ratios and goals use the gunicorn worker's own user CPU time per request (from\n"
            "/proc, every thread): the framework's and gunicorn's Python. The system part, the\n"
            "kernel's work for a new TCP connection per request, is the same for every framework\n"
            "and is where most of the run-to-run noise is; the worker CPU column includes it.\n",
            "cpu": "Ratios and goals use the gunicorn worker's own CPU time per request (user + system\n"
            "from /proc, every thread; 1 / that is the req/s one saturated worker sustains).\n",
            "wall": "Ratios and goals use wrk's req/s.\n",
        }[args.metric]
        + "÷ raw: this framework's capacity over raw WSGI's; hk ÷ this: handlerkit's over this one's.\n\n"
        + "\n".join(sections)
        + "\n### Goals\n\n"
        + goals_table
        + "\n"
    )
    print(text)
    if args.write and not args.smoke:
        path = write_results("http", text)
        write_summary("http", "**Over HTTP** (gunicorn sync, 1 worker, wrk)\n\n" + goals_table)
        print(f"written to {path}")
    if missed and not args.smoke:
        print("GOALS MISSED: " + "; ".join(missed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
