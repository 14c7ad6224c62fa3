"""with_conditional and friends: weak ETags, 304 Not Modified, Last-Modified, If-Match (428/412); non-UI XML routes."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from handlerkit import App, NextRequest, RouteContext, with_conditional
from handlerkit.errors import ApiError
from handlerkit.middleware.conditional import etag_for, is_not_modified, require_if_match, weak_etag
from handlerkit.testing import Client, write_app
from tests.support.servers import Server, gunicorn

ROUTES = {
    "posts/[id]/route.py": """
        import datetime as dt
        from handlerkit import NextResponse, with_conditional
        from handlerkit.middleware.conditional import etag_for, require_if_match

        POSTS = {"1": {"title": "Hello", "version": 3}}
        UPDATED = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
        WRITES = []

        @with_conditional
        def GET(request, context):
            response = NextResponse.json(POSTS[context.params["id"]], headers={"Vary": "Accept-Language",
                                                                             "Cache-Control": "max-age=60"})
            response.last_modified = UPDATED
            return response

        def PUT(request, context):
            post = POSTS[context.params["id"]]
            require_if_match(request, etag_for(post["version"]))
            post.update(request.json(), version=post["version"] + 1)
            WRITES.append(context.params["id"])
            response = NextResponse.json(post)
            response.headers["ETag"] = etag_for(post["version"])
            return response

        def PATCH(request, context):
            post = POSTS[context.params["id"]]
            require_if_match(request, etag_for(post["version"]), required=False)
            return {"patched": True}
    """,
    "dated/route.py": """
        import datetime as dt
        from handlerkit import NextResponse, with_conditional

        @with_conditional(etag=False)
        def GET():
            response = NextResponse("dated body")
            response.last_modified = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
            return response
    """,
    "plain/route.py": """
        from handlerkit import with_conditional

        @with_conditional
        def GET():
            return {"items": [1, 2, 3]}

        @with_conditional
        def POST():
            return {"created": True}
    """,
    "stream/route.py": """
        from handlerkit import NextResponse, with_conditional

        @with_conditional
        def GET(request):
            response = NextResponse(iter([b"a", b"b"]))
            if request.args.get("tagged"):
                response.set_etag("v1")
            return response
    """,
    "rss.xml/route.py": """
        from xml.sax.saxutils import escape
        from handlerkit import NextResponse, with_conditional

        ITEMS = [("First <post>", "/posts/1"), ("Second & last", "/posts/2")]

        @with_conditional
        def GET(request):
            origin = request.next_url.origin
            items = "".join(
                f"<item><title>{escape(title)}</title><link>{escape(origin + path)}</link></item>"
                for title, path in ITEMS
            )
            body = ('<?xml version="1.0" encoding="UTF-8"?>'
                    f'<rss version="2.0"><channel><title>Blog</title><link>{escape(origin)}</link>'
                    f"<description>Posts</description>{items}</channel></rss>")
            return NextResponse(body, headers={"Content-Type": "application/rss+xml; charset=utf-8",
                                               "Cache-Control": "public, max-age=300"})
    """,
    "sitemap.xml/route.py": """
        from xml.sax.saxutils import escape
        from handlerkit import NextResponse

        PATHS = ["/", "/posts/1", "/posts/2"]

        def GET(request):
            origin = request.next_url.origin
            urls = "".join(f"<url><loc>{escape(origin + path)}</loc></url>" for path in PATHS)
            body = ('<?xml version="1.0" encoding="UTF-8"?>'
                    f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>')
            return NextResponse(body, headers={"Content-Type": "application/xml; charset=utf-8"})
    """,
}


@pytest.fixture
def client(tmp_path: Path) -> Client:
    return Client(App(write_app(tmp_path / "app", ROUTES)))


def test_a_buffered_response_gets_a_weak_etag_from_its_body(client: Client) -> None:
    response = client.get("/plain")
    assert response.status_code == 200
    assert response.headers["ETag"] == weak_etag(b'{"items":[1,2,3]}')
    assert response.headers["ETag"].startswith('W/"')


def test_a_matching_if_none_match_is_304_with_no_body_and_the_validators_kept(
    client: Client,
) -> None:
    first = client.get("/posts/1")
    tag = first.headers["ETag"]
    response = client.get("/posts/1", headers={"If-None-Match": tag})
    assert response.status_code == 304
    assert response.get_data() == b""
    assert response.headers["ETag"] == tag
    assert response.headers["Vary"] == "Accept-Language"
    assert response.headers["Cache-Control"] == "max-age=60"
    assert (
        "Last-Modified" in first.headers
    )  # a 304 drops it (the ETag is the validator), as RFC 9110 allows
    assert "Content-Type" not in response.headers and "Content-Length" not in response.headers


@pytest.mark.parametrize(
    "header",
    [
        'W/"nope", {tag}',
        "{tag}",
        "*",
        "{strong}",
    ],
)
def test_if_none_match_compares_weakly_and_accepts_lists_and_star(
    client: Client, header: str
) -> None:
    tag = client.get("/plain").headers["ETag"]
    value = header.format(tag=tag, strong=tag[2:])
    assert client.get("/plain", headers={"If-None-Match": value}).status_code == 304


def test_a_stale_if_none_match_gets_the_full_response(client: Client) -> None:
    response = client.get("/plain", headers={"If-None-Match": 'W/"stale"'})
    assert response.status_code == 200 and response.json() == {"items": [1, 2, 3]}


def test_head_is_conditional_too(client: Client) -> None:
    tag = client.get("/plain").headers["ETag"]
    assert client.head("/plain", headers={"If-None-Match": tag}).status_code == 304


def test_if_modified_since_gives_304_when_not_modified(client: Client) -> None:
    assert (
        client.get(
            "/dated", headers={"If-Modified-Since": "Fri, 02 Jan 2026 03:04:05 GMT"}
        ).status_code
        == 304
    )
    assert (
        client.get(
            "/dated", headers={"If-Modified-Since": "Sat, 03 Jan 2026 00:00:00 GMT"}
        ).status_code
        == 304
    )
    older = client.get("/dated", headers={"If-Modified-Since": "Thu, 01 Jan 2026 00:00:00 GMT"})
    assert older.status_code == 200 and older.get_data() == b"dated body"
    assert client.get("/dated", headers={"If-Modified-Since": "not a date"}).status_code == 200
    assert "ETag" not in older.headers  # etag=False


def test_if_none_match_takes_precedence_over_if_modified_since(client: Client) -> None:
    response = client.get(
        "/posts/1",
        headers={
            "If-None-Match": 'W/"other"',
            "If-Modified-Since": "Sat, 03 Jan 2026 00:00:00 GMT",
        },
    )
    assert response.status_code == 200


def test_other_methods_pass_through(client: Client) -> None:
    response = client.post("/plain", headers={"If-None-Match": "*"})
    assert response.status_code == 200 and "ETag" not in response.headers


def test_streamed_bodies_are_not_buffered_unless_tagged(client: Client) -> None:
    response = client.get("/stream", headers={"If-None-Match": "*"})
    assert (
        response.status_code == 200
        and "ETag" not in response.headers
        and response.get_data() == b"ab"
    )
    assert client.get("/stream?tagged=1", headers={"If-None-Match": '"v1"'}).status_code == 304


def test_the_wrapper_works_configured_and_on_a_direct_call() -> None:
    handler = with_conditional(etag=True)(lambda: {"a": 1})
    response = handler(NextRequest("/"))
    assert response.headers["ETag"] == weak_etag(b'{"a":1}')
    again = handler(
        NextRequest("/", headers={"If-None-Match": response.headers["ETag"]}), RouteContext()
    )
    assert again.status_code == 304


# -- If-Match (optimistic locking) ------------------------------------------------


def test_a_write_without_if_match_is_428(client: Client) -> None:
    response = client.put("/posts/1", json={"title": "x"})
    assert response.status_code == 428
    assert response.json()["error"] == "precondition_required"


def test_a_stale_if_match_is_412_with_the_current_etag(client: Client) -> None:
    response = client.put("/posts/1", json={"title": "x"}, headers={"If-Match": '"2"'})
    assert response.status_code == 412
    assert response.json()["error"] == "precondition_failed"
    assert response.headers["ETag"] == '"3"'


def test_a_current_if_match_writes_once_and_the_old_tag_then_fails(client: Client) -> None:
    ok = client.put("/posts/1", json={"title": "New"}, headers={"If-Match": '"3"'})
    assert ok.status_code == 200 and ok.headers["ETag"] == '"4"' and ok.json()["title"] == "New"
    assert (
        client.put("/posts/1", json={"title": "Again"}, headers={"If-Match": '"3"'}).status_code
        == 412
    )


@pytest.mark.parametrize(
    ("header", "status"), [('"1", "3"', 200), ("*", 200), ('W/"3"', 412), ('"3 "', 412)]
)
def test_if_match_uses_strong_comparison(header: str, status: int) -> None:
    request = NextRequest("/", method="PUT", headers={"If-Match": header})
    if status == 200:
        require_if_match(request, etag_for(3))
    else:
        with pytest.raises(ApiError) as caught:
            require_if_match(request, etag_for(3))
        assert caught.value.status == status


def test_if_match_is_optional_when_not_required(client: Client) -> None:
    assert client.patch("/posts/1").status_code == 200
    assert client.patch("/posts/1", headers={"If-Match": '"99"'}).status_code == 412


def test_if_match_star_fails_when_the_resource_does_not_exist() -> None:
    with pytest.raises(ApiError) as caught:
        require_if_match(NextRequest("/", method="PUT", headers={"If-Match": "*"}), None)
    assert caught.value.status == 412


@pytest.mark.parametrize("bad", ["", 'a"b', "a b", "x\n"])
def test_etag_for_refuses_values_that_would_break_the_header(bad: str) -> None:
    with pytest.raises(ValueError):
        etag_for(bad)


def test_is_not_modified_helper_handles_naive_datetimes() -> None:
    request = NextRequest("/", headers={"If-Modified-Since": "Fri, 02 Jan 2026 03:04:05 GMT"})
    assert is_not_modified(request, last_modified=dt.datetime(2026, 1, 2, 3, 4, 5, 999))
    assert not is_not_modified(request, last_modified=dt.datetime(2026, 1, 2, 3, 4, 6))
    assert not is_not_modified(NextRequest("/", headers={"If-None-Match": "*"}))


# -- non-UI responses: rss.xml and sitemap.xml ---------------------------------------------


def test_rss_xml_is_served_as_rss_and_is_conditional(client: Client) -> None:
    response = client.get("/rss.xml")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/rss+xml; charset=utf-8"
    channel = ET.fromstring(response.get_data()).find("channel")
    assert channel is not None
    assert [item.findtext("title") for item in channel.findall("item")] == [
        "First <post>",
        "Second & last",
    ]
    assert channel.findall("item")[0].findtext("link") == "http://localhost/posts/1"
    assert (
        client.get("/rss.xml", headers={"If-None-Match": response.headers["ETag"]}).status_code
        == 304
    )


def test_sitemap_xml_is_served_as_xml(client: Client) -> None:
    response = client.get("/sitemap.xml")
    assert response.headers["Content-Type"] == "application/xml; charset=utf-8"
    namespace = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
    locs = [node.text for node in ET.fromstring(response.get_data()).iter(f"{namespace}loc")]
    assert locs == ["http://localhost/", "http://localhost/posts/1", "http://localhost/posts/2"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    app_dir = write_app(tmp_path_factory.mktemp("conditional") / "app", ROUTES)
    with gunicorn(f"handlerkit:create_app({str(app_dir)!r})") as running:
        yield running


def test_304_and_xml_routes_over_gunicorn(server: Server) -> None:
    first = requests.get(f"{server.url}/rss.xml", timeout=5)
    assert first.headers["Content-Type"] == "application/rss+xml; charset=utf-8"
    again = requests.get(
        f"{server.url}/rss.xml", headers={"If-None-Match": first.headers["ETag"]}, timeout=5
    )
    assert (
        again.status_code == 304
        and again.content == b""
        and again.headers["ETag"] == first.headers["ETag"]
    )
    assert (
        requests.get(f"{server.url}/sitemap.xml", timeout=5).headers["Content-Type"]
        == "application/xml; charset=utf-8"
    )
    assert requests.put(f"{server.url}/posts/1", json={}, timeout=5).status_code == 428
    assert (
        requests.put(
            f"{server.url}/posts/1", json={}, headers={"If-Match": '"1"'}, timeout=5
        ).status_code
        == 412
    )
