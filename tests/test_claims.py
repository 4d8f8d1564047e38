"""rglt.claims: a verdict derived from a rule and a measured interval, through each of its outcomes;
claims of several parts; the rows a changed rule makes."""
import math

import numpy as np
import pytest

from rglt import stats
from rglt.claims import Claim, Rule, combined, part
from rglt.report import claims_table


def _rule(**kw):
    base = dict(id="gain", claim="the ticket beats the dense network", source="003 Table 2",
                source_value="+0.5 points", what="gain (points)", test="paired t interval over seeds", low=0.0)
    return Rule(**{**base, **kw})


@pytest.mark.parametrize("gains,verdict", [
    ([1.0, 1.2, 0.9], "reproduced"),       # interval inside (0, inf)
    ([-1.0, -1.2, -0.9], "not"),           # outside
    ([1.0, -0.5, 0.4], "inconclusive"),    # straddles 0
])
def test_judge_derives_the_verdict(gains, verdict):
    row = _rule().judge(stats.mean_interval(gains), ours="ticket minus dense")
    assert row.verdict == verdict and row.rule == "gain" and row.interval.n == 3
    if verdict == "inconclusive":
        assert "seeds of this spread would decide it" in row.reason
    if verdict == "not":
        assert "outside the claimed region > 0" in row.reason


def test_a_failed_precondition_is_inconclusive_whatever_the_interval():
    rule = _rule(precondition="the teacher beats every student")
    row = rule.judge(stats.mean_interval([-1.0, -1.2, -0.9]), ours="x",
                     precondition=(False, "teacher 81.5% < best student 84.3%"))
    assert row.verdict == "inconclusive" and "81.5%" in row.reason and "fails" in row.precondition
    with pytest.raises(ValueError, match="lives in a regime"):
        rule.judge(stats.mean_interval([1.0, 2.0]), ours="x")
    with pytest.raises(ValueError, match="states no precondition"):
        _rule().judge(stats.mean_interval([1.0, 2.0]), ours="x", precondition=(True, "y"))


def test_an_exact_value_is_judged_by_where_it_lies():
    assert _rule(high=1e-5, low=-1e-5).judge(stats.Interval.exact(3e-6), ours="x").verdict == "reproduced"
    assert _rule(high=1e-5, low=-1e-5).judge(stats.Interval.exact(3e-5), ours="x").verdict == "not"


@pytest.mark.parametrize("verdicts,expected", [
    (("reproduced", "reproduced"), "reproduced"),
    (("reproduced", "not"), "partly"),
    (("not", "not"), "not"),
    (("not", "inconclusive"), "inconclusive"),
    (("partly", "not"), "partly"),
])
def test_several_parts_combine(verdicts, expected):
    assert combined(dict(zip("ab", verdicts))) == expected


def test_a_claim_of_several_parts_names_them():
    parts = dict([part("at 41%", stats.mean_interval([1.0, 1.1, 1.2]), 0.0),
                  part("at 4%", stats.mean_interval([-1.0, -1.1, -1.2]), 0.0)])
    rule = _rule(parts=("at 41%", "at 4%"))
    row = rule.judge(parts=parts, ours="gains")
    assert row.verdict == "partly" and "at 4%: not" in row.reason and row.interval is None
    assert rule.judge(parts=parts, ours="g", precondition=None).verdict == "partly"
    with pytest.raises(ValueError, match="declares"):
        _rule(parts=("at 41%", "at 2%")).judge(parts=parts, ours="gains")
    with pytest.raises(ValueError, match="declares no parts"):
        _rule().judge(parts=parts, ours="gains")
    regime = _rule(parts=("at 41%", "at 4%"), precondition="dense as good as the best ticket")
    assert regime.judge(parts=parts, ours="g", precondition=(False, "gap 4 points")).verdict == "inconclusive"


def test_a_changed_rule_shows_both_readings_and_a_new_one_says_when_it_was_written():
    kept = _rule(low=0.5, registered=_rule(), change="the margin moved to half a point")
    row = kept.judge(stats.mean_interval([0.2, 0.25, 0.3]), ours="x")
    assert row.verdict == "not" and "as registered" in row.registered and "reproduced" in row.registered
    assert row.registered_verdict == "reproduced"
    late = _rule(change="written after the result existed: a second reading")
    assert "written after the result" in late.judge(stats.mean_interval([1.0, 1.1]), ours="x").registered
    with pytest.raises(ValueError, match="what changed"):
        _rule(registered=_rule())


@pytest.mark.parametrize("kw,match", [
    (dict(source="the paper"), "seed file"),
    (dict(low=1.0, high=0.0), "low < high"),
    (dict(what=""), "what must not be empty"),
    (dict(low=True), "must be a number"),
])
def test_a_bad_rule_is_refused_naming_the_field(kw, match):
    with pytest.raises((ValueError, TypeError), match=match):
        _rule(**kw)


def test_a_typed_verdict_without_a_reason_is_refused_and_the_table_shows_the_rule():
    with pytest.raises(ValueError, match="reason is required"):
        Claim(claim="c", source="000", source_value="v", ours="o", tolerance="t", verdict="not")
    row = _rule(precondition="dense as good as the best ticket").judge(
        stats.mean_interval([1.0, 1.2, 0.9]), ours="x", p=0.01, precondition=(True, "gap 0.3 points"))
    text = claims_table([row]).text()
    assert "regime: dense as good as the best ticket: holds" in text and "p = 0.01" in text
    assert "95%" in text or "t interval" in text
    assert np.isfinite(row.interval.high) and not math.isnan(row.interval.low)


def test_a_rule_split_into_parts_after_registration_shows_the_registered_single_reading():
    registered = _rule(low=1.0)
    now = _rule(low=1.0, parts=("ours", "theirs"), registered=registered, change="a second reference was added")
    parts = dict([part("ours", stats.mean_interval([1.5, 1.6, 1.7]), 1.0),
                  part("theirs", stats.mean_interval([0.5, 0.6, 0.7]), 1.0)])
    row = now.judge(parts=parts, registered=stats.mean_interval([1.5, 1.6, 1.7]), ours="x")
    assert row.verdict == "partly" and "as registered" in row.registered and ": reproduced" in row.registered
    assert row.registered_verdict == "reproduced"
