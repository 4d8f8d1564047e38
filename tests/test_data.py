"""rglt.data: MNIST-1D splits and graded shifts, digits, the RGLT_DATA root, image corruptions, loaders."""
import colorsys
import pickle
import random

import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter

from rglt.data import (CORRUPTIONS, MNIST1D_KINDS, corrupt, digits_splits, mnist1d_corrupted, mnist1d_splits,
                       seeded_loader, split_indices, vision_corrupted, vision_dataset, vision_splits)
from rglt.data.corruptions import SEVERITY, disk_kernel


def rows(ds):
    return {tuple(r) for r in ds.tensors[0].flatten(1).numpy().round(6)}


# ---- MNIST-1D ----

def test_mnist1d_splits_sizes_shapes_and_generator_oracle():
    from mnist1d.data import get_dataset_args, make_dataset
    random.seed(7)
    np.random.seed(7)
    before = (random.random(), np.random.rand())
    random.seed(7)
    np.random.seed(7)
    s = mnist1d_splits(val_size=500, split_seed=0)
    assert (random.random(), np.random.rand()) == before  # global generators left as they were
    assert [len(d) for d in s] == [3500, 500, 1000]
    for d in s:
        assert d.tensors[0].shape[1:] == (1, 40) and d.tensors[0].dtype == torch.float32
        assert d.tensors[1].dtype == torch.int64
    ref = make_dataset(get_dataset_args())  # the package itself is the oracle for the canonical data
    assert np.allclose(s.test.tensors[0][:, 0].numpy(), ref["x_test"], atol=1e-6)
    assert np.array_equal(s.test.tensors[1].numpy(), ref["y_test"])
    train_val = np.concatenate([s.train.tensors[0][:, 0].numpy(), s.val.tensors[0][:, 0].numpy()])
    assert {tuple(r) for r in train_val.round(6)} == {tuple(r) for r in ref["x"].astype(np.float32).round(6)}
    assert np.bincount(s.test.tensors[1].numpy(), minlength=10).min() > 80


def test_mnist1d_splits_seeded_and_disjoint():
    a, b, c = mnist1d_splits(split_seed=1), mnist1d_splits(split_seed=1), mnist1d_splits(split_seed=2)
    assert all(torch.equal(x, y) for d, e in zip(a, b) for x, y in zip(d.tensors, e.tensors))
    assert not torch.equal(a.val.tensors[0], c.val.tensors[0])
    assert not rows(a.train) & rows(a.val) and not rows(a.train) & rows(a.test) and not rows(a.val) & rows(a.test)
    assert len(mnist1d_splits(val_size=0).val) == 0
    train, val = split_indices(10, 3, seed=0)
    assert sorted(np.concatenate([train, val])) == list(range(10)) and len(val) == 3


def test_mnist1d_corruptions_regenerate_the_test_set_and_grow_with_severity():
    clean = mnist1d_splits().test
    for kind in MNIST1D_KINDS:
        zero = mnist1d_corrupted(kind, 0)
        assert torch.equal(zero.tensors[0], clean.tensors[0]) and torch.equal(zero.tensors[1], clean.tensors[1])
        diffs = []
        for severity in range(1, 6):
            ds = mnist1d_corrupted(kind, severity)
            assert ds.tensors[0].shape == (1000, 1, 40) and torch.equal(ds.tensors[1], clean.tensors[1])
            diffs.append((ds.tensors[0] - clean.tensors[0]).abs().mean().item())
        assert 0 < diffs[0] and all(a < b for a, b in zip(diffs, diffs[1:])), (kind, diffs)
    # Deterministic: rebuilding without the cache gives the same signals, bit for bit.
    from rglt.data.mnist_1d import _regenerated
    assert np.array_equal(_regenerated.__wrapped__("test", 3, 3, 3, 3, 42), _regenerated("test", 3, 3, 3, 3, 42))


