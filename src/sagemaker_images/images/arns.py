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


# Version numbers are the model's Integer: an ARN ending in a number a Java Integer cannot hold (or
# in another spelling of a number, such as ``007``) names no version, like any ARN that names nothing.
MAX_VERSION = 2**31 - 1


def is_version_number(text: str) -> bool:
    return (
        text.isascii()
        and text.isdigit()
        and len(text) <= len(str(MAX_VERSION))
        and text == str(int(text))
        and int(text) <= MAX_VERSION
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
        if name and is_version_number(number):
            return ResourceRef(tenant, partition, name, int(number))
    return None
