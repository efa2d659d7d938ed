"""OSM look-ups against a real loopback HTTP server that plays recorded-shape Overpass/Nominatim answers."""

from __future__ import annotations

import socket
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from geosleuth.core.config import Settings
from geosleuth.tools import osm
from geosleuth.tools.osm import geocode, query_overpass

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "osm"  # tests/fixtures/osm
JSON = "application/json"
XML = "application/osm3s+xml"
AROUND = (48.2008, 16.3610, 2.0)


@dataclass
class Reply:
    status: int = 200
    body: str = ""
    content_type: str = JSON
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


class FakeServer:
    """A loopback HTTP server replying from a script; the last reply repeats."""

    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.requests: list[tuple[str, str, str]] = []
        self.agents: list[str | None] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _reply(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                owner.requests.append((self.command, self.path, body))
                owner.agents.append(self.headers.get("User-Agent"))
                reply = owner.replies.pop(0) if len(owner.replies) > 1 else owner.replies[0]
                time.sleep(reply.delay_s)
                data = reply.body.encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(data)))
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up first (the timeout tests)

            do_GET = do_POST = _reply

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    fake = FakeServer()
    yield fake
    fake.close()


@pytest.fixture
def closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def overpass(server: FakeServer, names=("Café Sperl",), **kwargs):
    kwargs.setdefault("around", AROUND)
    kwargs.setdefault("timeout_s", 5.0)
    return query_overpass(list(names), endpoint=server.url + "/api/interpreter", **kwargs)


def sent_query(server: FakeServer, i: int = 0) -> str:
    method, path, body = server.requests[i]
    assert (method, path) == ("POST", "/api/interpreter")
    return urllib.parse.parse_qs(body)["data"][0]


# --- Overpass over HTTP -----------------------------------------------------------------------


def test_overpass_json_success(server):
    server.replies = [Reply(body=fixture("overpass_named.json"))]
    evidence = overpass(server, names=["Café Sperl", "Sperlgasse"])
    assert evidence.ok and evidence.tool == "osm", evidence.error
    assert len(evidence.candidates) == 3
    way = [c for c in evidence.candidates if "way 220000001" in c.label][0]
    assert (way.lat, way.lon) == pytest.approx((48.1998807, 16.3595116))  # the way's centre
    assert evidence.places == ["CAFÉ SPERL", "Café Sperl", "Sperlgasse"]
    assert evidence.country_likelihoods == {"AT": 1}
    assert evidence.candidates[0].country_code == "AT"
    query = sent_query(server)
    assert "(around:2000,48.200800,16.361000)" in query
    assert "^(Café Sperl|Sperlgasse)$" in query


def test_overpass_xml_success(server):
    server.replies = [Reply(body=fixture("overpass_named.xml"), content_type=XML)]
    evidence = overpass(server)
    assert evidence.ok, evidence.error
    assert {c.label.split(" (")[0] for c in evidence.candidates} == {"Café Sperl", "Sperlgasse"}


def test_overpass_empty_is_no_result(server):
    server.replies = [Reply(body=fixture("overpass_empty.json"))]
    evidence = overpass(server)
    assert evidence.error.type == "no_result" and evidence.strength == 0


def test_overpass_cache_hit_skips_network(server, tmp_path):
    server.replies = [Reply(body=fixture("overpass_named.json"))]
    first = overpass(server, cache_dir=tmp_path)
    second = overpass(server, cache_dir=tmp_path)
    assert len(server.requests) == 1
    assert first.ok and second.ok
    assert (first.inputs["cached"], second.inputs["cached"]) == (False, True)
    assert [c.label for c in first.candidates] == [c.label for c in second.candidates]
    assert len(list(tmp_path.glob("*.json"))) == 1
    overpass(server, names=["Other"], cache_dir=tmp_path)
    assert len(server.requests) == 2  # another query is another key


def test_overpass_retries_429_then_succeeds(server, tmp_path):
    server.replies = [
        Reply(status=429, body="Too Many Requests", content_type="text/plain", headers={"Retry-After": "0"}),
        Reply(status=503, body="busy", content_type="text/plain"),
        Reply(body=fixture("overpass_named.json")),
    ]
    osm_backoff = osm.BACKOFF_S
    osm.BACKOFF_S = 0.05
    try:
        evidence = overpass(server, retries=3, cache_dir=tmp_path)
    finally:
        osm.BACKOFF_S = osm_backoff
    assert evidence.ok, evidence.error
    assert len(server.requests) == 3


