"""Deciding pending transitions in the background: BaseImage resolution and the CreateImage role check.

CreateImageVersion (and CreateImage, with a role check configured) answers at once and writes the
transition ``pending`` (``lifecycle``). A worker thread in every server process looks for pending
rows, claims one with a lease (``store/pending.py``), asks the registry — or IAM — from a small
thread pool, outside any transaction and off the event loop, and writes the outcome while it still
holds the lease. An unreachable registry is asked again with growing pauses, a bounded number of
times, then the transition fails. Because the state is all in the row, a restart or another
replica finishes whatever a killed process left: its lease expires and the next claim wins.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from sagemaker_images.images import resolution
from sagemaker_images.images.aws import RoleCheck
from sagemaker_images.images.lifecycle import PENDABLE, LifecyclePolicy
from sagemaker_images.images.resolution import Failed, Outcome, Resolved, Resolver, Unreachable
from sagemaker_images.store import Database
from sagemaker_images.store.pending import PendingChecks
from sagemaker_images.store.queries import Queries

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5
MAX_PAUSE = 30.0


@dataclass(frozen=True, slots=True)
class CheckOptions:
    attempts: int = 5  # tries of an unreachable registry before CREATE_FAILED
    first_pause: float = 1.0  # seconds before the second try; doubled for each further one
    timeout: float = 10.0  # seconds per call to a registry or IAM

    @property
    def lease(self) -> float:
        # Long enough for a token fetch and a manifest request to time out, with room to write back.
        return 4 * self.timeout + 5

    def pause(self, attempts: int) -> float:
        return float(min(self.first_pause * 2.0 ** (attempts - 1), MAX_PAUSE))


class BackgroundChecks:
    def __init__(
        self,
        database: Database,
        policy: LifecyclePolicy,
        resolver: Resolver | None = None,
        roles: RoleCheck | None = None,
        options: CheckOptions | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.database = database
        self.policy = policy
        self.resolver = resolver
        self.roles = roles
        self.options = options or CheckOptions()
        self.clock = clock
        self.owner = str(uuid.uuid4())
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="check")
        self._busy: set[tuple[int, int | None]] = set()
        self._busy_lock = threading.Lock()

    # -- what the operations ask ------------------------------------------------------------------

    @property
    def active(self) -> bool:
        return self.resolver is not None or self.roles is not None

    def resolves(self, base_image: str) -> bool:
        """Whether a new version of this BaseImage waits for resolution (else it is taken as written)."""
        return self.resolver is not None and self.resolver.applies(base_image)

    def checks_roles(self) -> bool:
        return self.roles is not None

    def wake(self) -> None:
        self._wake.set()

    # -- the worker -------------------------------------------------------------------------------

    def start(self) -> None:
        if not self.active:
            # No checks configured: what an earlier run left pending is settled as written, now, and
            # a worker stays only while some of it is still leased by a process that died.
            self.settle_all()
            if not self._any_pending():
                return
        if self._worker is None:
            self._worker = threading.Thread(target=self._run, name="background-checks", daemon=True)
            self._worker.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._worker is not None:
            self._worker.join(timeout=5)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def settle_all(self) -> int:
        """Decide every pending transition nobody holds, now and in this thread (used when no check is
        configured: what an earlier run left pending is then taken as written, as without checks)."""
        decided = 0
        while True:
            images, versions = self._due(limit=100)
            for image_id in images:
                self.check_image(image_id)
            for image_id, version in versions:
                self.check_version(image_id, version)
            if not images and not versions:
                return decided
            decided += len(images) + len(versions)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(POLL_SECONDS)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                images, versions = self._due(limit=50)
            except Exception:  # the database may be away for a moment; try again on the next tick
                log.warning("looking for pending checks failed", exc_info=True)
                continue
            for image_id in images:
                self._submit((image_id, None), self.check_image, image_id)
            for image_id, version in versions:
                self._submit((image_id, version), self.check_version, image_id, version)
            if not self.active and not images and not versions and not self._any_pending():
                return

    def _any_pending(self) -> bool:
        with self.database.read() as q:
            return _pending(q).any_pending()

    def _due(self, limit: int) -> tuple[list[int], list[tuple[int, int]]]:
        now = self.clock()
        with self.database.read() as q:
            pending = _pending(q)
            return pending.due_images(now, limit), pending.due_versions(now, limit)

    def _submit(self, key: tuple[int, int | None], check: Callable[..., None], *args: int) -> None:
        with self._busy_lock:
            if key in self._busy:
                return
            self._busy.add(key)

        def run() -> None:
            try:
                check(*args)
            except Exception:
                log.warning("background check of %s failed; it is tried again", key, exc_info=True)
            finally:
                with self._busy_lock:
                    self._busy.discard(key)

        self._pool.submit(run)

    # -- one check --------------------------------------------------------------------------------

    def check_version(self, image_id: int, version: int) -> None:
        with self.database.write() as q:
            pending = _pending(q)
            if not pending.claim_version(image_id, version, self.owner, self.clock(), self.options.lease):
                return
            row = pending.version(image_id, version)
        assert row is not None
        base_image = row["base_image"]
        resolver = self.resolver
        outcome = self._ask(lambda: resolver.resolve(base_image) if resolver else Resolved(base_image))
        values = self._decision(row, outcome, lambda n, d: resolution.unreachable(base_image, n, d))
        if isinstance(outcome, Resolved):
            values["container_image"] = outcome.container_image
        with self.database.write() as q:
            written = _pending(q).finish_version(image_id, version, values, self.owner)
        log.info(
            "image version %s/%s (%s): %s%s",
            image_id,
            version,
            base_image,
            _describe(outcome),
            "" if written else " (not written: the version changed meanwhile)",
        )

    def check_image(self, image_id: int) -> None:
        with self.database.write() as q:
            pending = _pending(q)
            if not pending.claim_image(image_id, self.owner, self.clock(), self.options.lease):
                return
            row = pending.image(image_id)
        assert row is not None
        role = row["role_arn"]
        roles = self.roles
        outcome = self._ask(lambda: (roles.check(role, row["region"]) if roles else None) or Resolved(role))
        values = self._decision(
            row,
            outcome,
            lambda n, d: resolution.reason(
                f"Unable to verify the role {role}: IAM could not be reached after {n} attempts ({d})."
            ),
        )
        with self.database.write() as q:
            _pending(q).finish_image(image_id, values, self.owner)
        log.info("image %s role %s: %s", image_id, role, _describe(outcome))

    @staticmethod
    def _ask(question: Callable[[], Outcome]) -> Outcome:
        """The outcome of a check; an error of our own counts as an attempt that did not get through,
        so it is retried a bounded number of times like an unreachable registry, never for ever."""
        try:
            return question()
        except Exception as error:
            log.exception("checking failed")
            return Unreachable(f"internal error: {type(error).__name__}")

    def _decision(self, row: Any, outcome: Outcome, gave_up: Callable[[int, str], Failed]) -> dict[str, Any]:
        now = self.clock()
        if isinstance(outcome, Unreachable):
            attempts = row["check_attempts"] + 1
            if attempts < self.options.attempts:
                return {"check_attempts": attempts, "check_after": now + self.options.pause(attempts)}
            outcome = gave_up(attempts, outcome.detail)
            return {"check_attempts": attempts, **self.policy.settle(row, now, outcome.reason)}
        failure = outcome.reason if isinstance(outcome, Failed) else None
        return self.policy.settle(row, now, failure)


def _describe(outcome: Outcome) -> str:
    if isinstance(outcome, Resolved):
        return f"resolved to {outcome.container_image}"
    if isinstance(outcome, Failed):
        return f"failed: {outcome.reason}"
    return f"registry unreachable: {outcome.detail}"


def _pending(q: Queries) -> PendingChecks:
    """The pending-transition statements of a transaction, for this domain's in-progress statuses."""
    return PendingChecks(q.conn, in_progress=PENDABLE)
