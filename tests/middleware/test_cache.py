"""with_cache and the revalidate/dynamic segment config: keys, HIT/MISS, what is never stored."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from handlerkit import App, NextRequest, NextResponse, RouteContext
from handlerkit.errors import ApiError
from handlerkit.middleware.cache import segment_cache, with_cache
from handlerkit.stores import MemoryStore, RedisStore, Store
from handlerkit.testing import Client
from tests.support.servers import free_port


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest) -> Iterator[Store]:
    if request.param == "memory":
        yield MemoryStore()
    else:
        # generous timeouts: these tests are about behaviour, not a slow CI machine
        yield RedisStore(
            str(request.getfixturevalue("redis_url")) + "?socket_timeout=2&socket_connect_timeout=2"
        )


class Counter:
    """A handler that counts its calls and answers with the count."""

    def __init__(self, build: Callable[[int], Any] | None = None) -> None:
        self.calls = 0
        self.build = build or (lambda n: NextResponse.json({"n": n}))

    def __call__(self, request: NextRequest, context: RouteContext) -> Any:
        self.calls += 1
        return self.build(self.calls)


def get(url: str = "http://localhost/items?a=1", **headers: str) -> NextRequest:
    return NextRequest(url, headers=headers)


# -- direct calls ----------------------------------------------------------------


def test_miss_then_hit_replays_status_headers_and_body(store: Store) -> None:
    def build(n: int) -> NextResponse:
        return NextResponse.json({"n": n}, headers={"X-Custom": "yes", "ETag": '"v1"'})

    inner = Counter(build)
    handler = with_cache(ttl=30, store=store)(inner)
    first = handler(get(), RouteContext())
    second = handler(get(), RouteContext())
    assert inner.calls == 1
    assert first.headers["X-Cache"] == "MISS"
    assert second.headers["X-Cache"] == "HIT"
    assert second.status_code == 200
    assert second.json() == {"n": 1}
    assert second.headers["X-Custom"] == "yes"
    assert second.headers["ETag"] == '"v1"'
    assert second.headers["Content-Type"] == "application/json"
    assert int(second.headers["Age"]) >= 0
    assert handler.__wrapped__ is inner  # type: ignore[attr-defined]


def test_bare_form_and_request_only_call() -> None:
    inner = Counter()
    handler = with_cache(inner)
    handler(get())  # type: ignore[call-arg]
    assert handler(get()).headers["X-Cache"] == "HIT"  # type: ignore[call-arg]
    assert inner.calls == 1


def test_entries_expire_after_ttl(store: Store) -> None:
    inner = Counter()
    handler = with_cache(ttl=0.2, store=store)(inner)
    handler(get(), RouteContext())
    assert handler(get(), RouteContext()).headers["X-Cache"] == "HIT"
    deadline = time.monotonic() + 5
    while inner.calls == 1 and time.monotonic() < deadline:
        time.sleep(0.05)
        handler(get(), RouteContext())
    assert inner.calls == 2


def test_query_order_does_not_matter_but_values_do() -> None:
    inner = Counter()
    handler = with_cache(ttl=30)(inner)
    handler(get("http://localhost/items?a=1&b=2"), RouteContext())
    assert (
        handler(get("http://localhost/items?b=2&a=1"), RouteContext()).headers["X-Cache"] == "HIT"
    )
    assert (
        handler(get("http://localhost/items?a=1&b=3"), RouteContext()).headers["X-Cache"] == "MISS"
    )
    assert (
        handler(get("http://localhost/items?a=1&a=2&b=2"), RouteContext()).headers["X-Cache"]
        == "MISS"
    )
    assert (
        handler(get("http://localhost/other?a=1&b=2"), RouteContext()).headers["X-Cache"] == "MISS"
    )
    assert inner.calls == 4


@pytest.mark.parametrize(
    "header",
    [
        "X-Forwarded-Host",
        "X-Forwarded-For",
        "X-Forwarded-Proto",
        "X-Original-URL",
        "Accept",
    ],
)
def test_unkeyed_headers_cannot_poison_the_cache(header: str, store: Store) -> None:
    """BAD_INPUTS L6: only declared Vary headers are part of the key."""

    def reflect(request: NextRequest, context: RouteContext) -> NextResponse:
        return NextResponse.json({"seen": request.headers.get(header)})

    handler = with_cache(ttl=30, store=store)(reflect)
    poisoned = handler(get(**{header: "evil.example"}), RouteContext())
    assert poisoned.headers["X-Cache"] == "MISS"
    victim = handler(get(), RouteContext())
    # The victim shares the entry, so the header must not change the key; the
    # defence is that a handler reflecting an undeclared header must declare it.
    assert victim.headers["X-Cache"] == "HIT"

    keyed = with_cache(ttl=30, store=store, vary=[header])(reflect)
    keyed(get("http://localhost/keyed", **{header: "evil.example"}), RouteContext())
    clean = keyed(get("http://localhost/keyed", **{header: "good.example"}), RouteContext())
    assert clean.headers["X-Cache"] == "MISS"
    assert clean.json() == {"seen": "good.example"}


def test_the_host_is_part_of_the_key(store: Store) -> None:
    """A forged Host gets its own entry: absolute URLs built from it never reach other hosts."""

    def links(request: NextRequest, context: RouteContext) -> NextResponse:
        return NextResponse.json({"next": request.nextUrl.origin + "/docs?page=2"})

    handler = with_cache(ttl=30, store=store)(links)
    forged = handler(get("http://localhost/docs", Host="evil.example"), RouteContext())
    assert forged.json() == {"next": "http://evil.example/docs?page=2"}
    victim = handler(get("http://localhost/docs", Host="api.example.com"), RouteContext())
    assert victim.headers["X-Cache"] == "MISS"
    assert victim.json() == {"next": "http://api.example.com/docs?page=2"}
    again = handler(get("http://localhost/docs", Host="api.example.com"), RouteContext())
    assert again.headers["X-Cache"] == "HIT" and again.json() == victim.json()
    # The scheme too: an https answer is not served to http.
    secure = handler(get("https://api.example.com/docs"), RouteContext())
    assert secure.headers["X-Cache"] == "MISS"
    assert secure.json() == {"next": "https://api.example.com/docs?page=2"}


def test_the_host_through_an_app_cannot_poison_another_host(make_client: Any) -> None:
    client = make_client(
        {
            "docs/route.py": """
                revalidate = 60
                def GET(request, context):
                    return {"next": str(request.nextUrl.origin) + "/docs?page=2"}
            """
        }
    )
    client.get("/docs", headers={"Host": "evil.example"})
    victim = client.get("/docs", headers={"Host": "api.example.com"})
    assert victim.json() == {"next": "http://api.example.com/docs?page=2"}


def test_raw_query_escapes_never_share_an_entry(store: Store) -> None:
    """?q=%FF (searchParams: U+FFFD) and ?q=%25FF (searchParams: "%FF") are two queries."""

    def search(request: NextRequest, context: RouteContext) -> NextResponse:
        return NextResponse.json({"q": request.nextUrl.searchParams.get("q")})

    handler = with_cache(ttl=30, store=store)(search)
    first = handler(get("http://localhost/search?q=%FF"), RouteContext())
    assert first.json() == {"q": "\ufffd"}
    second = handler(get("http://localhost/search?q=%25FF"), RouteContext())
    assert second.headers["X-Cache"] == "MISS" and second.json() == {"q": "%FF"}
    # Field order still does not matter.
    handler(get("http://localhost/search?a=1&b=2"), RouteContext())
    swapped = handler(get("http://localhost/search?b=2&a=1"), RouteContext())
    assert swapped.headers["X-Cache"] == "HIT"


def test_declared_vary_headers_split_entries() -> None:
    def negotiate(request: NextRequest) -> NextResponse:
        return NextResponse.json(
            {"lang": request.headers.get("Accept-Language")}, headers={"Vary": "Accept-Language"}
        )

    handler = with_cache(ttl=30, vary=["Accept-Language"])(negotiate)
    assert handler(get(**{"Accept-Language": "fr"}), RouteContext()).json() == {"lang": "fr"}
    english = handler(get(**{"Accept-Language": "en"}), RouteContext())
    assert english.headers["X-Cache"] == "MISS"
    assert english.json() == {"lang": "en"}
    french = handler(get(**{"Accept-Language": "fr"}), RouteContext())
    assert french.headers["X-Cache"] == "HIT"
    assert french.json() == {"lang": "fr"}


def _never_stored_cases() -> list[tuple[str, Callable[[int], Any]]]:
    def with_cookie(n: int) -> NextResponse:
        response = NextResponse.json({"n": n})
        response.cookies.set("session", "abc")
        return response

    def with_signed_cookie(n: int) -> NextResponse:
        response = NextResponse.json({"n": n})
        response.cookies.set_signed("session", {"u": 1})  # signed later, by the App
        return response

    return [
        ("set-cookie", with_cookie),
        ("pending signed cookie", with_signed_cookie),
        (
            "private",
            lambda n: NextResponse.json({"n": n}, headers={"Cache-Control": "private, max-age=60"}),
        ),
        ("no-store", lambda n: NextResponse.json({"n": n}, headers={"Cache-Control": "no-store"})),
        ("no-cache", lambda n: NextResponse.json({"n": n}, headers={"Cache-Control": "no-cache"})),
        (
            "vary authorization",
            lambda n: NextResponse.json({"n": n}, headers={"Vary": "Authorization"}),
        ),
        ("vary star", lambda n: NextResponse.json({"n": n}, headers={"Vary": "*"})),
        (
            "vary undeclared",
            lambda n: NextResponse.json({"n": n}, headers={"Vary": "Accept, Origin"}),
        ),
        ("201", lambda n: NextResponse.json({"n": n}, status=201)),
        ("404", lambda n: NextResponse.json({"n": n}, status=404)),
        ("streamed", lambda n: NextResponse(iter([b"chunk-", str(n).encode()]))),
    ]


@pytest.mark.parametrize(
    "name, build", _never_stored_cases(), ids=[c[0] for c in _never_stored_cases()]
)
def test_responses_that_are_never_stored(
    name: str, build: Callable[[int], Any], store: Store
) -> None:
    inner = Counter(build)
    handler = with_cache(ttl=30, store=store)(inner)
    handler(get(), RouteContext())
    again = handler(get(), RouteContext())
    assert inner.calls == 2, name
    assert again.headers["X-Cache"] == "MISS"


def test_streamed_bodies_are_not_consumed() -> None:
    consumed = []

    def stream() -> Iterator[bytes]:
        for chunk in (b"a", b"b"):
            consumed.append(chunk)
            yield chunk

    handler = with_cache(ttl=30)(lambda: NextResponse(stream()))
    response = handler(get(), RouteContext())
    assert consumed == []
    assert response.is_streamed
    assert b"".join(response.response) == b"ab"


@pytest.mark.parametrize("header", ["Authorization", "Cookie"])
def test_requests_with_credentials_bypass_unless_declared(header: str, store: Store) -> None:
    inner = Counter()
    handler = with_cache(ttl=30, store=store)(inner)
    handler(get(**{header: "Bearer alice"}), RouteContext())
    bob = handler(get(**{header: "Bearer bob"}), RouteContext())
    assert "X-Cache" not in bob.headers
    assert bob.json() == {"n": 2}
    # an anonymous request never sees a credentialed answer
    anonymous = handler(get(), RouteContext())
    assert anonymous.headers["X-Cache"] == "MISS"
    assert inner.calls == 3

    per_user = with_cache(ttl=30, store=store, vary=[header])(Counter())
    per_user(get("http://localhost/me", **{header: "alice"}), RouteContext())
    assert (
        per_user(get("http://localhost/me", **{header: "alice"}), RouteContext()).headers["X-Cache"]
        == "HIT"
    )
    assert (
        per_user(get("http://localhost/me", **{header: "bob"}), RouteContext()).headers["X-Cache"]
        == "MISS"
    )


def test_only_get_and_head_are_cached() -> None:
    inner = Counter()
    handler = with_cache(ttl=30)(inner)
    for _ in range(2):
        response = handler(
            NextRequest("http://localhost/items", method="POST", json={}), RouteContext()
        )
        assert "X-Cache" not in response.headers
    assert inner.calls == 2
    # HEAD never writes an entry (a HEAD handler may answer without a body)...
    handler(NextRequest("http://localhost/items", method="HEAD"), RouteContext())
    head = handler(NextRequest("http://localhost/items", method="HEAD"), RouteContext())
    assert head.headers["X-Cache"] == "MISS"
    assert inner.calls == 4
    # ...but reads the GET one
    handler(get("http://localhost/items"), RouteContext())
    head = handler(NextRequest("http://localhost/items", method="HEAD"), RouteContext())
    assert head.headers["X-Cache"] == "HIT"
    assert head.json() == {"n": 5}


def test_errors_pass_through_uncached() -> None:
    calls = itertools.count(1)

    def fails(request: NextRequest) -> NextResponse:
        raise ApiError(404, "not_found", f"miss {next(calls)}")

    handler = with_cache(ttl=30)(fails)
    for expected in ("miss 1", "miss 2"):
        with pytest.raises(ApiError, match=expected):
            handler(get(), RouteContext())


def test_dict_results_are_cached_as_json() -> None:
    inner = Counter(lambda n: {"n": n})
    handler = with_cache(ttl=30)(inner)
    handler(get(), RouteContext())
    hit = handler(get(), RouteContext())
    assert hit.headers["X-Cache"] == "HIT"
    assert hit.json() == {"n": 1}


def test_bodies_over_max_size_are_not_stored() -> None:
    inner = Counter(lambda n: NextResponse(b"x" * 2000))
    handler = with_cache(ttl=30, max_size=1000)(inner)
    handler(get(), RouteContext())
    handler(get(), RouteContext())
    assert inner.calls == 2


def test_a_failing_store_is_skipped_not_a_500() -> None:
    inner = Counter()
    handler = with_cache(ttl=30, store=f"redis://127.0.0.1:{free_port()}/0")(inner)
    for n in (1, 2):
        response = handler(get(), RouteContext())
        assert response.status_code == 200
        assert response.json() == {"n": n}


def test_corrupt_entries_are_treated_as_misses() -> None:
    store = MemoryStore()
    inner = Counter()
    handler = with_cache(ttl=30, store=store)(inner)
    handler(get(), RouteContext())
    for key in list(store._data):
        store.set(key, b"not a cache entry")
    assert handler(get(), RouteContext()).headers["X-Cache"] == "MISS"
    assert inner.calls == 2


@pytest.mark.parametrize(
    "options", [{"ttl": 0}, {"ttl": -1}, {"ttl": True}, {"vary": "Accept"}, {"vary": ["a\r\nb"]}]
)
def test_bad_configuration_fails_at_wrap_time(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="with_cache"):
        with_cache(**options)


# -- segment config ------------------------------------------------------------------


def test_segment_cache_choices() -> None:
    store = MemoryStore()
    assert segment_cache({}, store) is None
    assert segment_cache({"revalidate": False}, store) is None
    assert segment_cache({"dynamic": "auto"}, store) is None
    assert segment_cache({"revalidate": 0}, store) is not None
    assert segment_cache({"dynamic": "force-dynamic"}, store) is not None
    assert segment_cache({"revalidate": 10}, store) is not None


COUNTING_ROUTE = """
import itertools
from handlerkit import NextResponse
{config}
_calls = itertools.count(1)

