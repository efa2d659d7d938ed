"""Settings resolution: each precedence step, sources, and clear errors."""

from __future__ import annotations

import pytest

from geosleuth.core.config import Settings, default_cache_dir, read_config_file, resolve_settings


def test_defaults_when_nothing_is_set():
    settings, sources = resolve_settings({}, env={}, file={})
    assert settings.use_metadata is True
    assert set(sources.values()) == {"default"}


def test_file_beats_default_env_beats_file_flag_beats_env():
    file = {"osm_timeout_s": 3.0, "device": "cpu"}
    env = {"GEOSLEUTH_OSM_TIMEOUT_S": "4.5", "GEOSLEUTH_OCR_ENGINES": "easyocr"}
    settings, sources = resolve_settings({"ocr_engines": ("tesseract",)}, env=env, file=file)
    assert settings.device == "cpu" and sources["device"] == "file"
    assert settings.osm_timeout_s == 4.5 and sources["osm_timeout_s"] == "env"
    assert settings.ocr_engines == ("tesseract",) and sources["ocr_engines"] == "flag"


def test_settings_remember_where_each_value_came_from():
    settings, sources = resolve_settings(
        flags={"max_steps": 4}, env={"GEOSLEUTH_PRIOR": "uniform"}, file={"ocr_max_side": 900}
    )
    assert settings.sources() == sources
    assert (sources["max_steps"], sources["prior"], sources["ocr_max_side"], sources["device"]) == (
        "flag", "env", "file", "default")
    run = settings.model_copy(update={"use_metadata": False})
    assert run.sources()["use_metadata"] == "code" and run.sources()["max_steps"] == "flag"
    assert Settings().sources()["max_steps"] == "default"


def test_caps_are_settings():
    settings, sources = resolve_settings(env={"GEOSLEUTH_MAX_TOOLS_PER_DECISION": "2",
                                              "GEOSLEUTH_OSM_RADIUS_KM": "10"})
    assert (settings.max_tools_per_decision, settings.osm_radius_km) == (2, 10.0)
    with pytest.raises(ValueError, match="zoom_max_area"):
        resolve_settings(flags={"zoom_max_area": 2.0})


def test_an_explicit_flag_equal_to_the_default_still_wins():
    settings, sources = resolve_settings({"use_metadata": True}, env={"GEOSLEUTH_USE_METADATA": "false"})
    assert settings.use_metadata is True and sources["use_metadata"] == "flag"


def test_none_flags_mean_not_set():
    settings, sources = resolve_settings({"use_metadata": None}, env={"GEOSLEUTH_USE_METADATA": "0"})
    assert settings.use_metadata is False and sources["use_metadata"] == "env"


@pytest.mark.parametrize(
    ("flags", "env", "message"),
    [
        ({"osm_timeout_s": -1}, {}, "osm_timeout_s (from flag)"),
        ({}, {"GEOSLEUTH_USE_METADATA": "maybe"}, "GEOSLEUTH_USE_METADATA"),
        ({"no_such_thing": 1}, {}, "unknown setting 'no_such_thing'"),
        ({}, {"HF_HUB_OFFLINE": "sometimes"}, "HF_HUB_OFFLINE='sometimes' is not a boolean"),
    ],
)
def test_bad_values_name_the_field_and_source(flags, env, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        resolve_settings(flags, env=env, file={})


def test_data_dir_comes_from_geosleuth_data_dir(tmp_path):
    assert resolve_settings({}, env={}, file={})[0].data_dir is None
    settings, sources = resolve_settings({}, env={"GEOSLEUTH_DATA_DIR": str(tmp_path)}, file={})
    assert settings.data_dir == tmp_path and sources["data_dir"] == "env"


@pytest.mark.parametrize(
    ("env", "offline"),
    [
        ({}, False),
        ({"HF_HUB_OFFLINE": "1"}, True),
        ({"HF_HUB_OFFLINE": "0"}, False),
        ({"GEOSLEUTH_HF_OFFLINE": "true"}, True),
        ({"HF_HUB_OFFLINE": "1", "GEOSLEUTH_HF_OFFLINE": "no"}, False),  # the geosleuth name wins
    ],
)
def test_hf_offline_comes_from_hf_hub_offline(env, offline):
    settings, sources = resolve_settings({}, env=env, file={})
    assert settings.hf_offline is offline and sources["hf_offline"] == ("env" if env else "default")


def test_hf_home_comes_from_hf_home(tmp_path):
    settings, sources = resolve_settings({}, env={"HF_HOME": str(tmp_path)}, file={})
    assert settings.hf_home == tmp_path and sources["hf_home"] == "env"


def test_default_cache_dir_honours_xdg_and_geosleuth_cache_dir(tmp_path, monkeypatch):
    xdg = {"XDG_CACHE_HOME": str(tmp_path / "xdg")}
    assert default_cache_dir(xdg) == tmp_path / "xdg" / "geosleuth"
    assert default_cache_dir({**xdg, "GEOSLEUTH_CACHE_DIR": str(tmp_path / "own")}) == tmp_path / "own"
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir({}) == tmp_path / "home" / ".cache" / "geosleuth"
    settings, sources = resolve_settings({}, env=xdg, file={})
    assert settings.cache_dir == tmp_path / "xdg" / "geosleuth" and sources["cache_dir"] == "default"
    monkeypatch.delenv("GEOSLEUTH_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "process"))
    assert default_cache_dir() == Settings().cache_dir == tmp_path / "process" / "geosleuth"


def test_config_file(tmp_path, monkeypatch):
    path = tmp_path / "geosleuth.toml"
    path.write_text('[geosleuth]\ndevice = "cpu"\nocr_max_side = 1024\n')
    settings, sources = resolve_settings({}, env={}, file=read_config_file(path))
    assert (settings.device, settings.ocr_max_side, sources["ocr_max_side"]) == ("cpu", 1024, "file")
    monkeypatch.chdir(tmp_path)
    assert read_config_file() == {"device": "cpu", "ocr_max_side": 1024}
    path.write_text("device = [")
    with pytest.raises(ValueError, match="not valid TOML"):
        read_config_file(path)
    with pytest.raises(ValueError, match="does not exist"):
        read_config_file(tmp_path / "missing.toml")


def test_retrieval_joins_the_default_tools_after_scene_only_when_an_index_is_configured(tmp_path):
    assert "scene" in Settings().tools and "retrieval" not in Settings().tools
    tools = Settings(retrieval_index=tmp_path).tools
    assert tools[tools.index("scene") + 1] == "retrieval"
    resolved, _ = resolve_settings(env={"GEOSLEUTH_RETRIEVAL_INDEX": str(tmp_path)})
    assert "retrieval" in resolved.tools
    env = {"GEOSLEUTH_RETRIEVAL_INDEX": str(tmp_path)}
    chosen, _ = resolve_settings({"tools": ("ocr", "gazetteer")}, env=env)
    assert chosen.tools == ("ocr", "gazetteer")  # tools the user chose are exactly those
