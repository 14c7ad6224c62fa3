"""with_idempotency across real gunicorn workers sharing a real Redis (BAD_INPUTS L3, L4)."""

from __future__ import annotations

import collections
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from handlerkit.testing import write_app
from tests.support.servers import gunicorn, wait_for_file

pytestmark = pytest.mark.slow

KEY = "6f1c1a4e-2b55-4b8e-9d1e-0c7a3f1d2e77"

ROUTE = """
import os
import pathlib
import time

from handlerkit import NextResponse, with_idempotency
from tests.support.worker_pid import with_worker_pid

DIR = pathlib.Path(os.environ["HK_IDEM_DIR"])


@with_worker_pid
@with_idempotency(store=os.environ["HK_IDEM_STORE"], lock_ttl=float(os.environ["HK_IDEM_LOCK_TTL"]))
def POST(request):
    data = request.json()
    (DIR / "started").write_text(str(os.getpid()))
    crash = DIR / "crash"
    if crash.exists():
        crash.unlink()
        os._exit(1)  # the worker dies mid-request, holding the lock
    deadline = time.monotonic() + 20
    while data.get("wait") and not (DIR / "release").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    with open(DIR / "effects", "a") as log:
        log.write(f"{os.getpid()} {data['item']}\\n")
    return NextResponse.json({"item": data["item"], "pid": os.getpid()}, status=201)
"""


def serve(
    tmp_path: Path, redis_url: str, *, lock_ttl: float = 30
) -> tuple[str, dict[str, str], Path]:
    state = tmp_path / "state"
    state.mkdir()
    root = write_app(tmp_path / "app", {"orders/route.py": ROUTE})
    # A generous Redis timeout (URL options override RedisStore's 0.1 s): on a
    # loaded CI machine a slow reply would otherwise be a 503, which is not
    # what these tests are about.
    store = redis_url + "?socket_timeout=2&socket_connect_timeout=2"
    env = {"HK_IDEM_DIR": str(state), "HK_IDEM_STORE": store, "HK_IDEM_LOCK_TTL": str(lock_ttl)}
    return f"handlerkit:create_app({str(root)!r})", env, state


def effects(state: Path) -> list[str]:
    path = state / "effects"
    return path.read_text().splitlines() if path.exists() else []


def test_in_flight_key_on_another_worker_is_409_then_replayed(
    tmp_path: Path, redis_url: str
) -> None:
    """Two sync workers: while worker A runs the first request, worker B must answer the second."""
    spec, env, state = serve(tmp_path, redis_url)
    headers = {"Idempotency-Key": KEY}
    payload = {"item": "book", "wait": True}
    with gunicorn(spec, workers=2, worker_class="sync", threads=1, env=env) as server:
        url = server.url + "/orders"
        with ThreadPoolExecutor(max_workers=1) as pool:
            first_future = pool.submit(
                requests.post, url, json=payload, headers=headers, timeout=30
            )
            busy_pid = wait_for_file(state / "started", timeout=15)
            assert busy_pid, "the first request never reached the handler"
            # Worker A is blocked inside the handler, so a sync worker B serves these.
            in_flight = requests.post(url, json=payload, headers=headers, timeout=10)
            reused = requests.post(url, json={"item": "lamp"}, headers=headers, timeout=10)
            (state / "release").touch()
            first = first_future.result(timeout=30)
        replay = requests.post(url, json=payload, headers=headers, timeout=10)

    assert in_flight.headers["X-Worker-Pid"] != busy_pid
    assert in_flight.status_code == 409
    assert in_flight.json()["error"] == "idempotency_key_in_flight"
    assert reused.status_code == 422
    assert first.status_code == 201
    assert first.headers["X-Worker-Pid"] == busy_pid
    assert replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.content == first.content
    assert replay.headers["Content-Type"] == first.headers["Content-Type"]
    assert effects(state) == [f"{busy_pid} book"]


def test_concurrent_burst_with_one_key_has_one_side_effect(tmp_path: Path, redis_url: str) -> None:
    spec, env, state = serve(tmp_path, redis_url)
    headers = {"Idempotency-Key": KEY}
    with gunicorn(spec, workers=4, threads=4, env=env) as server:
        url = server.url + "/orders"
        with ThreadPoolExecutor(max_workers=16) as pool:
            responses = list(
                pool.map(
                    lambda _: requests.post(
                        url, json={"item": "book"}, headers=headers, timeout=30
                    ),
                    range(16),
                )
            )
    kinds = collections.Counter(
        "replay" if r.headers.get("Idempotent-Replayed") == "true" else str(r.status_code)
        for r in responses
    )
    assert kinds["201"] == 1
    assert set(kinds) <= {"201", "replay", "409"}
    original = next(
        r for r in responses if r.status_code == 201 and "Idempotent-Replayed" not in r.headers
    )
    for response in responses:
        if response.headers.get("Idempotent-Replayed") == "true":
            assert response.status_code == 201
            assert response.content == original.content
    assert len(effects(state)) == 1
    print(f"16 concurrent requests, one key: {dict(kinds)}")


def test_a_worker_crashing_mid_request_does_not_wedge_the_key(
    tmp_path: Path, redis_url: str
) -> None:
    spec, env, state = serve(tmp_path, redis_url, lock_ttl=4)
    headers = {"Idempotency-Key": KEY}
    (state / "crash").touch()
    with gunicorn(spec, workers=2, worker_class="sync", threads=1, env=env) as server:
        url = server.url + "/orders"
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.post(url, json={"item": "book"}, headers=headers, timeout=10)
        assert not (state / "crash").exists()  # the worker did die inside the handler
        # The dead worker's lock is still held...
        assert (
            requests.post(url, json={"item": "book"}, headers=headers, timeout=10).status_code
            == 409
        )
        # ...until its TTL ends; then the retry runs, once.
        deadline = time.monotonic() + 15
        while True:
            retry = requests.post(url, json={"item": "book"}, headers=headers, timeout=10)
            if retry.status_code != 409 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert retry.status_code == 201
        assert "Idempotent-Replayed" not in retry.headers
        replay = requests.post(url, json={"item": "book"}, headers=headers, timeout=10)
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert len(effects(state)) == 1
