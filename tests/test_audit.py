"""The results audit: each shortfall of the judging rule it must find, on hand-made results."""
from harness.audit import audit


def row(name, role="primary", check="compare", low=0.2, high=0.8, n=8, outcome="HOLDS",
        null=0.0, **details):
    return {"name": name, "role": role, "check": check, "ci_low": low, "ci_high": high,
            "n": n, "outcome": outcome, "null": null, "nodeid": "t::a", "details": details,
            "statistic": "s", "observed": 0.5, "threshold": 0.3, "comparison": ">=",
            "margin": 0.2, "p_value": 0.001, "alpha": 0.01, "passed": outcome == "HOLDS"}


def document(rows, verdict="SUPPORTED", votes=True, arm="a", claim_id="G99", **meta):
    return {"claims": [{"id": claim_id, "evidence": rows, **meta, "tests": [
        {"nodeid": "t::a", "arm": arm, "verdict": verdict, "votes": votes}]}]}


def test_a_run_that_keeps_the_rule_has_no_findings():
    rows = [row("p"), row("c", role="control", outcome="FAILS"),
            row("pc", role="positive_control", backs="p", planted=1.2)]
    assert audit(document(rows)) == []


def test_each_shortfall_is_found():
    found = audit(document([
        row("p", low=0.5, high=0.5),
        row("q", check="proportion", null=0.0),
        row("pc", role="positive_control", backs="p", planted=4.0),
        row("shuffled labels", role="control", outcome="FAILS"),
    ], votes=False))
    text = "\n".join(found)
    assert "zero-width interval [0.5, 0.5] from 8 units" in text
    assert "proportion against p0 = 0.0" in text
    assert "planted at 4.0 x the floor" in text
    assert "permutation placebo recorded as the negative control" in text
    assert "comparison arm (votes=False)" in text
    assert "without a substantive negative control" in audit(document([row("p")]))[0]
    assert audit(document([row("p")], no_substantive_control="why")) == []
