"""Environment plans read the repository at the base commit and pick dependencies, Python and date with reasons."""

from __future__ import annotations

import textwrap

from gitrepo import GitRepo
from swegen.languages.python.env import plan_environment


def requirements(plan) -> list[str]:
    return plan.recipe.files[0][1].splitlines()


def reasons(plan) -> str:
    return "\n".join(f"{part}: {why}" for part, why in plan.reasons)


PYPROJECT = textwrap.dedent('''
    [build-system]
    requires = ["hatchling", "hatch-vcs"]
    build-backend = "hatchling.build"
    [project]
    name = "acme-lib"
    dynamic = ["version"]
    requires-python = ">=3.10"
    dependencies = ["requests>=2"]
    [project.optional-dependencies]
    tests = ["pytest>=7", "acme-lib[fast]"]
    fast = ["orjson"]
    docs = ["sphinx"]
    [dependency-groups]
    dev = ["ruff"]
''')


def test_pep621_extras_groups_and_build_backend(tmp_path):
    repo = GitRepo(tmp_path / "r")
    base = repo.commit("Init", {"pyproject.toml": PYPROJECT, "src/acme_lib/__init__.py": "", "tests/test_x.py": ""})
    repo.git("tag", "v1.4.2")
    plan = plan_environment(repo.path, base, ["3.9", "3.11", "3.13"])
    reqs = requirements(plan)
    assert {"requests>=2", "pytest>=7", "orjson", "hatchling", "hatch-vcs"} <= set(reqs)
    assert "editables" in reqs, "hatchling asks for it for editable builds only; offline it must be there"
    assert "sphinx" not in reqs and "ruff" not in reqs, "docs extras and dev groups stay out when a test extra exists"
    assert not any(r.startswith("acme") for r in reqs), "the project itself is installed from the checkout"
    assert plan.package == "acme_lib" and ("PYTHONPATH", "/testbed/src") in plan.test_env
    assert plan.pretend_version == "1.4.2"
    assert plan.python == "3.11", "the newest allowed Python released before the 2024 base commit"
    assert "requires-python '>=3.10'" in reasons(plan)
    assert "--exclude-newer 2024-01-02T00:00:00Z" in plan.recipe.install[0]
    # as pip does: compiled at import time instead, old dependencies warn, and suites with
    # filterwarnings = error then cannot import them (flask 1.1 with blinker 1.4 on Python 3.9)
    assert "--compile-bytecode" in plan.recipe.install[0]


def test_pinned_test_requirements_win_over_conflicting_files(tmp_path):
    repo = GitRepo(tmp_path / "r")
    base = repo.commit("Init", {
        "setup.py": "from setuptools import setup\nsetup(name='old', install_requires=['six>=1.0', 'attrs'])\n",
        "requirements/tests.txt": "pytest==6.2.5\nsix==1.15.0\n",
        "requirements/tests-min.txt": "pytest==6.0.0\nsix==1.10.0\n",
        "requirements/docs.txt": "sphinx==3.0\n",
        "old/__init__.py": "",
    })
    plan = plan_environment(repo.path, base, ["3.9", "3.11"])
    reqs = requirements(plan)
    assert "six==1.15.0" in reqs and "pytest==6.2.5" in reqs and "attrs" in reqs
    assert not any(r.startswith("sphinx") for r in reqs)
    assert sum(r.startswith("six") for r in reqs) == 1 and sum(r.startswith("pytest") for r in reqs) == 1
    assert plan.package == "old"


def test_old_code_gets_the_oldest_python_and_a_date_from_its_dependency_files(tmp_path):
    repo = GitRepo(tmp_path / "r")
    repo.commit("Init", {"setup.cfg": "[options]\ninstall_requires =\n    six\npython_requires = >=3.6\n", "pkg/__init__.py": ""})
    base = repo.commit("Code only", {"pkg/core.py": "X = 1\n"})
    plan = plan_environment(repo.path, base, ["3.11", "3.13"])
    assert plan.python == "3.11", "3.13 came out after this 2024-01 commit"
    assert "six" in requirements(plan) and "pytest" in requirements(plan)
    spec_changed = repo.git("log", "-1", "--format=%cs", base + "~1")
    assert plan.exclude_newer.startswith(spec_changed[:8])


