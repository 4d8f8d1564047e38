"""The F = identity null at seed 000's own scale: the paper's networks at initialisation, pruned by
global magnitude for the paper's number of rounds with no training, beside Tables 2, 3, 4-7 and 5.

Chapter 2 found that pruning the initialisation alone (IMP with the refining operator F = identity)
already gives the + + + - stage pattern in our 1D ResNets, because a global threshold sees the layers'
sizes and init scales. That needs no data, so here it runs on the networks the paper's data came
from, built as their code builds them (:mod:`rglt.models.paper_nets` documents the code read):

- Table 2: CV_LTH_Pre-training's CIFAR ResNet-50 (10 and 100 classes), ``conv1`` unpruned, 20% of
  the survivors per round; ``main_imp_downstream.py`` runs ``--pruning_times 19``, so levels 0-19
  (density 0.8^19 = 1.44%, the density App. C's Fig. 2 names for its last point).
- Table 5: torchvision's ImageNet ResNet-50 as ``main_imp_imagenet.py`` prunes it (``--states 19``),
  ``conv1`` skipped as that code does, and, as a named variant, pruned (App. D's wording).
- Tables 4, 6, 7: OpenLTH / E-LTH ``cifar_resnet_N`` (N = 14 ... 56), every conv and linear weight
  prunable, 20% per round. E-LTH's code takes the number of levels on the command line and its README
  and paper text read here do not give it: ``elth_rounds`` runs each candidate, the first judged.
- Table 3: BERT-base at its random init (every Linear / Embedding weight N(0, 0.02^2)), BERT-Tickets'
  schedule: ``LT_glue.py`` prunes 1/(10 - k) of the survivors at its k-th pruning (10% of the original
  count each time); levels 0-9 (density 100% ... 10%) are the ones it trains (its 10th pruning takes
  the rest and is never trained). c per round from App. B.

Counting rule: one rule for every network (:func:`rglt.prune.magnitude_masks`: round(x * survivors),
ties by position); OpenLTH prunes ceil(x * survivors) + 1 (everything <= the k-th smallest), torch's
``global_unstructured`` round(x * survivors): at most two weights a round apart.

Every group's sigma comes from M_i (Eq. 13) under two readings of its denominator (item 8 of issue
30): ``prunable`` (the pruned weights only; the book's reading, as chapter 2) and ``all`` (Eq. 13's
"all N parameters": every parameter's |value|, BN / LayerNorm weights, biases, embeddings and the
layers left unpruned included). The pretrained rows (Table 2 PT, Table 3, Table 5) cannot be nulled
without the pretrained weights, which cannot be downloaded here; they are compared with the same
random-init null, which tests whether their pattern is already the architecture's (see the rules).
"""
from __future__ import annotations

import dataclasses

import numpy as np
import torch

from rglt.claims import Claim, Rule, check_rules, conjunction, part
from rglt.experiments.imp_flow_tasks import seed_interval
from rglt.models import paper_nets
from rglt.progress import progress
from rglt.rg import imp_flow
from rglt.sources import redman2022
from rglt.validate import check_int, require

NAME = "imp_null_paper"
VERSION = 1

TABLE_GROUPS = ("2", "3", "4-7", "5")            # which of the paper's tables a config nulls
READINGS = {"prunable": "prunable-only", "all": "all N"}   # Eq. 13's denominator -> the part's name
ELTH_DEPTHS = (14, 20, 32, 44, 56)
STAGE_TABLES = redman2022.STAGE_TABLES.value
# The claims' regions (rules, not settings): a reading explains a table when the share of entries with
# the published sign lies above SIGN_SHARE and the median null / published sigma inside SIZE_SHARE.
SIGN_SHARE = 0.75
SIZE_SHARE = (0.5, 2.0)


@dataclasses.dataclass(frozen=True)
class Config:
    seeds: int = 5                              # initialisation seeds 0 .. seeds-1 of every network
    tables: tuple = TABLE_GROUPS
    resnet50_rounds: int = 19                   # CV_LTH --pruning_times / --states
    elth_depths: tuple = ELTH_DEPTHS
    elth_rounds: tuple = (17, 10)               # candidates (E-LTH's levels are not in its code); first judged
    bert_rounds: int = 9                        # BERT-Tickets: levels 0-9 trained

    def __post_init__(self):
        check_int(self.seeds, "seeds", 2)
        require(isinstance(self.tables, tuple) and self.tables and set(self.tables) <= set(TABLE_GROUPS)
                and len(set(self.tables)) == len(self.tables), "tables",
                f"a non-empty tuple of distinct names from {TABLE_GROUPS}", self.tables)
        check_int(self.resnet50_rounds, "resnet50_rounds", 2)
        require(isinstance(self.elth_depths, tuple) and self.elth_depths
                and all(d in ELTH_DEPTHS for d in self.elth_depths), "elth_depths",
                f"a non-empty tuple of depths from {ELTH_DEPTHS}", self.elth_depths)
        require(isinstance(self.elth_rounds, tuple) and self.elth_rounds
                and all(isinstance(r, int) and r >= 2 for r in self.elth_rounds)
                and len(set(self.elth_rounds)) == len(self.elth_rounds), "elth_rounds",
                "a non-empty tuple of distinct integers >= 2", self.elth_rounds)
        check_int(self.bert_rounds, "bert_rounds", 2, 9)


