"""One configuration for ``create_app``, ``handlerkit dev``, ``handlerkit serve`` and the pytest plugin.

Every App setting that differs between machines is read the same way, first
found wins:

1. a flag or an explicit argument (``create_app("app", secret_key=...)``,
   ``handlerkit serve --trusted-proxies 1``);
2. the environment (``HANDLERKIT_SECRET_KEY`` ...);
3. a ``.env`` file (python-dotenv's format), ``./.env`` unless
   ``HANDLERKIT_ENV_FILE`` or ``--env-file`` names another; a missing file is
   fine, one named explicitly must exist.

The settings and their variables:

- ``secret_key``: ``HANDLERKIT_SECRET_KEY``, comma-separated keys, oldest first
  (the last signs, all verify);
- ``trusted_proxies``: ``HANDLERKIT_TRUSTED_PROXIES``, a whole number;
- ``trusted_hosts``: ``HANDLERKIT_TRUSTED_HOSTS``, comma-separated hosts;
- ``base_path``: ``HANDLERKIT_BASE_PATH``, a URL prefix such as ``/api``;
- ``cache_store``: ``HANDLERKIT_CACHE_STORE``, a store URL (``redis://...``);
- ``openapi_path``: ``HANDLERKIT_OPENAPI_PATH``, a static path (``/openapi.json``);
- ``docs_path``: ``HANDLERKIT_DOCS_PATH``, a static path (``/docs``).

``handlerkit config`` prints what applies and where it came from, with secrets
and store credentials masked. ``App(...)`` itself never reads the environment.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ENV_FILE_VARIABLE", "SETTINGS", "Settings", "load_settings"]

#: The variable naming the ``.env`` file to read (default ``./.env``).
ENV_FILE_VARIABLE = "HANDLERKIT_ENV_FILE"


def _keys(text: str) -> Any:
    keys = [k.strip() for k in text.split(",") if k.strip()]
    return keys if len(keys) > 1 else (keys[0] if keys else None)


def _whole(name: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        if not text.strip().isdigit():
            raise ValueError(f"{name} must be a whole number, not {text!r}")
        return int(text)

    return parse


def _hosts(text: str) -> list[str] | None:
    return [h.strip() for h in text.split(",") if h.strip()] or None


def _text(text: str) -> str | None:
    return text.strip() or None


#: setting -> (environment variable, parser of its text).
SETTINGS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "secret_key": ("HANDLERKIT_SECRET_KEY", _keys),
    "trusted_proxies": ("HANDLERKIT_TRUSTED_PROXIES", _whole("HANDLERKIT_TRUSTED_PROXIES")),
    "trusted_hosts": ("HANDLERKIT_TRUSTED_HOSTS", _hosts),
    "base_path": ("HANDLERKIT_BASE_PATH", _text),
    "cache_store": ("HANDLERKIT_CACHE_STORE", _text),
    "openapi_path": ("HANDLERKIT_OPENAPI_PATH", _text),
    "docs_path": ("HANDLERKIT_DOCS_PATH", _text),
}


@dataclass
class Settings:
    """The App options that apply, and where each came from (``flag``, ``environment``, ``.env``)."""

    options: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    env_file: str | None = None

    def redacted(self) -> dict[str, Any]:
        """The options with secrets masked: keys as ``***`` (their count kept), store credentials hidden."""
        from .stores import redact_url

        shown: dict[str, Any] = {}
        for name, value in self.options.items():
            if name == "secret_key" and isinstance(value, (str, bytes)):
                shown[name] = "***"
            elif name == "secret_key":
                shown[name] = ["***"] * len(value)
            elif name == "cache_store" and isinstance(value, str):
                shown[name] = redact_url(value)
            else:
                shown[name] = value
        return shown

    def lines(self) -> list[str]:
        """One ``name = value  (source)`` line per setting that is set, for printing."""
        shown = self.redacted()
        return [f"{name} = {shown[name]!r}  ({self.sources[name]})" for name in shown]


def load_settings(
    flags: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    env_file: str | os.PathLike[str] | None = None,
) -> Settings:
    """Return the settings from *flags*, then the environment, then the ``.env`` file.

    Args:
        flags: Options given explicitly, passed on as they are; for the
            settings listed in :data:`SETTINGS`, ``None`` counts as not given.
        environ: The environment (default ``os.environ``).
        env_file: The ``.env`` file; default ``$HANDLERKIT_ENV_FILE`` or
            ``./.env``. One named here or in the variable must exist.

    Raises:
        ValueError: A value is malformed (naming the variable), or a named
            ``.env`` file does not exist.
    """
    environ = os.environ if environ is None else environ
    named = env_file if env_file is not None else environ.get(ENV_FILE_VARIABLE)
    path = os.fspath(named) if named else ".env"
    file_values: dict[str, str | None] = {}
    if os.path.isfile(path):
        from dotenv import dotenv_values

        file_values = dotenv_values(path)
    elif named:
        raise ValueError(f"the .env file {path!r} does not exist")
    settings = Settings(env_file=os.path.abspath(path) if file_values else None)
    for name, value in (flags or {}).items():
        if value is None and name in SETTINGS:
            continue  # a setting left unset (serve's --trusted-proxies, say): read it below
        settings.options[name] = value  # any other option as given (max_body_size=None ...)
        settings.sources[name] = "flag"
    for name, (variable, parse) in SETTINGS.items():
        if name in settings.options:
            continue
        for source, values in (("environment", environ), (".env", file_values)):
            text = values.get(variable)
            if text is not None and text.strip():
                value = parse(text)
                if value is not None:
                    settings.options[name] = value
                    settings.sources[name] = f"{source} {variable}"
                break
    return settings
