"""Helpers the benchmark scripts share: import path set-up, timing, medians, tables and result files."""

from __future__ import annotations

import datetime
import os
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"
RESULTS = BENCH / "results"
README = BENCH / "README.md"


def setup_path() -> None:
    """Put the repository root, not ``benchmarks/``, first on ``sys.path``.

    ``python benchmarks/http.py`` would otherwise put ``benchmarks/`` on the
    path, where ``http.py`` shadows the standard library's ``http``.
    """
    here = str(BENCH)
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))


def median(values: Sequence[float]) -> float:
    """Return the median of *values*."""
    return float(statistics.median(values))


def start_response(
    status: str, headers: list[tuple[str, str]], exc_info: Any = None
) -> Callable[[bytes], None]:
    """A WSGI ``start_response`` that keeps nothing."""
    return _write


def _write(data: bytes) -> None:
    return None


def call(app: Callable[..., Any], environ: dict[str, Any]) -> tuple[str, dict[str, str], bytes]:
    """Call a WSGI app once and return ``(status, headers, body)``."""
    seen: list[Any] = []

    def keep(
        status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], None]:
        seen[:] = [status, headers]
        return _write

    result = app(environ, keep)
    try:
        body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return seen[0], dict(seen[1]), body


#: The clock in-process batches are timed with: ``process_time`` (CPU time of the
#: whole process, every thread included) or ``perf_counter`` (wall time).
CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}
CLOCK = CLOCKS["cpu"]


def set_clock(name: str) -> None:
    """Choose the clock of :func:`run_batch`: ``"cpu"`` (default) or ``"wall"``."""
    global CLOCK
    CLOCK = CLOCKS[name]


def run_batch(
    app: Callable[..., Any], make_environ: Callable[[], dict[str, Any]], count: int
) -> float:
    """Serve *count* requests in process and return the mean microseconds per request.

    Each call gets a fresh environ, the body is iterated and ``close()`` is
    called when the iterable has one, as a WSGI server would.
    """
    perf_counter = CLOCK
    respond = start_response
    started = perf_counter()
    for _ in range(count):
        result = app(make_environ(), respond)
        for _chunk in result:
            pass
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return (perf_counter() - started) * 1e6 / count


def calibrate(
    app: Callable[..., Any], make_environ: Callable[[], dict[str, Any]], target_seconds: float
) -> int:
    """Return how many requests take about *target_seconds* (at least 20)."""
    per_request = run_batch(app, make_environ, 50) / 1e6
    return max(20, int(target_seconds / max(per_request, 1e-7)))


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """Return a Markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def fmt(value: float | None, digits: int = 1) -> str:
    """Format a number for a table; ``-`` for missing."""
    return "-" if value is None else f"{value:.{digits}f}"


def verdict(ok: bool) -> str:
    """Return the goal column's text."""
    return "met" if ok else "**MISSED**"


def today() -> str:
    """Return today's date, ``YYYY-MM-DD`` (the results file name)."""
    return datetime.date.today().isoformat()


def machine() -> str:
    """Return a one-line description of the machine and versions."""
    import platform
    from importlib.metadata import version

    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = ", ".join(
        f"{n} {version(n)}" for n in ("werkzeug", "flask", "falcon", "bottle", "gunicorn")
    )
    return f"{cpu}, {os.cpu_count()} CPUs; Python {platform.python_version()}; {versions}"


def replace_block(path: Path, name: str, text: str, *, title: str | None = None) -> None:
    """Replace the ``<!-- name -->`` ... ``<!-- /name -->`` block of *path* with *text*, or append it."""
    start, end = f"<!-- {name} -->", f"<!-- /{name} -->"
    block = f"{start}\n{text.rstrip()}\n{end}"
    current = path.read_text() if path.exists() else (f"# {title}\n\n" if title else "")
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    if pattern.search(current):
        updated = pattern.sub(lambda _m: block, current)
    else:
        updated = current.rstrip() + "\n\n" + block + "\n"
    path.write_text(updated)


def write_results(name: str, text: str) -> Path:
    """Write one script's section of ``benchmarks/results/<today>.md`` and return the path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{today()}.md"
    replace_block(path, name, text, title=f"Benchmark results, {today()}")
    return path


def write_summary(name: str, text: str) -> None:
    """Replace one script's block in the README's summary section."""
    replace_block(README, f"summary:{name}", text)
