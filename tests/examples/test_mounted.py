"""examples/mounted: Flask with a handlerkit App mounted at /api, in-process and under gunicorn."""

from __future__ import annotations

import http.client
import importlib
import json
import os
import re
import shlex
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from handlerkit.testing import Client
from tests.support.servers import ROOT, free_port, stop, wait_for_port

EXAMPLE = ROOT / "examples" / "mounted"


@pytest.fixture
def site(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The example's ``wsgi.application``, imported fresh (its notes store is module state)."""
    monkeypatch.syspath_prepend(str(EXAMPLE))
    for name in ("wsgi", "legacy"):
        sys.modules.pop(name, None)
    module = importlib.import_module("wsgi")
    yield module.application
    for name in ("wsgi", "legacy"):
        sys.modules.pop(name, None)


def test_flask_keeps_its_pages(site: Any) -> None:
    client = Client(site)
    home = client.get("/")
    assert home.status_code == 200
    assert home.headers["Content-Type"].startswith("text/html")
    assert 'fetch("/api/notes")' in home.text
    assert client.get("/health").json() == {"status": "ok", "served_by": "flask"}
    missing = client.get("/nope")
    assert missing.status_code == 404 and missing.headers["Content-Type"].startswith("text/html")


def test_handlerkit_answers_under_api(site: Any) -> None:
    client = Client(site)
    notes = client.get("/api/notes").json()["data"]
    assert [n["id"] for n in notes] == ["1", "2"]
    created = client.post("/api/notes", json={"text": "  from the test  "})
    assert created.status_code == 201
    assert created.json() == {"id": "3", "text": "from the test"}
    assert created.headers["Location"] == "/api/notes/3"  # the mount prefix is kept
    assert client.get("/api/notes/3").json()["text"] == "from the test"
    invalid = client.post("/api/notes", json={"text": ""})
    assert invalid.status_code == 422 and invalid.json()["error"] == "validation_error"
    assert (
        client.post("/api/notes", data="{bad", content_type="application/json").status_code == 400
    )


def test_the_app_sees_the_mount_prefix_as_script_name(site: Any) -> None:
    client = Client(site)
    assert client.get("/api/whoami?x=1").json() == {
        "pathname": "/whoami",
        "href": "http://localhost/api/whoami?x=1",
        "script_root": "/api",
    }
    slash = client.get("/api/notes/?page=2")
    assert slash.status_code == 308 and slash.headers["Location"] == "/api/notes?page=2"


def test_framework_errors_under_api_are_json(site: Any) -> None:
    client = Client(site)
    for response, status, code in [
        (client.get("/api/nope"), 404, "not_found"),
        (client.get("/api/notes/99"), 404, "not_found"),
        (client.delete("/api/notes"), 405, "method_not_allowed"),
    ]:
        assert response.status_code == status
        assert response.headers["Content-Type"] == "application/json"
        assert response.json()["error"] == code
    assert client.delete("/api/notes").headers["Allow"] == "GET, HEAD, OPTIONS, POST"


def _readme_gunicorn_command() -> list[str]:
    readme = (EXAMPLE / "README.md").read_text()
    line = next(
        ln for ln in readme.splitlines() if ln.startswith("pip install") and "gunicorn" in ln
    )
    command = shlex.split(line.split("&&", 1)[1])
    assert command[0] == "gunicorn"
    return command[1:]


@pytest.mark.slow
def test_the_readme_command_serves_both_apps(tmp_path: Path) -> None:
    port = free_port()
    args = _readme_gunicorn_command()
    args[args.index("--bind") + 1] = f"127.0.0.1:{port}"
    log = tmp_path / "gunicorn.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", *args],
        cwd=ROOT,  # the README says: from the repository root
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        wait_for_port(port, proc)
        base = f"http://127.0.0.1:{port}"
        assert requests.get(f"{base}/health", timeout=10).json()["served_by"] == "flask"
        assert "Notes" in requests.get(f"{base}/", timeout=10).text
        created = requests.post(f"{base}/api/notes", json={"text": "over http"}, timeout=10)
        assert created.status_code == 201 and created.headers["Location"].startswith("/api/notes/")
        assert requests.get(f"{base}/api/whoami", timeout=10).json()["script_root"] == "/api"
        # gunicorn passes RAW_URI: the App skips the mount's segments and keeps %2F in the param.
        # ("No note": the [id] route answered, so "a/b" was one param, not two segments.)
        escaped = requests.get(f"{base}/api/notes/a%2Fb", timeout=10)
        assert escaped.status_code == 404 and escaped.json()["message"] == "No note with that id."
        # A malformed escape is the App's 400 (http.client sends the path as written).
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/api/notes/%zz")
        bad = connection.getresponse()
        assert bad.status == 400 and json.loads(bad.read())["error"] == "invalid_path"
        connection.close()
    finally:
        stop(proc, signal.SIGTERM)
    assert proc.returncode == 0, log.read_text()[-2000:]
    assert re.search(r"Listening at: http://127\.0\.0\.1:\d+", log.read_text())
