"""``handlerkit routes``: the table, --json, --explain and --unguarded, run in-process."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from handlerkit import App
from handlerkit.cli import main
from handlerkit.testing import write_app
from tests.support.servers import ROOT


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def test_table_lists_pattern_methods_wrappers_file_and_config(
    blog_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(capsys, "routes", str(blog_dir))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["PATTERN", "METHOD", "WRAPPERS", "FILE", "CONFIG"]
    posts = next(line for line in lines if line.startswith("/api/posts "))
    assert posts.split() == ["/api/posts", "GET", "-", "api/posts/route.py", "max_body_size=2048"]
    post_row = lines[lines.index(posts) + 1].split()
    assert post_row == ["POST", "with_logging", ">", "with_auth"]
    delete_row = next(line for line in lines if line.startswith("/api/posts/[id]"))
    assert delete_row.split()[:4] == [
        "/api/posts/[id]",
        "DELETE",
        "with_auth",
        "api/posts/[id]/route.py",
    ]
    assert "root middleware: middleware.py" in out


def test_json_has_the_same_facts(blog_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "routes", str(blog_dir), "--json")
    assert code == 0
    data = json.loads(out)
    assert data["root_middleware"] == {"file": "middleware.py", "matcher": ["/api/:path*"]}
    routes = {r["pattern"]: r for r in data["routes"]}
    assert set(routes) == {
        "/api/auth/login",
        "/api/posts",
        "/api/posts/[...rest]",
        "/api/posts/[id]",
        "/api/posts/latest",
    }
    posts = routes["/api/posts"]
    assert posts["file"] == "api/posts/route.py"
    assert posts["methods"] == ["GET", "POST"]
    assert posts["allow"] == ["GET", "HEAD", "OPTIONS", "POST"]
    assert posts["config"] == {"max_body_size": 2048}
    assert posts["middleware"] == ["api/posts/middleware.py"]
    assert posts["handlers"]["POST"] == {
        "wrappers": ["with_logging", "with_auth"],
        "handler": "POST",
        "guarded": True,
    }
    assert posts["handlers"]["GET"] == {"wrappers": [], "handler": "GET", "guarded": False}


def test_explain_a_matched_route(blog_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(
        capsys, "routes", str(blog_dir), "--explain", "DELETE", "/api/posts/caf%C3%A9%2F1", "--json"
    )
    assert code == 0
    data = json.loads(out)
    assert data["outcome"] == "handler"
    assert data["route"] == "/api/posts/[id]"
    assert data["file"] == "api/posts/[id]/route.py"
    assert data["params"] == {"id": "café/1"}  # decoded per segment: %2F stays inside the param
    assert data["root_middleware"] == {
        "file": "middleware.py",
        "matcher": ["/api/:path*"],
        "runs": True,
    }
    assert data["middleware"] == ["api/posts/middleware.py"]
    assert data["wrappers"] == ["with_auth"]
    assert data["handler"] == "DELETE"
    assert data["allow"] == ["DELETE", "GET", "HEAD", "OPTIONS"]
    assert [s["pattern"] for s in data["shadowed"]] == ["/api/posts/[...rest]"]


def test_explain_text_shows_the_chains_and_what_is_shadowed(
    blog_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(capsys, "routes", str(blog_dir), "--explain", "POST", "/api/posts")
    assert code == 0
    assert "route       /api/posts  (api/posts/route.py)" in out
    assert "middleware  api/posts/middleware.py" in out
    assert "wrappers    with_logging > with_auth" in out
    assert "allow       GET, HEAD, OPTIONS, POST" in out
    code, out = run(capsys, "routes", str(blog_dir), "--explain", "GET", "/api/posts/latest")
    assert code == 0
    assert "shadows     /api/posts/[id]" in out
    assert "a static segment (latest) beats a [param] ([id])" in out
    assert "a static segment (latest) beats a [...catch-all] ([...rest])" in out


def test_explain_a_405_gives_the_allow_set(
    blog_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(capsys, "routes", str(blog_dir), "--explain", "PUT", "/api/posts/7", "--json")
    assert code == 1
    data = json.loads(out)
    assert data["status"] == 405
    assert data["outcome"] == "method_not_allowed"
    assert data["route"] == "/api/posts/[id]"
    assert data["allow"] == ["DELETE", "GET", "HEAD", "OPTIONS"]
    # [...rest] would also match the path, but routing picks [id] before looking at methods.
    assert [s["pattern"] for s in data["shadowed"]] == ["/api/posts/[...rest]"]
    code, out = run(capsys, "routes", str(blog_dir), "--explain", "PUT", "/api/posts/7")
    assert "405: /api/posts/[id] exports DELETE, GET, not PUT" in out


def test_explain_a_404_names_the_nearest_routes(
    blog_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(capsys, "routes", str(blog_dir), "--explain", "GET", "/api/post/7", "--json")
    assert code == 1
    data = json.loads(out)
    assert data["status"] == 404
    assert data["nearest"][0]["pattern"].startswith("/api/posts")
    assert data["nearest"][0]["reason"] == "segment 2 is 'post', the pattern wants 'posts'"
    assert data["root_middleware"]["runs"] is True
    code, out = run(capsys, "routes", str(blog_dir), "--explain", "GET", "/elsewhere", "--json")
    assert json.loads(out)["root_middleware"]["runs"] is False  # the matcher is /api/:path*
    code, out = run(capsys, "routes", str(blog_dir), "--explain", "GET", "/api/auth/login/extra")
    assert code == 1
    assert "404" in out
    assert (
        "/api/auth/login  (api/auth/login/route.py): the URL has 1 segment(s) more than the pattern"
        in out
    )


def test_explain_head_options_redirect_and_bad_paths(
    blog_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(capsys, "routes", str(blog_dir), "--explain", "HEAD", "/api/posts/latest")
    assert code == 0 and "HEAD runs GET and drops the body" in out
    code, out = run(capsys, "routes", str(blog_dir), "--explain", "OPTIONS", "/api/posts")
    assert code == 0 and "204" in out
    code, out = run(capsys, "routes", str(blog_dir), "--explain", "GET", "/api/posts/")
    assert code == 1 and "308 -> /api/posts" in out
    code, out = run(capsys, "routes", str(blog_dir), "--explain", "GET", "/api/posts/%zz")
    assert code == 1 and "400: The URL path has a malformed percent escape." in out
    code, out = run(capsys, "routes", str(blog_dir), "--explain", "BREW", "/api/posts")
    assert code == 1 and "501" in out


def test_unguarded_exits_1_and_lists_an_unguarded_write_route(
    blog_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The blog-like tree passes the audit of its write routes once login is declared public ...
    args = [
        "routes",
        str(blog_dir),
        "--unguarded",
        "--methods",
        "write",
        "--allow",
        "POST /api/auth/login",
    ]
    code, out = run(capsys, *args)
    assert code == 0, out
    # ... and fails it as soon as one unguarded write route is added.
    write_app(blog_dir, {"api/posts/[id]/comments/route.py": "def POST(request):\n    return {}\n"})
    code, out = run(capsys, *args)
    assert code == 1
    assert "POST    /api/posts/[id]/comments  -         api/posts/[id]/comments/route.py" in out
    code, out = run(capsys, *args, "--json")
    assert json.loads(out) == {
        "unguarded": [
            {
                "method": "POST",
                "pattern": "/api/posts/[id]/comments",
                "file": "api/posts/[id]/comments/route.py",
                "wrappers": [],
            }
        ]
    }


def test_unguarded_audits_every_method_by_default(
    blog_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(capsys, "routes", str(blog_dir), "--unguarded", "--json")
    assert code == 1
    pairs = {(u["method"], u["pattern"]) for u in json.loads(out)["unguarded"]}
    assert pairs == {
        ("GET", "/api/posts"),
        ("GET", "/api/posts/[id]"),
        ("GET", "/api/posts/latest"),
        ("GET", "/api/posts/[...rest]"),
        ("POST", "/api/auth/login"),
    }


def test_a_wrapper_labelled_auth_counts_and_wrappers_without_functools_wraps_hide_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app_dir = write_app(
        tmp_path / "app",
        {
            "_lib/guards.py": """
            import functools
            from handlerkit.handlers import mark_wrapper

            def require_api_key(handler):
                @functools.wraps(handler)
                def wrapped(request, context=None):
                    return handler(request, context)
                return mark_wrapper(wrapped, "with_api_key_auth")

            def opaque(handler):
                def wrapped(request, context=None):  # no functools.wraps: the chain stops here
                    return handler(request, context)
                return wrapped
        """,
            "a/route.py": """
            from .._lib.guards import require_api_key
            from handlerkit import with_auth

            @require_api_key
            def POST(request, context):
                return {}
        """,
            "b/route.py": """
            from .._lib.guards import opaque
            from handlerkit import with_auth

            @opaque
            @with_auth
            def POST(request, context):
                return {}
        """,
        },
    )
    code, out = run(capsys, "routes", str(app_dir), "--unguarded", "--json")
    assert code == 1
    assert [(u["pattern"], u["wrappers"]) for u in json.loads(out)["unguarded"]] == [("/b", [])]


def test_a_broken_tree_is_reported_not_listed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app_dir = write_app(tmp_path / "app", {"x/route.py": "def get():\n    return {}\n"})
    assert main(["routes", str(app_dir)]) == 2
    err = capsys.readouterr().err
    assert "did you mean GET?" in err and "handlerkit check" in err
    assert main(["routes", str(tmp_path / "missing")]) == 2


@pytest.fixture
def blog_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of examples/blog, with its database and key kept in tmp_path."""
    monkeypatch.setenv("BLOG_DB", str(tmp_path / "blog.sqlite3"))
    monkeypatch.setenv("BLOG_SECRET_KEY", "cli-test-key")
    target = tmp_path / "blog"
    shutil.copytree(
        ROOT / "examples" / "blog", target, ignore=shutil.ignore_patterns("__pycache__")
    )
    return target