def test_poetry_constraints_become_lower_bounds(tmp_path):
    repo = GitRepo(tmp_path / "r")
    pyproject = textwrap.dedent('''
        [tool.poetry]
        name = "poet"
        [tool.poetry.dependencies]
        python = "^3.8"
        click = "^8.0"
        [tool.poetry.group.test.dependencies]
        pytest = {version = "~7.1"}
        [build-system]
        requires = ["poetry-core>=1.0.0"]
        build-backend = "poetry.core.masonry.api"
    ''')
    base = repo.commit("Init", {"pyproject.toml": pyproject, "poet/__init__.py": ""})
    reqs = requirements(plan_environment(repo.path, base, ["3.11"]))
    assert {"click>=8.0", "pytest>=7.1", "poetry-core>=1.0.0"} <= set(reqs)


def test_swegen_toml_in_the_repository_and_config_file_override_detection(tmp_path):
    from swegen.errors import BadInput

    repo = GitRepo(tmp_path / "r")
    toml = textwrap.dedent('''
        [environment]
        python = "3.9"
        system_packages = ["libxml2-dev"]
        requirements = ["freezegun"]
        env = { APP_MODE = "test" }
        [tests]
        pytest_args = ["-p", "no:randomly"]
    ''')
    base = repo.commit("Init", {"pyproject.toml": PYPROJECT, "swegen.toml": toml, "src/acme_lib/__init__.py": ""})
    plan = plan_environment(repo.path, base, ["3.9", "3.11"])
    assert plan.python == "3.9" and "set in swegen.toml" in reasons(plan)
    assert "freezegun" in requirements(plan) and plan.recipe.system_packages == ("libxml2-dev",)
    assert ("APP_MODE", "test") in plan.test_env and plan.pytest_args[-2:] == ("-p", "no:randomly")
    override = tmp_path / "ci.toml"
    override.write_text('[environment]\nbase_image = "python:3.11-slim"\ninstall = ["pip install -r ci.txt"]\n')
    plan = plan_environment(repo.path, base, ["3.9", "3.11"], config_file=override)
    assert plan.recipe.base_image == "python:3.11-slim" and plan.recipe.install == ("pip install -r ci.txt",)
    assert plan.python == "3.9", "the repository's own setting stays where the override is silent"
    assert plan_environment(repo.path, base, ["3.9", "3.11"], python="3.11").python == "3.11", "the command line wins"
    override.write_text("[environment\n")
    try:
        plan_environment(repo.path, base, ["3.11"], config_file=override)
        raise AssertionError("a malformed config must be refused")
    except BadInput as exc:
        assert "not valid TOML" in exc.message


def test_ordering_and_rerun_plugins_are_neutralised_without_breaking_the_projects_addopts(tmp_path):
    repo = GitRepo(tmp_path / "r")
    plain = repo.commit("Init", {"pyproject.toml": PYPROJECT, "src/acme_lib/__init__.py": ""})
    args = " ".join(plan_environment(repo.path, plain, ["3.11"]).pytest_args)
    assert all(f"-p no:{name}" in args for name in ("randomly", "random_order", "xdist", "rerunfailures"))
    # the project's own addopts use xdist and rerunfailures: blocking them would make those
    # options unknown to pytest, so their options are switched off instead
    ini = "[pytest]\naddopts =\n    -n auto\n    --reruns=2\n    -p randomly\n"
    later = repo.commit("Use xdist", {"pytest.ini": ini})
    plan = plan_environment(repo.path, later, ["3.11"])
    args = " ".join(plan.pytest_args)
    assert "-n 0" in args and "--reruns 0" in args and "-p no:randomly" in args and "no:xdist" not in args
    assert "one test process" in reasons(plan) and "cache kept" in reasons(plan)


def test_url_and_vcs_requirements_become_the_same_distribution_as_of_the_date(tmp_path):
    """flask 2022: requirements/tests-pallets-dev.txt pins the development heads of its own
    dependencies by URL; they cannot be fetched offline and would not be those of 2022."""
    repo = GitRepo(tmp_path / "r")
    dev = "markupsafe @ https://github.com/pallets/markupsafe/archive/refs/heads/main.tar.gz\ngit+https://github.com/pallets/itsdangerous.git#egg=itsdangerous\n"
    base = repo.commit("Init", {
        "pyproject.toml": PYPROJECT, "src/acme_lib/__init__.py": "",
        "requirements/tests.txt": "pytest==7.1.2\n", "requirements/tests-pallets-dev.txt": dev,
    })
    plan = plan_environment(repo.path, base, ["3.11"])
    assert "pytest==7.1.2" in requirements(plan) and not any("markupsafe" in r for r in requirements(plan))
    assert "tests-pallets-dev" not in reasons(plan)  # the plain test file is preferred
    only_dev = repo.commit("Only the dev file", {"requirements/tests.txt": dev})
    plan = plan_environment(repo.path, only_dev, ["3.11"])
    assert {"markupsafe", "itsdangerous"} <= set(requirements(plan))
    assert not any("://" in r for r in requirements(plan))
    assert "markupsafe: from the index as of the dependency date" in reasons(plan)


