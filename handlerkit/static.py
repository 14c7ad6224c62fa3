"""The static request of a ``dynamic = "force-static"`` (or ``"error"``) route.

Next.js renders such a route once for everyone, so its handler sees a request
without anything per-client: no query (``search`` is ``""``, ``search_params``
empty), no request headers, no cookies, no body, no client address. The App
gives the handler that view of the real request (a layer compiled from the
segment config, :func:`handlerkit.middleware.cache.segment_cache`), so the one
answer it computes, cached for ``revalidate`` seconds, is right for every client.

With ``dynamic = "error"`` reading any of those raises
:class:`~handlerkit.errors.DynamicUsageError` instead of answering empty.
"""

from __future__ import annotations

from io import BytesIO
from typing import Any

from .errors import DynamicUsageError
from .request import NextRequest

__all__ = ["StaticEnviron", "static_request"]

#: Per-client keys that are not headers (a header is any ``HTTP_*`` key).
_PER_CLIENT = frozenset(
    {"QUERY_STRING", "CONTENT_TYPE", "CONTENT_LENGTH", "REMOTE_ADDR", "REMOTE_PORT", "REMOTE_USER"}
)


def _per_client(key: object) -> bool:
    # Host is kept out of the view but never refused: the URL's origin falls
    # back to the server's name, as for a page rendered ahead of time.
    return isinstance(key, str) and (
        (key.startswith("HTTP_") and key != "HTTP_HOST") or key in _PER_CLIENT
    )


class StaticEnviron(dict[str, Any]):
    """A WSGI environ without the per-client keys; with *source*, reading one raises.

    Args:
        environ: The real request's environ.
        source: For ``dynamic = "error"``: the route file named in the error.
    """

    def __init__(self, environ: dict[str, Any], source: str | None = None) -> None:
        super().__init__(
            (k, v) for k, v in environ.items() if not _per_client(k) and k != "HTTP_HOST"
        )
        self.source = source
        dict.__setitem__(self, "QUERY_STRING", "")
        self["wsgi.input"] = BytesIO()
        for name in ("RAW_URI", "REQUEST_URI"):
            raw = dict.get(self, name)
            if isinstance(raw, str):
                self[name] = raw.split("?", 1)[0]

    def _refuse(self, key: object) -> None:
        if self.source is None or not _per_client(key):
            return
        name = str(key)
        if name.startswith("HTTP_"):
            what = f"the {name[5:].replace('_', '-').title()} header"
        else:
            what = {"QUERY_STRING": "the query", "CONTENT_TYPE": "the body", "CONTENT_LENGTH": "the body"}.get(
                name, "the client's address"
            )
        raise DynamicUsageError(
            f'dynamic = "error" in {self.source}: the handler read {what}; a static route '
            "cannot read the request's headers, cookies or query"
        )

    def __getitem__(self, key: str) -> Any:
        self._refuse(key)
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        self._refuse(key)
        return super().get(key, default)

    def __contains__(self, key: object) -> bool:
        self._refuse(key)
        return super().__contains__(key)


def static_request(request: NextRequest, source: str | None = None) -> NextRequest:
    """Return the static view of *request* (see the module docstring); raising on reads with *source*."""
    return NextRequest.from_environ(
        StaticEnviron(request.environ, source),
        request.secret_key,
        request.max_content_length,
        request.base_path,
    )
