"""What each of endpoint E's wrappers adds to a handler, called directly, optionally against another checkout.

Usage::

    python benchmarks/wrappers.py                         # this checkout
    python benchmarks/wrappers.py --compare /path/to/old  # ... and an older one, interleaved

Each measurement runs in a fresh process (one per tree and round, alternating
trees), times a bare handler and the same handler under one wrapper (process
CPU time, best of 7 batches), and reports the median over rounds of the
difference: the µs that wrapper adds per request. This is where the ``# PERF:``
notes on the wrappers get their figures; endpoint E in ``inprocess.py`` is the
whole stack through the App.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: Runs in a child process with the tree to measure first on sys.path.
_CHILD = r"""
import json, sys, time, timeit
sys.path.insert(0, sys.argv[1])
sys.path.insert(1, sys.argv[2])
from werkzeug.test import EnvironBuilder
from handlerkit import (
    NextRequest, NextResponse, RouteContext, with_auth, with_cors, with_logging,
    with_rate_limit, with_validation,
)
from benchmarks.workload import (
    ITEM_BODY, ORIGIN, SECRET_KEY, ItemSchema, access_logger, bench_token,
)

access_logger("handlerkit.access")  # formatted, written to /dev/null, as in inprocess.py
body = json.dumps(ITEM_BODY).encode()
environ = EnvironBuilder(
    path="/items", method="POST", data=body, content_type="application/json",
    headers={"Origin": ORIGIN, "Authorization": "Bearer " + bench_token(), "User-Agent": "bench"},
).get_environ()
count = int(sys.argv[3])

def base(request, context):
    return NextResponse.json({"ok": True})

def timed(handler):
    def once():
        env = dict(environ)
        env["wsgi.input"] = __import__("io").BytesIO(body)
        handler(NextRequest(env), RouteContext(route="/items"))
    once()
    best = min(timeit.repeat(once, number=count, repeat=7, timer=time.process_time))
    return best / count * 1e6

layers = {
    "with_logging": with_logging,
    "with_cors": with_cors(origins=[ORIGIN]),
    "with_rate_limit": with_rate_limit(limit=10**9, window=60),
    "with_auth": with_auth(secret_key=SECRET_KEY),
    "with_validation": with_validation(body=ItemSchema),
}
bare = timed(base)
print(json.dumps({"bare handler": bare, **{n: timed(w(base)) - bare for n, w in layers.items()}}))
"""


def measure(tree: Path, count: int) -> dict[str, float]:
    """Return one child's figures for *tree*."""
    result = subprocess.run(
        [sys.executable, "-c", _CHILD, str(tree), str(ROOT), str(count)],
        capture_output=True,
        text=True,
        cwd=tree,
        check=False,
    )
    if result.returncode:
        raise SystemExit(f"{tree}: {result.stderr[-2000:]}")
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--compare", type=Path, help="another checkout to measure alongside")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--count", type=int, default=3000, help="requests per batch")
    parser.add_argument("--smoke", action="store_true", help="one round of 50 requests")
    args = parser.parse_args(argv)
    rounds, count = (1, 50) if args.smoke else (args.rounds, args.count)
    trees = {"this checkout": ROOT}
    if args.compare is not None:
        trees = {f"{args.compare}": args.compare.resolve(), "this checkout": ROOT}
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    for _ in range(rounds):
        for name, tree in trees.items():
            samples[name].append(measure(tree, count))
    rows = list(samples[next(iter(trees))][0])
    names = list(trees)
    print(f"µs per request (CPU), medians of {rounds} rounds; wrappers: added over the bare handler\n")
    print("| | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for row in rows:
        cells = [f"{statistics.median(s[row] for s in samples[n]):.2f}" for n in names]
        print(f"| {row} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
