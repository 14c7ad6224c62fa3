"""GET /app.js: the page's script (a folder named ``app.js`` serves that exact URL)."""

from handlerkit import NextResponse

SCRIPT = """\
"use strict";
const list = document.getElementById("events");
const status = document.getElementById("status");
const MAX_ITEMS = 50;

function show(kind, text) {
  const item = document.createElement("li");
  item.dataset.kind = kind;
  item.textContent = text;  // never innerHTML: event data is untrusted
  list.prepend(item);
  while (list.children.length > MAX_ITEMS) list.lastElementChild.remove();
}

const source = new EventSource("api/events");
source.addEventListener("open", () => { status.textContent = "connected"; });
source.addEventListener("error", () => { status.textContent = "reconnecting"; });
source.addEventListener("tick", (event) => {
  const data = JSON.parse(event.data);
  show("tick", `tick #${data.count} at ${data.at}`);
});
source.addEventListener("message", (event) => {
  const data = JSON.parse(event.data);
  show("message", `message: ${data.text}`);
});

document.getElementById("send").addEventListener("submit", async (event) => {
  event.preventDefault();
  const input = document.getElementById("text");
  const response = await fetch("api/messages", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ text: input.value }),
  });
  if (response.ok) input.value = "";
});
"""


def GET() -> NextResponse:
    return NextResponse(
        SCRIPT,
        headers={
            "Content-Type": "text/javascript; charset=utf-8",
            "X-Content-Type-Options": "nosniff",
        },
    )
