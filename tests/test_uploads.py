"""Uploads: UploadedFile, sanitised names, size/part limits, the 415 allowlist, malformed bodies, temporary-file cleanup."""

from __future__ import annotations

import hashlib
import io
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from handlerkit import App, NextRequest
from handlerkit.errors import ApiError
from handlerkit.testing import Client, write_app
from handlerkit.uploads import require_content_type, sniff_content_type
from tests.support.servers import Server, gunicorn

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
EXE = b"MZ\x90\x00" + b"\x00" * 2000

ROUTES = {
    "upload/route.py": """
        import hashlib, os, uuid
        from handlerkit import NextResponse

        max_body_size = 5 * 1024 * 1024

        def POST(request):
            upload = request.form_data().get("file")
            target = os.path.join(os.environ["UPLOAD_DEST"], uuid.uuid4().hex)
            upload.save(target)
            return NextResponse.json({"stored": target, "size": upload.size, "name": upload.name,
                                      "sha256": hashlib.sha256(upload.read()).hexdigest()}, status=201)
    """,
    "avatar/route.py": """
        from handlerkit.uploads import require_content_type

        def POST(request):
            upload = require_content_type(request.form_data().get("file"), ["image/png", "image/jpeg"], sniff=True)
            return {"ok": True, "type": upload.content_type}
    """,
    # Keeps a reference to every upload (a naive cache), so only the App's
    # explicit close can release the temporary files.
    "keep/route.py": """
        from handlerkit import NextResponse

        KEPT = []
        max_body_size = 4 * 1024 * 1024

        def POST(request):
            form = request.form_data()
            KEPT.extend(form.files)
            return {"files": len(form.files), "open": sum(not f.stream.closed for f in form.files)}

        def GET():
            return {"closed": [f.stream.closed for f in KEPT]}
    """,
    "echo/route.py": """
        from handlerkit import NextResponse

        def POST(request):
            upload = request.form_data().get("file")

            def body():
                stream = upload.stream
                stream.seek(0)
                while chunk := stream.read(100_000):
                    yield chunk

            return NextResponse(body(), headers={"Content-Type": "application/octet-stream"})
    """,
    "fields/route.py": """
        def POST(request):
            form = request.form_data()
            return {"keys": form.keys(), "files": [[f.field, f.name, f.raw_filename, f.content_type, f.size]
                                                   for f in form.files]}
    """,
}


@pytest.fixture(scope="module")
def app_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_app(tmp_path_factory.mktemp("uploads") / "app", ROUTES)


@pytest.fixture
def client(app_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Client:
    monkeypatch.setenv("UPLOAD_DEST", str(tmp_path))
    return Client(App(app_dir))


def multipart(
    parts: list[tuple[str, str | None, str | None, bytes]], boundary: str = "b0undary"
) -> bytes:
    """Encode (field, filename, content_type, content) parts as a multipart body."""
    out = io.BytesIO()
    for field, filename, ctype, content in parts:
        out.write(f"--{boundary}\r\n".encode())
        disposition = f'form-data; name="{field}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        out.write(f"Content-Disposition: {disposition}\r\n".encode())
        if ctype:
            out.write(f"Content-Type: {ctype}\r\n".encode())
        out.write(b"\r\n" + content + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue()


MULTIPART = "multipart/form-data; boundary=b0undary"


# -- UploadedFile ----------------------------------------------------------------


def test_an_uploaded_file_exposes_name_type_size_read_save_and_stream(tmp_path: Path) -> None:
    request = NextRequest(
        "/x", method="POST", files={"doc": (b"hello world", "report.txt", "text/plain")}
    )
    upload = request.form_data().get("doc")
    assert upload.field == "doc" and upload.name == "report.txt"
    assert upload.content_type == "text/plain" and upload.size == 11
    assert upload.read() == b"hello world" and upload.read() == b"hello world"
    upload.save(tmp_path / "copy")
    assert (tmp_path / "copy").read_bytes() == b"hello world"
    sink = io.BytesIO()
    upload.save(sink)
    assert sink.getvalue() == b"hello world"
    upload.stream.seek(0)
    assert upload.stream.read(5) == b"hello"


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\system32\\cmd.exe", "cmd.exe"),
        ("C:\\x", "x"),
        ("CON", "CON"),
        ("a\x00b.txt", "ab.txt"),
        ("..hidden", "hidden"),
        ("/", ""),
        ("évian café.png", "évian café.png"),
    ],
)
def test_file_names_are_sanitised_for_display(client: Client, raw: str, shown: str) -> None:
    body = multipart([("file", raw, "text/plain", b"x")])
    response = client.post("/fields", data=body, content_type=MULTIPART)
    assert response.status_code == 200
    [[field, name, raw_name, _, _]] = response.json()["files"]
    assert name == shown and "/" not in name and "\\" not in name and "\x00" not in name
    assert raw_name == raw.replace("\x00", "") or raw_name == raw


