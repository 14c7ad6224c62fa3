"""Memory: handlerkit's resident set size after 10,000 and after 100,000 in-process requests.

Usage::

    python benchmarks/memory.py            # exits 1 when RSS grew more than 2 %
    python benchmarks/memory.py --write    # ... and records the figures
    python benchmarks/memory.py --smoke    # 500 and 1,000 requests

Requests cycle through every endpoint the handlerkit app serves (A, B, C and,
when the wrappers exist, D and E). RSS is read from ``/proc/self/statm`` after
a full garbage collection.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import os
import sys
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.apps import create, endpoints  # noqa: E402
from benchmarks.common import call, machine, table, verdict, write_results, write_summary  # noqa: E402
from benchmarks.workload import request_factory  # noqa: E402

#: Goal from issue 7: RSS after 100k requests within 2 % of RSS after 10k.
MAX_GROWTH = 0.02


def rss_bytes() -> int:
    """Return this process's resident set size in bytes."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def serve(app: object, factories: list, count: int) -> None:
    """Serve *count* requests, cycling through *factories*."""
    for make in itertools.islice(itertools.cycle(factories), count):
        call(app, make())  # type: ignore[arg-type]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--first", type=int, default=10_000)
    parser.add_argument("--total", type=int, default=100_000)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args(argv)
    first, total = (500, 1_000) if args.smoke else (args.first, args.total)
    app = create("handlerkit", 20 if args.smoke else None)
    served = endpoints("handlerkit")
    factories = [request_factory(e) for e in served]
    serve(app, factories, first)
    gc.collect()
    after_first = rss_bytes()
    serve(app, factories, total - first)
    gc.collect()
    after_total = rss_bytes()
    growth = (after_total - after_first) / after_first
    ok = growth <= MAX_GROWTH
    goals = table(
        ["goal", "figures", "result"],
        [
            [
                f"RSS after {total:,} requests within {MAX_GROWTH:.0%} of RSS after {first:,}",
                f"{after_first / 2**20:.2f} MiB → {after_total / 2**20:.2f} MiB ({growth:+.2%})",
                verdict(ok),
            ]
        ],
    )
    text = (
        f"## Memory (`python benchmarks/memory.py`)\n\n{machine()}; endpoints {', '.join(served)} in turn.\n\n"
        + goals
        + "\n"
    )
    print(text)
    if args.write and not args.smoke:
        path = write_results("memory", text)
        write_summary("memory", "**Memory**\n\n" + goals)
        print(f"written to {path}")
    if not ok and not args.smoke:
        print(f"GOAL MISSED: RSS grew {growth:+.2%}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
