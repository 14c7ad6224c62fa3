"""The existing Flask app: the server-rendered pages that were there before handlerkit."""

from __future__ import annotations

from flask import Flask, render_template

app = Flask(__name__)


@app.get("/")
def home() -> str:
    """The HTML home page; its script reads the notes from the handlerkit API."""
    return render_template("home.html")


@app.get("/health")
def health() -> dict[str, str]:
    """A Flask JSON view, untouched by the mount."""
    return {"status": "ok", "served_by": "flask"}
