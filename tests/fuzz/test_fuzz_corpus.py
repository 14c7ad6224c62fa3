"""Every fuzz target runs on its committed corpus (seeds and past crashes) as a regression test."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fuzz.targets import TARGETS

CORPUS = Path(__file__).resolve().parent / "corpus"

SEEDS: dict[str, list[bytes]] = {
    "wsgi": [
        b"",
        b"\x00" * 64,
        b"\x01/users/%2e%2e\x02%zz" + b"\xff" * 40,
        b"\x03\x10/docs/a/../b\x05/a%2Fb",
    ],
    "json_body": [b"", b"{bad", b"[" * 5000, b"1" * 5000, b'{"a":1,"a":2}', b"\xff\xfe", b"NaN"],
    "multipart": [
        b"",
        b'--xyz\r\nContent-Disposition: form-data; name="f"; filename="../../x"\r\n\r\nhi\r\n--xyz--\r\n',
        b"--xyz\r\n",
    ],
    "cookies": [
        b"",
        b"=__Host-x=bad",
        b'a="unterminated',
        b"a=1; a=2",
        b"\x00\x1b[31m=1",
        b"x" * 9000,
    ],
    "authorization": [
        b"",
        b"\x00Bearer",
        b"\x00Bearer ",
        b"\x00Basic dXNlcjpwYXNz",
        b"\x00Bearer a b",
        b"\x01x",
        b"%\n",  # a valid token (mode 1) with a trailing newline: the success path, found by CI

        b"\x01\xff\xfe",
        b"\x02a.b.c",
        b"\x00Bearer " + b"A" * 5000,
        b"\x00bearer\tx",
        b"\x03Bearer \x00\r\n",
        b"\x00Bearer eyJ.x.y",
    ],
    "stripe_header": [
        b"",
        b"\x00t=abc",
        b"\x00v1=" + b"a" * 64,
        b"\x00t=1,v1",
        b"\x00t=1,v1=",
        b"\x00,,,",
        b"\x00t=1,t=2,v1=" + b"a" * 64,
        b"\x00t=" + b"9" * 40,
        b"\x03{}" + b",v1=" + b"0" * 64,
        b"\x00=" * 50,
        b"\x00t=\xd9\xa1,v1=" + b"a" * 64,
    ],
    "segments": [
        b"users/a%2Fb",
        b"docs/%2e%2e/x",
        b"users/%zz",
        b"users/%C0%AE",
        b"docs//a",
        b"shop/" + b"a/" * 500,
    ],
}


def _cases() -> list[tuple[str, bytes]]:
    cases = [(name, data) for name, seeds in SEEDS.items() for data in seeds]
    for name in TARGETS:
        directory = CORPUS / name
        if directory.is_dir():
            cases += [
                (name, path.read_bytes()) for path in sorted(directory.iterdir()) if path.is_file()
            ]
    return cases


@pytest.mark.parametrize(
    ("target", "data"), _cases(), ids=lambda v: v if isinstance(v, str) else f"{len(v)}b"
)
def test_target_survives_input(target: str, data: bytes) -> None:
    TARGETS[target](data)


def test_every_target_has_seeds() -> None:
    assert set(SEEDS) == set(TARGETS)
