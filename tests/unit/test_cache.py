"""Build-once pickles in the user cache folder."""

from __future__ import annotations

import os

import pytest

from geosleuth.core.cache import cached_pickle, source_key


def test_pickles_go_to_the_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("GEOSLEUTH_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    cached_pickle("thing", "k", lambda: 1, lambda v: True)
    assert (tmp_path / "xdg" / "geosleuth" / "thing-k.pickle").is_file()
    monkeypatch.setenv("GEOSLEUTH_CACHE_DIR", str(tmp_path / "own"))
    cached_pickle("thing", "k", lambda: 1, lambda v: True)
    assert (tmp_path / "own" / "thing-k.pickle").is_file()


def test_source_key_changes_with_files_and_tags(tmp_path):
    data = tmp_path / "d.csv"
    data.write_text("a")
    first = source_key(("pycountry",), (data,), "f1")
    assert first == source_key(("pycountry",), (data,), "f1")
    assert first != source_key(("pycountry",), (data,), "f2")
    data.write_text("b")
    assert first != source_key(("pycountry",), (data,), "f1")


def test_cached_pickle_builds_once_and_rebuilds_damaged_files(monkeypatch, tmp_path):
    monkeypatch.setenv("GEOSLEUTH_CACHE_DIR", str(tmp_path))
    calls = []

    def build():
        calls.append(1)
        return {"n": len(calls)}

    assert cached_pickle("thing", "k", build, lambda v: isinstance(v, dict)) == {"n": 1}
    assert cached_pickle("thing", "k", build, lambda v: isinstance(v, dict)) == {"n": 1}
    assert len(calls) == 1
    (tmp_path / "thing-k.pickle").write_bytes(b"garbage")
    assert cached_pickle("thing", "k", build, lambda v: isinstance(v, dict)) == {"n": 2}
    assert cached_pickle("thing", "k", build, lambda v: v == {"n": 3}) == {"n": 3}  # invalid -> rebuilt


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write to read-only folders")
def test_read_only_cache_only_costs_a_rebuild(monkeypatch, tmp_path):
    tmp_path.chmod(0o500)
    monkeypatch.setenv("GEOSLEUTH_CACHE_DIR", str(tmp_path / "sub"))
    assert cached_pickle("thing", "k", lambda: 7, lambda v: True) == 7
