"""`handlerkit dev`: reloads on new, deleted and broken route.py files; the debugger stays off."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from handlerkit.devserver import DevApp
from handlerkit.testing import Client, write_app
from tests.support.servers import ROOT, free_port, stop, wait_for_port

#: The longest a reload may take before a test fails (the watcher polls every 0.5 s).
RELOAD_WAIT = 20.0


class DevServer:
    def __init__(self, proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.proc, self.port, self.log = proc, port, log
        self.url = f"http://127.0.0.1:{port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def get(self, path: str) -> requests.Response | None:
        try:
            return requests.get(self.url + path, timeout=5)
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
            return None  # restarting (the reloader may end a response half-sent)

    def wait_for(self, path: str, check: Callable[[requests.Response], bool]) -> requests.Response:
        deadline = time.monotonic() + RELOAD_WAIT
        last = None
        while time.monotonic() < deadline:
            last = self.get(path)
            if last is not None and check(last):
                return last
            time.sleep(0.2)
        got = None if last is None else (last.status_code, last.text)
        pytest.fail(
            f"{path} did not change within {RELOAD_WAIT} s (last: {got}):\n{self.output()[-3000:]}"
        )


@pytest.fixture
def dev(tmp_path: Path) -> Iterator[Callable[..., DevServer]]:
    started: list[DevServer] = []

    def start(app_dir: Path, *args: str) -> DevServer:
        port, log = free_port(), tmp_path / f"dev-{len(started)}.log"
        proc = subprocess.Popen(
            [sys.executable, "-m", "handlerkit", "dev", str(app_dir), "--port", str(port), *args],
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        server = DevServer(proc, port, log)
        started.append(server)
        wait_for_port(port, proc)
        return server

    yield start
    for server in started:
        stop(server.proc, signal.SIGTERM)


def _port_closed(port: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(f"http://127.0.0.1:{port}/", timeout=1)
        except requests.ConnectionError:
            return True
        time.sleep(0.1)
    return False


@pytest.mark.slow
def test_dev_reloads_new_deleted_and_broken_route_files(
    tmp_path: Path, dev: Callable[..., DevServer]
) -> None:
    app_dir = write_app(tmp_path / "app", {"a/route.py": "def GET():\n    return {'a': 1}\n"})
    server = dev(app_dir)
    assert server.wait_for("/a", lambda r: r.status_code == 200).json() == {"a": 1}
    assert server.get("/api/v1/fresh").status_code == 404

    # A new route.py, in folders that did not exist (and hold no other .py file).
    write_app(
        app_dir,
        {
            "api/v1/[name]/route.py": (
                "def GET(request, context):\n    return {'hello': context.params['name']}\n"
            )
        },
    )
    assert server.wait_for("/api/v1/fresh", lambda r: r.status_code == 200).json() == {
        "hello": "fresh"
    }

    # A deleted route.py.
    (app_dir / "a" / "route.py").unlink()
    assert server.wait_for("/a", lambda r: r.status_code == 404).json()["error"] == "not_found"

    # Handler errors stay generic: the debugger is off unless asked for.
    write_app(app_dir, {"boom/route.py": "def GET():\n    raise RuntimeError('secret detail')\n"})
    boom = server.wait_for("/boom", lambda r: r.status_code == 500)
    assert boom.json()["error"] == "internal_error"
    assert "secret detail" not in boom.text and "Traceback" not in boom.text
    assert "debugger is ON" not in server.output()

    # Stopping the reloader process by PID takes the serving process down with it.
    stop(server.proc, signal.SIGTERM)
    assert _port_closed(server.port), "the serving process outlived the reloader"


@pytest.mark.slow
@pytest.mark.allow_leaks  # the dev server shows a broken tree's files on purpose
def test_dev_shows_a_broken_tree_and_reloads_when_it_is_fixed(
    tmp_path: Path, dev: Callable[..., DevServer]
) -> None:
    app_dir = write_app(tmp_path / "app", {"a/route.py": "def GET():\n    return {'a': 1}\n"})
    server = dev(app_dir)
    server.wait_for("/a", lambda r: r.status_code == 200)
    # A broken tree is shown, not fatal; fixing it reloads again.
    write_app(app_dir, {"b/route.py": "def get():\n    return {}\n"})
    broken = server.wait_for("/a", lambda r: r.status_code == 500).json()
    assert broken["error"] == "route_definition_error"
    assert "did you mean GET?" in broken["message"]
    assert broken["details"]["files"] == [str(app_dir / "b" / "route.py")]
    write_app(app_dir, {"b/route.py": "def GET():\n    return {'b': 2}\n"})
    assert server.wait_for("/b", lambda r: r.status_code == 200).json() == {"b": 2}


@pytest.mark.slow
@pytest.mark.allow_leaks  # tracebacks in 500 bodies are what --debugger is for
def test_dev_debugger_is_loud_when_on(tmp_path: Path, dev: Callable[..., DevServer]) -> None:
    app_dir = write_app(
        tmp_path / "app", {"boom/route.py": "def GET():\n    raise RuntimeError('detail')\n"}
    )
    server = dev(app_dir, "--debugger")
    boom = server.wait_for("/boom", lambda r: r.status_code == 500)
    # Werkzeug's interactive debugger page, not the App's JSON 500.
    assert boom.headers["Content-Type"].startswith("text/html")
    assert "The debugger caught an exception in your WSGI application" in boom.text
    assert "RuntimeError: detail" in boom.text
    assert "Debugger PIN" in server.output() or "Debugger pin" in server.output().lower()
    assert "WARNING: the Werkzeug debugger is ON (--debugger)" in server.output()


def test_dev_names_the_helper_whose_import_failed_and_the_route_that_imported_it(tmp_path: Path) -> None:
    app_dir = write_app(
        tmp_path / "app",
        {
            "_lib/__init__.py": "",
            "_lib/broken.py": "VALUE = 1\nraise RuntimeError('the helper failed')\n",
            "api/bad/route.py": "from ..._lib import broken\n\ndef GET():\n    return {}\n",
        },
    )
    answer = Client(DevApp(str(app_dir))).get("/api/bad")
    assert answer.status_code == 500
    body = answer.json()
    helper = str((app_dir / "_lib" / "broken.py").resolve())
    assert f"importing failed with RuntimeError in {helper}:2 (imported by this route)" in body["message"]
    assert [Path(f).name for f in body["details"]["files"]] == ["route.py", "broken.py"]
    assert "Traceback" not in answer.text
