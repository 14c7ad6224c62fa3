"""middleware.py: matchers, next() overrides, rewrites, short-circuits, nesting, errors, and no bypass header."""

from __future__ import annotations

import pytest

from handlerkit.errors import RouteDefinitionError
from handlerkit.routing.matcher import compile_matcher

ECHO = """
    from handlerkit import NextResponse

    def GET(request, context):
        return NextResponse.json({
            "route": context.route,
            "params": context.params,
            "path": request.next_url.pathname,
            "query": request.args.to_dict(),
            "x_user": request.headers.get("X-User"),
            "x_drop": request.headers.get("X-Drop"),
            "ran": request.headers.get("X-Ran"),
            "state": getattr(context.state, "who", None),
        })
"""


# ----------------------------------------------------------------- matcher syntax


@pytest.mark.parametrize(
    ("source", "yes", "no"),
    [
        ("/api/:path*", ["/api", "/api/", "/api/a", "/api/a/b/c"], ["/apis", "/x/api", "/"]),
        ("/api/:path+", ["/api/a", "/api/a/b"], ["/api", "/api/", "/apix/a"]),
        ("/u/:id?", ["/u", "/u/1"], ["/u/1/2"]),
        ("/u/:id", ["/u/1", "/u/1/"], ["/u", "/u/1/2"]),
        ("/u/:id(\\d+)", ["/u/12"], ["/u/ab", "/u/12/x"]),
        ("/((?!static|favicon.ico).*)", ["/", "/api/x", "/assets/static"], ["/static", "/statics", "/static/a.css", "/favicon.ico"]),
        ("/about", ["/about", "/about/"], ["/about/x", "/aboutus"]),
        ("/a.b", ["/a.b"], ["/axb"]),
    ],
)
def test_matcher_syntax(source: str, yes: list[str], no: list[str]) -> None:
    matcher = compile_matcher(source)
    for path in yes:
        assert matcher.pattern.fullmatch(path), (source, path)
    for path in no:
        assert not matcher.pattern.fullmatch(path), (source, path)


@pytest.mark.parametrize("bad", ["api/:path*", "/a/:", "/a/(b", "/a/{b}", "/a/:x([)", {"source": "/a", "has": [{"type": "body"}]}, {"source": "/a", "nope": 1}])
def test_malformed_matchers_are_refused(bad: object) -> None:
    with pytest.raises(ValueError):
        compile_matcher(bad)  # type: ignore[arg-type]


def test_a_malformed_matcher_fails_at_startup_naming_the_file(make_app) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RouteDefinitionError, match="middleware.py") as info:
        make_app({
            "middleware.py": """
                def middleware(request):
                    return None

                config = {"matcher": ["/api/:path*", "no-slash"]}
            """,
            "api/route.py": ECHO,
        })
    assert any(f.endswith("middleware.py") for f in info.value.files)


def test_a_middleware_file_without_a_function_fails_at_startup(make_app) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RouteDefinitionError, match="middleware"):
        make_app({"middleware.py": "config = {}\n", "api/route.py": ECHO})


# ------------------------------------------------------------------ root middleware

ROOT_APP = {
    "middleware.py": """
        from handlerkit import NextResponse

        def middleware(request):
            path = request.next_url.pathname
            if path.startswith("/api/private"):
                if request.headers.get("Authorization") != "Bearer letmein":
                    return NextResponse.json({"error": "unauthorized", "message": "No."}, status=401)
            if path == "/api/old":
                return NextResponse.redirect("/api/new", 308)
            if path == "/api/alias":
                return NextResponse.rewrite("/api/items/42?from=alias")
            if path == "/api/boom":
                raise RuntimeError("middleware exploded")
            if path == "/api/teapot":
                from handlerkit import ApiError
                raise ApiError(418, "teapot", "Short and stout.")
            return NextResponse.next(
                request_headers={"X-User": "from-middleware", "X-Drop": None, "X-Ran": "root"},
                headers={"X-Frame-Options": "DENY"},
            )

        config = {"matcher": ["/api/:path*"]}
    """,
    "api/items/[id]/route.py": ECHO,
    "api/private/route.py": ECHO,
    "api/new/route.py": ECHO,
    "api/echo/route.py": ECHO,
    "other/route.py": ECHO,
}


