"""Mutation fuzzing: valid requests, mutated the way attackers and careless clients mutate them.

The model-driven fuzzer (test_fuzz.py) generates inputs from the shapes, i.e. the way the code
already expects them. This one starts from requests that work — the realistic variants of every
operation (tests/model_variants.py) and the requests real clients sent in a recorded flow (boto3's
SageMaker and Cloud Control clients, paginators included, so real NextTokens) — and mutates them:

- structurally, at every member path and inside JSON carried by string members (DesiredState,
  PatchDocument, ResourceModel, JSON identifiers): numbers at 2^31, 2^63, 2^64 and 10^400, NUL
  characters and lone surrogates in strings, nesting a thousand levels deep (as JSON and inside
  strings), wrong types, empty and very long strings; every JSON Patch op on every path including
  ``""``; and, for every listing, forged tokens (wrong types, huge numbers, deep nesting, garbage),
  altered real tokens and real tokens of another account or listing;
- byte-wise, on the encoded body: flipped, inserted and deleted bytes, truncation, duplication.

Mutated requests run in sequence on one server per backend and auth mode (``--auth none`` and
``--auth sigv4``, every request correctly signed so it reaches the code behind the signature), and
state builds up as they go. Every answer must be a 200 or an AWS-shaped 4xx: a JSON body of exactly
``__type`` and ``message``, the API's content type, no internal detail, and nothing of another
tenant (a bystander account's resource names never appear). Afterwards the store is consistent
(tests/store_checks.py) and the server's log holds no traceback. Inputs tried per operation are
printed (and written to $SAGEMAKER_IMAGES_REPORT_DIR/mutation-fuzz.txt).

SAGEMAKER_IMAGES_MUTATIONS sets the mutations per operation and server (default 8; the ``long``
test runs 100, SAGEMAKER_IMAGES_LONG_MUTATIONS); SAGEMAKER_IMAGES_FUZZ_SEED varies the run.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import random
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import orjson
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from sagemaker_images.cloudcontrol.service import OPERATIONS as CLOUDCONTROL_OPERATIONS
from sagemaker_images.services import SAGEMAKER_OPERATIONS
from sagemaker_images.shapes.model import load_service
from tests.calls import FAST_WAITER
from tests.model_variants import ACCEPTED, Generator, output_problems
from tests.servers import ServerProcess, fresh_postgres_database, postgres_available
from tests.store_checks import inconsistencies

ACCOUNT, BYSTANDER = "246813579024", "135792468013"
KEYS = {
    "AKIDFUZZER": {"secret": "fuzzer-secret", "account": ACCOUNT},
    "AKIDBYSTANDER": {"secret": "bystander-secret", "account": BYSTANDER},
}
API = {
    "sagemaker": ("SageMaker", "application/x-amz-json-1.1", "sagemaker"),
    "cloudcontrol": ("CloudApiService", "application/x-amz-json-1.0", "cloudcontrolapi"),
}
OPERATIONS = [("sagemaker", op) for op in SAGEMAKER_OPERATIONS] + [
    ("cloudcontrol", op) for op in CLOUDCONTROL_OPERATIONS
]
LEAKS = ("Traceback", 'File "', "sqlalchemy", "psycopg", "sqlite3", "/src/", "NoneType", "KeyError", "Errno")
SECRET_NAME = "bystander-secret-image"  # a bystander's image: its name must never reach the fuzzer
JSON_MEMBERS = {"DesiredState", "PatchDocument", "ResourceModel", "Properties", "Identifier"}
LISTINGS = {
    "ListImages",
    "ListImageVersions",
    "ListAliases",
    "ListTags",
    "ListResources",
    "ListResourceRequests",
    "ListAppImageConfigs",
}


class Raw:
    """JSON text put into a body as is (what json.dumps cannot write: 10^400 as a float, deep nesting)."""

    def __init__(self, text: str) -> None:
        self.text = text


DEEP_LIST = Raw("[" * 1000 + "]" * 1000)
DEEP_OBJECT = Raw('{"a":' * 1000 + "1" + "}" * 1000)
NUMBERS: list[Any] = [
    2**31 - 1,
    2**31,
    -(2**31) - 1,
    2**63 - 1,
    2**63,
    -(2**63) - 1,
    2**64,
    Raw("1" + "0" * 400),
    Raw("-1" + "0" * 400),
    Raw("1e400"),
    1e308,
    0.5,
    -1,
    0,
]
STRINGS: list[Any] = [
    "",
    "\x00",
    "a\x00b",
    "\ud800",
    "x\udfffy",
    "\udbff\udfff",  # a valid pair, written as two escapes
    "\U0001f600",
    "x" * 10_000,
    "[" * 2000 + "]" * 2000,
    '{"a":' * 1500 + "1" + "}" * 1500,
    "{" * 5,
    "' OR 1=1 --",
    "../../etc/passwd",
    "%00%ff",
    "\\",
    "\n\r\t",
]
OTHERS: list[Any] = [None, True, False, [], {}, [None], {"": None}, DEEP_LIST, DEEP_OBJECT]
HOSTILE = NUMBERS + STRINGS + OTHERS
PATCH_PATHS = [
    "",
    "/",
    "/ImageName",
    "/ImageRoleArn",
    "/ImageDescription",
    "/ImageDisplayName",
    "/ImageArn",
    "/Tags",
    "/Tags/0",
    "/Tags/-",
    "/Tags/0/Key",
    "/Tags/99",
    "/BaseImage",
    "/Version",
    "/Aliases/0",
    "/\udfff",
    "/a~2b",
    "/a~1b",
    "/x/y/z",
    "ImageName",
]
PATCH_OPS = ["add", "remove", "replace", "move", "copy", "test", "nope", None]


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


FORGED_TOKENS = [
    _b64(b'["ListImages/CREATION_TIME/DESCENDING", 1795488839.463, 18]'),
    _b64(b'["x", "y", [1], {"a": 2}]'),
    _b64(b"[" + b"9" * 400 + b", 1]"),
    _b64(b"[18446744073709551616, 9223372036854775808]"),
    _b64(b"[" * 3000 + b"]" * 3000),
    _b64(b'{"a":' * 2000 + b"1" + b"}" * 2000),
    _b64(b"\x01" + os.urandom(60)),
    _b64(b"\x00" * 64),
    "bm90LWEtdG9rZW4=",
    "!!!!",
    "====",
    "A" * 3000,
    "9" * 400,
    "\x00",
    "\ud800",
]


# -- encoding and sending ---------------------------------------------------------------------------


def encode(value: Any) -> bytes:
    """JSON as a client might write it: escapes for lone surrogates, Raw text spliced in."""
    raws: list[str] = []

    def placeholders(item: Any) -> Any:
        if isinstance(item, Raw):
            raws.append(item.text)
            return f"\x01RAW{len(raws) - 1}\x01"
        if isinstance(item, dict):
            return {k: placeholders(v) for k, v in item.items()}
        if isinstance(item, list):
            return [placeholders(v) for v in item]
        return item

    text = json.dumps(placeholders(value))
    for index, raw in enumerate(raws):
        text = text.replace(f'"\\u0001RAW{index}\\u0001"', raw)
    return text.encode()


class Target:
    """A server under fuzz: where it is, how requests are signed, what was tried."""

    def __init__(self, server: ServerProcess, auth: str, label: str) -> None:
        self.server, self.auth, self.label = server, auth, label
        self.tried: Counter[str] = Counter()

    def headers(self, service: str, operation: str, raw: bytes, account: str = ACCOUNT) -> dict[str, str]:
        prefix, content_type, signing = API[service]
        headers = {"Content-Type": content_type, "X-Amz-Target": f"{prefix}.{operation}"}
        if self.auth == "none":
            headers["Authorization"] = (
                f"AWS4-HMAC-SHA256 Credential={account}/20261124/us-east-1/{signing}/aws4_request, "
                "SignedHeaders=host, Signature=" + "0" * 64
            )
            return headers
        key = "AKIDFUZZER" if account == ACCOUNT else "AKIDBYSTANDER"
        request = AWSRequest(method="POST", url=self.server.endpoint + "/", data=raw, headers=headers)
        SigV4Auth(Credentials(key, KEYS[key]["secret"]), signing, "us-east-1").add_auth(request)
        return dict(request.headers.items())

    def send(self, service: str, operation: str, raw: bytes, account: str = ACCOUNT) -> tuple[int, Any]:
        self.tried[f"{service}.{operation}"] += 1
        return self.server.request("POST", "/", raw, self.headers(service, operation, raw, account))

    def client(self, service: str, account: str = ACCOUNT):
        key = "AKIDFUZZER" if account == ACCOUNT else "AKIDBYSTANDER"
        return boto3.client(
            service,
            endpoint_url=self.server.endpoint,
            region_name="us-east-1",
            aws_access_key_id=key if self.auth == "sigv4" else account,
            aws_secret_access_key=KEYS[key]["secret"],
            config=Config(retries={"max_attempts": 1, "mode": "standard"}),
        )


def check(target: Target, service: str, operation: str, raw: bytes, status: int, body: Any) -> None:
    """The contract every answer keeps, whatever was sent."""
    where = f"{target.label} {service}.{operation} <- {raw[:200]!r}"
    assert status < 500, f"{where}: HTTP {status} {body}"
    assert isinstance(body, dict), f"{where}: {body!r}"
    text = orjson.dumps(body).decode()
    assert SECRET_NAME not in text, f"{where}: another tenant's resource in the answer: {text[:300]}"
    assert BYSTANDER not in text or BYSTANDER.encode() in raw, f"{where}: another account in the answer"
    if status == 200:
        shape = load_service(service).operation_model(operation).output_shape
        assert output_problems(shape, body) == [], f"{where}: {output_problems(shape, body)}"
        return
    assert set(body) == {"__type", "message", "Message"}, f"{where}: {body}"
    assert isinstance(body["__type"], str) and body["__type"], where
    assert isinstance(body["message"], str), where
    assert not any(leak in body["message"] for leak in LEAKS), f"{where}: {body}"
    content_type = target.server.last_headers.get("content-type", "")
    assert content_type == API[service][1], f"{where}: content type {content_type}"


# -- seeds: realistic variants and a recorded client flow -------------------------------------------


def recorded_flow(target: Target, account: str, prefix: str) -> list[tuple[str, str, bytes]]:
    """Requests real clients send (boto3, waiters and paginators), recorded as they went out."""
    recorded: list[tuple[str, str, bytes]] = []

    def record(request, **_: Any) -> None:
        operation = request.headers.get("X-Amz-Target", b"")
        operation = operation.decode() if isinstance(operation, bytes) else operation
        prefix_, _, name = operation.rpartition(".")
        service = "sagemaker" if prefix_ == "SageMaker" else "cloudcontrol"
        body = request.body if isinstance(request.body, bytes) else (request.body or "").encode()
        recorded.append((service, name, body))

    sagemaker = target.client("sagemaker", account)
    cloudcontrol = target.client("cloudcontrol", account)
    for client in (sagemaker, cloudcontrol):
        client.meta.events.register("before-send", record)
    role = f"arn:aws:iam::{account}:role/FlowRole"
    name = f"{prefix}-flow"
    sagemaker.create_image(
        ImageName=name, RoleArn=role, Description="flow", Tags=[{"Key": "k", "Value": "v"}]
    )
    sagemaker.create_image(ImageName=f"{prefix}-flow-2", RoleArn=role)
    for index in range(3):
        sagemaker.create_image_version(
            ImageName=name, BaseImage=f"repo/flow:{index}", Aliases=[f"alias-{index}"]
        )
    sagemaker.update_image(ImageName=name, Description="updated", DisplayName="Flow")
    sagemaker.update_image_version(ImageName=name, Version=1, AliasesToAdd=["extra"], ReleaseNotes="notes")
    for paginator, kwargs in (
        ("list_images", {}),
        ("list_image_versions", {"ImageName": name}),
        ("list_aliases", {"ImageName": name}),
    ):
        for _ in sagemaker.get_paginator(paginator).paginate(**kwargs, PaginationConfig={"PageSize": 1}):
            pass
    arn = sagemaker.describe_image(ImageName=name)["ImageArn"]
    sagemaker.describe_image_version(ImageName=name, Alias="alias-1")
    sagemaker.add_tags(ResourceArn=arn, Tags=[{"Key": "team", "Value": "ml"}])
    sagemaker.list_tags(ResourceArn=arn)
    sagemaker.delete_tags(ResourceArn=arn, TagKeys=["team"])
    for index in range(2):
        sagemaker.create_app_image_config(
            AppImageConfigName=f"{prefix}-config-{index}",
            KernelGatewayImageConfig={"KernelSpecs": [{"Name": "python3", "DisplayName": "Python 3"}]},
        )
    for _ in sagemaker.get_paginator("list_app_image_configs").paginate(PaginationConfig={"PageSize": 1}):
        pass
    sagemaker.describe_app_image_config(AppImageConfigName=f"{prefix}-config-0")
    desired = json.dumps(
        {"ImageName": f"{prefix}-cc", "ImageRoleArn": role, "Tags": [{"Key": "a", "Value": "b"}]}
    )
    event = cloudcontrol.create_resource(TypeName="AWS::SageMaker::Image", DesiredState=desired)[
        "ProgressEvent"
    ]
    cloudcontrol.get_waiter("resource_request_success").wait(
        RequestToken=event["RequestToken"], WaiterConfig=FAST_WAITER
    )
    cc_arn = f"arn:aws:sagemaker:us-east-1:{account}:image/{prefix}-cc"
    cloudcontrol.get_resource(TypeName="AWS::SageMaker::Image", Identifier=cc_arn)
    patch = json.dumps([{"op": "add", "path": "/ImageDescription", "value": "patched"}])
    cloudcontrol.update_resource(TypeName="AWS::SageMaker::Image", Identifier=cc_arn, PatchDocument=patch)
    model = json.dumps({"ImageName": name})
    cloudcontrol.list_resources(TypeName="AWS::SageMaker::ImageVersion", ResourceModel=model)
    cloudcontrol.list_resources(TypeName="AWS::SageMaker::Image")
    for _ in cloudcontrol.get_paginator("list_resource_requests").paginate(PaginationConfig={"PageSize": 1}):
        pass
    cloudcontrol.get_resource(TypeName="AWS::SageMaker::Image", Identifier=json.dumps({"ImageName": name}))
    version_arn = f"arn:aws:sagemaker:us-east-1:{account}:image-version/{name}/1"
    cloudcontrol.get_resource(TypeName="AWS::SageMaker::ImageVersion", Identifier=version_arn)
    return recorded


def seeds(target: Target) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Valid requests per operation: the recorded flow's and the realistic variants'."""
    found: dict[tuple[str, str], list[dict[str, Any]]] = {case: [] for case in OPERATIONS}
    for service, operation, body in recorded_flow(target, ACCOUNT, "fuzz"):
        if (service, operation) in found and body:
            found[(service, operation)].append(orjson.loads(body))
    status, answer = target.send("cloudcontrol", "ListResourceRequests", b"{}")
    token = answer["ResourceRequestStatusSummaries"][0]["RequestToken"] if status == 200 else "0" * 36
    context = {"account": ACCOUNT, "token": token}
    for service, operation in OPERATIONS:
        model = load_service(service).operation_model(operation)
        for variant in Generator(service, model, context).variants():
            if variant.expect == ACCEPTED:
                found[(service, operation)].append(variant.request)
    return found