def test_mnist1d_difficulty_knobs():
    clean = mnist1d_splits()
    same = mnist1d_splits(noise=0, shift=0)
    assert all(torch.equal(a.tensors[0], b.tensors[0]) for a, b in zip(clean, same))
    # Regenerating the training split without knobs reproduces the generator's data (the oracle).
    from rglt.data.mnist_1d import _generate, _regenerated
    np.testing.assert_allclose(_regenerated("train", 0, 0, 0, 0, 42), _generate(42)["x"], atol=1e-6)
    noisy = mnist1d_splits(noise=4)
    for a, b in zip(clean, noisy):     # same examples and labels, noisier signals, in every split
        assert torch.equal(a.tensors[1], b.tensors[1])
        assert 0.1 < (a.tensors[0] - b.tensors[0]).std() < 2.0
    assert torch.equal(noisy.test.tensors[0], mnist1d_corrupted("noise", 4).tensors[0])
    small = mnist1d_splits(train_size=300)
    assert torch.equal(small.train.tensors[0], clean.train.tensors[0][:300])
    assert torch.equal(small.val.tensors[0], clean.val.tensors[0])
    with pytest.raises(ValueError, match="train_size must be an integer in \\[1, 3500\\]"):
        mnist1d_splits(train_size=3501)
    with pytest.raises(ValueError, match="shift must be an integer in \\[0, 5\\]"):
        mnist1d_splits(shift=6)


@pytest.mark.parametrize("call,message", [
    (lambda: mnist1d_splits(val_size=4000), "val_size must be an integer in \\[0, 3999\\]"),
    (lambda: mnist1d_splits(split_seed=-1), "split_seed must be an integer"),
    (lambda: mnist1d_splits(generator_seed=1.5), "generator_seed must be an integer"),
    (lambda: mnist1d_corrupted("blur", 1), "kind must be one of noise, shear, scale, shift, all"),
    (lambda: mnist1d_corrupted("noise", 6), "severity must be an integer in \\[0, 5\\]"),
    (lambda: digits_splits(val_size=5), "val_size must be an integer >= 10"),
    (lambda: digits_splits(val_size=900, test_size=900), "val_size \\+ test_size must leave"),
    (lambda: split_indices(10, 10, 0), "val_size must be an integer in \\[0, 9\\]"),
    (lambda: seeded_loader(mnist1d_splits().test, batch_size=0), "batch_size must be an integer >= 1"),
])
def test_data_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# ---- sklearn digits ----

def test_digits_splits():
    s = digits_splits(val_size=180, test_size=360, seed=0)
    assert [len(d) for d in s] == [1257, 180, 360]
    x = s.train.tensors[0]
    assert x.shape[1:] == (1, 8, 8) and x.min() >= 0 and x.max() <= 1
    counts = np.bincount(s.test.tensors[1].numpy(), minlength=10)
    assert counts.min() >= 34 and counts.max() <= 38  # stratified: ~36 per class
    same, other = digits_splits(seed=0), digits_splits(seed=1)
    assert torch.equal(same.test.tensors[0], s.test.tensors[0])
    assert not torch.equal(other.test.tensors[0], s.test.tensors[0])
    from sklearn.datasets import load_digits
    all_rows = {tuple(r) for r in (load_digits().data / 16).round(6)}
    split_rows = [rows(d) for d in s]
    assert split_rows[0] | split_rows[1] | split_rows[2] <= all_rows
    total = sum(len(d) for d in s)
    assert total == 1797


# ---- torchvision data sets from RGLT_DATA ----

