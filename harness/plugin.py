"""The pytest plugin: options, fixtures, evidence collection (also from xdist workers),
the results file, the terminal summary and the report."""
from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
import torch

from . import baseline, calibration, environment, results, schedule, terminal
from .audit import EXIT_AUDIT, audit
from .budget import BUDGET_HELP, BUDGETS, Budget
from .cache import DiskCache
from .codehash import code_hash
from .device import DeviceError, resolve_device
from .evidence import Claim
from .recorder import ClaimRecorder
from .seeds import DEFAULT_MASTER_SEED, Seeds

EVIDENCE_KEY = "claims_evidence"
DEFAULT_CALIBRATION = Path("reports/calibration/calibration.json")
OPTIONS = {  # option -> (environment variable, default)
    "budget": ("CLAIMS_BUDGET", "default"),
    "device": ("CLAIMS_DEVICE", "auto"),
    "claims_seed": ("CLAIMS_SEED", str(DEFAULT_MASTER_SEED)),
    "report_dir": ("CLAIMS_REPORT_DIR", "reports/latest"),
    "baseline": ("CLAIMS_BASELINE", None),
    "save_baseline": ("CLAIMS_SAVE_BASELINE", None),
    "baseline_k": ("CLAIMS_BASELINE_K", str(baseline.DEFAULT_K)),
    "calibration": ("CLAIMS_CALIBRATION", None),
    "module_costs": ("CLAIMS_MODULE_COSTS", None),
    "save_module_costs": ("CLAIMS_SAVE_MODULE_COSTS", None),
}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("claims", "empirical claim verification")
    env = {k: os.environ.get(var, default) for k, (var, default) in OPTIONS.items()}
    group.addoption("--budget", default=env["budget"], choices=BUDGETS,
                    help="experiment size: " + "; ".join(f"{k}: {v}" for k, v in
                                                          BUDGET_HELP.items())
                    + " (env CLAIMS_BUDGET; default: default)")
    group.addoption("--device", default=env["device"],
                    help="auto (CUDA if present), cpu, cuda or cuda:N; under xdist worker i "
                         "takes GPU i mod count (env CLAIMS_DEVICE; default auto)")
    group.addoption("--claims-seed", default=env["claims_seed"],
                    help=f"master seed every experiment's seed derives from (env CLAIMS_SEED;"
                         f" default {DEFAULT_MASTER_SEED})")
    group.addoption("--report-dir", default=env["report_dir"],
                    help="where results.json and index.html go (env CLAIMS_REPORT_DIR; "
                         "default reports/latest)")
    group.addoption("--no-report", action="store_true", default=False,
                    help="write results.json but skip the HTML report")
    group.addoption("--baseline", default=env["baseline"], metavar="PATH",
                    help="compare verdicts and figures with a saved baseline; exit status "
                         f"{baseline.EXIT_DRIFT} when one drifted, {baseline.EXIT_MISSING} when "
                         "one is missing on either side (env CLAIMS_BASELINE)")
    group.addoption("--save-baseline", default=env["save_baseline"], metavar="PATH",
                    help="save this run's verdicts and figures, with their seed spread, as a "
                         "baseline (env CLAIMS_SAVE_BASELINE)")
    group.addoption("--baseline-k", default=env["baseline_k"], metavar="K",
                    help="a figure drifts when it moves more than K seed standard deviations "
                         "(or its declared floor) from the baseline (env CLAIMS_BASELINE_K; "
                         f"default {baseline.DEFAULT_K:g})")
    group.addoption("--calibration", default=env["calibration"], metavar="PATH",
                    help="a calibration.json (python -m harness.calibrate; default "
                         f"{DEFAULT_CALIBRATION} when it exists, '' for none): show each "
                         "claim's share of seeds at its expected verdict, let an arm calibrated "
                         "on its current code move to or from INCONCLUSIVE within its "
                         "calibrated rate (marked, not failed), and store the ensemble in a "
                         "saved baseline (env CLAIMS_CALIBRATION)")
    group.addoption("--module-costs", default=env["module_costs"], metavar="PATH",
                    help="seconds per test file, to hand the longest files out first under "
                         f"-n N --dist loadfile (default {schedule.DEFAULT_COSTS} when it "
                         "exists, '' for xdist's own order; env CLAIMS_MODULE_COSTS)")
    group.addoption("--save-module-costs", default=env["save_module_costs"], metavar="PATH",
                    help="write this run's seconds per test file into PATH, keeping the files "
                         "it did not run (env CLAIMS_SAVE_MODULE_COSTS)")


