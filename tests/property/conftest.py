"""Hypothesis settings for the property tests: modest example counts so the directory runs in well under a minute."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "handlerkit",
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    derandomize=False,
)
settings.register_profile("thorough", parent=settings.get_profile("handlerkit"), max_examples=2000)
# HYPOTHESIS_PROFILE=thorough for a longer local run.
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "handlerkit"))
