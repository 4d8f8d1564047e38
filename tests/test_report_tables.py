"""The book's one table (rglt.report.Table) and figure size (rglt.plot.subplots)."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from rglt import plot, report, stats  # noqa: E402
from rglt.claims import Claim  # noqa: E402


def _claim(verdict="not", rule="r_1"):
    return Claim(claim="c <x>", source="000 Table 2", source_value="0.5", ours="0.4", tolerance="t",
                 verdict=verdict, reason="" if verdict == "reproduced" else "why", rule=rule)


def test_a_table_is_html_in_a_scrolling_box_and_text_when_printed():
    t = report.table([[1, "a & b"], [2, report.Link("x", "02.html#claim-a")]], ["n", "s"], title="T", note="N")
    html = t._repr_html_()
    assert html.startswith('<div class="rglt-table-box"><table class="rglt-table rglt-results">')
    assert "a &amp; b" in html and '<a href="02.html#claim-a">x</a>' in html and '<th class="rglt-lead">n</th>' in html
    assert str(t).splitlines()[0] == "T" and "2  x" in str(t) and str(t).endswith("N") and "a & b" in t
    with pytest.raises(ValueError, match="one per header"):
        report.table([[1]], ["a", "b"])
    with pytest.raises(ValueError, match="one entry per row"):
        report.table([[1]], ["a"], row_attrs=[{}, {}])


def test_a_claims_table_leads_with_the_verdict_and_anchors_each_row():
    claims = [_claim("not", "beta_2"), _claim("reproduced", "Gap 5%")]
    t = report.claims_table(claims)
    assert t.headers[0] == "verdict" and [r[0] for r in t.rows] == ["not", "reproduced"]
    html = t._repr_html_()
    assert '<tr id="claim-beta-2">' in html and '<tr id="claim-gap-5">' in html
    assert '<td class="rglt-lead rglt-verdict rglt-not">not</td>' in html and "c &lt;x&gt;" in html
    assert report.claim_anchor(claims[0]) == "claim-beta-2" and stats.CONVENTION in t.text()


def test_provenance_is_one_column_per_result():
    prov = {k: f"v-{k}" for k in report.PROVENANCE_KEYS}

    class R:
        provenance = prov

    one = report.provenance_table(prov)
    assert one.headers == ["provenance", "value"] and one.rows[1] == ["config_hash", "v-config_hash"]
    both = report.provenance_table({"a": R(), "b": R()})
    assert both.headers == ["provenance", "a", "b"] and both.kind == "provenance"
    with pytest.raises(KeyError, match="has no date"):
        report.provenance_table({k: v for k, v in prov.items() if k != "date"})


def test_figures_are_drawn_at_the_page_width():
    fig, axes = plot.subplots(1, 3)
    assert fig.get_size_inches()[0] == plot.PAGE_WIDTH and len(axes) == 3
    assert fig.get_size_inches()[0] * fig.dpi == 700
    plt.close(fig)
    fig, _ = plot.subplots(2, 1, height=5, width=5)
    assert tuple(fig.get_size_inches()) == (5, 5)
    plt.close(fig)
    with pytest.raises(ValueError, match="width"):
        plot.subplots(1, 2, width=13)
    with pytest.raises(TypeError, match="height"):
        plot.subplots(1, 2, figsize=(7, 3))


def test_a_long_title_is_wrapped_to_the_figure():
    fig, (ax, bx) = plot.subplots(1, 2)
    fig.suptitle("word " * 60)
    ax.set_title("a panel title " * 8)
    bx.set_title("$x$ " * 40)
    plot.fit_titles(fig)
    assert fig._suptitle.get_text().count("\n") >= 2 and "\n" in ax.get_title() and "\n" not in bx.get_title()
    plt.close(fig)


def test_the_chapter_figures_draw_at_the_page_width(monkeypatch):
    import numpy as np
    plt.close("all")   # a figure another test in this worker left open is not this test's
    shown = []
    monkeypatch.setattr(plot.plt, "show", lambda: shown.append(plt.gcf().get_size_inches()[0]))
    density = 100 * 0.8 ** np.arange(4)
    gains = np.random.default_rng(0).normal(size=(2, 2, 3, 4))
    plot.gain_by_density(gains, density, ["a", "b"], ["m1", "m2"], {"m1": (density, np.ones(4))}, ylabel="y", title="t")
    plot.pair_heatmaps(np.ones((2, 4, 4)), density, [0, 2], ["a", "b"], label="l", title="t")
    assert shown == [plot.PAGE_WIDTH, plot.PAGE_WIDTH] and not plt.get_fignums()
    with pytest.raises(ValueError, match="gains must be"):
        plot.gain_by_density(gains[:1], density, ["a", "b"], ["m1", "m2"], ylabel="y", title="t")