def GET(request):
    response = NextResponse.json({{"n": next(_calls)}})
    if request.next_url.search_params.get("cookie"):
        response.cookies.set("s", "1")
    if request.next_url.search_params.get("vary"):
        response.headers["Vary"] = "Authorization"
    return response

def POST(request):
    return NextResponse.json({{"n": next(_calls)}})
"""


def client_for(make_app: Callable[..., App], config: str, **options: Any) -> Client:
    return Client(make_app({"items/route.py": COUNTING_ROUTE.format(config=config)}, **options))


def test_revalidate_caches_get_and_sets_cache_control(make_app: Callable[..., App]) -> None:
    client = client_for(make_app, "revalidate = 30")
    first, second = client.get("/items"), client.get("/items")
    assert first.json() == second.json() == {"n": 1}
    assert first.headers["X-Cache"] == "MISS"
    assert second.headers["X-Cache"] == "HIT"
    for response in (first, second):
        assert response.headers["Cache-Control"] == "public, s-maxage=30, stale-while-revalidate"
    head = client.head("/items")
    assert head.status_code == 200
    assert head.headers["X-Cache"] == "HIT"  # HEAD reads the GET entry
    assert head.get_data() == b""
    # POST is never cached and gets no header
    post = client.post("/items", json={})
    assert post.json() == {"n": 2}
    assert "Cache-Control" not in post.headers


def test_revalidate_never_caches_cookie_setting_or_authorization_answers(
    make_app: Callable[..., App],
) -> None:
    client = client_for(make_app, "revalidate = 30")
    assert client.get("/items?cookie=1").json() == {"n": 1}
    again = client.get("/items?cookie=1")
    assert again.json() == {"n": 2}
    assert "public" not in again.headers.get("Cache-Control", "")

    client = Client(client.application)  # a fresh client: no cookie from the answer above
    assert client.get("/items?vary=1").json() == {"n": 3}
    assert client.get("/items?vary=1").json() == {"n": 4}

    authorized = client.get("/items", headers={"Authorization": "Bearer alice"})
    assert authorized.json() == {"n": 5}
    assert "Cache-Control" not in authorized.headers
    anonymous = client.get("/items")
    assert anonymous.json() == {"n": 6}  # the Bearer answer was not stored
    assert anonymous.headers["X-Cache"] == "MISS"


@pytest.mark.parametrize(
    "config",
    ["revalidate = 0", 'dynamic = "force-dynamic"', 'revalidate = 30\ndynamic = "force-dynamic"'],
)
def test_zero_or_force_dynamic_means_no_store(make_app: Callable[..., App], config: str) -> None:
    client = client_for(make_app, config)
    first, second = client.get("/items"), client.get("/items")
    assert (first.json(), second.json()) == ({"n": 1}, {"n": 2})
    assert first.headers["Cache-Control"] == second.headers["Cache-Control"] == "no-store"
    assert "X-Cache" not in second.headers


def test_no_segment_config_means_no_cache_and_no_header(make_app: Callable[..., App]) -> None:
    client = client_for(make_app, "")
    first, second = client.get("/items"), client.get("/items")
    assert (first.json(), second.json()) == ({"n": 1}, {"n": 2})
    assert "Cache-Control" not in second.headers
    assert "X-Cache" not in second.headers


def test_revalidate_uses_the_apps_redis_cache_store(
    make_app: Callable[..., App], redis_url: str
) -> None:
    """Two Apps (standing in for two workers) share answers through cache_store="redis://..."."""
    first_app = client_for(make_app, "revalidate = 30", cache_store=redis_url)
    assert isinstance(first_app.application.cache_store, RedisStore)
    assert first_app.get("/items").json() == {"n": 1}
    # A second app over the same tree, with its own module state, gets the stored answer.
    second_app = client_for(make_app, "revalidate = 30", cache_store=RedisStore(redis_url, socket_timeout=2))
    hit = second_app.get("/items")
    assert hit.headers["X-Cache"] == "HIT"
    assert hit.json() == {"n": 1}


def test_revalidate_cache_is_inside_the_apps_wrap(make_app: Callable[..., App]) -> None:
    seen = []

    def outer(handler: Callable[..., Any]) -> Callable[..., Any]:
        def wrapped(request: NextRequest, context: RouteContext) -> Any:
            response = handler(request, context)
            seen.append(response.headers.get("X-Cache"))
            return response

        return wrapped

    client = client_for(make_app, "revalidate = 30", wrap=outer)
    client.get("/items")
    client.get("/items")
    assert seen == ["MISS", "HIT"]


CACHED_ROUTE = """
import itertools
from handlerkit import NextResponse, compose, with_cache, with_rate_limit

