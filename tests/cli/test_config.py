"""One configuration: flags, then the environment, then .env, read alike by create_app, dev, serve and the plugin."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from handlerkit import create_app
from handlerkit.config import load_settings
from handlerkit.testing import write_app
from tests.cli.test_dev import DevServer, dev  # noqa: F401 - the fixture
from tests.support.servers import ROOT

SIGNED = {
    "sign/route.py": (
        "from handlerkit import NextResponse\n\n"
        "def GET(request):\n"
        "    response = NextResponse.json({'ok': True})\n"
        "    response.cookies.set_signed('session', 'alice')\n"
        "    return response\n"
    ),
}


def test_flags_win_over_the_environment_which_wins_over_the_env_file(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        "HANDLERKIT_SECRET_KEY=from-file\nHANDLERKIT_BASE_PATH=/file\nHANDLERKIT_TRUSTED_PROXIES=2\n"
        "HANDLERKIT_DOCS_PATH=/docs\n"
    )
    environ = {"HANDLERKIT_BASE_PATH": "/env", "HANDLERKIT_TRUSTED_PROXIES": "1"}
    settings = load_settings(
        {"trusted_proxies": 3, "base_path": None, "max_body_size": None}, environ=environ, env_file=env_file
    )
    assert settings.options == {
        "trusted_proxies": 3, "base_path": "/env", "secret_key": "from-file", "docs_path": "/docs",
        "max_body_size": None,  # not a setting: passed on as given (None lifts the body limit)
    }
    assert settings.sources == {
        "trusted_proxies": "flag",
        "max_body_size": "flag",
        "base_path": "environment HANDLERKIT_BASE_PATH",
        "secret_key": ".env HANDLERKIT_SECRET_KEY",
        "docs_path": ".env HANDLERKIT_DOCS_PATH",
    }


def test_a_malformed_value_or_a_missing_named_file_is_an_error_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no ./.env here: an absent default file is fine
    assert load_settings(environ={}).options == {}
    with pytest.raises(ValueError, match="HANDLERKIT_TRUSTED_PROXIES must be a whole number"):
        load_settings(environ={"HANDLERKIT_TRUSTED_PROXIES": "two"})
    with pytest.raises(ValueError, match="does not exist"):
        load_settings(environ={"HANDLERKIT_ENV_FILE": str(tmp_path / "missing.env")})


def test_create_app_reads_the_env_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text("HANDLERKIT_BASE_PATH=/v1\nHANDLERKIT_SECRET_KEY=k1,k2\n")
    monkeypatch.chdir(tmp_path)
    app = create_app(write_app(tmp_path / "app", SIGNED))
    assert app.base_path == "/v1" and app.secret_key == ["k1", "k2"]


def _config(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HANDLERKIT_")}
    return subprocess.run(
        [sys.executable, "-m", "handlerkit", "config", *args], cwd=cwd, capture_output=True, text=True,
        env={**clean, "PYTHONPATH": str(ROOT), **(env or {})}, timeout=60,
    )


def test_handlerkit_config_prints_each_setting_and_its_source_with_secrets_masked(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "HANDLERKIT_SECRET_KEY=hunter2,hunter3\nHANDLERKIT_CACHE_STORE=redis://:pw123@cache:6379/0\n"
    )
    shown = _config(tmp_path, env={"HANDLERKIT_TRUSTED_HOSTS": "api.example.com"})
    assert shown.returncode == 0, shown.stderr
    assert "hunter" not in shown.stdout and "pw123" not in shown.stdout
    assert "secret_key = ['***', '***']  (.env HANDLERKIT_SECRET_KEY)" in shown.stdout
    assert "cache_store = 'redis://***@cache:6379/0'  (.env HANDLERKIT_CACHE_STORE)" in shown.stdout
    assert "trusted_hosts = ['api.example.com']  (environment HANDLERKIT_TRUSTED_HOSTS)" in shown.stdout
    document = json.loads(_config(tmp_path, "--json").stdout)
    assert document["settings"]["secret_key"] == {"value": ["***", "***"], "source": ".env HANDLERKIT_SECRET_KEY"}
    assert document["env_file"] == str(tmp_path / ".env")
    missing = _config(tmp_path, "--env-file", "nope.env")
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_the_pytest_plugin_reads_the_same_settings(make_app, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HANDLERKIT_BASE_PATH", "/v2")
    assert make_app(SIGNED).base_path == "/v2"
    assert make_app(SIGNED, base_path="/given").base_path == "/given"  # an argument wins


@pytest.mark.slow
def test_dev_reads_the_secret_key_from_the_env_file(tmp_path: Path, dev: Callable[..., DevServer]) -> None:  # noqa: F811
    app_dir = write_app(tmp_path / "app", SIGNED)
    without = dev(app_dir)
    assert without.wait_for("/sign", lambda r: r.status_code in (200, 500)).status_code == 500  # no key: a logged 500
    (tmp_path / ".env").write_text("HANDLERKIT_SECRET_KEY=dev-secret\n")
    served = dev(app_dir)  # started in tmp_path: ./.env
    answer = served.wait_for("/sign", lambda r: r.status_code in (200, 500))
    assert answer.status_code == 200 and "session=" in answer.headers["Set-Cookie"]
    assert "secret_key = '***'  (.env HANDLERKIT_SECRET_KEY)" in served.output()
