"""What every claims test asks of an experiment's rows, whatever the result's shape."""
import math

from rglt import claims


def assert_derived(module, data, config) -> list:
    """``module.checks(data, config)``: one row per rule, in the rules' order, each with a derived
    verdict and its reason; a failed regime or an infinite interval (one seed) never decides. Returns the rows."""
    rows = module.checks(data, config)
    assert [c.rule for c in rows] == [r.id for r in module.rules(config)]
    for row in rows:
        assert row.verdict in claims.VERDICTS and row.ours.strip()
        assert row.verdict == "reproduced" or row.reason.strip()
        if ": fails," in row.precondition:
            assert row.verdict == "inconclusive"
        if row.interval is not None and not math.isfinite(row.interval.high - row.interval.low):
            assert row.verdict == "inconclusive"                    # one seed: an infinite interval decides nothing
    return rows
