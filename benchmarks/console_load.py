"""What a console page costs to load with 1,000 images: time and bytes, in a real browser.

    python -m benchmarks.console_load            # ~1 minute; needs Debian's chromium and playwright

One run starts ``sagemaker-images serve`` (default flags, one process) on a fresh SQLite file, creates
1,000 images through the API (and one more image with 10 versions, an alias each and 3 tags), then
drives Chromium with Playwright:

- **Images page, cold**: a new browser context (empty cache), ``/console`` until the 20 rows of the
  first page are on screen. Time is the page's own clock (``performance.now()``, from navigation
  start); bytes are what crossed the network (``transferSize`` of the document and every resource,
  headers included).
- **Images page, warm**: reloaded in the same context (the hashed assets come from the cache).
- **Next page** (page 2) and **page 50** (the last of 1,000 at 20 a page): from the click to the new
  rows, measured in the page.
- **Image page** (10 versions) cold and warm: until the versions table is on screen.

The floor, measured in the same run: one ListImages call of 20 images over a kept-alive connection
from Python, the API call the Images page is built on. Each figure is the median (and p90) of
``ROUNDS`` repetitions.
"""

from __future__ import annotations

import http.client
import json
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.conftest import CHROMIUM, CHROMIUM_ARGS

from sagemaker_images.testing.server import ServeProcess

IMAGES = 1000
VERSIONS = 10
ROUNDS = 15
ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/Bench"
HEADERS = {
    "Content-Type": "application/x-amz-json-1.1",
    "Authorization": f"AWS4-HMAC-SHA256 Credential={ACCOUNT}/20260101/us-east-1/sagemaker/aws4_request",
}


def call(conn: http.client.HTTPConnection, operation: str, body: dict) -> dict:
    conn.request("POST", "/", json.dumps(body), {**HEADERS, "X-Amz-Target": f"SageMaker.{operation}"})
    response = conn.getresponse()
    data = json.loads(response.read() or b"{}")
    if response.status != 200:
        raise RuntimeError(f"{operation}: {response.status} {data}")
    return data


def seed(port: int) -> None:
    def create(indices: range) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for i in indices:
            call(
                conn,
                "CreateImage",
                {
                    "ImageName": f"image-{i:04d}",
                    "RoleArn": ROLE,
                    "DisplayName": f"Image {i}",
                    "Description": f"Benchmark image number {i}",
                },
            )
        conn.close()

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(create, [range(start, IMAGES, 4) for start in range(4)]))
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    call(conn, "CreateImage", {"ImageName": "versioned", "RoleArn": ROLE})
    for v in range(VERSIONS):
        call(
            conn,
            "CreateImageVersion",
            {
                "ImageName": "versioned",
                "BaseImage": f"python:3.{v}",
                "Aliases": [f"a{v}"],
                "ClientToken": f"t{v}",
            },
        )
    arn = call(conn, "DescribeImage", {"ImageName": "versioned"})["ImageArn"]
    call(conn, "AddTags", {"ResourceArn": arn, "Tags": [{"Key": f"k{i}", "Value": "v"} for i in range(3)]})
    conn.close()