def test_setup_requires_goes_into_the_image(tmp_path):
    repo = GitRepo(tmp_path / "r")
    setup_py = "from setuptools import setup\nsetup(name='old', use_scm_version=True, setup_requires=['setuptools_scm>=3.4'])\n"
    base = repo.commit("Init", {"setup.py": setup_py, "old/__init__.py": ""})
    plan = plan_environment(repo.path, base, ["3.11"])
    assert "setuptools_scm>=3.4" in requirements(plan) and "setup_requires" in reasons(plan)
    cfg = "[metadata]\nname = old\n[options]\nsetup_requires =\n    setuptools_scm\n    wheel\n"
    later = repo.commit("setup.cfg", {"setup.cfg": cfg, "setup.py": "from setuptools import setup\nsetup()\n"})
    assert "setuptools_scm" in requirements(plan_environment(repo.path, later, ["3.11"]))


def test_names_starting_with_http_are_packages_not_urls(tmp_path):
    repo = GitRepo(tmp_path / "r")
    pyproject = '[project]\nname = "client"\ndependencies = ["httpcore==1.*", "httpx>=0.2", "https://example.com/x.whl"]\n'
    base = repo.commit("Init", {"pyproject.toml": pyproject, "client/__init__.py": ""})
    reqs = requirements(plan_environment(repo.path, base, ["3.11"]))
    assert "httpcore==1.*" in reqs and "httpx>=0.2" in reqs
    assert not any("example.com" in r for r in reqs), "a URL is still no requirement"


def test_requirement_files_installing_the_project_with_extras_bring_those_extras(tmp_path):
    repo = GitRepo(tmp_path / "r")
    pyproject = textwrap.dedent('''
        [project]
        name = "client"
        dependencies = ["certifi"]
        [project.optional-dependencies]
        http2 = ["h2>=3,<5"]
        cli = ["click==8.*"]
        docs = ["sphinx"]
    ''')
    files = {"pyproject.toml": pyproject, "requirements.txt": "-e .[http2,cli]\nchardet==5.2.0\n", "client/__init__.py": ""}
    base = repo.commit("Init", files)
    plan = plan_environment(repo.path, base, ["3.11"])
    assert {"h2<5,>=3", "click==8.*", "chardet==5.2.0", "certifi"} <= set(requirements(plan))
    assert not any(r.startswith("sphinx") for r in requirements(plan))
    assert "[http2], [cli]" in reasons(plan)


def test_setup_py_is_read_as_python_not_as_text(tmp_path):
    setup_py = textwrap.dedent('''
        from setuptools import setup
        INSTALL_REQUIRES = ["rfc3986[idna2008]>=1.3,<2", "sniffio"]
        EXTRAS_REQUIRE = {
            "docs": ["sphinx"],
            "tests_no_zope": ["coverage[toml]>=5.0.2", "hypothesis"],
        }
        EXTRAS_REQUIRE["tests"] = EXTRAS_REQUIRE["tests_no_zope"] + ["zope.interface"]
        setup(name="old-lib", install_requires=INSTALL_REQUIRES, extras_require=EXTRAS_REQUIRE,
              tests_require=["old-lib[tests]", "mock"])
    ''')
    repo = GitRepo(tmp_path / "r")
    base = repo.commit("Init", {"setup.py": setup_py, "old_lib/__init__.py": ""})
    reqs = requirements(plan_environment(repo.path, base, ["3.11"]))
    assert {"rfc3986[idna2008]<2,>=1.3", "sniffio", "coverage[toml]>=5.0.2", "hypothesis", "zope.interface", "mock"} <= set(reqs)
    assert not any(r.startswith(("sphinx", "old-lib", "old_lib")) for r in reqs), "docs extras and the project itself stay out"


def test_a_python_2_setup_py_still_gives_its_literal_lists(tmp_path):
    setup_py = 'from setuptools import setup\nprint "legacy"\nsetup(name="old", install_requires=["six>=1.0"])\n'
    repo = GitRepo(tmp_path / "r")
    base = repo.commit("Init", {"setup.py": setup_py, "old/__init__.py": ""})
    assert "six>=1.0" in requirements(plan_environment(repo.path, base, ["3.11"]))


