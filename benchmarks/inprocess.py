"""CPU per request through the ASGI application, in one process and without sockets.

``python -m benchmarks.inprocess [CALL]`` builds the application on a fresh SQLite file, creates one
image with three versions, then answers DescribeImage, DescribeImageVersion, ListImageVersions and
Cloud Control GetResource N times each (``N``, default 3000) and prints the CPU time per call. With
CALL (``DescribeImage``...) it also prints the cProfile of that call, the profiles
docs/performance.md quotes. What it leaves out (uvicorn, httptools, the socket) is what the floor
measures in ``benchmarks.run``.
"""

from __future__ import annotations

import asyncio
import cProfile
import os
import pstats
import sys
import tempfile
import time
from typing import Any

import orjson

from sagemaker_images.config import Settings
from sagemaker_images.server import Application

ACCOUNT = "123456789012"
AUTHORIZATION = (
    f"AWS4-HMAC-SHA256 Credential={ACCOUNT}/20240101/us-east-1/sagemaker/aws4_request, "
    "SignedHeaders=host, Signature=0"
).encode()
SAGEMAKER_JSON = b"application/x-amz-json-1.1"
CLOUD_CONTROL_JSON = b"application/x-amz-json-1.0"
CALLS = {
    "DescribeImage": (b"SageMaker.DescribeImage", {"ImageName": "img"}),
    "DescribeImageVersion": (b"SageMaker.DescribeImageVersion", {"ImageName": "img"}),
    "ListImageVersions": (b"SageMaker.ListImageVersions", {"ImageName": "img", "MaxResults": 2}),
    "GetResource": (
        b"CloudApiService.GetResource",
        {
            "TypeName": "AWS::SageMaker::Image",
            "Identifier": f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:image/img",
        },
    ),
}


async def call(app: Application, target: bytes, body: dict[str, Any]) -> tuple[int, bytes]:
    content_type = CLOUD_CONTROL_JSON if target.startswith(b"CloudApiService") else SAGEMAKER_JSON
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "headers": [
            (b"host", b"localhost"),
            (b"content-type", content_type),
            (b"x-amz-target", target),
            (b"authorization", AUTHORIZATION),
        ],
    }
    raw = orjson.dumps(body)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": raw, "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent[0]["status"], sent[1]["body"]


async def measure(app: Application, count: int, profiled: str | None) -> None:
    role = f"arn:aws:iam::{ACCOUNT}:role/R"
    assert (await call(app, b"SageMaker.CreateImage", {"ImageName": "img", "RoleArn": role}))[0] == 200
    for n in range(3):
        body = {"ImageName": "img", "BaseImage": f"repo/base:{n}", "ClientToken": f"token-{n}"}
        assert (await call(app, b"SageMaker.CreateImageVersion", body))[0] == 200
    for label, (target, body) in CALLS.items():
        status, answer = await call(app, target, body)
        assert status == 200, answer
        started = time.process_time()
        for _ in range(count):
            await call(app, target, body)
        print(f"{label:22} {(time.process_time() - started) / count * 1e6:7.1f} us CPU per call")
    if profiled:
        target, body = CALLS[profiled]
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(count):
            await call(app, target, body)
        profile.disable()
        pstats.Stats(profile).sort_stats("tottime").print_stats(25)


def main() -> int:
    directory = tempfile.mkdtemp()
    app = Application(Settings(db=f"sqlite:///{directory}/state.db"))
    app.start()
    try:
        asyncio.run(
            measure(app, int(os.environ.get("N", "3000")), sys.argv[1] if len(sys.argv) > 1 else None)
        )
    finally:
        app.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