def foreign_tokens(target: Target) -> list[str]:
    """Real NextTokens the fuzzing account must not be able to use: the bystander's, of every listing."""
    tokens = []
    for _service, operation, body in recorded_flow(target, BYSTANDER, "bystander"):
        if operation in LISTINGS:
            request = orjson.loads(body) if body else {}
            if request.get("NextToken"):
                tokens.append(request["NextToken"])
    assert tokens, "the bystander's flow turned pages"
    return tokens


# -- mutations ------------------------------------------------------------------------------------------


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from paths(item, (*prefix, index))


def replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: replaced(value[head], rest, new)}
    copy = list(value)
    copy[head] = replaced(copy[head], rest, new)
    return copy


def hostile_string(rng: random.Random, original: str) -> str:
    choice = rng.randrange(5)
    where = rng.randrange(len(original) + 1)
    if choice == 0:
        return original[:where] + "\x00" + original[where:]
    if choice == 1:
        return original[:where] + rng.choice(["\ud800", "\udfff", "\udbff"]) + original[where:]
    if choice == 2:
        return original + "[" * 1200
    if choice == 3:
        return original * 50
    return rng.choice([s for s in STRINGS if isinstance(s, str)])


def mutate_json_text(rng: random.Random, text: str, member: str) -> str:
    """Mutate JSON carried in a string member, inside the document."""
    try:
        document = json.loads(text)
    except ValueError:
        return hostile_string(rng, text)
    if member == "PatchDocument" and rng.random() < 0.6:
        operation: dict[str, Any] = {"op": rng.choice(PATCH_OPS), "path": rng.choice(PATCH_PATHS)}
        if rng.random() < 0.5:
            operation["from"] = rng.choice(PATCH_PATHS)
        if rng.random() < 0.8:
            operation["value"] = rng.choice([*HOSTILE, f"arn:aws:iam::{BYSTANDER}:role/Other", "fine"])
        document = [operation] if not isinstance(document, list) else [*document, operation]
    else:
        path = rng.choice(list(paths(document)))
        new = rng.choice(HOSTILE)
        if path and isinstance(new, str) and rng.random() < 0.5:
            new = hostile_string(rng, str(new))
        document = replaced(document, path, new)
    return encode(document).decode()


