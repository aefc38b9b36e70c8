"""A hostile patch cannot fake a verdict from inside the tested process: every attack is unresolved.

Red-team suite, part A: attacks on pytest's results by code the patch runs in (or before) the
test process — hooks and reports rewritten from an import, the JUnit file rewritten at exit, test
bodies replaced, pytest's own source rewritten, plugins injected through entry points, .pth files,
sitecustomize and PYTEST_ADDOPTS (usercustomize cannot run at all: see the last test), conftest.py and pytest configuration anywhere, skip and exit at import, test
files emptied, deleted or renamed, and the file that the test patch adds created first. Each
attack runs through `swegen evaluate` on a real validated task of the example; each has a control
run with swegen's defences switched off (hidden flags the CLI keeps for this suite), which shows
the attack does pass without them, so none of these tests can pass by accident.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

import pytest

from conftest import run_cli
from test_evaluate import FORCE_PASS, lines, results, tasks_by_change, write_predictions

pytestmark = pytest.mark.docker

TARGET = "fix-negative-format"

#: A function that turns every test report into a pass (shared by several attacks).
FORGE = """
def _swegen_redteam_forge():
    import _pytest.reports as reports

    original = reports.TestReport.from_item_and_call.__func__

    def forged(cls, item, call):
        report = original(cls, item, call)
        report.outcome = "passed"
        report.longrepr = None
        return report

    reports.TestReport.from_item_and_call = classmethod(forged)
