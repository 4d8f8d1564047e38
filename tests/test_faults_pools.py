"""Issue 25, bad inputs to Lottery Pools and the pruning masks, as a hostile user passes them.

1. The pools functions trusted their inputs: a non-finite score decided a search, masks of another
   shape than their weights, empty recalibration data, lists for tensors, dtype mixes and NaN states
   went through. Each is now a ValueError / TypeError naming the argument (and the entry of a state
   dict), raised before any work.
2. Messages that named the wrong thing: magnitude_masks said "amount" for its ``fraction``, and a few
   checks let numpy's or torch's own message through without naming the argument.
"""
import pytest
import torch
from torch import nn

from rglt import pools
from rglt.prune import TicketStore, magnitude_masks
from rglt.prune.masks import random_like

NAN, INF = float("nan"), float("inf")


def _state(seed=0, n=10):
    g = torch.Generator().manual_seed(seed)
    return {"w": torch.randn(n, generator=g), "v": torch.randn(n // 2, generator=g),
            "steps": torch.tensor(seed)}


def _net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv1d(1, 2, 3), nn.BatchNorm1d(2), nn.Flatten(), nn.Linear(12, 3))


def _x(n=16):
    return torch.randn(n, 1, 8, generator=torch.Generator().manual_seed(1))


def _bn(net):
    bn = net[1]
    return bn.running_mean.clone(), bn.running_var.clone(), int(bn.num_batches_tracked), bn.momentum


def _same_bn(net, before):
    after = _bn(net)
    return all(torch.equal(a, b) for a, b in zip(after[:2], before[:2])) and after[2:] == before[2:]


# 1. The pools functions check their inputs ----------------------------------------------------

def _search_error(bad, at, kind="greedy"):
    """The error of a search from w = 0 over candidates 1 (w = 1) and 2 (w = 2) whose score is ``bad``
    for the merged state with w == ``at`` and 0.5 for every other state."""
    target = {"w": torch.zeros(2)}
    candidates = [(1, lambda: {"w": torch.ones(2)}), (2, lambda: {"w": torch.full((2,), 2.0)})]

    def score(state):
        return bad if abs(float(state["w"][0]) - at) < 1e-5 else 0.5

    with pytest.raises(ValueError) as error:
        if kind == "greedy":
            pools.greedy(target, candidates, score, lambda s: s, coefficients=(0.3, 0.7))
        else:
            pools.running_average(target, candidates, score, lambda s: s, kind="swa")
    return str(error.value)


@pytest.mark.parametrize("bad", [NAN, INF, -INF])
def test_a_non_finite_score_in_the_search_is_an_error_naming_candidate_and_alpha(bad):
    # Before: a NaN compared False with every score and was passed over, inf won the search.
    # candidate 1 is accepted at alpha 0.7 (all scores tie: the authors' rule stays nearest the current
    # best), w = 0.3; candidate 2 at alpha 0.7 gives w = 0.7 * 0.3 + 0.3 * 2 = 0.81
    message = _search_error(bad, 0.81)
    assert "score(finish(merge of candidate 2 at alpha 0.7)) must be a finite number" in message
    assert "candidate 1 at alpha 0.3" in _search_error(bad, 0.7)
    assert "candidate 1 at alpha 0.5" in _search_error(bad, 0.5, kind="swa")


@pytest.mark.parametrize("bad", [NAN, INF, torch.tensor(NAN)])
def test_a_non_finite_score_of_the_target_is_an_error(bad):
    with pytest.raises(ValueError, match=r"score\(target\) must be a finite number"):
        pools.greedy({"w": torch.zeros(2)}, [(1, lambda: {"w": torch.ones(2)})], lambda s: bad, lambda s: s)


def test_a_score_that_is_not_a_number_is_an_error_naming_it():
    # Before: float("x") raised "could not convert string to float: 'x'", naming nothing of ours.
    with pytest.raises(TypeError, match=r"score\(target\) must be a finite number; got 'x'"):
        pools.greedy({"w": torch.zeros(2)}, [], lambda s: "x", lambda s: s)
    with pytest.raises(TypeError, match=r"score\(target\) must be a finite number; got True"):
        pools.greedy({"w": torch.zeros(2)}, [], lambda s: True, lambda s: s)


