"""A synthetic tickets_transfer (version 2) result of a config's shapes, for claims tests that must not depend
on a committed cpu result: accuracies set by hand as offsets (fractions) from the target's own ticket."""
import numpy as np

from rglt.experiments.tickets_transfer import PAIRS


def _column(value, levels):
    """A scalar offset, or one per level, as a row over the levels."""
    return np.broadcast_to(np.asarray(value, dtype=float), (len(levels),))


def synthetic_result(config, transferred=0.0, random=-0.10, *, seeds=None, spread=0.002, pairs=PAIRS):
    """In every pair of ``pairs`` (the others: transferred as good as the own ticket, random 10 points below),
    the transferred and random masks at ``transferred`` and ``random`` from the target's own ticket (scalars or
    one per level). Each replicate's own ticket differs; the offsets get a small spread over the replicates
    (``spread``, alternating in sign), so that every paired interval has a width."""
    levels, seeds = config.levels, seeds or config.replicates
    own = 0.80 + 0.01 * (np.arange(seeds) % 3)[:, None] - 0.002 * np.arange(len(levels))[None, :]
    wobble = spread * np.where(np.arange(seeds) % 2, 1.0, -1.0)[:, None]
    wobble = wobble - wobble.mean()                       # the offsets are the means over seeds exactly
    out = {k: np.empty((len(PAIRS), seeds, len(levels))) for k in ("transferred", "random", "own", "source")}
    for i, pair in enumerate(PAIRS):
        moved, rnd = (transferred, random) if pair in pairs else (0.0, -0.10)
        out["own"][i] = own
        out["source"][i] = own - 0.01
        out["transferred"][i] = own + _column(moved, levels) + wobble
        out["random"][i] = own + _column(rnd, levels) - wobble
    out["density"] = np.array([[0.8 ** lv for lv in levels]] * len(PAIRS))
    out["levels"] = np.array(levels)
    return out
