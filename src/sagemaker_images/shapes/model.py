"""The botocore service models, loaded once, and the operations this server implements.

The model shipped with the installed botocore is the single source of truth for every shape,
constraint and enum: upgrading botocore upgrades what this server accepts and returns.
"""

from __future__ import annotations

import functools
import gzip
import os
from dataclasses import dataclass
from typing import Any

import orjson
from botocore.loaders import Loader
from botocore.model import OperationModel, ServiceModel

from sagemaker_images.shapes.output import OutputShaper, compile_output
from sagemaker_images.shapes.validate import InputValidator, compile_input


@dataclass(frozen=True, slots=True)
class ApiOperation:
    """One operation of one AWS API: how to validate its input and shape its output."""

    name: str
    model: OperationModel
    validate: InputValidator
    shape_output: OutputShaper


@dataclass(frozen=True, slots=True)
class Api:
    service: ServiceModel
    operations: dict[str, ApiOperation]

    @property
    def target_prefix(self) -> str:
        return str(self.service.metadata["targetPrefix"])

    @property
    def signing_name(self) -> str:
        """The service name in a SigV4 credential scope (``sagemaker``, ``cloudcontrolapi``)."""
        return str(self.service.metadata.get("signingName") or self.service.endpoint_prefix)

    @property
    def json_version(self) -> str:
        return str(self.service.metadata["jsonVersion"])

    def is_modelled(self, operation: str) -> bool:
        return operation in self.service.operation_names


class _ModelFiles:
    """botocore's model files, found as botocore finds them (its ``Loader``) and parsed with orjson:
    the SageMaker model is megabytes of JSON, and the standard library's parser took a noticeable
    part of start-up over it. The interface is the one ``Loader`` documents for a file loader."""

    def exists(self, file_path: str) -> bool:
        return os.path.isfile(file_path + ".json") or os.path.isfile(file_path + ".json.gz")

    def load_file(self, file_path: str) -> Any:
        # As botocore tries them: a plain file first, then the compressed one it ships.
        if os.path.isfile(file_path + ".json"):
            with open(file_path + ".json", "rb") as plain:
                return orjson.loads(plain.read())
        if os.path.isfile(file_path + ".json.gz"):
            with gzip.open(file_path + ".json.gz", "rb") as compressed:
                return orjson.loads(compressed.read())
        return None


@functools.cache
def _loader() -> Loader:
    return Loader(file_loader=_ModelFiles())


@functools.cache
def load_service(service_name: str) -> ServiceModel:
    return ServiceModel(_loader().load_service_model(service_name, "service-2"), service_name)


@functools.cache
def load_api(service_name: str, operation_names: tuple[str, ...]) -> Api:
    """Compile validators and output shapers for ``operation_names`` of a botocore service.

    Once per process: every application built in it (the in-process testing mode builds one per
    test) shares the compiled, read-only result.
    """
    service = load_service(service_name)
    operations: dict[str, ApiOperation] = {}
    for name in operation_names:
        model = service.operation_model(name)
        operations[name] = ApiOperation(
            name=name,
            model=model,
            validate=compile_input(model.input_shape),
            shape_output=compile_output(model.output_shape),
        )
    return Api(service=service, operations=operations)


def shape_constraints(service_name: str, shape_name: str) -> dict[str, Any]:
    """The constraint metadata (min, max, pattern...) of one named shape, for messages that quote it."""
    return dict(load_service(service_name).shape_for(shape_name).metadata)
