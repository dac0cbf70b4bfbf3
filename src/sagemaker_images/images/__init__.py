"""The SageMaker image domain: images, versions, aliases and tags, one function per operation."""
