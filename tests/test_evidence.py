"""The verdict rule (``decide``) on hand-made evidence, branch by branch, and the combination
of arms (``combine``)."""
import pytest

from harness.evidence import Evidence, Role, Verdict, combine, decide


def row(outcome, role=Role.PRIMARY, n=20, name=None, exact=False, n_needed=None, **details):
    return Evidence(name=name or f"{Role(role).value} {outcome}", check="compare",
                    statistic="shift", observed=0.5, threshold=0.3, comparison=">=",
                    margin=0.2, p_value=0.001, alpha=0.01, n=n, passed=outcome == "HOLDS",
                    role=Role(role), outcome=outcome, ci_low=0.35, ci_high=0.65,
                    n_needed=n_needed, exact=exact, units="seeds", details=details)


HOLDS, FAILS, UNDECIDED = "HOLDS", "FAILS", "UNDECIDED"
CONTROL, POSITIVE, SENS, PLACEBO = Role.CONTROL, Role.POSITIVE, Role.SENSITIVITY, Role.PLACEBO


def positive(outcome, backs="the claim", planted=1.2, n=20, name="planted", check=None):
    ev = row(outcome, POSITIVE, n=n, name=name, backs=backs, planted=planted)
    if check:
        ev.check = check
    return ev


def test_every_primary_holds_and_an_informative_control_does_not_hold_supported():
    verdict, why = decide([row(HOLDS), row(HOLDS), row(FAILS, CONTROL)], [])
    assert verdict == Verdict.SUPPORTED and "2 primary" in why and "1 substantive" in why
    # an undecided control could have held: it is informative and did not hold
    assert decide([row(HOLDS), row(UNDECIDED, CONTROL)], [])[0] == Verdict.SUPPORTED


def test_a_held_negative_control_makes_it_inconclusive():
    verdict, why = decide([row(HOLDS), row(FAILS, CONTROL), row(HOLDS, CONTROL, name="shuffled")],
                          [])
    assert verdict == Verdict.INCONCLUSIVE and "negative control held" in why and "shuffled" in why


def test_a_degenerate_control_does_not_count():
    control = row("DEGENERATE", CONTROL, name="shared init",
                  degenerate="the response is constant")
    verdict, why = decide([row(HOLDS), control], [])
    assert verdict == Verdict.INCONCLUSIVE
    assert "no substantive negative control" in why and "the response is constant" in why
    unevaluable = row("UNEVALUABLE", CONTROL, name="too short")
    assert decide([row(HOLDS), unevaluable], [])[0] == Verdict.INCONCLUSIVE


def test_no_control_at_all_is_inconclusive():
    verdict, why = decide([row(HOLDS)], [])
    assert verdict == Verdict.INCONCLUSIVE and "none recorded" in why


def test_a_control_on_fewer_than_half_the_primarys_units_does_not_count():
    verdict, why = decide([row(HOLDS, n=20), row(FAILS, CONTROL, n=9, name="tiny")], [])
    assert verdict == Verdict.INCONCLUSIVE and "9 units against 20" in why
    # half is enough; and an exact primary sets no unit count
    assert decide([row(HOLDS, n=20), row(FAILS, CONTROL, n=10)], [])[0] == Verdict.SUPPORTED
    assert decide([row(HOLDS, n=500, exact=True), row(FAILS, CONTROL, n=3)],
                  [])[0] == Verdict.SUPPORTED


def test_a_failing_primary_without_a_positive_control_is_inconclusive():
    verdict, why = decide([row(FAILS), row(FAILS, CONTROL)], [])
    assert verdict == Verdict.INCONCLUSIVE and "no positive control" in why
    # a positive control that does not hold cannot back a refutation either
    verdict, why = decide([row(FAILS, name="the claim"), positive(UNDECIDED)], [])
    assert verdict == Verdict.INCONCLUSIVE and "planted" in why


def test_a_failing_primary_with_its_own_held_positive_control_is_refuted():
    verdict, why = decide([row(HOLDS), row(FAILS, name="the claim"), positive(HOLDS)], [])
    assert verdict == Verdict.REFUTED
    assert "the claim" in why and "planted at 1.2 x the floor, held: planted" in why


@pytest.mark.parametrize("pos, reason", [
    (positive(HOLDS, backs="another row"), "no positive control backs 'the claim'"),
    (positive(HOLDS, n=10), "n = 10 against the primary's 20"),
    (positive(HOLDS, check="trend"), "a trend check behind a compare primary"),
    (positive(HOLDS, planted=4.0), "planted at 4.0 x the floor"),
])
def test_only_the_failing_primarys_own_paired_positive_control_backs_a_refutation(pos, reason):
    verdict, why = decide([row(FAILS, name="the claim"), row(HOLDS, name="another row"), pos],
                          [])
    assert verdict == Verdict.INCONCLUSIVE and reason in why


