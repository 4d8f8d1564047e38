"""Register the rules of stored results made before rules were data (issue 28): once, no retraining.

For each experiment and profile with a stored result under the results root whose provenance has no
``rules``, writes each rule as first registered (``rglt.claims.Rule.first``) and its hash, with
``rules_registered`` saying that this happened after the result. Results that have their rules are
left alone. Usage: ``python scripts/register_rules.py [experiment ...]``.
"""
from __future__ import annotations

import datetime
import sys

from rglt import experiments, store


def main(names: list[str]) -> None:
    when = datetime.date.today().isoformat()
    for name in names or experiments.names():
        module = experiments.get(name)
        for profile in ("cpu", "gpu"):
            stored = store.load(name, profile)
            if stored is None or "rules" in stored.provenance:
                continue
            store.save(experiments.register(stored, module, module.CONFIGS[profile], when))
            print(f"registered the rules of {name} at profile {profile}")


if __name__ == "__main__":
    main(sys.argv[1:])
