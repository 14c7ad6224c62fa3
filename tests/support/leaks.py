"""The one shared "no leak" check applied to every error response of the test suite.

An error body must not carry a traceback, an exception class name, a file path,
a library name or version, or an echoed secret (BAD_INPUTS.md, rule 3).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_PATTERNS = {
    "traceback": re.compile(r"Traceback \(most recent call last\)|^\s+File \"", re.M),
    "exception class": re.compile(r"\b[A-Z][A-Za-z0-9]*(?:Error|Exception|Expired|Signature)\b"),
    "file path": re.compile(r"(?:/[\w.@+-]+){2,}\.pyc?\b|[\w-]+\.py\", line \d+|site-packages|dist-packages"),
    "library": re.compile(
        r"\b(?:werkzeug|gunicorn|marshmallow|itsdangerous|flask|falcon|bottle)\b|\bredis\.|\blimits\.",
        re.I,
    ),
    "version": re.compile(r"\b(?:Python|CPython|Werkzeug|gunicorn)/\d"),
}

#: Strings that must never be echoed in an error body, whatever the test.
KNOWN_SECRETS = ("super-secret", "It's a Secret to Everybody", "whsec_")


def find_leaks(body: bytes | str, secrets: Iterable[str] = ()) -> list[str]:
    """Return a description of every leak in an error *body* (empty when clean)."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    found = [f"{label}: {match.group(0)!r}" for label, pattern in _PATTERNS.items() if (match := pattern.search(text))]
    found += [f"secret: {secret!r}" for secret in (*KNOWN_SECRETS, *secrets) if secret and secret in text]
    return found


def assert_no_leak(body: bytes | str, secrets: Iterable[str] = ()) -> None:
    """Fail when *body* leaks anything :func:`find_leaks` knows about."""
    leaks = find_leaks(body, secrets)
    assert not leaks, f"error body leaks {leaks}: {body[:500]!r}"