def test_next_overrides_request_headers_and_adds_response_headers(make_client) -> None:  # type: ignore[no-untyped-def]
    client = make_client(ROOT_APP)
    response = client.get("/api/echo", headers={"X-User": "forged", "X-Drop": "should-go"})
    assert response.status_code == 200
    data = response.json()
    assert data["x_user"] == "from-middleware" and data["x_drop"] is None and data["ran"] == "root"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_paths_outside_the_matcher_skip_middleware(make_client) -> None:  # type: ignore[no-untyped-def]
    client = make_client(ROOT_APP)
    response = client.get("/other", headers={"X-User": "client"})
    assert response.json()["x_user"] == "client" and response.json()["ran"] is None
    assert "X-Frame-Options" not in response.headers


def test_a_short_circuit_response_is_returned_as_is(make_client) -> None:  # type: ignore[no-untyped-def]
    client = make_client(ROOT_APP)
    assert client.get("/api/private").status_code == 401
    assert client.get("/api/private", headers={"Authorization": "Bearer letmein"}).status_code == 200


def test_redirects(make_client) -> None:  # type: ignore[no-untyped-def]
    response = make_client(ROOT_APP).get("/api/old")
    assert response.status_code == 308 and response.headers["Location"] == "/api/new"


def test_rewrite_routes_internally_with_the_new_query(make_client) -> None:  # type: ignore[no-untyped-def]
    response = make_client(ROOT_APP).get("/api/alias?ignored=1")
    assert response.status_code == 200
    data = response.json()
    assert data["route"] == "/api/items/[id]" and data["params"] == {"id": "42"}
    assert data["path"] == "/api/items/42" and data["query"] == {"from": "alias"}


def test_next_headers_are_added_to_404s_too(make_client) -> None:  # type: ignore[no-untyped-def]
    response = make_client(ROOT_APP).get("/api/nothing-here")
    assert response.status_code == 404 and response.headers["X-Frame-Options"] == "DENY"
    assert response.json()["error"] == "not_found"


def test_exceptions_in_middleware_go_through_the_error_boundary(make_client) -> None:  # type: ignore[no-untyped-def]
    client = make_client(ROOT_APP)
    response = client.get("/api/boom", headers={"X-Request-ID": "mw-1"})
    assert response.status_code == 500
    assert response.json() == {
        "error": "internal_error",
        "message": "An internal error occurred.",
        "details": {"request_id": "mw-1"},
    }
    teapot = client.get("/api/teapot")
    assert teapot.status_code == 418 and teapot.json()["error"] == "teapot"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("x-middleware-subrequest", "middleware"),
        ("x-middleware-subrequest", "middleware:middleware:middleware:middleware:middleware"),
        ("x-middleware-subrequest", "src/middleware:src/middleware:src/middleware:src/middleware:src/middleware"),
        ("x-middleware-skip", "1"),
        ("x-middleware-next", "1"),
        ("x-middleware-rewrite", "/api/echo"),
        ("x-middleware-override-headers", "authorization"),
        ("x-handlerkit-middleware", "skip"),
        ("x-now-route-matches", "1"),
        ("x-invoke-path", "/api/echo"),
        ("purpose", "prefetch"),
    ],
)
def test_e7_no_client_header_skips_middleware(make_client, name: str, value: str) -> None:  # type: ignore[no-untyped-def]
    client = make_client(ROOT_APP)
    assert client.get("/api/private", headers={name: value}).status_code == 401
    echoed = client.get("/api/echo", headers={name: value})
    assert echoed.json()["ran"] == "root" and echoed.json()["path"] == "/api/echo"


def test_middleware_reading_the_body_leaves_it_for_the_handler(make_client) -> None:  # type: ignore[no-untyped-def]
    client = make_client({
        "middleware.py": """
            from handlerkit import NextResponse

            def middleware(request):
                if request.method == "POST" and request.json().get("blocked"):
                    return NextResponse.json({"error": "blocked", "message": "Blocked."}, status=403)
                return NextResponse.next(request_headers={"X-Checked": "yes"})
        """,
        "api/route.py": """
            from handlerkit import NextResponse

            def POST(request):
                return NextResponse.json({"got": request.json(), "checked": request.headers.get("X-Checked")})
        """,
    })
    response = client.post("/api/", json={"a": 1}, follow_redirects=True)
    assert response.json() == {"got": {"a": 1}, "checked": "yes"}
    assert client.post("/api", json={"blocked": True}).status_code == 403