def test_overpass_rate_limited_after_retries(server):
    server.replies = [Reply(status=429, body="", content_type="text/plain", headers={"Retry-After": "0"})]
    evidence = overpass(server, retries=2)
    assert evidence.error.type == "rate_limited"
    assert len(server.requests) == 3


def test_overpass_gateway_timeout_is_timeout(server):
    server.replies = [Reply(status=504, body="Gateway Timeout", content_type="text/plain",
                            headers={"Retry-After": "0"})]
    assert overpass(server, retries=1).error.type == "timeout"


def test_overpass_runtime_error_remark_is_timeout_and_not_cached(server, tmp_path):
    server.replies = [Reply(body=fixture("overpass_remark_timeout.json"))]
    evidence = overpass(server, cache_dir=tmp_path)
    assert evidence.error.type == "timeout"
    assert "Query timed out" in evidence.error.message
    assert list(tmp_path.iterdir()) == []
    overpass(server, cache_dir=tmp_path)
    assert len(server.requests) == 2


def test_overpass_malformed_body(server, tmp_path):
    server.replies = [Reply(body=fixture("overpass_truncated.json"))]
    evidence = overpass(server, cache_dir=tmp_path)
    assert evidence.error.type == "unavailable" and "malformed" in evidence.error.message
    assert list(tmp_path.iterdir()) == []


def test_overpass_html_on_200_is_malformed(server):
    server.replies = [Reply(body="<html><body>maintenance</body></html>", content_type="text/html")]
    assert "malformed" in overpass(server).error.message


def test_overpass_bad_request_is_bad_input(server):
    server.replies = [Reply(status=400, body=fixture("overpass_bad_request.html"), content_type="text/html")]
    evidence = overpass(server)
    assert evidence.error.type == "bad_input"
    assert 'Unknown type "nodx"' in evidence.error.message
    assert len(server.requests) == 1  # not retried


def test_overpass_bad_arguments_never_reach_the_network(server):
    assert overpass(server, names=["  ", ""]).error.type == "bad_input"
    assert overpass(server, around=None).error.type == "bad_input"
    assert server.requests == []


def test_overpass_closed_port_fails_fast(closed_port):
    start = time.perf_counter()
    evidence = query_overpass(["Café Sperl"], around=AROUND, endpoint=f"http://127.0.0.1:{closed_port}/api",
                              timeout_s=10.0, retries=3)
    assert time.perf_counter() - start < 2.0
    assert evidence.error.type == "unavailable"


def test_overpass_slow_server_times_out_within_budget(server):
    server.replies = [Reply(body=fixture("overpass_named.json"), delay_s=3.0)]
    start = time.perf_counter()
    evidence = overpass(server, timeout_s=0.6, retries=2)
    assert time.perf_counter() - start < 1.5
    assert evidence.error.type == "timeout"


# --- Nominatim over HTTP ----------------------------------------------------------------------


def test_the_osm_tool_sends_the_settings_user_agent(server, tmp_path):
    from geosleuth.core.state import Candidate
    from geosleuth.tools import get_spec
    from geosleuth.tools.spec import ToolCall

    server.replies = [Reply(body=fixture("overpass_named.json"))]
    settings = Settings(overpass_url=server.url, user_agent="geosleuth-test/2", cache_dir=tmp_path)
    call = ToolCall(settings=settings, lines=("Café de Flore",), point=Candidate(lat=48.85, lon=2.33))
    assert get_spec("osm").run(call).ok
    assert server.agents == ["geosleuth-test/2"]


def test_geocode_success(server):
    server.replies = [Reply(body=fixture("nominatim_search.json"))]
    evidence = geocode("Karlsplatz", endpoint=server.url, timeout_s=5.0)
    assert evidence.ok, evidence.error
    method, path, _ = server.requests[0]
    params = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
    assert method == "GET" and path.startswith("/search?")
    assert params["q"] == ["Karlsplatz"] and params["format"] == ["json"]
    assert [c.country_code for c in evidence.candidates] == ["AT", "DE"]
    assert evidence.candidates[0].lat == pytest.approx(48.2009167)
    assert 0.1 <= evidence.candidates[0].radius_km < 1.0  # a square, from its bounding box
    likes = evidence.country_likelihoods
    assert likes["AT"] > likes["DE"] > 0
    assert evidence.places[0].startswith("Karlsplatz, Wieden, Wien")


