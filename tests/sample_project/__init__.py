"""A small user project tested with sagemaker-images three ways (decorator, fixture, server fixture)."""
