"""The load and scale harness: ``python -m benchmarks.run`` (see docs/performance.md).

In one run it starts, side by side on this machine,

- the floor (``benchmarks/floor.py``): a bare ASGI app on the same uvicorn/uvloop/httptools stack;
- moto's server, on DescribeModelPackageGroup (its closest analogue to DescribeImage), for reference;
- sagemaker-images on a database with 1,000 versions and on one with 1,000,000 (10,000 images of
  100 versions each; the big one is seeded once through the store's tables and kept in /tmp),

then drives each with ``wrk`` (a separate process, 32 connections) in rounds. Every round runs every
measurement once, in the reverse order of the round before, so slow drift in the machine's load
falls evenly on all of them; the report gives each figure's median over the rounds. It also records
each server's resident memory, the database size, the time from ``serve`` to a healthy ``/_health``,
and checks that every acknowledged CreateImageVersion survived a ``kill -9`` of the server.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import orjson

from benchmarks import seed
from sagemaker_images.testing.server import ServeProcess, free_port

HERE = Path(__file__).parent
LUA = HERE / "request.lua"
VERSIONS_PER_IMAGE = 100
# A deep page: the 50th of a 100-version listing walked two versions at a time (the last page).
PAGE_SIZE = 2
DEEP_PAGE = 50
SAGEMAKER_JSON = "application/x-amz-json-1.1"
CLOUD_CONTROL_JSON = "application/x-amz-json-1.0"
# Signatures are not checked, but the credential scope names the region (and tells moto the service).
AUTHORIZATION = (
    "AWS4-HMAC-SHA256 Credential=AKIDBENCHMARK/20240101/us-east-1/sagemaker/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=0"
)
BIG_DATABASE = Path(tempfile.gettempdir()) / "sagemaker-images-bench" / "1m.db"


@dataclass
class Server:
    """A server process on a local port: ours, the floor, or moto (started by the package's
    ``ServeProcess``, as every test and benchmark starts one)."""

    name: str
    process: ServeProcess

    @property
    def port(self) -> int:
        return self.process.port

    @property
    def pid(self) -> int:
        assert self.process.process is not None
        return self.process.process.pid

    @property
    def started_in(self) -> float:
        """Seconds from launching the process to its first answer (ours: a healthy ``/_health``)."""
        assert self.process.ready_in is not None
        return self.process.ready_in

    def start(self, timeout: float = 120.0) -> Server:
        self.process.start(timeout)
        return self

    def stop(self, sig: int = signal.SIGTERM) -> None:
        self.process.stop(sig)

    def resident_mb(self) -> tuple[float, float]:
        """(current, peak) resident memory of the server process, in MB."""
        status = Path(f"/proc/{self.pid}/status").read_text()
        values = {
            line.split(":")[0]: int(line.split()[1]) / 1024
            for line in status.splitlines()
            if line.startswith(("VmRSS", "VmHWM"))
        }
        return values["VmRSS"], values["VmHWM"]

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the server and its worker processes have used so far."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError):
                fields = stat.read_text().rsplit(")", 1)[1].split()
                pid, ppid = int(stat.parent.name), int(fields[1])
                if self.pid in (pid, ppid):
                    total += (int(fields[11]) + int(fields[12])) / ticks
        return total

    def call(self, method: str, path: str, target: str = "", body: dict | None = None, json: str = ""):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {
            "X-Amz-Target": target,
            "Content-Type": json or SAGEMAKER_JSON,
            "Authorization": AUTHORIZATION,
        }
        try:
            conn.request(method, path, body=orjson.dumps(body) if body is not None else None, headers=headers)
            response = conn.getresponse()
            data = response.read()
            try:
                return response.status, orjson.loads(data)
            except orjson.JSONDecodeError:  # moto's and the floor's GET answers, an empty body
                return response.status, {"body": data}
        finally:
            conn.close()


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: one per measurement
class Call:
    """One measured request: what wrk sends, to which server."""

    label: str
    server: Server
    target: str
    body: dict
    content_type: str = SAGEMAKER_JSON
    scale: int | None = None


@dataclass
class Sample:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int
    failed: int
    # Server CPU time per answered request: the figure the machine's other load disturbs least.
    cpu_us: float


def run_wrk(call: Call, seconds: int, connections: int, threads: int) -> Sample:
    env = {
        **os.environ,
        "BENCH_TARGET": call.target,
        "BENCH_CONTENT_TYPE": call.content_type,
        "BENCH_BODY": orjson.dumps(call.body).decode(),
        "BENCH_RUN": uuid.uuid4().hex[:8],
    }
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA),
        f"http://127.0.0.1:{call.server.port}/",
    ]
    cpu_before = call.server.cpu_seconds()
    output = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    cpu = call.server.cpu_seconds() - cpu_before
    result = orjson.loads(output.strip().splitlines()[-1])
    seconds_taken = result["duration_us"] / 1e6
    return Sample(
        requests_per_s=result["requests"] / seconds_taken,
        p50_ms=result["p50_us"] / 1000,
        p99_ms=result["p99_us"] / 1000,
        requests=result["requests"],
        failed=result["non_2xx"] + result["socket_errors"],
        cpu_us=cpu / max(result["requests"], 1) * 1e6,
    )


def our_server(url: str, workers: int) -> Server:
    arguments = ["--db", url, "--log-level", "warning", "--workers", str(workers)]
    return Server("sagemaker-images", ServeProcess(arguments))


def prepare_database(versions: int, scratch: Path) -> Path:
    """A seeded SQLite file: the 1,000,000-version one is kept between runs, smaller ones are fresh."""
    images = max(1, versions // VERSIONS_PER_IMAGE)
    if versions >= 1_000_000:
        path = BIG_DATABASE
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() and seed.seeded_versions(f"sqlite:///{path}") >= versions:
            return path
        for stale in path.parent.glob(path.name + "*"):
            stale.unlink()
    else:
        path = scratch / f"{versions}.db"
    print(f"seeding {versions:,} versions ({images:,} images) into {path} ...", flush=True)
    seed.seed(f"sqlite:///{path}", images, VERSIONS_PER_IMAGE)
    return path


def database_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) / 1e6


def measured_calls(server: Server, versions: int, cloud_control: bool) -> list[Call]:
    images = max(1, versions // VERSIONS_PER_IMAGE)
    # Reads go to an image in the middle of the table; writes to the first, so reads see a fixed image.
    name = seed.image_name(images // 2)
    writes_to = seed.image_name(0)
    listing = {"ImageName": name, "MaxResults": PAGE_SIZE}
    deep = listing
    for _ in range(DEEP_PAGE - 1):  # walk once to the token of the deep page; wrk then replays it
        status, page = server.call("POST", "/", "SageMaker.ListImageVersions", deep)
        assert status == 200, page
        deep = {**listing, "NextToken": page["NextToken"]}

    def call(label: str, operation: str, body: dict, content_type: str = SAGEMAKER_JSON) -> Call:
        return Call(label, server, operation, body, content_type, scale=versions)

    create = {"ImageName": writes_to, "BaseImage": seed.BASE_IMAGE, "ClientToken": "{token}"}
    calls = [
        call("DescribeImage", "SageMaker.DescribeImage", {"ImageName": name}),
        call("DescribeImageVersion (latest)", "SageMaker.DescribeImageVersion", {"ImageName": name}),
        call("ListImageVersions (first page)", "SageMaker.ListImageVersions", listing),
        call(f"ListImageVersions (page {DEEP_PAGE})", "SageMaker.ListImageVersions", deep),
        call("CreateImageVersion", "SageMaker.CreateImageVersion", create),
    ]
    if cloud_control:
        # The primary identifier of AWS::SageMaker::Image is its ARN.
        get = {"TypeName": "AWS::SageMaker::Image", "Identifier": image_arn(name)}
        calls.append(
            call("Cloud Control GetResource", "CloudApiService.GetResource", get, CLOUD_CONTROL_JSON)
        )
    return calls


def image_arn(name: str) -> str:
    return f"arn:aws:sagemaker:{seed.REGION}:{seed.ACCOUNT}:image/{name}"


def floor_server(workers: int, *, ours: bool = False) -> Server:
    """The floor on uvicorn's own HTTP protocol, or (``ours``) on this server's (http_limits.py)."""
    port = free_port()
    command = [sys.executable, "-m", "benchmarks.floor", str(port), str(workers), *(["ours"] if ours else [])]
    # No health check: any answer means it is up.
    return Server("floor", ServeProcess(command=command, port=port, health_path=None))


def moto_server() -> Server | None:
    executable = shutil.which("moto_server") or str(Path(sys.executable).parent / "moto_server")
    if not Path(executable).exists():
        return None
    port = free_port()
    command = [executable, "-H", "127.0.0.1", "-p", str(port)]
    return Server("moto", ServeProcess(command=command, port=port, health_path=None))


def serves_cloud_control(server: Server) -> bool:
    body = {"TypeName": "AWS::SageMaker::Image", "Identifier": image_arn(seed.image_name(0))}
    status, _ = server.call("POST", "/", "CloudApiService.GetResource", body, CLOUD_CONTROL_JSON)
    return status == 200


def start_up_seconds(url: str, workers: int, times: int) -> float:
    """Median time from launching ``serve`` to the first healthy ``/_health``."""
    spans = []
    for _ in range(times):
        server = our_server(url, workers).start()
        spans.append(server.started_in)
        server.stop()
    return statistics.median(spans)


def versions_of(path: Path, image: str) -> int:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        query = (
            "SELECT count(*) FROM image_versions JOIN images ON images.id = image_versions.image_id "
            "WHERE images.name_key = ?"
        )
        return conn.execute(query, (image,)).fetchone()[0]


def load_average() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--scales", default="1000,1000000", help="versions stored, comma-separated")
    parser.add_argument("--seconds", type=int, default=5, help="length of one wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every measurement, alternating")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, default=1, help="server processes (ours and the floor)")
    parser.add_argument("--starts", type=int, default=5, help="start-ups timed per scale")
    parser.add_argument("--no-moto", action="store_true", help="skip the moto reference")
    parser.add_argument("--report", type=Path, default=BIG_DATABASE.parent / "report.md")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install -y wrk")
    scales = [int(s) for s in args.scales.split(",")]
    load_before = load_average()
    command = "python -m benchmarks.run " + " ".join(argv if argv is not None else sys.argv[1:])

    with (
        tempfile.TemporaryDirectory(prefix="sagemaker-images-bench-") as scratch,
        contextlib.ExitStack() as stack,
    ):
        databases = {n: prepare_database(n, Path(scratch)) for n in scales}
        written_before = {n: versions_of(path, seed.image_name(0)) for n, path in databases.items()}
        starts = {
            n: start_up_seconds(f"sqlite:///{path}", args.workers, args.starts)
            for n, path in databases.items()
        }

        floor = floor_server(args.workers).start()
        stack.callback(floor.stop)
        references = [Call("floor (fixed answer)", floor, "SageMaker.DescribeImage", {"ImageName": "x"})]
        # The same fixed answer on this server's HTTP layer: what of our figures is the HTTP layer's.
        our_floor = floor_server(args.workers, ours=True).start()
        stack.callback(our_floor.stop)
        references.append(
            Call(
                "floor on this server's HTTP layer", our_floor, "SageMaker.DescribeImage", {"ImageName": "x"}
            )
        )
        moto = None if args.no_moto else moto_server()
        if moto is not None:
            moto.start()
            stack.callback(moto.stop)
            status, answer = moto.call(
                "POST", "/", "SageMaker.CreateModelPackageGroup", {"ModelPackageGroupName": "bench"}
            )
            assert status == 200, answer
            references.append(
                Call(
                    "moto DescribeModelPackageGroup",
                    moto,
                    "SageMaker.DescribeModelPackageGroup",
                    {"ModelPackageGroupName": "bench"},
                )
            )
        servers: dict[int, Server] = {}
        calls: list[Call] = list(references)
        for n, path in databases.items():
            servers[n] = our_server(f"sqlite:///{path}", args.workers).start()
            stack.callback(servers[n].stop)
            calls.extend(measured_calls(servers[n], n, serves_cloud_control(servers[n])))

        print(
            f"load average before: {load_before}; {len(calls)} measurements x {args.rounds} rounds",
            flush=True,
        )
        acknowledged = dict.fromkeys(servers, 0)  # CreateImageVersion calls answered 200, per scale

        def measure(call: Call, seconds: int) -> Sample:
            sample = run_wrk(call, seconds, args.connections, args.threads)
            if call.target.endswith("CreateImageVersion"):
                acknowledged[call.scale] += sample.requests - sample.failed
            return sample

        for call in calls:  # warm-up: connections, caches, the thread pool
            measure(call, 1)
        samples: dict[Call, list[Sample]] = {call: [] for call in calls}
        for round_number in range(args.rounds):
            order = calls if round_number % 2 == 0 else calls[::-1]
            for call in order:
                sample = measure(call, args.seconds)
                samples[call].append(sample)
                print(
                    f"round {round_number + 1} {call.label:34} {call.scale or '':>8} "
                    f"{sample.requests_per_s:8.0f}/s p50 {sample.p50_ms:6.2f} ms p99 {sample.p99_ms:6.2f} ms "
                    f"cpu {sample.cpu_us:5.0f} us/request",
                    flush=True,
                )
        load_after = load_average()
        memory = {n: server.resident_mb() for n, server in servers.items()}

        # Durability: kill -9 each server, then count the versions every acknowledged create made.
        durable = {}
        for n, server in servers.items():
            server.stop(signal.SIGKILL)
            stored = versions_of(databases[n], seed.image_name(0)) - written_before[n]
            durable[n] = (acknowledged[n], stored)
        sizes = {n: database_mb(path) for n, path in databases.items()}

    report = render(
        command=command,
        args=args,
        calls=calls,
        samples=samples,
        scales=scales,
        memory=memory,
        sizes=sizes,
        starts=starts,
        durable=durable,
        load=(load_before, load_after),
    )
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(report)
    print(report)
    return 0


def _median(samples: list[Sample], attribute: str) -> float:
    return statistics.median(getattr(s, attribute) for s in samples)


def render(*, command, args, calls, samples, scales, memory, sizes, starts, durable, load) -> str:
    floor_rate = _median(samples[calls[0]], "requests_per_s")
    floor_cpu = _median(samples[calls[0]], "cpu_us")
    moto_calls = [c for c in calls if c.server.name == "moto"]
    moto_rate = _median(samples[moto_calls[0]], "requests_per_s") if moto_calls else None
    lines = [
        f"Command: `{command}`",
        "",
        f"{os.cpu_count()} cores; load average (1, 5, 15 min) {load[0]} before, {load[1]} after. "
        f"wrk -t{args.threads} -c{args.connections}, {args.rounds} alternating rounds of {args.seconds:g} s "
        f"per measurement (medians); {args.workers} server process(es). "
        f"{VERSIONS_PER_IMAGE} versions per image; listings page by {PAGE_SIZE}, "
        f"the deep page is page {DEEP_PAGE}.",
        "",
        "| call | versions stored | requests/s | p50 ms | p99 ms | x floor | x moto | server CPU us/request "
        "| floor CPU ÷ CPU | failed |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for call in calls:
        rate = _median(samples[call], "requests_per_s")
        to_moto = f"{rate / moto_rate:.1f}" if moto_rate else "-"
        failed = sum(s.failed for s in samples[call])
        cpu = _median(samples[call], "cpu_us")
        lines.append(
            f"| {call.label} | {f'{call.scale:,}' if call.scale else '-'} | {rate:,.0f} | "
            f"{_median(samples[call], 'p50_ms'):.2f} | {_median(samples[call], 'p99_ms'):.2f} | "
            f"{rate / floor_rate:.2f} | {to_moto} | {cpu:.0f} | {floor_cpu / cpu:.2f} | {failed} |"
        )
    if len(scales) > 1:
        small, big = scales[0], scales[-1]
        lines += [
            "",
            f"Scale: latency with {big:,} versions stored relative to {small:,} (medians).",
            "",
            f"| call | p50 {small:,} | p50 {big:,} | ratio | p99 {small:,} | p99 {big:,} | ratio |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        by_key = {(c.label, c.scale): c for c in calls}
        for call in calls:
            if call.scale != small or (call.label, big) not in by_key:
                continue
            other = by_key[(call.label, big)]
            row = [call.label]
            for attribute in ("p50_ms", "p99_ms"):
                a, b = _median(samples[call], attribute), _median(samples[other], attribute)
                row += [f"{a:.2f}", f"{b:.2f}", f"{b / a:.2f}"]
            lines.append("| " + " | ".join(row) + " |")
    lines += [
        "",
        "| versions stored | resident memory (after the load, peak) | database on disk "
        "| serve to healthy /_health | acknowledged creates / found after kill -9 |",
        "|---:|---:|---:|---:|---:|",
    ]
    for n in scales:
        rss, peak = memory[n]
        acknowledged, stored = durable[n]
        verdict = "all durable" if stored >= acknowledged else "LOST WRITES"
        lines.append(
            f"| {n:,} | {rss:.0f} MB ({peak:.0f} MB) | {sizes[n]:.0f} MB | {starts[n]:.2f} s "
            f"| {acknowledged:,} / {stored:,} ({verdict}) |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