def mutate(rng: random.Random, request: dict[str, Any], operation: str, tokens: list[str]) -> bytes:
    """One mutation of a valid request, as the bytes to send."""
    kind = rng.randrange(10)
    if operation in LISTINGS and kind < 2:
        token = rng.choice([*FORGED_TOKENS, *tokens])
        if kind == 1 and tokens:
            raw = bytearray(base64.b64decode(rng.choice(tokens)))
            raw[rng.randrange(len(raw))] ^= 1 << rng.randrange(8)
            token = base64.b64encode(bytes(raw)).decode()
        return encode({**request, "NextToken": token})
    if kind < 6:
        targets = [p for p in paths(request) if p]
        if not targets:
            return encode(
                {
                    **request,
                    rng.choice(["MaxResults", "Version", "NextToken", "Identifier"]): rng.choice(HOSTILE),
                }
            )
        path = rng.choice(targets)
        current = request
        for step in path:
            current = current[step]
        if isinstance(current, str) and path[-1] in JSON_MEMBERS and rng.random() < 0.7:
            return encode(replaced(request, path, mutate_json_text(rng, current, path[-1])))
        if isinstance(current, str) and rng.random() < 0.5:
            return encode(replaced(request, path, hostile_string(rng, current)))
        return encode(replaced(request, path, rng.choice(HOSTILE)))
    raw = bytearray(encode(request))
    choice = rng.randrange(5)
    where = rng.randrange(len(raw) + 1)
    if choice == 0 and raw:
        raw[min(where, len(raw) - 1)] ^= 1 << rng.randrange(8)
    elif choice == 1:
        raw[where:where] = bytes([rng.choice([0, 0xFF, 0xC0, 0xED, ord('"'), ord("\\"), ord("{"), ord("[")])])
    elif choice == 2 and raw:
        del raw[min(where, len(raw) - 1)]
    elif choice == 3:
        del raw[where:]
    else:
        raw[where:where] = raw[: rng.randrange(len(raw) + 1)]
    return bytes(raw)


