"""examples/uploads: type (415) and size (413) checks, server-generated names, serving back."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
import requests

from handlerkit import App
from handlerkit.testing import Client
from tests.support.servers import ROOT, gunicorn

EXAMPLE = ROOT / "examples" / "uploads"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 200
GIF = b"GIF89a" + b"\x01" * 50
WEBP = b"RIFF\x10\x00\x00\x00WEBPVP8 " + b"\x02" * 50


@pytest.fixture
def upload_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    target = tmp_path / "uploads"
    monkeypatch.setenv("UPLOADS_DIR", str(target))
    monkeypatch.setenv("UPLOADS_MAX_BYTES", "4096")
    return target


@pytest.fixture
def client(upload_dir: Path) -> Client:
    return Client(App(EXAMPLE))


def post_file(
    client: Client, content: bytes, filename: str = "photo.png", declared: str = "image/png"
):  # type: ignore[no-untyped-def]
    return client.post("/api/images", data={"file": (io.BytesIO(content), filename, declared)})


@pytest.mark.parametrize(
    ("content", "kind", "extension"),
    [
        (PNG, "image/png", "png"),
        (JPEG, "image/jpeg", "jpg"),
        (GIF, "image/gif", "gif"),
        (WEBP, "image/webp", "webp"),
    ],
)
def test_an_image_is_stored_under_a_generated_name_and_served_back(
    client: Client, upload_dir: Path, content: bytes, kind: str, extension: str
) -> None:
    response = post_file(client, content, filename="holiday", declared=kind)
    assert response.status_code == 201
    body = response.json()
    assert body["type"] == kind and body["size"] == len(content) and body["name"] == "holiday"
    assert body["id"].endswith("." + extension) and body["id"] != "holiday"
    assert response.headers["Location"] == body["url"] == f"/api/images/{body['id']}"
    assert os.listdir(upload_dir) == [body["id"]]
    assert (upload_dir / body["id"]).read_bytes() == content
    served = client.get(body["url"])
    assert served.status_code == 200
    assert served.data == content
    assert served.headers["Content-Type"] == kind
    assert served.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    "hostile", ["../../etc/passwd", "C:\\x\\evil.png", "CON", "a\x00b.png", "x" * 5000 + ".png"]
)
def test_the_client_file_name_is_never_used_as_a_path(
    client: Client, upload_dir: Path, tmp_path: Path, hostile: str
) -> None:
    response = post_file(client, PNG, filename=hostile)
    assert response.status_code == 201
    stored = os.listdir(upload_dir)
    assert stored == [response.json()["id"]]
    assert "/" not in response.json()["name"] and "\x00" not in response.json()["name"]
    assert len(response.json()["name"]) <= 255
    assert sorted(p.name for p in tmp_path.iterdir()) == ["uploads"]


def test_bytes_that_are_not_an_image_get_415_whatever_the_declared_type(
    client: Client, upload_dir: Path
) -> None:
    response = post_file(
        client, b"<svg onload=alert(1)></svg>", filename="cat.png", declared="image/png"
    )
    assert response.status_code == 415
    assert response.json()["error"] == "unsupported_media_type"
    assert "image/png" in response.json()["details"]["allowed"]
    assert not upload_dir.exists() or os.listdir(upload_dir) == []


@pytest.mark.parametrize(
    ("filename", "declared"),
    [
        ("photo.exe", "image/png"),
        ("photo.png", "text/plain"),
        ("photo.png", "application/octet-stream"),
    ],
)
def test_a_real_image_with_a_foreign_name_or_declared_type_gets_415(
    client: Client, upload_dir: Path, filename: str, declared: str
) -> None:
    response = post_file(client, PNG, filename=filename, declared=declared)
    assert response.status_code == 415
    assert not upload_dir.exists() or os.listdir(upload_dir) == []


def test_the_stored_type_is_what_the_bytes_show(client: Client, upload_dir: Path) -> None:
    response = post_file(client, JPEG, filename="photo.png", declared="image/png")
    assert response.status_code == 201
    assert response.json()["type"] == "image/jpeg" and response.json()["id"].endswith(".jpg")


def test_a_body_that_is_not_a_form_gets_415(client: Client) -> None:
    response = client.post("/api/images", json={"file": "aGVsbG8="})
    assert response.status_code == 415
    assert response.json()["error"] == "unsupported_media_type"


def test_an_image_over_the_size_limit_gets_413(client: Client, upload_dir: Path) -> None:
    response = post_file(client, PNG + b"\x00" * 4096)
    assert response.status_code == 413
    assert response.json()["error"] == "file_too_large"
    assert response.json()["details"]["max_bytes"] == 4096
    assert not upload_dir.exists() or os.listdir(upload_dir) == []


def test_a_body_over_the_route_limit_is_refused_before_it_is_read(client: Client) -> None:
    response = post_file(client, PNG + b"\x00" * 64 * 1024)
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"


def test_a_form_without_a_file_part_gets_400(client: Client) -> None:
    response = client.post("/api/images", data={"file": "just text"})
    assert response.status_code == 400
    assert response.json()["error"] == "missing_file"


@pytest.mark.parametrize(
    "name",
    [
        "nope.png",
        "AAAAAAAAAAAAAAAAAAAAAA.exe",
        "AAAAAAAAAAAAAAAAAAAAAA.png",
    ],
)
def test_unknown_or_foreign_image_names_get_404(client: Client, name: str) -> None:
    response = client.get(f"/api/images/{name}")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_a_traversal_name_is_refused_before_the_handler(client: Client) -> None:
    # A param holding ".." behind an encoded "/" is a 400 from the App (BAD_INPUTS D2).
    response = client.get("/api/images/..%2F..%2Fetc%2Fpasswd")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_param"


def test_the_page_offers_an_upload_form(client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert 'enctype="multipart/form-data"' in response.text and 'name="file"' in response.text


def test_uploads_work_under_gunicorn(tmp_path: Path) -> None:
    target = tmp_path / "served"
    env = {"UPLOADS_DIR": str(target), "UPLOADS_MAX_BYTES": "4096"}
    with gunicorn(f"handlerkit:create_app({str(EXAMPLE)!r})", env=env) as server:
        ok = requests.post(
            f"{server.url}/api/images", files={"file": ("a.png", PNG, "image/png")}, timeout=10
        )
        assert ok.status_code == 201
        assert (target / ok.json()["id"]).read_bytes() == PNG
        assert requests.get(server.url + ok.json()["url"], timeout=10).content == PNG
        wrong = requests.post(
            f"{server.url}/api/images", files={"file": ("a.png", b"GIF8", "image/png")}, timeout=10
        )
        assert wrong.status_code == 415
        big = requests.post(
            f"{server.url}/api/images", files={"file": ("a.png", PNG * 8, "image/png")}, timeout=10
        )
        assert big.status_code == 413