def test_masks_of_another_shape_than_their_weights_are_refused():
    state = _state()
    # Before: a (5,) mask on a (10,) weight re-pruned without a word.
    with pytest.raises(ValueError, match=r"target_masks\['w'\] must have the shape of state\['w'\], \(10,\); "
                                         r"got \(5,\)"):
        pools.reprune(state, {"w": torch.ones(5, dtype=torch.bool)})
    net = _net()
    with pytest.raises(ValueError, match=r"target_masks\['0.weight'\] must have the shape of the model's state"):
        pools.finisher(net, {"0.weight": torch.ones(2, 1, 2, dtype=torch.bool)}, _x(), batches=1)
    with pytest.raises(ValueError, match=r"target_masks names entries that the model's state lacks: \['conv.weight'\]"):
        pools.finisher(net, {"conv.weight": torch.ones(2, 1, 3, dtype=torch.bool)}, _x(), batches=1)


@pytest.mark.parametrize("masks,error,match", [
    ({"w": (torch.arange(10) % 2).float()}, TypeError,
     r"target_masks\['w'\] must be a bool tensor; got a tensor of dtype float32"),
    ({"w": torch.full((10,), 2)}, TypeError, r"target_masks\['w'\] must be a bool tensor; got a tensor of dtype int64"),
    ({"w": torch.zeros(10, dtype=torch.bool)}, ValueError, r"target_masks must keep at least one entry"),
    ({}, ValueError, r"target_masks must hold at least one entry"),
    ([torch.ones(10, dtype=torch.bool)], TypeError, r"target_masks must be a dict of masks"),
], ids=["float", "int", "all-pruned", "empty", "list"])
@pytest.mark.parametrize("ties", ["exact", "keep"])
def test_reprune_refuses_masks_that_are_not_bool_or_keep_nothing(masks, error, match, ties):
    # Before: a float 0/1 mask passed, an int mask of 2s asked for a negative count, an all-pruned
    # mask under ties="keep" failed inside torch.topk.
    with pytest.raises(error, match=match):
        pools.reprune(_state(), masks, ties=ties)


def test_empty_recalibration_data_is_refused_before_the_statistics_are_reset():
    net = _net()
    pools.recalibrate_bn(net, _x(), batches=1)
    before = _bn(net)
    # Before: zero inputs reset every BatchNorm to mean 0, variance 1 and returned as if recalibrated.
    with pytest.raises(ValueError, match=r"inputs must hold at least one entry along dim 0; got .*shape \(0, 1, 8\)"):
        pools.recalibrate_bn(net, torch.zeros(0, 1, 8), batches=2)
    assert _same_bn(net, before)
    with pytest.raises(ValueError, match=r"inputs must hold at least one entry"):
        pools.finisher(net, None, torch.zeros(0, 1, 8), batches=1)
    with pytest.raises(ValueError, match=r"inputs must hold at least one entry"):
        pools.predictions(net, torch.zeros(0, 1, 8))
    with pytest.raises(ValueError, match=r"probabilities\[0\] must be \(N, classes\) with N >= 1"):
        pools.ensemble_accuracy([torch.zeros(0, 3)], torch.zeros(0, dtype=torch.long))


def test_non_finite_recalibration_data_is_refused_before_the_statistics_are_reset():
    net = _net()
    pools.recalibrate_bn(net, _x(), batches=1)
    before = _bn(net)
    x = _x()
    x[3, 0, 2] = NAN
    # Before: the running statistics became NaN.
    with pytest.raises(ValueError, match=r"inputs must be finite"):
        pools.recalibrate_bn(net, x, batches=1)
    assert _same_bn(net, before)
    pools.recalibrate_bn(net, x, batches=1, batch_size=2)  # only the first batch is used: it is finite
    with pytest.raises(ValueError, match=r"inputs must be finite"):
        pools.predictions(net, x)


def test_a_failing_recalibration_leaves_the_model_as_it_was():
    net = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    pools.recalibrate_bn(net, torch.randn(8, 3), batches=1)
    net.eval()
    before = _bn(nn.Sequential(nn.Identity(), net[1]))
    # 5 inputs in batches of 4 leave a batch of one, which BatchNorm1d on (N, C) cannot average.
    # Before: torch's "Expected more than 1 value per channel" came out, the statistics reset and
    # the momentum left at None.
    with pytest.raises(ValueError, match=r"inputs\[4:5\] is a batch of one example \(batch_size 4"):
        pools.recalibrate_bn(net, torch.randn(5, 3), batches=2, batch_size=4)
    assert _same_bn(nn.Sequential(nn.Identity(), net[1]), before) and not net.training


