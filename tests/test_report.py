"""The HTML report: built from results.json alone, escaped, v2 summary, merge of shards."""
import json
import re

import pytest

from harness import results
from harness.report import __main__ as cli
from harness.report import interval_bar, render
from harness.report import critics, pair_sentence


@pytest.fixture
def run(pytester, synthetic_suite):
    """Two shards of a synthetic suite (G99 and O99) run separately; returns their dirs."""
    synthetic_suite()
    synthetic_suite(name="test_other", id="O99", slopes="0.0", expected="REFUTED")
    pytester.runpytest("test_synthetic.py", "--report-dir", "a").assert_outcomes(passed=1)
    pytester.runpytest("test_other.py", "--report-dir", "b").assert_outcomes(passed=1)
    return pytester.path


def test_report_escapes_markup_in_claim_text(run):
    html = (run / "a" / "index.html").read_text()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;i&gt;markup&lt;/i&gt;" in html and "<b>bold</b>" not in html


def test_report_has_summary_filters_and_one_card_per_claim(run):
    doc = results.load(run / "a" / "results.json")
    html = render(doc)
    assert html.count('class="card claim-card') == len(doc["claims"]) == 1
    assert 'class="filter" data-kind="verdict" value="REFUTED"' in html
    assert "<svg" in html  # plots inline
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)  # nothing fetched: offline


def test_report_rebuilds_from_the_results_file_alone(run, tmp_path, capsys):
    assert cli.main([str(run / "a" / "results.json"), "-o", str(tmp_path)]) == 0
    assert (tmp_path / "index.html").read_text().count("claim-card") >= 1


def test_merge_builds_one_report_from_shards(run, tmp_path):
    out = tmp_path / "merged"
    assert cli.main(["merge", str(run / "a" / "results.json"), str(run / "b" / "results.json"),
                     "-o", str(out)]) == 0
    merged = results.load(out / "results.json")
    assert [c["id"] for c in merged["claims"]] == ["G99", "O99"]
    assert [c["verdict"] for c in merged["claims"]] == ["SUPPORTED", "REFUTED"]
    assert len(merged["shards"]) == 2
    assert (out / "index.html").read_text().count('class="card claim-card') == 2


def test_merge_refuses_other_seeds_budgets_and_overlaps(run, tmp_path, capsys):
    other = json.loads((run / "b" / "results.json").read_text())
    other["environment"]["master_seed"] = 1
    (tmp_path / "other.json").write_text(json.dumps(other))
    assert cli.main(["merge", str(run / "a" / "results.json"), str(tmp_path / "other.json"),
                     "-o", str(tmp_path / "m")]) == 2
    assert "same --claims-seed" in capsys.readouterr().err
    a = str(run / "a" / "results.json")
    assert cli.main(["merge", a, a, "-o", str(tmp_path / "m")]) == 2
    assert "shards must not overlap" in capsys.readouterr().err


