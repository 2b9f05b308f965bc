"""Heaviest-file-first scheduling: the order, the cost table and its bad input, and xdist
handing out the longest files first."""
import json

import pytest

from harness import schedule


def test_heaviest_first_orders_by_cost_unknown_files_as_the_heaviest_and_ties_stable():
    seconds = {"a.py": 1.0, "b.py": 50.0, "c.py": 100.0, "d.py": 1.0}
    assert schedule.heaviest_first(["a.py", "b.py", "c.py", "d.py"], seconds) == [
        "c.py", "b.py", "a.py", "d.py"]
    assert schedule.heaviest_first(["a.py", "new.py", "b.py"], seconds) == [
        "new.py", "b.py", "a.py"]
    assert schedule.heaviest_first(["x.py", "y.py"], {}) == ["x.py", "y.py"]


def test_save_merges_into_the_table_and_load_reads_it_back(tmp_path):
    path = tmp_path / "costs.json"
    env = {"cpu_model": "test cpu", "cpu_count": 2, "device": "cpu", "budget": "default"}
    schedule.save(path, {"claims/test_a.py": 10.04, "claims/test_b.py": 3.0}, env)
    schedule.save(path, {"claims/test_b.py": 5.0}, env)  # a partial run keeps test_a's cost
    assert schedule.load(path) == {"claims/test_a.py": 10.0, "claims/test_b.py": 5.0}
    assert json.loads(path.read_text())["environment"]["cpu_model"] == "test cpu"


@pytest.mark.parametrize("text", ["{not json", '{"schema": "claims-baseline", "seconds": {}}',
                                  '{"schema": "claims-module-costs", "seconds": {"a": "x"}}'])
def test_a_corrupt_table_is_an_error_naming_the_fix(tmp_path, text):
    path = tmp_path / "costs.json"
    path.write_text(text)
    with pytest.raises(schedule.CostsError, match="--save-module-costs .* --module-costs ''"):
        schedule.load(path)
    schedule.save(path, {"a.py": 1.0}, {})  # and saving over it replaces it
    assert schedule.load(path) == {"a.py": 1.0}


def test_without_xdist_or_a_table_the_scheduler_is_xdists_own(pytester):
    pytester.makeconftest('pytest_plugins = ["harness.plugin"]')
    pytester.makepyfile("def test_one():\n    pass\n")
    config = pytester.parseconfigure("--module-costs", "")
    assert config.claims_module_costs is None
    assert config.hook.pytest_xdist_make_scheduler(config=config, log=None) is None


def test_a_corrupt_table_stops_the_run_with_a_usage_error(pytester):
    pytester.makeconftest('pytest_plugins = ["harness.plugin"]')
    pytester.makepyfile("def test_one():\n    pass\n")
    (pytester.path / "costs.json").write_text("{not json")
    result = pytester.runpytest("--module-costs", "costs.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*module costs costs.json cannot be read*"])


def test_xdist_hands_out_the_heaviest_files_first_and_the_run_records_their_costs(pytester):
    pytester.makeconftest('pytest_plugins = ["harness.plugin"]')
    for name in ("a", "b", "c"):  # one test each: xdist's own order would start a and b
        pytester.makepyfile(**{f"test_{name}": f"""
            import time
            def test_{name}():
                with open("started.log", "a") as log:
                    log.write("{name}")
                time.sleep(1.0)
            """})
    table = pytester.path / "costs.json"
    table.write_text(json.dumps({"schema": schedule.SCHEMA, "version": 1, "seconds": {
        "test_a.py": 1.0, "test_b.py": 50.0, "test_c.py": 100.0}}))
    result = pytester.runpytest_subprocess("-n", "2", "--dist", "loadfile", "--module-costs",
                                           str(table), "--save-module-costs", "saved.json")
    result.assert_outcomes(passed=3)
    started = (pytester.path / "started.log").read_text()
    assert set(started[:2]) == {"b", "c"} and started[2] == "a"
    saved = schedule.load(pytester.path / "saved.json")
    assert set(saved) == {"test_a.py", "test_b.py", "test_c.py"}
    assert all(s >= 0.9 for s in saved.values())
