"""What the tests that drive real consumers share: a server whose statuses really move, finding or
making each consumer, and running it.

A consumer that is not installed makes its tests skip with the reason on a developer machine; in CI
(``SAGEMAKER_IMAGES_REQUIRE_CONSUMERS=1``, set by ``.ci/run``, which installs them all) they fail.
Python consumers with dependencies of their own (sagemaker-core, aiobotocore and the older botocore
it pins) get virtual environments of their own, made on first use and kept in ``tests/.consumers``.
"""

from __future__ import annotations

import json
import os
import subprocess
import venv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.servers import ServerProcess

REQUIRE = "SAGEMAKER_IMAGES_REQUIRE_CONSUMERS"
ENVIRONMENTS = Path(__file__).parent / ".consumers"
# Seconds each CREATING / UPDATING / DELETING lasts on the consumers' server: their waiters really poll.
TRANSITION_DELAY = "0.5"


def unavailable(reason: str) -> None:
    """Skip (or, in CI, fail) a test whose consumer is missing."""
    if os.environ.get(REQUIRE) == "1":
        pytest.fail(f"{reason} (required here: {REQUIRE}=1)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def moving_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server on SQLite whose transitions take TRANSITION_DELAY seconds."""
    path = tmp_path_factory.mktemp("consumers")
    with ServerProcess(
        f"sqlite:///{path / 'state.db'}", "--transition-delay", TRANSITION_DELAY, log_path=path / "server.log"
    ) as process:
        yield process


def python_environment(name: str, requirements: list[str]) -> Path:
    """The python of a virtual environment holding exactly ``requirements``, made once and kept."""
    home = ENVIRONMENTS / name
    python = home / "bin" / "python"
    marker = home / "requirements.json"
    if marker.exists() and json.loads(marker.read_text()) == requirements and python.exists():
        return python
    if os.environ.get(REQUIRE) != "1":
        # Hundreds of megabytes: made only when asked for (CI asks).
        pytest.skip(f"no environment with {' '.join(requirements)} yet: {REQUIRE}=1 makes it in {home}")
    venv.create(home, with_pip=True, clear=True)
    install = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *requirements]
    result = subprocess.run(install, capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        unavailable(f"cannot install {' '.join(requirements)}: {result.stderr.strip()[-500:]}")
    marker.write_text(json.dumps(requirements))
    return python


def run_flow(
    command: list[str], server: ServerProcess, account: str, *, cwd: Path | None = None
) -> dict[str, Any]:
    """Run a consumer's flow against ``server`` as ``account``; what it saw, from its last line of JSON."""
    env = {
        **os.environ,
        "ENDPOINT": server.endpoint,
        "ACCOUNT": account,
        "AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE": "1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{command[0]} failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
    return json.loads(result.stdout.strip().splitlines()[-1])
