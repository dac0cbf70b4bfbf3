"""Throughput of 1 and 2 replicas on PostgreSQL beside SQLite: DescribeImage and CreateImageVersion.

    python benchmarks/replicas.py                      # all configurations, 3 alternating rounds
    python benchmarks/replicas.py --rounds 5 --duration 10

Each configuration gets a fresh database (PostgreSQL: a new database on the server named by
SAGEMAKER_IMAGES_BENCH_POSTGRES, default postgresql://postgres@127.0.0.1:5432/postgres, dropped
afterwards; SQLite: a new file) and its own ``sagemaker-images serve`` processes. The load comes from
a separate process (``benchmarks/replicas.py _load ...``): an asyncio client with 32 keep-alive
connections spread round-robin over the replicas, each sending its next request when the last
answer arrived (closed loop). Rounds alternate between configurations so that background noise
falls on all of them alike; the table reports the median round's requests/s and the latency
percentiles of all rounds together.

Workloads:
  describe        DescribeImage of one image
  create          CreateImageVersion, each connection on its own image (32 images)
  create-1-image  CreateImageVersion, all connections on one image (every write takes its row lock)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from sagemaker_images.testing.server import ServeProcess

POSTGRES = os.environ.get("SAGEMAKER_IMAGES_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
CONNECTIONS = 32
IMAGES = 32
WORKLOADS = ("describe", "create", "create-1-image")
CONFIGURATIONS = (("sqlite", 1), ("sqlite", 2), ("postgres", 1), ("postgres", 2))
ROLE = "arn:aws:iam::000000000000:role/bench"


# -- the load generator (its own process) -------------------------------------------------------------


def _request(target: str, body: dict, port: int) -> bytes:
    payload = json.dumps(body).encode()
    head = (
        f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Amz-Target: SageMaker.{target}\r\n"
        f"Content-Type: application/x-amz-json-1.1\r\nContent-Length: {len(payload)}\r\n\r\n"
    )
    return head.encode() + payload


def _body(workload: str, connection: int, sequence: int) -> tuple[str, dict]:
    if workload == "describe":
        return "DescribeImage", {"ImageName": "bench-0"}
    image = "bench-0" if workload == "create-1-image" else f"bench-{connection % IMAGES}"
    return "CreateImageVersion", {
        "ImageName": image,
        "BaseImage": "registry.example/bench:1",
        "ClientToken": str(uuid.uuid4()),
    }


async def _connection(
    number: int,
    port: int,
    workload: str,
    window: tuple[float, float],
    latencies: list[float],
    errors: list[int],
) -> None:
    start, stop = window
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    sequence = 0
    try:
        while True:
            target, body = _body(workload, number, sequence)
            sequence += 1
            sent = time.perf_counter()
            if sent >= stop:
                return
            writer.write(_request(target, body, port))
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            done = time.perf_counter()
            if sent >= start:  # after the warm-up
                if status == 200:
                    latencies.append(done - sent)
                else:
                    errors.append(status)
    finally:
        writer.close()


async def _load(ports: list[int], workload: str, warmup: float, duration: float) -> dict:
    latencies: list[float] = []
    errors: list[int] = []
    start = time.perf_counter() + warmup
    stop = start + duration
    await asyncio.gather(
        *(
            _connection(n, ports[n % len(ports)], workload, (start, stop), latencies, errors)
            for n in range(CONNECTIONS)
        )
    )
    latencies.sort()

    def percentile(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else 0.0

    return {
        "requests": len(latencies),
        "errors": len(errors),
        "rate": len(latencies) / duration,
        "p50_ms": percentile(0.50),
        "p99_ms": percentile(0.99),
        "latencies_ms": [round(x * 1000, 3) for x in latencies],
    }


def load_main(args: argparse.Namespace) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    ports = [int(p) for p in args.ports.split(",")]
    print(json.dumps(asyncio.run(_load(ports, args.workload, args.warmup, args.duration))))


# -- servers and databases -----------------------------------------------------------------------------


def call(port: int, target: str, body: dict) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(
            "POST",
            "/",
            json.dumps(body),
            {"X-Amz-Target": f"SageMaker.{target}", "Content-Type": "application/x-amz-json-1.1"},
        )
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        conn.close()


class Replicas:
    """``sagemaker-images serve`` processes on one database."""

    def __init__(self, db_url: str, count: int, log: Path) -> None:
        arguments = ["--db", db_url, "--log-level", "warning"]
        self.servers = [ServeProcess(arguments, log_path=log) for _ in range(count)]
        self.ports = [server.port for server in self.servers]
        self.db_url = db_url

    def __enter__(self) -> Replicas:
        for server in self.servers:
            server.start()  # one after the other: the first migrates the schema
        return self

    def __exit__(self, *exc: object) -> None:
        for server in self.servers:
            server.stop()


@contextlib.contextmanager
def fresh_database(backend: str, workdir: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{workdir / f'bench-{uuid.uuid4().hex[:8]}.db'}"
        return
    import psycopg

    name = f"smi_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{POSTGRES.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(POSTGRES, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def seed(port: int) -> None:
    for n in range(IMAGES):
        status, answer = call(port, "CreateImage", {"ImageName": f"bench-{n}", "RoleArn": ROLE})
        if status != 200:
            raise RuntimeError(f"seeding failed: {answer}")


def run_load(ports: list[int], workload: str, warmup: float, duration: float) -> dict:
    command = [sys.executable, __file__, "_load", "--ports", ",".join(map(str, ports))]
    command += ["--workload", workload, "--warmup", str(warmup), "--duration", str(duration)]
    result = subprocess.run(command, capture_output=True, check=True, timeout=warmup + duration + 120)
    return json.loads(result.stdout)


# -- the benchmark -----------------------------------------------------------------------------------------


def label(backend: str, count: int) -> str:
    return f"{'PostgreSQL' if backend == 'postgres' else 'SQLite'}, {count} replica{'s' if count > 1 else ''}"


def bench_main(args: argparse.Namespace) -> None:
    configurations = [c for c in CONFIGURATIONS if c[0] in args.backends]
    results: dict[tuple[str, int, str], list[dict]] = {}
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="smi-bench-")))
        running: dict[tuple[str, int], Replicas] = {}
        for backend, count in configurations:
            url = stack.enter_context(fresh_database(backend, workdir))
            replicas = stack.enter_context(Replicas(url, count, workdir / "servers.log"))
            seed(replicas.ports[0])
            running[(backend, count)] = replicas
        for round_number in range(1, args.rounds + 1):
            for workload in args.workloads:
                # Alternate: every configuration runs once per workload in each round.
                for backend, count in configurations:
                    outcome = run_load(running[(backend, count)].ports, workload, args.warmup, args.duration)
                    results.setdefault((backend, count, workload), []).append(outcome)
                    print(
                        f"round {round_number} {workload:15} {label(backend, count):24} "
                        f"{outcome['rate']:8.0f} req/s  p50 {outcome['p50_ms']:6.1f} ms  "
                        f"p99 {outcome['p99_ms']:6.1f} ms  errors {outcome['errors']}",
                        file=sys.stderr,
                    )
    print(report(results, configurations, args))


def report(results: dict, configurations: list, args: argparse.Namespace) -> str:
    lines = [
        f"{CONNECTIONS} connections, {args.rounds} alternating rounds of {args.duration:g} s "
        f"(after {args.warmup:g} s warm-up) per configuration and workload; "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}.",
        "",
        "| workload | configuration | requests/s (median round) | p50 ms | p99 ms | errors |",
        "|---|---|---:|---:|---:|---:|",
    ]
    medians: dict[tuple[str, int, str], float] = {}
    for workload in args.workloads:
        for backend, count in configurations:
            rounds = results[(backend, count, workload)]
            rate = statistics.median(r["rate"] for r in rounds)
            medians[(backend, count, workload)] = rate
            pooled = sorted(x for r in rounds for x in r["latencies_ms"])
            p50 = pooled[int(0.50 * len(pooled))] if pooled else 0
            p99 = pooled[min(len(pooled) - 1, int(0.99 * len(pooled)))] if pooled else 0
            errors = sum(r["errors"] for r in rounds)
            lines.append(
                f"| {workload} | {label(backend, count)} | {rate:.0f} | {p50:.1f} | {p99:.1f} | {errors} |"
            )
    lines += [
        "",
        "| workload | PostgreSQL 2 replicas / 1 | PostgreSQL 1 / SQLite 1 | SQLite 2 / 1 |",
        "|---|---:|---:|---:|",
    ]

    def ratio(workload: str, a: tuple[str, int], b: tuple[str, int]) -> str:
        x, y = medians.get((*a, workload)), medians.get((*b, workload))
        return f"{x / y:.2f}" if x and y else "n/a"

    for w in args.workloads:
        lines.append(
            f"| {w} | {ratio(w, ('postgres', 2), ('postgres', 1))} | "
            f"{ratio(w, ('postgres', 1), ('sqlite', 1))} | {ratio(w, ('sqlite', 2), ('sqlite', 1))} |"
        )
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_load":
        parser = argparse.ArgumentParser()
        parser.add_argument("_load")
        parser.add_argument("--ports", required=True)
        parser.add_argument("--workload", choices=WORKLOADS, required=True)
        parser.add_argument("--warmup", type=float, required=True)
        parser.add_argument("--duration", type=float, required=True)
        load_main(parser.parse_args())
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=6.0, help="measured seconds per run (default 6)")
    parser.add_argument("--warmup", type=float, default=1.5, help="unmeasured seconds first (default 1.5)")
    parser.add_argument("--workloads", nargs="+", choices=WORKLOADS, default=list(WORKLOADS))
    parser.add_argument(
        "--backends", nargs="+", choices=("sqlite", "postgres"), default=["sqlite", "postgres"]
    )
    bench_main(parser.parse_args())


if __name__ == "__main__":
    main()
