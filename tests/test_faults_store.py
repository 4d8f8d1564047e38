"""Fault injection on the results cache: kills between writes, concurrent writers, damaged files,
values the JSON writer refuses, names that escape the results directory. Whatever happens, a load
returns a complete result (the old one or the new one) or an error naming the damaged file."""
import dataclasses
import json
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import types

import numpy as np
import pytest

from rglt import __main__ as cli
from rglt import experiments, store
from rglt.claims import Rule
from rglt.storage import LOCK_NAME


def _result(tag: int, n: int = 2000) -> store.Result:
    """A result whose scalars say what its arrays hold, so a mixture of two saves is visible."""
    return store.Result("toy", "cpu", {"tag": tag, "values": np.full(n, tag, dtype=np.int64),
                                       "square": np.float64(tag) ** 2}, {"made_by": tag})


def _consistent(result: store.Result) -> bool:
    tag = result["tag"]
    return bool((result["values"] == tag).all()) and result["square"] == tag**2 and result.provenance["made_by"] == tag


@pytest.fixture
def results(monkeypatch, tmp_path):
    monkeypatch.setenv("RGLT_RESULTS", str(tmp_path))
    monkeypatch.delenv("RGLT_RERUN", raising=False)
    return tmp_path / "toy"


@pytest.fixture
def toy(monkeypatch, results, register_experiment):
    """A registered toy experiment whose run() returns whatever ``box["data"]`` holds."""
    box = {"data": {"values": np.arange(3.0), "total": 3.0}, "calls": 0}
    module = types.ModuleType("toy_experiment")
    module.NAME, module.VERSION = "toy", 1

    @dataclasses.dataclass(frozen=True)
    class Config:
        n: int = 3

    module.CONFIGS = {p: Config() for p in ("smoke", "cpu", "gpu")}

    def run(config):
        box["calls"] += 1
        return box["data"]

    module.run, module.Config, module.checks = run, Config, lambda result, config: []
    module.rules = lambda config: (Rule("total", "the toy's total is positive", "000 (none: a toy)", "no number", what="total",
                 test="exact", low=0.0),)
    register_experiment(module)
    return box


# ---- a save killed half-way leaves the old result --------------------------------------------

def test_a_failed_second_write_keeps_the_old_result(results, monkeypatch):
    store.save(_result(1))
    real = store.atomic_write

    def fail_on_json(path, write):
        if path.suffix == ".json":
            raise OSError("disk full (injected)")
        real(path, write)

    monkeypatch.setattr(store, "atomic_write", fail_on_json)
    with pytest.raises(OSError, match="injected"):
        store.save(_result(2))
    monkeypatch.setattr(store, "atomic_write", real)
    old = store.load("toy", "cpu")
    assert old["tag"] == 1 and _consistent(old)


def test_sigkill_between_the_writes_keeps_the_old_result(results):
    store.save(_result(1))
    child = textwrap.dedent(f"""
        import os, signal
        import numpy as np
        from rglt import store
        real = store.atomic_write
        def killed_before_json(path, write):
            if path.suffix == ".json":
                os.kill(os.getpid(), signal.SIGKILL)   # the arrays are on disk, the JSON is not
            real(path, write)
        store.atomic_write = killed_before_json
        store.save(store.Result("toy", "cpu", {{"tag": 2, "values": np.full(2000, 2, dtype=np.int64),
                                               "square": 4.0}}, {{"made_by": 2}}))
    """)
    proc = subprocess.run([sys.executable, "-c", child], env={**os.environ, "RGLT_RESULTS": str(results.parent)})
    assert proc.returncode == -signal.SIGKILL
    assert len(list(results.glob("*.npz"))) == 2          # the dead writer's arrays, unreferenced
    old = store.load("toy", "cpu")
    assert old["tag"] == 1 and _consistent(old)
    store.save(_result(3))                                 # the next save sweeps the leftovers
    assert len(list(results.glob("*.npz"))) == 1 and store.load("toy", "cpu")["tag"] == 3


# ---- concurrent writers never interleave -----------------------------------------------------

def _writer(root: str, first: int, count: int) -> None:
    os.environ["RGLT_RESULTS"] = root
    for tag in range(first, first + count):
        store.save(_result(tag))


def test_concurrent_writers_and_readers_never_see_a_mixture(results):
    ctx = multiprocessing.get_context("fork")
    writers = [ctx.Process(target=_writer, args=(str(results.parent), first, 30)) for first in (0, 1000)]
    for w in writers:
        w.start()
    seen = 0
    while any(w.is_alive() for w in writers):
        stored = store.load("toy", "cpu")
        if stored is not None:
            assert _consistent(stored), stored.data["tag"]
            seen += 1
    for w in writers:
        w.join()
        assert w.exitcode == 0
    final = store.load("toy", "cpu")
    assert _consistent(final) and final["tag"] in (29, 1029)
    assert seen > 0
    assert len(list(results.glob("*.npz"))) == 1 and not list(results.glob("*.tmp"))