# Tracebacks the Cloud Control request worker logs for a handler step that raised. The request ends
# FAILED with InternalFailure (an answer, not a crash); which requests may get there is the worker's
# own contract (docs/reliability.md), so they are counted and shown, not failed on.
WORKER_FAILURE = "failed in its handler"


def crashes(log_path: Path) -> list[str]:
    """Tracebacks in the server's log, except the worker's handler failures (printed)."""
    text = log_path.read_text(errors="replace")
    found, worker = [], 0
    for block in text.split("Traceback (most recent call last):")[1:]:
        head = text[: text.index(block)].rsplit("\n", 3)[-3:]
        if any(WORKER_FAILURE in line for line in head):
            worker += 1
        else:
            found.append(block[:2000])
    if worker:
        print(f"{log_path}: {worker} Cloud Control handler failure(s) logged by the request worker")
    return found


# -- the servers --------------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite-none", "sqlite-sigv4", "postgres-none", "postgres-sigv4"])
def target(request, tmp_path_factory) -> Iterator[tuple[Target, str, Path]]:
    backend, auth = request.param.split("-")
    path = tmp_path_factory.mktemp(f"mutation-{request.param}")
    args: list[str] = []
    if auth == "sigv4":
        (path / "keys.json").write_text(json.dumps({"keys": KEYS}))
        args = ["--auth", "sigv4", "--credentials", str(path / "keys.json")]
    with contextlib.ExitStack() as stack:
        if backend == "postgres":
            if postgres_available() is not None:
                if os.environ.get("SAGEMAKER_IMAGES_REQUIRE_POSTGRES") == "1":
                    pytest.fail("PostgreSQL is required here")
                pytest.skip("PostgreSQL is not reachable")
            url = stack.enter_context(fresh_postgres_database())
        else:
            url = f"sqlite:///{path / 'state.db'}"
        server = stack.enter_context(ServerProcess(url, *args, log_path=path / "server.log"))
        yield Target(server, auth, request.param), url, path