def test_the_geocode_tool_searches_the_photo_lines_with_the_runs_endpoint(server, tmp_path):
    from geosleuth.tools import get_spec
    from geosleuth.tools.spec import ToolCall

    server.replies = [Reply(body=fixture("nominatim_search.json"))]
    settings = Settings(nominatim_url=server.url, user_agent="geosleuth-test/1", cache_dir=tmp_path)
    evidence = get_spec("geocode").run(ToolCall(settings=settings, lines=("Karlsplatz", "Wien")))
    assert evidence.tool == "geocode" and evidence.ok and evidence.candidates[0].country_code == "AT"
    params = urllib.parse.parse_qs(urllib.parse.urlsplit(server.requests[0][1]).query)
    assert params["q"] == ["Karlsplatz, Wien"]
    assert server.agents == ["geosleuth-test/1"]


def test_geocode_endpoint_with_path_prefix(server):
    server.replies = [Reply(body=fixture("nominatim_search.json"))]
    assert geocode("Karlsplatz", endpoint=server.url + "/nominatim/").ok
    assert server.requests[0][1].startswith("/nominatim/search?")


def test_geocode_cache_hit(server, tmp_path):
    server.replies = [Reply(body=fixture("nominatim_search.json"))]
    first = geocode("Karlsplatz", endpoint=server.url, cache_dir=tmp_path)
    second = geocode("Karlsplatz", endpoint=server.url, cache_dir=tmp_path)
    assert len(server.requests) == 1
    assert second.inputs["cached"] and second.places == first.places


def test_geocode_retries_429(server):
    server.replies = [
        Reply(status=429, body="", content_type="text/plain", headers={"Retry-After": "0"}),
        Reply(body=fixture("nominatim_search.json")),
    ]
    evidence = geocode("Karlsplatz", endpoint=server.url, retries=2)
    assert evidence.ok, evidence.error
    assert len(server.requests) == 2


def test_geocode_rate_limited_and_server_errors(server):
    server.replies = [Reply(status=429, body="", content_type="text/plain", headers={"Retry-After": "0"})]
    assert geocode("x", endpoint=server.url, retries=1).error.type == "rate_limited"
    server.replies = [Reply(status=500, body="oops", content_type="text/plain", headers={"Retry-After": "0"})]
    assert geocode("x", endpoint=server.url, retries=0).error.type == "unavailable"


def test_geocode_empty_and_malformed(server):
    server.replies = [Reply(body="[]")]
    assert geocode("Nowhere at all", endpoint=server.url).error.type == "no_result"
    server.replies = [Reply(body='[{"place_id": 1, "lat": "4')]
    evidence = geocode("Karlsplatz", endpoint=server.url)
    assert evidence.error.type == "unavailable" and "malformed" in evidence.error.message
    assert geocode("   ", endpoint=server.url).error.type == "bad_input"


def test_geocode_closed_port_fails_fast(closed_port):
    start = time.perf_counter()
    evidence = geocode("Karlsplatz", endpoint=f"http://127.0.0.1:{closed_port}", timeout_s=10.0, retries=3)
    assert time.perf_counter() - start < 2.0
    assert evidence.error.type == "unavailable"


def test_geocode_unresolvable_host_is_unavailable():
    evidence = geocode("Karlsplatz", endpoint="http://nominatim.invalid", timeout_s=5.0, retries=3)
    assert evidence.error.type in {"unavailable", "timeout"}


def test_the_llm_planner_looks_up_osm_around_a_checked_place(server, tmp_path):
    from scripted_chat import backend, scripted
    from scripted_decisions import place, propose

    from geosleuth.core.config import Settings
    from geosleuth.core.photo import load_photo
    from geosleuth.run.locate import locate_photo

    server.replies = [Reply(body=fixture("overpass_empty.json"))]
    orlando = place("Orlando", "US", region="Florida", reason="near the space center")  # 60 km away
    settings = Settings(use_metadata=False, tools=("ocr", "text_clues", "gazetteer", "osm"),
                        overpass_url=server.url + "/api/interpreter", cache_dir=tmp_path, max_seconds=120,
                        stop_confidence=1.0)  # the look pass would stop at Titusville otherwise
    photo = load_photo(Path(__file__).resolve().parents[2] / "examples" / "us_kennedy_space_center.jpg")
    result = locate_photo(photo, settings, planner="llm", chat=(scripted(propose(orlando)), backend()))
    osm = [e for e in result.evidence if e.tool == "osm"]
    assert len(osm) == 2 and len(server.requests) == 2  # the look pass's, then one around Orlando
    assert "checked: Orlando" in next(e.summary for e in result.evidence if e.tool == "hypothesis")
    lat, lon, _ = osm[1].inputs["around"]
    assert abs(lat - 28.54) < 0.1 and abs(lon + 81.38) < 0.1
    assert f"{lat:.6f},{lon:.6f}" in sent_query(server, 1)
    assert result.guess.place == "Titusville"  # read on the sign: a place the model only names ranks below
