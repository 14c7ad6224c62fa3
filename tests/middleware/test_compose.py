"""compose: order, decorator use, identity, handler adaptation, and App(wrap=...)."""

from __future__ import annotations

import functools

import pytest

from handlerkit import App, NextRequest, NextResponse, RouteContext, compose
from handlerkit.handlers import wrapper_chain
from handlerkit.testing import Client


def tagging(name: str, calls: list[str]):  # type: ignore[no-untyped-def]
    """A plain wrapper (it does not adapt its handler) that records entry and exit."""

    def wrapper(handler):  # type: ignore[no-untyped-def]
        @functools.wraps(handler)
        def wrapped(request, context):  # type: ignore[no-untyped-def]
            calls.append(f"{name}>")
            response = handler(request, context)
            calls.append(f"<{name}")
            response.headers.add("X-Layer", name)
            return response

        return wrapped

    wrapper.__name__ = f"with_{name}"
    return wrapper


def handler(request, context):  # type: ignore[no-untyped-def]
    return NextResponse.json({"ok": True})


def test_first_listed_is_outermost_and_equals_manual_nesting() -> None:
    calls: list[str] = []
    a, b, c = (tagging(n, calls) for n in "abc")
    composed = compose(a, b, c)(handler)
    response = composed(NextRequest("/x"), RouteContext())
    assert calls == ["a>", "b>", "c>", "<c", "<b", "<a"]
    assert response.headers.getlist("X-Layer") == ["c", "b", "a"]

    manual_calls: list[str] = []
    a2, b2, c2 = (tagging(n, manual_calls) for n in "abc")
    manual = a2(b2(c2(handler)))
    manual(NextRequest("/x"), RouteContext())
    assert manual_calls == calls


def test_works_as_a_decorator_and_keeps_wrapped() -> None:
    calls: list[str] = []

    @compose(tagging("a", calls), tagging("b", calls))
    def GET(request, context):  # type: ignore[no-untyped-def]
        return NextResponse.json({"id": context.params["id"]})

    response = GET(NextRequest("/u/1"), RouteContext({"id": "1"}))
    assert response.json() == {"id": "1"}
    assert GET.__name__ == "GET"
    assert len(wrapper_chain(GET)) == 2
    assert GET.__wrapped__.__wrapped__.__name__ == "GET"


def test_compose_of_nothing_is_the_identity() -> None:
    assert compose()(handler) is handler
    response = compose()(handler)(NextRequest("/x"), RouteContext())
    assert response.json() == {"ok": True}


@pytest.mark.parametrize("arity", [0, 1, 2])
def test_innermost_handler_of_any_arity_is_adapted_once(arity: int, monkeypatch: pytest.MonkeyPatch) -> None:
    import handlerkit.middleware.compose as compose_module

    seen: list[object] = []
    real = compose_module.adapt_inner

    def counting(func, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(func)
        return real(func, **kwargs)

    monkeypatch.setattr(compose_module, "adapt_inner", counting)
    sources = {
        0: lambda: NextResponse.json({"arity": 0}),
        1: lambda request: NextResponse.json({"arity": 1, "path": request.path}),
        2: lambda request, context: NextResponse.json({"arity": 2, "path": request.path}),
    }
    calls: list[str] = []
    composed = compose(tagging("a", calls), tagging("b", calls))(sources[arity])
    assert seen == [sources[arity]]
    assert composed(NextRequest("/p"), RouteContext()).json()["arity"] == arity
    assert calls == ["a>", "b>", "<b", "<a"]


def test_a_non_callable_wrapper_is_refused_at_compose_time() -> None:
    with pytest.raises(TypeError, match="argument 2"):
        compose(tagging("a", []), None)  # type: ignore[arg-type]


def test_a_wrapper_returning_a_non_handler_is_refused_when_applied() -> None:
    with pytest.raises(TypeError, match="instead of a handler"):
        compose(lambda h: None)(handler)


def test_app_wrap_applies_the_composition_to_every_route(make_app) -> None:  # type: ignore[no-untyped-def]
    calls: list[str] = []
    app = make_app(
        {
            "a/route.py": """
                from handlerkit import NextResponse

                def GET(request):
                    return NextResponse.json({"route": "a"})
            """,
            "b/[id]/route.py": """
                from handlerkit import NextResponse

                def GET():
                    return NextResponse.json({"route": "b"})

                def POST(request, context):
                    return NextResponse.json({"id": context.params["id"]}, status=201)
            """,
        },
        wrap=compose(tagging("outer", calls), tagging("inner", calls)),
    )
    assert isinstance(app, App)
    client = Client(app)
    for method, path, status in [("GET", "/a", 200), ("GET", "/b/1", 200), ("POST", "/b/7", 201)]:
        calls.clear()
        response = client.open(path, method=method)
        assert response.status_code == status
        assert response.headers.getlist("X-Layer") == ["inner", "outer"]
        assert calls == ["outer>", "inner>", "<inner", "<outer"]
    assert client.post("/b/7").json() == {"id": "7"}