# -------------------------------------------------------------- has / missing

HAS_APP = {
    "middleware.py": """
        from handlerkit import NextResponse

        def middleware(request):
            return NextResponse.json({"error": "stopped", "message": "Stopped."}, status=403)

        config = {
            "matcher": [
                {"source": "/h/:path*", "has": [{"type": "header", "key": "X-Beta", "value": "on|yes"}]},
                {"source": "/q/:path*", "has": [{"type": "query", "key": "preview"}]},
                {"source": "/c/:path*", "missing": [{"type": "cookie", "key": "session"}]},
                {"source": "/m/:path*", "has": [{"type": "header", "key": "X-A"}], "missing": [{"type": "query", "key": "skip", "value": "1"}]},
            ]
        }
    """,
    "h/route.py": ECHO,
    "q/route.py": ECHO,
    "c/route.py": ECHO,
    "m/route.py": ECHO,
}


def test_has_and_missing_conditions(make_client) -> None:  # type: ignore[no-untyped-def]
    client = make_client(HAS_APP)
    assert client.get("/h").status_code == 200
    assert client.get("/h", headers={"X-Beta": "on"}).status_code == 403
    assert client.get("/h", headers={"x-beta": "yes"}).status_code == 403
    assert client.get("/h", headers={"X-Beta": "only"}).status_code == 200  # the value must match in full
    assert client.get("/q").status_code == 200
    assert client.get("/q?preview").status_code == 403
    assert client.get("/c").status_code == 403
    client.set_cookie("session", "abc")
    assert client.get("/c").status_code == 200
    assert client.get("/m", headers={"X-A": "1"}).status_code == 403
    assert client.get("/m?skip=1", headers={"X-A": "1"}).status_code == 200
    assert client.get("/m?skip=10", headers={"X-A": "1"}).status_code == 403


# ------------------------------------------------------------ folder middleware

NESTED = {
    "middleware.py": """
        from handlerkit import NextResponse

        def middleware(request):
            return NextResponse.next(request_headers={"X-Ran": "root"}, headers={"X-Order": "root"})
    """,
    "shop/middleware.py": """
        from handlerkit import NextResponse

        def middleware(request, context):
            context.state.who = "shop"
            ran = request.headers.get("X-Ran", "") + ",shop"
            return NextResponse.next(request_headers={"X-Ran": ran}, headers={"X-Order": "shop"})
    """,
    "shop/(admin)/middleware.py": """
        from handlerkit import NextResponse

        def middleware(request, context):
            if request.headers.get("X-Admin") != "yes":
                return NextResponse.json({"error": "forbidden", "message": "Admins only."}, status=403)
            ran = request.headers.get("X-Ran", "") + ",admin"
            return NextResponse.next(request_headers={"X-Ran": ran}, headers={"X-Order": "admin"})
    """,
    "shop/(admin)/orders/[id]/route.py": ECHO,
    "shop/cart/route.py": ECHO,
    "blog/route.py": ECHO,
}


def test_folder_middleware_runs_root_to_leaf_after_routing(make_client) -> None:  # type: ignore[no-untyped-def]
    client = make_client(NESTED)
    response = client.get("/shop/orders/9", headers={"X-Admin": "yes"})
    data = response.json()
    assert data["ran"] == "root,shop,admin"
    assert data["params"] == {"id": "9"} and data["state"] == "shop"
    assert response.headers.getlist("X-Order") == ["root", "shop", "admin"]
    assert client.get("/shop/orders/9").status_code == 403
    assert client.get("/shop/cart").json()["ran"] == "root,shop"
    assert client.get("/blog").json()["ran"] == "root"


def test_folder_middleware_without_root_middleware(make_client) -> None:  # type: ignore[no-untyped-def]
    files = {k: v for k, v in NESTED.items() if k != "middleware.py"}
    client = make_client(files)
    assert client.get("/shop/orders/1", headers={"X-Admin": "yes"}).json()["ran"] == ",shop,admin"
    assert client.get("/shop/orders/1", headers={"X-Admin": "yes", "X-Ran": "x"}).json()["ran"] == "x,shop,admin"
    assert client.get("/blog").json()["ran"] is None
    assert client.options("/shop/orders/1").status_code == 403  # middleware runs before method dispatch
    assert client.delete("/shop/cart").status_code == 405