TINY = {"w": torch.zeros(2)}
LONGS = torch.zeros(16, dtype=torch.long)


def _same(s):
    return s


LISTS = {  # a call with a Python list where a tensor belongs, and what its TypeError must say
    "interpolate": (lambda: pools.interpolate({"w": [1.0, 2.0]}, {"w": [1.0, 2.0]}, 0.5),
                    r"a\['w'\] must be a torch.Tensor; got list"),
    "interpolate-state": (lambda: pools.interpolate([1.0], [2.0], 0.5), r"a must be a state dict"),
    "reprune": (lambda: pools.reprune(_state(), {"w": [True] * 10}),
                r"target_masks\['w'\] must be a torch.Tensor; got list"),
    "recalibrate_bn": (lambda: pools.recalibrate_bn(_net(), _x().tolist(), batches=1),
                       r"inputs must be a torch.Tensor; got list"),
    "finisher": (lambda: pools.finisher(_net(), None, _x().tolist(), batches=1),
                 r"inputs must be a torch.Tensor; got list"),
    "predictions": (lambda: pools.predictions(_net(), _x().tolist()), r"inputs must be a torch.Tensor; got list"),
    "ensemble": (lambda: pools.ensemble_accuracy([[[0.2, 0.8]]], torch.tensor([1])),
                 r"probabilities\[0\] must be a torch.Tensor; got list"),
    "ensemble-labels": (lambda: pools.ensemble_accuracy([torch.tensor([[0.2, 0.8]])], [1]),
                        r"labels must be a torch.Tensor; got list"),
    "disagreement": (lambda: pools.disagreement([[[0.2, 0.8]]]),
                     r"probabilities\[0\] must be a torch.Tensor; got list"),
    "greedy-target": (lambda: pools.greedy([0.0], [], lambda s: 0.0, _same), r"target must be a state dict"),
    "greedy-candidate": (lambda: pools.greedy(TINY, [(1, lambda: [1.0, 1.0])], lambda s: 0.0, _same),
                         r"candidate 1's state must be a state dict"),
}


@pytest.mark.parametrize("name", LISTS)
def test_python_lists_where_tensors_belong_are_refused_by_name(name):
    call, match = LISTS[name]
    # Before: AttributeErrors ('list' object has no attribute 'shape' / 'to' / 'argmax'), or a
    # "differ in" about the list's items.
    with pytest.raises(TypeError, match=match):
        call()


F64, F32, BOOL = torch.float64, torch.float32, torch.bool
DTYPES = {  # a call that mixes dtypes, its error and what the message must say
    "interpolate-float64": (lambda: pools.interpolate({"w": torch.ones(3, dtype=F64)}, {"w": torch.ones(3)}, 0.5),
                            ValueError, r"b\['w'\] must have the dtype of a\['w'\], torch.float64; got torch.float32"),
    "interpolate-int": (lambda: pools.interpolate({"w": torch.ones(3)}, {"w": torch.ones(3, dtype=torch.int64)}, 0.5),
                        ValueError, r"b\['w'\] must have the dtype of a\['w'\]"),
    "reprune-mixed": (lambda: pools.reprune({"w": torch.randn(4, dtype=F64), "v": torch.randn(4)},
                                            {"w": torch.ones(4, dtype=BOOL), "v": torch.ones(4, dtype=BOOL)},
                                            ties="keep"),
                      TypeError, r"must share one dtype; state\['w'\] is torch.float64, state\['v'\] is torch.float32"),
    "recalibrate_bn-float64": (lambda: pools.recalibrate_bn(_net(), _x().double(), batches=1),
                               TypeError, r"inputs must have the dtype of the model's parameters, float32"),
    "scorer-float64": (lambda: pools.scorer(_net(), (_x().double(), LONGS)),
                       TypeError, r"data\[0\] must have the dtype of the model's parameters"),
    "ensemble-mixed": (lambda: pools.ensemble_accuracy([torch.eye(2), torch.eye(2).double()], torch.tensor([0, 1])),
                       ValueError, r"probabilities\[1\] must have the dtype of probabilities\[0\]"),
    "ensemble-float-labels": (lambda: pools.ensemble_accuracy([torch.eye(2)], torch.tensor([0.0, 1.0])),
                              TypeError, r"labels must be an integer tensor"),
    "ensemble-bool-probabilities": (lambda: pools.disagreement([torch.eye(2).bool()]),
                                    TypeError, r"probabilities\[0\] must be a floating tensor"),
}