def test_a_5kb_file_name_is_cut_to_255_characters_keeping_the_extension(client: Client) -> None:
    response = client.post(
        "/fields",
        data=multipart([("file", "a" * 5000 + ".png", "image/png", b"x")]),
        content_type=MULTIPART,
    )
    [[_, name, *_]] = response.json()["files"]
    assert len(name) == 255 and name.endswith(".png")


def test_the_declared_type_and_a_missing_type_are_reported_as_declared(client: Client) -> None:
    body = multipart([("a", "x.png", "image/png", EXE), ("b", "y.bin", None, b"1")])
    files = client.post("/fields", data=body, content_type=MULTIPART).json()["files"]
    assert [f[3] for f in files] == ["image/png", "application/octet-stream"]


# -- limits and malformed bodies (BAD_INPUTS C1-C4) -----------------------------------


def test_a_body_over_the_route_limit_is_413(client: Client) -> None:
    body = multipart(
        [("file", "big.bin", "application/octet-stream", b"x" * (5 * 1024 * 1024 + 1))]
    )
    response = client.post("/upload", data=body, content_type=MULTIPART)
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"


def test_1200_parts_is_413(client: Client) -> None:
    body = multipart([(f"f{i}", None, None, b"v") for i in range(1200)])
    assert client.post("/fields", data=body, content_type=MULTIPART).status_code == 413


def test_a_600kb_field_is_413(client: Client) -> None:
    body = multipart([("note", None, None, b"x" * 600_000)])
    assert client.post("/fields", data=body, content_type=MULTIPART).status_code == 413


def test_many_small_files_are_413_at_the_cap_and_their_files_are_closed(app_dir: Path) -> None:
    body = multipart([(f"f{i}", f"{i}.txt", "text/plain", b"x") for i in range(1100)])
    request = NextRequest("/x", method="POST", data=body, content_type=MULTIPART)
    with pytest.raises(ApiError) as caught:
        request.form_data()
    assert caught.value.status == 413
    opened = request.__dict__["_hk_temp_files"]
    assert len(opened) > 900
    request.close()
    assert all(stream.closed for stream in opened)


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("multipart/form-data", multipart([("a", None, None, b"1")])),  # no boundary parameter
        (
            "multipart/form-data; boundary=other",
            multipart([("a", None, None, b"1")]),
        ),  # wrong boundary
        (MULTIPART, b"this is not multipart at all"),
        (MULTIPART, multipart([("file", "a.txt", "text/plain", b"hello")])[:-30]),  # truncated
    ],
)
def test_malformed_multipart_is_400_not_an_empty_form(
    client: Client, content_type: str, body: bytes
) -> None:
    response = client.post("/fields", data=body, content_type=content_type)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_form"


def test_an_empty_multipart_body_is_400() -> None:
    # Not even a closing boundary (a test client would send one for an empty form).
    request = NextRequest(
        {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": "/x",
            "SERVER_NAME": "t",
            "SERVER_PORT": "80",
            "wsgi.url_scheme": "http",
            "CONTENT_TYPE": MULTIPART,
            "CONTENT_LENGTH": "0",
            "wsgi.input": io.BytesIO(b""),
        }
    )
    with pytest.raises(ApiError) as caught:
        request.form_data()
    assert (caught.value.status, caught.value.code) == (400, "invalid_form")


# -- the allowlist (415) -----------------------------------------------------------------


