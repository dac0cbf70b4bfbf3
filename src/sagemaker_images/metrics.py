"""``GET /metrics``: what an operator scrapes, in the Prometheus text format.

Labels are low-cardinality by construction: an API is one of the served APIs, an operation one of
its modelled operations (anything else counts as ``unknown``), an error code one of the codes this
server raises; never a name, account, region or ARN. Figures that live in the database (Cloud
Control requests by status) and in the store's machinery (connection pool, group commit) are read
when scraped, so they cost nothing per request.

Each server process keeps its own figures (``--workers N`` means N processes): scrape each, or run
one worker per replica, as usual for Prometheus.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from sagemaker_images.store import Database

log = logging.getLogger("sagemaker_images")

CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"
UNKNOWN = "unknown"

# From a fast in-process read to a slow write on a remote PostgreSQL.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def status_class(status: int) -> str:
    return f"{status // 100}xx"


class Metrics:
    """The figures of one server process, in their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "sagemaker_images_requests",
            "API calls answered, by API, operation and outcome (status class and AWS error code).",
            ["api", "operation", "status_class", "error_code"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "sagemaker_images_request_duration_seconds",
            "Time from the first byte of a request to its answer, by API and operation.",
            ["api", "operation"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        # Changed on the event loop only (where calls are answered); read when scraped.
        self.in_flight = 0
        Gauge(
            "sagemaker_images_requests_in_flight",
            "API calls being answered now.",
            registry=self.registry,
        ).set_function(lambda: self.in_flight)
        # The labelled children of one call's outcome, looked up once per kind of outcome: the labels
        # are bounded (see above), and ``labels()`` takes a lock and builds its key on every call.
        self._children: dict[tuple[str, str, int, str], tuple[Any, Any]] = {}

    def observe(self, api: str, operation: str, status: int, error_code: str, seconds: float) -> None:
        key = (api, operation, status, error_code)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (
                self.requests.labels(api, operation, status_class(status), error_code),
                self.latency.labels(api, operation),
            )
        requests, latency = children
        requests.inc()
        latency.observe(seconds)

    def watch_database(self, database: Database, cloudcontrol_counts: Callable[[], dict[str, int]]) -> None:
        self.registry.register(_StoreCollector(database, cloudcontrol_counts))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class _StoreCollector(Collector):
    """Read at scrape time: the connection pool, group commit, and Cloud Control requests by status."""

    def __init__(self, database: Database, cloudcontrol_counts: Callable[[], dict[str, int]]) -> None:
        self.database = database
        self.cloudcontrol_counts = cloudcontrol_counts

    def describe(self) -> list[GaugeMetricFamily]:
        # Families are only known once collected; describing none keeps registration free of queries.
        return []

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        pool = self.database.pool_figures()
        family = GaugeMetricFamily(
            "sagemaker_images_db_pool_connections",
            "Database connections of this process's pool, by state.",
            labels=["state"],
        )
        for state, count in pool.items():
            family.add_metric([state], count)
        yield family
        group = self.database.group_commit
        if group is not None:
            yield _counter(
                "sagemaker_images_group_commits", "SQLite COMMITs of grouped writes.", group.commits
            )
            yield _counter(
                "sagemaker_images_group_commit_writes",
                "Write transactions committed by group commits (writes / commits = mean group size).",
                group.committed_writes,
            )
            yield _counter(
                "sagemaker_images_group_commit_failures", "Group COMMITs that failed.", group.failed_commits
            )
            yield GaugeMetricFamily(
                "sagemaker_images_group_commit_largest",
                "The most writes one COMMIT has carried since start.",
                value=group.largest_group,
            )
        try:
            counts = self.cloudcontrol_counts()
        except Exception:
            # The database may be down: the process's own figures are still worth scraping.
            log.debug("Cloud Control request counts unavailable", exc_info=True)
            return
        requests = GaugeMetricFamily(
            "sagemaker_images_cloudcontrol_requests",
            "Cloud Control resource requests stored now, by OperationStatus.",
            labels=["status"],
        )
        for status, count in sorted(counts.items()):
            requests.add_metric([status], count)
        yield requests


def _counter(name: str, documentation: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, documentation, value=value)
