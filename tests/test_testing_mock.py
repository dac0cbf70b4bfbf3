"""The in-process mock: real boto3 clients, answered by the server's own application without a socket."""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
import unittest
from pathlib import Path

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.exceptions import ClientError, NoCredentialsError
from moto import mock_aws

from sagemaker_images.testing import mock_sagemaker_images
from tests.calls import wait_until

ROLE = "arn:aws:iam::000000000000:role/SageMakerRole"


@pytest.fixture
def bare_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No AWS credentials or region anywhere: no variables, no files."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)


class Recorder:
    """A before-send handler that answers with a fixed body, and remembers what it saw."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, request, event_name: str, **kwargs) -> AWSResponse:
        self.seen.append(event_name.rsplit(".", 1)[-1])
        return AWSResponse(request.url, 200, {}, _Raw(b"{}"))


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **kwargs):
        yield self.body


def test_no_credentials_or_region_needed_and_environment_restored(bare_environment: None) -> None:
    with mock_sagemaker_images():
        sm = boto3.client("sagemaker")
        sm.create_image(ImageName="plain", RoleArn=ROLE)
        image = sm.describe_image(ImageName="plain")
        assert image["ImageStatus"] == "CREATED"
        assert image["ImageArn"] == "arn:aws:sagemaker:us-east-1:000000000000:image/plain"
    assert "AWS_ACCESS_KEY_ID" not in os.environ
    assert "AWS_DEFAULT_REGION" not in os.environ
    with pytest.raises(NoCredentialsError):
        boto3.client("sagemaker", region_name="us-east-1").describe_image(ImageName="plain")


def test_each_context_has_a_new_default_session_over_one_model_loader(bare_environment: None) -> None:
    sessions = []
    for _ in range(3):
        with mock_sagemaker_images():
            boto3.client("sagemaker").list_images()
            sessions.append(boto3.DEFAULT_SESSION)
    # New credentials and region each time, but SageMaker's model is parsed once per process.
    assert len({id(session) for session in sessions}) == 3
    loaders = {id(session._session.get_component("data_loader")) for session in sessions}
    assert len(loaders) == 1
    paths = sessions[-1]._session.get_component("data_loader").search_paths
    assert len(paths) == len(set(paths))


def test_regions_and_numeric_access_keys_are_tenants() -> None:
    with mock_sagemaker_images():
        ours = boto3.client(
            "sagemaker", region_name="eu-west-1", aws_access_key_id="111122223333", aws_secret_access_key="x"
        )
        other = boto3.client(
            "sagemaker", region_name="eu-west-1", aws_access_key_id="444455556666", aws_secret_access_key="x"
        )
        elsewhere = boto3.client(
            "sagemaker", region_name="ap-south-1", aws_access_key_id="111122223333", aws_secret_access_key="x"
        )
        arn = ours.create_image(ImageName="tenant", RoleArn=ROLE)["ImageArn"]
        assert arn == "arn:aws:sagemaker:eu-west-1:111122223333:image/tenant"
        assert other.list_images()["Images"] == []
        assert elsewhere.list_images()["Images"] == []


def test_clients_made_before_entering_are_answered_and_released_after() -> None:
    sm = boto3.client("sagemaker", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")
    recorder = Recorder()
    sm.meta.events.register("before-send.sagemaker", recorder)
    with mock_sagemaker_images():
        sm.create_image(ImageName="early", RoleArn=ROLE)
        assert sm.list_images()["Images"][0]["ImageName"] == "early"
        # An operation the registry does not implement goes on to the other handlers.
        sm.describe_model_package_group(ModelPackageGroupName="g")
    assert recorder.seen == ["DescribeModelPackageGroup"]
    sm.describe_image(ImageName="early")  # the mock is gone: answered by the recorder
    assert recorder.seen == ["DescribeModelPackageGroup", "DescribeImage"]


def test_a_client_with_its_own_endpoint_keeps_it() -> None:
    sm = boto3.client(
        "sagemaker",
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="a",
        aws_secret_access_key="b",
    )
    recorder = Recorder()
    sm.meta.events.register("before-send.sagemaker", recorder)
    with mock_sagemaker_images():
        sm.list_images()
    assert recorder.seen == ["ListImages"]


BAD_INPUTS = [
    ("create_image", {"ImageName": "-bad-", "RoleArn": ROLE}),
    ("create_image", {"ImageName": "x" * 64, "RoleArn": "not-an-arn"}),
    ("create_image_version", {"ImageName": "missing", "BaseImage": "python:3", "Aliases": ["no spaces"]}),
    ("describe_image_version", {"ImageName": "missing", "Version": 0}),
    ("list_images", {"MaxResults": 0}),
    ("describe_image", {"ImageName": "missing"}),
]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("operation", "params"), BAD_INPUTS)
def test_same_answers_as_the_server(server, account: str, operation: str, params: dict) -> None:
    """No second implementation: the server and the mock refuse bad input in the same words."""
    # Client-side validation off, so the servers' own answers are compared.
    config = Config(retries={"max_attempts": 1}, parameter_validation=False)
    over_http = boto3.client(
        "sagemaker",
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id=account,
        aws_secret_access_key="x",
        config=config,
    )
    with pytest.raises(ClientError) as from_server:
        getattr(over_http, operation)(**params)
    with mock_sagemaker_images():
        in_process = boto3.client(
            "sagemaker",
            region_name="us-east-1",
            aws_access_key_id=account,
            aws_secret_access_key="x",
            config=config,
        )
        with pytest.raises(ClientError) as from_mock:
            getattr(in_process, operation)(**params)
    assert from_mock.value.response["Error"] == from_server.value.response["Error"]
    meta_mock = from_mock.value.response["ResponseMetadata"]
    meta_server = from_server.value.response["ResponseMetadata"]
    assert meta_mock["HTTPStatusCode"] == meta_server["HTTPStatusCode"]


@pytest.mark.parametrize("moto_outside", [True, False], ids=["moto-outer", "moto-inner"])
def test_composes_with_moto_in_either_order(moto_outside: bool) -> None:
    first, second = (
        (mock_aws(), mock_sagemaker_images()) if moto_outside else (mock_sagemaker_images(), mock_aws())
    )
    with first, second:
        iam = boto3.client("iam", region_name="us-east-1")
        role = iam.create_role(RoleName="images", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="image-notes")
        s3.put_object(Bucket="image-notes", Key="readme", Body=b"hello")
        sm = boto3.client("sagemaker", region_name="us-east-1")
        image_arn = sm.create_image(ImageName="composed", RoleArn=role)["ImageArn"]
        version = sm.create_image_version(ImageName="composed", BaseImage="python:3.12", ClientToken="t1")
        assert version["ImageVersionArn"].endswith("image-version/composed/1")
        assert sm.describe_image(ImageName="composed")["RoleArn"] == role
        # Everything else is moto's: other SageMaker operations, S3, IAM.
        sm.create_model_package_group(ModelPackageGroupName="models")
        assert (
            sm.describe_model_package_group(ModelPackageGroupName="models")["ModelPackageGroupName"]
            == "models"
        )
        assert s3.get_object(Bucket="image-notes", Key="readme")["Body"].read() == b"hello"
        # Cloud Control for our types is ours, over the same store.
        cc = boto3.client("cloudcontrol", region_name="us-east-1")
        found = cc.get_resource(TypeName="AWS::SageMaker::Image", Identifier=image_arn)
        assert json.loads(found["ResourceDescription"]["Properties"])["ImageName"] == "composed"


def test_fail_next_goes_through_botocore_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    # botocore's own retry decisions, without its back-off sleeps (up to 1, 2, 4 s for throttling).
    monkeypatch.setattr("botocore.retries.standard.ExponentialBackoff.delay_amount", lambda *_: 0)
    with mock_sagemaker_images() as images:
        sm = boto3.client("sagemaker", config=Config(retries={"mode": "standard", "max_attempts": 3}))
        sm.create_image(ImageName="retried", RoleArn=ROLE)
        images.fail_next("DescribeImage", "ThrottlingException", count=2)
        answer = sm.describe_image(ImageName="retried")
        assert answer["ResponseMetadata"]["RetryAttempts"] == 2
        images.fail_next("DescribeImage", "ThrottlingException", count=4)  # four attempts in all
        with pytest.raises(ClientError) as caught:
            sm.describe_image(ImageName="retried")
        error = caught.value.response
        assert error["Error"] == {"Code": "ThrottlingException", "Message": "Rate exceeded"}
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert error["ResponseMetadata"]["RetryAttempts"] == 3
        images.fail_next("CreateImageVersion", "InternalFailure", message="try again")
        arn = sm.create_image_version(ImageName="retried", BaseImage="python:3", ClientToken="c")
        assert arn["ResponseMetadata"]["RetryAttempts"] == 1
        assert arn["ImageVersionArn"].endswith("/retried/1")


def test_a_failed_call_leaves_nothing_behind() -> None:
    with mock_sagemaker_images() as images:
        sm = boto3.client("sagemaker", config=Config(retries={"total_max_attempts": 1}))
        images.fail_next("CreateImage", "ResourceLimitExceeded", message="quota")
        with pytest.raises(ClientError) as caught:
            sm.create_image(ImageName="never", RoleArn=ROLE)
        assert caught.value.response["Error"] == {"Code": "ResourceLimitExceeded", "Message": "quota"}
        assert sm.list_images()["Images"] == []
        images.fail_next("CreateImage", "ServiceUnavailable")
        with pytest.raises(ClientError) as caught:
            sm.create_image(ImageName="never", RoleArn=ROLE)
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
        assert sm.list_images()["Images"] == []
        sm.create_image(ImageName="never", RoleArn=ROLE)  # the queue is used up
        with pytest.raises(ValueError, match="count"):
            images.fail_next("CreateImage", "ThrottlingException", count=0)


def test_advance_moves_statuses_timestamps_and_cloud_control() -> None:
    with mock_sagemaker_images(transition_delay=300) as images:
        sm = boto3.client("sagemaker")
        sm.create_image(ImageName="slow", RoleArn=ROLE)
        before = sm.describe_image(ImageName="slow")
        assert before["ImageStatus"] == "CREATING"
        images.advance(299)
        assert sm.describe_image(ImageName="slow")["ImageStatus"] == "CREATING"
        images.advance(1)
        after = sm.describe_image(ImageName="slow")
        assert after["ImageStatus"] == "CREATED"
        assert (after["LastModifiedTime"] - before["CreationTime"]).total_seconds() == pytest.approx(
            300, abs=1
        )
        waiter = sm.get_waiter("image_version_created")
        sm.create_image_version(ImageName="slow", BaseImage="python:3", ClientToken="v")
        images.advance(300)
        waiter.wait(ImageName="slow", WaiterConfig={"Delay": 0, "MaxAttempts": 1})

        cc = boto3.client("cloudcontrol")
        event = cc.create_resource(
            TypeName="AWS::SageMaker::Image",
            DesiredState=json.dumps({"ImageName": "cc-slow", "ImageRoleArn": ROLE}),
        )["ProgressEvent"]
        status = cc.get_resource_request_status(RequestToken=event["RequestToken"])["ProgressEvent"]
        assert status["OperationStatus"] == "IN_PROGRESS"
        # The request's first step creates the image a moment of real time after it is accepted; a
        # clock moved before that would not count for an image that does not exist yet.
        wait_until(lambda: sm.list_images(NameContains="cc-slow")["Images"], what="the image")
        images.advance(600)
        # Cloud Control's worker takes each step within a moment of real time once it is due.
        deadline = time.monotonic() + 30
        while status["OperationStatus"] == "IN_PROGRESS" and time.monotonic() < deadline:
            time.sleep(0.2)
            status = cc.get_resource_request_status(RequestToken=event["RequestToken"])["ProgressEvent"]
        assert status["OperationStatus"] == "SUCCESS"
        with pytest.raises(ValueError):
            images.advance(-1)


def test_fail_next_versions() -> None:
    with mock_sagemaker_images() as images:
        sm = boto3.client("sagemaker")
        for name in ("one", "two"):
            sm.create_image(ImageName=name, RoleArn=ROLE)
        images.fail_next_versions(reason="base image pull failed", image_name="two")
        sm.create_image_version(ImageName="one", BaseImage="python:3", ClientToken="a")
        sm.create_image_version(ImageName="two", BaseImage="python:3", ClientToken="b")
        sm.create_image_version(ImageName="two", BaseImage="python:3", ClientToken="c")
        one = sm.describe_image_version(ImageName="one")
        assert one["ImageVersionStatus"] == "CREATED"
        failed = sm.describe_image_version(ImageName="two", Version=1)
        assert failed["ImageVersionStatus"] == "CREATE_FAILED"
        assert failed["FailureReason"] == "base image pull failed"
        assert sm.describe_image_version(ImageName="two", Version=2)["ImageVersionStatus"] == "CREATED"
        images.fail_next_versions(count=2)
        sm.create_image_version(ImageName="one", BaseImage="python:3", ClientToken="d")
        sm.create_image_version(ImageName="two", BaseImage="python:3", ClientToken="e")
        sm.create_image_version(ImageName="two", BaseImage="python:3", ClientToken="f")
        statuses = [
            sm.describe_image_version(ImageName=n, Version=v)["ImageVersionStatus"]
            for n, v in (("one", 2), ("two", 3), ("two", 4))
        ]
        assert statuses == ["CREATE_FAILED", "CREATE_FAILED", "CREATED"]


def test_export_load_and_reset(tmp_path: Path) -> None:
    with mock_sagemaker_images() as images:
        sm = boto3.client("sagemaker")
        sm.create_image(ImageName="kept", RoleArn=ROLE, Tags=[{"Key": "team", "Value": "ml"}])
        sm.create_image_version(ImageName="kept", BaseImage="python:3", Aliases=["stable"], ClientToken="x")
        snapshot = images.export()
        header = json.loads(snapshot.splitlines()[0])
        assert header["format"] == "sagemaker-images-state"
        described = sm.describe_image_version(ImageName="kept", Alias="stable")
        images.reset()
        assert sm.list_images()["Images"] == []
    (tmp_path / "seed.jsonl").write_text(snapshot)
    for seed in (snapshot, tmp_path / "seed.jsonl"):
        with mock_sagemaker_images() as images:
            sm = boto3.client("sagemaker")
            sm.create_image(ImageName="replaced", RoleArn=ROLE)
            images.load(seed)
            assert [i["ImageName"] for i in sm.list_images()["Images"]] == ["kept"]
            again = sm.describe_image_version(ImageName="kept", Alias="stable")
            assert again["ImageVersionArn"] == described["ImageVersionArn"]
            assert sm.list_tags(ResourceArn=sm.describe_image(ImageName="kept")["ImageArn"])["Tags"] == [
                {"Key": "team", "Value": "ml"}
            ]
            # Version numbers go on from where the snapshot left them.
            sm.create_image_version(ImageName="kept", BaseImage="python:3", ClientToken="y")
            assert sm.describe_image_version(ImageName="kept")["Version"] == 2


def test_state_is_fresh_per_context_unless_a_database_is_named(tmp_path: Path) -> None:
    with mock_sagemaker_images():
        boto3.client("sagemaker").create_image(ImageName="gone", RoleArn=ROLE)
    with mock_sagemaker_images():
        assert boto3.client("sagemaker").list_images()["Images"] == []
    url = f"sqlite:///{tmp_path / 'state.db'}"
    with mock_sagemaker_images(db=url):
        boto3.client("sagemaker").create_image(ImageName="kept", RoleArn=ROLE)
    with mock_sagemaker_images(db=url):
        assert [i["ImageName"] for i in boto3.client("sagemaker").list_images()["Images"]] == ["kept"]


def test_options_mirror_serve() -> None:
    with mock_sagemaker_images(max_images=1, fail_images="broken-.*") as images:
        sm = boto3.client("sagemaker", config=Config(retries={"total_max_attempts": 1}))
        sm.create_image(ImageName="broken-one", RoleArn=ROLE)
        assert sm.describe_image(ImageName="broken-one")["ImageStatus"] == "CREATE_FAILED"
        with pytest.raises(ClientError) as caught:
            sm.create_image(ImageName="second", RoleArn=ROLE)
        assert caught.value.response["Error"]["Code"] == "ResourceLimitExceeded"
        assert images.settings.max_images == 1
    with pytest.raises(TypeError, match="unknown option"):
        mock_sagemaker_images(transition_dealy=3)


def test_request_limits_apply_in_process() -> None:
    """The body arrives whole in process, and is held to --max-body-bytes as over HTTP."""
    with mock_sagemaker_images(max_body_bytes=300):
        sm = boto3.client("sagemaker", config=Config(retries={"total_max_attempts": 1}))
        sm.create_image(ImageName="small", RoleArn=ROLE, Description="x" * 10)
        with pytest.raises(ClientError) as caught:
            sm.create_image(ImageName="big", RoleArn=ROLE, Description="x" * 400)
        assert caught.value.response["Error"]["Code"] == "RequestEntityTooLargeException"
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
        assert [i["ImageName"] for i in sm.list_images()["Images"]] == ["small"]
    with pytest.raises(TypeError, match="unknown option"):
        mock_sagemaker_images(threads=4)  # calls run on the caller's thread: no pool to size


def test_inside_nested_contexts_the_innermost_answers() -> None:
    with mock_sagemaker_images():
        boto3.client("sagemaker").create_image(ImageName="outer", RoleArn=ROLE)
        with mock_sagemaker_images():
            assert boto3.client("sagemaker").list_images()["Images"] == []
        assert len(boto3.client("sagemaker").list_images()["Images"]) == 1


def test_handle_needs_an_active_mock() -> None:
    images = mock_sagemaker_images()
    with pytest.raises(RuntimeError, match="not active"):
        images.advance(1)


# -- the decorator --------------------------------------------------------------------------------

images_for_decorator = mock_sagemaker_images()


@images_for_decorator
def _decorated(name: str) -> list[str]:
    sm = boto3.client("sagemaker")
    sm.create_image(ImageName=name, RoleArn=ROLE)
    images_for_decorator.fail_next("ListImages", "ThrottlingException")
    return [i["ImageName"] for i in sm.list_images()["Images"]]


def test_decorates_a_function() -> None:
    assert _decorated("deco") == ["deco"]
    assert _decorated("again") == ["again"]  # fresh state per call


@mock_sagemaker_images()
async def _decorated_async() -> str:
    await asyncio.sleep(0)
    # A synchronous client inside a running event loop.
    sm = boto3.client("sagemaker")
    sm.create_image(ImageName="async", RoleArn=ROLE)
    return sm.describe_image(ImageName="async")["ImageStatus"]


def test_decorates_a_coroutine_function() -> None:
    # In a thread of its own: a session fixture (Playwright's sync API) may hold this thread's loop.
    result: list[str] = []
    thread = threading.Thread(target=lambda: result.append(asyncio.run(_decorated_async())))
    thread.start()
    thread.join()
    assert result == ["CREATED"]


@mock_sagemaker_images()
class TestDecoratedClass:
    def test_method_sees_the_mock(self) -> None:
        boto3.client("sagemaker").create_image(ImageName="in-class", RoleArn=ROLE)
        assert len(boto3.client("sagemaker").list_images()["Images"]) == 1

    def test_each_method_is_fresh(self) -> None:
        assert boto3.client("sagemaker").list_images()["Images"] == []


class Holder:
    @mock_sagemaker_images()
    def method(self, name: str) -> str:
        return boto3.client("sagemaker").create_image(ImageName=name, RoleArn=ROLE)["ImageArn"]


def test_decorates_a_method() -> None:
    assert Holder().method("m").endswith(":image/m")


def test_decorates_a_unittest_case() -> None:
    @mock_sagemaker_images()
    class Case(unittest.TestCase):
        def setUp(self) -> None:
            self.sm = boto3.client("sagemaker")
            self.sm.create_image(ImageName="from-setup", RoleArn=ROLE)

        def test_sees_setup(self) -> None:
            self.assertEqual(self.sm.list_images()["Images"][0]["ImageName"], "from-setup")

        def test_fresh(self) -> None:
            self.assertEqual(len(self.sm.list_images()["Images"]), 1)

    result = unittest.TextTestRunner(stream=open(os.devnull, "w")).run(  # noqa: SIM115
        unittest.defaultTestLoader.loadTestsFromTestCase(Case)
    )
    assert result.wasSuccessful(), result.failures + result.errors


def test_calls_from_many_threads() -> None:
    with mock_sagemaker_images():
        sm = boto3.client("sagemaker")
        errors: list[BaseException] = []

        def work(n: int) -> None:
            try:
                for k in range(5):
                    sm.create_image(ImageName=f"t{n}-{k}", RoleArn=ROLE)
                    sm.describe_image(ImageName=f"t{n}-{k}")
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        paginator = sm.get_paginator("list_images")
        names = [
            i["ImageName"]
            for page in paginator.paginate(PaginationConfig={"PageSize": 7})
            for i in page["Images"]
        ]
        assert len(names) == 20


def test_sigv4_mode_verifies_in_process_signatures_too(tmp_path: Path) -> None:
    keys = {
        "keys": {"AKIDINPROC": {"secret": "right", "account": "123412341234", "allow": ["sagemaker:List*"]}}
    }
    (tmp_path / "keys.json").write_text(json.dumps(keys))
    with mock_sagemaker_images(auth="sigv4", credentials=str(tmp_path / "keys.json"), fake_credentials=False):
        config = Config(retries={"total_max_attempts": 1})
        good = boto3.client(
            "sagemaker",
            region_name="eu-west-1",
            aws_access_key_id="AKIDINPROC",
            aws_secret_access_key="right",
            config=config,
        )
        assert good.list_images()["Images"] == []
        with pytest.raises(ClientError) as denied:
            good.create_image(ImageName="no", RoleArn=ROLE)
        assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
        wrong = boto3.client(
            "sagemaker",
            region_name="eu-west-1",
            aws_access_key_id="AKIDINPROC",
            aws_secret_access_key="wrong",
            config=config,
        )
        with pytest.raises(ClientError) as refused:
            wrong.list_images()
        assert refused.value.response["Error"]["Code"] == "InvalidSignatureException"


def test_base_images_pushed_to_motos_ecr_resolve_in_process() -> None:
    """With ``ecr_endpoint="aws"`` the in-process registry resolves ECR BaseImages through botocore, so
    the images a test pushed to moto's ECR are found (digest pinned) and a missing tag fails the
    version, as it would on AWS."""
    fast = {"Delay": 0.1, "MaxAttempts": 300}
    with mock_aws(), mock_sagemaker_images(ecr_endpoint="aws"):
        ecr = boto3.client("ecr", region_name="us-east-1")
        registry = ecr.create_repository(repositoryName="team/app")["repository"]["registryId"]
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": "sha256:" + "ab" * 32,
                "size": 2,
            },
            "layers": [],
        }
        pushed = ecr.put_image(repositoryName="team/app", imageManifest=json.dumps(manifest), imageTag="v1")
        digest = pushed["image"]["imageId"]["imageDigest"]
        host = f"{registry}.dkr.ecr.us-east-1.amazonaws.com"

        sm = boto3.client("sagemaker", region_name="us-east-1")
        sm.create_image(ImageName="pushed", RoleArn=ROLE)
        sm.get_waiter("image_created").wait(ImageName="pushed", WaiterConfig=fast)
        sm.create_image_version(ImageName="pushed", BaseImage=f"{host}/team/app:v1")
        sm.get_waiter("image_version_created").wait(ImageName="pushed", Version=1, WaiterConfig=fast)
        found = sm.describe_image_version(ImageName="pushed", Version=1)
        assert found["ContainerImage"] == f"{host}/team/app@{digest}"
        assert found["BaseImage"] == f"{host}/team/app:v1"

        sm.create_image_version(ImageName="pushed", BaseImage=f"{host}/team/app:never-pushed")
        deadline = time.monotonic() + 60
        while (missing := sm.describe_image_version(ImageName="pushed", Version=2))[
            "ImageVersionStatus"
        ] == "CREATING":
            assert time.monotonic() < deadline, missing
            time.sleep(0.1)
        assert missing["ImageVersionStatus"] == "CREATE_FAILED"
        assert "Requested image not found" in missing["FailureReason"]
        assert "ContainerImage" not in missing


# -- state kept in a database of the test's choosing ---------------------------------------------


def _image_names(sm) -> list[str]:
    return sorted(i["ImageName"] for i in sm.list_images()["Images"])


def test_a_named_database_keeps_state_across_contexts_and_resets_and_loads(database_url: str) -> None:
    """``db=`` takes what ``serve --db`` takes, PostgreSQL included: state outlives the context,
    ``reset`` empties it, and ``export``/``load`` move it."""
    with mock_sagemaker_images(db=database_url):
        sm = boto3.client("sagemaker")
        sm.create_image(ImageName="kept", RoleArn=ROLE, Tags=[{"Key": "team", "Value": "ml"}])
        sm.create_image_version(ImageName="kept", BaseImage="python:3", Aliases=["stable"], ClientToken="a")
    with mock_sagemaker_images(db=database_url) as images:
        sm = boto3.client("sagemaker")
        assert _image_names(sm) == ["kept"]
        assert sm.describe_image_version(ImageName="kept", Alias="stable")["Version"] == 1
        snapshot = images.export()
        images.reset()
        assert _image_names(sm) == []
    with mock_sagemaker_images(db=database_url) as images:
        sm = boto3.client("sagemaker")
        assert _image_names(sm) == []
        images.load(snapshot)
        assert _image_names(sm) == ["kept"]
        arn = sm.describe_image(ImageName="kept")["ImageArn"]
        assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "ml"}]
        # Ids and counters came back as they were: the next version is 2, and new rows get new ids.
        sm.create_image_version(ImageName="kept", BaseImage="python:3", ClientToken="b")
        assert sm.describe_image_version(ImageName="kept")["Version"] == 2
        sm.create_image(ImageName="after-load", RoleArn=ROLE)
        assert _image_names(sm) == ["after-load", "kept"]


def _broken_snapshots(snapshot: str) -> dict[str, str]:
    lines = snapshot.splitlines(keepends=True)
    last = lines[-1]
    duplicate = next(line for line in lines if '"table":"images"' in line)
    return {
        # Cut off in the middle of its last row, after the rows before it were inserted.
        "cut short": "".join(lines[:-1]) + last[: len(last) // 2],
        "unknown table at the end": snapshot + '{"table": "no_such_table", "row": {}}\n',
        "a row twice": snapshot + duplicate,
        "not an export": "hello\n",
    }


def test_load_is_all_or_nothing(database_url: str) -> None:
    """A snapshot that fails halfway leaves the state it was meant to replace exactly as it was."""
    from sagemaker_images.store.transfer import TransferError

    with mock_sagemaker_images() as source:
        sm = boto3.client("sagemaker")
        for name in ("new-a", "new-b"):
            sm.create_image(ImageName=name, RoleArn=ROLE)
            sm.create_image_version(ImageName=name, BaseImage="python:3", ClientToken=name)
        snapshot = source.export()
    with mock_sagemaker_images(db=database_url) as images:
        sm = boto3.client("sagemaker")
        sm.create_image(ImageName="old", RoleArn=ROLE, Tags=[{"Key": "k", "Value": "v"}])
        sm.create_image_version(ImageName="old", BaseImage="python:3", Aliases=["live"], ClientToken="o")
        before = images.export()
        for what, broken in _broken_snapshots(snapshot).items():
            with pytest.raises(TransferError):
                images.load(broken)
            assert images.export() == before, what
        assert sm.describe_image_version(ImageName="old", Alias="live")["Version"] == 1
        images.load(snapshot)  # the intact one replaces it
        assert _image_names(sm) == ["new-a", "new-b"]


def test_reset_keeps_the_key_of_page_tokens(tmp_path: Path) -> None:
    """The pagination key belongs to the installation, not its state (export leaves it behind too):
    a reset keeps it, so a registry opened on the same database later reads tokens issued before."""
    url = f"sqlite:///{tmp_path / 'state.db'}"
    with mock_sagemaker_images(db=url) as images:
        sm = boto3.client("sagemaker")
        images.reset()
        for name in ("a", "b"):
            sm.create_image(ImageName=name, RoleArn=ROLE)
        token = sm.list_images(MaxResults=1, SortBy="IMAGE_NAME", SortOrder="ASCENDING")["NextToken"]
    with mock_sagemaker_images(db=url):
        sm = boto3.client("sagemaker")
        page = sm.list_images(MaxResults=1, SortBy="IMAGE_NAME", SortOrder="ASCENDING", NextToken=token)
        assert [i["ImageName"] for i in page["Images"]] == ["b"]