@pytest.mark.parametrize("name", DTYPES)
def test_dtype_mixes_are_refused(name):
    call, error, match = DTYPES[name]
    # Before: silent promotion (float64 out of float32 weights, float out of an int entry), or
    # torch's "mat1 and mat2 must have the same dtype" deep in a forward pass.
    with pytest.raises(error, match=match):
        call()


def test_non_finite_states_are_refused_naming_the_entry():
    bad = _state(1)
    bad["v"][2] = NAN
    # Before: interpolate and reprune(ties="keep") passed NaN on; reprune(ties="exact") said weights[1].
    with pytest.raises(ValueError, match=r"b\['v'\] must be finite"):
        pools.interpolate(_state(), bad, 0.5)
    for ties in ("exact", "keep"):
        with pytest.raises(ValueError, match=r"state\['v'\] must be finite"):
            pools.reprune(bad, {"w": torch.ones(10, dtype=torch.bool), "v": torch.ones(5, dtype=torch.bool)}, ties=ties)
    with pytest.raises(ValueError, match=r"probabilities\[0\] must be finite"):
        pools.ensemble_accuracy([torch.tensor([[NAN, 1.0]])], torch.tensor([1]))


def test_states_of_another_model_are_refused_by_the_finisher_and_the_scorer():
    net = _net()
    data = (_x(), torch.zeros(16, dtype=torch.long))
    state = {k: v.clone() for k, v in net.state_dict().items()}
    state["3.weight"] = state["3.weight"].double()
    # Before: load_state_dict cast the float64 entry silently.
    with pytest.raises(ValueError, match=r"state\['3.weight'\] must have the dtype of the model's state\['3.weight'\]"):
        pools.scorer(net, data)(state)
    with pytest.raises(ValueError, match=r"state\['3.weight'\] must have the dtype"):
        pools.finisher(net, None, _x(), batches=1)(state)


def test_the_search_checks_everything_before_any_work():
    calls = []

    def score(state):
        calls.append(state)
        return 0.0

    target = {"w": torch.zeros(2)}
    good = (1, lambda: {"w": torch.ones(2)})
    # Before: the first candidate was merged and scored before the bad second one was met.
    for bad, error, match in (((2, "not a loader"), TypeError, r"candidates\[1\]'s loader must be a callable"),
                              (3, TypeError, r"candidates\[1\] must be a pair \(level, loader\)"),
                              ((-1, good[1]), ValueError, r"candidates\[1\]'s level must be an integer >= 0")):
        with pytest.raises(error, match=match):
            pools.greedy(target, [good, bad], score, lambda s: s)
        with pytest.raises(error, match=match):
            pools.running_average(target, [good, bad], score, lambda s: s)
    for kwargs, error, match in ((dict(strict=1), TypeError, "strict must be a bool"),
                                 (dict(trace=3), TypeError, "trace must be None or a callable"),
                                 (dict(on_step="x"), TypeError, "on_step must be None or a callable"),
                                 (dict(coefficients=0.5), ValueError, "coefficients must be a non-empty sequence")):
        with pytest.raises(error, match=match):
            pools.greedy(target, [good], score, lambda s: s, **kwargs)
    with pytest.raises(TypeError, match="finish must be a callable"):
        pools.greedy(target, [good], score, 3)
    assert calls == []


def test_a_candidate_or_finished_state_unlike_the_target_is_refused_naming_it():
    target = {"w": torch.zeros(2)}
    with pytest.raises(ValueError, match=r"candidate 4's state\['w'\] must have the shape of target\['w'\], "
                                         r"\(2,\); got \(3,\)"):
        pools.greedy(target, [(4, lambda: {"w": torch.ones(3)})], lambda s: 0.0, lambda s: s)
    # a finish that breaks the state: before, NaN weights went on to be scored and kept
    with pytest.raises(ValueError, match=r"finish\(merge of candidate 4 at alpha 0.5\)\['w'\] must be finite"):
        pools.greedy(target, [(4, lambda: {"w": torch.ones(2)})], lambda s: 0.0,
                     lambda s: {"w": s["w"] * NAN}, coefficients=(0.5,))


