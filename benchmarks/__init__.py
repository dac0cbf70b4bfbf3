"""Load and scale harnesses for sagemaker-images; results go to docs/performance.md."""
