"""with_idempotency: running a POST/PATCH once per ``Idempotency-Key`` and replaying its answer.

It follows the IETF "The Idempotency-Key HTTP Header Field" draft:

- the client sends ``Idempotency-Key: <unique string>`` (a UUID, typically);
- the first request with a key runs the handler under a lock and stores the
  request's fingerprint (method, path, query and a hash of the body; JSON is
  compared after parsing, multipart without its random boundary) and its
  final response (status, headers, body);
- a repeat with the same key and the same payload gets the stored response
  again with ``Idempotent-Replayed: true``, and the handler does not run;
- a repeat with a different payload gets 422, one arriving while the first is
  still running gets 409, and a request without a key (where one is required)
  or with a malformed one gets 400.

Keys are scoped per client: the same key from two users (or two IPs) names two
unrelated operations. Locks expire after ``lock_ttl`` seconds, so a worker that
crashes mid-request cannot wedge a key forever.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import secrets
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, overload

from ..context import RouteContext
from ..direct import respond
from ..errors import ApiError
from ..handlers import adapt_inner, mark_wrapper
from ..response import NextResponse
from ..stores import Store, StoreError, resolve_store
from ..typing import RouteHandler

if TYPE_CHECKING:
    from werkzeug.wrappers import Response

    from ..request import NextRequest

__all__ = ["default_scope", "with_idempotency"]

logger = logging.getLogger("handlerkit.idempotency")

#: The longest key accepted, in characters.
MAX_KEY_LENGTH = 255

#: Statuses that are not final answers: the client should retry, so they are not stored.
_RETRYABLE = frozenset({408, 409, 423, 425, 429})
_NOT_STORED = frozenset(
    {
        "age",
        "connection",
        "content-length",
        "date",
        "keep-alive",
        "set-cookie",
        "transfer-encoding",
        "x-request-id",
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
        "x-ratelimit-status",
        "idempotent-replayed",
    }
)
_FORMAT = 1

ScopeFunc = Callable[["NextRequest", RouteContext], str]


def default_scope(request: NextRequest, context: RouteContext) -> str:
    """Return the client a key belongs to: the authenticated user when known, else the IP.

    The user is ``context.state.user`` as ``with_auth`` sets it: its ``sub``,
    ``id``, ``user_id`` or ``username`` (the first present, as a dict key or an
    attribute), a plain ``str``/``int`` user itself, or for a dict without
    those a hash of the whole payload. Without a user, the client IP
    (``request.ip``, which honours only the App's trusted proxies).

    Raises:
        TypeError: The user is another kind of object with none of those
            attributes; its ``str()`` may embed a memory address, so it cannot
            name a client. Pass ``scope=`` to ``with_idempotency``.
    """
    user = getattr(context.state, "user", None)
    if user is not None:
        if isinstance(user, dict):
            for field in ("sub", "id", "user_id", "username"):
                if user.get(field) is not None:
                    return f"user:{user[field]}"
            raw = json.dumps(user, sort_keys=True, default=str)
            return "user#" + hashlib.sha256(raw.encode()).hexdigest()
        if isinstance(user, (str, int)) and not isinstance(user, bool):
            return f"user:{user}"
        for field in ("sub", "id", "user_id", "username"):
            value = getattr(user, field, None)
            if isinstance(value, (str, int)) and not isinstance(value, bool):
                return f"user:{value}"
        raise TypeError(
            f"with_idempotency: cannot tell which client a {type(user).__name__} user is "
            "(no sub, id, user_id or username); pass scope=(request, context) -> str"
        )
    return f"ip:{request.ip or 'unknown'}"


def _valid_key(value: str) -> bool:
    return 0 < len(value) <= MAX_KEY_LENGTH and all(" " <= ch <= "~" for ch in value)


def _fingerprint(request: NextRequest) -> str:
    digest = hashlib.sha256()
    # The raw query fields, not request.args: args keeps an invalid escape such
    # as %FF literally, so ?q=%FF and ?q=%25FF would look alike.
    query = b"&".join(sorted(f for f in request.query_string.split(b"&") if f))
    head = json.dumps([request.method, request.root_path + request.path], ensure_ascii=False)
    digest.update(head.encode("utf-8", "surrogatepass"))
    digest.update(b"\n")
    digest.update(query)
    digest.update(b"\n")
    digest.update(_payload(request))
    return digest.hexdigest()


def _payload(request: NextRequest) -> bytes:
    """Return the body in a form that is the same for two sends of the same payload."""
    body = request.bytes()
    mimetype = request.mimetype
    if mimetype == "application/json" or mimetype.endswith("+json"):
        try:
            data = request.json()
        except ApiError:
            return body
        # Key order and whitespace are not part of the payload.
        return json.dumps(data, sort_keys=True, separators=(",", ":")).encode("utf-8")
    if mimetype.startswith("multipart/"):
        # Clients draw a fresh random boundary for every send of the same form.
        boundary = request.mimetype_params.get("boundary", "")
        if boundary:
            return body.replace(b"--" + boundary.encode("latin-1", "replace"), b"--boundary")
    return body


def _encode(record: dict[str, Any], body: bytes = b"") -> bytes:
    return json.dumps(record, separators=(",", ":")).encode("utf-8") + b"\n" + body


def _decode(data: bytes | None) -> tuple[dict[str, Any], bytes] | None:
    if data is None:
        return None
    head, sep, body = data.partition(b"\n")
    try:
        record = json.loads(head)
    except ValueError:
        return None
    if not sep or not isinstance(record, dict) or record.get("v") != _FORMAT:
        return None
    return record, body


def _replay(record: dict[str, Any], body: bytes) -> NextResponse:
    response = NextResponse(body, record["status"], [tuple(h) for h in record["headers"]])
    response.headers["Idempotent-Replayed"] = "true"
    return response


def _storable(response: Response) -> bool:
    status = response.status_code
    return (
        status < 500
        and status not in _RETRYABLE
        and not response.is_streamed
        and not response.direct_passthrough
        and getattr(response, "middleware_action", None) is None
    )


def _error(status: int, code: str, message: str, **headers: str) -> ApiError:
    return ApiError(
        status, code, message, headers=[(k.replace("_", "-"), v) for k, v in headers.items()]
    )


@overload
def with_idempotency(handler: Callable[..., Any], /) -> RouteHandler: ...


@overload
def with_idempotency(
    handler: None = None,
    /,
    *,
    store: Store | str | None = ...,
    methods: Iterable[str] = ...,
    required: bool = ...,
    ttl: float = ...,
    lock_ttl: float = ...,
    scope: ScopeFunc | None = ...,
    header: str = ...,
) -> Callable[[Callable[..., Any]], RouteHandler]: ...


def with_idempotency(
    handler: Callable[..., Any] | None = None,
    /,
    *,
    store: Store | str | None = None,
    methods: Iterable[str] = ("POST", "PATCH"),
    required: bool = True,
    ttl: float = 24 * 3600,
    lock_ttl: float = 60,
    scope: ScopeFunc | None = None,
    header: str = "Idempotency-Key",
) -> RouteHandler | Callable[[Callable[..., Any]], RouteHandler]:
    """Run each keyed POST/PATCH once and replay its stored answer to repeats.

    Place it inside ``with_auth`` (so the key is scoped to the user) and
    outside ``with_validation``::

        @compose(with_auth, with_idempotency(store=REDIS_URL), with_validation(body=Order))
        def POST(request, context): ...

    Answers (all in the JSON error shape, none echoing the key):

    - 400 ``idempotency_key_missing``: no key where *required*;
    - 400 ``idempotency_key_invalid``: empty, over 255 characters, or with
      characters outside printable ASCII (CR, LF, NUL, ...);
    - 422 ``idempotency_key_reused``: the key was used with another payload;
    - 409 ``idempotency_key_in_flight`` (``Retry-After: 1``): the first request
      with the key has not finished;
    - 503 ``store_unavailable``: the store failed before the handler ran (the
      guarantee cannot be kept, so nothing runs).

    What is stored and replayed: final responses with a status below 500,
    except the retryable 408, 409, 423, 425 and 429, and except streamed
    bodies. Their status, headers (minus ``Set-Cookie``, ``Date`` and other
    per-exchange headers) and body are kept for *ttl* seconds. After a 5xx, an
    unhandled exception or a retryable status the lock is released so the
    client may retry with the same key. Only the first request's handler runs.

    Args:
        handler: The handler, when used bare (a per-process memory store).
        store: A :class:`~handlerkit.stores.Store`, a ``memory://``/``redis://``
            URL, or ``None`` for a new per-process ``MemoryStore``. Use Redis
            whenever more than one worker serves the route.
        methods: The methods the wrapper applies to; others pass through.
        required: Answer 400 when the key is missing; with ``False`` a request
            without a key simply runs.
        ttl: Seconds a completed answer is kept for replay.
        lock_ttl: Seconds the in-flight lock lives; make it longer than the
            slowest handler run. A crashed worker's lock expires after it.
        scope: ``(request, context) -> str`` naming the client a key belongs
            to; defaults to :func:`default_scope`.
        header: The request header carrying the key.

    Raises:
        ValueError: At configuration time, for a non-positive *ttl* or
            *lock_ttl*, or *methods* given as one string.
    """
    if isinstance(methods, str):
        raise ValueError('with_idempotency: methods must be a list, e.g. ["POST"]')
    for name, value in (("ttl", ttl), ("lock_ttl", lock_ttl)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise ValueError(f"with_idempotency: {name} must be a number of seconds > 0")
    if scope is not None and not callable(scope):
        raise ValueError("with_idempotency: scope must be a callable (request, context) -> str")
    applies = frozenset(method.upper() for method in methods)
    the_store = resolve_store(store)
    scope_of = scope or default_scope
    environ_key = "HTTP_" + header.upper().replace("-", "_")

    def decorate(inner: Callable[..., Any]) -> RouteHandler:
        call = adapt_inner(inner)

        @functools.wraps(inner)
        def wrapped(request: NextRequest, context: RouteContext | None = None) -> Any:
            if context is None:  # called directly: answer as the App would
                return respond(wrapped, request)
            if request.method not in applies:
                return call(request, context)
            raw = request.environ.get(environ_key)
            if raw is None:
                if required:
                    raise _error(
                        400,
                        "idempotency_key_missing",
                        f"This request needs an {header} header.",
                    )
                return call(request, context)
            value = raw.strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]  # the draft's sf-string form: "8e03978e-..."
            if not _valid_key(value):
                raise _error(
                    400,
                    "idempotency_key_invalid",
                    f"The {header} header must be 1-{MAX_KEY_LENGTH} printable ASCII characters.",
                )
            fingerprint = _fingerprint(request)
            owner = str(scope_of(request, context))
            store_key = (
                "idem:"
                + hashlib.sha256(f"{owner}\n{value}".encode("utf-8", "surrogatepass")).hexdigest()
            )
            token = secrets.token_hex(8)
            pending = _encode({"v": _FORMAT, "state": "pending", "fp": fingerprint, "lock": token})
            if not the_store.add(store_key, pending, lock_ttl):
                return _existing(the_store.get(store_key), fingerprint, header)
            return _run(call, request, context, store_key, fingerprint, pending)

        return mark_wrapper(wrapped, "with_idempotency", header=header, methods=sorted(applies))

    def _run(
        call: Callable[..., Any],
        request: NextRequest,
        context: RouteContext,
        store_key: str,
        fingerprint: str,
        lock: bytes,
    ) -> Any:
        # The lock is released in the finally unless an answer was recorded over
        # it: whatever fails on the way (rendering an error, reading the body,
        # encoding the record), a retry must never find a lock nobody holds.
        recorded = False
        try:
            try:
                result = call(request, context)
            except ApiError as exc:
                recorded = _finish(store_key, fingerprint, NextResponse.from_error(exc), lock)
                raise
            if hasattr(result, "status_code"):
                recorded = _finish(store_key, fingerprint, result, lock)
            return result
        finally:
            if not recorded:
                _release(store_key, lock)

    def _finish(store_key: str, fingerprint: str, response: Response, lock: bytes) -> bool:
        """Record *response* over our lock; return whether the key no longer needs releasing."""
        if not _storable(response):
            return False
        headers = [[k, v] for k, v in response.headers.items() if k.lower() not in _NOT_STORED]
        record = {
            "v": _FORMAT,
            "state": "done",
            "fp": fingerprint,
            "status": response.status_code,
            "headers": headers,
        }
        value = _encode(record, response.get_data())
        try:
            # Only over our own lock: if it expired and another run holds the
            # key now, that run's answer is the one to keep.
            if not _set_if(store_key, lock, value):
                logger.warning("idempotency lock expired before the answer was recorded")
        except StoreError:
            # The side effect happened; answer it rather than hide it behind a 503.
            # Releasing would fail the same way; the lock expires by itself.
            logger.warning("idempotency store unavailable; answer not recorded", exc_info=True)
        return True

    def _set_if(store_key: str, lock: bytes, value: bytes) -> bool:
        set_if = getattr(the_store, "set_if", None)
        if set_if is not None:
            return bool(set_if(store_key, lock, value, ttl))
        # A custom store without set_if: not atomic, another run may take the
        # key between the get and the set.
        if the_store.get(store_key) != lock:
            return False
        the_store.set(store_key, value, ttl)
        return True

    def _release(store_key: str, lock: bytes) -> None:
        try:
            delete_if = getattr(the_store, "delete_if", None)
            if delete_if is not None:
                delete_if(store_key, lock)
            elif the_store.get(store_key) == lock:
                # A custom store without delete_if: not atomic, see set_if.
                the_store.delete(store_key)
        except StoreError:
            logger.warning("idempotency store unavailable; lock expires by itself", exc_info=True)

    if handler is not None:
        return decorate(handler)
    return decorate


def _existing(data: bytes | None, fingerprint: str, header: str) -> NextResponse:
    decoded = _decode(data)
    if decoded is None:
        # Gone between our add and get (expired or released): still busy or
        # just retried; the client should try again.
        raise _error(
            409,
            "idempotency_key_in_flight",
            f"A request with this {header} is being processed; retry shortly.",
            Retry_After="1",
        )
    record, body = decoded
    if record.get("fp") != fingerprint:
        raise _error(
            422,
            "idempotency_key_reused",
            f"This {header} was already used with a different request.",
        )
    if record.get("state") != "done":
        raise _error(
            409,
            "idempotency_key_in_flight",
            f"A request with this {header} is being processed; retry shortly.",
            Retry_After="1",
        )
    return _replay(record, body)
