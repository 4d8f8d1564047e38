"""Where results and caches live: never inside the installed package, and said by `python -m rglt where`."""
from pathlib import Path

import pytest

import rglt
from rglt import paths
from rglt.__main__ import main

PACKAGE = Path(rglt.__file__).resolve().parent


def test_results_follow_rglt_results_then_the_checkout(monkeypatch, tmp_path):
    monkeypatch.setenv("RGLT_RESULTS", str(tmp_path / "mine"))
    assert paths.results_root() == tmp_path / "mine"
    monkeypatch.delenv("RGLT_RESULTS")
    assert paths.checkout_root() == PACKAGE.parent          # the tests run from a checkout
    assert paths.results_root() == PACKAGE.parent / "results"


def test_an_installed_rglt_keeps_results_in_the_users_data_directory(monkeypatch, tmp_path):
    monkeypatch.delenv("RGLT_RESULTS", raising=False)
    monkeypatch.setattr(paths, "checkout_root", lambda: None)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert paths.results_root() == tmp_path / "data" / "rglt" / "results"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    root = paths.results_root()
    assert root == tmp_path / "home" / ".local" / "share" / "rglt" / "results"
    assert PACKAGE not in root.parents


def test_the_ticket_cache_refuses_the_checkout(monkeypatch, tmp_path):
    monkeypatch.setenv("RGLT_CACHE", str(tmp_path / "tickets"))
    assert paths.cache_root() == (tmp_path / "tickets").resolve()
    monkeypatch.setenv("RGLT_CACHE", str(PACKAGE.parent / "cache"))
    with pytest.raises(ValueError, match="RGLT_CACHE must be outside the repository"):
        paths.cache_root()


def test_where_names_each_location_and_its_setting(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("RGLT_RESULTS", str(tmp_path / "r"))
    monkeypatch.setenv("RGLT_CACHE", str(tmp_path / "c"))
    assert main(["where"]) == 0
    out = capsys.readouterr().out
    assert f"{tmp_path / 'r'} (RGLT_RESULTS)" in out and f"{(tmp_path / 'c').resolve()} (RGLT_CACHE)" in out
