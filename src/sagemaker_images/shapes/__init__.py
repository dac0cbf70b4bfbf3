"""botocore-model-driven request validation and response shaping, compiled once per operation."""

from sagemaker_images.shapes.model import ApiOperation, load_api

__all__ = ["ApiOperation", "load_api"]
