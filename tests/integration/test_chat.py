"""`geosleuth chat` driven through a pseudo-terminal, as a person types into it.

With the policy planner (no LLM): the steps stream, /guess, /trace and /quit work, "why not X?" is
answered from the evidence ledger, other questions get a clear "needs an LLM" reply, and the session
resumes from its checkpoint without re-running tools. Piped /guess and /quit act while the first
analysis still runs, and a session quit mid-analysis finishes it when resumed.
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
from scripted_decisions import PARIS as PARIS_SIGN
from scripted_decisions import propose, reply

from geosleuth.core.paths import source_root

EXAMPLES = source_root() / "examples"
GEOSLEUTH = str(Path(sys.executable).with_name("geosleuth"))
PARIS = EXAMPLES / "fr_paris_cafe_de_flore.jpg"
ATHENS = EXAMPLES / "gr_athens_pharmacy.jpg"
TEXT_TOOLS = "ocr,text_clues,gazetteer"
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
    reply = term.expect("you> ")
    assert "France over Portugal, 1 : " in reply and "For France: " in reply and "For Portugal: " in reply
    assert "Questions need an LLM" not in reply
    term.send("read the sign again")
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


def test_why_not_is_answered_from_the_ledger_without_an_llm(tmp_path, monkeypatch):
    from geosleuth.core.config import Settings
    from geosleuth.core.photo import load_photo
    from geosleuth.run.chat import ChatSession
    from geosleuth.run.traces import TraceStore

    settings = Settings(planner="policy", tools=TEXT_TOOLS.split(","), use_metadata=False)
    traces = TraceStore(tmp_path / "traces.sqlite")
    sessions = tmp_path / "chat.sqlite"
    talk = ChatSession(load_photo(ATHENS), settings, traces=traces, sessions_db=sessions)
    assert talk.start() is False and talk.guess.country_code == "GR" and not talk.can_answer
    steps = talk.state["steps"]

    def no_turn(*args):
        raise AssertionError("a ledger answer must not run the graph (tools or LLM)")

    monkeypatch.setattr(talk, "_turn", no_turn)
    reply = talk.ask("why not Cyprus?")
    lines = reply.splitlines()
    assert lines[0].startswith("Greece over Cyprus, 1 : ") and len(lines) <= 6
    for_greece = next(line for line in lines if line.startswith("For Greece: "))
    assert "gazetteer (" in for_greece and "Athens" in for_greece and "text_clues (" in for_greece
    assert "For Cyprus: nothing." in lines
    assert talk.ask("why not Atlantis?") == (
        "Atlantis is not a known country; ask about a country by name or ISO code."
    )
    assert "United States" in talk.ask("what would change your mind?")
    assert talk.state["steps"] == steps and talk.state["llm_calls"] == 0

    runs = {run["id"]: run for run in traces.list_runs()}
    asked = talk.trace_ids[1]
    assert runs[asked]["kind"] == "chat" and runs[asked]["guess_country"] == "GR"
    kinds = [(step["kind"], step["name"]) for step in traces.steps(asked)]
    assert kinds == [("user", "user"), ("commit", "ledger")]
    assert traces.steps(asked)[1]["output"]["rationale"] == reply

    again = ChatSession(load_photo(ATHENS), settings, session_id=talk.session_id, sessions_db=sessions)
    assert again.start() is True  # the conversation persisted in the checkpoint
    messages = [(m.type, m.content) for m in again.state["messages"]]
    assert messages[:2] == [("human", "why not Cyprus?"), ("ai", reply)] and len(messages) == 6


def test_guess_during_the_analysis_fuses_the_evidence_so_far():
    from geosleuth.app.cli_chat import _so_far
    from geosleuth.core.state import Evidence
    from geosleuth.run.fusion import prior_belief

    prior = prior_belief("gdp")
    read = Evidence(tool="ocr", summary="read 1 line")
    assert _so_far(prior, []) == ("still looking (0 tools run)", "")
    assert _so_far(prior, [read]) == ("still looking (1 tool run)", "")
    phone = Evidence(tool="text_clues", summary="phone +30 -> GR", country_likelihoods={"GR": 1.0})
    place = Evidence(tool="gazetteer", summary="Athens, Attica, GR", country_likelihoods={"GR": 1.0})
    answer, rests = _so_far(prior, [read, phone, place])
    assert answer.startswith("so far (3 tools run): Athens, Attica, Greece")
    assert "sure of the country, against United States" in rests and "text_clues (phone +30 -> GR) ×" in rests


def read_until(process: subprocess.Popen, text: str) -> str:
    """Read the process's stdout line by line until a line holds `text`; return all lines read."""
    seen = ""
    while text not in seen:
        line = process.stdout.readline()
        assert line, f"exited before {text!r}; got:\n{seen}"
        seen += line
    return seen


