"""The hostile app: one route tree exercising every layer BAD_INPUTS.md attacks.

Written under ``tmp_path`` by the in-process tests and under a temporary folder for the
gunicorn tests. Route modules read ``HOSTILE_REDIS`` (a ``redis://`` URL for the shared
rate limit; ``memory://`` otherwise) and ``HOSTILE_MARKS`` (a folder where SSE cleanup
leaves a file) from the environment.
"""

from __future__ import annotations

APP_SECRET = "hostile-app-key-7f3a9c"
OLD_SECRET = "hostile-old-key-11b2e4"
STRIPE_SECRET = "whsec_hostile_stripe_5e1d"
GITHUB_SECRET = "It's a Secret to Everybody"
SECRETS = [APP_SECRET, OLD_SECRET, STRIPE_SECRET, GITHUB_SECRET]

FILES: dict[str, str] = {
    "middleware.py": """
        from handlerkit import NextResponse

        def middleware(request):
            if request.next_url.pathname.startswith("/internal"):
                return NextResponse.json({"error": "forbidden", "message": "Internal only."}, status=403)
            return NextResponse.next()
    """,
    "internal/route.py": """
        def GET():
            return {"internal": True}
    """,
    "json/route.py": """
        def POST(request):
            data = request.json()
            return {"kind": type(data).__name__, "data": data}
    """,
    "users/route.py": """
        from marshmallow import Schema, fields, validate
        from handlerkit import NextResponse, with_validation

        class User(Schema):
            name = fields.String(required=True, validate=validate.Length(max=50))
            age = fields.Integer()
            tags = fields.List(fields.String(validate=validate.Length(max=20)), validate=validate.Length(max=10))

        @with_validation(body=User)
        def POST(request, context):
            return NextResponse.json(context.state.body, status=201)
    """,
    "users/me/route.py": """
        def GET():
            return {"who": "me"}
    """,
    "users/[id]/route.py": """
        def GET(request, context):
            return {"id": context.params["id"]}
    """,
    "files/[...path]/route.py": """
        def GET(request, context):
            return {"path": context.params["path"]}
    """,
    "upload/route.py": """
        from handlerkit.uploads import require_content_type

        def POST(request):
            form = request.form_data()
            return {
                "fields": sorted(k for k, v in form.items() if isinstance(v, str)),
                "files": [{"name": f.name, "type": f.content_type, "size": f.size} for f in form.files],
            }

        def PUT(request):
            upload = request.form_data().get("image")
            require_content_type(upload, ("image/png",), sniff=True)
            return {"ok": True}
    """,
    "protected/route.py": """
        from handlerkit import compose, with_auth, with_cors

        @compose(
            with_cors(origins=["https://good.example"], credentials=True,
                      headers=["Authorization", "Content-Type"], max_age=86400),
            with_auth,
        )
        def GET(request, context):
            return {"user": context.state.user}

        POST = GET
    """,
    "admin/route.py": """
        from handlerkit import with_auth

        @with_auth(roles=["admin"])
        def GET(request, context):
            return {"admin": True}
    """,
    "login/route.py": """
        from handlerkit import compose, with_rate_limit

        def account(request, context):
            return "acct:" + (request.args.get("user") or "")

        @compose(
            with_rate_limit(limit=10, window=60),
            with_rate_limit(limit=3, window=60, key=account),
        )
        def POST(request):
            return {"ok": False}
    """,
    "burst/route.py": """
        import os
        from handlerkit import with_rate_limit

        def bucket(request, context):
            return "burst:" + (request.headers.get("X-Bucket") or "")

        @with_rate_limit(limit=5, window=60, key=bucket, storage=os.environ.get("HOSTILE_REDIS", "memory://"),
                         socket_timeout=2.0)
        def GET():
            return {"ok": True}
    """,
    "hooks/stripe/route.py": f"""
        from handlerkit import with_webhook_signature

        max_body_size = 64 * 1024
        SEEN = []

        @with_webhook_signature(scheme="stripe", secret={STRIPE_SECRET!r})
        def POST(request):
            SEEN.append(request.json())
            return {{"received": True}}
    """,
    "hooks/github/route.py": f"""
        from handlerkit import with_webhook_signature

        max_body_size = 64 * 1024
        SEEN = []

        @with_webhook_signature(scheme="github", secret={GITHUB_SECRET!r})
        def POST(request):
            SEEN.append(request.headers.get("X-GitHub-Delivery"))
            return {{"received": True}}
    """,
    "orders/route.py": """
        import threading
        from handlerkit import NextResponse, with_idempotency

        CREATED = []
        GATE = threading.Event()
        GATE.set()
        ENTERED = threading.Event()

        @with_idempotency
        def POST(request):
            ENTERED.set()
            GATE.wait(10)
            CREATED.append(request.json())
            return NextResponse.json({"order": len(CREATED)}, status=201, headers={"X-Order": str(len(CREATED))})
    """,
    "cached/route.py": """
        from handlerkit import with_cache

        CALLS = []

        @with_cache(ttl=60, vary=["Accept"])
        def GET(request):
            CALLS.append(1)
            return {"self": request.next_url.href, "accept": request.headers.get("Accept"), "n": len(CALLS)}
    """,
    "events/route.py": """
        import os, time
        from handlerkit import sse

        def GET(request):
            mode = request.args.get("mode", "")
            def events():
                try:
                    yield sse.Event(data={"hello": 1}, event="greeting")
                    if mode == "fail":
                        raise RuntimeError("sse failure with hostile-app-key-7f3a9c")
                    while True:
                        yield None
                        time.sleep(0.02)
                finally:
                    marks = os.environ.get("HOSTILE_MARKS")
                    if marks:
                        open(os.path.join(marks, "closed-" + request.args.get("tag", "x")), "w").close()
            return sse.stream(events(), heartbeat=float(request.args.get("hb", "0.05")))
    """,
    "boom/route.py": """
        def GET():
            raise RuntimeError("boom at /srv/app/secret.py with hostile-app-key-7f3a9c")

        def POST():
            raise KeyError("ValueError TypeError werkzeug")
    """,
    "apierror/route.py": """
        from handlerkit import ApiError

        def GET():
            raise ApiError(400, "bad_thing", "Exactly this message.", {"field": "x"})
    """,
    "slow/route.py": """
        import time

        def GET(request):
            time.sleep(float(request.args.get("s", "0.5")))
            return {"slept": True}
    """,
    "redirect/route.py": """
        from handlerkit import ApiError, NextResponse
        from handlerkit.response import is_safe_redirect

        def GET(request):
            target = request.args.get("next", "/")
            if not is_safe_redirect(target, allowed_hosts=["good.example"]):
                raise ApiError(400, "unsafe_redirect", "The redirect target is not allowed.")
            return NextResponse.redirect(target, 303)
    """,
    "whoami/route.py": """
        def GET(request):
            return {
                "cookies": {c.name: c.value for c in request.cookies},
                "a": request.cookies.get("a").value if request.cookies.get("a") else None,
                "host": request.next_url.host,
                "ip": request.ip,
            }
    """,
    "methods/route.py": """
        def GET(request):
            return {"method": request.method}

        def POST(request):
            return {"method": request.method}
    """,
    "logged/route.py": """
        from handlerkit import with_logging

        @with_logging
        def GET():
            return {"ok": True}
    """,
}
