"""Build the next batches in a background thread while the model trains on this one.

Making a batch is numpy gathers and tensor copies (they release the GIL); on a GPU the model
would otherwise wait for them at every step (Chemprop users see ~20 % GPU load for this reason,
chemprop#457). One thread a few batches ahead is enough: a batch takes far less time to build
than to train on.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
_DONE = object()


def prefetched(items: Iterable[T], depth: int = 2) -> Iterator[T]:
    """``items`` in order, each made in a background thread up to ``depth`` ahead of the
    consumer. An exception in the producer is raised here, in the consumer; a consumer that
    stops early leaves the producer to finish its current item and exit."""
    ready: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                ready.put(item)
        except BaseException as err:  # handed to the consumer, raised there
            ready.put(_Failure(err))
        ready.put(_DONE)

    thread = threading.Thread(target=produce, name="molgraph-batches", daemon=True)
    thread.start()
    try:
        while (item := ready.get()) is not _DONE:
            if isinstance(item, _Failure):
                raise item.error
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                ready.get(timeout=0.1)
            except queue.Empty:
                pass


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error