@pytest.mark.slow
def test_piped_guess_and_quit_act_during_the_analysis_and_the_session_resumes(tmp_path):
    env = chat_env(tmp_path)
    args = [GEOSLEUTH, "chat", "--planner", "policy", "--no-metadata", "--tools", TEXT_TOOLS,
            "--sessions", str(tmp_path / "chat.sqlite")]
    done = subprocess.run(
        [*args, str(ATHENS)], input="/guess\n/quit\n", capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert re.search(r"^still looking \(0 tools run\)$", done.stdout, re.MULTILINE), done.stdout
    assert re.search(r"stopped during the analysis; session \w+ saved", done.stdout)
    assert "answer: " not in done.stdout and "calling" not in done.stdout  # it did not wait for the analysis

    cut = subprocess.Popen(
        [*args, str(ATHENS)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
    )
    session = re.search(r"session (\w+) \(resume", read_until(cut, "resume with")).group(1)
    read_until(cut, "→ calling text_clues")  # OCR is in and checkpointed
    cut.stdin.write("/guess\n")
    cut.stdin.flush()
    assert "still looking (1 tool run)" in read_until(cut, "still looking")  # OCR alone names no country
    cut.stdin.write("/quit\n")
    cut.stdin.flush()
    assert f"session {session} saved" in read_until(cut, "stopped during the analysis")
    assert cut.wait(timeout=60) == 0

    resumed = subprocess.run(
        [*args, "--session", session, str(ATHENS)], input="/guess\n/trace\n", capture_output=True,
        text=True, env=env, timeout=600,
    )
    assert resumed.returncode == 0, resumed.stderr
    out = resumed.stdout
    assert "calling ocr" not in out and "calling gazetteer" in out  # the cut-short analysis is finished
    answer = re.search(r"^resumed: (.*)$", out, re.MULTILINE).group(1)
    assert answer.startswith("Athens, Attica, Greece") and "sure of the country" in answer
    assert re.search(r"^  \d+ % sure of the country, against [\w ]+: .*gazetteer \(", out, re.MULTILINE)
    assert re.search(r"^(still looking|so far) \(\d tools? run\)", out, re.MULTILINE)  # /guess while it ran
    assert "3 tool calls" in out  # /trace, answered after the analysis
    assert f"session {session} saved" in out


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
        head = {"id": f"c{len(type(self).requests)}", "created": 0, "model": "scripted"}
        usage = {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}
        if not request.get("stream"):
            message = {"role": "assistant", "content": content}
            self._reply({**head, "object": "chat.completion", "usage": usage,
                         "choices": [{"index": 0, "finish_reason": "stop", "message": message}]})
            return
        # Server-sent events, as OpenAI and llama.cpp stream: the reply in two pieces, then the usage.
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        half = len(content) // 2
        chunks = [{"choices": [{"index": 0, "delta": {"role": "assistant", "content": content[:half]}}]},
                  {"choices": [{"index": 0, "delta": {"content": content[half:]}, "finish_reason": "stop"}]},
                  {"choices": [], "usage": usage}]
        for chunk in chunks:
            event = {**head, "object": "chat.completion.chunk", **chunk}
            self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")


@pytest.fixture
def scripted_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), ScriptedOpenAI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def test_chat_question_makes_the_llm_zoom_then_answer(tmp_path, scripted_server):
    first = propose(PARIS_SIGN)  # the locate turn: one call, after the look-first pass
    zoom = reply("Reading the left half again.", tools=("zoom",), box=[0, 0, 0.5, 1])
    answer = reply("The left half reads the café's name again; still Paris, not Portugal.", PARIS_SIGN)
    ScriptedOpenAI.script = [first, zoom, answer]
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
    # the look-first answer is shown once the tools have run, before the model's first call
    floor = head.index("answer so far (look-first): Paris")
    assert head.index("gazetteer (") < floor < head.index("answer: ")
    term.send("read the sign on the left again: why not Portugal?")
    turn = term.expect("you> ", timeout=120)
    assert "→ calling zoom" in turn and "zoom (" in turn
    assert "still Paris, not Portugal" in turn
    term.send("/quit")
    term.expect("saved")
    assert term.close() == 0
    assert ScriptedOpenAI.script == []
    question = ScriptedOpenAI.requests[1]["messages"][-1]["content"]
    assert "why not Portugal?" in question and "zoom" in question
    assert ScriptedOpenAI.requests[1]["response_format"]["type"] == "json_schema"
    final = ScriptedOpenAI.requests[2]["response_format"]["json_schema"]["schema"]
    assert "tools" not in final["properties"]  # the second round reads the zoom; it calls nothing more
