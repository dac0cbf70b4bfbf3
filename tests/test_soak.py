"""Soak (``@pytest.mark.long``): 200,000 mixed requests at 64 connections against one server, from a
load generator process of its own (tests/loadgen.py): zero unexpected answers, resident memory flat
after warm-up, a consistent store at the end. SAGEMAKER_IMAGES_SOAK_REQUESTS changes the count.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.servers import ServerProcess
from tests.store_checks import inconsistencies

pytestmark = [pytest.mark.long, pytest.mark.timeout(1800)]

REQUESTS = int(os.environ.get("SAGEMAKER_IMAGES_SOAK_REQUESTS", "200000"))
CONNECTIONS = 64
# Growth allowed between the end of warm-up and the end of the run (SQLite page caches, allocator).
RSS_SLACK_BYTES = 32 * 1024 * 1024


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def test_soak_mixed_requests_at_64_connections(tmp_path):
    url = f"sqlite:///{tmp_path / 'state.db'}"
    server = ServerProcess(url, log_path=tmp_path / "server.log").start()
    samples: list[tuple[float, int]] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            samples.append((time.monotonic(), rss_bytes(server.process.pid)))
            done.wait(1.0)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "tests.loadgen",
                "--port",
                str(server.port),
                "--requests",
                str(REQUESTS),
                "--connections",
                str(CONNECTIONS),
            ],
            capture_output=True,
            text=True,
            timeout=3600,
            cwd=Path(__file__).parent.parent,
        )
    finally:
        done.set()
        sampler.join()
        server.stop()
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["requests"] == REQUESTS
    assert summary["unexpected"] == 0, summary["problems"]
    assert inconsistencies(url) == []
    assert "Traceback" not in (tmp_path / "server.log").read_text()

    # Memory: the median of the samples just after warm-up (the first fifth of the run) against the
    # largest of the last third.
    assert len(samples) >= 5
    start, end = samples[0][0], samples[-1][0]
    warm = sorted(r for t, r in samples if start + 0.2 * (end - start) <= t <= start + 0.35 * (end - start))
    late = [r for t, r in samples if t >= start + (2 / 3) * (end - start)]
    warm_rss = warm[len(warm) // 2] if warm else samples[len(samples) // 5][1]
    late_rss = max(late)
    line = (
        f"soak: {summary['requests']} requests at {CONNECTIONS} connections in {summary['seconds']} s, "
        f"{summary['unexpected']} unexpected; RSS after warm-up {warm_rss / 2**20:.1f} MiB, "
        f"at the end {late_rss / 2**20:.1f} MiB (peak {max(r for _, r in samples) / 2**20:.1f} MiB); "
        f"by operation {summary['by_operation']}"
    )
    print(line)
    report_dir = os.environ.get("SAGEMAKER_IMAGES_REPORT_DIR")
    if report_dir:
        with open(Path(report_dir) / "soak.txt", "a") as out:
            out.write(line + "\n")
    assert late_rss - warm_rss < RSS_SLACK_BYTES, line