def upload_of(content: bytes, filename: str, ctype: str):  # type: ignore[no-untyped-def]
    return (
        NextRequest("/x", method="POST", files={"f": (content, filename, ctype)})
        .form_data()
        .get("f")
    )


def test_an_allowed_type_passes_and_is_returned() -> None:
    upload = upload_of(PNG, "photo.png", "image/png")
    assert require_content_type(upload, ["image/png"], sniff=True) is upload
    assert require_content_type(upload_of(PNG, "p.png", "image/png"), ["image/*"]) is not None


@pytest.mark.parametrize(
    ("content", "filename", "ctype", "options"),
    [
        (EXE, "setup.exe", "application/x-msdownload", {}),  # declared type not allowed
        (EXE, "setup.exe", "image/png", {}),  # declared type lies; the extension does not
        (EXE, "photo.png", "image/png", {"sniff": True}),  # name and type lie; the bytes do not
        (b"plain text", "notes.png", "image/png", {"sniff": True}),  # unrecognised bytes
    ],
)
def test_a_type_outside_the_allowlist_is_415(
    content: bytes, filename: str, ctype: str, options: dict[str, bool]
) -> None:
    with pytest.raises(ApiError) as caught:
        require_content_type(
            upload_of(content, filename, ctype), ["image/png", "image/jpeg"], **options
        )
    assert caught.value.status == 415 and caught.value.code == "unsupported_media_type"
    assert caught.value.details == {"allowed": ["image/png", "image/jpeg"]}
    assert filename not in caught.value.message


def test_a_lying_type_passes_without_sniffing_as_documented() -> None:
    # C6: the declared type is not trusted; only sniff=True looks at the bytes.
    assert require_content_type(upload_of(EXE, "photo.png", "image/png"), ["image/png"]) is not None


@pytest.mark.parametrize("value", [None, "a text field"])
def test_a_missing_file_is_400(value: object) -> None:
    with pytest.raises(ApiError) as caught:
        require_content_type(value, ["image/png"])
    assert caught.value.status == 400


def test_sniffing_recognises_common_formats_and_keeps_the_position() -> None:
    upload = upload_of(PNG, "a.png", "image/png")
    upload.stream.seek(3)
    assert sniff_content_type(upload) == "image/png"
    assert upload.stream.tell() == 3
    assert sniff_content_type(upload_of(EXE, "a", "x/y")) == "application/x-msdownload"
    assert sniff_content_type(upload_of(b"RIFF\0\0\0\0WEBPVP8 ", "a", "x/y")) == "image/webp"
    assert sniff_content_type(upload_of(b"hello", "a", "x/y")) is None


# -- temporary files -------------------------------------------------------------------


def test_upload_files_are_closed_after_a_buffered_response(client: Client) -> None:
    body = multipart([("a", "a.bin", None, b"x" * 600_000), ("b", "b.txt", None, b"small")])
    assert client.post("/keep", data=body, content_type=MULTIPART).json() == {"files": 2, "open": 2}
    closed = client.get("/keep").json()["closed"]
    assert closed[-2:] == [True, True]


def test_upload_files_stay_open_until_a_streamed_response_is_done(client: Client) -> None:
    data = os.urandom(700_000)
    response = client.post(
        "/echo", data=multipart([("file", "a.bin", None, data)]), content_type=MULTIPART
    )
    assert response.status_code == 200
    assert response.get_data() == data


# -- over gunicorn -------------------------------------------------------------------


@pytest.fixture(scope="module")
def served(
    app_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, Path, Path]]:
    temp = tmp_path_factory.mktemp("server-tmp")
    dest = tmp_path_factory.mktemp("dest")
    env = {"TMPDIR": str(temp), "UPLOAD_DEST": str(dest)}
    # --worker-tmp-dir elsewhere: gunicorn's own heartbeat file would otherwise live in TMPDIR.
    with gunicorn(
        f"handlerkit:create_app({str(app_dir)!r})",
        worker_class="gthread",
        threads=4,
        env=env,
        args=["--worker-tmp-dir", "/dev/shm"],
    ) as running:
        yield running, temp, dest


