"""rglt.rg.imp_flow against oracles: exact exponential flows (both schedules of App. B), a two-layer
network computed by hand, and Eq. 15 recovering known parameters from noisy data."""
import math

import numpy as np
import pytest
import torch

from rglt.prune import IMPConfig, Ticket, TicketStore
from rglt.rg import imp_flow


def _synthetic_tickets(shares, sigma, c, size=1000, seed=0):
    """Tickets whose groups "a", "b" hold exactly ``shares * prod c^sigma`` of the mass; "rest" the
    remainder. Pruned entries hold large values, so a flow that ignored the masks would be wrong."""
    gen = torch.Generator().manual_seed(seed)
    levels = len(c) + 1
    mass = {g: [share] for g, share in shares.items()}
    for n in range(1, levels):
        for g in mass:
            mass[g].append(mass[g][-1] * c[n - 1] ** sigma[g])
    out, kept = [], size
    for n in range(levels):
        weights, masks = {}, {}
        group_mass = {**{g: mass[g][n] for g in mass}, "rest": 1.0 - sum(mass[g][n] for g in mass)}
        assert group_mass["rest"] > 0
        for g, m in group_mass.items():
            mask = torch.zeros(size, dtype=torch.bool)
            mask[torch.randperm(size, generator=gen)[:kept]] = True
            value = torch.where(mask, torch.tensor(m / kept, dtype=torch.float64), torch.tensor(100.0, dtype=torch.float64))
            sign = torch.where(torch.rand(size, generator=gen) < 0.5, -1.0, 1.0).double()
            weights[f"{g}.weight"], masks[f"{g}.weight"] = value * sign, mask
        out.append(Ticket(level=n, weights=weights, masks=masks, density=kept / size, metrics={}))
        if n < levels - 1:
            kept = round(kept / c[n])
    return out


@pytest.mark.parametrize("schedule", ["survivors", "original"])
def test_exact_exponential_flow_gives_exact_lambda_and_sigma(schedule):
    rounds = 17 if schedule == "survivors" else 8
    fraction = 0.2 if schedule == "survivors" else 0.1
    c = imp_flow.coarse_graining(fraction, schedule, 0, rounds)
    sigma = {"a": 0.3, "b": -0.5}
    tickets = _synthetic_tickets({"a": 0.2, "b": 0.4}, sigma, c)
    fl = imp_flow.flow(tickets, ["a", "b"])
    assert fl.levels.tolist() == list(range(rounds + 1))
    out = imp_flow.exponents(fl.M, c if schedule == "original" else float(c[0]))
    np.testing.assert_allclose(out["sigma"], [0.3, -0.5], rtol=0, atol=1e-9)
    if schedule == "survivors":
        np.testing.assert_allclose(out["lam"], [1.25**0.3, 1.25**-0.5], atol=1e-12)
        np.testing.assert_allclose(out["lam_sem"], 0, atol=1e-12)
        assert out["eigen"].all()
    # The density follows the schedule: c is the ratio of surviving weights (up to rounding of counts).
    np.testing.assert_allclose(fl.density[:-1] / fl.density[1:], c, rtol=0.02)


def test_app_b_values_and_the_run_schedule():
    np.testing.assert_allclose(imp_flow.coarse_graining(0.2, "survivors", 0, 3), [1.25] * 3)
    c = imp_flow.coarse_graining(0.1, "original", 0, 3)
    np.testing.assert_allclose(c, [1 / 0.9, 9 / 8, 8 / 7])  # App. B: c(0) = 1.11.., c(2) = 8/7
    from rglt.prune import round_fraction
    config = IMPConfig(rounds=8, fraction=0.1, schedule="original")
    np.testing.assert_allclose(imp_flow.c_of_run(config, range(2, 6)),
                               [1 / (1 - round_fraction(config, t)) for t in range(3, 6)])


def test_constant_c_uses_the_mean_ratio_and_per_round_c_the_mean_exponent():
    obs = np.array([[1.0], [2.0], [2.0 * 8.0]])  # ratios 2 and 8
    const = imp_flow.exponents(obs, 2.0)
    assert const["lam"][0] == 5.0 and const["sigma"][0] == pytest.approx(math.log2(5.0))
    per_round = imp_flow.exponents(obs, [2.0, 2.0])
    assert per_round["sigma"][0] == pytest.approx((1 + 3) / 2)  # log2 2 = 1, log2 8 = 3
    assert per_round["sigma_sem"][0] == pytest.approx(np.std([1, 3], ddof=1) / math.sqrt(2))