def _committed(config: pytest.Config, relative: Path) -> str:
    """A committed file's path under the root when it exists, else '' (none)."""
    path = Path(config.rootpath) / relative
    return str(path) if path.is_file() else ""


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def pytest_configure(config: pytest.Config) -> None:
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams.update({"svg.hashsalt": "claims", "svg.fonttype": "none"})
    opt = config.option
    if opt.budget not in BUDGETS:  # reachable through CLAIMS_BUDGET
        raise pytest.UsageError(f"unknown budget {opt.budget!r}: choose one of "
                                f"{', '.join(BUDGETS)}")
    try:
        opt.claims_seed = int(opt.claims_seed)
    except ValueError:
        raise pytest.UsageError(f"--claims-seed must be an integer, got {opt.claims_seed!r}")
    try:
        opt.baseline_k = float(opt.baseline_k)
    except ValueError:
        raise pytest.UsageError(f"--baseline-k must be a number, got {opt.baseline_k!r}")
    config.claims_baseline = None
    if opt.baseline and not _is_worker(config):  # fail now, not after the whole suite ran
        try:
            config.claims_baseline = baseline.load(opt.baseline, opt.budget, opt.claims_seed)
        except baseline.BaselineError as exc:
            raise pytest.UsageError(str(exc)) from None
    config.claims_calibration = None
    if opt.calibration is None:  # by default the committed calibration, when there is one
        opt.calibration = _committed(config, DEFAULT_CALIBRATION)
    if opt.calibration:  # workers too: an arm's own test reads its calibrated verdicts
        try:
            config.claims_calibration = calibration.load(opt.calibration)
        except calibration.CalibrationError as exc:
            raise pytest.UsageError(str(exc)) from None
    config.claims_module_costs = None
    if opt.module_costs is None:
        opt.module_costs = _committed(config, schedule.DEFAULT_COSTS)
    if opt.module_costs and not _is_worker(config):
        try:
            config.claims_module_costs = schedule.load(opt.module_costs)
        except schedule.CostsError as exc:
            raise pytest.UsageError(str(exc)) from None
    worker = config.workerinput.get("workerid") if _is_worker(config) else None
    try:
        config.claims_device = resolve_device(opt.device, worker)
    except DeviceError as exc:
        raise pytest.UsageError(str(exc)) from None
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if worker is not None:  # share the cores between workers instead of oversubscribing
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))
    config.pluginmanager.register(_Collector(), "claims-collector")
    config.claims_started = time.perf_counter()
    config.addinivalue_line("markers", "paper_only: run only under --budget paper")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    if config.claims_module_costs is None or config.getvalue("dist") != "loadfile":
        return None  # xdist's own scheduler
    return schedule.make_scheduler(config, log, config.claims_module_costs)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.option.budget == "paper":
        return
    skip = pytest.mark.skip(reason="paper budget only (--budget paper)")
    for item in items:
        if item.get_closest_marker("paper_only"):
            item.add_marker(skip)


# -- fixtures ---------------------------------------------------------------------------
@pytest.fixture(scope="session")
def budget(pytestconfig: pytest.Config) -> Budget:
    return Budget(pytestconfig.option.budget)


@pytest.fixture(scope="session")
def device(pytestconfig: pytest.Config) -> torch.device:
    return pytestconfig.claims_device


@pytest.fixture(scope="session")
def master_seed(pytestconfig: pytest.Config) -> int:
    return pytestconfig.option.claims_seed


@pytest.fixture(scope="session")
def shared_seeds(master_seed: int):
    """Seeds for experiments shared by several tests: ``shared_seeds("lowrank-sweep")``."""
    return lambda key: Seeds(master_seed, key)


@pytest.fixture
def seeds(request: pytest.FixtureRequest, master_seed: int) -> Seeds:
    """Seeds derived from (master seed, this test's node id)."""
    return Seeds(master_seed, request.node.nodeid)


