"""Router properties: random route trees and paths never raise, precedence is deterministic and
order-independent (and agrees with a brute-force reference), and ``[id]`` never spans two segments."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from hypothesis import given, reject
from hypothesis import strategies as st

from handlerkit import App, Router
from handlerkit.errors import RouteDefinitionError
from handlerkit.response import Response
from handlerkit.routing.segments import Kind, parse_path

STATIC = ["a", "b", "me", "x.y", "%5Fu"]
FOLDERS = st.sampled_from([*STATIC, "[id]", "[slug]", "[...rest]", "[[...opt]]", "(group)"])
PATTERNS = st.lists(FOLDERS, min_size=0, max_size=4).map(lambda parts: "/" + "/".join(parts))
TREES = st.lists(PATTERNS, min_size=1, max_size=8, unique=True)
WORDS = st.sampled_from(["a", "b", "me", "x.y", "_u", "zz", "", "ME", "a b", "é", "..", ".", "%"])
PATHS = st.lists(WORDS, min_size=0, max_size=6).map(lambda parts: "/" + "/".join(parts))


def GET() -> dict[str, bool]:
    return {"ok": True}


def build(patterns: list[str]) -> App | None:
    router = Router()
    try:
        for pattern in patterns:
            router.route(pattern)(GET)
        return App(router)
    except RouteDefinitionError:
        return None


def wsgi(path: str) -> str:
    """*path* as a WSGI server passes PATH_INFO: UTF-8 bytes read as latin-1."""
    return path.encode("utf-8").decode("latin-1")


def outcome(result: Any) -> Any:
    if result is None:
        return None
    if isinstance(result, Response):
        return ("error", result.status_code)
    route, params = result
    return (route.pattern, params)


def reference(patterns: list[str], path: str) -> Any:
    """Brute force: of every route matching *path*, the one whose segment kinds sort first."""
    parts = [p for p in path[1:].split("/")] if path != "/" else []
    if parts and parts[-1] == "" and len(parts) > 1:
        parts.pop()
    if parts == [""]:
        parts = []
    best = None
    for pattern in patterns:
        segments = parse_path(pattern)
        params: dict[str, Any] = {}
        kinds: list[int] = []
        ok = True
        for i, segment in enumerate(segments):
            if segment.kind in (Kind.CATCH_ALL, Kind.OPTIONAL_CATCH_ALL):
                rest = parts[i:]
                if (not rest and segment.kind is Kind.CATCH_ALL) or "" in rest:
                    ok = False  # empty segments ("//") never fill a param
                if rest:
                    params[segment.value] = rest
                kinds.append(int(segment.kind))
                break
            if i >= len(parts):
                ok = False
                break
            if segment.kind is Kind.STATIC:
                literal = (
                    "_" + segment.value[3:] if segment.value[:3].lower() == "%5f" else segment.value
                )
                if parts[i] != literal:
                    ok = False
                    break
            else:
                if parts[i] == "":
                    ok = False
                    break
                params[segment.value] = parts[i]
            kinds.append(int(segment.kind))
        else:
            if len(parts) != len(segments):
                ok = False
        if ok and segments and segments[-1].kind not in (Kind.CATCH_ALL, Kind.OPTIONAL_CATCH_ALL):
            ok = len(parts) == len(segments)
        if ok and not segments:
            ok = not parts
        if ok:
            key = kinds
            if best is None or key < best[0]:
                best = (key, "/" + "/".join(str(s) for s in segments), params)
    return best


@given(TREES, st.lists(PATHS, min_size=1, max_size=8), st.randoms())
def test_random_trees_and_paths_never_raise_and_precedence_is_deterministic(
    patterns: list[str], paths: list[str], rnd: Any
) -> None:
    app = build(patterns)
    if app is None:
        reject()
    shuffled = list(patterns)
    rnd.shuffle(shuffled)
    again = build(shuffled)
    assert again is not None  # conflicts do not depend on declaration order
    for path in map(wsgi, paths):
        first = outcome(app.resolve(path))
        assert outcome(app.resolve(path)) == first  # same input, same result
        assert outcome(again.resolve(path)) == first  # whatever order the routes were declared in
        raw = quote(path.encode("latin-1"), safe="/")
        assert outcome(app.resolve(path, {"RAW_URI": raw})) in (first, ("error", 400))


@given(TREES, PATHS)
def test_precedence_matches_the_brute_force_reference(patterns: list[str], path: str) -> None:
    app = build(patterns)
    if app is None:
        reject()
    result = outcome(app.resolve(wsgi(path)))
    expected = reference([p for p in patterns], path)
    if isinstance(result, tuple) and result and result[0] == "error":
        assert any(v in (".", "..") for v in path.split("/")) or "%" in path
        return
    if expected is None:
        assert result is None, (path, result)
    else:
        assert result is not None, (path, expected)
        assert result[0] == expected[1], (path, result, expected)


@given(
    st.lists(st.sampled_from(["a", "b", "a%2Fb", "%2F", "x%2Fy%2Fz", "c"]), min_size=1, max_size=4)
)
def test_a_dynamic_param_never_spans_two_segments(words: list[str]) -> None:
    app = build(["/u/[id]", "/u/[id]/[sub]", "/f/[...rest]"])
    assert app is not None
    for prefix in ("/u/", "/f/"):
        raw = prefix + "/".join(words)
        plain = raw.replace("%2F", "/")
        for result in (app.resolve(plain), app.resolve(plain, {"RAW_URI": raw})):
            if not isinstance(result, tuple):
                continue
            route, params = result
            if route.pattern.startswith("/u/"):
                # Without the raw URI, no param holds a "/"; one [id] is one raw segment.
                if result is not None and "RAW_URI" not in str(result):
                    pass
                assert len(params) == route.pattern.count("[")
        result = app.resolve(plain)
        if isinstance(result, tuple) and result[0].pattern.startswith("/u/"):
            assert all("/" not in v for v in result[1].values())
        result = app.resolve(plain, {"RAW_URI": raw})
        if isinstance(result, tuple) and result[0].pattern.startswith("/u/"):
            decoded = [w.replace("%2F", "/") for w in words]
            assert list(result[1].values()) == decoded
