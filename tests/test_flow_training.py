"""rglt.flow.train_flow against a hand-written step of the original recipe, and the CelebA loader's errors."""
import copy
import math

import pytest
import torch

from rglt.data import celeba, msds1
from rglt.data.celeba import celeba_transform
from rglt.flow import RGFlow, evaluate_bpd
from rglt.flow.training import FlowTrainConfig, train_flow


def _small_flow(seed=0):
    torch.manual_seed(seed)
    return RGFlow(3, 8, 2, 1, 1, 8, "laplace")


def _images(n, seed):
    return torch.randint(0, 256, (n, 3, 8, 8), generator=torch.Generator().manual_seed(seed), dtype=torch.uint8)


@pytest.mark.parametrize("flip", [False, True])
def test_two_steps_equal_the_original_recipe_by_hand(flip):
    images, cfg = _images(40, 1), FlowTrainConfig(steps=2, batch_size=16, eval_every=1, weight_decay=5e-2, seed=3)
    model = _small_flow()
    oracle = copy.deepcopy(model)
    train_flow(model, images, cfg, flip=flip)

    # By hand: one permutation, then per step a batch, its dequantisation noise, nats/dim loss, clip, AdamW.
    gen = torch.Generator().manual_seed(cfg.seed)
    order = torch.randperm(len(images), generator=gen)
    opt = torch.optim.AdamW(oracle.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    for step in range(2):
        batch = images[order[16 * step:16 * (step + 1)]]
        if flip:   # CelebA's RandomHorizontalFlip(0.5), per image
            batch = torch.stack([b.flip(-1) if u < 0.5 else b for b, u in zip(batch, torch.rand(16, generator=gen))])
        x = (batch.float() + torch.rand(batch.shape, generator=gen)) / 256
        xr = 0.05 + 0.9 * x
        y = torch.log(xr / (1 - xr))
        logdet = (math.log(0.9) - torch.log(xr) - torch.log(1 - xr)).flatten(1).sum(1)
        loss = -(oracle.log_prob(y) + logdet).mean() / y[0].numel()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(oracle.parameters(), cfg.clip_norm)
        opt.step()
    for (name, p), q in zip(model.named_parameters(), oracle.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6, msg=name)


def test_history_records_held_out_bpd_and_training_lowers_it():
    train, held = msds1(64, seed=0)[0][:, :, :8, :8].contiguous(), msds1(32, seed=1)[0][:, :, :8, :8].contiguous()
    model = _small_flow()
    before = evaluate_bpd(model, held, batch_size=250, seed=0)
    hist = train_flow(model, train, FlowTrainConfig(steps=30, batch_size=16, eval_every=10, lr=1e-2), held_out=held)
    assert hist["step"] == [0, 10, 20, 30]
    assert hist["held_out_bpd"][0] == pytest.approx(before, rel=1e-6)
    assert math.isnan(hist["train_bpd"][0]) and all(math.isfinite(v) for v in hist["train_bpd"][1:])
    assert hist["held_out_bpd"][-1] < hist["held_out_bpd"][0]
    assert hist["train_seconds"] == sorted(hist["train_seconds"]) and hist["train_seconds"][0] == 0.0
    assert not model.training


def test_same_seed_same_weights_and_new_epochs_reshuffle():
    images = _images(20, 2)
    cfg = FlowTrainConfig(steps=5, batch_size=8, eval_every=5)   # 2 batches per epoch: 3 epochs
    a, b = _small_flow(), _small_flow()
    train_flow(a, images, cfg)
    train_flow(b, images, cfg)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)


@pytest.mark.parametrize("kwargs, match", [
    (dict(steps=0), "steps"), (dict(steps=1, batch_size=True), "batch_size"), (dict(steps=1, lr=0), "lr"),
    (dict(steps=1, clip_norm=float("nan")), "clip_norm"), (dict(steps=1, weight_decay=-1), "weight_decay"),
    (dict(steps=1, eval_every=0), "eval_every"), (dict(steps=1, seed=-1), "seed"),
])
def test_bad_config_is_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        FlowTrainConfig(**kwargs)


def test_bad_images_are_refused_before_training():
    model = _small_flow()
    before = [p.clone() for p in model.parameters()]
    cfg = FlowTrainConfig(steps=1)
    with pytest.raises(ValueError, match="images"):
        train_flow(model, _images(4, 0).float(), cfg)
    with pytest.raises(ValueError, match=r"images must be .*\[N, 3, 8, 8\]"):
        train_flow(model, torch.zeros(4, 3, 16, 16, dtype=torch.uint8), cfg)
    with pytest.raises(ValueError, match="held_out"):
        train_flow(model, _images(4, 0), cfg, held_out=torch.zeros(4, 1, 8, 8, dtype=torch.uint8))
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), before))


# ---- CelebA from RGLT_DATA ----

def test_celeba_errors_name_the_path_and_the_variable(tmp_path, monkeypatch):
    monkeypatch.delenv("RGLT_DATA", raising=False)
    with pytest.raises(FileNotFoundError, match="RGLT_DATA"):
        celeba("train")
    monkeypatch.setenv("RGLT_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="img_align_celeba") as err:
        celeba("train")
    assert str(tmp_path) in str(err.value)
    (tmp_path / "celeba" / "img_align_celeba").mkdir(parents=True)   # images but no annotation files
    with pytest.raises(FileNotFoundError, match="incomplete or corrupt"):
        celeba("test")
    with pytest.raises(ValueError, match="split must be one of train, valid, test, all"):
        celeba("validation")


def test_celeba_transform_keeps_the_central_148_square():
    from PIL import Image
    # A 178 x 218 CelebA-sized image: a red frame around a green centre of 148 x 148.
    img = torch.zeros(218, 178, 3, dtype=torch.uint8)
    img[..., 0] = 255
    top, left = (218 - 148) // 2, (178 - 148) // 2
    img[top:top + 148, left:left + 148] = torch.tensor([0, 255, 0], dtype=torch.uint8)
    out = celeba_transform(augment=False)(Image.fromarray(img.numpy()))
    assert out.dtype == torch.uint8 and out.shape == (3, 32, 32)
    assert (out[1] == 255).all() and (out[0] == 0).all()


def test_rg_flow_celeba_job_says_where_the_data_should_be(monkeypatch, tmp_path):
    from rglt.experiments import rg_flow
    monkeypatch.setenv("RGLT_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="CelebA not found"):
        rg_flow._data(rg_flow.CONFIGS["gpu"], "celeba")
    assert rg_flow._layers_per_level(rg_flow.CONFIGS["gpu"], "celeba") == (8, 6, 4, 2)
