"""``python -m handlerkit``: the same command line as the ``handlerkit`` console script."""

from __future__ import annotations

from .cli import main

raise SystemExit(main())
