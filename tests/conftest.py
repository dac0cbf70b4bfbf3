"""Fixtures: a real server process per database backend, and clients that talk to it.

Every end-to-end test runs against SQLite and against PostgreSQL. Tests share one server per backend
and stay apart by calling as their own AWS account (a random 12-digit access key id is the account).
PostgreSQL tests skip with the reason when no server answers at 127.0.0.1:5432, unless
SAGEMAKER_IMAGES_REQUIRE_POSTGRES=1 (as in CI), where they fail instead. Browser tests drive the
system's Chromium (Debian's ``chromium``) with Playwright and skip the same way without it, unless
SAGEMAKER_IMAGES_REQUIRE_BROWSER=1.
"""

from __future__ import annotations

import contextlib
import os
import random
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from tests.servers import ServerProcess, fresh_postgres_database, postgres_available

BACKENDS = ["sqlite", "postgres"]


def pytest_configure(config: pytest.Config) -> None:
    _cache_client_classes()
    if not hasattr(config, "workerinput"):  # once, in the process that starts pytest-xdist's workers
        _compile_the_package()


def _compile_the_package() -> None:
    """Write the package's bytecode once. Under PYTHONDONTWRITEBYTECODE (as on CI's machines) an
    editable install is never compiled, so each of the hundred server processes the suite starts would
    compile every module again (about 0.1 s of CPU each); they read bytecode that exists either way."""
    import compileall

    import sagemaker_images

    compileall.compile_dir(Path(sagemaker_images.__file__).parent, quiet=1)


# botocore builds a new client class for every client it makes (a method per operation: 425 for
# SageMaker, about 8 ms), and the suite makes over a thousand clients. For the services tests talk to,
# whose classes no session's handlers change, one class per service and API version is made once per
# process. Test machinery only: what is tested is how clients call, not how botocore builds them.
_SHARED_CLIENT_CLASSES = frozenset({"sagemaker", "cloudcontrol", "sts"})


def _cache_client_classes() -> None:
    from botocore.client import ClientCreator

    build = ClientCreator._create_client_class
    classes: dict[tuple[str, str], type] = {}

    def create_client_class(self, service_name, service_model):  # type: ignore[no-untyped-def]
        if service_name not in _SHARED_CLIENT_CLASSES:
            return build(self, service_name, service_model)
        key = (service_name, service_model.api_version)
        if key not in classes:
            classes[key] = build(self, service_name, service_model)
        return classes[key]

    ClientCreator._create_client_class = create_client_class


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("servers")


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgres":
        reason = postgres_available()
        if reason is not None:
            if os.environ.get("SAGEMAKER_IMAGES_REQUIRE_POSTGRES") == "1":
                pytest.fail(f"PostgreSQL is required here: {reason}")
            pytest.skip(reason)
    return request.param


@pytest.fixture
def database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A new, empty database of the current backend, for a test that runs its own server."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'state.db'}"
    else:
        with fresh_postgres_database() as url:
            yield url


@pytest.fixture(scope="session")
def server(backend: str, artifacts: Path) -> Iterator[ServerProcess]:
    """The shared server of a backend (default settings)."""
    if backend == "sqlite":
        with ServerProcess(
            f"sqlite:///{artifacts / 'shared.db'}", log_path=artifacts / "sqlite.log"
        ) as process:
            yield process
    else:
        with (
            fresh_postgres_database() as url,
            ServerProcess(url, log_path=artifacts / "postgres.log") as process,
        ):
            yield process