@pytest.fixture(scope="session")
def disk_cache(pytestconfig: pytest.Config, master_seed: int, device: torch.device) -> DiskCache:
    cache = getattr(pytestconfig, "cache", None)  # absent under -p no:cacheprovider
    root = (cache.mkdir("claims-experiments") if cache is not None
            else Path(tempfile.mkdtemp(prefix="claims-experiments-")))
    return DiskCache(root, {"torch": torch.__version__, "device": device.type,
                            "master_seed": master_seed, "budget": pytestconfig.option.budget})


def _fixture_modules(request: pytest.FixtureRequest) -> list[str]:
    """Modules of this project defining the fixtures the test requests (an experiment in
    fixtures/ reached by name only, not through the claim module's imports)."""
    info = getattr(request.node, "_fixtureinfo", None)
    names = set()
    for defs in (getattr(info, "name2fixturedefs", None) or {}).values():
        for fixturedef in defs:
            module = getattr(getattr(fixturedef, "func", None), "__module__", None)
            if module and module.split(".")[0] == "fixtures":
                names.add(module)
    return sorted(names)


def _arms_of(request: pytest.FixtureRequest) -> int:
    """How many arms the claim's module declares (whatever -k selected), so that an arm run
    alone is judged at the same alpha / m as in the full run."""
    module = request.node.getparent(pytest.Module)
    cached = getattr(module, "claims_arm_count", None)
    if cached is None:
        cached = sum(1 for item in module.collect() if isinstance(item, pytest.Function))
        module.claims_arm_count = cached
    return cached


@pytest.fixture
def claim(request: pytest.FixtureRequest, seeds: Seeds) -> ClaimRecorder:
    meta = getattr(request.module, "CLAIM", None)
    if not isinstance(meta, Claim):
        raise pytest.UsageError(f"{request.module.__name__} uses the `claim` fixture but "
                                f"declares no module-level CLAIM = Claim(...)")
    recorder = ClaimRecorder(meta, request.node.nodeid, seeds.seed(),
                             code_hash(request.module, *_fixture_modules(request)),
                             n_arms=_arms_of(request))
    recorder.calibrated = calibration.arm_distribution(
        request.config.claims_calibration, meta.id, recorder.arm, recorder.code_hash)
    request.node.claims_recorder = recorder
    return recorder


# -- running and collecting -------------------------------------------------------------
@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    try:
        result = yield
    except BaseException as exc:
        rec = getattr(item, "claims_recorder", None)
        if rec is not None and not isinstance(exc, AssertionError):
            item.claims_error = f"{type(exc).__name__}: {exc}"
        raise
    rec = getattr(item, "claims_recorder", None)
    if rec is not None and item.config.option.budget != "smoke":
        rec.conclude()  # smoke checks code paths: its verdicts are shown, not pinned
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    rec = getattr(item, "claims_recorder", None)
    meta = getattr(getattr(item, "module", None), "CLAIM", None)
    if call.when == "setup":  # fixtures, e.g. a shared sweep trained for this test first
        item.claims_setup_s = call.duration
    if call.when == "call" and rec is not None and not report.skipped:  # a skipped arm
        # (outside the regime, absent from the budget) has no verdict, as at setup
        error = getattr(item, "claims_error", None)
        record = rec.to_dict("error" if error else report.outcome, error)
        record["runtime_s"] += getattr(item, "claims_setup_s", 0.0)
        report.user_properties.append((EVIDENCE_KEY, json.dumps(record, allow_nan=False)))
    elif (call.when == "setup" and report.failed and isinstance(meta, Claim)):
        # the experiment crashed before the test body ran: keep a record of it
        rec = ClaimRecorder(meta, item.nodeid, 0)
        record = rec.to_dict("error", str(call.excinfo.value) if call.excinfo else "setup")
        report.user_properties.append((EVIDENCE_KEY, json.dumps(record, allow_nan=False)))
    return report


