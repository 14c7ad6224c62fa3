"""benchmarks/soak.py in smoke mode: a few thousand mixed requests against real gunicorn and Redis.

No growth thresholds here (a short run is not warm); the full run's figures are in
benchmarks/results/soak-<date>.md.
"""

from __future__ import annotations

import pytest

from benchmarks import soak

pytestmark = pytest.mark.slow


def test_soak_smoke_completes_and_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert soak.main(["--requests", "2000", "--clients", "4"]) == 0
    out = capsys.readouterr().out
    assert (
        "| requests | RSS w1 (kB) | RSS w2 (kB) | FDs w1 | FDs w2 | temp files | Redis keys |"
        in out
    )
    assert out.count("\n| 2000 |") == 2  # the last checkpoint and the after-drain sample
    assert "Unexpected:" not in out  # every answer had its expected status; no traceback in the log
    assert "| Redis keys back to baseline after the TTL | holds |" in out
