"""`--backend ray`: the same eval, one Ray task per photo, on a Ray cluster or a local one.

`ray.init(address=...)` joins a running cluster (`auto`, or `ray://host:port`); with no address a
local Ray is started with `workers` CPUs. Each task runs `geosleuth.evals.job.evaluate_one` in a Ray worker
process, which enforces the per-image limit; the driver (the eval runner) stays the only writer of
the results file. Workers need geosleuth installed (or a `runtime_env` set on the cluster).
"""

from __future__ import annotations

from typing import Any

from geosleuth.core.extras import require
from geosleuth.evals.datasets import Sample
from geosleuth.evals.job import EvalJob, evaluate_one


class RayBackend:
    """Runs photos as Ray tasks (one CPU each, no retries: a failure is that photo's error row)."""

    def __init__(self, job: EvalJob, *, workers: int, address: str | None = None) -> None:
        """Connect to Ray at `address`, or start a local Ray with `workers` CPUs when None."""
        require("ray", "ray", "--backend ray")
        import ray

        self._started = not ray.is_initialized()
        if self._started:
            options: dict[str, Any] = {"address": address} if address else {"num_cpus": workers}
            ray.init(**options, include_dashboard=False, log_to_driver=False, configure_logging=False)
        self._ray = ray
        self._job = ray.put(job)
        self._task = ray.remote(num_cpus=1, max_retries=0)(_evaluate)

    def submit(self, sample: Sample) -> Any:
        """Start one photo as a task; return its ObjectRef."""
        return self._task.remote(self._job, sample)

    def wait(self, handles: list[Any], timeout: float) -> list[Any]:
        """Return the refs whose task is done."""
        done, _ = self._ray.wait(handles, num_returns=1, timeout=timeout)
        if done:  # collect every other finished task too
            more, _ = self._ray.wait(handles, num_returns=len(handles), timeout=0)
            done = list(dict.fromkeys([*done, *more]))
        return done

    def result(self, handle: Any) -> dict[str, Any]:
        """Return the row of a finished task (a failed task raises; the runner records it)."""
        row: dict[str, Any] = self._ray.get(handle)
        return row

    def close(self, *, now: bool) -> None:
        """Disconnect (and stop the local Ray this backend started)."""
        if self._started:
            self._ray.shutdown()


def _evaluate(job: EvalJob, sample: Sample) -> dict[str, Any]:
    """Evaluate one photo as the Ray task (the job is passed by reference once, not per task)."""
    return evaluate_one(job, sample)