def test_missing_data_root_names_env_var_and_path(tmp_path, monkeypatch):
    monkeypatch.delenv("RGLT_DATA", raising=False)
    with pytest.raises(FileNotFoundError, match="RGLT_DATA"):
        vision_dataset("cifar10", "train")
    monkeypatch.setenv("RGLT_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError) as err:
        vision_dataset("cifar10", "train")
    assert str(tmp_path / "cifar-10-batches-py") in str(err.value) and "RGLT_DATA" in str(err.value)
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "cifar-100-python")):
        vision_dataset("cifar100", "test")
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "test_32x32.mat")):
        vision_dataset("svhn", "test")
    with pytest.raises(ValueError, match="name must be one of cifar10, cifar100, svhn"):
        vision_dataset("mnist", "train")
    with pytest.raises(ValueError, match="split must be one of train, test"):
        vision_dataset("cifar10", "val")
    (tmp_path / "cifar-10-batches-py").mkdir()  # present but empty: torchvision's integrity check fails
    with pytest.raises(FileNotFoundError, match="incomplete or corrupt"):
        vision_dataset("cifar10", "test")


def test_cifar10_layout_transforms_and_splits(tmp_path, monkeypatch):
    import torchvision
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for name in names:
        batch = {"data": rng.integers(0, 256, (4, 3072), dtype=np.uint8), "labels": list(range(4))}
        with open(folder / name, "wb") as f:
            pickle.dump(batch, f)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": [str(i) for i in range(10)]}, f)
    # The fake files cannot match torchvision's md5 sums; skip that check only.
    monkeypatch.setattr(torchvision.datasets.CIFAR10, "_check_integrity", lambda self: True)
    monkeypatch.setattr(torchvision.datasets.cifar, "check_integrity", lambda *args: True)
    s = vision_splits("cifar10", root=tmp_path, val_size=5)
    assert [len(d) for d in s] == [15, 5, 4]
    x, y = s.val[0]
    raw = vision_dataset("cifar10", "train", root=tmp_path, normalize=False)
    assert x.shape == (3, 32, 32) and torch.allclose(
        x, (raw[15][0] - torch.tensor([0.4914, 0.4822, 0.4465]).view(3, 1, 1))
        / torch.tensor([0.2470, 0.2435, 0.2616]).view(3, 1, 1))
    torch.manual_seed(0)
    augmented = torch.stack([s.train[0][0] for _ in range(8)])
    assert augmented.shape == (8, 3, 32, 32) and not all(torch.equal(a, augmented[0]) for a in augmented)
    with pytest.raises(ValueError, match="val_size must be an integer in"):
        vision_splits("cifar10", root=tmp_path, val_size=-1)
    corrupted = vision_corrupted("cifar10", "contrast", 5, root=tmp_path)
    assert corrupted.tensors[0].shape == (4, 3, 32, 32) and corrupted.tensors[1].tolist() == [0, 1, 2, 3]
    with pytest.raises(ValueError, match=r"severity must be an integer in \[1, 5\]"):
        vision_corrupted("cifar10", "contrast", 6, root=tmp_path)


# ---- image corruptions ----

