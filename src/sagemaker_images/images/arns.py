"""ARNs of images and image versions, formed as AWS forms them (the image name lowercased)."""

from __future__ import annotations

from dataclasses import dataclass

from sagemaker_images.tenancy import Tenant


def image_arn(tenant: Tenant, name: str) -> str:
    return f"arn:{tenant.partition}:sagemaker:{tenant.region}:{tenant.account}:image/{name.lower()}"


def image_version_arn(tenant: Tenant, name: str, version: int) -> str:
    return (
        f"arn:{tenant.partition}:sagemaker:{tenant.region}:{tenant.account}:"
        f"image-version/{name.lower()}/{version}"
    )


@dataclass(frozen=True, slots=True)
class ResourceRef:
    """What a tagging ARN points at: an image (version None) or one of its versions."""

    tenant: Tenant
    partition: str
    name: str
    version: int | None


def parse_image_arn(arn: str) -> ResourceRef | None:
    """The image or image version an ARN names, or None if it names anything else."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "sagemaker":
        return None
    _, partition, _, region, account, resource = parts
    kind, _, path = resource.partition("/")
    tenant = Tenant(account=account, region=region)
    if kind == "image" and path and "/" not in path:
        return ResourceRef(tenant, partition, path, None)
    if kind == "image-version":
        name, _, number = path.partition("/")
        if name and number.isdigit() and number.isascii():
            return ResourceRef(tenant, partition, name, int(number))
    return None
