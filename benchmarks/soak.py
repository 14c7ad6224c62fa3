"""Soak and leak check: mixed requests against gunicorn, sampling each worker's RSS, FDs and temp files.

Usage::

    python benchmarks/soak.py                      # 100k requests, prints the table
    python benchmarks/soak.py --write              # ... and writes benchmarks/results/soak-<date>.md
    python benchmarks/soak.py --requests 3000      # a quick smoke run (tests/soak runs this)

What runs: a throwaway redis-server and gunicorn (``gthread``, 2 workers, 8 threads) serving a
small app written to a temporary folder, with its own ``TMPDIR``. Several client threads send a
fixed mix over keep-alive connections:

- JSON GET and POST (echo), and error answers (404, 405, 400 ``invalid_json``, 422, 401);
- multipart uploads, every tenth with a 600 kB file (spooled to a temporary file by Werkzeug);
- SSE streams opened, read up to the first event, then dropped by the client;
- a Redis-backed ``with_rate_limit`` (random keys, 2 s window) and ``with_cache`` (random
  queries, 2 s TTL) route.

At every tenth of the run it samples, per worker: ``VmRSS`` from ``/proc/<pid>/status``,
the entries of ``/proc/<pid>/fd``, the files in the server's ``TMPDIR``, and Redis ``DBSIZE``.
Growth is reported between the 20 % sample (warm) and the end. Targets: RSS growth <= 5 %,
no FD or temp-file growth, and the Redis key count back to its starting value once the TTLs
have passed. Exit status 1 when a target is missed (only with ``--check``).
"""

from __future__ import annotations

import os
import sys

# ``python benchmarks/soak.py`` puts benchmarks/ first on sys.path, where http.py would shadow
# the standard library's http; put the repository root there instead.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]
sys.path.insert(0, os.path.dirname(_HERE))

import argparse  # noqa: E402
import contextlib  # noqa: E402
import datetime  # noqa: E402
import http.client  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import textwrap  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

ROOT = Path(_HERE).parent
RESULTS = ROOT / "benchmarks" / "results"

APP = {
    "json/route.py": """
        from handlerkit import NextResponse

        def GET(request):
            return {"ok": True, "q": request.next_url.search_params.get("q")}

        def POST(request):
            return NextResponse.json({"echo": request.json()}, status=201)
    """,
    "items/[id]/route.py": """
        from marshmallow import Schema, fields
        from handlerkit import with_validation

        class Item(Schema):
            name = fields.String(required=True)

        def GET(request, context):
            return {"id": context.params["id"]}

        @with_validation(body=Item)
        def PUT(request, context):
            return context.state.body
    """,
    "private/route.py": """
        from handlerkit import with_auth

        @with_auth
        def GET(request, context):
            return {"user": context.state.user}
    """,
    "upload/route.py": """
        def POST(request):
            form = request.form_data()
            sizes = [len(f.read()) for f in form.files]
            return {"files": len(sizes), "bytes": sum(sizes)}
    """,
    "events/route.py": """
        import time
        from handlerkit import sse

        def GET(request):
            def events():
                yield sse.Event(data={"n": 0}, event="hello")
                for n in range(1, 600):
                    time.sleep(0.05)
                    yield sse.Event(data={"n": n})
            return sse.stream(events(), heartbeat=0.1)
    """,
    "limited/route.py": """
        import os
        from handlerkit import with_rate_limit

        @with_rate_limit(limit=1000000, window=2, storage=os.environ["SOAK_REDIS"],
                         key=lambda request, context: request.headers.get("X-Client", "none"), socket_timeout=2.0)
        def GET():
            return {"limited": True}
    """,
    "cached/route.py": """
        import os
        from handlerkit import with_cache

        @with_cache(ttl=2, store=os.environ["SOAK_REDIS"])
        def GET(request):
            return {"q": request.next_url.search_params.get("q"), "pad": "x" * 512}
    """,
}

