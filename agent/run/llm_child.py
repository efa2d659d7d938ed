"""The embedded LLM's server process: xllamacpp serves one GGUF on loopback until its stdin closes.

`geosleuth.run.local_llm.LocalLLMServer` starts it as `python -m geosleuth.run.llm_child CONFIG` (CONFIG:
the JSON of `child_config`). In its own process the model loads while the parent goes on working (the
load holds the GIL), a killed or hung server can be stopped without taking the parent down, and the
server ends when the parent closes the pipe or dies. A model that does not load ends it with one line
on stderr that starts with `FAILED`.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

FAILED = "geosleuth-llm-child: failed: "
"""Prefix of the line the child writes on stderr when the model does not load."""
_serving: list[Any] = []
"""The running server, referenced until the process exits (its destructor never runs)."""


def child_config(
    model: str, *, alias: str, port: int, threads: int, context: int, slot_dir: str | None
) -> str:
    """Return the JSON argument of the child process (the server's settings)."""
    return json.dumps({"model": model, "alias": alias, "port": port, "threads": threads,
                       "context": context, "slot_dir": slot_dir})


def serve(config: dict[str, Any]) -> Any:
    """Load the model and start llama.cpp's server as `config` says; return the running server."""
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = config["model"]
    params.model_alias = {config["alias"]}
    params.n_ctx = config["context"]
    params.cpuparams.n_threads = config["threads"]
    params.cpuparams_batch.n_threads = config["threads"]
    params.use_jinja = True
    params.verbosity = 0  # llama.cpp logs every request on stderr otherwise
    params.hostnames = ["127.0.0.1"]
    params.port = config["port"]
    if config["slot_dir"]:
        params.slot_save_path = config["slot_dir"] + os.sep  # llama.cpp prepends it as is
    return xllamacpp.Server(params)


def main(argv: list[str]) -> int:
    """Serve until stdin closes; return 1 (after the FAILED line) when the model does not load."""
    try:
        _serving.append(serve(json.loads(argv[0])))
    except Exception as exc:  # noqa: BLE001 - the extension raises bare RuntimeErrors
        sys.stderr.write(f"{FAILED}{type(exc).__name__}: {exc}".replace("\n", " ") + "\n")
        sys.stderr.flush()
        return 1
    sys.stdin.buffer.read()  # until the parent closes the pipe, or dies
    os._exit(0)  # xllamacpp's destructor can wait forever for a request in flight (measured)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