def test_a_rewrite_loop_is_stopped(make_client) -> None:  # type: ignore[no-untyped-def]
    client = make_client({
        "a/middleware.py": """
            from handlerkit import NextResponse

            def middleware(request):
                return NextResponse.rewrite("/b")
        """,
        "a/route.py": ECHO,
        "b/middleware.py": """
            from handlerkit import NextResponse

            def middleware(request):
                return NextResponse.rewrite("/a")
        """,
        "b/route.py": ECHO,
    })
    response = client.get("/a")
    assert response.status_code == 500 and response.json()["error"] == "internal_error"


def test_rewrite_to_another_origin_is_refused(make_client) -> None:  # type: ignore[no-untyped-def]
    client = make_client({
        "middleware.py": """
            from handlerkit import NextResponse

            def middleware(request):
                return NextResponse.rewrite("https://evil.example/steal")
        """,
        "a/route.py": ECHO,
    })
    assert client.get("/a").status_code == 500


def test_middleware_works_under_a_base_path(make_client) -> None:  # type: ignore[no-untyped-def]
    client = make_client(ROOT_APP, base_path="/v1")
    assert client.get("/v1/api/private").status_code == 401
    data = client.get("/v1/api/alias").json()
    assert data["route"] == "/api/items/[id]" and data["path"] == "/api/items/42"


def test_middleware_over_a_real_socket(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import requests

    from handlerkit.testing import write_app
    from tests.support.servers import gunicorn

    app_dir = write_app(tmp_path / "app", ROOT_APP)
    with gunicorn(f"handlerkit:create_app({str(app_dir)!r})", workers=2) as server:
        bypass = {"x-middleware-subrequest": "middleware:middleware:middleware:middleware:middleware"}
        assert requests.get(f"{server.url}/api/private", headers=bypass, timeout=10).status_code == 401
        alias = requests.get(f"{server.url}/api/alias", timeout=10)
        assert alias.status_code == 200 and alias.json()["params"] == {"id": "42"}
        echoed = requests.get(f"{server.url}/api/echo", headers={"X-User": "forged"}, timeout=10)
        assert echoed.json()["x_user"] == "from-middleware"
        assert echoed.headers["X-Frame-Options"] == "DENY"


def test_routes_without_middleware_stay_on_the_fast_path(make_app, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from handlerkit.routing.runner import MiddlewareRunner
    from handlerkit.testing import Client

    files = {k: v for k, v in NESTED.items() if k != "middleware.py"}
    app = make_app(files)
    calls: list[str] = []
    slow = MiddlewareRunner.respond

    def counting(self, environ, *args):  # type: ignore[no-untyped-def]
        calls.append(environ["PATH_INFO"])
        return slow(self, environ, *args)

    monkeypatch.setattr(MiddlewareRunner, "respond", counting)
    client = Client(app)
    assert client.get("/blog").status_code == 200
    assert client.get("/nowhere").status_code == 404
    assert calls == []
    assert client.get("/shop/cart").status_code == 200
    assert calls == ["/shop/cart"]


@pytest.mark.parametrize(
    "path",
    ["/api/private", "/%61pi/private", "/api/%70rivate", "/api//private", "/api/./private", "/API/private", "/api/private/", "/api/private%2F", "/api/private?x=1"],
)
def test_encoded_or_odd_paths_never_reach_a_protected_route_unchecked(make_client, path: str) -> None:  # type: ignore[no-untyped-def]
    client = make_client(ROOT_APP)
    response = client.get(path)
    for _ in range(3):  # follow a few redirects by hand (the App's trailing-slash 308)
        if response.status_code != 308:
            break
        response = client.get(response.headers["Location"])
    assert response.status_code in (308, 401, 404), (path, response.status_code)


def test_encoded_paths_over_a_real_socket(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import socket

    from handlerkit.testing import write_app
    from tests.support.servers import gunicorn

    app_dir = write_app(tmp_path / "app", ROOT_APP)
    with gunicorn(f"handlerkit:create_app({str(app_dir)!r})", workers=1) as server:
        for target in ["/%61pi/private", "/api/%70rivate", "/api/./private", "/api/../api/private", "/api//private"]:
            with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
                sock.settimeout(10)
                sock.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
                reply = b""
                while chunk := sock.recv(65536):
                    reply += chunk
            status = int(reply.split(b" ", 2)[1])
            assert status in (308, 400, 401, 404), (target, reply[:200])
