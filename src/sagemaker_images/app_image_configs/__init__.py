"""AppImageConfigs: how Studio runs a SageMaker image (kernels, file system, container entrypoint)."""
