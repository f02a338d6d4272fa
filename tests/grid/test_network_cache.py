"""The on-disk cache of named networks: same net back, never a stale or broken entry, can be off."""

from __future__ import annotations

from pathlib import Path

import pandapower as pp
import pandapower.networks as pn
import pytest
from pandapower.toolbox import nets_equal

from sim.grid import network_cache
from sim.grid.network_cache import CACHE_DIR_ENV, cache_dir, cached_build, entry_path


class CountingBuilder:
    """CIGRE LV (small, quick), counting the builds."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> pp.pandapowerNet:
        self.calls += 1
        return pn.create_cigre_network_lv()


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_second_build_reads_the_same_net_from_disk(cache: Path) -> None:
    build = CountingBuilder()
    first = cached_build("cigre_lv", build)
    second = cached_build("cigre_lv", build)
    assert build.calls == 1
    assert entry_path("cigre_lv", cache).is_file()
    assert nets_equal(first, second) and nets_equal(second, pn.create_cigre_network_lv())
    assert [p.name for p in cache.iterdir()] == [entry_path("cigre_lv", cache).name]  # no temporary left


def test_a_broken_entry_is_rebuilt_and_replaced(cache: Path) -> None:
    cache.mkdir()
    entry_path("cigre_lv", cache).write_bytes(b"not a pickle")
    build = CountingBuilder()
    assert nets_equal(cached_build("cigre_lv", build), pn.create_cigre_network_lv())
    cached_build("cigre_lv", build)
    assert build.calls == 1


def test_the_entry_name_changes_with_the_builders_source(cache: Path, monkeypatch: pytest.MonkeyPatch,
                                                         tmp_path: Path) -> None:
    before = entry_path("cigre_lv", cache)
    edited = tmp_path / "networks.py"
    edited.write_text(network_cache._NETWORKS_SOURCE.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    monkeypatch.setattr(network_cache, "_NETWORKS_SOURCE", edited)
    assert entry_path("cigre_lv", cache) != before


def test_empty_setting_turns_the_cache_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CACHE_DIR_ENV, "")
    assert cache_dir() is None
    build = CountingBuilder()
    cached_build("cigre_lv", build)
    cached_build("cigre_lv", build)
    assert build.calls == 2


def test_default_location_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(CACHE_DIR_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_dir() == tmp_path / "feedertwin"


def test_an_unwritable_cache_only_costs_the_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache directory should be")
    monkeypatch.setenv(CACHE_DIR_ENV, str(blocker / "cache"))
    assert nets_equal(cached_build("cigre_lv", CountingBuilder()), pn.create_cigre_network_lv())
