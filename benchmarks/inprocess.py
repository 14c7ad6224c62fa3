"""In-process benchmark: each framework's WSGI callable, called directly, interleaved round by round.

Usage::

    python benchmarks/inprocess.py            # full run; exits 1 when a goal is missed
    python benchmarks/inprocess.py --write    # ... and records the tables in benchmarks/results/
    python benchmarks/inprocess.py --smoke    # a few hundred requests, no goals (CI)

Every round runs every (framework, endpoint) pair once, in a shuffled order, for
a batch of about ``--batch`` seconds; the figure reported per pair is the median
of the rounds' mean µs per request. Ratios come from the same run.
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.apps import FRAMEWORKS, PEERS, YARDSTICKS, create, endpoints  # noqa: E402
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
from benchmarks.workload import DESCRIPTIONS, ENDPOINTS, EXPECTED, request_factory  # noqa: E402

#: Goals from issue 7.
PEER_SPEEDUP = 1.5
FLASK_SPEEDUP = 3.0
#: Issue 18: E at most this multiple of the ``libs`` yardstick (its JSON parse, marshmallow
#: load and log record alone), so routing and the five wrappers cost at most half of those.
#: It replaces issue 7's "E - A <= 5x A", which the libraries alone exceeded.
E_OVER_LIBS = 1.5


def check_answers(apps: dict[str, object], served: dict[str, tuple[str, ...]]) -> None:
    """Fail loudly unless every app answers every endpoint it serves with the expected status and JSON."""
    import json

    for name, app in apps.items():
        for endpoint in served[name]:
            status, headers, body = call(app, request_factory(endpoint)())  # type: ignore[arg-type]
            want_status, want_body = EXPECTED[endpoint]
            got = json.loads(body)
            if int(status.split()[0]) != want_status or got != want_body:
                raise SystemExit(
                    f"{name} {endpoint}: answered {status} {body!r}, expected {want_status} {want_body!r}"
                )
            content_type = {k.lower(): v for k, v in headers.items()}.get("content-type", "")
            if "json" not in content_type:
                raise SystemExit(f"{name} {endpoint}: Content-Type {content_type!r}")


def measure(
    apps: dict[str, object],
    served: dict[str, tuple[str, ...]],
    rounds: int,
    batch_seconds: float,
    fixed: int | None,
    seed: int = 7,
) -> dict[tuple[str, str], float]:
    """Return the median µs per request of every (framework, endpoint) pair."""
    pairs = [(name, endpoint) for name in apps for endpoint in served[name]]
    factories = {pair: request_factory(pair[1]) for pair in pairs}
    counts = {
        pair: fixed or calibrate(apps[pair[0]], factories[pair], batch_seconds)  # type: ignore[arg-type]
        for pair in pairs
    }
    samples: dict[tuple[str, str], list[float]] = {pair: [] for pair in pairs}
    shuffle = random.Random(seed).shuffle
    for _ in range(rounds):
        order = list(pairs)
        shuffle(order)
        for pair in order:
            samples[pair].append(run_batch(apps[pair[0]], factories[pair], counts[pair]))  # type: ignore[arg-type]
    return {pair: median(values) for pair, values in samples.items()}


def report(results: dict[tuple[str, str], float], names: list[str]) -> tuple[str, str, list[str]]:
    """Return the full Markdown report, the README summary and the missed goals."""
    missed: list[str] = []
    endpoints_run = [e for e in ENDPOINTS if any((n, e) in results for n in names)]
    raw = table(
        ["endpoint", *names],
        (
            [f"{e}: {DESCRIPTIONS[e]}", *(fmt(results.get((n, e))) for n in names)]
            for e in endpoints_run
        ),
    )
    peers = [n for n in names if n in PEERS]
    ratio_rows = []
    goal_rows = []
    for e in endpoints_run:
        hk = results.get(("handlerkit", e))
        if hk is None:
            continue
        row = [e, fmt(hk)]
        row += [fmt(results[(p, e)] / hk, 2) + "×" if (p, e) in results else "-" for p in peers]
        floor = results.get(("raw", e))
        row.append(fmt(hk / floor, 2) + "×" if floor else "-")
        ratio_rows.append(row)
        if e in ("A", "B", "C", "Bv", "Cv"):
            present = [(results[(p, e)], p) for p in peers if (p, e) in results]
            if present:
                best, best_name = min(present)
                speedup = best / hk
                ok = speedup >= PEER_SPEEDUP
                goal_rows.append(
                    [
                        f"{e}: ≥ {PEER_SPEEDUP}× the fastest peer",
                        f"{best_name} {fmt(best)} µs / handlerkit {fmt(hk)} µs = {fmt(speedup, 2)}×",
                        verdict(ok),
                    ]
                )
                if not ok:
                    missed.append(f"{e}: {fmt(speedup, 2)}× {best_name}, goal {PEER_SPEEDUP}×")
        if e in ("D", "E") and ("flask", e) in results:
            speedup = results[("flask", e)] / hk
            ok = speedup >= FLASK_SPEEDUP
            goal_rows.append(
                [
                    f"{e}: ≥ {FLASK_SPEEDUP}× Flask",
                    f"flask {fmt(results[('flask', e)])} µs / handlerkit {fmt(hk)} µs = {fmt(speedup, 2)}×",
                    verdict(ok),
                ]
            )
            if not ok:
                missed.append(f"{e}: {fmt(speedup, 2)}× Flask, goal {FLASK_SPEEDUP}×")
    hk_a, hk_e = results.get(("handlerkit", "A")), results.get(("handlerkit", "E"))
    libs_e = results.get(("libs", "E"))
    if hk_a and hk_e and libs_e:
        share = hk_e / libs_e
        ok = share <= E_OVER_LIBS
        figures = (
            f"handlerkit {fmt(hk_e)} µs / libs {fmt(libs_e)} µs = {fmt(share, 2)}×; the framework's"
            f" share (E − libs) is {fmt(hk_e - libs_e)} µs = {fmt((hk_e - libs_e) / libs_e, 2)}× libs"
        )
        goal_rows.append([f"E ≤ {E_OVER_LIBS:g}× libs", figures, verdict(ok)])
        if not ok:
            missed.append(f"E {fmt(share, 2)}× libs, goal ≤ {E_OVER_LIBS:g}×")
    elif hk_a and not hk_e:
        goal_rows.append(
            ["D, E (handlerkit)", "not measured: the wrappers are not importable", "**NOT RUN**"]
        )
        missed.append("D/E not measured")
    ratios = table(
        ["endpoint", "handlerkit µs", *(f"{p} ÷ hk" for p in peers), "hk ÷ raw"], ratio_rows
    )
    goals = table(["goal", "figures", "result"], goal_rows)
    text = (
        "### µs per request (median of interleaved rounds)\n\n"
        + raw
        + "\n\n### Ratios (peer ÷ handlerkit: how many times faster handlerkit is; hk ÷ raw: times the floor)\n\n"
        + ratios
        + "\n\n### Goals\n\n"
        + goals
        + "\n"
    )
    return text, goals, missed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument(
        "--batch", type=float, default=0.03, help="seconds per batch (default 0.03)"
    )
    parser.add_argument("--frameworks", default=",".join([*FRAMEWORKS, *YARDSTICKS]))
    parser.add_argument(
        "--clock",
        choices=("cpu", "wall"),
        default="cpu",
        help="cpu: process CPU time (default; steady on a shared machine); wall: perf_counter",
    )
    parser.add_argument("--smoke", action="store_true", help="a few hundred requests, no goals")
    parser.add_argument(
        "--write", action="store_true", help="record the tables in benchmarks/results/"
    )
    args = parser.parse_args(argv)

    set_clock(args.clock)
    names = [n for n in args.frameworks.split(",") if n]
    extra = 20 if args.smoke else None  # smoke: quick to build; B's goal needs the full 1000
    apps = {name: create(name, extra) for name in names}
    served = {name: endpoints(name) for name in names}
    check_answers(apps, served)
    gc.collect()
    gc.freeze()  # the apps' own objects are permanent; the same for every framework
    rounds, fixed = (2, 10) if args.smoke else (args.rounds, None)
    results = measure(apps, served, rounds, args.batch, fixed)
    text, goals, missed = report(results, names)
    header = f"## In-process (`python benchmarks/inprocess.py`)\n\n{machine()}; {rounds} rounds; clock: {args.clock}.\n\n"
    print(header + text)
    if args.write and not args.smoke:
        path = write_results("inprocess", header + text)
        write_summary("inprocess", "**In-process** (µs medians, ratios from one run)\n\n" + goals)
        print(f"written to {path}")
    if missed and not args.smoke:
        print("GOALS MISSED: " + "; ".join(missed), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
