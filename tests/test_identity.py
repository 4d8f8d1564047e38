"""The one config hash: every key stored before the storage refactor is unchanged.

tests/data/identity_keys.json was written by the code before ``rglt.identity`` existed (store.config_hash,
TicketRun.key and Branch.key were three implementations); it is the oracle here."""
import dataclasses
import json
from pathlib import Path

import pytest

from rglt import experiments, identity
from rglt.data import Task
from rglt.prune import TicketRun
from rglt.prune.branches import MaskTransfer, RandomMask, Reinit

RECORDED = json.loads((Path(__file__).parent / "data" / "identity_keys.json").read_text())


@pytest.mark.parametrize("where", sorted(RECORDED["configs"]))
def test_every_experiment_config_keeps_its_hash(where):
    name, profile = where.split("/")
    assert identity.key(experiments.get(name).CONFIGS[profile]) == RECORDED["configs"][where]


@pytest.mark.parametrize("label", sorted(RECORDED["runs"]))
def test_ticket_run_keys_are_unchanged(label):
    text, key = RECORDED["runs"][label]
    assert TicketRun.from_json(text).key == key


def test_branch_keys_are_unchanged_where_their_parameters_have_no_unhashed_fields():
    assert Reinit().key == RECORDED["branches"]["reinit"][1]
    assert RandomMask(seed=7).key == RECORDED["branches"]["random-mask"][1]


def test_branch_keys_now_leave_out_what_a_run_key_leaves_out():
    """Branch.key hashed dataclasses.asdict, so a Task's default-valued late fields changed it; now a
    branch names a task exactly as a TicketRun does."""
    transfer = MaskTransfer(task=Task("mnist1d", noise=3))
    assert transfer.key != RECORDED["branches"]["mask-transfer"][1]
    assert transfer.key == f"mask-transfer-{identity.key(transfer, length=12)}"
    assert identity.hashed_fields(transfer)["task"] == identity.hashed_fields(Task("mnist1d", noise=3))
    assert "minority" not in identity.hashed_fields(transfer)["task"]


def test_unhashed_and_late_fields():
    @dataclasses.dataclass(frozen=True)
    class Config:
        n: int = 3
        workers: int = identity.unhashed(2)
        late: str = identity.hashed_unless_default("old")

    assert identity.key(Config()) == identity.key(Config(workers=8))
    assert identity.key(Config()) != identity.key(Config(n=4))
    assert identity.key(Config(late="old")) == identity.key(Config())
    assert identity.key(Config(late="new")) != identity.key(Config())
    assert identity.hashed_fields(Config(late="new")) == {"n": 3, "late": "new"}
    with pytest.raises(TypeError, match="config must be a dataclass instance"):
        identity.key(Config)
