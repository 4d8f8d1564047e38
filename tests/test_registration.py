"""Pre-registration: every committed result carries the rules it is judged by, and a rule changed
after its result keeps the registered version (the row then shows both verdicts)."""
import math

import pytest

from rglt import claims, experiments, paths, store
from rglt.claims import Rule
from rglt.stats import Interval

COMMITTED = [(name, profile) for name in experiments.names() for profile in ("cpu", "gpu")
             if store.paths(name, profile)[0].exists()]


@pytest.fixture(autouse=True)
def _checkout_results(monkeypatch):
    monkeypatch.delenv("RGLT_RESULTS", raising=False)
    assert paths.results_root() == paths.checkout_root() / "results"


@pytest.mark.parametrize("name,profile", COMMITTED, ids=[f"{n}-{p}" for n, p in COMMITTED])
def test_a_committed_result_carries_its_rules_and_the_code_says_what_changed(name, profile):
    module = experiments.get(name)
    prov = store.load(name, profile).provenance
    assert "rules" in prov and "rules_hash" in prov, f"{name} {profile}: no registered rules (scripts/register_rules.py)"
    assert claims.rules_hash(prov["rules"]) == prov["rules_hash"], "the stored rules do not match their hash"
    problems = claims.registration_problems(module.rules(module.CONFIGS[profile]), prov["rules"])
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", experiments.names())
def test_each_rule_is_one_row_and_each_row_has_a_rule(name):
    module = experiments.get(name)
    config = module.CONFIGS["cpu"]
    rules = claims.check_rules(module.rules(config), f"{name}.rules")
    rows = module.checks(store.load(name, "cpu"), config)
    assert sorted(c.rule for c in rows) == sorted(r.id for r in rules)
    assert all(c.verdict in claims.VERDICTS for c in rows)


def _rule(**kw):
    base = dict(id="gain", claim="tickets gain", source="003 Table 2", source_value="+1.0", what="gain (points)",
                test="paired t interval over seeds", low=0.0)
    return Rule(**{**base, **kw})


def test_a_changed_rule_without_its_registered_version_is_caught():
    stored = claims.rules_record([_rule()])
    assert claims.registration_problems([_rule()], stored) == []
    moved = _rule(low=0.5)
    assert any("differs" in p for p in claims.registration_problems([moved], stored))
    kept = _rule(low=0.5, registered=_rule(), change="the margin moved to half a point")
    assert claims.registration_problems([kept], stored) == []
    assert any("was dropped" in p for p in claims.registration_problems([_rule(id="other", change="new")], stored))
    assert any("not in the result" in p for p in claims.registration_problems([_rule(), _rule(id="new")], stored))


def test_the_row_shows_the_verdict_under_both_rules():
    kept = _rule(low=0.5, registered=_rule(), change="the margin moved to half a point")
    row = kept.judge(Interval(0.4, 0.2, 0.6, 3, 0.1, "t"), ours="gain 0.4")
    assert row.verdict == "inconclusive"
    assert "under the rule as registered" in row.registered and ": reproduced" in row.registered


def test_the_hash_changes_with_the_rule_and_not_with_its_history():
    assert claims.rules_hash([_rule()]) == claims.rules_hash(claims.rules_record([_rule()]))
    assert claims.rules_hash([_rule()]) != claims.rules_hash([_rule(high=5.0)])
    assert claims.rules_record([_rule(high=math.inf)])[0]["high"] is None


def _intervals_for(rule):
    """Intervals inside, outside and across the rule's region (a boundary it has)."""
    edge = rule.low if math.isfinite(rule.low) else rule.high
    width = (rule.high - rule.low) if math.isfinite(rule.high - rule.low) else max(1.0, abs(edge))
    inside_mid = (rule.low + rule.high) / 2 if math.isfinite(rule.high - rule.low) else (
        edge + width if math.isfinite(rule.low) else edge - width)
    outside = edge - width if math.isfinite(rule.low) else edge + width
    small = width / 100
    make = lambda m, h: Interval(m, m - h, m + h, 5, h, "synthetic")
    return make(inside_mid, small), make(outside, small), make(edge, small)


@pytest.mark.parametrize("name", experiments.names())
def test_every_rule_can_reach_every_verdict_its_region_allows(name):
    """A rule whose region is the whole line cannot fail; one with a precondition must be able to
    come out inconclusive for it and never "not"."""
    module = experiments.get(name)
    for rule in module.rules(module.CONFIGS["cpu"]):
        if rule.parts:
            continue   # judged by its parts, each on its own region (tests/test_claims_*.py drive them)
        assert math.isfinite(rule.low) or math.isfinite(rule.high), f"{name}.{rule.id}: a region that cannot fail"
        inside, outside, across = _intervals_for(rule)
        pre = (True, "holds") if rule.precondition else None
        got = [claims.derived(i, rule.low, rule.high, precondition=pre)["verdict"] for i in (inside, outside, across)]
        assert got == ["reproduced", "not", "inconclusive"], f"{name}.{rule.id}: {got}"
        if rule.precondition:
            failed = claims.derived(outside, rule.low, rule.high, precondition=(False, "fails"))["verdict"]
            assert failed == "inconclusive"