#: (weight, kind) of the request mix.
MIX = [
    (30, "json_get"),
    (15, "json_post"),
    (5, "item"),
    (4, "not_found"),
    (3, "method"),
    (3, "bad_json"),
    (3, "invalid"),
    (3, "unauthorized"),
    (10, "upload"),
    (4, "sse"),
    (10, "limited"),
    (10, "cached"),
]
EXPECTED = {
    "json_get": 200,
    "json_post": 201,
    "item": 200,
    "not_found": 404,
    "method": 405,
    "bad_json": 400,
    "invalid": 422,
    "unauthorized": 401,
    "upload": 200,
    "sse": 200,
    "limited": 200,
    "cached": 200,
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}")
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", port), timeout=0.5),
        ):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listened on {port} within {timeout} s")


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, sig)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait(5)


def workers_of(master: int) -> list[int]:
    """The gunicorn worker PIDs: the master's children."""
    children: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{master}/task"):
            with open(f"/proc/{master}/task/{task}/children") as handle:
                children += [int(pid) for pid in handle.read().split()]
    return sorted(children)


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def redis_dbsize(port: int) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"*1\r\n$6\r\nDBSIZE\r\n")
        reply = sock.recv(64)
    return int(reply[1:].split(b"\r\n")[0])


@dataclass
class Sample:
    done: int
    rss: dict[int, int]
    fds: dict[int, int]
    temp_files: int
    redis_keys: int


@dataclass
class Run:
    requests: int
    seconds: float = 0.0
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    unexpected: list[str] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    redis_baseline: int = 0
    redis_after_ttl: int = 0
    workers_start: list[int] = field(default_factory=list)
    workers_end: list[int] = field(default_factory=list)


class Client:
    """One client thread's keep-alive connection and request builders."""

    def __init__(self, port: int, seed: int) -> None:
        self.port = port
        self.random = random.Random(seed)
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.big = os.urandom(600 * 1024)

    def close(self) -> None:
        self.conn.close()

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> int:
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=body, headers=headers or {})
                response = self.conn.getresponse()
                response.read()
                if response.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                return response.status
            except (http.client.HTTPException, OSError):
                self.conn.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def sse(self) -> int:
        with socket.create_connection(("127.0.0.1", self.port), timeout=30) as sock:
            sock.sendall(b"GET /events HTTP/1.1\r\nHost: soak\r\n\r\n")
            received = b""
            while b"event: hello" not in received:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                received += chunk
        # The client drops the stream here; the server notices at its next write.
        return int(received.split(b" ", 2)[1]) if received.startswith(b"HTTP/1.1") else 0

    def one(self, kind: str) -> int:
        r = self.random
        if kind == "json_get":
            return self.request("GET", f"/json?q={r.randrange(1000)}")
        if kind == "json_post":
            return self.request(
                "POST",
                "/json",
                json.dumps({"n": r.random(), "s": "x" * r.randrange(200)}).encode(),
                {"Content-Type": "application/json"},
            )
        if kind == "item":
            return self.request("GET", f"/items/{r.randrange(10**6)}")
        if kind == "not_found":
            return self.request("GET", f"/nowhere/{r.randrange(10**6)}")
        if kind == "method":
            return self.request("DELETE", "/json")
        if kind == "bad_json":
            return self.request(
                "POST", "/json", b'{"broken": ', {"Content-Type": "application/json"}
            )
        if kind == "invalid":
            return self.request(
                "PUT",
                "/items/1",
                b'{"name": 5, "extra": true}',
                {"Content-Type": "application/json"},
            )
        if kind == "unauthorized":
            return self.request("GET", "/private", headers={"Authorization": "Bearer not.a.token"})
        if kind == "upload":
            payload = self.big if r.randrange(10) == 0 else os.urandom(r.randrange(1, 4096))
            body = (
                b'--soakboundary\r\nContent-Disposition: form-data; name="f"; filename="a.bin"\r\n'
                b"Content-Type: application/octet-stream\r\n\r\n"
                + payload
                + b"\r\n--soakboundary--\r\n"
            )
            return self.request(
                "POST",
                "/upload",
                body,
                {"Content-Type": "multipart/form-data; boundary=soakboundary"},
            )
        if kind == "sse":
            return self.sse()
        if kind == "limited":
            return self.request("GET", "/limited", headers={"X-Client": f"c{r.randrange(10**9)}"})
        if kind == "cached":
            return self.request("GET", f"/cached?q={r.randrange(10**9)}")
        raise ValueError(kind)