class _Collector:
    """Gathers every test's evidence on the controller (xdist ships user_properties), and
    the seconds each test file took (setup, call and teardown)."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.file_seconds: dict[str, float] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        file = report.nodeid.split("::", 1)[0]
        self.file_seconds[file] = self.file_seconds.get(file, 0.0) + report.duration
        for key, value in report.user_properties:
            if key == EVIDENCE_KEY:
                self.records.append(json.loads(value))

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if _is_worker(session.config):
            return
        if self.records:
            _finish(session, self.records)
        if session.config.option.save_module_costs and self.file_seconds:
            _save_module_costs(session, self.file_seconds)


def _save_module_costs(session: pytest.Session, seconds: dict[str, float]) -> None:
    config = session.config
    env = environment.collect(Path(config.rootpath), config.claims_device,
                              config.option.budget, config.option.claims_seed, 1)
    try:
        schedule.save(config.option.save_module_costs, seconds, env)
    except OSError as exc:
        config.claims_write_error = (f"could not save the module costs to "
                                     f"{config.option.save_module_costs}: {exc}; choose a "
                                     f"writable path")
        session.exitstatus = pytest.ExitCode.INTERNAL_ERROR


def _finish(session: pytest.Session, records: list[dict[str, Any]]) -> None:
    config = session.config
    report_dir = Path(config.option.report_dir)
    if not report_dir.is_absolute():
        report_dir = Path(config.rootpath) / report_dir
    workers = int(getattr(config.option, "numprocesses", 0) or 0) or 1
    document = {
        "schema": results.SCHEMA,
        "version": results.VERSION,
        "environment": environment.collect(Path(config.rootpath), config.claims_device,
                                           config.option.budget, config.option.claims_seed,
                                           workers),
        "suite_runtime_s": time.perf_counter() - config.claims_started,
        "claims": results.aggregate(records),
    }
    if config.claims_calibration is not None:
        attach_calibration(document, config.claims_calibration, config.option.calibration)
    if config.claims_baseline is not None:
        try:
            document["baseline"] = baseline.compare(
                config.claims_baseline, document, config.option.baseline_k,
                config.option.baseline, subset=_selected_subset(config))
            if session.exitstatus == 0:
                session.exitstatus = baseline.exit_status(document["baseline"])
        except (KeyError, TypeError, ValueError) as exc:  # the evidence is still written
            document["baseline_error"] = (
                f"baseline {config.option.baseline} could not be compared ({type(exc).__name__}"
                f": {exc}): it was written by another version of the harness or edited; save "
                f"it again with --save-baseline")
            session.exitstatus = pytest.ExitCode.INTERNAL_ERROR
    document["audit"] = audit(document)
    if document["audit"] and session.exitstatus == 0:
        session.exitstatus = EXIT_AUDIT
    config.claims_document = document
    try:
        path = results.write(report_dir / "results.json", document)
    except OSError as exc:
        config.claims_write_error = (f"could not write results to {report_dir}: {exc}; pass "
                                     f"--report-dir PATH (or CLAIMS_REPORT_DIR) to a writable "
                                     f"directory")
        session.exitstatus = pytest.ExitCode.INTERNAL_ERROR
        return
    config.claims_results_path = path
    if config.option.save_baseline:
        try:
            config.claims_saved_baseline = baseline.save(config.option.save_baseline, document,
                                                         config.claims_calibration)
        except OSError as exc:
            config.claims_write_error = (f"could not save the baseline to "
                                         f"{config.option.save_baseline}: {exc}; choose a "
                                         f"writable path")
            session.exitstatus = pytest.ExitCode.INTERNAL_ERROR
    if config.option.no_report:
        return
    try:
        from .report import build

        config.claims_report_path = build(document, report_dir)
    except Exception as exc:  # the evidence is already on disk: say so, keep going
        config.claims_report_error = f"{type(exc).__name__}: {exc}"


def _selected_subset(config: pytest.Config) -> bool:
    """Did the command select some claims (files, node ids, -k, -m) rather than a tree?"""
    opt = config.option
    return bool(getattr(opt, "keyword", "") or getattr(opt, "markexpr", "") or any(
        not (Path(config.invocation_params.dir) / a.split("::")[0]).is_dir()
        for a in config.args))


def attach_calibration(document: dict[str, Any], cal: dict[str, Any], path: str) -> None:
    """Each claim's calibrated stability (share of seeds at its expected verdict)."""
    stab = calibration.stability(cal)
    document["calibration"] = {"path": str(path), "k": cal.get("k"), "seeds": len(cal["runs"]),
                               "budget": cal.get("budget"),
                               "calibration_seed": cal.get("calibration_seed")}
    for c in document["claims"]:
        c["calibration"] = stab.get(c["id"])
        if c["calibration"] is not None:
            c["calibration"]["stale"] = calibration.is_stale(c["calibration"],
                                                             c.get("code_hash", ""))


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    document = getattr(config, "claims_document", None)
    if document is not None:
        terminal.summary(terminalreporter, document, config)