def raw_request(
    server: Server, head: bytes, body: bytes = b"", *, shut: bool = False
) -> tuple[int, bytes]:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head + body)
        if shut:
            sock.shutdown(socket.SHUT_WR)
        reply = b""
        while True:
            data = sock.recv(65536)
            if not data:
                break
            reply += data
            if b"\r\n\r\n" in reply:
                header, _, rest = reply.partition(b"\r\n\r\n")
                length = [
                    int(line.split(b":")[1])
                    for line in header.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                ]
                if length and len(rest) >= length[0]:
                    break
    status = int(reply.split(b" ", 2)[1])
    return status, reply.partition(b"\r\n\r\n")[2]


def post_head(path: str, length: int, content_type: str = MULTIPART) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


def worker_temp_fds(server: Server, temp: Path) -> list[str]:
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
    links = []
    for pid in children:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith(str(temp)):
                links.append(target)
    return links


def test_uploads_over_gunicorn(served: tuple[Server, Path, Path]) -> None:
    server, temp, dest = served
    # A 3 MB file to a 5 MiB route is saved intact.
    data = os.urandom(3_000_000)
    response = requests.post(
        f"{server.url}/upload", files={"file": ("../../photo.raw", data, "image/x-raw")}, timeout=20
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["size"] == len(data) and body["name"] == "photo.raw"
    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    assert (
        hashlib.sha256(Path(body["stored"]).read_bytes()).hexdigest()
        == hashlib.sha256(data).hexdigest()
    )

    # 6 MB is refused from its Content-Length, before the body is read.
    status, answer = raw_request(server, post_head("/upload", 6_000_000))
    assert status == 413 and json.loads(answer)["error"] == "payload_too_large"

    # An executable to the image-only route is 415, whatever it claims to be.
    for name, ctype in (
        ("setup.exe", "application/x-msdownload"),
        ("setup.exe", "image/png"),
        ("photo.png", "image/png"),
    ):
        response = requests.post(
            f"{server.url}/avatar", files={"file": (name, EXE, ctype)}, timeout=10
        )
        assert response.status_code == 415, (name, ctype)
        assert response.json()["error"] == "unsupported_media_type"
    ok = requests.post(
        f"{server.url}/avatar", files={"file": ("a.png", PNG, "image/png")}, timeout=10
    )
    assert ok.status_code == 200

    # A multipart body truncated before its closing boundary is 400, not an empty form.
    truncated = multipart([("file", "a.bin", None, os.urandom(800_000))])[:-40]
    status, answer = raw_request(server, post_head("/fields", len(truncated)), truncated)
    assert status == 400 and json.loads(answer)["error"] == "invalid_form"

    # A body cut short of its Content-Length (the client stops sending) is 400.
    whole = multipart([("file", "a.bin", None, os.urandom(800_000))])
    status, answer = raw_request(
        server, post_head("/fields", len(whole)), whole[:400_000], shut=True
    )
    assert status == 400

    # Too many files: 413 at the cap.
    many = multipart([(f"f{i}", f"{i}.txt", "text/plain", b"x") for i in range(1100)])
    status, _ = raw_request(server, post_head("/fields", len(many)), many)
    assert status == 413

    # Uploads kept referenced by the handler are still closed by the App.
    big = multipart(
        [("a", "a.bin", None, os.urandom(900_000)), ("b", "b.bin", None, os.urandom(600_000))]
    )
    status, answer = raw_request(server, post_head("/keep", len(big)), big)
    assert status == 200 and json.loads(answer) == {"files": 2, "open": 2}
    # A streamed response reading the upload gets it whole.
    echoed = os.urandom(900_000)
    response = requests.post(f"{server.url}/echo", files={"file": ("e.bin", echoed)}, timeout=10)
    assert response.content == echoed

    # Nothing is left in the server's temp dir, and no worker holds a file from it open.
    # A streamed response is closed by the server just after its last byte went out, so
    # the client can get here a moment before that close: wait for it (bounded).
    deadline = time.monotonic() + 5
    while worker_temp_fds(server, temp) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert worker_temp_fds(server, temp) == []
    assert sorted(os.listdir(temp)) == []