@pytest.fixture
def start_server(database_url: str, artifacts: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Start servers with extra flags on this test's own database; they are stopped afterwards."""
    started: list[ServerProcess] = []

    def start(*args: str, db_url: str | None = None) -> ServerProcess:
        process = ServerProcess(db_url or database_url, *args, log_path=artifacts / "own.log").start()
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


@pytest.fixture(scope="module")
def shared_servers(backend: str, tmp_path_factory: pytest.TempPathFactory, artifacts: Path):
    """Servers with extra flags shared by the tests of a module: ``shared_servers(*flags, replica=0)``.

    One server per set of flags and replica number, started on first use and stopped after the
    module; the replicas of one set of flags share a database of their own (a server's flags decide
    what its background work does, so servers with other flags never share its database). Tests stay
    apart by account, as on the default shared server.
    """
    databases: dict[tuple[str, ...], str] = {}
    started: dict[tuple[tuple[str, ...], int], ServerProcess] = {}
    with contextlib.ExitStack() as stack:

        def get(*args: str, replica: int = 0) -> ServerProcess:
            if args not in databases:
                if backend == "sqlite":
                    databases[args] = f"sqlite:///{tmp_path_factory.mktemp('shared') / 'state.db'}"
                else:
                    databases[args] = stack.enter_context(fresh_postgres_database())
            key = (args, replica)
            if key not in started:
                process = ServerProcess(databases[args], *args, log_path=artifacts / "shared.log")
                started[key] = stack.enter_context(process)
            return started[key]

        yield get


CHROMIUM = os.environ.get("SAGEMAKER_IMAGES_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    """The system's Chromium under Playwright (nothing is downloaded: the browser is Debian's)."""
    reason = None
    if not Path(CHROMIUM).exists():
        reason = f"no Chromium at {CHROMIUM} (apt-get install -y chromium)"
    else:
        try:
            import playwright.sync_api
        except ImportError:
            reason = "the playwright package is not installed (pip install -e '.[test]')"
    if reason is not None:
        if os.environ.get("SAGEMAKER_IMAGES_REQUIRE_BROWSER") == "1":
            pytest.fail(f"a browser is required here: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def new_account() -> str:
    return "".join(random.choices("0123456789", k=12))


@pytest.fixture
def account() -> str:
    return new_account()


def client_for(
    endpoint: str, account: str, service: str = "sagemaker", region: str = "us-east-1"
) -> boto3.client:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=account,
        aws_secret_access_key="secret",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )


@pytest.fixture
def sagemaker(server: ServerProcess, account: str):
    return client_for(server.endpoint, account)


@pytest.fixture
def role_arn(account: str) -> str:
    return f"arn:aws:iam::{account}:role/SageMakerImageRole"


@pytest.fixture
def aws_cli(server: ServerProcess, account: str) -> Callable[..., subprocess.CompletedProcess[str]]:
    """The AWS CLI (``awscli`` from PyPI) pointed at the server, as this test's account."""

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            "AWS_ACCESS_KEY_ID": account,
            "AWS_SECRET_ACCESS_KEY": "secret",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_MAX_ATTEMPTS": "1",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }
        command = [
            sys.executable,
            "-m",
            "awscli",
            "--endpoint-url",
            server.endpoint,
            "--output",
            "json",
            *args,
        ]
        result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
        if check and result.returncode != 0:
            raise AssertionError(f"aws {' '.join(args)} failed: {result.stderr}")
        return result

    return run


# Fixtures that run a program besides the server (the AWS CLI, a browser): their tests are external.
EXTERNAL_FIXTURES = frozenset({"aws_cli", "browser"})


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that drive the AWS CLI or a browser are external tests (``-m external``, run by .ci/run).

    Each ``aws`` invocation starts a Python interpreter and loads botocore (about a second of CPU), and
    a browser test starts Chromium: the default run drives every operation with boto3 and raw HTTP
    instead, and leaves these to the run of external programs. AWS CLI tests on PostgreSQL are long
    tests too: what they check, the CLI's own behaviour, is the same on both backends.
    """
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & EXTERNAL_FIXTURES:
            item.add_marker(pytest.mark.external)
        if "aws_cli" in fixtures and "[postgres" in item.nodeid:
            item.add_marker(pytest.mark.long)
