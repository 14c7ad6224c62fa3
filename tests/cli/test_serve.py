"""`handlerkit serve` and `gunicorn "handlerkit:create_app(...)"`, over real sockets."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from handlerkit.testing import write_app
from tests.support.servers import ROOT, free_port, gunicorn, stop, wait_for_port

TREE = {
    "whoami/route.py": """
        import os

        def GET(request):
            return {"ip": request.ip, "scheme": request.scheme, "pid": os.getpid()}
    """,
}


def _serve(app_dir: Path, port: int, *args: str, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "handlerkit",
            "serve",
            str(app_dir),
            "--bind",
            f"127.0.0.1:{port}",
            *args,
        ],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        cwd=app_dir.parent,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


@pytest.mark.slow
def test_serve_answers_over_http_and_stops_by_pid(tmp_path: Path) -> None:
    app_dir = write_app(tmp_path / "app", TREE)
    port, log = free_port(), tmp_path / "serve.log"
    proc = _serve(app_dir, port, "--workers", "2", "--trusted-proxies", "1", log=log)
    try:
        wait_for_port(port, proc)
        base = f"http://127.0.0.1:{port}"
        seen = set()
        for _ in range(20):
            response = requests.get(
                f"{base}/whoami",
                headers={"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"},
                timeout=10,
            )
            assert response.status_code == 200
            data = response.json()
            # --trusted-proxies 1 reaches the app: ProxyFix trusts one X-Forwarded-* hop.
            assert data["ip"] == "203.0.113.9" and data["scheme"] == "https"
            seen.add(data["pid"])
        missing = requests.get(f"{base}/nope", timeout=10)
        assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    finally:
        # gunicorn's graceful shutdown; generous for a loaded machine before stop() SIGKILLs.
        stop(proc, signal.SIGTERM, timeout=40)
    assert proc.returncode == 0
    output = log.read_text()
    assert "Using worker: handlerkit.workers.ThreadWorker" in output  # gthread, with JSON refusals
    assert output.count("Booting worker with pid") >= 2
    assert seen <= {int(pid) for pid in _booted_pids(output)}
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/whoami", timeout=2)


def _booted_pids(output: str) -> list[str]:
    return [
        line.rsplit(" ", 1)[-1] for line in output.splitlines() if "Booting worker with pid" in line
    ]


def test_serve_refuses_a_broken_tree_before_starting_gunicorn(tmp_path: Path) -> None:
    app_dir = write_app(tmp_path / "app", {"a/route.py": "def get():\n    return {}\n"})
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "handlerkit",
            "serve",
            str(app_dir),
            "--bind",
            f"127.0.0.1:{free_port()}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 1
    assert "did you mean GET?" in result.stderr
    assert "Starting gunicorn" not in result.stdout + result.stderr


def test_serve_defaults() -> None:
    from handlerkit.cli import build_parser
    from handlerkit.serve import MAX_DEFAULT_WORKERS, default_workers

    args = build_parser().parse_args(["serve", "app"])
    assert args.worker_class == "gthread" and args.threads == 4 and args.timeout == 30
    assert args.bind is None and args.trusted_proxies is None  # 127.0.0.1:8000; env or 0
    cpus = len(os.sched_getaffinity(0))
    assert default_workers() == min(2 * cpus + 1, MAX_DEFAULT_WORKERS)


@pytest.mark.slow
def test_gunicorn_create_app_reads_options_from_the_environment(tmp_path: Path) -> None:
    app_dir = write_app(tmp_path / "app", TREE)
    spec = f"handlerkit:create_app({str(app_dir)!r})"
    headers = {"X-Forwarded-For": "198.51.100.7"}
    with gunicorn(
        spec, env={"HANDLERKIT_TRUSTED_PROXIES": "1", "HANDLERKIT_TRUSTED_HOSTS": "127.0.0.1"}
    ) as server:
        assert (
            requests.get(f"{server.url}/whoami", headers=headers, timeout=10).json()["ip"]
            == "198.51.100.7"
        )
        refused = requests.get(f"{server.url}/whoami", headers={"Host": "evil.example"}, timeout=10)
        assert refused.status_code == 400 and refused.json()["error"] == "invalid_host"
    with gunicorn(spec) as server:  # without the variables nothing is trusted
        assert (
            requests.get(f"{server.url}/whoami", headers=headers, timeout=10).json()["ip"]
            == "127.0.0.1"
        )