def test_poetry_python_restrictions_become_markers(tmp_path):
    pyproject = textwrap.dedent('''
        [tool.poetry]
        name = "tomlish"
        [tool.poetry.dependencies]
        python = "~2.7 || ^3.5"
        enum34 = { version = "^1.1", python = "~2.7" }
        typing = { version = "^3.6", python = "~2.7 || ~3.4" }
        [tool.poetry.dev-dependencies]
        isort = {version = "^5.2.0", python = "^3.6"}
        futures = {version = "*", python = ">= 2.7, < 3"}
        black = { version = "^19.3b0", markers = "implementation_name != 'pypy'" }
        local = { path = "../local" }
    ''')
    repo = GitRepo(tmp_path / "r")
    base = repo.commit("Init", {"pyproject.toml": pyproject, "tomlish/__init__.py": ""})
    from packaging.requirements import Requirement

    env = {"python_full_version": "3.11.2", "python_version": "3.11", "implementation_name": "cpython"}
    wanted = {}
    for text in requirements(plan_environment(repo.path, base, ["3.11"])):
        req = Requirement(text)
        wanted[req.name] = req.marker is None or req.marker.evaluate(env)
    assert wanted["enum34"] is False and wanted["typing"] is False, "Python 2 backports stay off Python 3"
    assert wanted["futures"] is False
    assert wanted["isort"] is True and wanted["black"] is True
    assert "local" not in wanted


def test_setup_py_test_requirements_yield_to_a_requirement_file(tmp_path):
    setup_py = textwrap.dedent('''
        from setuptools import setup
        requires = ["urllib3<1.27"]
        test_requirements = ["pytest-xdist", "pytest>=3"]
        setup(name="req", install_requires=requires, tests_require=test_requirements)
    ''')
    repo = GitRepo(tmp_path / "r")
    base = repo.commit("Init", {"setup.py": setup_py, "requirements-dev.txt": "pytest<=3.10.1\n", "req/__init__.py": ""})
    reqs = requirements(plan_environment(repo.path, base, ["3.9"]))
    assert "urllib3<1.27" in reqs and "pytest<=3.10.1" in reqs
    assert not any(r.startswith("pytest-xdist") for r in reqs), "what CI installed wins over `setup.py test`'s list"


OLD_BACKEND = '''
"""A build backend from before PEP 660: wheels and sdists only, no editable hooks."""
import base64, hashlib, pathlib, zipfile

def _record(name, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    files = {"oldpkg/__init__.py": pathlib.Path("oldpkg/__init__.py").read_bytes(),
             "oldpkg-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\\nName: oldpkg\\nVersion: 1.0\\n",
             "oldpkg-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\\nGenerator: old\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"}
    name = "oldpkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(pathlib.Path(wheel_directory) / name, "w") as wheel:
        record = [_record(n, d) for n, d in files.items()] + ["oldpkg-1.0.dist-info/RECORD,,"]
        for n, d in files.items():
            wheel.writestr(n, d)
        wheel.writestr("oldpkg-1.0.dist-info/RECORD", "\\n".join(record) + "\\n")
    return name
'''


def test_a_backend_without_editable_installs_still_runs_the_checkout(tmp_path):
    """install_project.sh, run here without Docker: the plain install's package is swapped for a
    .pth file pointing at the checkout, so Python started anywhere imports the checkout."""
    import os
    import subprocess
    import sys

    from swegen.resources import sandbox_file

    project = tmp_path / "testbed"
    (project / "oldpkg").mkdir(parents=True)
    (project / "oldpkg" / "__init__.py").write_text("WHERE = 'checkout'\n")
    (project / "old_backend.py").write_text(OLD_BACKEND)
    (project / "pyproject.toml").write_text('[build-system]\nrequires = []\nbuild-backend = "old_backend"\nbackend-path = ["."]\n')
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    # without setuptools, so that pip cannot fall back to its legacy `setup.py develop` shim either
    subprocess.run([str(venv / "bin" / "pip"), "uninstall", "-q", "-y", "setuptools"], capture_output=True, check=False)
    env = {**os.environ, "PATH": f"{venv / 'bin'}:{os.environ['PATH']}", "SWEGEN_TESTBED": str(project)}
    env.pop("PYTHONPATH", None)
    done = subprocess.run(["sh", str(sandbox_file("install_project.sh"))], env=env, capture_output=True, text=True, check=False)
    assert done.stdout.strip().splitlines()[-1] == "swegen-install: regular, packages linked to the checkout", done.stderr
    (project / "oldpkg" / "__init__.py").write_text("WHERE = 'patched checkout'\n")
    probe = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import oldpkg, importlib.metadata as m; print(oldpkg.__file__, oldpkg.WHERE, m.version('oldpkg'))"],
        env=env, capture_output=True, text=True, cwd=tmp_path, check=False,
    )
    assert probe.stdout.split() == [str(project / "oldpkg" / "__init__.py"), "patched", "checkout", "1.0"], probe.stderr