def run_mutations(target: Target, url: str, path: Path, per_operation: int) -> None:
    seed = int(os.environ.get("SAGEMAKER_IMAGES_FUZZ_SEED", "20261124"))
    rng = random.Random(f"{seed}-{target.label}")
    # A bystander with resources and real tokens of its own, which the fuzzing account must never see.
    bystander = target.client("sagemaker", BYSTANDER)
    bystander.create_image(ImageName=SECRET_NAME, RoleArn=f"arn:aws:iam::{BYSTANDER}:role/R")
    tokens = foreign_tokens(target)
    found = seeds(target)
    for (service, operation), requests in found.items():
        assert requests, f"no valid request of {service}.{operation} to start from"
        for _ in range(per_operation):
            # Stateful: valid requests run between mutations, so state grows and changes as it goes.
            valid = rng.choice(requests)
            raw = encode(valid)
            status, body = target.send(service, operation, raw)
            check(target, service, operation, raw, status, body)
            raw = mutate(rng, valid, operation, tokens)
            status, body = target.send(service, operation, raw)
            check(target, service, operation, raw, status, body)
    # Still answering, still consistent, nothing logged as a crash.
    assert target.server.request("GET", "/_health")[0] == 200
    for operation, body in (("ListImages", {"MaxResults": 100}),):
        status, answer = target.send("sagemaker", operation, encode(body))
        assert status == 200, answer
    assert inconsistencies(url) == []
    assert not crashes(path / "server.log")
    lines = [f"{target.label:15} {name:40} {count:6}" for name, count in sorted(target.tried.items())]
    summary = (
        f"mutation fuzz {target.label}: {sum(target.tried.values())} inputs, {len(target.tried)} operations"
    )
    print("\n".join([summary, *lines]))
    report_dir = os.environ.get("SAGEMAKER_IMAGES_REPORT_DIR")
    if report_dir:
        with open(Path(report_dir) / "mutation-fuzz.txt", "a") as report:
            report.write("\n".join([summary, *lines]) + "\n")


def test_mutated_requests_get_aws_answers(target):
    server, url, path = target
    run_mutations(server, url, path, int(os.environ.get("SAGEMAKER_IMAGES_MUTATIONS", "8")))


@pytest.mark.long
def test_mutated_requests_get_aws_answers_at_length(target):
    server, url, path = target
    run_mutations(server, url, path, int(os.environ.get("SAGEMAKER_IMAGES_LONG_MUTATIONS", "100")))


def test_the_recorded_flow_is_replayable():
    """The seeds' encoder writes what json.loads reads back (Raw text aside)."""
    value = {"a": [1, "\ud800", {"b": 2**64}], "c": Raw("1e400")}
    assert encode(value) == b'{"a": [1, "\\ud800", {"b": 18446744073709551616}], "c": 1e400}'
    assert uuid.UUID(str(uuid.uuid4()))