def floor(port: int) -> list[float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    call(conn, "ListImages", {"MaxResults": 20})
    times = []
    for _ in range(ROUNDS * 10):
        started = time.perf_counter()
        call(conn, "ListImages", {"MaxResults": 20})
        times.append((time.perf_counter() - started) * 1000)
    conn.close()
    return times


# Waits (polling on animation frames: page.wait_for_function would need eval, which the CSP forbids)
# until ``selector`` matches ``count`` elements, then reads the page's clock and transfer sizes.
LOADED = """async ([selector, count]) => {
    while (document.querySelectorAll(selector).length !== count) {
        await new Promise((r) => requestAnimationFrame(r));
    }
    const nav = performance.getEntriesByType("navigation")[0];
    const resources = performance.getEntriesByType("resource");
    return {
        ms: performance.now(),
        bytes: nav.transferSize + resources.reduce((sum, r) => sum + r.transferSize, 0),
        requests: 1 + resources.length,
        api: resources.filter((r) => r.name.endsWith("/console/api")).length,
    };
}"""

# From a click to the page label showing the next page's number, measured in the page itself.
NEXT_PAGE = """async () => {
    const label = document.querySelector(".page-label");
    const wanted = "Page " + (Number(label.textContent.split(" ")[1]) + 1);
    const before = performance.getEntriesByType("resource").length;
    const started = performance.now();
    [...document.querySelectorAll("button")].find((b) => b.textContent === "Next page").click();
    while (label.textContent !== wanted) await new Promise((r) => requestAnimationFrame(r));
    const ms = performance.now() - started;
    const fresh = performance.getEntriesByType("resource").slice(before);
    return {ms, bytes: fresh.reduce((sum, r) => sum + r.transferSize, 0), requests: fresh.length};
}"""


def summary(name: str, samples: list[dict], floor_ms: float) -> str:
    ms = sorted(s["ms"] for s in samples)
    median = statistics.median(ms)
    p90 = ms[int(len(ms) * 0.9) - 1]
    bytes_ = statistics.median(s["bytes"] for s in samples)
    requests = statistics.median(s["requests"] for s in samples)
    return f"| {name} | {median:.1f} | {p90:.1f} | {median / floor_ms:.1f} | {bytes_:,.0f} | {requests:.0f} |"


def main() -> int:
    if not Path(CHROMIUM).exists():
        print(f"no Chromium at {CHROMIUM}", file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    where = Path(tempfile.mkdtemp(prefix="console-bench-"))
    with ServeProcess(["--db", f"sqlite:///{where / 'state.db'}"], log_path=where / "server.log") as server:
        started = time.perf_counter()
        seed(server.port)
        print(f"seeded {IMAGES + 1} images in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        floor_ms = statistics.median(floor(server.port))
        results: dict[str, list[dict]] = {}
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for _ in range(ROUNDS):
                context = browser.new_context(viewport={"width": 1280, "height": 800})
                context.add_init_script(f"localStorage.setItem('console.account', '{ACCOUNT}')")
                page = context.new_page()
                rows = ["#images-table tbody tr", 20]
                page.goto(server.endpoint + "/console")
                results.setdefault("Images page, cold cache", []).append(page.evaluate(LOADED, rows))
                page.reload()
                results.setdefault("Images page, warm cache", []).append(page.evaluate(LOADED, rows))
                results.setdefault("Next page (page 2)", []).append(page.evaluate(NEXT_PAGE))
                for _ in range(47):
                    page.evaluate(NEXT_PAGE)
                results.setdefault("Next page (page 50 of 50)", []).append(page.evaluate(NEXT_PAGE))
                context.close()
                context = browser.new_context(viewport={"width": 1280, "height": 800})
                context.add_init_script(f"localStorage.setItem('console.account', '{ACCOUNT}')")
                page = context.new_page()
                rows = ["#versions-table tr[data-version]", VERSIONS]
                page.goto(server.endpoint + "/console/images/versioned")
                results.setdefault(f"Image page ({VERSIONS} versions), cold cache", []).append(
                    page.evaluate(LOADED, rows)
                )
                page.reload()
                results.setdefault(f"Image page ({VERSIONS} versions), warm cache", []).append(
                    page.evaluate(LOADED, rows)
                )
                context.close()
            version = browser.version
            browser.close()
    print(
        f"Chromium {version}; {IMAGES + 1} images stored; {ROUNDS} rounds; floor: one ListImages call "
        f"(20 images) from Python over a kept-alive connection, median {floor_ms:.2f} ms\n"
    )
    print("| page | median ms | p90 ms | x floor | bytes transferred | requests |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, samples in results.items():
        print(summary(name, samples, floor_ms))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