CONFIGS = {
    "smoke": Config(seeds=2, tables=("2", "4-7"), resnet50_rounds=3, elth_depths=(14, 20), elth_rounds=(3,)),
    "cpu": Config(),
    "gpu": Config(seeds=10),   # no training: the GPU adds nothing but time for more seeds
}


# ---- the nulls -----------------------------------------------------------------------------------

def elth_key(depth: int, rounds: int) -> str:
    return f"resnet{depth}_r{rounds}"


def networks(config: Config) -> dict[str, tuple]:
    """key -> (builder(seed) -> PaperNet, rounds, fraction, schedule) for every null ``config`` runs."""
    out = {}
    if "2" in config.tables:
        for classes in (10, 100):
            out[f"resnet50_cifar{classes}"] = (lambda s, k=classes: paper_nets.cv_lth_resnet50(s, num_classes=k),
                                               config.resnet50_rounds, 0.2, "survivors")
    if "5" in config.tables:
        for key, conv1 in (("resnet50_imagenet", False), ("resnet50_imagenet_conv1", True)):
            out[key] = (lambda s, c=conv1: paper_nets.cv_lth_resnet50(s, num_classes=1000, stem="imagenet",
                                                                       prune_conv1=c),
                        config.resnet50_rounds, 0.2, "survivors")
    if "4-7" in config.tables:
        for rounds in config.elth_rounds:
            for depth in config.elth_depths:
                out[elth_key(depth, rounds)] = (lambda s, d=depth: paper_nets.open_lth_resnet(d, s), rounds, 0.2,
                                                "survivors")
    if "3" in config.tables:
        out["bert_base"] = (paper_nets.bert_base, config.bert_rounds, 0.1, "original")
    return out


def _null(net: paper_nets.PaperNet, rounds: int, fraction: float, schedule: str) -> dict[str, np.ndarray]:
    prunable, others = net.split()
    flows = imp_flow.untrained_flow(prunable, net.groups, rounds, fraction, schedule, unpruned=others)
    c = imp_flow.coarse_graining(fraction, schedule, 0, rounds)
    # A constant rate gives the paper's sigma = log_c lambda; the 'original' schedule needs c per round.
    c_used = float(c[0]) if schedule == "survivors" else c
    out = {"c": c, "density": flows["prunable"].density}
    for reading, fl in flows.items():
        ex = imp_flow.exponents(fl.M, c_used)
        out.update({f"M_{reading}": fl.M, f"sigma_{reading}": ex["sigma"], f"eigen_{reading}": ex["eigen"],
                    f"sigmaP_{reading}": imp_flow.exponents(fl.P, c_used)["sigma"]})
    mass = lambda tensors: sum(float(t.abs().sum(dtype=torch.float64)) for t in tensors)
    out["unpruned_share"] = mass(others.values()) / mass(net.parameters.values())   # at level 0
    return out


def run(config: Config) -> dict:
    nets = networks(config)
    out = {"networks": list(nets)}
    for key, (build, rounds, fraction, schedule) in progress(list(nets.items()), desc="nulls"):
        per_seed = []
        for seed in range(config.seeds):
            net = build(seed)
            per_seed.append(_null(net, rounds, fraction, schedule))
            groups = list(net.groups)
            del net   # BERT-base's 440 MB go before the next seed's are built
        for field in per_seed[0]:
            if field == "c":
                out[f"{key}_c"] = per_seed[0]["c"]
            else:
                out[f"{key}_{field}"] = np.stack([p[field] for p in per_seed])
        out[f"{key}_groups"] = groups
    return out


# ---- the paper's entries beside the null ---------------------------------------------------------

