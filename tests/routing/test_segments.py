"""Segment syntax: folder names and Router paths parse to the same segments."""

from __future__ import annotations

import pytest

from handlerkit.errors import InvalidSegmentError, RouteDefinitionError
from handlerkit.routing.segments import Kind, Segment, parse_path, parse_segment, pattern_string


@pytest.mark.parametrize(
    ("name", "kind", "value"),
    [
        ("users", Kind.STATIC, "users"),
        ("rss.xml", Kind.STATIC, "rss.xml"),
        ("[id]", Kind.DYNAMIC, "id"),
        ("[...slug]", Kind.CATCH_ALL, "slug"),
        ("[[...slug]]", Kind.OPTIONAL_CATCH_ALL, "slug"),
        ("(marketing)", Kind.GROUP, "(marketing)"),
        ("_lib", Kind.PRIVATE, "_lib"),
        ("%5Fname", Kind.STATIC, "_name"),
        ("%5fname", Kind.STATIC, "_name"),
    ],
)
def test_folder_names_parse_to_segments(name: str, kind: Kind, value: str) -> None:
    assert parse_segment(name) == Segment(kind, value)


@pytest.mark.parametrize(
    "name", ["[[id]]", "[id", "id]", "[]", "[...]", "[[...]]", "a[id]", "[1x]", "[a-b]", "[[...a]"]
)
def test_malformed_brackets_are_invalid_segments(name: str) -> None:
    with pytest.raises(InvalidSegmentError) as info:
        parse_segment(name, "app/x/route.py")
    assert isinstance(info.value, RouteDefinitionError)
    assert info.value.files == ("app/x/route.py",)
    assert "app/x/route.py" in str(info.value)


def test_double_brackets_without_dots_suggest_both_fixes() -> None:
    with pytest.raises(InvalidSegmentError, match=r"\[id\] or \[\[\.\.\.id\]\]"):
        parse_segment("[[id]]")


@pytest.mark.parametrize("name", ["", ".", ".."])
def test_dot_segments_are_invalid(name: str) -> None:
    with pytest.raises(InvalidSegmentError):
        parse_segment(name)


def test_parse_path_drops_groups_and_keeps_order() -> None:
    segments = parse_path("/api/(admin)/users/[id]/")
    assert segments == [
        Segment(Kind.STATIC, "api"),
        Segment(Kind.STATIC, "users"),
        Segment(Kind.DYNAMIC, "id"),
    ]
    assert pattern_string(segments) == "/api/users/[id]"


def test_parse_path_of_root_is_empty() -> None:
    assert parse_path("/") == []
    assert pattern_string([]) == "/"


def test_parse_path_refuses_private_segments_and_suggests_percent_5f() -> None:
    with pytest.raises(InvalidSegmentError, match="%5Fsecret"):
        parse_path("/api/_secret")


def test_pattern_string_round_trips_every_kind() -> None:
    path = "/docs/[id]/[...rest]"
    assert pattern_string(parse_path(path)) == path
    assert pattern_string(parse_path("/shop/[[...slug]]")) == "/shop/[[...slug]]"


def test_kinds_are_ordered_by_precedence() -> None:
    assert Kind.STATIC < Kind.DYNAMIC < Kind.CATCH_ALL < Kind.OPTIONAL_CATCH_ALL