def test_ensemble_labels_outside_the_classes_are_refused():
    p = torch.tensor([[0.9, 0.1], [0.2, 0.8]])
    # Before: counted as wrong predictions, silently lowering the accuracy.
    with pytest.raises(ValueError, match=r"labels must be classes in \[0, 2\).*got values in \[0, 5\]"):
        pools.ensemble_accuracy([p], torch.tensor([0, 5]))
    with pytest.raises(ValueError, match=r"labels must be one integer class per example, shape \(2,\)"):
        pools.ensemble_accuracy([p], torch.tensor([[0], [1]]))


def test_magnitude_masks_refuses_nan_masks():
    # Before: a NaN mask entry is nonzero, so it survived as if it were 1.
    mask = torch.ones(6)
    mask[1] = NAN
    with pytest.raises(ValueError, match=r"masks\[0\] must be finite"):
        magnitude_masks([torch.randn(6)], [mask], 0.5)


@pytest.fixture
def store(tmp_path):
    net = _net()
    state = {k: v.clone() for k, v in net.state_dict().items()}
    masks = {"0.weight": torch.ones(2, 1, 3, dtype=torch.bool), "3.weight": torch.rand(3, 12) < 0.5}
    s = TicketStore(tmp_path / "run")
    s.save(0, state, {k: torch.ones_like(m) for k, m in masks.items()}, {"accuracy": 0.5}, rewind=state)
    s.save(1, {k: v * masks[k] if k in masks else v for k, v in state.items()}, masks, {"accuracy": 0.5})
    return s


def test_lottery_pool_refuses_data_of_another_dtype_and_a_model_of_other_shapes(store):
    data = (_x(), torch.zeros(16, dtype=torch.long))
    # Before: torch's dtype error from inside the first BatchNorm recalibration.
    with pytest.raises(TypeError, match=r"data\[0\] must have the dtype of the model's parameters"):
        pools.lottery_pool(_net(), store, (data[0].double(), data[1]), data)
    with pytest.raises(TypeError, match=r"val\[0\] must have the dtype of the model's parameters"):
        pools.lottery_pool(_net(), store, data, (data[0].double(), data[1]))
    wide = nn.Sequential(nn.Conv1d(1, 2, 3), nn.BatchNorm1d(2), nn.Flatten(), nn.Linear(12, 5))
    # Before: load_state_dict's "size mismatch" RuntimeError, after the search had started.
    with pytest.raises(ValueError, match=r"model must have the run's architecture: .*\['3.weight'\] "
                                         r"must have the shape"):
        pools.lottery_pool(wide, store, data, data)
    assert pools.lottery_pool(_net(), store, data, data).score >= 0  # good input still runs


# 2. Messages name the argument ----------------------------------------------------------------

@pytest.mark.parametrize("scope,where", [("global", "the list"), ("layerwise", r"weights\[1\]")])
def test_magnitude_masks_names_fraction_for_a_count_too_large(scope, where):
    weights = [torch.randn(10), torch.randn(3)]
    # Before: "amount must be <= the surviving entries ...": masked_topk's name, not magnitude_masks'.
    match = rf"fraction \(as a count of entries\) must be <= the surviving entries of {where}"
    with pytest.raises(ValueError, match=match) as error:
        magnitude_masks(weights, None, 14 if scope == "global" else 4, scope=scope)
    assert "amount" not in str(error.value)


def test_magnitude_masks_says_an_int_fraction_is_a_count():
    with pytest.raises(ValueError, match=r"fraction must be a number in \[0, 1\) .* "
                                         r"or an int >= 0 \(a count of entries\)"):
        magnitude_masks([torch.randn(4)], None, 1.5)


@pytest.mark.parametrize("seed", [-1, 1.5, "3", True, 2**63])
def test_random_like_names_a_bad_seed(seed):
    # Before: torch's "manual_seed expected a long, but got str" (or a negative seed accepted).
    with pytest.raises(ValueError, match=r"seed must be an integer in \[0, 2\*\*63\)"):
        random_like(torch.ones(4, dtype=torch.bool), seed)


@pytest.mark.parametrize("mask", [torch.full((4,), NAN), torch.full((4,), 0.5), torch.tensor([0, 2, 1, 1])])
def test_random_like_names_a_mask_that_is_not_zeros_and_ones(mask):
    # Before: NaN gave numpy-style "cannot convert float NaN to integer"; 0.5s were summed as counts.
    with pytest.raises(ValueError, match=r"mask must be a bool tensor or hold only 0 and 1"):
        random_like(mask, 0)


