"""Opportunistic batching: threads that each hold one input share one model call.

A model that runs faster on a batch than on its inputs one by one (the scene model on a GPU, for
instance) is wrapped in a `Batcher`. A thread calling it queues its input; if no call is in flight, it
takes every queued input (up to `max_batch`) and runs them as one batch, else it waits for the thread
that does. Nothing waits for a batch to fill: a lone caller runs at once with a batch of one, and
while a batch runs, the inputs that arrive meanwhile form the next one. So an eval with several worker
threads batches by itself, and a single `locate` pays nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

In = TypeVar("In")
Out = TypeVar("Out")


class _Slot(Generic[In, Out]):
    """One queued input and, once its batch has run, its output or the batch's exception."""

    def __init__(self, item: In) -> None:
        self.item = item
        self.done = False
        self.output: Out | None = None
        self.error: BaseException | None = None

    def result(self) -> Out:
        if self.error is not None:
            raise self.error
        return self.output  # type: ignore[return-value]  # set whenever done and no error


class Batcher(Generic[In, Out]):
    """Run `run(inputs) -> outputs` (one output per input, in order) on inputs queued by many threads."""

    def __init__(self, run: Callable[[Sequence[In]], Sequence[Out]], *, max_batch: int = 32) -> None:
        """Wrap `run`; one batch holds at most `max_batch` inputs."""
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        self._run = run
        self.max_batch = max_batch
        self._pending: list[_Slot[In, Out]] = []
        self._busy = False
        self._ready = threading.Condition()
        self.batches = 0
        """How many batches have run (for benches and tests)."""
        self.items = 0
        """How many inputs those batches held."""
        self.largest = 0
        """The largest batch run so far."""

    def __call__(self, item: In) -> Out:
        """Return the output for `item`, computed in a batch with whatever other threads queued."""
        slot: _Slot[In, Out] = _Slot(item)
        with self._ready:
            self._pending.append(slot)
            while not slot.done and self._busy:
                self._ready.wait()
            if slot.done:
                return slot.result()
            self._busy = True
        try:
            while not slot.done:
                self._run_next()
        finally:
            with self._ready:
                self._busy = False
                self._ready.notify_all()
        return slot.result()

    def _run_next(self) -> None:
        """Take up to `max_batch` queued inputs, run them as one batch, and hand each its output."""
        with self._ready:
            batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
        try:
            outputs = list(self._run([s.item for s in batch]))
            if len(outputs) != len(batch):
                raise RuntimeError(f"a batch of {len(batch)} inputs gave {len(outputs)} outputs")
        except BaseException as exc:  # every input of a failed batch gets the failure
            for s in batch:
                s.error = exc
        else:
            for s, out in zip(batch, outputs, strict=True):
                s.output = out
        with self._ready:
            self.batches += 1
            self.items += len(batch)
            self.largest = max(self.largest, len(batch))
            for s in batch:
                s.done = True
            self._ready.notify_all()
