"""Over HTTP, counted: the instructions one request costs a gunicorn sync worker, per framework (callgrind).

Usage::

    python benchmarks/http_instructions.py            # A, B, C; exits 1 when a goal is missed
    python benchmarks/http_instructions.py --write    # ... and records the tables
    python benchmarks/http_instructions.py --smoke    # handlerkit and raw, A, a few requests

Needs ``valgrind`` (``apt-get install valgrind``). Each framework's gunicorn
(one sync worker, the same app as ``http.py``) runs under ``valgrind
--tool=callgrind``. For every endpoint and round, the worker's counters are
zeroed (``callgrind_control -z``), ``--requests`` requests are sent one after
another on fresh connections (the sync worker closes each one), and the
counters are dumped (``callgrind_control -d``): the user-space instructions
the worker executed, gunicorn's and the framework's, divided by the requests.

Why: ``http.py`` measures time, and on this shared machine one request's
worker CPU time moves by 10-25 % between identical runs, while the
frameworks differ by a few percent of gunicorn's own cost. Instruction counts
do not depend on the neighbours; they leave out the kernel's TCP work (the
same for every framework) and cache effects. Servers are stopped by PID.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse  # noqa: E402
import concurrent.futures  # noqa: E402
import http.client  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

from benchmarks.apps import endpoints  # noqa: E402
from benchmarks.common import (  # noqa: E402
    ROOT,
    fmt,
    machine,
    median,
    table,
    write_results,
    write_summary,
)
from benchmarks.http import check, free_port, stop, sync_goals, wait_ready, worker_pid  # noqa: E402
from benchmarks.workload import DESCRIPTIONS, http_request  # noqa: E402

#: One framework's figures: endpoint -> instructions per request, one per round.
Counts = dict[str, list[float]]


def send(port: int, endpoint: str, count: int) -> None:
    """Send *endpoint*'s request *count* times, one connection each, and check every status."""
    method, target, headers, body = http_request(endpoint)
    for _ in range(count):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        try:
            connection.request(method, target, body=body or None, headers=headers)
            response = connection.getresponse()
            response.read()
        finally:
            connection.close()
        if response.status >= 300:
            raise SystemExit(f"port {port} {endpoint}: status {response.status}")


