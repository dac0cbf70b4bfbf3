"""Testing with sagemaker-images: the in-process mock, and (``pytest_plugin``) fixtures for pytest.

from sagemaker_images.testing import mock_sagemaker_images

with mock_sagemaker_images() as images:
    boto3.client("sagemaker").create_image(...)   # answered in process, as the server answers

The mock is imported on first use (PEP 562): pytest imports ``pytest_plugin`` from this package in
every test session of an environment that has sagemaker-images installed, and that must stay cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sagemaker_images.testing.mock import MockSageMakerImages, mock_sagemaker_images

__all__ = ["MockSageMakerImages", "mock_sagemaker_images"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from sagemaker_images.testing import mock

        return getattr(mock, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