def test_two_layer_network_by_hand(tmp_path):
    model = torch.nn.Sequential(torch.nn.Linear(2, 2, bias=False), torch.nn.Linear(2, 1, bias=False))
    store = TicketStore(tmp_path / "store")
    w0 = {"0.weight": torch.tensor([[1.0, -2.0], [3.0, 0.5]]), "1.weight": torch.tensor([[2.0, -1.0]])}
    m0 = {k: torch.ones_like(v, dtype=torch.bool) for k, v in w0.items()}
    # level 1: 0.5 pruned; retrained weights move
    w1 = {"0.weight": torch.tensor([[1.5, -2.0], [2.5, 9.0]]), "1.weight": torch.tensor([[1.0, -1.0]])}
    m1 = {"0.weight": torch.tensor([[True, True], [True, False]]), "1.weight": torch.tensor([[True, True]])}
    # level 2: the -1 of layer 2 pruned too
    w2 = {"0.weight": torch.tensor([[1.0, -2.0], [3.0, 0.0]]), "1.weight": torch.tensor([[2.0, 7.0]])}
    m2 = {"0.weight": torch.tensor([[True, True], [True, False]]), "1.weight": torch.tensor([[True, False]])}
    for level, (w, m) in enumerate([(w0, m0), (w1, m1), (w2, m2)]):
        model.load_state_dict(w)
        store.save(level, model.state_dict(), m, {}, rewind=model.state_dict() if level == 0 else None)
    fl = imp_flow.flow(store, {"layer1": ["0"], "layer2": ["1"]})
    # masses: level 0: 6.5 | 3 ; level 1: 6 | 2 ; level 2: 6 | 2
    np.testing.assert_allclose(fl.M[:, 0], [6.5 / 9.5, 6 / 8, 6 / 8])
    np.testing.assert_allclose(fl.P[:, 1], [2 / 6, 2 / 5, 1 / 4])
    np.testing.assert_allclose(fl.density, [1.0, 5 / 6, 4 / 6])
    out = imp_flow.exponents(fl.M, 1.25)
    r = np.array([(6 / 8) / (6.5 / 9.5), 1.0])
    assert out["lam"][0] == pytest.approx(r.mean())
    assert out["lam_sem"][0] == pytest.approx(r.std(ddof=1) / math.sqrt(2))
    assert out["sigma"][0] == pytest.approx(math.log(r.mean()) / math.log(1.25))
    assert out["eigen"][0] == (r.std(ddof=1) / math.sqrt(2) < 0.05 * r.mean())
    # any level range: levels 1..2 alone give one ratio of exactly 1 for layer 1
    assert imp_flow.exponents(imp_flow.flow(store, ["0", "1"], levels=[1, 2]).M, 1.25)["sigma"][0] == 0.0


def _eq15_complex(d, eps_np, eps_up, gamma, p):
    """Eq. 15 as printed, with complex arithmetic: an oracle for the closed form."""
    a = p * (eps_up / eps_np) ** (1 / gamma)
    return eps_np * np.abs((d - 1j * a) / (d - 1j * p)) ** gamma


def test_scaling_law_closed_form_matches_eq15_and_its_limits():
    d = np.geomspace(0.01, 100, 50)
    for params in [(10.0, 85.0, -0.8, 5.0), (3.0, 60.0, 1.5, 2.0)]:
        np.testing.assert_allclose(imp_flow.scaling_law(d, *params), _eq15_complex(d, *params), rtol=1e-12)
        assert imp_flow.scaling_law(1e6, *params) == pytest.approx(params[0], rel=1e-6)
        assert imp_flow.scaling_law(1e-9, *params) == pytest.approx(params[1], rel=1e-6)
    # the sign symmetry: (gamma, p) -> (-gamma, a) is the same curve
    eps_np, eps_up, gamma, p = 10.0, 85.0, -0.8, 5.0
    a = p * (eps_up / eps_np) ** (1 / gamma)
    np.testing.assert_allclose(imp_flow.scaling_law(d, eps_np, eps_up, -gamma, a),
                               imp_flow.scaling_law(d, eps_np, eps_up, gamma, p), rtol=1e-12)


def test_fit_recovers_known_parameters_within_its_uncertainty():
    truth = dict(eps_np=12.0, eps_up=80.0, gamma=-0.9, p=4.0)
    d = 100 * 0.8 ** np.arange(26)
    rng = np.random.default_rng(3)
    errors = imp_flow.scaling_law(d, **truth) * np.exp(rng.normal(0, 0.03, (3, d.size)))
    fit = imp_flow.bootstrap_gamma(d, errors, resamples=200)
    assert abs(fit["gamma"] - truth["gamma"]) < 3 * fit["gamma_err"]
    assert abs(fit["p"] - truth["p"]) < 3 * fit["p_err"]
    assert fit["gamma_low"] <= fit["gamma_high"] and fit["resamples_used"] == 200
    assert fit["gamma_low"] - 3 * fit["gamma_boot_std"] < truth["gamma"] < fit["gamma_high"] + 3 * fit["gamma_boot_std"]
    # the other branch fits the same curve, with gamma of the opposite sign
    other = imp_flow.fit_scaling_law(d, errors.mean(0), gamma_sign=1)
    assert other["gamma"] == pytest.approx(-fit["gamma"], rel=0.05)
    assert other["rms_log"] == pytest.approx(fit["rms_log"], rel=0.05, abs=1e-4)