def dump_total(worker: int, out_dir: Path, timeout: float = 120) -> int:
    """Ask callgrind in *worker* to dump its counters; return the dump's total instructions."""
    before = set(out_dir.glob(f"callgrind.{worker}.*"))  # dumps: callgrind.PID.1, .2 ...
    subprocess.run(["callgrind_control", "-d", str(worker)], capture_output=True, check=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        new = [p for p in set(out_dir.glob(f"callgrind.{worker}.*")) - before if p.stat().st_size]
        for path in sorted(new, key=lambda p: p.stat().st_mtime, reverse=True):
            found = re.search(r"^(?:totals|summary):\s+(\d+)", path.read_text(), re.M)
            if found:
                return int(found.group(1))
        time.sleep(0.2)
    raise SystemExit(f"callgrind in {worker} wrote no dump within {timeout} s")


def count(
    name: str, eps: list[str], rounds: int, requests: int, workdir: Path, extra_routes: int | None
) -> Counts:
    """Serve *name* under callgrind; return instructions per request for each endpoint and round."""
    port = free_port()
    out_dir = workdir / name
    out_dir.mkdir()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    command = [
        "valgrind",
        "--tool=callgrind",
        "--trace-children=yes",
        f"--callgrind-out-file={out_dir}/callgrind.%p",
        sys.executable,
        "-m",
        "gunicorn",
        f"benchmarks.apps:create({name!r}, {extra_routes!r})",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "1",
        "--timeout",
        "600",
        "--log-level",
        "warning",
    ]
    log_path = workdir / f"{name}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_ready(name, port, proc, log_path, timeout=600)
        worker = worker_pid(proc.pid, timeout=60)
        counts: Counts = {}
        for endpoint in eps:
            check(name, port, endpoint)
            for _ in range(rounds):
                send(port, endpoint, max(5, requests // 10))  # warm: caches, lazy imports
                subprocess.run(
                    ["callgrind_control", "-z", str(worker)], capture_output=True, check=True
                )
                send(port, endpoint, requests)
                counts.setdefault(endpoint, []).append(dump_total(worker, out_dir) / requests)
        return counts
    finally:
        stop(proc)


def report(results: dict[str, Counts], names: list[str]) -> tuple[str, list[list[str]], list[str]]:
    """Return the tables, the goal rows and the missed goals."""
    eps = [e for e in ("A", "B", "C", "D", "E") if any(e in results[n] for n in names)]
    per_request = {(n, e): median(results[n][e]) for n in names for e in eps if e in results[n]}
    rows = []
    for e in eps:
        for n in names:
            if (n, e) not in per_request:
                continue
            raw, hk = per_request.get(("raw", e)), per_request.get(("handlerkit", e))
            mine = per_request[n, e]
            rows.append(
                [
                    f"{e}: {DESCRIPTIONS[e]}" if n == names[0] else e,
                    n,
                    f"{mine / 1000:.1f}k",
                    " ".join(f"{v / 1000:.1f}k" for v in results[n][e]),
                    fmt(raw / mine, 3) + "×" if raw else "-",
                    fmt(mine / hk, 3) + "×" if hk else "-",
                ]
            )

    def figures(e: str, other: str, value: float) -> str:
        hk, theirs = per_request["handlerkit", e], per_request[other, e]
        return (
            f"{other} {theirs / 1000:.1f}k / handlerkit {hk / 1000:.1f}k instructions per request"
            f" = {fmt(value, 3)}×"
        )

    goal_rows, missed = sync_goals(
        lambda name, e: (name, e) in per_request,
        lambda e, other: per_request[other, e] / per_request["handlerkit", e],
        figures,
        digits=3,
    )
    text = table(
        [
            "endpoint",
            "framework",
            "instructions/request",
            "round by round",
            "raw ÷ this",
            "this ÷ hk",
        ],
        rows,
    )
    return text, goal_rows, missed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frameworks", default="handlerkit,raw,falcon,bottle")
    parser.add_argument("--endpoints", default="A,B,C")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=200, help="requests per round")
    parser.add_argument("--jobs", type=int, default=max(1, len(os.sched_getaffinity(0))))
    parser.add_argument("--smoke", action="store_true", help="handlerkit and raw, A, 20 requests")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args(argv)
    for tool in ("valgrind", "callgrind_control"):
        if shutil.which(tool) is None:
            print(f"http_instructions.py needs {tool}: apt-get install valgrind", file=sys.stderr)
            return 2
    if args.smoke:
        names, eps, rounds, requests, extra = ["handlerkit", "raw"], ["A"], 1, 20, 20
    else:
        names = [n for n in args.frameworks.split(",") if n]
        eps = [e for e in args.endpoints.split(",") if e]
        rounds, requests, extra = args.rounds, args.requests, None
    with (
        tempfile.TemporaryDirectory(prefix="handlerkit-callgrind-") as tmp,
        concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool,
    ):
        futures = {
            name: pool.submit(
                count, name, [e for e in eps if e in endpoints(name)], rounds, requests, Path(tmp), extra
            )
            for name in names
        }
        results = {name: future.result() for name, future in futures.items()}
    text, goal_rows, missed = report(results, names)
    goals_table = table(["goal", "figures", "result"], goal_rows)
    text = (
        "## Over HTTP, in instructions (`python benchmarks/http_instructions.py`)\n\n"
        f"{machine()}; gunicorn sync, 1 worker, under callgrind; {rounds} rounds × {requests}"
        " sequential requests per endpoint, a new connection each; medians.\n"
        "The worker's user-space instructions per request (gunicorn's and the framework's):\n"
        "the same on a quiet or a busy machine. Kernel work and cache misses are not counted.\n\n"
        + text
        + "\n\n### Goals (instructions)\n\n"
        + goals_table
        + "\n"
    )
    print(text)
    if args.write and not args.smoke:
        path = write_results("http_instructions", text)
        write_summary(
            "http_instructions",
            "**Over HTTP, counted** (gunicorn sync worker under callgrind)\n\n" + goals_table,
        )
        print(f"written to {path}")
    if missed and not args.smoke:
        print("GOALS MISSED: " + "; ".join(missed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
