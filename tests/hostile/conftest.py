"""Fixtures for the hostile catalogue: the hostile app in-process, and helpers every row uses."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from handlerkit import App
from handlerkit.testing import Client, write_app
from tests.hostile.app_files import APP_SECRET, FILES, OLD_SECRET, SECRETS
from tests.support.leaks import assert_no_leak


@pytest.fixture
def hostile_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The hostile app tree under tmp_path; SSE cleanup marks go to tmp_path/marks."""
    marks = tmp_path / "marks"
    marks.mkdir()
    monkeypatch.setenv("HOSTILE_MARKS", str(marks))
    monkeypatch.delenv("HOSTILE_REDIS", raising=False)
    return write_app(tmp_path / "app", FILES)


@pytest.fixture
def app(hostile_dir: Path) -> App:
    """The hostile app, in-process, with a rotation list of secrets and trusted hosts."""
    return App(
        hostile_dir,
        secret_key=[OLD_SECRET, APP_SECRET],
        trusted_hosts=["localhost", "good.example"],
    )


@pytest.fixture
def client(app: App) -> Client:
    return Client(app)


def check(response: Any, status: int, code: str | None = None, **headers: str | None) -> Any:
    """Assert *status* (and the error *code*); each ``Header_Name=value`` (None: absent).

    Every response body is run through the shared no-leak check with the app's
    secrets; every error body must be the one JSON shape.
    """
    body = response.get_data()
    assert response.status_code == status, (response.status_code, body[:300])
    assert_no_leak(body, secrets=SECRETS)
    if status >= 400 and response.headers.get("Content-Type", "").startswith("application/json"):
        document = json.loads(body)
        assert set(document) <= {"error", "message", "details"} and {"error", "message"} <= set(
            document
        )
    if code is not None:
        assert response.headers["Content-Type"].startswith("application/json")
        assert json.loads(body)["error"] == code, body
    for name, value in headers.items():
        header = name.replace("_", "-")
        if value is None:
            assert header not in response.headers, (header, response.headers.get(header))
        else:
            assert response.headers.get(header) == value, (header, response.headers.get(header))
    return (
        json.loads(body)
        if body and response.headers.get("Content-Type", "").startswith("application/json")
        else None
    )


class Exploding(io.RawIOBase):
    """A wsgi.input that fails the test when anything reads it."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        raise AssertionError("the body was read")


def call(
    app: App,
    method: str,
    path: str,
    *,
    body: bytes = b"",
    raw_uri: str | None = None,
    **environ: Any,
) -> tuple[int, dict[str, str], bytes]:
    """Call *app* with a hand-built environ (paths no test client would send)."""
    env: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "localhost",
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }
    if body:
        env["CONTENT_LENGTH"] = str(len(body))
    if raw_uri is not None:
        env["RAW_URI"] = raw_uri
    env.update(environ)
    seen: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        seen.append((status, headers))

    result = app(env, start_response)
    try:
        data = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close:
            close()
    status, header_list = seen[-1]
    code = int(status.split()[0])
    if code >= 400:
        assert_no_leak(data, secrets=SECRETS)
    return code, dict(header_list), data


@pytest.fixture
def raw(app: App) -> Callable[..., tuple[int, dict[str, str], bytes]]:
    def caller(method: str, path: str, **kwargs: Any) -> tuple[int, dict[str, str], bytes]:
        return call(app, method, path, **kwargs)

    return caller


@pytest.fixture
def fds() -> Iterator[Callable[[], int]]:
    """A function counting this process's open file descriptors."""
    yield lambda: len(list(Path("/proc/self/fd").iterdir()))