def test_random_like_unchanged_on_good_masks():
    m = torch.tensor([True, False, True, True, False])
    got = random_like(m, 7)
    assert torch.equal(random_like(m.float(), 7), got) and int(got.sum()) == 3


def test_reprune_names_the_state_entries_not_magnitude_masks_arguments():
    # Before: "weights[0] must have a floating dtype" / "weights must share one dtype; weights[0] ...":
    # the names of magnitude_masks' arguments, which the caller of reprune never passed.
    with pytest.raises(TypeError, match=r"state\['w'\] must be a floating tensor"):
        pools.reprune({"w": torch.arange(4)}, {"w": torch.tensor([1, 0, 0, 1]).bool()})
    with pytest.raises(TypeError, match=r"state\['w'\] is torch.float64, state\['v'\] is torch.float32"):
        pools.reprune({"w": torch.randn(4, dtype=torch.float64), "v": torch.randn(4)},
                      {"w": torch.ones(4, dtype=torch.bool), "v": torch.tensor([1, 0, 0, 1]).bool()})


MESSAGES = {  # a call, its error, what the message must name; before, the message in the comment
    # object of type 'float' has no len()
    "coefficients": (lambda: pools.greedy(TINY, [], lambda s: 0.0, _same, coefficients=0.5),
                     ValueError, r"coefficients must be a non-empty sequence"),
    # 'int' object is not iterable
    "levels": (lambda: pools.adjacency_order(3, 5), TypeError, r"levels must be an iterable of integers"),
    # levels must be an integer >= 0; got 2.0 (named the argument, not which item)
    "levels-item": (lambda: pools.adjacency_order(3, [1, 2.0]), ValueError, r"levels\[1\] must be an integer >= 0"),
    # range() arg 3 must not be zero
    "batch_size": (lambda: pools.predictions(_net(), _x(), 0), ValueError, r"batch_size must be an integer >= 1"),
    # stack expects a non-empty TensorList
    "disagreement-empty": (lambda: pools.disagreement([]), ValueError, r"probabilities must hold at least one"),
    # stack expects each tensor to be equal size
    "disagreement-shapes": (lambda: pools.disagreement([torch.eye(3), torch.eye(2)]),
                            ValueError, r"probabilities\[1\] must have the shape of probabilities\[0\], \(3, 3\)"),
    # Dimension out of range
    "disagreement-1d": (lambda: pools.disagreement([torch.ones(3)]),
                        ValueError, r"probabilities\[0\] must be \(N, classes\)"),
    # Boolean value of Tensor with more than one value is ambiguous
    "ensemble-stacked": (lambda: pools.ensemble_accuracy(torch.ones(2, 3, 2), torch.tensor([0, 1, 1])),
                         TypeError, r"probabilities must be a list or tuple"),
    # 'str' object has no attribute 'modules'
    "recalibrate_bn-model": (lambda: pools.recalibrate_bn("net", _x(), batches=1),
                             TypeError, r"model must be a torch.nn.Module"),
    # len() of a 0-d tensor
    "recalibrate_bn-0d": (lambda: pools.recalibrate_bn(_net(), torch.tensor(1.0), batches=1),
                          ValueError, r"inputs must have at least 1 dimension"),
    # 'str' object has no attribute 'training'
    "predictions-model": (lambda: pools.predictions("net", _x()), TypeError, r"model must be a torch.nn.Module"),
    # nothing until the first call of finish
    "finisher-batches": (lambda: pools.finisher(_net(), None, _x(), batches=0),
                         ValueError, r"batches must be an integer >= 1"),
    # nothing until the first call of score
    "scorer-model": (lambda: pools.scorer("net", (_x(), LONGS)), TypeError, r"model must be a torch.nn.Module"),
    # nothing: an int key went through
    "interpolate-key": (lambda: pools.interpolate({1: torch.ones(2)}, {1: torch.ones(2)}, 0.5),
                        TypeError, r"a must map entry names \(str\)"),
}


@pytest.mark.parametrize("name", MESSAGES)
def test_messages_name_the_argument(name):
    call, error, match = MESSAGES[name]
    with pytest.raises(error, match=match):
        call()
