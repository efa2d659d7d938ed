"""`geosleuth chat` driven through a pseudo-terminal, as a person types into it.

With the policy planner (no LLM): the steps stream, /guess, /trace and /quit work, questions get a
clear "needs an LLM" reply, and the session resumes from its checkpoint without re-running tools.
With an LLM: an OpenAI-compatible server on loopback replies from a script, so the exact path of a
question (the model asks for a zoom, then answers) is checked through the real HTTP client.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from scripted_decisions import commit_decision, decide, paris_answer

from geosleuth.core.paths import source_root

EXAMPLES = source_root() / "examples"
GEOSLEUTH = str(Path(sys.executable).with_name("geosleuth"))
PARIS = EXAMPLES / "fr_paris_cafe_de_flore.jpg"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class Terminal:
    """A `geosleuth chat` process on a pseudo-terminal: type lines, wait for text."""

    def __init__(self, *args: str, env: dict[str, str]) -> None:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))  # no wrapped lines
        self.process = subprocess.Popen(
            [GEOSLEUTH, "chat", *args], stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True
        )
        os.close(slave)
        self.output = ""

    def expect(self, text: str, timeout: float = 300) -> str:
        """Read until `text` has appeared after what was already consumed; return what came before it."""
        deadline = time.monotonic() + timeout
        while text not in self.output:
            left = deadline - time.monotonic()
            assert left > 0, f"timed out waiting for {text!r}; got:\n{self.output}"
            ready, _, _ = select.select([self.master], [], [], min(left, 1.0))
            if ready:
                try:
                    chunk = os.read(self.master, 65536).decode("utf-8", "replace")
                except OSError:  # the child closed the terminal
                    chunk = ""
                if not chunk and self.process.poll() is not None:
                    assert text in self.output, f"exited before {text!r}; got:\n{self.output}"
                self.output += ANSI.sub("", chunk).replace("\r", "")
        before, _, self.output = self.output.partition(text)
        return before

    def send(self, line: str) -> None:
        """Type a line and press Enter."""
        os.write(self.master, (line + "\n").encode())

    def close(self) -> int:
        """Wait for the process to end and return its exit code."""
        code = self.process.wait(timeout=60)
        os.close(self.master)
        return code


def chat_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "NO_COLOR": "1",
        "COLUMNS": "200",
        "GEOSLEUTH_TRACE_DB": str(tmp_path / "traces.sqlite"),
    }
    env.pop("GEOSLEUTH_LLM_BASE_URL", None)
    return {**env, **extra}


@pytest.mark.slow
def test_chat_with_the_policy_planner_and_resume(tmp_path):
    env = chat_env(tmp_path)
    args = [
        "--planner",
        "policy",
        "--no-metadata",
        "--tools",
        "ocr,text_clues,gazetteer",
        "--sessions",
        str(tmp_path / "chat.sqlite"),
        str(PARIS),
    ]
    term = Terminal(*args, env=env)
    head = term.expect("you> ")
    session = re.search(r"session (\w+) \(resume", head).group(1)
    assert "→ calling ocr" in head and "Café de Flore" in head and "text_clues" in head  # steps stream live
    assert "answer: Paris, Île-de-France, France" in head
    term.send("/guess")
    assert "Paris, Île-de-France, France" in term.expect("you> ")
    term.send("/trace")
    table = term.expect("you> ")
    assert "3 tool calls" in table and "gazetteer" in table and "traces:" in table
    term.send("why not Portugal?")
    assert "Questions need an LLM" in term.expect("you> ")
    term.send("/quit")
    term.expect(f"session {session} saved")
    assert term.close() == 0

    again = Terminal(*args[:-1], "--session", session, str(PARIS), env=env)
    head = again.expect("you> ")
    assert "resumed: Paris, Île-de-France, France" in head and "calling" not in head  # nothing re-run
    again.send("/trace")
    assert "3 tool calls" in again.expect("you> ")
    again.send("/quit")
    again.expect("saved")
    assert again.close() == 0


class ScriptedOpenAI(BaseHTTPRequestHandler):
    """An OpenAI-compatible endpoint on loopback that answers chat completions from a script."""

    script: list[dict] = []
    requests: list[dict] = []

    def log_message(self, *args) -> None:  # noqa: D102 - quiet
        pass

    def _reply(self, payload: dict) -> None:
        body = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802, D102
        self._reply({"object": "list", "data": [{"id": "scripted", "object": "model"}]})

    def do_POST(self) -> None:  # noqa: N802, D102
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append(request)
        content = json.dumps(type(self).script.pop(0))
        self._reply(
            {
                "id": f"c{len(type(self).requests)}",
                "object": "chat.completion",
                "created": 0,
                "model": "scripted",
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": content},
                    }
                ],
                "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
            }
        )


@pytest.fixture
def scripted_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), ScriptedOpenAI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def test_chat_question_makes_the_llm_zoom_then_answer(tmp_path, scripted_server):
    first = decide("text_clues", "gazetteer", reason="clues")
    done = commit_decision()
    answer = paris_answer(rationale="A Paris address in French.")
    zoom = decide("zoom", reason="left sign", box=[0, 0, 0.5, 1])
    reply = {**answer, "rationale": "The left half reads the café's name again; still Paris, not Portugal."}
    ScriptedOpenAI.script = [first, done, answer, zoom, done, reply]
    ScriptedOpenAI.requests = []
    env = chat_env(
        tmp_path,
        GEOSLEUTH_LLM_BASE_URL=scripted_server,
        GEOSLEUTH_LLM_MODEL="scripted",
        GEOSLEUTH_STOP_CONFIDENCE="1.0",
    )
    term = Terminal(
        "--planner",
        "llm",
        "--no-metadata",
        "--tools",
        "ocr,text_clues,gazetteer",
        "--sessions",
        str(tmp_path / "chat.sqlite"),
        str(PARIS),
        env=env,
    )
    head = term.expect("you> ", timeout=120)
    assert "llm planner" in head and "answer: Paris" in head
    term.send("read the sign on the left again: why not Portugal?")
    turn = term.expect("you> ", timeout=120)
    assert "→ calling zoom" in turn and "zoom (" in turn
    assert "still Paris, not Portugal" in turn
    term.send("/quit")
    term.expect("saved")
    assert term.close() == 0
    assert ScriptedOpenAI.script == []
    question = ScriptedOpenAI.requests[3]["messages"][-1]["content"]
    assert "why not Portugal?" in question and "zoom" in question
    assert ScriptedOpenAI.requests[3]["response_format"]["type"] == "json_schema"
