"""The terminal summary: a row per claim with its deciding assertion, then the baseline
comparison and the audit."""
from __future__ import annotations

from typing import Any

from . import baseline
from .audit import EXIT_AUDIT
from .evidence import fmt
from .report import key_row


def _arm_flag(t: dict[str, Any], c: dict[str, Any]) -> str:
    if t["verdict"] == t.get("expected", c["expected"]):
        return ""
    flip = t.get("calibrated_flip")
    return f"  ~ calibrated flip ({flip['kind']})" if flip else "  <-- arm differs"


def stability_text(c: dict[str, Any]) -> str:
    s = c.get("calibration")
    if not s or not s.get("k"):
        return ""
    if s.get("stale"):
        return f"STALE: calibrated on other code ({s['k']} seeds); recalibrate"
    return f"{s['at_expected']}/{s['k']} seeds at {s['expected']}" + (
        ", opposite decision seen" if s.get("opposite") else "")


KEY_WIDTH = 34


def _key_statistic(evidence: dict[str, Any]) -> str:
    """'statistic = value' in KEY_WIDTH characters: the name is shortened, never the value."""
    value = f" = {fmt(evidence['observed'])}"
    name = evidence["statistic"]
    room = KEY_WIDTH - len(value)
    if len(name) > room:
        name = name[:room - 1].rstrip() + "\u2026"
    return name + value


def _interval_vs_floor(e: dict[str, Any]) -> str:
    if e.get("ci_low") is None:
        return f"{e['comparison']} {fmt(e['threshold'])}" if e.get("threshold") is not None else ""
    return f"[{fmt(e['ci_low'])}, {fmt(e['ci_high'])}] vs {e['comparison']} {fmt(e['threshold'])}"


def summary(tr, document: dict[str, Any], config) -> None:
    """The claims section: a row per claim (and arm), the run's settings, where the results
    went, the baseline comparison and the audit."""
    env = document["environment"]
    tr.section("claims")
    header = f"{'claim':<6} {'verdict':<13} {'expected':<13} {'deciding assertion':<{KEY_WIDTH}} " \
             f"{'interval vs floor':<30} {'outcome':<11} {'time':>7}"
    tr.write_line(header)
    tr.write_line("-" * len(header))
    for c in document["claims"]:
        key = key_row(c)
        stat = _key_statistic(key) if key else "-"
        flips = [t for t in c.get("tests", []) if t.get("calibrated_flip")]
        mark = "" if c["matches_expected"] else (
            "  (differs; smoke verdicts are not pinned)" if env["budget"] == "smoke"
            else ("  ~ differs: a rare move, not significant alone"
                  if any(t["calibrated_flip"].get("rare") for t in flips)
                  else "  ~ differs within the calibrated rate") if flips and all(
                t.get("calibrated_flip") or t["verdict"] == t.get("expected", c["expected"])
                for t in c["tests"]) else "  <-- differs")
        tr.write_line(
            f"{c['id']:<6} {c['verdict']:<13} {c['expected']:<13} {stat:<{KEY_WIDTH}} "
            f"{_interval_vs_floor(key) if key else '-':<30} "
            f"{key.get('outcome', '-') if key else '-':<11} {c['runtime_s']:>6.1f}s{mark}"
            + (f"  [calibrated: {stability_text(c)}]" if stability_text(c) else ""))
        if len(c.get("tests", [])) > 1:
            for t in c["tests"]:
                flag = _arm_flag(t, c)
                tr.write_line(f"{'':<6} {t['verdict']:<13} {t.get('expected', ''):<13} "
                              f"arm {t.get('arm', t['nodeid'])}"
                              f"{'' if t.get('votes', True) else ' (comparison, not voting)'}"
                              f"{flag}")
    tr.write_line(f"budget {env['budget']}, master seed {env['master_seed']}, device "
                  f"{env['device_name']}, torch {env['torch']}, "
                  f"suite {document['suite_runtime_s']:.1f}s")
    if getattr(config, "claims_write_error", None):
        tr.write_line(f"ERROR: {config.claims_write_error}", red=True)
    else:
        tr.write_line(f"results: {config.claims_results_path}")
    if getattr(config, "claims_saved_baseline", None):
        tr.write_line(f"baseline saved: {config.claims_saved_baseline}")
    if getattr(config, "claims_report_path", None):
        tr.write_line(f"report:  {config.claims_report_path}")
    if "baseline_error" in document:
        tr.write_line(f"BASELINE ERROR: {document['baseline_error']}")
    if "baseline" in document:
        comparison = document["baseline"]
        for line in baseline.describe(comparison):
            tr.write_line(line, red=comparison["status"] != "ok",
                          green=comparison["status"] == "ok")
    for problem in document.get("audit", []):
        tr.write_line(f"audit (exit {EXIT_AUDIT}): {problem}", red=True)
    if getattr(config, "claims_report_error", None):
        tr.write_line(f"report failed ({config.claims_report_error}); results.json is intact: "
                      f"rebuild with python -m harness.report {config.claims_results_path}",
                      red=True)
