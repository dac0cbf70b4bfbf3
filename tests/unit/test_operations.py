"""Operations are declared once, on the methods implementing them; every table is derived."""

from __future__ import annotations

from sagemaker_images import operations, services
from sagemaker_images.app_image_configs.registry import AppImageConfigRegistry
from sagemaker_images.cloudcontrol.service import CloudControl
from sagemaker_images.images.registry import ImageRegistry
from sagemaker_images.operations import operation
from sagemaker_images.tagging import Tagging


class _Base:
    @operation("DescribeThing", reads=True)
    def describe(self) -> str:
        return "base"


class _Things(_Base):
    @operation("CreateThing")
    def create(self) -> str:
        return "created"

    @operation("ListThings", reads=True)
    def list(self) -> str:
        return "listed"

    def helper(self) -> str:  # not an operation
        return "helper"


def test_declarations_give_names_in_order_read_only_ones_and_bound_handlers() -> None:
    assert operations.names(_Things) == ("DescribeThing", "CreateThing", "ListThings")
    assert operations.read_only(_Things) == {"DescribeThing", "ListThings"}
    handlers = operations.handlers(_Things())
    assert {name: handler() for name, handler in handlers.items()} == {
        "DescribeThing": "base",
        "CreateThing": "created",
        "ListThings": "listed",
    }


def test_the_served_tables_come_from_the_domains_declarations() -> None:
    assert len(operations.names(ImageRegistry)) == 11
    assert operations.names(Tagging) == ("AddTags", "ListTags", "DeleteTags")
    assert len(operations.names(AppImageConfigRegistry)) == 5
    assert len(operations.names(CloudControl)) == 8
    assert operations.read_only(CloudControl) == {
        "GetResource",
        "GetResourceRequestStatus",
        "ListResourceRequests",
    }
    for kind in (ImageRegistry, Tagging, AppImageConfigRegistry):
        for name in operations.read_only(kind):
            assert name.startswith(("Describe", "List")), name
            assert name in services.READ_OPERATIONS
        for name in set(operations.names(kind)) - operations.read_only(kind):
            assert not name.startswith(("Describe", "List")), name
