"""The benchmark harness still runs end to end (a tiny configuration; no timing is asserted)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.long
@pytest.mark.skipif(
    shutil.which("wrk") is None, reason="the harness drives servers with wrk (apt-get install wrk)"
)
def test_the_harness_produces_a_report(tmp_path):
    report = tmp_path / "report.md"
    command = [
        sys.executable,
        "-m",
        "benchmarks.run",
        "--scales",
        "100,200",
        "--seconds",
        "1",
        "--rounds",
        "1",
        "--starts",
        "1",
        "--no-moto",
        "--report",
        str(report),
    ]
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True, timeout=300)
    text = report.read_text()
    for row in (
        "floor (fixed answer)",
        "DescribeImage",
        "DescribeImageVersion (latest)",
        "ListImageVersions (first page)",
        "ListImageVersions (page 50)",
        "CreateImageVersion",
        "Cloud Control GetResource",
        "all durable",
    ):
        assert row in text
