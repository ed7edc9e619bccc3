"""The bulk path: save batches of aggregates in a writer thread while the next is built.

The database drivers release the interpreter lock while they wait on I/O, so a
second thread that only saves lets building the next batch overlap with
writing the last one. Batches are saved in order, one transaction each; the
first error stops the writer and is raised to the producer at its next call.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Sequence
from types import TracebackType

from eventsourcing.domain import Aggregate

from domain.ledger import Ledger

_DONE = None


class BatchWriter:
    """``with BatchWriter(ledger) as writer: writer.put(batch)``; ``writer.events`` at the end."""

    def __init__(self, ledger: Ledger, depth: int = 2) -> None:
        self.ledger = ledger
        self.events = 0
        self._queue: queue.Queue[Sequence[Aggregate] | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="bulk-writer", daemon=True)

    def __enter__(self) -> BatchWriter:
        self._thread.start()
        return self

    def put(self, batch: Sequence[Aggregate]) -> None:
        self._raise_if_failed()
        self._queue.put(batch)

    def _run(self) -> None:
        while (batch := self._queue.get()) is not _DONE:
            if self._error is None:
                try:
                    self.events += self.ledger.save_batch(batch)
                except BaseException as exc:  # handed to the producer, not lost in the thread
                    self._error = exc

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._queue.put(_DONE)
        self._thread.join()
        if exc is None:
            self._raise_if_failed()
