"""Chapter 5, claim 8 of seed 002: do a transformer's tickets attend more sharply?

The essay: "When we find a winning ticket by pruning attention scores ... the resulting attention
distributions become less diffuse and more 'focused.' Their entropy decreases." No published work
measures this directly. Everything here starts from chapter 2's transformer runs (``imp_flow_transformer``:
a transformer pretrained on generated sequences, fine-tuned on several tasks, several seeds). The entropy
of a head's attention is that of its distribution over the L positions, averaged over the queries of
held-out sequences (nats; log L for uniform attention).

Version 1 measured the tickets of those runs' IMP, which prunes *weights* (10% of the original per round,
to 10% density): the sparsest ticket's entropy against the dense fine-tuned network's. That is kept
(``entropy``, the registered reading), but pruning weights leaves every attention score in place.

Version 2 (issue 32, item 4) prunes attention *scores*, as the essay does. Each run's dense fine-tuned
network (IMP's level 0) keeps, per query, only its top-k scores (the others -inf before the softmax,
:meth:`rglt.models.transformer.Transformer.keep_top_scores`), for k a share :attr:`Config.keep` of the L
positions, and is fine-tuned briefly with the top-k in place (:attr:`Config.score_finetune`), so that the
network adapts to the pruning: a ticket found by pruning scores. Its control is the same dense network
fine-tuned exactly as long, from the same weights with the same batches, with every score kept: the
difference is the pruning's alone, not the extra training's.

With the top-k in place a distribution's entropy is at most log k by construction, so its fall would
test nothing. The reading registered (:func:`rules`) asks whether the *network* has become more focused:
the entropy of its full softmax, the top-k lifted at measurement, against the control's. It is taken at
the smallest share kept that is still a winning ticket on every task (test accuracy, top-k in place,
within ``matched_drop`` of the control's: a paired 95% interval over seeds), the regime the essay speaks
of. The entropy with the top-k in place, normalised by its bound log k (against the control's by
log L), is shown beside it as a description, not judged: a ticket that only truncates its tails is
sharper in that reading too.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from rglt.claims import Claim, Rule, deciding
from rglt.data.tasks import load_task
from rglt.experiments import imp_flow_transformer
from rglt.identity import unhashed
from rglt.prune import map_jobs, run_all, train_tickets
from rglt.stats import Interval, mean_interval
from rglt.train import TrainConfig, evaluate, train
from rglt.validate import check_int, check_real, require

NAME = "tickets_attention"
VERSION = 2
SOURCE = "002 'The Modern Frontier' (Transformers and interpretability)"
PRUNED = "weights"        # what the IMP tickets prune: imp_flow_transformer's IMP, global magnitude of weights
SCORES = "attention scores"


@dataclasses.dataclass(frozen=True)
class Config:
    runs: imp_flow_transformer.Config = imp_flow_transformer.CONFIGS["cpu"]   # the tickets measured
    sequences: int = 512                       # held-out sequences whose attention is measured
    keep: tuple = (0.5, 0.25, 0.1)             # shares of the L positions each query keeps (score pruning)
    # brief fine-tuning with the top-k in place (and of the control, without it): 2 of the runs' 5 epochs
    score_finetune: TrainConfig = TrainConfig(epochs=2, batch_size=64, optimizer="adamw", lr=1e-3, weight_decay=0.01)
    workers: int = unhashed(2)
    matched_drop: float = unhashed(0.01)       # a winning ticket: test accuracy no more than 1 point below the control


CONFIGS = {
    "smoke": Config(runs=imp_flow_transformer.CONFIGS["smoke"], sequences=64,
                    score_finetune=TrainConfig(epochs=1, batch_size=64, optimizer="adamw", lr=1e-3, weight_decay=0.01),
                    workers=1),
    "cpu": Config(),
    "gpu": Config(runs=imp_flow_transformer.CONFIGS["gpu"], sequences=2048, workers=1),
}


def check_config(config: Config) -> None:
    """A clear error naming the field, before any work is done."""
    if not isinstance(config, Config):
        raise TypeError(f"config must be a tickets_attention.Config; got {type(config).__name__}")
    require(isinstance(config.runs, imp_flow_transformer.Config), "runs", "an imp_flow_transformer.Config", config.runs)
    check_int(config.sequences, "sequences", 1)
    require(isinstance(config.keep, tuple) and len(config.keep) > 0
            and all(isinstance(s, float) and 0 < s < 1 for s in config.keep)
            and list(config.keep) == sorted(set(config.keep), reverse=True),
            "keep", "a non-empty tuple of distinct shares in (0, 1) (floats), largest first", config.keep)
    require(isinstance(config.score_finetune, TrainConfig), "score_finetune", "an rglt.train.TrainConfig",
            config.score_finetune)
    check_int(config.workers, "workers", 1)
    check_real(config.matched_drop, "matched_drop", 0.0)


def kept_positions(share: float, length: int) -> int:
    """The scores each query keeps for a share of ``length`` positions: rounded, at least 1, below ``length``."""
    return min(max(1, round(share * length)), length - 1)


def attention_entropy(model, ids) -> np.ndarray:
    """[layers, heads]: the entropy (nats) of each head's attention distribution, averaged over the
    batch and the query positions of ``ids`` (with the model's score pruning, if set)."""
    import torch

    out = []
    model.eval()
    with torch.no_grad():
        for i in range(model.layers):
            p = getattr(model, f"layer{i + 1}").attention.attention_weights(model.stream(ids, upto=i))
            h = -(p * torch.log(p.clamp_min(1e-30))).sum(-1)       # [B, heads, L]
            out.append(h.mean((0, 2)).double().numpy())
    return np.stack(out)


def _runs(config: Config) -> list:
    rc = config.runs
    return [imp_flow_transformer.task_run(rc, task, "pretrained", r) for task in rc.tasks for r in range(rc.seeds)]


def _score_ticket(job) -> dict:
    """One run's dense fine-tuned network (IMP's level 0), fine-tuned ``score_finetune`` more with each query
    keeping its top ``keep`` scores (``keep`` None: the control, every score kept); its test accuracy with the
    top-k in place, and its attention entropy with the top-k lifted (``full``) and in place (``kept``)."""
    run, keep, config = job
    data = load_task(run.task)
    model = run.model.build(data, seed=run.replicate)
    model.load_state_dict(train_tickets(run).load(0).weights)
    model.keep_top_scores(keep)
    train(model, data.train, dataclasses.replace(config.score_finetune, seed=run.replicate), desc="score ticket")
    ids = data.test[0][:config.sequences]
    out = {"accuracy": evaluate(model, data.test)["accuracy"], "kept": attention_entropy(model, ids)}
    model.keep_top_scores(None)
    out["full"] = attention_entropy(model, ids)
    return out


def run(config: Config) -> dict:
    check_config(config)
    rc = config.runs
    runs = _runs(config)
    run_all([imp_flow_transformer.pretrain_run(rc)] + runs, workers=config.workers)
    # version 1's measurement: the weight-pruned IMP tickets, every level
    entropy, density, dense_accuracy = [], [], []
    for r in runs:
        store, data = train_tickets(r), load_task(r.task)
        ids = data.test[0][:config.sequences]
        model = r.model.build(data, seed=r.replicate)
        per_level = []
        for level in store.levels():
            model.load_state_dict(store.load(level).weights)
            per_level.append(attention_entropy(model, ids))
        entropy.append(per_level)
        density.append([store.load(level).density for level in store.levels()])
        dense_accuracy.append(store.metrics(0)["accuracy"])
    length = int(load_task(runs[0].task).test[0].shape[1])
    keep = [kept_positions(s, length) for s in config.keep]
    # version 2: score pruning at each k, and the control (None), for every run
    jobs = [(r, k, config) for r in runs for k in (None, *keep)]
    done = map_jobs(_score_ticket, jobs, workers=config.workers, desc="score tickets")
    shape = (len(rc.tasks), rc.seeds)
    per = lambda key: np.array([d[key] for d in done]).reshape(*shape, len(keep) + 1, *np.shape(done[0][key]))
    accuracy, full, kept = per("accuracy"), per("full"), per("kept")
    return {"entropy": np.array(entropy).reshape(*shape, *np.shape(entropy)[1:]),   # [tasks, seeds, levels, layers, heads]
            "density": np.array(density).reshape(*shape, -1),
            "uniform": float(np.log(length)),
            "pruned": PRUNED,
            "tasks": [t.name for t in rc.tasks],
            "keep": np.array(keep), "keep_share": np.array(config.keep), "length": length,
            "dense_accuracy": np.array(dense_accuracy).reshape(shape),       # [tasks, seeds]: IMP's level 0
            "control_accuracy": accuracy[:, :, 0],                          # [tasks, seeds]
            "control_entropy": full[:, :, 0],                               # [tasks, seeds, layers, heads]
            "score_accuracy": accuracy[:, :, 1:],                           # [tasks, seeds, keep]
            "score_entropy": full[:, :, 1:],                                # [tasks, seeds, keep, layers, heads]: top-k lifted
            "score_kept_entropy": kept[:, :, 1:]}                           # [tasks, seeds, keep, layers, heads]: top-k in place


def _weights_rule() -> Rule:
    """Version 1's rule, judged on the weight-pruned IMP tickets."""
    return Rule(
        id="entropy",
        claim="the sparsest ticket's attention is more focused (lower entropy) than the dense network's",
        source=SOURCE, source_value="no number: nothing published measures it directly",
        what="entropy change, sparsest ticket minus dense (nats, mean over layers and heads), on every task",
        test="paired t interval over seeds, on each task; every task's own interval must lie below 0 "
             "(intersection-union: the deciding task is shown)",
        high=0.0,
        precondition="the ticket is found by pruning attention scores, as the essay does (pruning weights leaves "
                     "every attention score in place)")


def rules(config: Config) -> tuple[Rule, ...]:
    drop = 100 * config.matched_drop
    shares = ", ".join(f"{100 * s:g}%" for s in config.keep)
    return (dataclasses.replace(
        _weights_rule(),
        claim="a ticket found by pruning attention scores attends more sharply: with the pruning lifted, its "
              "attention is less diffuse (lower entropy) than the dense network's",
        what="entropy of the full softmax (top-k lifted at measurement), score-pruned ticket minus the dense network "
             "fine-tuned as long without pruning (nats, mean over layers and heads), at the smallest share of "
             "scores kept that is a winning ticket, on every task",
        test=f"each query keeps its top-k scores, k = {shares} of the positions, fine-tuned {config.score_finetune.epochs} "
             "epochs with the top-k in place; paired t interval over seeds, on each task; every task's own interval "
             "must lie below 0 (intersection-union: the deciding task is shown)",
        precondition=f"the score-pruned network is a winning ticket: at some share kept, on every task, its test "
                     f"accuracy (top-k in place) minus the control's has a paired 95% t interval over seeds above "
                     f"-{drop:g} point",
        registered=_weights_rule(),
        change="version 2, before its run (issue 32 item 4): the tickets prune attention scores (top-k per query, "
               "fine-tuned with the top-k in place) as the essay does, not weights; the entropy is read with the top-k "
               "lifted (with it in place it is at most log k by construction) against the dense network fine-tuned "
               "as long; the precondition is now measured (winning ticket: accuracy within "
               f"{drop:g} point). The registered reading, on the weight-pruned IMP tickets, is judged beside it"),)


def mean_entropy(a) -> np.ndarray:
    """The mean over the last two axes (layers, heads)."""
    return np.asarray(a, dtype=float).mean((-1, -2))


def winning(result, matched_drop: float) -> tuple[list[list[Interval]], list[bool]]:
    """Per share kept, per task: the paired interval of test accuracy (points), score-pruned ticket minus the
    control; and per share whether it is a winning ticket on every task (each interval above -matched_drop)."""
    acc, control = np.asarray(result["score_accuracy"], dtype=float), np.asarray(result["control_accuracy"], dtype=float)
    ivs = [[mean_interval(acc[t, :, j], paired_with=control[t]).scaled(100) for t in range(acc.shape[0])]
           for j in range(acc.shape[2])]
    return ivs, [all(iv.low > -100 * matched_drop for iv in row) for row in ivs]


def judged_share(result, matched_drop: float) -> int | None:
    """The index of the smallest share kept that is a winning ticket on every task; None when none is."""
    ok = winning(result, matched_drop)[1]
    return max((j for j, w in enumerate(ok) if w), default=None)


def score_changes(result) -> np.ndarray:
    """[tasks, seeds, keep]: full-softmax entropy, score-pruned minus control (nats, mean over layers, heads)."""
    return mean_entropy(result["score_entropy"]) - mean_entropy(result["control_entropy"])[:, :, None]


def normalised(result) -> tuple[np.ndarray, np.ndarray]:
    """The descriptive reading: entropy with the top-k in place over log k ([tasks, seeds, keep]), and the
    control's full entropy over log L ([tasks, seeds]); 1 is uniform over the positions a query can see."""
    keep = np.asarray(result["keep"], dtype=float)
    return (mean_entropy(result["score_kept_entropy"]) / np.log(np.maximum(keep, 2))[None, None, :],
            mean_entropy(result["control_entropy"]) / float(result["uniform"]))


def figure_arrays(result) -> dict[str, np.ndarray]:
    """What the chapter's figure draws, per share kept (rows: tasks): the mean over seeds of the full-softmax
    entropy change (score-pruned minus control, nats) with its 95% interval, the accuracy change (points) with
    its interval, and the normalised entropies (kept / log k; the control's / log L)."""
    d = score_changes(result)
    acc_ivs, _ = winning(result, 0.0)
    ent = [[mean_interval(d[t, :, j]) for j in range(d.shape[2])] for t in range(d.shape[0])]
    acc = [[acc_ivs[j][t] for j in range(d.shape[2])] for t in range(d.shape[0])]
    kept, control = normalised(result)
    grid = lambda ivs, f: np.array([[f(iv) for iv in row] for row in ivs])
    return {"keep_share": np.asarray(result["keep_share"], dtype=float), "keep": np.asarray(result["keep"]),
            "entropy_change": grid(ent, lambda iv: iv.mean), "entropy_low": grid(ent, lambda iv: iv.low),
            "entropy_high": grid(ent, lambda iv: iv.high),
            "accuracy_change": grid(acc, lambda iv: iv.mean), "accuracy_low": grid(acc, lambda iv: iv.low),
            "accuracy_high": grid(acc, lambda iv: iv.high),
            "normalised_kept": kept.mean(1), "normalised_control": control.mean(1)}


def summary(result, matched_drop: float = CONFIGS["cpu"].matched_drop) -> dict:
    """The numbers the claim and the prose quote. Version 1's (weight tickets): the sparsest ticket's density,
    the entropy of uniform attention, per task the mean entropy change (sparsest minus dense, nats), its
    smallest and largest over tasks, and the share of (task, seed, layer, head) whose entropy fell. Version 2's
    (score tickets), per share kept: the positions kept, the full-softmax entropy change against the control
    (mean over tasks and seeds), the accuracy change (points, the worst task's mean), the normalised entropy
    with the top-k in place; the share judged (nan when none is a winning ticket) and its per-task changes; the
    extra fine-tuning's own effect (control minus IMP's dense network, nats)."""
    h = np.asarray(result["entropy"])
    change = (h[:, :, -1] - h[:, :, 0]).mean((-1, -2)).mean(1)
    out = {"density": float(np.median(np.asarray(result["density"])[..., -1])), "uniform": float(result["uniform"]),
           **{f"change_{t}": float(c) for t, c in zip(result["tasks"], change)},
           "change_min": float(change.min()), "change_max": float(change.max()),
           "heads_lower": float((h[:, :, -1] < h[:, :, 0]).mean()),
           "pruned": result["pruned"] if "pruned" in result else PRUNED}
    if "score_entropy" not in result:          # a version-1 result
        return out
    d, fig = score_changes(result), figure_arrays(result)
    control_vs_dense = mean_entropy(result["control_entropy"]) - mean_entropy(h[:, :, 0])
    for j, (share, k) in enumerate(zip(result["keep_share"], result["keep"])):
        tag = f"keep{round(100 * float(share))}"
        out.update({f"{tag}_positions": float(k), f"{tag}_entropy_change": float(d[:, :, j].mean()),
                    f"{tag}_accuracy_change_worst": float(fig["accuracy_change"][:, j].min()),
                    f"{tag}_normalised_kept": float(fig["normalised_kept"][:, j].mean())})
    j = judged_share(result, matched_drop)
    out["judged_share"] = math.nan if j is None else float(result["keep_share"][j])
    out["normalised_control"] = float(fig["normalised_control"].mean())
    out["extra_finetune_change"] = float(control_vs_dense.mean())
    out["score_heads_lower"] = math.nan if j is None else float(
        (np.asarray(result["score_entropy"])[:, :, j] < np.asarray(result["control_entropy"])).mean())
    for t, name in enumerate(result["tasks"]):
        out[f"score_change_{name}"] = math.nan if j is None else float(d[t, :, j].mean())
    return out


def _intervals_text(tasks, intervals) -> str:
    return ", ".join(f"{t} {iv.mean:+.3f} [{iv.low:+.3f}, {iv.high:+.3f}]" for t, iv in zip(tasks, intervals))


def checks(result, config: Config) -> list[Claim]:
    rule, = rules(config)
    tasks = list(result["tasks"])
    s = summary(result, config.matched_drop)
    # the registered reading: the weight-pruned IMP tickets, sparsest level against dense
    h = mean_entropy(result["entropy"])                            # [tasks, seeds, levels]
    weight_ivs = [mean_interval(h[i, :, -1], paired_with=h[i, :, 0]) for i in range(h.shape[0])]
    w = deciding(weight_ivs, high=0.0)
    weights_text = (f"weight-pruned IMP tickets (registered reading), sparsest (density {s['density']:.3f}) minus dense: "
                    + _intervals_text(tasks, weight_ivs) + f", deciding task {tasks[w]}")
    registered_pre = (s["pruned"] == SCORES, f"IMP pruned the {s['pruned']} of chapter 2's transformer (to density "
                      f"{s['density']:.3f}); no attention score was pruned, so the essay's regime was not run")
    if "score_entropy" not in result:                   # a version-1 result: no score ticket was measured
        return [rule.judge(ours=weights_text, precondition=(False, "no attention score was pruned: a version-1 result, "
                                                            "weight-pruned IMP tickets only"),
                           registered=weight_ivs[w], registered_precondition=registered_pre)]
    # version 2: the score-pruned tickets
    acc_ivs, ok = winning(result, config.matched_drop)
    j = judged_share(result, config.matched_drop)
    shares = np.asarray(result["keep_share"], dtype=float)
    keep = np.asarray(result["keep"])
    at = 0 if j is None else j                          # where nothing wins, the largest share shows why
    worst = int(np.argmin([iv.low for iv in acc_ivs[at]]))
    pre_text = (f"test accuracy, score-pruned minus control (points, 95% paired t intervals over seeds): "
                + "; ".join(f"keep {100 * shares[i]:g}% (k = {int(keep[i])}): {'winning' if ok[i] else 'not winning'}, "
                            f"worst task {tasks[int(np.argmin([iv.low for iv in row]))]} "
                            f"{min(row, key=lambda iv: iv.low).mean:+.2f} [{min(row, key=lambda iv: iv.low).low:+.2f}, "
                            f"{min(row, key=lambda iv: iv.low).high:+.2f}]" for i, row in enumerate(acc_ivs))
                + (f"; judged at keep {100 * shares[j]:g}%" if j is not None else
                   f"; no share kept is a winning ticket on every task (at {100 * shares[0]:g}%: {tasks[worst]} "
                   f"{acc_ivs[0][worst].low:+.2f} below -{100 * config.matched_drop:g})"))
    d = score_changes(result)
    score_ivs = [mean_interval(d[t, :, at]) for t in range(d.shape[0])]
    i = deciding(score_ivs, high=0.0)
    kept, control = normalised(result)
    ours = (f"full-softmax entropy (top-k lifted), score-pruned ticket at keep {100 * shares[at]:g}% (k = {int(keep[at])} "
            f"of {int(result['length'])}) minus the control fine-tuned as long (nats; uniform {s['uniform']:.2f}): "
            + _intervals_text(tasks, score_ivs) + f" (95% paired t intervals over {d.shape[1]} seeds), deciding task "
            f"{tasks[i]}; the extra fine-tuning alone moved it {s['extra_finetune_change']:+.3f}; normalised entropy "
            f"with the top-k in place (/log k) {kept[:, :, at].mean():.2f} against the control's (/log L) "
            f"{control.mean():.2f} (described, not judged); " + weights_text)
    return [rule.judge(score_ivs[i], ours=ours, precondition=(j is not None, pre_text),
                       registered=weight_ivs[w], registered_precondition=registered_pre)]
