"""Configs and data checked when they are made, before any work: equal runs have equal keys, a bad
model spec fails when the run is made, labels and inputs that do not fit the model fail before the
first step, and a misconfigured environment is a message naming the variable (exit 2 on the CLI)."""
import numpy as np
import pytest
import torch
from torch import nn

from rglt.__main__ import main
from rglt.data import Task
from rglt.prune import IMPConfig, ModelSpec, TicketRun
from rglt.train import TrainConfig, evaluate, train


def test_an_int_where_a_float_belongs_names_the_same_run():
    assert TicketRun(train=TrainConfig(lr=1)).key == TicketRun(train=TrainConfig(lr=1.0)).key
    assert TicketRun(imp=IMPConfig(fraction=0.2)).key == TicketRun(imp=IMPConfig(fraction=np.float64(0.2))).key


def test_numpy_scalars_make_the_same_run_as_python_numbers():
    plain = TicketRun(ModelSpec("resnet20", width=16), Task(train_size=1000, minority=0.05),
                      TrainConfig(epochs=3, milestones=(0.5, 0.75)), IMPConfig(rounds=2), replicate=1)
    numpy = TicketRun(ModelSpec("resnet20", width=np.int64(16)), Task(train_size=np.int32(1000), minority=np.float64(0.05)),
                      TrainConfig(epochs=np.int64(3), milestones=(np.float64(0.5), 0.75)), IMPConfig(rounds=np.int64(2)),
                      replicate=np.int64(1))
    assert numpy.key == plain.key and numpy.to_json() == plain.to_json()
    assert TicketRun.from_json(numpy.to_json()) == plain


@pytest.mark.parametrize("kwargs, message", [
    (dict(width=0), "width must be an integer >= 1; got 0"),
    (dict(width=2.5), "width must be an integer >= 1; got 2.5"),
    (dict(name="mlp", shortcut="A"), "shortcut applies to the ResNets only"),
])
def test_a_bad_model_spec_fails_when_it_is_made(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ModelSpec(**kwargs)


def _net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))


@pytest.mark.parametrize("labels, error, message", [
    (torch.tensor([0, 1, 3, 2]), ValueError, r"data\[1\] \(the labels\) must be class indices in \[0, 2\]"),
    (torch.tensor([0, -1, 2, 1]), ValueError, r"got values in \[-1, 2\]"),
    (torch.tensor([0.0, 1.0, 2.0, 1.0]), TypeError, "must hold integer class indices; got dtype torch.float32"),
])
def test_labels_that_do_not_fit_the_model_fail_before_the_first_step(labels, error, message):
    model = _net()
    before = [p.clone() for p in model.parameters()]
    with pytest.raises(error, match=message):
        train(model, (torch.randn(4, 8), labels), TrainConfig(epochs=1, batch_size=2))
    with pytest.raises(error, match=message):
        evaluate(model, (torch.randn(4, 8), labels))
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_inputs_that_do_not_fit_the_model_are_named():
    with pytest.raises(ValueError, match=r"evaluate_on\[0\] \(the inputs, shape \(4, 5\).*does not fit the model"):
        train(_net(), (torch.randn(4, 8), torch.tensor([0, 1, 2, 0])), TrainConfig(epochs=1),
              evaluate_on=(torch.randn(4, 5), torch.tensor([0, 1, 2, 0])))


def test_ignored_per_token_labels_pass():
    evaluate(_net(), (torch.randn(4, 8), torch.tensor([0, -100, 2, 1])))


@pytest.mark.parametrize("variable", ["RGLT_RESULTS", "RGLT_CACHE"])
def test_a_variable_naming_a_file_is_a_message_and_exit_2(variable, monkeypatch, tmp_path, capsys):
    (tmp_path / "file").write_text("")
    monkeypatch.setenv(variable, str(tmp_path / "file"))
    with pytest.raises(SystemExit) as exit_:
        main(["where"])
    assert exit_.value.code == 2 and f"{variable} must name a directory" in capsys.readouterr().err
