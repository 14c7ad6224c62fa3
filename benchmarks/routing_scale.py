"""Routing scale: endpoint B's cost with 0, 100, 1,000 and 10,000 extra routes, through a tree and a Router.

Usage::

    python benchmarks/routing_scale.py            # exits 1 when a goal is missed
    python benchmarks/routing_scale.py --write    # ... and records the table
    python benchmarks/routing_scale.py --smoke    # 0 and 100 routes, a few hundred requests

The goal: B with 10,000 extra routes costs at most 1 µs more than with none,
for the ``route.py`` tree and for ``Router`` alike. Apps of every size are
measured round by round, interleaved; figures are medians.
"""

from __future__ import annotations

import argparse
import gc
import sys
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.apps.handlerkit_app import create, create_router  # noqa: E402
from benchmarks.common import (  # noqa: E402
    calibrate,
    call,
    fmt,
    machine,
    median,
    run_batch,
    set_clock,
    table,
    verdict,
    write_results,
    write_summary,
)
from benchmarks.workload import EXPECTED, request_factory  # noqa: E402

#: Goal from issue 7: µs added by 10,000 extra routes.
MAX_ADDED_US = 1.0
SIZES = (0, 100, 1_000, 10_000)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=25)
    parser.add_argument("--batch", type=float, default=0.02, help="seconds per batch")
    parser.add_argument("--clock", choices=("cpu", "wall"), default="cpu")
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args(argv)
    set_clock(args.clock)
    sizes = (0, 100) if args.smoke else SIZES
    apps = {}
    for size in sizes:
        apps["tree", size] = create(size)
        apps["router", size] = create_router(size)
    make = request_factory("B")
    import json

    for key, app in apps.items():
        status, _, body = call(app, make())
        if not status.startswith("200") or json.loads(body) != EXPECTED["B"][1]:
            raise SystemExit(f"{key}: answered {status} {body!r}")
    gc.collect()
    gc.freeze()
    counts = {
        key: 10 if args.smoke else calibrate(app, make, args.batch) for key, app in apps.items()
    }
    samples: dict[tuple[str, int], list[float]] = {key: [] for key in apps}
    import random

    shuffle = random.Random(11).shuffle
    for _ in range(2 if args.smoke else args.rounds):
        order = list(apps)
        shuffle(order)
        for key in order:
            samples[key].append(run_batch(apps[key], make, counts[key]))
    result = {key: median(values) for key, values in samples.items()}

    rows, goal_rows, missed = [], [], []
    for kind in ("tree", "router"):
        base = result[kind, 0]
        rows.append(
            [
                kind,
                *(fmt(result[kind, size], 2) for size in sizes),
                fmt(result[kind, sizes[-1]] - base, 2),
            ]
        )
        added = result[kind, sizes[-1]] - base
        ok = added <= MAX_ADDED_US
        goal_rows.append(
            [
                f"{kind}: +{sizes[-1]:,} routes ≤ +{MAX_ADDED_US:g} µs",
                f"{fmt(added, 2)} µs",
                verdict(ok),
            ]
        )
        if not ok:
            missed.append(f"{kind}: +{fmt(added, 2)} µs with {sizes[-1]:,} routes")
    text = (
        f"## Routing scale (`python benchmarks/routing_scale.py`)\n\n{machine()}; clock: {args.clock}.\n"
        "Endpoint B (`GET /users/42`), µs per request, medians of interleaved rounds.\n\n"
        + table(["app", *(f"+{size:,} routes" for size in sizes), "added"], rows)
        + "\n\n"
        + table(["goal", "figure", "result"], goal_rows)
        + "\n"
    )
    print(text)
    if args.write and not args.smoke:
        path = write_results("routing_scale", text)
        write_summary(
            "routing_scale",
            "**Routing scale** (endpoint B)\n\n" + table(["goal", "figure", "result"], goal_rows),
        )
        print(f"written to {path}")
    if missed and not args.smoke:
        print("GOALS MISSED: " + "; ".join(missed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
