"""Everything AWS-generic and nothing image-specific: JSON wire format, errors, caller identity."""