"""

PLUGIN = FORCE_PASS  # a pytest plugin module whose hookwrapper makes every test pass

#: setup.py code (run by the build backend at install) that writes FILE_TEXT to a path it picks.
INSTALL_HOOK = '''
import os, site, sysconfig, importlib.util
from setuptools import setup

def _target():
{pick}

path = _target()
os.makedirs(os.path.dirname(path), exist_ok=True)
with open(path, "a") as handle:
    handle.write({text!r})
setup()
'''

PICK_PTH = '    return os.path.join(sysconfig.get_paths()["purelib"], "zz_swegen_redteam.pth")'
PICK_SITECUSTOMIZE = '''    spec = importlib.util.find_spec("sitecustomize")
    if spec and spec.origin:
        return os.path.realpath(spec.origin)
    return os.path.join(sysconfig.get_paths()["purelib"], "sitecustomize.py")'''
PICK_PYTEST_SOURCE = '    return importlib.util.find_spec("_pytest.reports").origin'


def _in_process_forge() -> str:
    # at interpreter start (a .pth line or sitecustomize): forge once pytest's reports load
    return (
        "import sys\n"
        + FORGE
        + "if 'pytest' in ' '.join(sys.argv) or sys.argv[:1] == ['-m']:\n"
        + "    try:\n        _swegen_redteam_forge()\n    except Exception:\n        pass\n"
    )


def _attacks(repo: Path, task: dict) -> dict[str, dict[str, str | None]]:
    """Each attack as the files it writes ({path: new text, or None to delete})."""
    base = lambda path: _show(repo, task["base_commit"], path)  # noqa: E731
    init = base("src/ledger/__init__.py")
    money_tests = "tests/test_money.py"
    importing = lambda module, text: {  # noqa: E731
        f"src/ledger/{module}.py": text,
        "src/ledger/__init__.py": init + f"\nfrom ledger import {module}  # noqa: F401\n",
    }
    junit_rewrite = textwrap.dedent("""
        import atexit, os, re, sys

        def _rewrite():
            for arg in sys.argv:
                if arg.startswith("--junitxml="):
                    path = arg.split("=", 1)[1]
                    text = open(path).read()
                    text = re.sub(r"<failure.*?</failure>|<error.*?</error>", "", text, flags=re.S)
                    text = re.sub(r'(failures|errors)="\\d+"', r'\\1="0"', text)
                    open(path, "w").write(text)
                    os._exit(0)

        if "pytest" in sys.modules:
            atexit.register(_rewrite)
    """)
    runtest_noop = "import _pytest.python\n\n_pytest.python.Function.runtest = lambda self: None\n"
    hook_from_import = textwrap.dedent("""
        import gc, sys

        import pytest

        class _Pass:
            @pytest.hookimpl(hookwrapper=True)
            def pytest_runtest_makereport(self, item, call):
                outcome = yield
                outcome.get_result().outcome = "passed"

        if "_pytest.config" in sys.modules:
            for obj in gc.get_objects():
                if type(obj).__name__ == "Config" and hasattr(obj, "pluginmanager"):
                    obj.pluginmanager.register(_Pass(), "swegen-redteam")
                    break
    """)
    knows_swegen = textwrap.dedent("""
        import sys
        stream = sys.modules.get("swegen_stream")
        if stream is not None:
            stream._send = lambda *a, **k: None
    """) + FORGE + "\n_swegen_redteam_forge()\n"
    pyproject = base("pyproject.toml")
    plugin_entry = pyproject.replace(
        "[project.optional-dependencies]", '[project.entry-points.pytest11]\nredteam = "ledger._redteam_plugin"\n\n[project.optional-dependencies]'
    )
    addopts_site = "import os\nos.environ['PYTEST_ADDOPTS'] = '-p ledger._redteam_plugin'\n"
    return {
        "report-hook-from-import": importing("_forge", FORGE + "\n_swegen_redteam_forge()\n"),
        "junit-rewrite-at-exit": importing("_junit", junit_rewrite),
        "test-bodies-replaced": importing("_noop", runtest_noop),
        "hookwrapper-registered-from-import": importing("_hook", hook_from_import),
        "stream-plugin-silenced": importing("_silence", knows_swegen),
        "plugin-entry-point": {"pyproject.toml": plugin_entry, "src/ledger/_redteam_plugin.py": PLUGIN},
        "pth-file-at-install": {"setup.py": INSTALL_HOOK.format(pick=PICK_PTH, text="import sys; exec(" + repr(_in_process_forge()) + ")\n")},
        "sitecustomize-at-install": {"setup.py": INSTALL_HOOK.format(pick=PICK_SITECUSTOMIZE, text="\n" + _in_process_forge())},
        "pytest-source-rewritten-at-install": {"setup.py": INSTALL_HOOK.format(pick=PICK_PYTEST_SOURCE, text="\n" + FORGE + "\n_swegen_redteam_forge()\n")},
        "pytest-addopts-plugin": {
            "setup.py": INSTALL_HOOK.format(pick=PICK_SITECUSTOMIZE, text="\n" + addopts_site),
            "src/ledger/_redteam_plugin.py": PLUGIN,
        },
        "conftest-in-test-folder": {"tests/conftest.py": FORCE_PASS},
        "tox-ini-beside-tests": {"tests/tox.ini": "[pytest]\naddopts = -p ledger._redteam_plugin\n", "src/ledger/_redteam_plugin.py": PLUGIN},
        "pyproject-addopts": {
            "pyproject.toml": pyproject.replace('testpaths = ["tests"]', 'testpaths = ["tests"]\naddopts = "-p ledger._redteam_plugin"'),
            "src/ledger/_redteam_plugin.py": PLUGIN,
        },
        "skip-at-import": importing("_skip", "import sys\nif 'pytest' in sys.modules:\n    import pytest\n    pytest.skip('no', allow_module_level=True)\n"),
        "sys-exit-at-import": importing("_exit", "import sys\nif 'pytest' in sys.modules:\n    sys.exit(0)\n"),
        "os-exit-at-import": importing("_osexit", "import os, sys\nif 'pytest' in sys.modules:\n    os._exit(0)\n"),
        "test-file-emptied": {money_tests: ""},
        "test-file-deleted": {money_tests: None},
        "test-file-renamed": {money_tests: None, "tests/money_checks.py": base(money_tests)},
    }


#: Attacks the canaries and the stream catch; the rest are stopped before the tests run
#: (reverted edits) or fail by the grading rules (skips, exits).
CAUGHT_AS_TAMPERED = {
    "report-hook-from-import", "junit-rewrite-at-exit", "test-bodies-replaced", "hookwrapper-registered-from-import",
    "stream-plugin-silenced", "plugin-entry-point", "pth-file-at-install", "sitecustomize-at-install",
    "pytest-source-rewritten-at-install", "pytest-addopts-plugin",
}
#: Attacks whose control (defences off) passes: everything but those that only make tests vanish.
PASSES_WITHOUT_DEFENCES = CAUGHT_AS_TAMPERED | {"conftest-in-test-folder", "tox-ini-beside-tests", "pyproject-addopts"}


def _show(repo: Path, commit: str, path: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "show", f"{commit}:{path}"], capture_output=True, text=True, check=True).stdout


def diff_of(repo: Path, commit: str, files: dict[str, str | None], scratch: Path) -> str:
    """The patch (as git writes it) that turns the tree at `commit` into one with `files`."""
    subprocess.run(["git", "clone", "-q", "--no-checkout", str(repo), str(scratch)], check=True)
    subprocess.run(["git", "-C", str(scratch), "checkout", "-q", commit], check=True)
    for path, text in files.items():
        target = scratch / path
        if text is None:
            target.unlink()
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
    subprocess.run(["git", "-C", str(scratch), "add", "-A"], check=True)
    return subprocess.run(["git", "-C", str(scratch), "diff", "--cached", "--binary"], capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def attack_runs(demo_run, tmp_path_factory):
    """Every attack evaluated with swegen's defences, and again with them switched off."""
    out, _ = demo_run
    task = tasks_by_change(out)[TARGET]
    repo = Path(json.loads((out / "run.json").read_text())["repo_path"])
    scratch = tmp_path_factory.mktemp("attacks")
    files = []
    for name, written in _attacks(repo, task).items():
        patch = diff_of(repo, task["base_commit"], written, scratch / name)
        files.append(write_predictions(scratch / f"{name}.jsonl", f"attack-{name}", {task["instance_id"]: patch}))
        files.append(write_predictions(scratch / f"{name}-control.jsonl", f"control-{name}", {task["instance_id"]: patch}))
    defended = [a for f in files if "-control" not in f.name for a in ("-p", str(f))]
    controls = [a for f in files if "-control" in f.name for a in ("-p", str(f))]
    common = ["--instance", task["instance_id"], "--workers", "2"]
    proc = run_cli("evaluate", str(out), *defended, *common, timeout=1800)
    assert proc.returncode == 0, proc.stderr
    proc = run_cli("evaluate", str(out), *controls, *common, "--no-tamper-checks", "--no-test-edit-revert", "--no-strict", timeout=1800)
    assert proc.returncode == 0, proc.stderr
    return out, task