def _images(n=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    smooth = torch.nn.functional.avg_pool2d(torch.rand(n, 3, 36, 36, generator=g), 5, 1)  # 32x32, some structure
    return smooth.clamp(0, 1)


@pytest.mark.parametrize("name", CORRUPTIONS)
def test_corruptions_keep_shape_range_and_are_seeded(name):
    x = _images()
    before = x.clone()
    outs = [corrupt(x, name, s, seed=1) for s in range(1, 6)]
    assert torch.equal(x, before)  # input untouched
    for out in outs:
        assert out.shape == x.shape and out.dtype == x.dtype and out.min() >= 0 and out.max() <= 1
    assert torch.equal(corrupt(x, name, 3, seed=1), outs[2])
    assert corrupt(x[0], name, 2).shape == (3, 32, 32)
    diffs = [(o - x).abs().mean().item() for o in outs]
    if name != "saturate":  # saturate's severities 1-2 desaturate, 3-5 oversaturate (as in the paper)
        assert all(a < b for a, b in zip(diffs, diffs[1:])), diffs
    assert diffs[0] > 0


def test_random_corruptions_depend_on_seed():
    x = _images()
    for name in ("gaussian_noise", "shot_noise", "impulse_noise", "speckle_noise"):
        assert not torch.equal(corrupt(x, name, 3, seed=0), corrupt(x, name, 3, seed=1))


def test_corruptions_against_independent_references():
    x = _images(2)
    # Gaussian blur = scipy's gaussian_filter per channel, edges 'nearest' (what skimage calls).
    for severity, sigma in enumerate(SEVERITY["gaussian_blur"], 1):
        ref = gaussian_filter(x.numpy().astype(np.float64), sigma=(0, 0, sigma, sigma), mode="nearest")
        assert np.allclose(corrupt(x, "gaussian_blur", severity).numpy(), ref, atol=1e-5)
    # Defocus severity 1: a radius-0.3 disk is one pixel, so the kernel is the 3x3 Gaussian itself.
    w = np.exp(-0.5 * (np.arange(-1, 2) / 0.4) ** 2)
    w /= w.sum()
    k = disk_kernel(0.3, 0.4)
    assert np.allclose(k[k.shape[0] // 2 - 1:k.shape[0] // 2 + 2, k.shape[1] // 2 - 1:k.shape[1] // 2 + 2],
                       np.outer(w, w)) and np.isclose(k.sum(), 1)
    for radius, blur in SEVERITY["defocus_blur"]:
        k = disk_kernel(radius, blur)
        assert np.isclose(k.sum(), 1) and np.allclose(k, k.T) and np.allclose(k, k[::-1, ::-1])
    # Contrast: per image and channel, (x - mean) * c + mean.
    m = x.mean(dim=(2, 3), keepdim=True)
    assert torch.allclose(corrupt(x, "contrast", 5), ((x - m) * 0.15 + m).clamp(0, 1), atol=1e-6)
    # Brightness and saturate: HSV round trips with the standard library's colorsys, pixel by pixel.
    pixels = torch.tensor([[0.2, 0.5, 0.9], [0.0, 0.0, 0.0], [0.4, 0.4, 0.4], [1.0, 0.1, 0.3], [0.7, 0.6, 0.0]])
    img = pixels.T.reshape(1, 3, 5, 1).expand(1, 3, 5, 2).contiguous()
    for severity in range(1, 6):
        c = SEVERITY["brightness"][severity - 1]
        a, b = SEVERITY["saturate"][severity - 1]
        bright, sat = corrupt(img, "brightness", severity), corrupt(img, "saturate", severity)
        for i, p in enumerate(pixels.tolist()):
            h, s, v = colorsys.rgb_to_hsv(*p)
            assert np.allclose(bright[0, :, i, 0].numpy(), colorsys.hsv_to_rgb(h, s, min(v + c, 1.0)), atol=1e-6)
            assert np.allclose(sat[0, :, i, 0].numpy(), colorsys.hsv_to_rgb(h, min(max(s * a + b, 0), 1), v),
                               atol=1e-6)


def test_corruption_bad_input():
    x = _images(1)
    with pytest.raises(ValueError, match="name must be one of gaussian_noise"):
        corrupt(x, "fog", 1)
    with pytest.raises(ValueError, match=r"severity must be an integer in \[1, 5\]"):
        corrupt(x, "contrast", 0)
    with pytest.raises(ValueError, match="values in \\[0, 1\\]"):
        corrupt(x * 2, "contrast", 1)
    with pytest.raises(ValueError, match="float tensor"):
        corrupt((x * 255).to(torch.uint8), "contrast", 1)
    with pytest.raises(ValueError, match="saturate needs RGB"):
        corrupt(x[:, :1], "saturate", 1)
    with pytest.raises(TypeError, match="images must be a torch.Tensor"):
        corrupt(x.numpy(), "contrast", 1)


# ---- loaders ----

def test_seeded_loader_order_follows_seed():
    ds = digits_splits().test

    def order(seed):
        return torch.cat([y for _, y in seeded_loader(ds, batch_size=64, shuffle=True, seed=seed)])

    assert torch.equal(order(3), order(3)) and not torch.equal(order(3), order(4))
    assert torch.equal(torch.cat([y for _, y in seeded_loader(ds, batch_size=64)]), ds.tensors[1])


def test_mnist1d_task_carves_a_validation_split_of_the_asked_size():
    from rglt.data.tasks import Task, load_task
    data = load_task(Task(train_size=900, val_size=100, noise=2))
    assert (len(data.train[1]), len(data.val[1]), len(data.test[1])) == (900, 100, 1000)
    train_rows = {tuple(row.tolist()) for row in data.train[0].flatten(1)}
    assert not any(tuple(row.tolist()) in train_rows for row in data.val[0].flatten(1))  # disjoint
    default = load_task(Task(train_size=900, noise=2))
    assert len(default.val[1]) == 500
    with pytest.raises(ValueError, match="train_size \\+ val_size must be <= 4000"):
        Task(train_size=3900, val_size=200)
    with pytest.raises(ValueError, match="val_size must be None or an integer"):
        Task(val_size=0)


def test_corruptions_on_a_noisy_task_start_from_its_own_test_set_and_raise_one_knob():
    from rglt.data.mnist_1d import _regenerated
    task = mnist1d_splits(noise=2)
    assert torch.equal(mnist1d_corrupted("shear", 0, noise=2).tensors[0], task.test.tensors[0])
    # oracle: the regeneration with both knobs set by hand
    np.testing.assert_allclose(mnist1d_corrupted("shear", 3, noise=2).tensors[0][:, 0].numpy(),
                               _regenerated("test", 2, 0, 3, 0, 42), atol=1e-6)
    assert torch.equal(mnist1d_corrupted("noise", 1, noise=2).tensors[0], task.test.tensors[0])  # max(2, 1)
    with pytest.raises(ValueError, match="noise must be an integer in \\[0, 5\\]"):
        mnist1d_corrupted("shear", 1, noise=6)


def test_random_translation_moves_each_signal_by_its_own_offset_with_zeros_shifted_in():
    from rglt.data import random_translation
    x = torch.arange(1, 2 * 2 * 10 + 1, dtype=torch.float32).reshape(2, 2, 10)
    out = random_translation(x, 3, torch.Generator().manual_seed(0))
    for i in range(2):      # oracle: numpy, signal by signal, for the offset it must have used
        matches = []
        for k in range(-3, 4):
            expected = np.zeros((2, 10), dtype=np.float32)
            if k >= 0:
                expected[:, k:] = x[i, :, :10 - k].numpy()
            else:
                expected[:, :k] = x[i, :, -k:].numpy()
            matches.append(np.array_equal(out[i].numpy(), expected))
        assert sum(matches) == 1
    again = random_translation(x, 3, torch.Generator().manual_seed(0))
    assert torch.equal(out, again)
    with pytest.raises(ValueError, match="max_shift must be an integer in \\[0, 9\\]"):
        random_translation(x, 10, torch.Generator())


def test_corrupted_tests_of_a_noisy_task_are_the_severities_above_its_own():
    from rglt.data import Task, corrupted_tests
    sets = corrupted_tests(Task(train_size=100, noise=2))
    assert sorted(sets) == sorted([f"noise:{s}" for s in (3, 4, 5)]
                                  + [f"{k}:{s}" for k in ("shear", "scale", "shift") for s in range(1, 6)])
    x, y = sets["scale:2"]
    assert x.shape == (1000, 1, 40) and torch.equal(y, mnist1d_splits().test.tensors[1])
    with pytest.raises(ValueError, match="task.name must be mnist1d or one of"):
        corrupted_tests(Task("digits"))


def test_a_minority_subgroup_is_the_same_signals_reversed_in_time():
    from rglt.data import Task, load_task, minority_groups
    from rglt.identity import key as config_hash
    plain, task = Task("mnist1d", train_size=1000), Task("mnist1d", train_size=1000, minority=0.05)
    a, b, groups = load_task(plain), load_task(task), minority_groups(task)
    for split in ("train", "val", "test"):
        (xa, ya), (xb, yb), g = getattr(a, split), getattr(b, split), groups[split]
        assert torch.equal(ya, yb) and g.shape == ya.shape
        assert torch.equal(xb[g], xa[g].flip(-1)) and torch.equal(xb[~g], xa[~g])
    assert int(groups["train"].sum()) == 50 and int(groups["val"].sum()) == 25
    assert torch.equal(groups["test"], torch.arange(len(groups["test"])) % 2 == 1)
    assert config_hash(plain) == config_hash(Task("mnist1d", train_size=1000, minority=0.0))   # keys stand
    with pytest.raises(ValueError, match="minority must be a share"):
        Task("mnist1d", minority=0.5)
    with pytest.raises(ValueError, match="minority applies to mnist1d only"):
        Task("digits", minority=0.1)


# ---- other template sets: another label set on the same generator ----

def test_another_template_set_keeps_every_draw_and_changes_only_the_shapes():
    from mnist1d.data import get_templates
    from rglt.data.mnist_1d import templates
    digits, shapes = mnist1d_splits(), mnist1d_splits(templates="shapes20")
    assert np.array_equal(templates("digits"), np.asarray(get_templates()["x"]))
    for d, s in zip(digits, shapes):
        assert d.tensors[0].shape == s.tensors[0].shape
    y = shapes.train.tensors[1].numpy()
    assert set(np.unique(y)) == set(range(20))
    # the generator's order is all of class 0, then class 1, ...: the 20 classes take halves of the 10 digits'
    # blocks, so a shape class is always one digit's half (the same draws: translation, noise, shear)
    assert np.array_equal(y // 2, digits.train.tensors[1].numpy())
    both = templates("digits+shapes20")
    assert both.shape == (30, 12) and np.array_equal(both[:10], templates("digits"))


def test_the_other_shapes_are_like_the_digits_but_none_is_one():
    from rglt.data.mnist_1d import templates
    digits, shapes = templates("digits"), templates("shapes20")
    assert shapes.shape == (20, 12) and np.all(shapes[:, [0, -1]] == 0)
    peaks = np.abs(shapes).max(axis=1)
    assert np.all((peaks >= 0.25 - 1e-12) & (peaks <= 0.47 + 1e-12))
    near = [min(np.abs(s - t).mean() for t in [*digits, *(-digits[:, ::-1])]) for s in shapes]
    assert min(near) >= 0.12
    among = [np.abs(a - b).mean() for i, a in enumerate(shapes) for b in shapes[:i]]
    assert min(among) >= 0.12


def test_template_sets_are_checked_and_meant_for_mnist1d():
    from rglt.data import Task
    from rglt.data.tasks import corrupted_tests, load_task
    with pytest.raises(ValueError, match="templates must be one of digits, shapes20"):
        mnist1d_splits(templates="letters")
    with pytest.raises(ValueError, match="templates applies to mnist1d only"):
        Task("cifar10", templates="shapes20")
    assert load_task(Task(train_size=100, templates="shapes20")).num_classes == 20
    assert load_task(Task(train_size=100, templates="digits+shapes20")).num_classes == 30
    with pytest.raises(ValueError, match="templates='digits' only"):
        corrupted_tests(Task(train_size=100, templates="shapes20"))


def test_the_first_token_task_labels_each_sequence_by_its_opening_token():
    from rglt.data import sequences
    x, y = sequences.labelled("first", 300, seed=5)
    assert torch.equal(y, x[:, 0]) and sequences.classes("first") == sequences.VOCAB
