"""Where botocore's requests are answered in process: its ``before-send`` event, for every client.

botocore emits ``before-send.<service>.<Operation>`` with the prepared request just before it would
open a socket, and sends the request only if no handler answered. It calls *every* handler of the
event even after one has answered, and moto's handler (``mock_aws``) raises NotImplementedError for
the image operations. So rather than registering one more handler, the emitter itself is wrapped
while a mock is active: a request the innermost mock serves is answered and no other handler sees
it; any other request goes through the emitter untouched, to moto's handler or to the network.

Wrapping the emitter class (not a session's handler list) reaches every client, whether it was made
before or after the mock started, from any session. Retries are unaffected: botocore parses the
answer and runs its ``needs-retry`` handlers on it as on any HTTP response.

``HierarchicalEmitter._emit`` is private to botocore: pyproject.toml pins botocore to the versions
this was tested with.
"""

from __future__ import annotations

import re
import threading
from typing import TYPE_CHECKING, Any

from botocore.hooks import HierarchicalEmitter

if TYPE_CHECKING:
    from sagemaker_images.testing.mock import MockSageMakerImages

_SEND = "before-send."
# Requests for AWS's own endpoints. A client given an ``endpoint_url`` (a server of this project,
# LocalStack, a moto server) keeps talking to it, as with moto.
_AWS_URL = re.compile(r"https?://[^/]*(\.amazonaws\.com(\.cn)?|\.api\.aws)(:\d+)?(/|$)")

_lock = threading.Lock()
_active: list[MockSageMakerImages] = []
_original_emit = HierarchicalEmitter._emit


def _emit(
    self: HierarchicalEmitter, event_name: str, kwargs: dict[str, Any], stop_on_response: bool = False
) -> Any:
    if event_name.startswith(_SEND) and _active:
        mock = _active[-1]
        request = kwargs.get("request")
        if request is not None and _AWS_URL.match(request.url):
            response = mock.answer(request)
            if response is not None:
                return [(mock.answer, response)]
    return _original_emit(self, event_name, kwargs, stop_on_response)


def activate(mock: MockSageMakerImages) -> None:
    with _lock:
        if not _active:
            HierarchicalEmitter._emit = _emit
        _active.append(mock)


def deactivate(mock: MockSageMakerImages) -> None:
    with _lock:
        # Contexts normally end innermost first; remove this one wherever it is.
        for index in range(len(_active) - 1, -1, -1):
            if _active[index] is mock:
                del _active[index]
                break
        if not _active:
            HierarchicalEmitter._emit = _original_emit