@pytest.mark.parametrize("attack", sorted(CAUGHT_AS_TAMPERED))
def test_attacks_on_the_results_are_caught_as_tampered(attack_runs, attack):
    out, task = attack_runs
    row = results(out, f"attack-{attack}")[task["instance_id"]]
    assert row["status"] == "unresolved" and not row["resolved"], row
    assert row["tampered"] and row["reason"].startswith("tampered: "), row
    control = results(out, f"control-{attack}")[task["instance_id"]]
    assert control["status"] == "resolved", ("the attack does not work even without the defences", control)


@pytest.mark.parametrize("attack", sorted(PASSES_WITHOUT_DEFENCES - CAUGHT_AS_TAMPERED))
def test_test_and_config_edits_are_reverted(attack_runs, attack):
    out, task = attack_runs
    row = results(out, f"attack-{attack}")[task["instance_id"]]
    assert row["status"] == "unresolved" and row["reverted_test_edits"], row
    control = results(out, f"control-{attack}")[task["instance_id"]]
    assert control["status"] == "resolved" and not control["reverted_test_edits"], control


@pytest.mark.parametrize("attack", ["skip-at-import", "sys-exit-at-import", "os-exit-at-import"])
def test_skipping_or_exiting_at_import_is_unresolved(attack_runs, attack):
    out, task = attack_runs
    row = results(out, f"attack-{attack}")[task["instance_id"]]
    assert row["status"] == "unresolved" and row["reason"], row
    # the control: the attack did take the tests away (nothing of FAIL_TO_PASS passed), so a
    # grader that took skips or a missing report as success would have resolved it
    control = results(out, f"control-{attack}")[task["instance_id"]]
    assert control["status"] in ("unresolved", "error"), control
    assert control["tests_status"].get("FAIL_TO_PASS", {}).get("success", []) == [], control


@pytest.mark.parametrize("attack", ["test-file-emptied", "test-file-deleted", "test-file-renamed"])
def test_emptied_deleted_or_renamed_tests_are_restored(attack_runs, attack):
    out, task = attack_runs
    row = results(out, f"attack-{attack}")[task["instance_id"]]
    assert row["status"] == "unresolved" and "tests/test_money.py" in row["reverted_test_edits"], row
    assert set(row["tests_status"]["FAIL_TO_PASS"]["failure"]) == set(task["FAIL_TO_PASS"]), row
    # the control: unreverted, the FAIL_TO_PASS tests are gone (missing from the report), which
    # is what a runner that ran "whatever tests exist" would have accepted
    control = results(out, f"control-{attack}")[task["instance_id"]]
    assert control["status"] != "resolved" and not control["reverted_test_edits"], control


