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

from rglt.data.tasks import load_task
from rglt.experiments import imp_flow_transformer
from rglt.identity import unhashed
from rglt.prune import run_all, train_tickets
from rglt.report import Claim, judged

NAME = "tickets_attention"
VERSION = 1
SOURCE = "002 'The Modern Frontier' (Transformers and interpretability)"


@dataclasses.dataclass(frozen=True)
class Config:
    runs: imp_flow_transformer.Config = imp_flow_transformer.CONFIGS["cpu"]   # the tickets measured
    sequences: int = 512                       # held-out sequences whose attention is measured
    workers: int = unhashed(2)
    sigmas: float = unhashed(2.0)              # the mean change must exceed this many SE over seeds


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
            "tasks": [t.name for t in rc.tasks]}


def checks(result, config: Config) -> list[Claim]:
    h = np.asarray(result["entropy"])
    change = (h[:, :, -1] - h[:, :, 0]).mean((-1, -2))          # [tasks, seeds]: mean over layers and heads
    mean, se = change.mean(1), change.std(1, ddof=1) / np.sqrt(change.shape[1])
    heads_down = float((h[:, :, -1] < h[:, :, 0]).mean())
    density = float(np.median(np.asarray(result["density"])[..., -1]))
    lower = int(np.sum(mean < -config.sigmas * se))
    higher = int(np.sum(mean > config.sigmas * se))
    n = len(mean)
    return [Claim(
        claim="the sparsest ticket's attention is more focused (lower entropy) than the dense network's",
        source=SOURCE, source_value="no number: nothing published measures it directly",
        ours=(f"mean entropy change at density {density:.3f} (nats, mean over layers and heads; uniform "
              f"{result['uniform']:.2f}): " + ", ".join(f"{t} {m:+.3f} +- {s:.3f}" for t, m, s in
                                                          zip(result["tasks"], mean, se))
              + f" (SE over {change.shape[1]} seeds); {100 * heads_down:.0f}% of (task, seed, layer, head) lower"),
        tolerance=f"lower by > {config.sigmas:g} SE on every task; on more tasks lower than higher is partly",
        **judged(lower == n, f"lower on {lower}, higher on {higher} of {n} tasks (beyond {config.sigmas:g} SE)",
                 partly=lower > higher))]
