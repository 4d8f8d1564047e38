import subprocess
import sys


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "rglt", *args], capture_output=True, text=True, timeout=120)


def test_list_shows_every_experiment():
    out = _cli("list")
    assert out.returncode == 0, out.stderr
    assert "ising_rg" in out.stdout and "cpu:" in out.stdout


def test_run_refuses_unknown_names():
    out = _cli("run", "ising_rg", "--profile", "tiny")
    assert out.returncode == 2 and "profile must be one of smoke, cpu, gpu" in out.stderr
    out = _cli("run", "no_such_experiment")
    assert out.returncode == 2 and "experiment must be one of" in out.stderr
