"""The opportunistic batcher: concurrent callers share batches, each gets its own output or the error."""

from __future__ import annotations

import threading
import time

import pytest

from geosleuth.tools.batcher import Batcher


def test_a_lone_caller_runs_at_once_with_a_batch_of_one():
    seen: list[list[int]] = []
    batcher = Batcher(lambda xs: seen.append(list(xs)) or [x + 1 for x in xs])
    assert batcher(1) == 2 and batcher(5) == 6
    assert seen == [[1], [5]] and batcher.largest == 1


def test_threads_that_arrive_while_a_batch_runs_form_the_next_batch_and_get_their_own_outputs():
    started = threading.Event()

    def slow_double(xs):
        started.set()
        time.sleep(0.05)
        return [2 * x for x in xs]

    batcher = Batcher(slow_double, max_batch=4)
    results: dict[int, int] = {}

    def call(i: int) -> None:
        results[i] = batcher(i)

    first = threading.Thread(target=call, args=(0,))
    first.start()
    started.wait()
    rest = [threading.Thread(target=call, args=(i,)) for i in range(1, 10)]
    for t in rest:
        t.start()
    for t in (first, *rest):
        t.join()
    assert results == {i: 2 * i for i in range(10)}
    assert batcher.largest == 4  # capped at max_batch
    assert batcher.batches < 10  # the nine waiting calls shared batches


def test_every_input_of_a_failed_batch_gets_the_error_and_the_batcher_recovers():
    def fails_on_three(xs):
        if 3 in xs:
            raise ValueError("three is bad")
        return list(xs)

    batcher = Batcher(fails_on_three)
    with pytest.raises(ValueError, match="three is bad"):
        batcher(3)
    assert batcher(4) == 4


def test_a_run_that_loses_outputs_is_an_error_not_a_silent_mismatch():
    with pytest.raises(RuntimeError, match="1 inputs gave 0 outputs"):
        Batcher(lambda xs: [])(1)
    with pytest.raises(ValueError, match="at least 1"):
        Batcher(list, max_batch=0)