def test_a_placebo_is_shown_but_never_the_negative_control():
    verdict, why = decide([row(HOLDS), row(FAILS, PLACEBO, name="permuted")], [])
    assert verdict == Verdict.INCONCLUSIVE and "placebos do not count" in why
    # a placebo that holds does not block a verdict either: it checks the test, not the claim
    rows = [row(HOLDS), row(FAILS, CONTROL), row(HOLDS, PLACEBO)]
    assert decide(rows, [])[0] == Verdict.SUPPORTED


def test_a_claim_without_a_substantive_control_says_so_in_its_supported_verdict():
    verdict, why = decide([row(HOLDS), row(FAILS, PLACEBO)], [],
                          no_substantive_control="the mechanism cannot be switched off")
    assert verdict == Verdict.SUPPORTED
    assert "without a substantive control: the mechanism cannot be switched off" in why


def test_an_undecided_or_unevaluable_primary_is_inconclusive_with_the_units_needed():
    verdict, why = decide([row(HOLDS), row(UNDECIDED, n_needed=57), row(FAILS, CONTROL)], [])
    assert verdict == Verdict.INCONCLUSIVE and "not decided" in why and "~57 seeds" in why
    verdict, why = decide([row("UNEVALUABLE", unevaluable="fewer than 3 finite points"),
                           row(FAILS, CONTROL)], [])
    assert verdict == Verdict.INCONCLUSIVE and "fewer than 3 finite points" in why
    assert decide([row(FAILS, CONTROL)], [])[0] == Verdict.INCONCLUSIVE  # no primary


def test_a_declared_problem_forces_inconclusive_whatever_the_rows_say():
    rows = [row(HOLDS), row(FAILS, CONTROL)]
    verdict, why = decide(rows, ["most runs diverged"])
    assert verdict == Verdict.INCONCLUSIVE and why == "most runs diverged"
    rows = [row(FAILS, name="the claim"), positive(HOLDS)]
    assert decide(rows, ["most runs diverged"])[0] == Verdict.INCONCLUSIVE


def test_sensitivity_rows_are_shown_but_do_not_vote():
    rows = [row(HOLDS), row(FAILS, CONTROL), row(FAILS, SENS), row(HOLDS, SENS)]
    assert decide(rows, [])[0] == Verdict.SUPPORTED


def test_evidence_round_trips_through_json_with_infinite_bounds():
    ev = row(UNDECIDED)
    ev.ci_high = float("inf")
    back = Evidence.from_dict(ev.to_dict())
    assert back.ci_high == float("inf") and back.role == Role.PRIMARY and back.outcome == UNDECIDED


S, R, I = Verdict.SUPPORTED, Verdict.REFUTED, Verdict.INCONCLUSIVE


@pytest.mark.parametrize("arms, rule, expected", [
    ({"a": S, "b": S}, "all", S),
    ({"a": S, "b": I}, "all", I),
    ({"a": S, "b": R}, "all", R),          # refuted in an arm, none inconclusive
    ({"a": R, "b": I}, "all", I),
    ({"a": R, "b": R}, "all", R),
    ({"a": S, "b": I}, "any", S),          # a claim about some regime
    ({"a": R, "b": S}, "any", S),
    ({"a": R, "b": R}, "any", R),          # refuted only when every arm is
    ({"a": R, "b": I}, "any", I),
    ({"a": I, "b": I}, "any", I),
    ({"only": R}, "all", R),               # one arm: its own verdict
    ({}, "all", I),
])
def test_combine_arm_verdicts(arms, rule, expected):
    verdict, why = combine(arms, rule)
    assert verdict == expected
    if len(arms) > 1 and expected != S:
        assert any(a in why for a in arms)


def test_combine_names_the_arms_that_decided():
    assert "b" in combine({"a": S, "b": R}, "all")[1]
    assert "supported in arm(s) b" in combine({"a": I, "b": S}, "any")[1]


def test_a_planted_rate_lands_between_1_and_1_5_floors():
    from harness.evidence import planted_successes

    assert planted_successes(126, 0.5, 0.1) == 81  # 0.643 = 0.5 + 1.43 x 0.1
    assert planted_successes(8, 0.5, 0.1) == 5  # 4.8 .. 5.2
    assert planted_successes(3, 0.5, 0.1) is None  # 1.8 .. 1.95: no whole unit between