def test_a_pytest_too_old_for_the_python_or_missing_is_replaced_by_the_oldest_that_runs(tmp_path):
    repo = GitRepo(tmp_path / "r")
    base = repo.commit("Init", {"requirements-test.txt": "pytest==2.9.1\n", "pkg/__init__.py": ""})
    plan = plan_environment(repo.path, base, ["3.9"])
    install = plan.recipe.install[0]
    assert "pytest==2.9.1" in requirements(plan), "the project's own pin is resolved first"
    # then, only when the installed pytest is older than 3.5 (or missing), pytest 3.5-3.6
    assert install.index("-r /opt/swegen/deps/requirements.txt") < install.index('"pytest>=3.5,<3.7"')
    assert "< (3, 5)" in install and "pytest>=3.5,<3.7 as of 2021-06-01" in reasons(plan)
    assert "--exclude-newer-package" not in install, "a date after the Python's own era keeps every tool as of it"
    on_311 = plan_environment(repo.path, base, ["3.11"]).recipe.install[0]
    assert '"pytest>=6.2.5,<7"' in on_311 and "< (6, 2, 5)" in on_311


def test_test_targets_leave_out_package_inits_and_conftests():
    from swegen.testbed import test_targets

    files = ["h11/tests/__init__.py", "h11/tests/test_receivebuffer.py", "tests/conftest.py", "tests/data.json"]
    assert test_targets(files) == ["h11/tests/test_receivebuffer.py"], "an __init__.py target collects its package twice"
    assert test_targets(["tests/conftest.py", "tests/sub/__init__.py"]) == ["tests", "tests/sub"]
    assert test_targets(["conftest.py"]) == ["."]


def test_build_tools_of_an_old_date_are_those_of_the_pythons_era(tmp_path):
    import os
    import subprocess

    repo = GitRepo(tmp_path / "r")
    repo.write({"requirements.txt": "pytest\n", "pkg/__init__.py": ""})
    repo.git("add", "-A")
    old = {**os.environ, "GIT_AUTHOR_DATE": "2015-04-28T00:00:00Z", "GIT_COMMITTER_DATE": "2015-04-28T00:00:00Z",
           "GIT_AUTHOR_NAME": "Dev", "GIT_AUTHOR_EMAIL": "d@e", "GIT_COMMITTER_NAME": "Dev", "GIT_COMMITTER_EMAIL": "d@e"}
    subprocess.run(["git", "-C", str(repo.path), "commit", "-q", "-m", "Init"], env=old, check=True)
    plan = plan_environment(repo.path, repo.head(), ["3.9"])
    install = plan.recipe.install[0]
    assert "--exclude-newer 2015-04-29T00:00:00Z" in install, "the dependencies stay as of their date"
    # uv builds sdists with setuptools>=40.8 (2018): as of 2015 pytest 2.7's py could not be built
    assert "--exclude-newer-package setuptools=2021-06-01T00:00:00Z --exclude-newer-package wheel=2021-06-01T00:00:00Z" in install
    assert "setuptools, wheel as of 2021-06-01" in reasons(plan)


def test_tox_deps_that_include_a_requirement_file_bring_its_lines(tmp_path):
    repo = GitRepo(tmp_path / "r")
    tox = "[testenv]\ndeps =\n    -rtests/requirements.txt\n    -r{toxinidir}/extra-reqs.txt\n    mock\n"
    base = repo.commit("Init", {"tox.ini": tox, "tests/requirements.txt": "pytest-cov\npytest\n",
                                "extra-reqs.txt": "hypothesis\n", "pkg/__init__.py": ""})
    reqs = requirements(plan_environment(repo.path, base, ["3.11"]))
    # tablib 2023: pytest.ini's addopts use --cov, and pytest-cov is only named in that file
    assert {"pytest-cov", "pytest", "hypothesis", "mock"} <= set(reqs)