# ---- values the JSON writer refuses ----------------------------------------------------------

def test_numpy_scalars_and_0d_arrays_are_stored(results):
    data = {"f32": np.float32(9), "i64": np.int64(-3), "flag": np.bool_(True), "zero_d": np.array(2.5),
            "nested": {"x": [np.float16(1.5), [0, 1]], "7": "string key"}}
    # (an array inside a list and an int key would come back as a list and a string: refused, see
    # tests/test_store_roundtrip.py)
    store.save(store.Result("toy", "cpu", data, {"date": np.str_("today")}))
    back = store.load("toy", "cpu")
    assert back["f32"] == 9.0 and back["i64"] == -3 and back["flag"] is True
    assert isinstance(back["zero_d"], np.ndarray) and back["zero_d"].shape == () and back["zero_d"] == 2.5
    assert back["nested"] == {"x": [1.5, [0, 1]], "7": "string key"}


def test_an_unstorable_value_is_refused_before_anything_is_written(results):
    store.save(_result(1))
    with pytest.raises(TypeError, match=r"data\['model'\] is a object"):
        store.save(store.Result("toy", "cpu", {"values": np.arange(3), "model": object()}, {}))
    with pytest.raises(TypeError, match=r"data\['objects'\] is an object array"):
        store.save(store.Result("toy", "cpu", {"objects": np.array([None, 1], dtype=object)}, {}))
    assert store.load("toy", "cpu")["tag"] == 1
    assert len([p for p in results.iterdir() if p.name != LOCK_NAME]) == 2   # the JSON and its arrays


def test_load_or_run_keeps_an_unstorable_run_in_a_pickle(toy, results):
    toy["data"] = {"values": np.arange(3), "bad": {1, 2}}
    with pytest.raises(TypeError, match=r"pickled to .*cpu\.unsaved-.*\.pkl") as err:
        experiments.load("toy", "cpu")
    import pickle
    rescued = pickle.loads(next(results.glob("cpu.unsaved-*.pkl")).read_bytes())
    assert rescued.data["bad"] == {1, 2}
    assert "pickled" in str(err.value)


# ---- damaged files are reported, never served ------------------------------------------------

def _npz(results):
    return next(results.glob("cpu.*.npz"))


DAMAGE = {
    "json truncated": (lambda r: (r / "cpu.json").write_text((r / "cpu.json").read_text()[:100]), "cpu.json", "not valid JSON"),
    "json emptied": (lambda r: (r / "cpu.json").write_text(""), "cpu.json", "not valid JSON"),
    "json not an object": (lambda r: (r / "cpu.json").write_text("[1, 2]"), "cpu.json", "not a JSON object"),
    "scalar edited by hand": (lambda r: (r / "cpu.json").write_text((r / "cpu.json").read_text().replace('"tag": 1', '"tag": 7')),
                              "cpu.json", "checksum"),
    "provenance edited": (lambda r: (r / "cpu.json").write_text((r / "cpu.json").read_text().replace('"made_by": 1', '"made_by": 5')),
                          "cpu.json", "checksum"),
    "key removed": (lambda r: (r / "cpu.json").write_text(json.dumps({k: v for k, v in json.loads((r / "cpu.json").read_text()).items() if k != "checksum"})),
                    "cpu.json", "missing checksum"),
    "npz truncated": (lambda r: _npz(r).write_bytes(_npz(r).read_bytes()[:200]), ".npz", "unreadable"),
    "npz emptied": (lambda r: _npz(r).write_bytes(b""), ".npz", "unreadable"),
    "npz deleted": (lambda r: _npz(r).unlink(), "cpu.json", "does not exist"),
    "npz byte flipped": (lambda r: _flip_payload_byte(_npz(r)), ".npz", "unreadable|does not match its checksum"),
    "npz swapped": (lambda r: _swap_npz(r), ".npz", "does not match its checksum"),
    "old format": (lambda r: (r / "cpu.json").write_text('{"provenance": {}, "arrays": [], "data": {}}'),
                   "cpu.json", "format 1"),
}


def _flip_payload_byte(path):
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 3] ^= 0x40
    path.write_bytes(bytes(raw))


