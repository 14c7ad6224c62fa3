"""Real gunicorn and redis-server processes for tests, started on free loopback ports and stopped by PID."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes] | None = None, timeout: float = 20.0) -> None:
    """Block until something accepts connections on *port*, or fail the test."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            output = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
            pytest.fail(f"server exited early with {proc.returncode}:\n{output[-4000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    pytest.fail(f"nothing listened on port {port} within {timeout} s")


def wait_for_file(path: Path, timeout: float = 10.0) -> str | None:
    """Poll until *path* holds some text (a server-side marker); return it, or ``None`` on timeout.

    Waiting for content rather than existence avoids reading a file the server
    has created but not yet written.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            text = path.read_text()
        except FileNotFoundError:
            text = ""
        if text:
            return text
        time.sleep(0.01)
    return None


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 15.0) -> None:
    """Stop *proc* by PID with *sig*, then SIGKILL if it does not exit in time."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(5)


@dataclass
class Server:
    """A running server process."""

    proc: subprocess.Popen[bytes]
    port: int
    log: Path | None = None
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """The base URL, ``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        """The main process id."""
        return self.proc.pid

    def output(self) -> str:
        """What the server has logged so far."""
        return self.log.read_text(errors="replace") if self.log and self.log.exists() else ""


@contextlib.contextmanager
def gunicorn(
    app: str,
    *,
    workers: int = 1,
    worker_class: str = "gthread",
    threads: int = 4,
    timeout: int = 30,
    args: Sequence[str] = (),
    env: dict[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    log_dir: Path | None = None,
) -> Iterator[Server]:
    """Run ``gunicorn APP`` on a free port; yield a :class:`Server`; stop it by PID."""
    port = free_port()
    command = [
        sys.executable, "-m", "gunicorn", app,
        "--bind", f"127.0.0.1:{port}",
        "--workers", str(workers),
        "--worker-class", worker_class,
        "--threads", str(threads),
        "--timeout", str(timeout),
        "--graceful-timeout", "10",
        *args,
    ]
    log_path = (log_dir or Path(os.environ.get("TMPDIR", "/tmp"))) / f"gunicorn-{port}.log"
    log_file = open(log_path, "wb")  # noqa: SIM115 - closed below
    full_env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]), **(env or {})}
    proc = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, env=full_env, cwd=cwd or ROOT)
    server = Server(proc, port, log_path)
    try:
        _wait_http(server)
        yield server
    finally:
        stop(proc)
        log_file.close()


def _wait_http(server: Server, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            pytest.fail(f"gunicorn exited with {server.proc.returncode}:\n{server.output()[-4000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", server.port), timeout=0.5) as sock:
            sock.sendall(b"HEAD /__handlerkit_probe__ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            if sock.recv(16).startswith(b"HTTP/1."):
                return
        time.sleep(0.1)
    pytest.fail(f"gunicorn did not answer within {timeout} s:\n{server.output()[-4000:]}")


@contextlib.contextmanager
def handlerkit_serve(
    app_dir: Path, *args: str, env: dict[str, str] | None = None, log: Path | None = None
) -> Iterator[int]:
    """Run ``handlerkit serve APP_DIR --bind 127.0.0.1:PORT *args`` from APP_DIR's folder; yield PORT.

    The log goes to *log* (default ``serve-PORT.log`` beside APP_DIR); the server is
    stopped by PID with SIGTERM, as gunicorn expects.
    """
    port = free_port()
    log = log or app_dir.parent / f"serve-{port}.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "handlerkit", "serve", str(app_dir), "--bind", f"127.0.0.1:{port}", *args],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        cwd=app_dir.parent,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
    )
    try:
        wait_for_port(port, proc)
        yield port
    finally:
        stop(proc, signal.SIGTERM)


@contextlib.contextmanager
def redis_server() -> Iterator[Server]:
    """Run a throwaway ``redis-server`` on a free port; stop it by PID."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed; .ci/run installs it with apt-get")
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    server = Server(proc, port)
    try:
        wait_for_port(port, proc)
        yield server
    finally:
        stop(proc)
        if proc.stdout:
            proc.stdout.close()
