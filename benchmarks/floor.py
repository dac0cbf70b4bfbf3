"""The floor: a bare ASGI app on the server's own stack (uvicorn, uvloop, httptools).

It reads each POST body and answers with a fixed JSON document the size of a DescribeImage
answer, doing nothing else: no routing, validation or database. No Python server on this stack can
answer faster, so the sagemaker-images figures are reported as fractions of this one.

``python -m benchmarks.floor PORT [WORKERS] [ours]``: with ``ours``, the same app on this server's
own HTTP protocol (``protocol/http_limits.py``: uvicorn's, with the head limits and one write per
turn of the event loop), to show what of a figure is the HTTP layer's.
"""

from __future__ import annotations

import sys
from typing import Any

import orjson
import uvicorn

# What DescribeImage answers for a benchmark image, byte for byte the same size.
BODY = orjson.dumps(
    {
        "CreationTime": 1700005000.0,
        "Description": "benchmark image",
        "ImageArn": "arn:aws:sagemaker:us-east-1:000000000000:image/bench-05000",
        "ImageName": "bench-05000",
        "ImageStatus": "CREATED",
        "LastModifiedTime": 1700005000.0,
        "RoleArn": "arn:aws:iam::000000000000:role/bench",
    }
)
HEADERS = [
    (b"content-type", b"application/x-amz-json-1.1"),
    (b"content-length", str(len(BODY)).encode()),
]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})


if __name__ == "__main__":
    port, workers = int(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 1
    http: Any = "httptools"
    if len(sys.argv) > 3 and sys.argv[3] == "ours":
        from sagemaker_images.protocol.http_limits import LimitedHttpToolsProtocol

        http = LimitedHttpToolsProtocol
    uvicorn.run(
        "benchmarks.floor:app" if workers > 1 else app,
        workers=workers,
        host="127.0.0.1",
        port=port,
        http=http,
        loop="uvloop",
        access_log=False,
        log_level="warning",
        lifespan="off",
    )