def test_unguarded_on_the_blog_example(blog_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    audit = ["routes", str(blog_copy), "--unguarded", "--methods", "write", "--json"]
    # Every write route of the blog is behind with_auth except login, public on purpose.
    code, out = run(capsys, *audit)
    assert code == 1
    assert [(u["method"], u["pattern"]) for u in json.loads(out)["unguarded"]] == [
        ("POST", "/api/auth/login")
    ]
    code, out = run(capsys, *audit, "--allow", "POST /api/auth/login")
    assert (code, json.loads(out)) == (0, {"unguarded": []})
    # One unguarded write route added: the audit fails and names it.
    write_app(
        blog_copy,
        {
            "api/posts/[slug]/comments/route.py": """
                from handlerkit import with_cors

                @with_cors(origins=["http://localhost:3000"])
                def POST(request, context):
                    return {}
            """,
        },
    )
    code, out = run(capsys, *audit, "--allow", "POST /api/auth/login")
    assert code == 1
    assert json.loads(out)["unguarded"] == [
        {
            "method": "POST",
            "pattern": "/api/posts/[slug]/comments",
            "file": "api/posts/[slug]/comments/route.py",
            "wrappers": ["with_cors"],
        }
    ]


# -- explain agrees with the real App -----------------------------------------------

AGREE_TREE = {
    "api/posts/route.py": "def GET(request):\n    return {'list': 1}\n",
    "api/posts/[id]/route.py": (
        "def GET(request, context):\n    return {'id': context.params['id']}\n"
    ),
    "posts/route.py": "def GET(request):\n    return {'posts': 1}\n",
}


def _real_answer(app: object, raw: str) -> tuple[int, str | None, object]:
    from urllib.parse import unquote_to_bytes

    from werkzeug.test import EnvironBuilder
    from werkzeug.wrappers import Response

    path, _, query = raw.partition("?")
    environ = EnvironBuilder(path="/", query_string=query).get_environ()
    # What a server hands the app: the decoded path, and the raw URI as sent.
    environ["PATH_INFO"] = unquote_to_bytes(path).decode("latin-1")
    environ["RAW_URI"] = raw
    response = Response.from_app(app, environ)  # type: ignore[arg-type]
    body = response.get_json(silent=True)
    return response.status_code, response.headers.get("Location"), body


@pytest.mark.parametrize(
    ("options", "url"),
    [
        ({"base_path": "/v1"}, "/v1/api/posts/7"),
        ({"base_path": "/v1"}, "/api/posts/7"),  # outside base_path: 404, not the route
        ({"base_path": "/v1"}, "/v1"),
        ({"base_path": "/v1"}, "/v1x/api/posts"),
        ({"base_path": "/v1"}, "/v1/api/posts/"),
        ({"trailing_slash": True}, "/api/posts/7"),
        ({"trailing_slash": True}, "/api/posts/7/"),
        ({"trailing_slash": True}, "/api/posts/%2F"),
        ({}, "/api/posts/%2F"),  # an encoded slash ends a segment, not the path: no redirect
        ({}, "/api/posts/7/?a=1"),
        ({}, "//api/posts"),
        ({}, "//evil/posts"),  # a path, not a host named evil
        ({}, "/api//posts"),
        ({}, "/posts"),
    ],
)
def test_explain_agrees_with_the_real_app(
    make_app: object, options: dict[str, object], url: str
) -> None:
    from handlerkit.introspect import explain_request

    app = make_app(AGREE_TREE, **options)  # type: ignore[operator]
    explained = explain_request(app, "GET", url)
    status, location, body = _real_answer(app, url)
    if explained["outcome"] == "handler":
        assert status == 200, (explained, status, body)
        if explained["route"] == "/api/posts/[id]":
            assert body == {"id": explained["params"]["id"]}
    else:
        assert explained["status"] == status, (explained, status, body)
    assert explained.get("location") == location


def test_explain_reports_a_bad_url_as_400(
    blog_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from handlerkit.introspect import explain_request

    result = explain_request(App(blog_dir), "GET", "http://[::1")
    assert result["status"] == 400 and result["outcome"] == "bad_request"
    assert result["reason"].startswith("bad URL")
    code, out = run(capsys, "routes", str(blog_dir), "--explain", "GET", "http://[::1")
    assert code == 1 and "400: bad URL" in out and "Traceback" not in out


@pytest.mark.parametrize("methods", ["bogus", "POST,bogus", "writes", ","])
def test_unguarded_rejects_unknown_method_names(
    blog_dir: Path, capsys: pytest.CaptureFixture[str], methods: str
) -> None:
    code = main(["routes", str(blog_dir), "--unguarded", "--methods", methods])
    captured = capsys.readouterr()
    assert code == 2
    assert "--methods takes" in captured.err and captured.out == ""
    # The names it does take, in any case, still work.
    assert main(["routes", str(blog_dir), "--unguarded", "--methods", "Write,get"]) in (0, 1)
