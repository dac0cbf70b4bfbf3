"""A load generator for the soak test: mixed SageMaker and Cloud Control requests over keep-alive
HTTP/1.1 connections, from a process of its own (asyncio, raw sockets).

    python -m tests.loadgen --port 8750 --requests 200000 --connections 64

Each connection acts as its own account and knows what it created, so every answer is predictable:
an answer other than the one expected is counted as unexpected (and the first few are printed).
Prints one JSON line: requests, by operation, unexpected, seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field

SAGEMAKER = ("SageMaker", "application/x-amz-json-1.1", "sagemaker")
CLOUDCONTROL = ("CloudApiService", "application/x-amz-json-1.0", "cloudcontrolapi")


@dataclass
class Connection:
    index: int
    account: str
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    images: list[str] = field(default_factory=list)
    versions: dict[str, int] = field(default_factory=dict)
    created: int = 0

    async def call(self, api: tuple[str, str, str], operation: str, body: dict) -> tuple[int, dict]:
        prefix, content_type, signing = api
        payload = json.dumps(body).encode()
        head = (
            f"POST / HTTP/1.1\r\nHost: loadgen\r\nContent-Type: {content_type}\r\n"
            f"X-Amz-Target: {prefix}.{operation}\r\nContent-Length: {len(payload)}\r\n"
            f"Authorization: AWS4-HMAC-SHA256 Credential={self.account}/20261123/us-east-1/{signing}/"
            "aws4_request, SignedHeaders=host, Signature=0\r\n\r\n"
        )
        self.writer.write(head.encode() + payload)
        status_line = await self.reader.readline()
        status = int(status_line.split(b" ", 2)[1])
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        data = await self.reader.readexactly(length) if length else b""
        return status, json.loads(data) if data else {}


def role(account: str) -> str:
    return f"arn:aws:iam::{account}:role/Soak"


async def one_request(conn: Connection, rng: random.Random, stats: Counter, problems: list[str]) -> None:
    """One mixed request; about four reads for every write."""
    roll = rng.random()
    expect = {200}
    if not conn.images or roll < 0.06:
        conn.created += 1
        name = f"soak-{conn.index}-{conn.created}"
        op, api, body = "CreateImage", SAGEMAKER, {"ImageName": name, "RoleArn": role(conn.account)}
        conn.images.append(name)
        conn.versions[name] = 0
    elif roll < 0.14:
        name = rng.choice(conn.images)
        conn.versions[name] += 1
        token = f"{conn.index}-{name}-{conn.versions[name]}"[-36:]
        op, api = "CreateImageVersion", SAGEMAKER
        body = {"ImageName": name, "BaseImage": f"repo/{name}:{conn.versions[name]}", "ClientToken": token}
    elif roll < 0.18:
        name = rng.choice(conn.images)
        arn = f"arn:aws:sagemaker:us-east-1:{conn.account}:image/{name}"
        op, api = "AddTags", SAGEMAKER
        body = {"ResourceArn": arn, "Tags": [{"Key": f"k{rng.randrange(20)}", "Value": str(rng.random())}]}
    elif roll < 0.20 and len(conn.images) > 5:
        name = conn.images.pop(rng.randrange(len(conn.images)))
        conn.versions.pop(name)
        op, api, body = "DeleteImage", SAGEMAKER, {"ImageName": name}
    elif roll < 0.40:
        op, api, body = "DescribeImage", SAGEMAKER, {"ImageName": rng.choice(conn.images)}
    elif roll < 0.55:
        name = rng.choice(conn.images)
        op, api, body = "ListImageVersions", SAGEMAKER, {"ImageName": name, "MaxResults": 10}
    elif roll < 0.65:
        name = rng.choice([n for n in conn.images if conn.versions[n]] or conn.images)
        op, api, body = "DescribeImageVersion", SAGEMAKER, {"ImageName": name}
        if not conn.versions[name]:
            expect = {400}
    elif roll < 0.78:
        op, api, body = "ListImages", SAGEMAKER, {"MaxResults": 20}
    elif roll < 0.85:
        arn = f"arn:aws:sagemaker:us-east-1:{conn.account}:image/{rng.choice(conn.images)}"
        op, api, body = "ListTags", SAGEMAKER, {"ResourceArn": arn}
    elif roll < 0.93:
        arn = f"arn:aws:sagemaker:us-east-1:{conn.account}:image/{rng.choice(conn.images)}"
        op, api, body = "GetResource", CLOUDCONTROL, {"TypeName": "AWS::SageMaker::Image", "Identifier": arn}
    elif roll < 0.97:
        op, api, body = "DescribeImage", SAGEMAKER, {"ImageName": f"never-created-{rng.randrange(10**6)}"}
        expect = {400}
    else:
        op, api, body = "ListResources", CLOUDCONTROL, {"TypeName": "AWS::SageMaker::Image"}
    status, answer = await conn.call(api, op, body)
    stats[op] += 1
    if status not in expect:
        stats["unexpected"] += 1
        if len(problems) < 10:
            problems.append(f"{op} {body} -> {status} {answer}")


async def worker(
    index: int, host: str, port: int, quota: int, seed: int, stats: Counter, problems: list[str]
):
    reader, writer = await asyncio.open_connection(host, port)
    account = f"{9 * 10**11 + seed * 1000 + index:012d}"[-12:]
    conn = Connection(index, account, reader, writer)
    rng = random.Random(seed * 100003 + index)
    for _ in range(quota):
        await one_request(conn, rng, stats, problems)
    writer.close()


async def run(host: str, port: int, requests: int, connections: int, seed: int) -> dict:
    stats: Counter = Counter()
    problems: list[str] = []
    quota, extra = divmod(requests, connections)
    started = time.monotonic()
    await asyncio.gather(
        *(
            worker(i, host, port, quota + (1 if i < extra else 0), seed, stats, problems)
            for i in range(connections)
        )
    )
    unexpected = stats.pop("unexpected", 0)
    return {
        "requests": sum(stats.values()),
        "by_operation": dict(stats),
        "unexpected": unexpected,
        "problems": problems,
        "seconds": round(time.monotonic() - started, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    result = asyncio.run(run(args.host, args.port, args.requests, args.connections, args.seed))
    print(json.dumps(result))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