def _swap_npz(results):
    """Put another result's arrays (same names, other contents) under this result's file name."""
    target = _npz(results)
    other = results.parent / "other"
    other.mkdir()
    store._write_npz(open(other / "x.npz", "wb"), {"values": np.full(2000, 9, dtype=np.int64)})
    os.replace(other / "x.npz", target)


@pytest.mark.parametrize("case", sorted(DAMAGE))
def test_damaged_results_are_reported_with_the_file(results, case):
    store.save(_result(1))
    damage, file_hint, reason = DAMAGE[case]
    damage(results)
    with pytest.raises(store.CorruptResultError, match=reason) as err:
        store.load("toy", "cpu")
    assert file_hint in str(err.value.path) and str(err.value.path) in str(err.value)


def test_load_or_run_sets_a_damaged_result_aside_and_reruns(toy, results):
    experiments.load("toy", "cpu")
    (results / "cpu.json").write_text("{ truncated")
    result = experiments.load("toy", "cpu")
    assert toy["calls"] == 2 and result["total"] == 3.0
    aside = list(results.glob("cpu.json.damaged-*"))
    assert len(aside) == 1 and aside[0].read_text() == "{ truncated"


def test_list_shows_a_damaged_result_and_goes_on(toy, results, capsys, monkeypatch):
    experiments.load("toy", "cpu")
    experiments.load("toy", "gpu")
    (results / "cpu.json").write_text("")
    monkeypatch.setattr(experiments, "names", lambda: ["toy", "toy"])
    assert cli.main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()[1:]   # after the line saying where results are
    assert len(lines) == 2
    assert all("cpu: DAMAGED" in line and "cpu.json" in line and "gpu: fresh" in line for line in lines)


def test_list_shows_an_unreadable_result_and_goes_on(toy, results, capsys, monkeypatch):
    experiments.load("toy", "gpu")
    (results / "cpu.json").mkdir()          # read_text fails with an OSError (chmod would not stop root)
    assert cli.main(["list"]) == 0
    line, = [line for line in capsys.readouterr().out.splitlines() if line.startswith("toy ")]
    assert "cpu: UNREADABLE" in line and "gpu: fresh" in line


# ---- a unit knows its place -----------------------------------------------------------------

@pytest.mark.parametrize("to", [("other", "cpu"), ("toy", "gpu")])
def test_a_result_copied_to_another_place_is_refused_naming_both(results, to):
    store.save(_result(1))
    experiment, profile = to
    json_path, base = store.paths(experiment, profile)
    base.mkdir(parents=True, exist_ok=True)
    for f in results.glob("cpu*"):
        shutil.copy(f, base / f.name.replace("cpu", profile, 1))
    with pytest.raises(store.CorruptResultError, match="belongs to .*'toy'|belongs to .*'cpu'") as err:
        store.load(experiment, profile)
    assert str(json_path) in str(err.value) and "copied or moved here" in str(err.value)


def test_a_result_whose_provenance_names_another_place_is_not_saved(results):
    with pytest.raises(ValueError, match="names experiment 'other'"):
        store.save(store.Result("toy", "cpu", {"tag": 1}, {"experiment": "other"}))
    assert not results.exists() or not list(results.glob("cpu*"))


# ---- checked before the work, not after ------------------------------------------------------

def test_a_results_directory_that_cannot_be_written_is_found_before_the_run(toy, monkeypatch, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("RGLT_RESULTS", str(blocker / "results"))   # under a file: mkdir fails, even as root
    with pytest.raises(ValueError, match="RGLT_RESULTS: cannot create"):
        experiments.load("toy", "cpu")
    assert toy["calls"] == 0
    monkeypatch.setenv("RGLT_RESULTS", str(blocker))
    with pytest.raises(ValueError, match="RGLT_RESULTS must name a directory"):
        experiments.load("toy", "cpu")
    assert toy["calls"] == 0


def test_two_results_set_aside_in_one_second_keep_their_own_names(results):
    from rglt.storage import set_aside
    names = []
    for tag in (1, 2, 3):
        (results / "cpu.json").parent.mkdir(parents=True, exist_ok=True)
        (results / "cpu.json").write_text(str(tag))
        names.append(set_aside(results / "cpu.json"))
    assert len(set(names)) == 3 and sorted(p.read_text() for p in names) == ["1", "2", "3"]


# ---- names ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["../../x", "a/b", "/etc/passwd", "", ".hidden", "..", 3])
def test_names_that_escape_the_results_directory_are_refused(results, name):
    with pytest.raises(ValueError, match="experiment must be a name"):
        store.save(store.Result(name, "cpu", {"x": 1}, {}))
    with pytest.raises(ValueError, match="experiment must be a name"):
        store.load(name, "cpu")
    assert not results.parent.exists() or not any(results.parent.iterdir())
