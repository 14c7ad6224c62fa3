"""The whole site: the existing Flask app, with a handlerkit App answering everything under /api.

Serve it from the repository root with::

    gunicorn --chdir examples/mounted --bind 127.0.0.1:8000 wsgi:application
"""

from __future__ import annotations

import os
from pathlib import Path

from legacy import app as flask_app
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from handlerkit import create_app

#: The handlerkit app directory. Mounted at /api, so api/notes/route.py answers /api/notes.
API_DIR = Path(__file__).resolve().parent / "api"

api = create_app(API_DIR, secret_key=os.environ.get("MOUNTED_SECRET_KEY", "dev-only-change-me"))

# Flask keeps "/" and everything else; DispatcherMiddleware moves "/api" from
# PATH_INFO to SCRIPT_NAME before calling the handlerkit App, which routes on
# what is left ("/notes") and builds absolute URLs with the prefix.
flask_app.wsgi_app = DispatcherMiddleware(flask_app.wsgi_app, {"/api": api})  # type: ignore[method-assign]

#: The WSGI callable gunicorn serves.
application = flask_app