def _rows(table: str, config: Config) -> list[tuple[str, str, tuple, slice]]:
    """(label, network key, published sigma, slice of the network's groups) per row of ``table``."""
    t2 = redman2022.TABLE_2.value
    if table == "table2_random":
        return [(r, f"resnet50_cifar{k}", t2[r], slice(None)) for r, k in (("CIFAR-10", 10), ("CIFAR-100", 100))]
    if table == "table2_pretrained":
        return [(r, f"resnet50_cifar{k}", t2[r], slice(None)) for r, k in (("PT CIFAR-10", 10), ("PT CIFAR-100", 100))]
    if table == "table5":
        return [("PRE-TRAINED IMAGENET", "resnet50_imagenet", redman2022.TABLE_5.value, slice(None))]
    if table == "table3":
        return [(task, "bert_base", row, slice(None)) for task, row in redman2022.TABLE_3.value.items()]
    stage = {"table4": 1, "table6": 2, "table7": 3}[table]
    out = []
    for depth in config.elth_depths:
        n = (depth - 2) // 6   # blocks per stage; the tables leave out each stage's first block
        out.append((f"ResNet-{depth}", elth_key(depth, config.elth_rounds[0]), STAGE_TABLES[stage][depth],
                    slice((stage - 1) * n + 1, stage * n)))
    return out


def entries(result, config: Config, table: str, reading: str = "prunable", key_of=None):
    """(labels, published (E,), null sigma (seeds, E)) for every entry of ``table`` (a rule id) under
    ``reading`` (``"prunable"`` or ``"all"``), entries printed as 0.00 left out (no sign). ``key_of``
    maps a row's network key to another (a variant: other E-LTH rounds, Table 5 with conv1 pruned)."""
    require(reading in READINGS, "reading", f"one of {tuple(READINGS)}", reading)
    labels, published, null = [], [], []
    for label, key, row, cells in _rows(table, config):
        key = key if key_of is None else key_of(key)
        sigma = np.asarray(result[f"{key}_sigma_{reading}"], dtype=float)[:, cells]
        groups = list(result[f"{key}_groups"])[cells]
        require(sigma.shape[1] == len(row), "result", f"{len(row)} groups for {table} {label}", sigma.shape)
        for j, value in enumerate(row):
            if value != 0:
                labels.append(f"{label} {groups[j]}")
                published.append(value)
                null.append(sigma[:, j])
    return labels, np.asarray(published, dtype=float), np.stack(null, axis=1)


def sign_share(published: np.ndarray, null: np.ndarray) -> np.ndarray:
    """Per seed: the share of entries whose null sigma has the published sign (a null of 0 has none)."""
    return np.mean(np.sign(null) == np.sign(published)[None], axis=1)


def magnitude_share(published: np.ndarray, null: np.ndarray) -> np.ndarray:
    """Per seed: the median over entries of null / published sigma (1: the null accounts for all of it;
    negative: the wrong sign)."""
    return np.median(null / published[None], axis=1)


def side_by_side(result, config: Config, table: str) -> list[tuple]:
    """The chapter's table: per entry (label, published sigma, null sigma under each reading as
    "mean±h" (h: the 95% t half-width over seeds), and the share null / published of each reading's mean)."""
    labels, published, _ = entries(result, config, table)
    cells = {}
    for reading in READINGS:
        _, _, sigma = entries(result, config, table, reading)
        cells[reading] = [seed_interval(sigma[:, j]) for j in range(len(labels))]
    return [(label, float(published[j]),
             *(f"{cells[r][j].mean:+.3f}±{cells[r][j].high - cells[r][j].mean:.3f}" for r in READINGS),
             *(round(float(cells[r][j].mean / published[j]), 2) for r in READINGS)) for j, label in enumerate(labels)]


# ---- rules and checks ----------------------------------------------------------------------------

def _quote(table: str, config: Config) -> str:
    """A table's rows as printed (Table 3 to three decimals, the others to two)."""
    places = 3 if table == "table3" else 2
    return "; ".join(f"{label}: {' '.join(f'{v:+.{places}f}' for v in row)}" for label, _, row, _ in _rows(table, config))


TABLES = {   # rule id -> (table group, source, what the paper reads off it, pretrained)
    "table2_random": ("2", "000 Table 2 (random-init rows), Sec. 5.1",
                      "ResNet-50 from random init, CIFAR-10 and CIFAR-100: stages 1-3 relevant, stage 4 irrelevant", False),
    "table2_pretrained": ("2", "000 Table 2 (PT rows), Sec. 5.1",
                          "ImageNet-pretrained ResNet-50 on CIFAR-10 / 100: the same + + + - pattern", True),
    "table5": ("5", "000 Table 5, App. D", "ImageNet-pretrained ResNet-50, no fine-tuning: + + + -", True),
    "table4": ("4-7", "000 Table 4, Sec. 5.3", "stage-1 blocks of ResNet-14 ... 56 (E-LTH): mostly relevant", False),
    "table6": ("4-7", "000 Table 6, App. E", "stage-2 blocks: small positive, some negative in the larger ResNets", False),
    "table7": ("4-7", "000 Table 7, App. E", "stage-3 blocks: only marginal and irrelevant", False),
    "table3": ("3", "000 Table 3, Sec. 5.2", "pre-trained BERT, ten tasks: sigma near 0 ('near a fixed point')", True),
}


