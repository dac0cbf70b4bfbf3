"""Pre-authentication cost: CPU a request costs the server before it is refused, against its size.

Two measurements, both printed as a Markdown table:

1. In process, ``sigv4.canonical_headers`` for ``n`` signed header names over ``n`` headers, next to
   the nested-loop form it replaced (signed x headers), so the ratio of the two is measured in one
   run. The new form must grow like ``n``.
2. Against a real server (``--auth sigv4``, SQLite), requests signed by a known access key with a
   wrong signature — the most a client without the secret can make the server do — at growing head
   sizes (every signed header present, up to the 100-header limit, the rest of the head in their
   values and in the SignedHeaders list) and growing bodies (hashed for the signature). The server's
   own CPU time (``/proc/<pid>/stat``) per request is divided by the request size: a flat column
   means linear.

    python -m benchmarks.preauth            # ~1 minute
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

from sagemaker_images.protocol.sigv4 import SignedRequest, canonical_headers
from sagemaker_images.testing.server import ServeProcess

KEY, SECRET = "AKIDBENCHMARK", "benchmark-secret"
TICKS = os.sysconf("SC_CLK_TCK")


def nested_loop(request: SignedRequest, signed_headers: tuple[str, ...]) -> str:
    """The canonicalisation as it was: every signed name scans every header."""
    lines = []
    for name in signed_headers:
        values = [" ".join(v.split()) for k, v in request.headers if k == name]
        lines.append(f"{name}:{','.join(values)}\n")
    return "".join(lines)


def _best(function, *args, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        function(*args)
        best = min(best, time.perf_counter() - started)
    return best


def in_process() -> list[str]:
    rows = [
        "| signed names x headers | new (ms) | nested loop (ms) | nested / new | new µs per name |",
        "|---|---|---|---|---|",
    ]
    for n in (500, 1000, 2000, 4000, 8000):
        headers = [(f"x-h{i}", "v") for i in range(n)]
        signed = tuple(sorted(name for name, _ in headers))
        request = SignedRequest("POST", b"/", b"", headers, b"")
        new = _best(canonical_headers, request, signed)
        if n <= 4000:
            old = _best(nested_loop, request, signed, repeat=1)
            compared = f"{old * 1e3:.0f} | {old / new:,.0f}"
        else:
            compared = "— | —"  # the nested loop would take seconds
        rows.append(f"| {n:,} x {n:,} | {new * 1e3:.2f} | {compared} | {new / n * 1e6:.2f} |")
    return rows


def _cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def _head(size: int) -> tuple[dict[str, str], str]:
    """Up to 90 extra headers (within the limit of 100 with the client's own) and a SignedHeaders
    list naming them, about ``size`` bytes in all."""
    count = min(90, max(1, size // 200))
    value = "v" * max(1, (size // 2) // count)
    extra = {f"x-pad-{i:03}": value for i in range(count)}
    names = sorted(["content-type", "host", "x-amz-date", "x-amz-target", *extra])
    return extra, ";".join(names)


def _request(port: int, body: bytes, extra: dict[str, str], signed: str) -> int:
    date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    headers = {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": "SageMaker.ListImages",
        "X-Amz-Date": date,
        "Authorization": f"AWS4-HMAC-SHA256 Credential={KEY}/{date[:8]}/us-east-1/sagemaker/aws4_request, "
        f"SignedHeaders={signed}, Signature=" + "0" * 64,
        **extra,
    }
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("POST", "/", body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def _attack(port: int, pid: int, count: int = 200) -> str:
    """The head that once stalled the server ~11 s: 15,000 signed names, 6,000 headers, ~60 KB."""
    date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    signed = "host;" + ";".join(["x"] * 15000)
    head = (
        f"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Date: {date}\r\nAuthorization: AWS4-HMAC-SHA256 "
        f"Credential={KEY}/{date[:8]}/us-east-1/sagemaker/aws4_request, SignedHeaders={signed}, "
        "Signature=" + "0" * 64 + "\r\n" + "x: v\r\n" * 6000 + "Content-Length: 2\r\n\r\n{}"
    ).encode()
    before = _cpu(pid)
    statuses = set()
    for _ in range(count):
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            with contextlib.suppress(OSError):
                sock.sendall(head)
            with contextlib.suppress(OSError):
                statuses.add(sock.recv(64).split(b" ")[1].decode())
    spent = (_cpu(pid) - before) / count
    name = f"the 15,000 x 6,000 head (answered {', '.join(sorted(statuses))})"
    return f"| {name} | {len(head) / 1024:.1f} | {count} | {spent * 1e3:.3f} | — |"


def against_server() -> list[str]:
    rows = [
        "| request | size (KiB) | requests | server CPU per request (ms) | µs per KiB beyond the smallest |",
        "|---|---|---|---|---|",
    ]
    smallest: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory() as directory:
        keys = Path(directory) / "keys.json"
        keys.write_text(json.dumps({"keys": {KEY: {"secret": SECRET, "account": "111122223333"}}}))
        arguments = ["--db", f"sqlite:///{directory}/state.db", "--auth", "sigv4", "--credentials", str(keys)]
        server = ServeProcess(arguments).start()
        try:
            assert server.process is not None
            pid = server.process.pid
            cases = [("head", size, b"{}") for size in (4096, 8192, 16384, 32768, 60000)]
            bodies = (65536, 262144, 1000000)  # up to the default --max-body-bytes
            cases += [("body", size, b'{"x":"' + b"a" * size + b'"}') for size in bodies]
            plain = ({}, "content-type;host;x-amz-date;x-amz-target")
            for kind, size, body in cases:
                extra, signed = _head(size) if kind == "head" else plain
                count = max(100, min(3000, int(64_000_000 / size)))
                _request(server.port, body, extra, signed)  # warm
                before = _cpu(pid)
                for _ in range(count):
                    status = _request(server.port, body, extra, signed)
                    assert status == 403, status
                spent = (_cpu(pid) - before) / count
                kib = (len(body) + sum(len(k) + len(v) for k, v in extra.items()) + len(signed)) / 1024
                base_kib, base_spent = smallest.setdefault(kind, (kib, spent))
                marginal = f"{(spent - base_spent) / (kib - base_kib) * 1e6:.1f}" if kib > base_kib else "—"
                rows.append(f"| {kind} | {kib:,.1f} | {count} | {spent * 1e3:.3f} | {marginal} |")
            rows.append(_attack(server.port, pid))
        finally:
            server.stop()
    return rows


def main() -> int:
    print("### Canonical headers, in process\n")
    print("\n".join(in_process()))
    print("\n### Refused requests, server CPU\n")
    print("\n".join(against_server()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
