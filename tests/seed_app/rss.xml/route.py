"""/rss.xml: a dotted folder name is a plain static segment; the feed is XML."""

from __future__ import annotations

from handlerkit import NextResponse

FEED = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0">
  <channel>
    <title>handlerkit notes</title>
    <link>https://example.com</link>
    <description>Short notes on WSGI route handlers</description>
  </channel>
</rss>
"""


def GET() -> NextResponse:
    return NextResponse(FEED, headers={"Content-Type": "application/xml"})