def _judged_on(table: str, config: Config) -> str:
    if table == "table5":
        return f"; judged with conv1 unpruned (main_imp_imagenet.py as written), conv1 pruned shown; {config.resnet50_rounds} rounds"
    if table in ("table4", "table6", "table7"):
        rest = ", ".join(map(str, config.elth_rounds[1:]))
        return f"; judged at {config.elth_rounds[0]} rounds" + (f", {rest} shown" if rest else "")
    return f"; {config.bert_rounds if table == 'table3' else config.resnet50_rounds} rounds"


def rules(config: Config) -> tuple[Rule, ...]:
    test = (f"per init seed (0 .. {config.seeds - 1}): (a) the share of the table's entries whose null sigma has the "
            f"published sign, (b) the median over entries of null / published sigma; each part ('prunable-only', "
            f"'all N': Eq. 13's denominator over the pruned weights, or over all N parameters) holds when the 95% t "
            f"interval over seeds of (a) lies above {SIGN_SHARE:g} and that of (b) inside "
            f"({SIZE_SHARE[0]:g}, {SIZE_SHARE[1]:g}); entries printed as 0.00 have no sign and are left out")
    out = []
    for rule_id, (group, source, reading, pretrained) in TABLES.items():
        if group not in config.tables:
            continue
        reference = (" The pretrained weights cannot be nulled here (nothing is downloaded), so the null of the same "
                     "architecture at its random init is the reference: this tests whether the pattern read off the "
                     "pretrained tickets is already what the architecture and a global threshold give before any "
                     "training, not whether the pretrained weights' own magnitudes explain it." if pretrained else "")
        out.append(Rule(
            rule_id,
            claim=f"{source.split(',')[0].removeprefix('000 ')}: the paper's sigma pattern and sizes follow from "
                  f"initialisation alone (IMP with F = identity on the paper's network at init).{reference}",
            source=source, source_value=f"{reading}. {_quote(rule_id, config)}",
            what="(a) share of entries with the published sign; (b) median null / published sigma",
            test=test + _judged_on(rule_id, config), parts=tuple(READINGS.values())))
    return check_rules(out, f"{NAME}.rules")


def _measure(result, config: Config, table: str, reading: str, key_of=None) -> tuple[Claim, str]:
    """One reading's part (sign and share must both hold) and its numbers in words."""
    _, published, null = entries(result, config, table, reading, key_of)
    sign, share = seed_interval(sign_share(published, null)), seed_interval(magnitude_share(published, null))
    name = READINGS[reading]
    a = part(f"{name}: sign", sign, SIGN_SHARE, what="share of entries with the published sign")
    b = part(f"{name}: size", share, *SIZE_SHARE, what="median null / published sigma")
    words = f"{name}: sign {sign.mean:.2f} [{sign.low:.2f}, {sign.high:.2f}], size {share.mean:.2f} " \
            f"[{share.low:.2f}, {share.high:.2f}]"
    return conjunction(name, [a[1], b[1]]), words


def _variant(table: str, config: Config, result):
    """(label, key_of) of the variant shown beside a table's judged null, or None."""
    if table == "table5" and "resnet50_imagenet_conv1_sigma_prunable" in result:
        return "conv1 pruned", lambda k: k + "_conv1"
    if table in ("table4", "table6", "table7") and len(config.elth_rounds) > 1:
        first, other = config.elth_rounds[0], config.elth_rounds[1]
        return f"{other} rounds", lambda k: k.replace(f"_r{first}", f"_r{other}")
    return None


def checks(result, config: Config) -> list[Claim]:
    out = []
    for rule in rules(config):
        n = len(entries(result, config, rule.id)[0])
        parts, words = {}, []
        for reading in READINGS:
            claim, text = _measure(result, config, rule.id, reading)
            parts[claim.claim] = claim
            words.append(text)
        variant = _variant(rule.id, config, result)
        shown = ""
        if variant is not None:
            label, key_of = variant
            shown = f"; with {label}: " + "; ".join(_measure(result, config, rule.id, r, key_of)[1] for r in READINGS)
        out.append(rule.judge(parts=parts, ours=f"{n} entries, {config.seeds} init seeds. " + "; ".join(words) + shown))
    return out