@pytest.mark.parametrize("content, message", [
    ("{\"schema\": \"claims-results\", \"vers", "corrupt or truncated"),
    ("{\"schema\": \"something\"}", "not a claims results file"),
    ("{\"schema\": \"claims-results\", \"version\": 1}", "missing 'environment'"),
])
def test_cli_names_the_file_and_fix_for_bad_results(tmp_path, capsys, content, message):
    path = tmp_path / "results.json"
    path.write_text(content)
    assert cli.main([str(path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and message in err


def test_cli_reports_an_unwritable_output_dir(run, tmp_path, capsys):
    (tmp_path / "file").write_text("")
    assert cli.main([str(run / "a" / "results.json"), "-o", str(tmp_path / "file" / "x")]) == 2
    assert "writable" in capsys.readouterr().err


def test_baseline_command_writes_a_baseline_from_results(run, tmp_path):
    assert cli.main(["baseline", str(run / "a" / "results.json"), "-o",
                     str(tmp_path / "b.json"), "--calibration", ""]) == 0
    assert json.loads((tmp_path / "b.json").read_text())["schema"] == "claims-baseline"


def test_compare_command_judges_a_finished_run_and_exits_like_pytest(run, tmp_path, capsys):
    a, b = str(run / "a" / "results.json"), str(run / "b" / "results.json")
    cli.main(["baseline", a, "-o", str(tmp_path / "base.json"), "--calibration", ""])
    assert cli.main(["compare", a, "--baseline", str(tmp_path / "base.json")]) == 0
    assert "OK" in capsys.readouterr().out
    assert cli.main(["compare", b, "--baseline", str(tmp_path / "base.json")]) == 7
    assert "MISSING" in capsys.readouterr().out  # another claim: missing on both sides
    assert cli.main(["compare", b, "--baseline", str(tmp_path / "base.json"),
                     "--selected"]) == 7
    assert cli.main(["compare", a, "--baseline", str(tmp_path / "nope.json")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_each_row_shows_estimate_interval_threshold_and_outcome(run):
    doc = results.load(run / "b" / "results.json")  # O99: slope 0, REFUTED
    html = render(doc)
    from harness.evidence import fmt

    for e in doc["claims"][0]["evidence"]:
        assert f"[{fmt(e['ci_low'])}, {fmt(e['ci_high'])}]" in html
        assert f"&gt;= {fmt(e['threshold'])}" in html
    primary, control, positive = (next(e for e in doc["claims"][0]["evidence"]
                                       if e["role"] == r)
                                  for r in ("primary", "control", "positive_control"))
    assert primary["outcome"] == "FAILS" and positive["outcome"] == "HOLDS"
    # the summary table's deciding assertion: estimate [interval] vs threshold, outcome
    assert (f"{fmt(primary['observed'])} [{fmt(primary['ci_low'])}, {fmt(primary['ci_high'])}]"
            f" vs &gt;= {fmt(primary['threshold'])}") in html
    assert '<span class="oc FAILS">FAILS</span>' in html
    assert "the effect is visible" in html  # the positive control held
    assert "did not hold, as it should" in html or control["outcome"] == "HOLDS"
    assert html.count('class="ivbar"') == 3  # one interval bar per row


@pytest.mark.parametrize("row, expected", [
    ({"observed": 0.5, "threshold": 0.3, "null": 0.0, "ci_low": 0.4, "ci_high": 0.6},
     {"low": 0.4, "high": 0.6, "est": 0.5, "thr": 0.3, "null": 0.0}),
    ({"observed": -0.2, "threshold": 0.3, "null": 0.0, "ci_low": "-inf", "ci_high": 0.1},
     {"low": None, "high": 0.1, "est": -0.2, "thr": 0.3, "null": 0.0}),
    ({"observed": 1.0, "threshold": 0.5, "null": None, "ci_low": None, "ci_high": None}, None),
])
def test_interval_bar_places_interval_estimate_and_threshold_in_order(row, expected):
    bar = interval_bar(row)
    if expected is None:
        assert bar is None
        return
    assert all(0.0 <= v <= 100.0 for v in bar.values() if v is not None)
    placed = {k: v for k, v in expected.items() if v is not None}
    order = sorted(placed, key=placed.get)
    assert [bar[k] for k in order] == sorted(bar[k] for k in order)
    if expected["low"] is None:  # an unbounded end runs to the edge
        assert bar["low"] == 0.0


# -- claims and their critics (F claims beside the claims they speak to) -----------------------
CRITIC_CLAIM = '''
import numpy as np
import pytest
from harness import Claim, Verdict

CLAIM = Claim(id="{id}", title="{id} synthetic", statement="y rises with x",
              source="tests/test_report.py", expected=Verdict.{expected},
              why_expected="a known slope", speaks_to={speaks_to}, regime="{regime}")


def test_trend(claim, seeds):
    rng = seeds.numpy()
    x = np.linspace(0, 1, 6)
    claim.expect_trend(x, {slope} * x[:, None] + rng.normal(0, 0.1, (6, 6)),
                       direction="increasing", min_effect=0.5, name="y rises with x")
    claim.control_trend(x, rng.normal(0, 0.1, (6, 6)), direction="increasing",
                        min_effect=0.5, name="pure noise (control)")
'''


@pytest.fixture
def critic_run(pytester):
    """A critic F97 (speaks to G97) and its target G97, both supported, in other regimes."""
    pytester.makeini("[pytest]\naddopts = -p harness.plugin -p no:cacheprovider\n")
    pytester.makepyfile(
        test_g97=CRITIC_CLAIM.format(id="G97", expected="SUPPORTED", speaks_to="()",
                                     regime="short runs <i>x</i>", slope=2.0),
        test_f97=CRITIC_CLAIM.format(id="F97", expected="SUPPORTED", speaks_to='("G97", "B1")',
                                     regime="long runs", slope=2.0))
    pytester.runpytest("--report-dir", "out").assert_outcomes(passed=2)
    return pytester.path / "out"


def test_critics_view_pairs_each_f_claim_with_the_claims_it_speaks_to(critic_run):
    doc = results.load(critic_run / "results.json")
    f97 = next(c for c in doc["claims"] if c["id"] == "F97")
    assert f97["speaks_to"] == ["G97", "B1"] and f97["regime"] == "long runs"
    pairs = critics(doc["claims"])
    assert [(p["critic"]["id"], p["target"]["id"]) for p in pairs] == [("F97", "G97"),
                                                                       ("F97", "B1")]
    assert pairs[0]["critic"]["regime"] == "long runs"
    assert pairs[0]["target"]["regime"] == "short runs <i>x</i>"
    assert pairs[0]["target"]["present"] and not pairs[1]["target"]["present"]
    assert "different regimes" in pairs[0]["sentence"]
    assert "B1 is not in this run" in pairs[1]["sentence"]
    html = (critic_run / "index.html").read_text()
    section = html[html.index('<section id="critics"'):html.index("</section>",
                                                                  html.index('id="critics"'))]
    assert section.count('class="pair"') == 2
    assert 'data-critic="F97" data-target="G97"' in section
    assert "short runs &lt;i&gt;x&lt;/i&gt;" in section  # escaped like every claim text
    assert section.count('<span class="badge SUPPORTED">SUPPORTED</span>') == 3
    assert pairs[0]["sentence"].replace("<", "&lt;").replace(">", "&gt;") in section


def test_card_back_links_are_derived_from_speaks_to(critic_run):
    html = render(results.load(critic_run / "results.json"))
    g97 = html[html.index('id="claim-G97"'):]
    g97 = g97[:g97.index("</section>")]
    assert "Spoken to by:</b> <a href=\"#claim-F97\">F97</a>" in g97  # G97 never names F97
    f97 = html[html.index('id="claim-F97"'):]
    assert '<b>Speaks to:</b> <a href="#claim-G97">G97</a>' in f97[:f97.index("</section>")]


def test_no_critics_section_without_critics(run):
    html = render(results.load(run / "a" / "results.json"))
    assert 'id="critics"' not in html and "Spoken to by" not in html


def _side(cid, verdict, regime="r"):
    return {"id": cid, "verdict": verdict, "regime": regime}


@pytest.mark.parametrize("critic, target, words", [
    (_side("F1", "SUPPORTED", "long"), _side("G4", "SUPPORTED", "short"),
     "No conflict in these runs: both are supported, in different regimes"),
    (_side("F1", "SUPPORTED", "same  regime"), _side("G4", "SUPPORTED", "Same regime"),
     "They conflict: F1 and G4 are both supported in the same regime"),
    (_side("F1", "SUPPORTED", "long"), _side("G4", "SUPPORTED", ""),
     "but G4 states no regime"),
    (_side("F1", "SUPPORTED"), _side("G4", "REFUTED"), "only the critic's side holds"),
    (_side("F1", "REFUTED"), _side("G4", "SUPPORTED"), "only the side of the claim it speaks to holds"),
    (_side("F1", "REFUTED"), _side("G4", "REFUTED"), "Neither holds"),
    (_side("F1", "INCONCLUSIVE"), _side("G4", "SUPPORTED"),
     "F1 is inconclusive here, so these runs show neither a conflict nor a difference"),
    (_side("F1", "INCONCLUSIVE"), _side("G4", "INCONCLUSIVE"), "F1 and G4 are inconclusive"),
    (_side("F1", "SUPPORTED"), None, "G4 is not in this run"),
])
def test_pair_sentence_says_conflict_or_regime_from_the_two_results(critic, target, words):
    sentence = pair_sentence(critic, target, "G4")
    assert words in sentence
    assert sentence.count(". ") == 0 and sentence.endswith(".")  # one sentence