def test_bad_inputs_are_refused_before_any_work(tmp_path):
    store = TicketStore(tmp_path / "one")
    w = {"0.weight": torch.ones(2, 2)}
    store.save(0, w, {"0.weight": torch.ones(2, 2, dtype=torch.bool)}, {}, rewind=w)
    with pytest.raises(ValueError, match="at least 2 levels"):
        imp_flow.flow(store, ["0"])
    tickets = _synthetic_tickets({"a": 0.2}, {"a": 0.1}, [1.25] * 3)
    with pytest.raises(ValueError, match="'nope'.*matches no prunable"):
        imp_flow.flow(tickets, ["a", "nope"])
    with pytest.raises(ValueError, match="in both group"):
        imp_flow.flow(tickets, {"x": ["a"], "y": ["a.weight"]})
    with pytest.raises(ValueError, match="consecutive"):
        imp_flow.flow(tickets, ["a"], levels=[0, 2])
    with pytest.raises(ValueError, match="not in the store"):
        imp_flow.flow(tickets, ["a"], levels=[2, 3, 4])
    obs = np.array([[0.5], [0.4], [0.3]])
    for c in (1.0, 0.8, [1.25], [1.25, 0.9], float("nan")):
        with pytest.raises(ValueError, match="c must be"):
            imp_flow.exponents(obs, c)
    with pytest.raises(ValueError, match="layer collapse"):
        imp_flow.exponents(np.array([[0.5], [0.0], [0.0]]), 1.25)
    d = 100 * 0.8 ** np.arange(8)
    e = np.linspace(10, 40, 8)
    with pytest.raises(ValueError, match="finite"):
        imp_flow.fit_scaling_law(d, np.where(np.arange(8) == 3, np.nan, e))
    with pytest.raises(ValueError, match="contain the error at the highest density"):
        imp_flow.fit_scaling_law(d, e, eps_np_bounds=(20.0, 30.0))
    with pytest.raises(ValueError, match="density must be"):
        imp_flow.fit_scaling_law(-d, e)
    with pytest.raises(ValueError, match="original"):
        imp_flow.coarse_graining(0.1, "original", 0, 10)


def test_the_untrained_flow_masks_the_top_magnitudes_of_fixed_weights():
    gen = torch.Generator().manual_seed(0)
    weights = {"a.weight": torch.randn(300, generator=gen) * 2.0, "b.weight": torch.randn(700, generator=gen)}
    tickets = imp_flow.untrained_tickets(weights, rounds=5)
    everything = torch.cat([weights["a.weight"], weights["b.weight"]]).abs()
    kept = 1000
    for n, ticket in enumerate(tickets):
        # oracle: with fixed weights, iterated pruning keeps the largest |w| (no ties in random floats)
        top = torch.zeros(1000, dtype=torch.bool)
        top[torch.topk(everything, kept).indices] = True
        assert torch.equal(torch.cat([ticket.masks["a.weight"], ticket.masks["b.weight"]]), top), n
        kept -= round(0.2 * kept)
    fl = imp_flow.flow(tickets, ["a", "b"])
    # the wider-spread group keeps a growing share: relevant (sigma > 0), the other irrelevant
    out = imp_flow.exponents(fl.M, 1.25)
    assert out["sigma"][0] > 0 > out["sigma"][1]


# ---- the null at scale: untrained_flow, and Eq. 13's "all N parameters" denominator ---------------

@pytest.mark.parametrize("schedule,fraction,rounds", [("survivors", 0.2, 6), ("original", 0.1, 9)])
def test_untrained_flow_is_the_flow_of_the_untrained_tickets(schedule, fraction, rounds):
    gen = torch.Generator().manual_seed(1)
    weights = {"a.weight": torch.randn(40, 30, generator=gen) * 2.0, "b.weight": torch.randn(900, generator=gen),
               "c.weight": torch.randn(500, generator=gen) * 0.5}
    tickets = imp_flow.untrained_tickets(weights, rounds, fraction, schedule)
    expected = imp_flow.flow(tickets, ["a", "b"])
    got = imp_flow.untrained_flow(weights, ["a", "b"], rounds, fraction, schedule)
    assert set(got) == {"prunable"}
    for field in ("levels", "M", "P", "density"):
        np.testing.assert_allclose(getattr(got["prunable"], field), getattr(expected, field), rtol=1e-12, atol=0)


