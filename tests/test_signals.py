"""Operators' signals: ``GET /metrics`` (parsed with prometheus_client's own parser), JSON access logs,
and readiness (``/_ready`` fails while the database is unreachable; ``/_health`` keeps its meaning)."""

from __future__ import annotations

import http.client
import json
import os
import time
import uuid

import pytest
from botocore.exceptions import ClientError
from prometheus_client.parser import text_string_to_metric_families

from tests.calls import FAST_WAITER
from tests.conftest import client_for, new_account
from tests.servers import ServerProcess, fresh_postgres_database, postgres_available
from tests.test_faults import TcpProxy

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(server: ServerProcess) -> tuple[Samples, dict[str, str]]:
    """Every sample of /metrics by (name, sorted labels), and each family's type."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request("GET", "/metrics")
    response = conn.getresponse()
    text = response.read().decode()
    conn.close()
    assert response.status == 200
    assert response.getheader("content-type").startswith("text/plain; version=0.0.4")
    samples: Samples = {}
    types = {}
    for family in text_string_to_metric_families(text):
        types[family.name] = family.type
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples, types


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def requests_total(samples: Samples, operation: str, status_class: str, error_code: str = "") -> float:
    return value(
        samples,
        "sagemaker_images_requests_total",
        api="SageMaker",
        operation=operation,
        status_class=status_class,
        error_code=error_code,
    )


def test_request_counters_and_latency_move_with_calls(server, sagemaker, role_arn):
    before, types = scrape(server)
    assert types["sagemaker_images_requests"] == "counter"
    assert types["sagemaker_images_request_duration_seconds"] == "histogram"
    assert types["sagemaker_images_requests_in_flight"] == "gauge"
    name = f"m-{uuid.uuid4().hex[:10]}"
    sagemaker.create_image(ImageName=name, RoleArn=role_arn)
    for _ in range(3):
        sagemaker.describe_image(ImageName=name)
    with pytest.raises(ClientError):
        sagemaker.describe_image(ImageName=f"{name}-missing")
    with pytest.raises(ClientError):
        sagemaker.create_image(ImageName="bad_name", RoleArn=role_arn)
    after, _ = scrape(server)

    def delta(operation: str, status_class: str, error_code: str = "") -> float:
        return requests_total(after, operation, status_class, error_code) - requests_total(
            before, operation, status_class, error_code
        )

    assert delta("CreateImage", "2xx") == 1
    assert delta("DescribeImage", "2xx") == 3
    assert delta("DescribeImage", "4xx", "ResourceNotFound") == 1
    assert delta("CreateImage", "4xx", "ValidationException") == 1
    count = "sagemaker_images_request_duration_seconds_count"
    assert value(after, count, api="SageMaker", operation="DescribeImage") - value(
        before, count, api="SageMaker", operation="DescribeImage"
    ) == pytest.approx(4)
    # Buckets are cumulative: +Inf holds every observation.
    bucket = value(
        after,
        "sagemaker_images_request_duration_seconds_bucket",
        api="SageMaker",
        operation="DescribeImage",
        le="+Inf",
    )
    assert bucket == value(after, count, api="SageMaker", operation="DescribeImage")
    assert value(after, "sagemaker_images_requests_in_flight") == 0  # the scrape is no API call


def test_labels_stay_low_cardinality_whatever_the_caller_sends(server):
    secret = f"Evil{uuid.uuid4().hex}"
    account = new_account()
    for target in (f"SageMaker.{secret}", f"{secret}.ListImages", secret):
        status, _ = server.request(
            "POST",
            "/",
            b"{}",
            {
                "X-Amz-Target": target,
                "Content-Type": "application/x-amz-json-1.1",
                "Authorization": f"AWS4-HMAC-SHA256 Credential={account}/20260101/us-east-1/sagemaker/aws4_request",
            },
        )
        assert status in (400, 404)
    server.request("GET", f"/{secret}")
    samples, _ = scrape(server)
    text = json.dumps([list(key) for key in samples])
    assert secret not in text and account not in text
    # An operation the API does not have is "unknown"; so is an API this server does not serve.
    assert requests_total(samples, "unknown", "4xx", "UnknownOperationException") >= 1
    unknown_api = value(
        samples,
        "sagemaker_images_requests_total",
        api="unknown",
        operation="unknown",
        status_class="4xx",
        error_code="UnknownOperationException",
    )
    assert unknown_api >= 3  # two bad targets and GET /<secret>


def test_cloudcontrol_requests_by_status_and_store_figures(server, account, role_arn, backend):
    cloudcontrol = client_for(server.endpoint, account, "cloudcontrol")
    before, _ = scrape(server)
    event = cloudcontrol.create_resource(
        TypeName="AWS::SageMaker::Image",
        DesiredState=json.dumps({"ImageName": f"cc-{uuid.uuid4().hex[:8]}", "ImageRoleArn": role_arn}),
    )["ProgressEvent"]
    cloudcontrol.get_waiter("resource_request_success").wait(
        RequestToken=event["RequestToken"], WaiterConfig=FAST_WAITER
    )
    after, _ = scrape(server)
    success = "sagemaker_images_cloudcontrol_requests"
    assert value(after, success, status="SUCCESS") == value(before, success, status="SUCCESS") + 1
    cc_calls = value(
        after,
        "sagemaker_images_requests_total",
        api="CloudControl",
        operation="CreateResource",
        status_class="2xx",
        error_code="",
    )
    assert cc_calls >= 1
    assert value(after, "sagemaker_images_db_pool_connections", state="size") >= 1
    assert ("sagemaker_images_db_pool_connections", (("state", "checked_out"),)) in after
    if backend == "sqlite":
        # Every write commits through group commit: commits and writes only grow, each COMMIT >= 1 write.
        commits = value(after, "sagemaker_images_group_commits_total")
        writes = value(after, "sagemaker_images_group_commit_writes_total")
        assert commits > value(before, "sagemaker_images_group_commits_total")
        assert writes >= commits
        assert value(after, "sagemaker_images_group_commit_largest") >= 1
    else:
        assert not any(name.startswith("sagemaker_images_group_commit") for name, _ in after)


def test_json_access_log_has_one_record_per_call(start_server, artifacts, account, role_arn):
    log = artifacts / "own.log"
    offset = log.stat().st_size if log.exists() else 0
    server = start_server("--log-format", "json")
    sagemaker = client_for(server.endpoint, account, region="eu-west-1")
    name = f"log-{uuid.uuid4().hex[:8]}"
    created = sagemaker.create_image(ImageName=name, RoleArn=role_arn)
    with pytest.raises(ClientError) as missing:
        sagemaker.describe_image(ImageName=f"{name}-missing")
    server.stop()
    lines = [line for line in log.read_text()[offset:].splitlines() if line.strip()]
    # Every line is JSON, the start-up and shutdown lines too.
    records = [json.loads(line) for line in lines]
    by_id = {r.get("request_id"): r for r in records if r.get("logger") == "sagemaker_images.access"}
    ok = by_id[created["ResponseMetadata"]["RequestId"]]
    assert ok["api"] == "SageMaker" and ok["operation"] == "CreateImage"
    assert (ok["account"], ok["region"], ok["status"], ok["error_code"]) == (account, "eu-west-1", 200, None)
    assert ok["duration_ms"] > 0 and ok["time"].endswith("+00:00")
    failed = by_id[missing.value.response["ResponseMetadata"]["RequestId"]]
    assert (failed["operation"], failed["status"], failed["error_code"]) == (
        "DescribeImage",
        400,
        "ResourceNotFound",
    )
    assert any("listening on" in r["message"] for r in records)


def test_text_logs_stay_the_default_without_access_records(start_server, artifacts, account, role_arn):
    log = artifacts / "own.log"
    offset = log.stat().st_size if log.exists() else 0
    server = start_server()
    client_for(server.endpoint, account).create_image(ImageName="quiet", RoleArn=role_arn)
    server.stop()
    text = log.read_text()[offset:]
    assert "listening on" in text
    assert "CreateImage" not in text and not any(line.startswith("{") for line in text.splitlines())


def test_ready_answers_once_the_database_does(server):
    status, body = server.request("GET", "/_ready")
    assert (status, body["status"], body["database"]) == (200, "ok", "ok")
    assert server.request("GET", "/_health")[0] == 200


@pytest.mark.postgres
def test_ready_fails_while_the_database_is_unreachable_and_health_does_not(tmp_path):
    reason = postgres_available()
    if reason is not None:
        if os.environ.get("SAGEMAKER_IMAGES_REQUIRE_POSTGRES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    with fresh_postgres_database() as url:
        host_part, database = url.rsplit("/", 1)
        proxy = TcpProxy(int(host_part.rsplit(":", 1)[1]))
        proxied = f"{host_part.rsplit(':', 1)[0]}:{proxy.port}/{database}"
        server = ServerProcess(proxied, log_path=tmp_path / "server.log").start()
        try:
            assert server.request("GET", "/_ready")[0] == 200
            proxy.cut()
            status, body = server.request("GET", "/_ready")
            assert (status, body["status"], body["database"]) == (503, "unavailable", "unreachable")
            assert server.request("GET", "/_health") == (200, {"status": "ok", "version": body["version"]})
            # Metrics still answer: the process's own figures do not need the database.
            samples, _ = scrape(server)
            assert ("sagemaker_images_requests_in_flight", ()) in samples
            proxy.restore()
            deadline = time.monotonic() + 30
            while server.request("GET", "/_ready")[0] != 200:
                assert time.monotonic() < deadline, "readiness did not come back"
                time.sleep(0.2)
        finally:
            server.stop()
            proxy.close()


def test_sts_calls_are_counted(server, account):
    before, _ = scrape(server)
    sts = client_for(server.endpoint, account, "sts")
    assert sts.get_caller_identity()["Account"] == account
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    conn.request("POST", "/", b"Action=AssumeRole&Version=2011-06-15", form)
    response = conn.getresponse()
    assert (response.status, b"<Code>InvalidAction</Code>" in response.read()) == (400, True)
    conn.close()
    after, _ = scrape(server)
    name = "sagemaker_images_requests_total"
    ok = {"api": "STS", "operation": "GetCallerIdentity", "status_class": "2xx", "error_code": ""}
    bad = {"api": "STS", "operation": "unknown", "status_class": "4xx", "error_code": "InvalidAction"}
    assert value(after, name, **ok) == value(before, name, **ok) + 1
    assert value(after, name, **bad) == value(before, name, **bad) + 1
