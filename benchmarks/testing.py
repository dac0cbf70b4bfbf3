"""The testing mode's costs, side by side in one process: ``python -m benchmarks.testing``.

- In-process call: boto3 ``describe_image`` inside ``mock_sagemaker_images``, against moto's
  in-process ``describe_model_package_group`` (inside ``mock_aws``; its closest implemented analogue)
  and against the floor for any in-process mock: the same boto3 call answered by a bare botocore
  ``before-send`` handler with a fixed body of the same size (``benchmarks.floor.BODY``). Each is
  timed over ``--calls`` calls, in ``--rounds`` rounds whose order alternates, so drift in the
  machine's load falls evenly; the figure is the median round's microseconds per call.
- Per-test fixture cost: entering and leaving ``mock_sagemaker_images()`` (fresh, empty state), and
  for reference ``mock_aws()``.
- Server fixture: ``sagemaker-images serve --admin`` started as the ``sagemaker_images_server``
  fixture starts it, until ``/_health`` answers (a fresh state directory each time).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse
from botocore.config import Config

from benchmarks.floor import BODY

ROLE = "arn:aws:iam::000000000000:role/bench"
CONFIG = Config(retries={"mode": "standard"})


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **kwargs: Any) -> Any:
        yield self.body


def _client(service: str) -> Any:
    return boto3.client(
        service,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        config=CONFIG,
    )


def _timed(call: Callable[[], object], calls: int) -> float:
    """Microseconds per call."""
    call()  # warm
    started = time.perf_counter()
    for _ in range(calls):
        call()
    return (time.perf_counter() - started) / calls * 1e6


def stub_floor(calls: int) -> float:
    sm = _client("sagemaker")
    headers = {"content-type": "application/x-amz-json-1.1", "x-amzn-requestid": "bench"}

    def answer(request: Any, **kwargs: Any) -> AWSResponse:
        return AWSResponse(request.url, 200, headers, _Raw(BODY))

    sm.meta.events.register("before-send.sagemaker.DescribeImage", answer)
    return _timed(lambda: sm.describe_image(ImageName="bench-05000"), calls)


def moto_call(calls: int) -> float:
    from moto import mock_aws

    with mock_aws():
        sm = _client("sagemaker")
        sm.create_model_package_group(ModelPackageGroupName="bench", ModelPackageGroupDescription="benchmark")
        return _timed(lambda: sm.describe_model_package_group(ModelPackageGroupName="bench"), calls)


def ours_call(calls: int) -> float:
    from sagemaker_images.testing import mock_sagemaker_images

    with mock_sagemaker_images():
        sm = _client("sagemaker")
        sm.create_image(ImageName="bench-05000", RoleArn=ROLE, Description="benchmark image")
        return _timed(lambda: sm.describe_image(ImageName="bench-05000"), calls)


def enter_exit(factory: Callable[[], Any], times: int) -> float:
    """Milliseconds to enter and leave one fresh context (median)."""
    samples = []
    with factory():  # the first one pays one-off imports and the migrated template
        pass
    for _ in range(times):
        started = time.perf_counter()
        with factory():
            pass
        samples.append((time.perf_counter() - started) * 1e3)
    return statistics.median(samples)


def server_ready(times: int) -> list[float]:
    from sagemaker_images.testing.server import SageMakerImagesServer

    samples = []
    for _ in range(times):
        with tempfile.TemporaryDirectory() as state:
            server = SageMakerImagesServer(Path(state)).start()
            assert server.ready_in is not None
            samples.append(server.ready_in)
            server.stop()
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--contexts", type=int, default=200)
    parser.add_argument("--servers", type=int, default=5)
    args = parser.parse_args()
    from moto import mock_aws

    from sagemaker_images.testing import mock_sagemaker_images

    load_before = os.getloadavg()
    measures = {
        "stub floor": stub_floor,
        "moto DescribeModelPackageGroup": moto_call,
        "ours DescribeImage": ours_call,
    }
    rounds: dict[str, list[float]] = {name: [] for name in measures}
    order = list(measures)
    for number in range(args.rounds):
        for name in order if number % 2 == 0 else reversed(order):
            rounds[name].append(measures[name](args.calls))
    per_call = {name: statistics.median(values) for name, values in rounds.items()}
    fixture_ms = enter_exit(mock_sagemaker_images, args.contexts)
    moto_ms = enter_exit(mock_aws, args.contexts)
    ready = server_ready(args.servers)
    load_after = os.getloadavg()

    floor, moto = per_call["stub floor"], per_call["moto DescribeModelPackageGroup"]
    before, after = (" ".join(f"{x:.2f}" for x in load) for load in (load_before, load_after))
    print(
        f"python {sys.version.split()[0]}, {args.calls} calls x {args.rounds} rounds; "
        f"load average {before} before, {after} after"
    )
    print()
    print("| in-process call | us/call (median round) | x stub floor | x moto |")
    print("|---|---:|---:|---:|")
    for name, value in per_call.items():
        print(f"| {name} | {value:.0f} | {value / floor:.2f} | {value / moto:.2f} |")
    print()
    print("| per test | ms (median) |")
    print("|---|---:|")
    print(f"| mock_sagemaker_images() enter + exit, fresh state | {fixture_ms:.2f} |")
    print(f"| moto mock_aws() enter + exit (reference) | {moto_ms:.2f} |")
    print()
    print(
        f"server fixture ready (start to /_health 200), {args.servers} starts: "
        f"median {statistics.median(ready):.2f} s, min {min(ready):.2f} s, max {max(ready):.2f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
