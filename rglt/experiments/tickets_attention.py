"""Chapter 5, claim 8 of seed 002: do a transformer's tickets attend more sharply?

The essay: "When we find a winning ticket by pruning attention scores ... the resulting attention
distributions become less diffuse and more 'focused.' Their entropy decreases." No published work
measures this directly; the claim is tested here on chapter 2's transformer tickets (the runs of
``imp_flow_transformer``: a 4-layer transformer pretrained on generated sequences, fine-tuned on 4
tasks with 3 seeds, 9 rounds of IMP pruning 10% of the original weights each, to 10% density). At every
level the entropy of each head's attention distribution is averaged over the queries of held-out
sequences (in nats; log L for uniform attention over the L positions), and the sparsest ticket's is
compared with the dense fine-tuned network's, head by head and seed by seed.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from rglt.claims import Claim, Rule, deciding
from rglt.data.tasks import load_task
from rglt.experiments import imp_flow_transformer
from rglt.identity import unhashed
from rglt.prune import run_all, train_tickets
from rglt.stats import mean_interval

NAME = "tickets_attention"
VERSION = 1
SOURCE = "002 'The Modern Frontier' (Transformers and interpretability)"
PRUNED = "weights"        # what the tickets measured prune: imp_flow_transformer's IMP, global magnitude of weights


@dataclasses.dataclass(frozen=True)
class Config:
    runs: imp_flow_transformer.Config = imp_flow_transformer.CONFIGS["cpu"]   # the tickets measured
    sequences: int = 512                       # held-out sequences whose attention is measured
    workers: int = unhashed(2)


CONFIGS = {
    "smoke": Config(runs=imp_flow_transformer.CONFIGS["smoke"], sequences=64, workers=1),
    "cpu": Config(),
    "gpu": Config(runs=imp_flow_transformer.CONFIGS["gpu"], sequences=2048, workers=1),
}


def attention_entropy(model, ids) -> np.ndarray:
    """[layers, heads]: the entropy (nats) of each head's attention distribution, averaged over the
    batch and the query positions of ``ids``."""
    import torch

    out = []
    model.eval()
    with torch.no_grad():
        for i in range(model.layers):
            p = getattr(model, f"layer{i + 1}").attention.attention_weights(model.stream(ids, upto=i))
            h = -(p * torch.log(p.clamp_min(1e-30))).sum(-1)       # [B, heads, L]
            out.append(h.mean((0, 2)).double().numpy())
    return np.stack(out)


def run(config: Config) -> dict:
    rc = config.runs
    runs = [imp_flow_transformer.task_run(rc, task, "pretrained", r) for task in rc.tasks for r in range(rc.seeds)]
    run_all([imp_flow_transformer.pretrain_run(rc)] + runs, workers=config.workers)
    entropy, density = [], []
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
    shape = (len(rc.tasks), rc.seeds)
    return {"entropy": np.array(entropy).reshape(*shape, *np.shape(entropy)[1:]),   # [tasks, seeds, levels, layers, heads]
            "density": np.array(density).reshape(*shape, -1),
            "uniform": float(np.log(ids.shape[1])),
            "pruned": PRUNED,
            "tasks": [t.name for t in rc.tasks]}


def rules(config: Config) -> tuple[Rule, ...]:
    return (Rule(
        id="entropy",
        claim="the sparsest ticket's attention is more focused (lower entropy) than the dense network's",
        source=SOURCE, source_value="no number: nothing published measures it directly",
        what="entropy change, sparsest ticket minus dense (nats, mean over layers and heads), on every task",
        test="paired t interval over seeds, on each task; every task's own interval must lie below 0 "
             "(intersection-union: the deciding task is shown)",
        high=0.0,
        precondition="the ticket is found by pruning attention scores, as the essay does (pruning weights leaves "
                     "every attention score in place)"),)


def summary(result) -> dict:
    """The numbers the claim and the prose quote: the sparsest ticket's density, the entropy of uniform
    attention, per task the mean entropy change (sparsest minus dense, nats, over layers and heads),
    its smallest and largest over tasks, and the share of (task, seed, layer, head) whose entropy fell."""
    h = np.asarray(result["entropy"])
    change = (h[:, :, -1] - h[:, :, 0]).mean((-1, -2)).mean(1)
    return {"density": float(np.median(np.asarray(result["density"])[..., -1])), "uniform": float(result["uniform"]),
            **{f"change_{t}": float(c) for t, c in zip(result["tasks"], change)},
            "change_min": float(change.min()), "change_max": float(change.max()),
            "heads_lower": float((h[:, :, -1] < h[:, :, 0]).mean()),
            "pruned": result["pruned"] if "pruned" in result else PRUNED}


def checks(result, config: Config) -> list[Claim]:
    h = np.asarray(result["entropy"]).mean((-1, -2))            # [tasks, seeds, levels]: mean over layers and heads
    s = summary(result)
    intervals = [mean_interval(h[i, :, -1], paired_with=h[i, :, 0]) for i in range(h.shape[0])]
    rule, = rules(config)
    j = deciding(intervals, high=rule.high)
    ours = (f"entropy change from dense to density {s['density']:.3f} (nats; uniform attention "
            f"{s['uniform']:.2f}): " + ", ".join(f"{t} {iv.mean:+.3f} [{iv.low:+.3f}, {iv.high:+.3f}]"
                                                 for t, iv in zip(result["tasks"], intervals))
            + f" (95% t intervals over {h.shape[1]} seeds); {100 * s['heads_lower']:.0f}% of (task, seed, layer, head) "
              f"lower; deciding task {result['tasks'][j]}")
    return [rule.judge(intervals[j], ours=ours, precondition=(
        s["pruned"] == "attention scores",
        f"IMP pruned the {s['pruned']} of chapter 2's transformer (to density {s['density']:.3f}); no attention "
        "score was pruned, so the essay's regime was not run"))]
