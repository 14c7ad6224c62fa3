"""GET /api/events: the live feed, as server-sent events.

Each connection receives:

- ``message`` events (with an ``id``) whenever anyone posts to ``/api/messages``;
  a reconnecting browser sends ``Last-Event-ID`` and gets the ones it missed;
- ``tick`` events ``{"count": n, "at": "<UTC time>"}`` while the feed is quiet,
  counted per connection, without an id.

The generator waits for news with a timeout, so it notices within one tick when
the client has gone, and its ``finally`` runs then.
"""

from datetime import datetime, timezone

from handlerkit import NextRequest, NextResponse, sse

from ..._lib import hub, settings

TICK = settings.tick_seconds()
HEARTBEAT = settings.heartbeat_seconds()


def GET(request: NextRequest) -> NextResponse:
    newest = hub.last_id()
    resume = sse.last_event_id(request)
    # Only ids this hub could have issued count; anything else starts from now.
    valid = resume is not None and resume.isascii() and resume.isdigit() and len(resume) <= 18
    after = min(int(resume), newest) if valid else newest

    def events():
        nonlocal after
        ticks = 0
        while True:
            news = hub.wait_after(after, TICK)
            for item in news:
                after = item.id
                yield sse.Event(item.data, event=item.kind, id=item.id)
            if not news:
                ticks += 1
                at = (
                    datetime.now(timezone.utc)
                    .isoformat(timespec="milliseconds")
                    .replace("+00:00", "Z")
                )
                yield sse.Event({"count": ticks, "at": at}, event="tick")

    return sse.stream(events(), heartbeat=HEARTBEAT, retry=1000)
