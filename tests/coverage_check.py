"""Require 100 % line and branch coverage for the security-critical code, from the suite's .coverage data.

Run after the test suite measured coverage (README command 2, ``python -m coverage run -m
pytest``; .ci/run runs this next)::

    python -m tests.coverage_check            # combines ./.coverage.* into ./.coverage first
    python -m tests.coverage_check --data-file path/to/.coverage

It prints coverage's term report (the overall figure: at least ``fail_under``, 95 %, in
pyproject.toml), then requires 100 % for the parts that must have no untested line or
branch: routing and segment decoding, tokens, webhook signatures, CORS, rate limiting and
the error boundary. Exits 1 and names the missing lines and branches when one falls short.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: Whole files that must be fully covered.
FILES = (
    "handlerkit/routing/segments.py",
    "handlerkit/routing/tree.py",
    "handlerkit/routing/resolve.py",
    "handlerkit/tokens.py",
    "handlerkit/middleware/cors.py",
    "handlerkit/middleware/rate_limit.py",
    "handlerkit/middleware/errors.py",
    "handlerkit/boundary.py",
)

#: Functions (coverage's JSON names) that must be fully covered, by file.
FUNCTIONS = {
    "handlerkit/app.py": (
        "App.__call__",
        "App._proxied",
        "App._respond",
        "App._send",
        "App._call_route",
        "App._check_result",
        "App._handler_failed",
        "App._internal_error",
    ),
    "handlerkit/webhooks.py": (
        "verify_stripe",
        "verify_github",
        "verify_hmac",
        "sign_stripe",
        "sign_github",
        "_any_match",
        "_hmac_hex",
        "_secret_keys",
        "_raw",
        "_missing",
        "_malformed",
    ),
}


def _report(data_file: Path) -> tuple[float, float, dict[str, dict]]:  # type: ignore[type-arg]
    import coverage

    cov = coverage.Coverage(data_file=str(data_file), config_file=str(ROOT / "pyproject.toml"))
    if list(data_file.parent.glob(data_file.name + ".*")):
        cov.combine()  # the suite's own process and every measured subprocess
        cov.save()
    cov.load()
    total = cov.report(file=sys.stdout)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "coverage.json"
        cov.json_report(outfile=str(out), show_contexts=False)
        files = json.loads(out.read_text())["files"]
    named = {
        str(Path(name).resolve().relative_to(ROOT)) if Path(name).is_absolute() else name: value
        for name, value in files.items()
    }
    return total, float(cov.config.fail_under), named


def _describe(entry: dict) -> str:  # type: ignore[type-arg]
    missing = entry.get("missing_lines", [])
    branches = entry.get("missing_branches", [])
    parts = []
    if missing:
        parts.append("lines " + ", ".join(map(str, missing[:20])))
    if branches:
        parts.append("branches " + ", ".join(f"{a}->{b}" for a, b in branches[:20]))
    return "; ".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-file", type=Path, default=ROOT / ".coverage")
    args = parser.parse_args(argv)
    if not args.data_file.exists() and not list(
        args.data_file.parent.glob(args.data_file.name + ".*")
    ):
        print(
            f"no coverage data at {args.data_file}; run python -m coverage run -m pytest first",
            file=sys.stderr,
        )
        return 1
    total, fail_under, files = _report(args.data_file)
    print(
        f"coverage: {total:.2f} % of lines and branches overall (at least {fail_under:g} % required)"
    )
    failed = int(total < fail_under)
    rows: list[tuple[str, float, str]] = []
    for name in FILES:
        entry = files.get(name)
        if entry is None:
            rows.append((name, 0.0, "not measured"))
            continue
        rows.append((name, entry["summary"]["percent_covered"], _describe(entry)))
    for name, functions in FUNCTIONS.items():
        entry = files.get(name, {})
        measured = entry.get("functions", {})
        for function in functions:
            part = measured.get(function)
            if part is None:
                rows.append((f"{name}:{function}", 0.0, "not measured"))
                continue
            rows.append((f"{name}:{function}", part["summary"]["percent_covered"], _describe(part)))
    width = max(len(row[0]) for row in rows)
    print(f"{'must be 100 % (lines and branches)':<{width}}  covered")
    for label, percent, missing in rows:
        ok = percent >= 100.0
        failed += not ok
        print(f"{label:<{width}}  {percent:6.2f} %" + ("" if ok else f"  MISSING {missing}"))
    if failed:
        print(f"coverage check: {failed} below the required figure", file=sys.stderr)
        return 1
    print(f"coverage check: all {len(rows)} at 100 %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
