"""The pytest plugin of sagemaker-images (registered through the ``pytest11`` entry point).

Fixtures:

- ``sagemaker_images``: the in-process mock (``mock_sagemaker_images``) with fresh state for each test,
  yielding its handle. ``@pytest.mark.sagemaker_images(transition_delay=5, ...)`` sets its options.
- ``sagemaker_images_server`` (session): a real server process on a free port, state in a temporary
  directory, its admin API on; ``.endpoint``, ``.client(service)``, ``.environ``, ``.reset()`` and the
  handle's clock and fault controls. ``sagemaker_images_server_options`` (session, overridable)
  gives its ``serve`` options, e.g. ``{"upstream": moto_server_url}``.
- ``sagemaker_images_endpoint``: the server with fresh state, and this test's environment pointing
  every AWS client at it.

Under pytest-xdist every worker has its own server, port and state. Importing this module costs
nothing: the package is imported by the fixtures that need it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

FIXTURE = "sagemaker_images_server"
_STASH_KEY = pytest.StashKey[Any]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "sagemaker_images(**options): options of the sagemaker_images fixture "
        "(serve's flags as keyword arguments, e.g. transition_delay=5)",
    )


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the session's server as soon as it is known to be needed, so it is up when first used."""
    if any(FIXTURE in getattr(item, "fixturenames", ()) for item in session.items):
        from sagemaker_images.testing.server import SageMakerImagesServer

        state = session.config._tmp_path_factory.mktemp("sagemaker-images")  # type: ignore[attr-defined]
        session.config.stash[_STASH_KEY] = SageMakerImagesServer(state).launch()


def pytest_sessionfinish(session: pytest.Session) -> None:
    # At the end of the session, not at unconfigure: pytest-xdist workers end without unconfiguring.
    server = session.config.stash.get(_STASH_KEY, None)
    if server is not None:
        server.stop()
        del session.config.stash[_STASH_KEY]


@pytest.fixture
def sagemaker_images(request: pytest.FixtureRequest) -> Iterator[Any]:
    from sagemaker_images.testing import mock_sagemaker_images

    options: dict[str, Any] = {}
    for marker in reversed(list(request.node.iter_markers("sagemaker_images"))):
        if marker.args:
            raise pytest.UsageError("@pytest.mark.sagemaker_images takes keyword options only")
        options.update(marker.kwargs)  # the closest marker (the test's own) wins
    with mock_sagemaker_images(**options) as images:
        yield images


@pytest.fixture(scope="session")
def sagemaker_images_server_options() -> dict[str, Any]:
    """``serve`` options of the session's server; override this fixture to change them."""
    return {}


@pytest.fixture(scope="session")
def sagemaker_images_server(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    sagemaker_images_server_options: dict[str, Any],
) -> Iterator[Any]:
    from sagemaker_images.testing.server import SageMakerImagesServer

    started = request.config.stash.get(_STASH_KEY, None)
    if started is not None:
        if not sagemaker_images_server_options:
            yield started.wait_ready()
            return
        started.stop()  # started with the default options, which this session does not use
        del request.config.stash[_STASH_KEY]
    options = dict(sagemaker_images_server_options)
    admin_key = options.pop("admin_key", None)
    server = SageMakerImagesServer(tmp_path_factory.mktemp("sagemaker-images"), options, admin_key)
    with server:
        yield server


@pytest.fixture
def sagemaker_images_endpoint(sagemaker_images_server: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The session's server, reset, with every AWS client of this test pointed at it."""
    import boto3

    sagemaker_images_server.reset()
    for name, value in sagemaker_images_server.environ.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    return sagemaker_images_server
