"""Check what `python -m build` made (used by .ci/run): the sdist's and the wheel's file lists.

Usage: python .ci/check_dist.py DIST_DIR. Prints both lists (outside the package itself) and
exits 1 when the sdist lacks the docs, CHANGES.md, LICENSE or README.md, carries part of the
test suite (which needs the whole checkout), or the wheel lacks py.typed or the LICENSE.
"""

from __future__ import annotations

import sys
import tarfile
import zipfile
from pathlib import Path


def main(dist: Path) -> int:
    (sdist,) = dist.glob("*.tar.gz")
    (wheel,) = dist.glob("*.whl")
    with tarfile.open(sdist) as archive:
        names = sorted(n.split("/", 1)[1] for n in archive.getnames() if "/" in n)
    with zipfile.ZipFile(wheel) as archive:
        wheel_names = sorted(archive.namelist())
    print(f"{sdist.name}: {len(names)} files")
    for name in names:
        if not name.startswith("handlerkit/"):
            print("   ", name)
    print(f"{wheel.name}: {len(wheel_names)} files, {sum(n.startswith('handlerkit/') for n in wheel_names)} in handlerkit/")
    problems = [f"sdist lacks {need}" for need in ("README.md", "CHANGES.md", "LICENSE", "docs/deployment.md",
                                                    "handlerkit/py.typed") if need not in names]
    problems += [f"sdist carries {n} (the suite runs from git, not the sdist)" for n in names if n.startswith("tests/")]
    problems += [f"wheel lacks {need}" for need in ("handlerkit/py.typed",) if need not in wheel_names]
    if not any(n.endswith("/LICENSE") for n in wheel_names):
        problems.append("wheel lacks LICENSE")
    for problem in problems:
        print("problem:", problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main(Path(sys.argv[1])))
