"""The book's figure style: one place for fonts, colours and the small helpers every chapter uses."""
from __future__ import annotations

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from scipy import stats

from rglt.stats import CONVENTION, LEVEL

# Phases of a spin system, used wherever below / at / above T_c appear together.
PHASE_COLOURS = {"below": "#1f5fa8", "critical": "#c2410c", "above": "#6b7280"}
SPIN_CMAP = mpl.colors.ListedColormap(["#f4efe6", "#1d2b3a"])  # -1 light, +1 dark

STYLE = {
    "figure.dpi": 110,
    "savefig.dpi": 150,
    "font.size": 10,
    "axes.titlesize": 10.5,
    "axes.labelsize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.25,
    "legend.frameon": False,
    "lines.linewidth": 1.6,
    "lines.markersize": 4.5,
    "figure.constrained_layout.use": True,
}


def use_style() -> None:
    """Apply the book's matplotlib style (call once per chapter)."""
    mpl.rcParams.update(STYLE)


def spins_image(ax, spins, title: str | None = None) -> None:
    """Draw a +-1 configuration as pixels, without axes."""
    ax.imshow(np.asarray(spins), cmap=SPIN_CMAP, vmin=-1, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(False)
    if title:
        ax.set_title(title)


def text_table(rows: list[list], headers: list[str]) -> str:
    """A fixed-width text table (stable under strict nbval, readable in the HTML)."""
    cells = [[str(c) for c in row] for row in [headers, *rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    line = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()
    return "\n".join([line(cells[0]), "  ".join("-" * w for w in widths), *map(line, cells[1:])])


def show(fig=None) -> None:
    """Show a figure and close it, so no stray repr ends up in the notebook output."""
    plt.show()
    plt.close(fig if fig is not None else "all")


def seed_errorbar(ax, x, values, *, band: bool = False, label=None, **style):
    """The mean over seeds (axis 0 of ``values``) against ``x`` with the book's one error bar, the 95%
    t interval of the mean (:data:`rglt.stats.CONVENTION`): bars, or a shaded band when ``band``. One
    seed draws no bar. The figure says which interval it draws, once, below its panels. Returns
    (mean, half width)."""
    values = np.asarray(values, dtype=float)
    if values.ndim == 0 or values.shape[0] == 0:
        raise ValueError(f"values must have at least one seed along axis 0; got shape {values.shape}")
    seeds = values.shape[0]
    mean = values.mean(0)
    half = (stats.t.ppf(0.5 + LEVEL / 2, seeds - 1) * values.std(0, ddof=1) / np.sqrt(seeds) if seeds > 1
            else np.zeros_like(mean))
    x = np.asarray(x)
    if x.shape != mean.shape:
        raise ValueError(f"x has shape {x.shape}, the mean over seeds has shape {mean.shape}")
    if band:
        (line,) = ax.plot(x, mean, label=label, **style)
        ax.fill_between(x, mean - half, mean + half, color=line.get_color(), alpha=0.25, lw=0)
    else:
        ax.errorbar(x, mean, yerr=half, capsize=2, label=label, **{"ms": 4, **style})
    fig = ax.figure
    if getattr(fig, "_rglt_errorbar_note", None) is None:
        fig._rglt_errorbar_note = fig.supxlabel(f"error bars: {CONVENTION} (n = {seeds})", fontsize=8, color="0.35")
    return mean, half


def density_axis(ax, ticks=(100, 50, 20, 10, 5, 2), title: str | None = None) -> None:
    """A log x axis of weights remaining (%), dense on the left, as the pruning papers draw it."""
    ax.set(xscale="log", xlabel="weights remaining (%)")
    if title:
        ax.set_title(title)
    ax.invert_xaxis()
    ax.set_xticks(list(ticks), [f"{t:g}" for t in ticks])


def methods_by_density(values, density, methods, which, style, panel_titles, *, ylabel: str, title: str) -> None:
    """One panel per model: each method in ``which`` against density, the mean over seeds with its 95% t
    interval (:func:`seed_errorbar`).

    ``values``: (panels, seeds, methods, levels); ``methods`` names axis 2; ``style[method]`` is
    (label, colour, marker)."""
    values, methods = np.asarray(values, dtype=float), list(methods)
    fig, axes = plt.subplots(1, len(panel_titles), figsize=(6.5 * len(panel_titles), 4.6), squeeze=False)
    for ax, panel, panel_title in zip(axes[0], values, panel_titles):
        for method in which:
            label, colour, marker = style[method]
            seed_errorbar(ax, density, panel[:, methods.index(method)], label=label, color=colour, marker=marker)
        density_axis(ax, title=panel_title)
    axes[0, 0].set_ylabel(ylabel)
    axes[0, -1].legend(fontsize=8)
    fig.suptitle(title)
    show(fig)