_calls = itertools.count(1)

@compose(with_rate_limit(limit=3, window=60), with_cache(ttl=30))
def GET(request):
    return NextResponse.json({"n": next(_calls)})
"""


def test_with_cache_through_an_app_under_a_rate_limit(make_app: Callable[..., App]) -> None:
    client = Client(make_app({"cached/route.py": CACHED_ROUTE}))
    responses = [
        client.get("/cached?b=2&a=1"),
        client.get("/cached?a=1&b=2"),
        client.get("/cached"),
    ]
    assert [r.headers["X-Cache"] for r in responses] == ["MISS", "HIT", "MISS"]
    assert [r.json()["n"] for r in responses] == [1, 1, 2]
    # rate-limit headers are the live ones, never replayed from the entry
    assert [r.headers["X-RateLimit-Remaining"] for r in responses] == ["2", "1", "0"]
    limited = client.get("/cached?a=1&b=2")
    assert limited.status_code == 429  # the limiter sits outside: hits count too
    assert "X-Cache" not in limited.headers


def test_encoded_slashes_cannot_cross_routes_or_params(make_app: Callable[..., App]) -> None:
    """/items/a%2Fb and /items/a/b decode to the same path but are different resources."""
    one = (
        "revalidate = 30\n"
        "def GET(request, context):\n"
        "    return {'route': 'one', 'params': context.params}\n"
    )
    many = (
        "revalidate = 30\n"
        "def GET(request, context):\n"
        "    return {'route': 'many', 'params': context.params}\n"
    )
    client = Client(make_app({"items/[id]/route.py": one, "items/[...slug]/route.py": many}))
    encoded = client.get("/items/a%2Fb")
    assert encoded.json() == {"route": "one", "params": {"id": "a/b"}}
    plain = client.get("/items/a/b")
    assert plain.headers["X-Cache"] == "MISS"
    assert plain.json() == {"route": "many", "params": {"slug": ["a", "b"]}}
    assert client.get("/items/a%2Fb").json() == encoded.json()
    assert client.get("/items/a%2Fb").headers["X-Cache"] == "HIT"
