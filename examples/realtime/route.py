"""GET /: the page that subscribes to the feed with EventSource and lists what arrives."""

from handlerkit import NextResponse

PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>handlerkit realtime</title>
  <style>
    body { font: 16px/1.4 system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; }
    #status { color: #666; }
    li[data-kind="message"] { font-weight: bold; }
  </style>
</head>
<body>
  <h1>Live events</h1>
  <p>Status: <span id="status">connecting</span></p>
  <form id="send">
    <input id="text" name="text" maxlength="280" required
           placeholder="Say something to every open page">
    <button>Send</button>
  </form>
  <ul id="events"></ul>
  <script src="app.js"></script>
</body>
</html>
"""

#: The page loads only its own script; nothing inline, nothing from elsewhere.
HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
}


def GET() -> NextResponse:
    return NextResponse(PAGE, headers=HEADERS)
