"""The book's figure style: one place for fonts, colours and the small helpers every chapter uses.

Every chapter figure is drawn at the page's width, :data:`PAGE_WIDTH` inches at :data:`DPI` dots per
inch (about the 700 pixels of the book's column), so its text is shown at the size it is set in
(:data:`STYLE`) instead of being shrunk: make figures with :func:`subplots`, not with a figsize of
your own. Every error bar says what it is (:func:`seed_errorbar` writes the convention below the panels;
:func:`errorbar_note` for bars drawn otherwise)."""
from __future__ import annotations

import textwrap

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from scipy import stats

from rglt.stats import CONVENTION, LEVEL

# Phases of a spin system, used wherever below / at / above T_c appear together.
PHASE_COLOURS = {"below": "#1f5fa8", "critical": "#c2410c", "above": "#6b7280"}
SPIN_CMAP = mpl.colors.ListedColormap(["#f4efe6", "#1d2b3a"])  # -1 light, +1 dark

PAGE_WIDTH = 7.0    # inches: the book's content column
DPI = 100           # 7 in x 100 dpi = 700 px, the column's width, so 9 pt text is shown at 12.5 px
ROW_HEIGHT = 2.6    # inches per row of panels, by default

STYLE = {
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "figure.figsize": (PAGE_WIDTH, ROW_HEIGHT + 0.4),
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 7.5,
    "figure.titlesize": 9.5,
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


def subplots(nrows: int = 1, ncols: int = 1, *, height: float | None = None, width: float = PAGE_WIDTH, **kw):
    """``plt.subplots`` at the page's width: ``width`` inches (default :data:`PAGE_WIDTH`; less for a
    figure that should not fill the column) by ``height`` (default :data:`ROW_HEIGHT` per row, plus room
    for a title). Other keywords go to ``plt.subplots`` (``sharey``, ``squeeze``, ``gridspec_kw``)."""
    for name, n in (("nrows", nrows), ("ncols", ncols)):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"{name} must be a positive int; got {n!r}")
    if height is None:
        height = ROW_HEIGHT * nrows + 0.4
    if not 0 < width <= PAGE_WIDTH or not 0 < height <= 4 * PAGE_WIDTH:
        raise ValueError(f"width must be in (0, {PAGE_WIDTH}] and height in (0, {4 * PAGE_WIDTH}] inches; "
                         f"got {width!r} x {height!r}")
    if "figsize" in kw:
        raise TypeError("subplots sets the figure's size: give height (and width) instead of figsize")
    use_style()
    return plt.subplots(nrows, ncols, figsize=(width, height), **kw)


def errorbar_note(fig, text: str) -> None:
    """Say once, below ``fig``'s panels, what its error bars are (``text``: e.g. "two standard errors of
    the Monte Carlo mean"). :func:`seed_errorbar` writes the book's convention itself."""
    if getattr(fig, "_rglt_errorbar_note", None) is None:
        fig._rglt_errorbar_note = fig.supxlabel(f"error bars: {text}", fontsize=7.5, color="0.35")


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


def _wrap(text, width_in: float) -> None:
    """Wrap a title at spaces so that it fits ``width_in`` inches (about half an em per character); a title
    with TeX in it is left as it is."""
    words = text.get_text()
    if not words or "$" in words:
        return
    chars = max(20, int(width_in * 72 / (0.5 * text.get_fontsize())))
    if any(len(line) > chars for line in words.splitlines()):
        text.set_text("\n".join(textwrap.fill(line, chars) for line in words.splitlines()))


def fit_titles(fig) -> None:
    """Wrap ``fig``'s suptitle to the figure's width and each panel's title to its panel's, so that no title
    widens the figure beyond the page (a figure is cropped to what it draws)."""
    width = fig.get_size_inches()[0]
    if getattr(fig, "_suptitle", None) is not None:
        _wrap(fig._suptitle, 0.95 * width)
    for ax in fig.axes:
        _wrap(ax.title, 1.1 * ax.get_position().width * width)


def show(fig=None) -> None:
    """Show a figure (its titles wrapped to its width, :func:`fit_titles`) and close it, so no stray repr
    ends up in the notebook output."""
    for f in ([fig] if fig is not None else map(plt.figure, plt.get_fignums())):
        fit_titles(f)
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
    errorbar_note(ax.figure, f"{CONVENTION} (n = {seeds})")
    return mean, half