def test_the_null_keeps_the_mass_a_gaussian_tail_predicts():
    """Two groups of iid N(0, s^2) weights: a global threshold t keeps N_i 2Q(t/s_i) weights and
    N_i 2 s_i phi(t/s_i) of |w| mass in group i; t solves the density the flow reached (scipy)."""
    from scipy.optimize import brentq
    from scipy.stats import norm

    sizes, stds = (400_000, 600_000), (1.0, 0.5)
    gen = torch.Generator().manual_seed(2)
    weights = {f"g{i}.weight": torch.randn(n, generator=gen, dtype=torch.float64) * s
               for i, (n, s) in enumerate(zip(sizes, stds))}
    fl = imp_flow.untrained_flow(weights, ["g0", "g1"], rounds=8)["prunable"]
    for d, M, P in zip(fl.density, fl.M, fl.P):
        kept = lambda t: sum(n * 2 * norm.sf(t / s) for n, s in zip(sizes, stds)) / sum(sizes) - d
        t = 0.0 if d == 1 else brentq(kept, 1e-9, 10.0)
        mass = np.array([n * 2 * s * norm.pdf(t / s) for n, s in zip(sizes, stds)])
        count = np.array([n * 2 * norm.sf(t / s) for n, s in zip(sizes, stds)])
        np.testing.assert_allclose(M, mass / mass.sum(), atol=3e-3)
        np.testing.assert_allclose(P, count / count.sum(), atol=3e-3)
    # the wide group gains share, the narrow one loses it: sigma of the two has opposite signs
    sigma = imp_flow.exponents(fl.M, 1.25)["sigma"]
    assert sigma[0] > 0 > sigma[1]


def test_the_all_n_denominator_is_the_hand_sum():
    a, b, bn = torch.tensor([1.0, -2.0, 3.0, -4.0]), torch.tensor([0.5, -0.5]), torch.tensor([10.0, -10.0])
    masks = [{"a.weight": torch.ones(4, dtype=torch.bool), "b.weight": torch.ones(2, dtype=torch.bool)},
             {"a.weight": torch.tensor([True, False, True, True]), "b.weight": torch.ones(2, dtype=torch.bool)}]
    tickets = [Ticket(level=n, weights={"a.weight": a, "b.weight": b, "bn.weight": bn}, masks=m, density=0.0,
                      metrics={}) for n, m in enumerate(masks)]
    ours = imp_flow.flow(tickets, ["a", "b"])
    literal = imp_flow.flow(tickets, ["a", "b"], unpruned=["bn.weight"])
    np.testing.assert_allclose(ours.M, [[10 / 11, 1 / 11], [8 / 9, 1 / 9]])
    np.testing.assert_allclose(literal.M, [[10 / 31, 1 / 31], [8 / 29, 1 / 29]])
    np.testing.assert_allclose(literal.P, [[4 / 8, 2 / 8], [3 / 7, 2 / 7]])
    null = imp_flow.untrained_flow({"a.weight": a, "b.weight": b}, ["a", "b"], 1, unpruned={"bn.weight": bn})
    np.testing.assert_allclose(null["all"].M[0], [10 / 31, 1 / 31])
    np.testing.assert_allclose(null["prunable"].M[0], [10 / 11, 1 / 11])
    # level 1 prunes round(0.2 * 6) = 1 weight, the smallest: b's first (ties go by position)
    np.testing.assert_allclose(null["all"].M[1], [10 / 30.5, 0.5 / 30.5])


def test_the_null_and_the_denominator_refuse_bad_input():
    w = {"a.weight": torch.randn(10), "b.weight": torch.randn(10)}
    with pytest.raises(ValueError, match="weights must be a non-empty mapping"):
        imp_flow.untrained_flow({}, ["a"], 2)
    with pytest.raises(ValueError, match="rounds must be an integer >= 1"):
        imp_flow.untrained_flow(w, ["a"], 0)
    with pytest.raises(ValueError, match="unpruned must hold the parameters that are not pruned"):
        imp_flow.untrained_flow(w, ["a"], 2, unpruned={"a.weight": torch.ones(3)})
    with pytest.raises(TypeError, match="unpruned must be a mapping"):
        imp_flow.untrained_flow(w, ["a"], 2, unpruned=[torch.ones(3)])
    with pytest.raises(ValueError, match="'c'.*matches no prunable"):
        imp_flow.untrained_flow(w, ["a", "c"], 2)
    tickets = imp_flow.untrained_tickets(w, 2)
    with pytest.raises(ValueError, match="unpruned must name parameters.*have a mask"):
        imp_flow.flow(tickets, ["a"], unpruned=["a.weight"])
    with pytest.raises(ValueError, match="unpruned must name parameters.*not unmasked weights"):
        imp_flow.flow(tickets, ["a"], unpruned=["bn.weight"])
    with pytest.raises(TypeError, match="unpruned must be a sequence of parameter names"):
        imp_flow.flow(tickets, ["a"], unpruned="bn.weight")
