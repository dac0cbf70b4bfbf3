"""The pytest plugin, as a user's test suite sees it: installed with the package, fixtures and marker."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

IN_PROCESS = """
import boto3
import pytest

ROLE = "arn:aws:iam::000000000000:role/R"

def test_fresh_state(sagemaker_images):
    sm = boto3.client("sagemaker")
    assert sm.list_images()["Images"] == []
    sm.create_image(ImageName="one", RoleArn=ROLE)

def test_fresh_state_again(sagemaker_images):
    assert boto3.client("sagemaker").list_images()["Images"] == []

@pytest.mark.sagemaker_images(transition_delay=30)
def test_marker_options(sagemaker_images):
    sm = boto3.client("sagemaker")
    sm.create_image(ImageName="slow", RoleArn=ROLE)
    assert sm.describe_image(ImageName="slow")["ImageStatus"] == "CREATING"
    sagemaker_images.advance(30)
    assert sm.describe_image(ImageName="slow")["ImageStatus"] == "CREATED"

@pytest.mark.sagemaker_images(max_images=0, transition_delay=5)
class TestClassMarker:
    @pytest.mark.sagemaker_images(transition_delay=0)
    def test_closest_marker_wins(self, sagemaker_images):
        assert sagemaker_images.settings.transition_delay == 0
        assert sagemaker_images.settings.max_images == 0

@pytest.mark.sagemaker_images(no_such_option=1)
def test_unknown_option(sagemaker_images):
    pass
"""


def test_fixture_and_marker(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(IN_PROCESS)
    result = pytester.runpytest_inprocess("--strict-markers", "-p", "no:randomly")
    result.assert_outcomes(passed=4, errors=1)
    result.stdout.fnmatch_lines(["*unknown option(s) no_such_option*"])


SERVER = """
import os
import boto3

def test_server(sagemaker_images_server, worker_id):
    sm = sagemaker_images_server.client("sagemaker")
    sm.create_image(ImageName=f"from-{worker_id}", RoleArn="arn:aws:iam::000000000000:role/R")
    with open(os.path.join(os.environ["OUT"], worker_id), "w") as out:
        out.write(sagemaker_images_server.endpoint)

def test_endpoint(sagemaker_images_endpoint, worker_id):
    # Every client of this test goes to the server: plain boto3.client, no endpoint given.
    sm = boto3.client("sagemaker")
    assert sm.list_images()["Images"] == []
    sagemaker_images_endpoint.fail_next("ListImages", "ThrottlingException")
    assert sm.list_images()["ResponseMetadata"]["RetryAttempts"] == 1

def test_more(sagemaker_images_endpoint):
    assert boto3.client("sagemaker").list_images()["Images"] == []
"""


def test_server_fixture_under_xdist(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    out = pytester.mkdir("endpoints")
    monkeypatch.setenv("OUT", str(out))
    pytester.makepyfile(SERVER)
    # Every test on each of two workers: each must have its own server, port and state.
    result = pytester.runpytest_subprocess("-n", "2", "--dist", "each", "-p", "xdist", "-p", "no:randomly")
    result.assert_outcomes(passed=6)
    endpoints = {path.name: path.read_text() for path in out.iterdir()}
    assert sorted(endpoints) == ["gw0", "gw1"]
    assert endpoints["gw0"] != endpoints["gw1"]


def test_the_plugin_imports_nothing_heavy_until_a_fixture_is_used() -> None:
    """pytest loads the plugin in every session of an environment with the package installed."""
    import subprocess
    import sys

    script = (
        "import sys, sagemaker_images.testing.pytest_plugin\n"
        "heavy = ('botocore', 'boto3', 'sqlalchemy', 'sagemaker_images.server', 'sagemaker_images.testing.mock')\n"
        "print(sorted(name for name in heavy if name in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