def test_no_attack_left_a_trace_in_the_tasks(attack_runs):
    """The attacks ran in throwaway containers: the run's tasks and gold verdicts are untouched."""
    out, task = attack_runs
    assert task in lines(out / "tasks.jsonl")
    assert results(out, "gold")[task["instance_id"]]["status"] == "resolved"


def test_usercustomize_cannot_run_in_the_sandbox(demo_run):
    """A usercustomize module in the user's site-packages (where an install could write one) is
    never imported: the sandbox's Python is a virtual environment, which disables user site
    packages. The control: the same file is imported by the image's system Python, which does not."""
    from swegen.sandbox import Limits
    from swegen.testbed import Container, Environments, git_archive

    out, _ = demo_run
    task = tasks_by_change(out)[TARGET]
    repo = Path(json.loads((out / "run.json").read_text())["repo_path"])
    bed, _, error = Environments(out, repo).testbed(task, Limits())
    assert error is None and bed is not None
    plant = ("import os, site; d = site.getusersitepackages(); os.makedirs(d, exist_ok=True); "
             "open(os.path.join(d, 'usercustomize.py'), 'w').write('print(\\'REDTEAM-USERCUSTOMIZE\\')')")
    with Container(bed, git_archive(repo, task["base_commit"]), "test") as box:
        assert box.box.exec(["/usr/bin/python3", "-c", plant], timeout=60).ok
        venv = box.box.exec(["python", "-c", "import site; print(site.ENABLE_USER_SITE)"], timeout=60)
        system = box.box.exec(["/usr/bin/python3", "-c", "pass"], timeout=60)
    assert venv.stdout.split()[-1] == "False" and "REDTEAM-USERCUSTOMIZE" not in venv.stdout
    assert "REDTEAM-USERCUSTOMIZE" in system.stdout  # the control: outside the venv it would run


CALC = "def add(a, b):\n    return a - b\n"
CALC_FIXED = "def add(a, b):\n    return a + b\n"
NEW_TESTS = "from calc import add\n\n\ndef test_add_small():\n    assert add(2, 3) == 5\n\n\ndef test_add_negative():\n    assert add(-2, -3) == -5\n"


@pytest.fixture(scope="module")
def new_file_task(base_image, tmp_path_factory):
    """A validated task whose test patch adds a new test file (the example's fixes edit files)."""
    from gitrepo import GitRepo

    root = tmp_path_factory.mktemp("newfile")
    repo = GitRepo(root / "calc")
    repo.commit("Add calc", {"calc.py": CALC, "tests/test_old.py": "def test_nothing():\n    assert True\n",
                             "pyproject.toml": '[tool.pytest.ini_options]\npythonpath = ["."]\n'})
    repo.commit("Fix add returning the difference instead of the sum", {"calc.py": CALC_FIXED, "tests/test_add.py": NEW_TESTS})
    proc = run_cli("mine", str(repo.path), "-o", str(root / "run"), "--workers", "1", timeout=1200)
    assert proc.returncode == 0, proc.stderr
    tasks = lines(root / "run" / "tasks.jsonl")
    assert len(tasks) == 1 and "new file mode" in tasks[0]["test_patch"], tasks
    return root, repo.path, tasks[0]


def test_creating_the_file_the_test_patch_adds_is_reverted(new_file_task):
    root, repo, task = new_file_task
    out = root / "run"
    own = "def test_add_small():\n    assert True\n\n\ndef test_add_negative():\n    assert True\n"
    patch = diff_of(repo, task["base_commit"], {"tests/test_add.py": own}, root / "attack")
    files = [write_predictions(root / f"{m}.jsonl", m, {task["instance_id"]: patch}) for m in ("attack-new-file", "control-new-file")]
    proc = run_cli("evaluate", str(out), "-p", str(files[0]), timeout=900)
    assert proc.returncode == 0, proc.stderr
    proc = run_cli("evaluate", str(out), "-p", str(files[1]), "--no-test-edit-revert", "--no-strict", timeout=900)
    assert proc.returncode == 0, proc.stderr
    row = results(out, "attack-new-file")[task["instance_id"]]
    assert row["status"] == "unresolved" and row["reverted_test_edits"] == ["tests/test_add.py"], row
    # the control: unreverted, the test patch cannot go on, and the prediction would leave the
    # rates as an infrastructure error instead of failing
    control = results(out, "control-new-file")[task["instance_id"]]
    assert control["status"] == "error" and "does not apply" in control["reason"], control
