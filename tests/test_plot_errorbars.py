"""The book's one error bar: the 95% t interval of the mean over seeds, said under the figure."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from scipy import stats as st  # noqa: E402

from rglt import plot  # noqa: E402


def test_the_bars_are_scipys_t_interval_and_the_figure_says_so():
    values = np.array([[1.0, 2.0], [2.0, 2.5], [4.0, 3.5]])
    fig, ax = plt.subplots()
    mean, half = plot.seed_errorbar(ax, [1, 2], values, marker="o")
    for j in range(2):
        low, high = st.t.interval(0.95, 2, loc=values[:, j].mean(), scale=st.sem(values[:, j]))
        assert (mean[j] - half[j], mean[j] + half[j]) == pytest.approx((low, high))
    assert "95% t interval of the mean over seeds (n = 3)" in fig._rglt_errorbar_note.get_text()
    plot.seed_errorbar(ax, [1, 2], values, band=True)     # the note is written once
    assert sum("95%" in t.get_text() for t in fig.texts) == 1
    plt.close(fig)


def test_one_seed_draws_no_bar_and_a_shape_mismatch_is_refused():
    fig, ax = plt.subplots()
    _, half = plot.seed_errorbar(ax, [1, 2], [[1.0, 2.0]])
    assert np.all(half == 0)
    with pytest.raises(ValueError, match="x has shape"):
        plot.seed_errorbar(ax, [1, 2, 3], [[1.0, 2.0], [1.0, 2.0]])
    plt.close(fig)
