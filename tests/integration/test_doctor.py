"""`geosleuth doctor`: run for real, against loopback endpoints and the real installation."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

from openai_stub import OpenAIStub, closed_port_url

from geosleuth.app.doctor import data_checks, llm_checks, retrieval_index_check, run_checks
from geosleuth.core.config import Settings

GEOSLEUTH = Path(sys.executable).with_name("geosleuth")


def _doctor(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GEOSLEUTH_")}
    return subprocess.run(
        [str(GEOSLEUTH), "doctor", *args], capture_output=True, text=True, timeout=120, cwd=tmp_path,
        env={**clean, "GEOSLEUTH_CACHE_DIR": str(tmp_path / "cache"), **env},
    )


def _by_name(checks: list[dict[str, str]]) -> dict[tuple[str, str], dict[str, str]]:
    return {(c["section"], c["name"]): c for c in checks}


def test_doctor_json_reports_every_section(tmp_path) -> None:
    with OpenAIStub() as stub:
        done = _doctor(
            tmp_path, "--json",
            GEOSLEUTH_OVERPASS_URL=stub.base_url + "/models",
            GEOSLEUTH_NOMINATIM_URL=closed_port_url(),
        )
    assert done.returncode == 0, done.stderr
    checks = _by_name(json.loads(done.stdout)["checks"])
    sections = {"llm", "image models", "clip", "ocr", "gpu", "data", "endpoints", "traces", "extras", "osm"}
    assert {section for section, _ in checks} == sections
    assert checks["image models", "efficientnet-lite2"]["status"] == "missing"  # exported on first use
    assert "not built yet" in checks["image models", "efficientnet-lite2"]["detail"]
    assert checks["image models", "onnxruntime"]["status"] == "ok"
    assert checks["image models", "retrieval_index"]["status"] == "unset"
    assert checks["endpoints", "overpass_url"]["status"] == "ok"
    assert checks["endpoints", "nominatim_url"]["status"] == "offline"
    assert checks["llm", "embedded weights"]["status"] == "ok"
    assert checks["llm", "embedded model"]["status"] == "missing"  # a fresh cache: assembled on first use
    assert checks["llm", "endpoint"]["status"] == "unset"
    assert checks["traces", "trace store"]["detail"].startswith(str(tmp_path / "cache" / "traces.sqlite"))
    assert checks["ocr", "rapidocr"]["status"] == "ok"
    assert not (tmp_path / "cache" / "models").exists()  # the doctor builds nothing


def test_data_sets_are_counted(shared_data) -> None:
    checks = {c.name: c for c in data_checks()}
    folders = [p for p in shared_data.iterdir() if (p / "labels.csv").is_file()]
    assert folders
    for folder in folders:
        with (folder / "labels.csv").open(newline="", encoding="utf-8") as handle:
            rows = sum(1 for _ in csv.DictReader(handle))
        assert checks[folder.name].status == "ok" and checks[folder.name].detail == f"{rows} labelled photos"


def test_doctor_table_exits_zero_with_everything_offline(tmp_path) -> None:
    done = _doctor(
        tmp_path, GEOSLEUTH_OVERPASS_URL=closed_port_url(), GEOSLEUTH_NOMINATIM_URL=closed_port_url(),
        GEOSLEUTH_LLM_BASE_URL=closed_port_url(), COLUMNS="200",
    )
    assert done.returncode == 0, done.stderr
    assert "geosleuth doctor" in done.stdout and "offline" in done.stdout and "unreachable" in done.stdout


def test_doctor_bad_settings_fail_in_one_line(tmp_path) -> None:
    done = _doctor(tmp_path, GEOSLEUTH_LLM_VISION="maybe")
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "llm_vision" in done.stderr


def test_llm_checks_describe_a_configured_endpoint(tmp_path) -> None:
    listing = {"data": [{"id": "vlm", "architecture": {"input_modalities": ["text", "image"]}}]}
    with OpenAIStub(listing) as stub:
        checks = {c.name: c for c in llm_checks(Settings(llm_base_url=stub.base_url, cache_dir=tmp_path))}
    assert checks["endpoint"].status == "ok"
    assert "model vlm: vision, JSON-schema decisions" in checks["endpoint"].detail
    assert checks["available"].status == "ok"
    auto = checks["planner auto"].detail  # an endpoint's model is used by auto only once measured
    assert auto.startswith("runs the policy planner: vlm is not measured no worse")
    assert "--planner llm" in auto


def test_a_damaged_model_file_is_reported(tmp_path) -> None:
    from geosleuth.run.local_llm import model_path

    path = model_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"GGUF" + bytes(100))
    checks = {c.name: c for c in run_checks(Settings(cache_dir=tmp_path, overpass_url=closed_port_url(),
                                                        nominatim_url=closed_port_url()))}
    assert checks["embedded model"].status == "error" and "damaged" in checks["embedded model"].detail
    assert checks["cuda"].status in {"ok", "missing"}


def test_the_retrieval_index_is_described_or_reported_unreadable(tmp_path) -> None:
    (tmp_path / "meta.json").write_text(json.dumps({"count": 12, "embedder": "efficientnet-lite2"}))
    found = retrieval_index_check(Settings(cache_dir=tmp_path, retrieval_index=tmp_path))
    assert found.status == "ok" and found.detail == f"{tmp_path}: 12 photos, embedder efficientnet-lite2"
    broken = retrieval_index_check(Settings(cache_dir=tmp_path, retrieval_index=tmp_path / "nowhere"))
    assert broken.status == "error" and "not a readable index" in broken.detail