def sample(master: int, tmpdir: Path, redis_port: int, done: int) -> Sample:
    pids = workers_of(master)
    return Sample(
        done=done,
        rss={pid: rss_kb(pid) for pid in pids},
        fds={pid: fd_count(pid) for pid in pids},
        temp_files=sum(1 for _ in tmpdir.rglob("*")),
        redis_keys=redis_dbsize(redis_port),
    )


def soak(total: int, clients: int, quiet: bool = False) -> Run:
    run = Run(total)
    kinds = [kind for weight, kind in MIX for _ in range(weight)]
    base = Path(tempfile.mkdtemp(prefix="handlerkit-soak-"))
    app_dir = base / "app"
    for relative, source in APP.items():
        target = app_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(source).lstrip("\n"))
    server_tmp = base / "tmp"
    server_tmp.mkdir()
    redis_binary = shutil.which("redis-server")
    if redis_binary is None:
        raise SystemExit("redis-server is not installed")
    redis_port = free_port()
    redis = subprocess.Popen(
        [
            redis_binary,
            "--port",
            str(redis_port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    port = free_port()
    log = open(base / "gunicorn.log", "wb")  # noqa: SIM115 - closed below
    env = {
        **os.environ,
        "TMPDIR": str(server_tmp),
        "SOAK_REDIS": f"redis://127.0.0.1:{redis_port}/0",
        "HANDLERKIT_SECRET_KEY": "soak-secret-key",
        "PYTHONPATH": str(ROOT),
    }
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        f"handlerkit:create_app({str(app_dir)!r})",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "2",
        "--worker-class",
        "gthread",
        "--threads",
        "8",
        "--timeout",
        "60",
        "--graceful-timeout",
        "5",
        "--no-control-socket",
    ]
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=str(base))
    try:
        wait_port(redis_port, redis)
        wait_port(port, server)
        warm = Client(port, 0)
        for kind in EXPECTED:  # every route once, so both the first imports and pools exist
            for _ in range(4):
                warm.one(kind)
        warm.close()
        time.sleep(2.5)  # the warm-up's keys expire
        run.redis_baseline = redis_dbsize(redis_port)
        run.workers_start = workers_of(server.pid)
        counter = iter(range(total))
        lock = threading.Lock()
        done = [0]
        checkpoints = {total * k // 10 for k in range(1, 11)}
        pending_samples: list[int] = []

        def worker(seed: int) -> None:
            client = Client(port, seed)
            try:
                while True:
                    with lock:
                        index = next(counter, None)
                    if index is None:
                        return
                    kind = kinds[client.random.randrange(len(kinds))]
                    try:
                        status = client.one(kind)
                    except Exception as exc:  # noqa: BLE001 - recorded, the run goes on
                        status = 0
                        with lock:
                            run.unexpected.append(f"{kind}: {type(exc).__name__}")
                    with lock:
                        run.statuses[(kind, status)] += 1
                        if status != EXPECTED[kind]:
                            run.unexpected.append(f"{kind}: {status}")
                        done[0] += 1
                        if done[0] in checkpoints:
                            pending_samples.append(done[0])
            finally:
                client.close()

        started = time.monotonic()
        threads = [
            threading.Thread(target=worker, args=(seed,), daemon=True)
            for seed in range(1, clients + 1)
        ]
        for thread in threads:
            thread.start()
        while any(thread.is_alive() for thread in threads):
            time.sleep(0.05)
            while pending_samples:
                point = pending_samples.pop(0)
                run.samples.append(sample(server.pid, server_tmp, redis_port, point))
                if not quiet:
                    print(
                        f"  {point:>7} requests, {time.monotonic() - started:6.1f} s",
                        file=sys.stderr,
                    )
        run.seconds = time.monotonic() - started
        while pending_samples:
            run.samples.append(sample(server.pid, server_tmp, redis_port, pending_samples.pop(0)))
        time.sleep(1.0)  # in-flight SSE streams notice their dropped clients
        run.samples.append(sample(server.pid, server_tmp, redis_port, total))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            run.redis_after_ttl = redis_dbsize(redis_port)
            if run.redis_after_ttl <= run.redis_baseline:
                break
            time.sleep(0.25)
        run.workers_end = workers_of(server.pid)
        if "Traceback" in (base / "gunicorn.log").read_text(errors="replace"):
            run.unexpected.append("a traceback in the gunicorn log")
    finally:
        stop(server)
        stop(redis)
        log.close()
        shutil.rmtree(base, ignore_errors=True)
    return run


def growth(run: Run) -> dict[str, Any]:
    """Compare the warm sample (20 % of the run) with the last one."""
    warm = next(s for s in run.samples if s.done >= run.requests * 2 // 10)
    last = run.samples[-1]
    rss = {pid: (last.rss.get(pid, 0) - warm.rss[pid]) / warm.rss[pid] * 100 for pid in warm.rss}
    fds = {pid: last.fds.get(pid, 0) - warm.fds[pid] for pid in warm.fds}
    return {
        "warm": warm,
        "last": last,
        "rss_pct": rss,
        "fd_delta": fds,
        "temp_delta": last.temp_files - warm.temp_files,
        "targets": {
            "RSS growth <= 5 % per worker": all(v <= 5.0 for v in rss.values()),
            "no FD growth": all(v <= 0 for v in fds.values()),
            "no temp-file growth": last.temp_files <= warm.temp_files,
            "Redis keys back to baseline after the TTL": run.redis_after_ttl <= run.redis_baseline,
            "the same workers throughout (none crashed)": run.workers_start == run.workers_end,
            "every answer as expected (no 5xx)": not run.unexpected,
        },
    }


def report(run: Run, clients: int) -> str:
    g = growth(run)
    pids = sorted(g["warm"].rss)
    lines = [
        f"{run.requests} requests from {clients} client threads in {run.seconds:.1f} s "
        f"({run.requests / run.seconds:.0f} req/s); gunicorn gthread, 2 workers x 8 threads; "
        f"workers {', '.join(map(str, run.workers_start))}.",
        "",
        "| requests | "
        + " | ".join(f"RSS w{i + 1} (kB)" for i in range(len(pids)))
        + " | "
        + " | ".join(f"FDs w{i + 1}" for i in range(len(pids)))
        + " | temp files | Redis keys |",
        "|---:|" + "---:|" * (2 * len(pids) + 2),
    ]
    for s in run.samples:
        lines.append(
            f"| {s.done} | "
            + " | ".join(str(s.rss.get(p, "-")) for p in pids)
            + " | "
            + " | ".join(str(s.fds.get(p, "-")) for p in pids)
            + f" | {s.temp_files} | {s.redis_keys} |"
        )
    lines += [
        "",
        f"Growth from {g['warm'].done} to {g['last'].done} requests: RSS "
        + ", ".join(f"w{i + 1} {g['rss_pct'][p]:+.2f} %" for i, p in enumerate(pids))
        + "; FDs "
        + ", ".join(f"w{i + 1} {g['fd_delta'][p]:+d}" for i, p in enumerate(pids))
        + f"; temp files {g['temp_delta']:+d}.",
        f"Redis keys: {run.redis_baseline} before the run, {run.samples[-1].redis_keys} at the end, "
        f"{run.redis_after_ttl} once the TTLs passed.",
        "",
        "| target | result |",
        "|---|---|",
        *[f"| {name} | {'holds' if ok else 'MISSED'} |" for name, ok in g["targets"].items()],
        "",
        "Answers: "
        + ", ".join(
            f"{kind} {status} x{count}" for (kind, status), count in sorted(run.statuses.items())
        ),
    ]
    if run.unexpected:
        lines.append("Unexpected: " + "; ".join(sorted(Counter(run.unexpected).keys()))[:2000])
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--requests", type=int, default=100_000, help="how many requests (default 100000)"
    )
    parser.add_argument("--clients", type=int, default=8, help="client threads (default 8)")
    parser.add_argument(
        "--write", action="store_true", help="write benchmarks/results/soak-<date>.md"
    )
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    if args.requests < 100:
        parser.error("--requests must be at least 100")
    run = soak(args.requests, args.clients)
    text = report(run, args.clients)
    print(text)
    if args.write:
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / f"soak-{datetime.date.today().isoformat()}.md"
        path.write_text(
            f"# Soak run, {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC\n\n"
            f"`python benchmarks/soak.py --requests {args.requests} --clients {args.clients} --write` on "
            f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}.\n\n{text}\n"
        )
        print(f"wrote {path.relative_to(ROOT)}")
    return 0 if (not args.check or all(growth(run)["targets"].values())) else 1


if __name__ == "__main__":
    sys.exit(main())
