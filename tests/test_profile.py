import pytest

import rglt


def test_default_profile_is_cpu(monkeypatch):
    monkeypatch.delenv("RGLT_PROFILE", raising=False)
    assert rglt.profile() == "cpu"
    monkeypatch.setenv("RGLT_PROFILE", "  ")
    assert rglt.profile() == "cpu"


@pytest.mark.parametrize("name", ["smoke", "cpu", "gpu"])
def test_known_profiles(monkeypatch, name):
    monkeypatch.setenv("RGLT_PROFILE", name)
    assert rglt.profile() == name


@pytest.mark.parametrize("name", ["fast", "CPU", "full"])
def test_unknown_profile_names_the_choices(monkeypatch, name):
    monkeypatch.setenv("RGLT_PROFILE", name)
    with pytest.raises(ValueError, match=r"RGLT_PROFILE must be one of smoke, cpu, gpu.*" + repr(name)):
        rglt.profile()
    with pytest.raises(ValueError, match="profile must be one of smoke, cpu, gpu"):
        rglt.check_profile(name)