def density_axis(ax, ticks=(100, 50, 20, 10, 5, 2), title: str | None = None) -> None:
    """A log x axis of weights remaining (%), dense on the left, as the pruning papers draw it."""
    ax.set(xscale="log", xlabel="weights remaining (%)")
    if title:
        ax.set_title(title)
    ax.invert_xaxis()
    ax.set_xticks(list(ticks), [f"{t:g}" for t in ticks])
    ax.xaxis.set_minor_formatter(mpl.ticker.NullFormatter())   # only the ticks named: no 4x10^1 labels


def methods_by_density(values, density, methods, which, style, panel_titles, *, ylabel: str, title: str) -> None:
    """One panel per model: each method in ``which`` against density, the mean over seeds with its 95% t
    interval (:func:`seed_errorbar`).

    ``values``: (panels, seeds, methods, levels); ``methods`` names axis 2; ``style[method]`` is
    (label, colour, marker)."""
    values, methods = np.asarray(values, dtype=float), list(methods)
    fig, axes = subplots(1, len(panel_titles), height=3.4, squeeze=False)
    for ax, panel, panel_title in zip(axes[0], values, panel_titles):
        for method in which:
            label, colour, marker = style[method]
            seed_errorbar(ax, density, panel[:, methods.index(method)], label=label, color=colour, marker=marker)
        density_axis(ax, title=panel_title)
    axes[0, 0].set_ylabel(ylabel)
    axes[0, -1].legend()
    fig.suptitle(title)
    show(fig)


def gain_by_density(gains, density, labels, panel_titles, paper=None, *, ylabel: str, title: str,
                    paper_label: str = "the source's") -> None:
    """One panel per model: a gain against density for each of ``labels`` (the mean over seeds with its 95% t
    interval, :func:`seed_errorbar`), beside the source's own gain, dashed, where ``paper[panel title]`` gives
    it as ``(density, gain)``. ``gains``: (panels, len(labels), seeds, levels)."""
    gains = np.asarray(gains, dtype=float)
    if gains.shape[:2] != (len(panel_titles), len(labels)):
        raise ValueError(f"gains must be (panels={len(panel_titles)}, labels={len(labels)}, seeds, levels); "
                         f"got {gains.shape}")
    fig, axes = subplots(1, len(panel_titles), height=3.1, sharey=True, squeeze=False)
    for ax, panel, name in zip(axes[0], gains, panel_titles):
        for values, label, colour in zip(panel, labels, ("#dc2626", "#f59e0b", "#2563eb")):
            seed_errorbar(ax, density, values, color=colour, marker="D", label=label)
        if paper and name in paper:
            ax.plot(*paper[name], color="#111827", ls="--", marker=".", label=paper_label)
        ax.axhline(0, color="#9ca3af", lw=0.8)
        density_axis(ax, title=name)
    axes[0, 0].set_ylabel(ylabel)
    axes[0, -1].legend()
    fig.suptitle(title)
    show(fig)


def pair_heatmaps(values, density, ticks, panel_titles, *, label: str, title: str, cmap: str = "magma_r",
                  vmin: float = 0.0, axes_labels=("weights remaining (%)", "weights remaining (%)")) -> None:
    """One heat map per panel of a quantity over pairs of IMP levels (``values``: (panels, levels, levels)),
    both axes labelled by weights remaining (%) at ``ticks`` (``axes_labels``: x, y), one colour scale from
    ``vmin`` to the largest value."""
    values = np.asarray(values, dtype=float)
    fig, axes = subplots(1, len(panel_titles), height=3.8, squeeze=False)
    names = [f"{density[t]:.1f}" for t in ticks]
    for ax, panel, name in zip(axes[0], values, panel_titles):
        im = ax.imshow(panel, cmap=cmap, vmin=vmin, vmax=np.nanmax(values), origin="lower")
        ax.set(title=name, xlabel=axes_labels[0], ylabel=axes_labels[1], xticks=ticks, yticks=ticks,
               xticklabels=names, yticklabels=names)
        ax.grid(False)
    fig.colorbar(im, ax=axes[0].tolist(), label=label, shrink=0.85)
    fig.suptitle(title)
    show(fig)
