"""Flask, with flask-cors, Flask-Limiter and marshmallow for D and E."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from benchmarks.workload import (
    EXTRA_ROUTES,
    ORIGIN,
    RATE_LIMIT,
    RATE_WINDOW,
    SECRET_KEY,
    TOKEN_SALT,
    ItemSchema,
    UserSchema,
    access_logger,
    extra_paths,
)

ENDPOINTS = ("A", "B", "C", "D", "E")


def create(extra_routes: int = EXTRA_ROUTES) -> Callable[..., Any]:
    """Return the Flask app."""
    import json
    import time
    import uuid

    from flask import Flask, abort, g, jsonify, request
    from flask_cors import cross_origin
    from flask_limiter import Limiter
    from flask_limiter.util import get_remote_address
    from itsdangerous import BadSignature, URLSafeTimedSerializer
    from marshmallow import ValidationError

    app = Flask(__name__)
    limiter = Limiter(get_remote_address, app=app, storage_uri="memory://")
    signer = URLSafeTimedSerializer(SECRET_KEY, salt=TOKEN_SALT)
    log = access_logger("bench.flask.access")
    users, items = UserSchema(), ItemSchema()

    def extra(id: str | None = None) -> Any:  # noqa: A002 - the route's param name
        return jsonify(id=id)

    for index, pattern in enumerate(extra_paths(extra_routes)):
        app.add_url_rule(pattern.replace("[id]", "<id>"), f"extra{index}", extra, methods=["GET"])

    @app.get("/hello")
    def hello() -> Any:
        return jsonify(message="Hello, World!")

    @app.get("/users/<id>")
    def user(id: str) -> Any:  # noqa: A002
        return jsonify(id=id)

    @app.get("/q")
    def query() -> Any:
        return jsonify(
            page=request.args.get("page"),
            limit=request.args.get("limit"),
            session=request.cookies.get("session"),
        )

    @app.post("/users")
    @limiter.exempt
    def create_user() -> Any:
        try:
            data = users.load(request.get_json())
        except ValidationError as exc:
            return jsonify(error="validation_failed", details=exc.messages), 422
        return jsonify(data), 201

    @app.post("/items")
    @cross_origin(origins=[ORIGIN])
    @limiter.limit(f"{RATE_LIMIT} per {RATE_WINDOW} seconds")
    def create_item() -> Any:
        # The same work as handlerkit's compose(with_logging, with_cors,
        # with_rate_limit, with_auth, with_validation): a request id, a JSON
        # access line, an itsdangerous bearer token, a marshmallow load.
        started = time.perf_counter()
        incoming = request.headers.get("X-Request-ID")
        rid = incoming if incoming and len(incoming) <= 128 else uuid.uuid4().hex
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            abort(401)
        try:
            g.user = signer.loads(header[7:])
        except BadSignature:
            abort(401)
        try:
            data = items.load(request.get_json())
        except ValidationError as exc:
            return jsonify(error="validation_failed", details=exc.messages), 422
        response = jsonify({**data, "owner": g.user["sub"]})
        response.status_code = 201
        response.headers["X-Request-ID"] = rid
        entry = {
            "method": request.method,
            "path": request.path,
            "query": request.query_string.decode() or None,
            "route": request.url_rule.rule if request.url_rule else None,
            "status": response.status_code,
            "duration_ms": round((time.perf_counter() - started) * 1000, 3),
            "request_id": rid,
            "ip": request.remote_addr,
            "user_agent": request.headers.get("User-Agent"),
        }
        log.info(json.dumps(entry), extra={"access": entry})
        return response

    limiter.exempt(hello)
    limiter.exempt(user)
    limiter.exempt(query)
    return app
