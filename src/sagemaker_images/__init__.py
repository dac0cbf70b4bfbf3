"""sagemaker-images: the Amazon SageMaker custom-image registry and its Cloud Control API, self-hosted."""

__version__ = "0.1.0"
