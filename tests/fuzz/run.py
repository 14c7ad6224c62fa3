"""Run the atheris fuzz targets for a time budget each and report executions.

Usage::

    python -m tests.fuzz.run --seconds 60            # every target, CI budget
    python -m tests.fuzz.run --seconds 3600 wsgi     # a longer local run of one target

New crashing inputs are written to ``tests/fuzz/corpus/<target>/crash-*``; commit them, and
``tests/fuzz/test_fuzz_corpus.py`` replays them as regression tests from then on.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def _child(target: str) -> None:
    import atheris

    with atheris.instrument_imports(include=["handlerkit"]):
        from tests.fuzz.targets import TARGETS

    atheris.Setup(sys.argv, TARGETS[target])
    atheris.Fuzz()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        sys.argv = [sys.argv[0], *argv[2:]]
        _child(argv[1])
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("targets", nargs="*", help="targets to run (default: all)")
    parser.add_argument("--seconds", type=int, default=60, help="time budget per target")
    args = parser.parse_args(argv)
    from tests.fuzz.targets import TARGETS

    names = args.targets or list(TARGETS)
    failed = []
    total_start = time.monotonic()
    print(f"{'target':<12} {'seconds':>8} {'executions':>12}  result")
    for name in names:
        corpus = HERE / "corpus" / name
        corpus.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f"fuzz-{name}-"))
        command = [
            sys.executable, "-m", "tests.fuzz.run", "--child", name,
            f"-max_total_time={args.seconds}", "-rss_limit_mb=4096", "-timeout=10",
            f"-artifact_prefix={corpus}/", str(work), str(corpus),
        ]
        started = time.monotonic()
        proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
        spent = time.monotonic() - started
        runs = re.findall(r"Done (\d+) runs", proc.stderr)
        executions = runs[-1] if runs else "?"
        ok = proc.returncode == 0
        print(f"{name:<12} {spent:8.1f} {executions:>12}  {'ok' if ok else 'CRASH (see corpus)'}", flush=True)
        if not ok:
            failed.append(name)
            sys.stderr.write(proc.stderr[-6000:])
    print(f"fuzzing: {len(names)} targets, {time.monotonic() - total_start:.1f} s in total")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
