"""Environment recipes: how to install a repository at a base commit, and which Python to use.

Everything is read from the repository at the base commit (never from the work tree). The image
holds the dependencies only, resolved as they were on the date of the last change to the
dependency specifications (uv's --exclude-newer), so every task with the same specifications
shares one image; the project itself is installed from the task's own source at run time,
offline. Each part of a recipe records why it was chosen.
"""

from __future__ import annotations

import configparser
import datetime as dt
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name

from swegen import config as project_config
from swegen.history import git
from swegen.images import BASE_REPOSITORY, DEBIAN_SUITES, INDEX_DOWN, INDEX_DOWN_EXIT, INDEX_DOWN_MARK, EnvRecipe, base_tag

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

#: Extras and dependency groups that hold test requirements; the dev ones only when no test one exists.
TEST_EXTRAS = ("test", "tests", "testing")
DEV_EXTRAS = ("dev", "develop", "development")
#: Files whose change can change the dependencies.
SPEC_FILES = (
    "pyproject.toml", "setup.py", "setup.cfg", "tox.ini", "Pipfile",
    "requirements*.txt", "requirements/*.txt", "*requirements*.txt", "test-requirements.txt",
)
#: When each Python that a base image can carry was released: old code wants an old Python.
PYTHON_RELEASED = {"3.9": "2020-10-05", "3.11": "2022-10-24", "3.13": "2024-10-07"}
VENV_PYTHON = "/opt/swegen/venv/bin/python"
#: The oldest pytest line that starts on a base image's Python and takes the runner's options
#: (`--rootdir` came with pytest 3.5; measured: on 3.9 pytest 2.9 stops with an INTERNALERROR, 3.0
#: runs; on 3.11 pytest 3.6, 4.6 and 5.4 cannot rewrite assertions, 6.2.5 runs): (lowest version,
#: upper bound, resolved as of). It replaces the project's own pytest only when that is older or
#: missing (none was on PyPI before November 2010).
PYTEST_FLOOR = {"3.9": ("3.5", "3.7", "2021-06-01T00:00:00Z"), "3.11": ("6.2.5", "7", "2023-06-01T00:00:00Z")}
#: Packages that pytest itself imports in some of its lines, by import name: the first pytest that
#: no longer does, the line's upper bound, and a date it resolves as of (pytest 6.0 dropped
#: more-itertools). Not here: pluggy (every pytest since 3.3 imports it, and the older ones do not
#: run swegen's runner) and py (pytest 7.2 and later still import a `py` of their own by that name).
PYTEST_IMPORTS = {
    "more_itertools": ("6.0", "7", "2021-06-01T00:00:00Z"),
}
#: Build tools resolved as of the Python's PYTEST_FLOOR date when the dependency date is older.
BUILD_TOOLS = ("setuptools", "wheel")
#: Packages whose source builds compile for many minutes, or need system libraries the image
#: lacks. As of a date before the image's Python had wheels of them (numpy as of 2019 on Python
#: 3.9), each is taken as of WHEEL_ERA instead, so that the image gets a wheel and not a long
#: compile (numpy 1.17, then pandas 0.25, took more than 12 minutes on 2 cores, for one candidate).
COMPILED = (
    "numpy", "scipy", "pandas", "matplotlib", "scikit-learn", "statsmodels", "h5py", "tables", "numba",
    "llvmlite", "pyarrow", "lxml", "grpcio", "cryptography", "pillow", "pyzmq", "shapely",
)
#: By when each Python's wheels of COMPILED were out (a few weeks after the Python's release:
#: numpy 1.19.3 for 3.9 on 2020-10-29, 1.23.2 for 3.11 on 2022-08-14, 2.1.0 for 3.13 on 2024-08-18;
#: pandas 1.1.4, 1.5.0 and 2.2.3 followed within two months).
WHEEL_ERA = {"3.9": "2020-12-01T00:00:00Z", "3.11": "2022-12-01T00:00:00Z", "3.13": "2024-12-01T00:00:00Z"}
#: How much earlier the dependencies are resolved, once, when a plugin or a dependency fails to
#: import as of the dependency date: a release shortly before it that broke its dependents (werkzeug
#: 3.0 and httpbin, markupsafe 2.1 and jinja2 2.x) was usually fixed or pinned within months.
RETRY_DAYS = 182
#: Requirements a build backend adds for editable builds only (hatchling: `editables`).
EDITABLE_REQUIRES = {"hatchling": ("editables",)}


@dataclass(frozen=True)
class EnvPlan:
    """How to build, install and test one repository at one commit."""

    recipe: EnvRecipe
    python: str
    #: Date the dependencies are resolved as of (ISO 8601).
    exclude_newer: str
    #: Import name of the package under test, checked to come from the checkout.
    package: str | None
    #: Version handed to setuptools_scm / hatch-vcs, which cannot read it without .git.
    pretend_version: str
    #: Environment for test runs.
    test_env: tuple[tuple[str, str], ...]
    #: Why each part was chosen: (part, reason).
    reasons: tuple[tuple[str, str], ...] = field(default=())
    #: Extra pytest arguments (from swegen.toml).
    pytest_args: tuple[str, ...] = ()


class _Reader:
    """Files of the repository at one commit."""

    def __init__(self, repo: Path, commit: str) -> None:
        self.repo, self.commit = repo, commit
        self.names = set(git(repo, "ls-tree", "-r", "--name-only", commit).splitlines())

    def read(self, path: str) -> str | None:
        if path not in self.names:
            return None
        return git(self.repo, "show", f"{self.commit}:{path}")

    def glob(self, pattern: str) -> list[str]:
        regex = re.compile("^" + re.escape(pattern).replace(r"\*", "[^/]*") + "$")
        return sorted(n for n in self.names if regex.match(n))


def plan_environment(
    repo: Path,
    commit: str,
    available_pythons: list[str],
    *,
    python: str | None = None,
    base_image: str | None = None,
    config_file: Path | None = None,
    earlier_because: str | None = None,
) -> EnvPlan:
    """The recipe for `repo` at `commit`; `available_pythons` are the base images present.

    Layers: detection < the repository's swegen.toml at `commit` < `config_file` < `python` and
    `base_image` given on the command line. With `earlier_because` (why the environment as of the
    dependency date did not work), the dependencies are resolved RETRY_DAYS earlier, with that reason.
    """
    files = _Reader(repo, commit)
    settings = project_config.load(files.read(project_config.FILE_NAME), config_file)
    reasons: list[tuple[str, str]] = []
    pyproject = _toml(files.read("pyproject.toml"))
    deps, extras = _dependencies(files, pyproject, reasons)
    build = _build_requires(pyproject, files, reasons)
    chosen = _python(python, settings, pyproject, files, repo, commit, available_pythons, reasons, base_image)
    date = _spec_date(repo, commit)
    if earlier_because:
        first, date = date, earlier_date(date)
        reasons.append(("dependencies as of", f"{date}: {RETRY_DAYS} days before {first} (the last change to the dependency "
                                              f"files before the base commit), since as of {first} {earlier_because}"))
    else:
        reasons.append(("dependencies as of", f"{date}: the last change to the dependency files before the base commit"))
    requirements = sorted({*build, *deps, *_test_runner(deps, reasons), *settings.requirements}, key=str.lower)
    image = base_image or settings.base_image or base_tag(chosen)
    package = _package_name(files, pyproject)
    recipe = EnvRecipe(
        base_image=image,
        system_packages=settings.system_packages,
        pre_install=("pip install --no-cache-dir uv", *settings.pre_install),
        install=settings.install or (_install_command(date, chosen, reasons, package),),
        env=settings.env,
        files=(("requirements.txt", "".join(r + "\n" for r in requirements)),),
    )
    reasons.append(("image", f"{image}; extras used: {', '.join(extras) or 'none'}"))
    if settings.source:
        reasons.append(("overrides", f"from {settings.source}"))
    test_env = [("PYTHONDONTWRITEBYTECODE", "1"), *settings.env]
    if any(n.startswith("src/") for n in files.names):
        test_env.append(("PYTHONPATH", "/testbed/src"))
    version = _pretend_version(repo, commit)
    runner_args = _runner_args(files, pyproject, reasons)
    return EnvPlan(recipe, chosen, date, package, version, tuple(test_env), tuple(reasons), (*runner_args, *settings.pytest_args))


def _install_command(date: str, python: str, reasons: list, package: str | None = None) -> str:
    """Resolve every requirement together as of `date`; when that fails (an old pin that does not
    build on the Python at hand), install them one by one and say which were skipped, so the
    tests that do not need the missing ones can still run.

    Bytecode is compiled at install time, as pip does and uv does not by default: compiling an
    old dependency at import time instead warns (invalid escape sequences, on a newer Python),
    and suites that turn warnings into errors then fail to import it."""
    uv = f"uvi --exclude-newer {date}"
    tools = PYTEST_FLOOR.get(python, (None, None, None))[2]
    if tools and date < tools:
        # uv builds an sdist with setuptools>=40.8 (of 2018): as of an older date none resolves
        # and every dependency without a wheel (pytest 2.7's py) is skipped
        uv += "".join(f" --exclude-newer-package {name}={tools}" for name in BUILD_TOOLS)
        reasons.append(("build", f"{', '.join(BUILD_TOOLS)} as of {tools}, not {date}: uv builds sdists with "
                                 f"setuptools>=40.8 (2018), and older build tools do not run on Python {python}"))
    deps = "/opt/swegen/deps/requirements.txt"
    era = WHEEL_ERA.get(python)
    define, install = "", uv
    if era and date < era:
        reasons.append(("wheels", f"a package of {', '.join(COMPILED[:4])}, ... (compiled, slow to build) whose version as of "
                                  f"{date} has no wheel for Python {python} is resolved as of {era} instead; the build log's "
                                  f"'swegen:' lines name each"))
        # wheels first, then as before (a source build allowed): all together, then one by one
        define, install = _wheels_first(uv, python, date, era) + " ", "uvb"
    together = (
        f"{{ {install} -r {deps} || {{ echo 'swegen: installing the requirements together failed; one by one now' && "
        f'while read -r req; do {install} "$req" || echo "swegen: skipped $req"; done < {deps}; }}; }}'
    )
    return f"{UV_INSTALL} {define}{together} && {_runner_floor(date, python, reasons, package)}"


def _wheels_first(uv: str, python: str, date: str, era: str) -> str:
    """Shell functions: `uvw TARGETS` installs them with no source build of a COMPILED package;
    the packages uv says have no wheel (its "Wheels are required for `name`" hints) are resolved
    as of `era` and the install tried again; when every one it names was moved already, the first
    may be built after all. It fails when uv names no package (a conflict, a missing
    distribution), or after twice as many tries as COMPILED has packages. `uvb TARGETS` is uvw,
    else the install as it was (`uv`, source builds allowed)."""
    no_build = " ".join(f"--only-binary {name}" for name in COMPILED)
    moved = f"--exclude-newer-package $name={era}"
    return (
        f'uvw() {{ nobuild="{no_build}"; moved=""; tries=0; while :; do '
        f'{uv} $nobuild $moved "$@" && return 0; '
        f"names=$(sed -n 's/.*Wheels are required for `\\([A-Za-z0-9._-]*\\)`.*/\\1/p' /tmp/swegen-uv.out); "
        f'tries=$((tries + 1)); if [ -z "$names" ] || [ $tries -gt {2 * len(COMPILED)} ]; then return 1; fi; '
        f'first=""; for name in $names; do case "$moved " in *" {moved} "*) ;; *) first=$name; break;; esac; done; '
        f'if [ -n "$first" ]; then for name in $names; do case "$moved " in *" {moved} "*) ;; *) '
        f'echo "swegen: $name has no wheel for Python {python} as of {date}: resolving it as of {era}"; '
        f'moved="$moved {moved}";; esac; done; '
        f'else name=$(echo "$names" | head -n 1); '
        f'echo "swegen: $name has no wheel for Python {python} as of {era} either: building it"; '
        f'nobuild=$(echo " $nobuild " | sed "s/ --only-binary $name / /"); '
        f'moved=$(echo " $moved " | sed "s/ {moved} / /"); fi; done; }}; '
        f'uvb() {{ uvw "$@" || {uv} "$@"; }};'
    )


#: A shell function `uvi ARGS` for the install step: `uv pip install ARGS` into the venv, except
#: that when the package index did not answer it stops the whole step (INDEX_DOWN_EXIT, after
#: INDEX_DOWN_MARK) instead of letting the one-by-one fallback skip every requirement and build an
#: image without them, which would be kept and reused as if the recipe had made it.
UV_INSTALL = (
    f"uvi() {{ UV_SYSTEM_CERTS=1 UV_NATIVE_TLS=1 uv pip install --compile-bytecode --python {VENV_PYTHON} \"$@\" "
    f"> /tmp/swegen-uv.out 2>&1; rc=$?; cat /tmp/swegen-uv.out; "
    f"if [ $rc -ne 0 ] && grep -qiE '{INDEX_DOWN}' /tmp/swegen-uv.out; then echo '{INDEX_DOWN_MARK}'; exit {INDEX_DOWN_EXIT}; fi; "
    f"return $rc; }};"
)


def _runner_floor(date: str, python: str, reasons: list, package: str | None = None) -> str:
    """A shell step that replaces a pytest missing as of `date` or too old to start on `python`
    with the oldest line that runs (PYTEST_FLOOR), its own dependencies upgraded with it as of the
    same date (py 1.10 under pytest 6.2.5 fails on Python 3.11; py 1.11 runs). When the package
    under test is one pytest itself imports (PYTEST_IMPORTS), the line is the first that does not:
    with the checkout first on sys.path, pytest would start on the checkout's old copy."""
    floor = PYTEST_FLOOR.get(python)
    avoid = PYTEST_IMPORTS.get(package or "")
    if floor is None and avoid is None:
        return "true"
    lowest, below, as_of = floor or ("0", "999", date)
    if avoid is not None and _version(avoid[0]) > _version(lowest):
        lowest, below, as_of = avoid[0], avoid[1], max(as_of, avoid[2])
        reasons.append(("test runner", f"pytest>={lowest},<{below} as of {as_of} when the one as of {date} is older: "
                                       f"older ones import {package}, the package under test, and would start on "
                                       f"the checkout's own copy"))
    else:
        reasons.append(("test runner", f"pytest>={lowest},<{below} as of {as_of} when the one as of {date} is missing "
                                       f"or older than {lowest}: older ones do not start on Python {python}"))
    need = _version(lowest)
    check = (f"import sys, re, pytest; sys.exit(tuple(int(p) for p in re.findall(r'\\d+', pytest.__version__)[:3]) "
             f"< {need!r})")
    return (f'{{ {VENV_PYTHON} -c "{check}" 2>/dev/null || {{ echo "swegen: pytest missing or older than {lowest}; '
            f'pytest>={lowest},<{below} as of {as_of}" && uvi --exclude-newer {as_of} --upgrade "pytest>={lowest},<{below}"; }}; }}')


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def _python(given, settings, pyproject, files, repo, commit, available, reasons, base_image=None) -> str:
    if not given and not settings.python and not available and base_image:
        # only an image was given: its Python is the one its tag names (py3.11, python:3.12-slim)
        named = re.search(r":(?:py|python)?(\d+\.\d+)", base_image)
        if named:
            reasons.append(("python", f"{named.group(1)}: the one the given image {base_image} names"))
            return named.group(1)
    if given:
        reasons.append(("python", f"{given}: given on the command line"))
        return given
    if settings.python:
        reasons.append(("python", f"{settings.python}: set in {settings.source}"))
        return settings.python
    return _choose_python(pyproject, files, repo, commit, available, reasons)


def _toml(text: str | None) -> dict:
    if not text:
        return {}
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return {}


def _clean(items: list[str], own: str | None, reasons: list | None = None) -> list[str]:
    """Valid requirement strings, without the project itself. A requirement on a URL, a VCS
    checkout or a local path (`name @ https://...`, `git+https://...#egg=name`) becomes the same
    distribution from the index as of the dependency date: the URL cannot be fetched offline, and
    even online it would give today's development version, not the one of the base commit."""
    out = []
    for item in items:
        egg = re.search(r"#egg=([A-Za-z0-9][A-Za-z0-9._-]*)", item)
        item = item.split("#", 1)[0].strip()
        if item.startswith(("git+", "hg+", "svn+", "bzr+", "http://", "https://", "file:")) and egg:
            _say(reasons, "dated", f"{egg.group(1)}: from the index as of the dependency date, not from {item[:80]}")
            item = egg.group(1)
        if not item or item.startswith(("-", ".", "/", "git+", "http://", "https://", "file:")):
            continue
        try:
            req = Requirement(item)
        except InvalidRequirement:
            continue
        if own and canonicalize_name(req.name) == own:
            continue
        if req.url:
            _say(reasons, "dated", f"{req.name}: from the index as of the dependency date, not from {req.url[:80]}")
            req.url = None
        out.append(str(req))
    return out


def _say(reasons: list | None, part: str, why: str) -> None:
    if reasons is not None and (part, why) not in reasons:
        reasons.append((part, why))


def _dependencies(files: _Reader, pyproject: dict, reasons: list) -> tuple[list[str], list[str]]:
    project = pyproject.get("project", {})
    setup_py = _SetupPy(files.read("setup.py"))
    own = _own_name(files, pyproject, setup_py)
    deps: list[str] = list(project.get("dependencies", []))
    extras: list[str] = []
    optional = project.get("optional-dependencies", {})
    groups = pyproject.get("dependency-groups", {})
    wanted = TEST_EXTRAS if any(n in optional or n in groups for n in TEST_EXTRAS) else DEV_EXTRAS
    for name in wanted:
        if name in optional:
            deps += _expand(optional[name], optional, own)
            extras.append(f"[{name}]")
        if name in groups:
            deps += [g for g in groups[name] if isinstance(g, str)]
            extras.append(f"group {name}")
    if project:
        reasons.append(("install", "pyproject.toml [project] (PEP 621)"))
    # Requirement files that install the project with extras (`-e .[http2,cli]`) want those too.
    own_extras: list[str] = []
    pinned = _requirement_files(files, reasons, own_extras=own_extras)
    if own_extras:
        declared = {**setup_py.extras(), **_setup_cfg_extras(files), **optional}
        for name in own_extras:
            if name in declared and f"[{name}]" not in extras:
                deps += _expand(declared[name], declared, own)
                extras.append(f"[{name}]")
    # Earlier sources win when two name the same package: pinned test requirement files are
    # the most specific statement of what the tests ran with.
    sources = [pinned, deps, _poetry(pyproject, reasons), _setup_cfg(files, reasons)]
    # setup.py's tests_require and test extras only when no requirement file says what the tests
    # ran with: they are what the deprecated `setup.py test` used, and mixed with the pins of a
    # requirement file they drag the resolution elsewhere (requests 2.25: pytest-xdist from
    # tests_require forced pytest<=3.10 down to 3.5).
    sources += [_setup_py(setup_py, reasons, tests=not pinned), _tox(files, reasons)]
    return _first_per_name([r for source in sources for r in _clean(source, own, reasons)]), extras


def _own_name(files: _Reader, pyproject: dict, setup_py: _SetupPy) -> str | None:
    """The project's distribution name, so that its own requirement (`pkg[tests]`) stays out."""
    name = pyproject.get("project", {}).get("name") or pyproject.get("tool", {}).get("poetry", {}).get("name")
    if not name:
        parser = _config(files.read("setup.cfg"))
        if parser is not None and parser.has_option("metadata", "name"):
            name = parser.get("metadata", "name").strip()
    name = name or setup_py.keyword("name")
    return canonicalize_name(name) if isinstance(name, str) and name else None


def _config(text: str | None) -> configparser.ConfigParser | None:
    if not text:
        return None
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error:
        return None
    return parser


def _test_extra_names(names) -> list[str]:
    """The extras that hold test requirements (any named like test/tests/testing, tests_no_zope,
    test-extras), else the dev ones."""
    names = list(names)
    tests = [n for n in names if n in TEST_EXTRAS or re.search(r"(^|[-_])tests?($|[-_])|testing", n)]
    return tests or [n for n in names if n in DEV_EXTRAS]


def _first_per_name(requirements: list[str]) -> list[str]:
    """One requirement per package and marker: merged pins from several files would conflict."""
    chosen: dict[tuple[str, str], str] = {}
    for text in requirements:
        req = Requirement(text)
        chosen.setdefault((canonicalize_name(req.name), str(req.marker or "")), text)
    return list(chosen.values())


def _expand(items: list[str], optional: dict, own: str | None) -> list[str]:
    """An extra may name the project's own other extras: `project[a,b]`."""
    out = []
    for item in items:
        try:
            req = Requirement(item)
        except InvalidRequirement:
            continue
        if own and canonicalize_name(req.name) == own:
            for extra in req.extras:
                out += [i for i in optional.get(extra, []) if not i.replace(" ", "").lower().startswith(own)]
        else:
            out.append(item)
    return out


def _poetry(pyproject: dict, reasons: list) -> list[str]:
    poetry = pyproject.get("tool", {}).get("poetry", {})
    if not poetry:
        return []
    reasons.append(("install", "poetry dependencies from [tool.poetry]"))
    tables = [poetry.get("dependencies", {}), poetry.get("dev-dependencies", {})]
    tables += [g.get("dependencies", {}) for g in poetry.get("group", {}).values()]
    out = []
    for table in tables:
        for name, spec in table.items():
            if name.lower() == "python":
                continue
            for one in spec if isinstance(spec, list) else [spec]:
                out.append(_poetry_requirement(name, one))
    return [r for r in out if r]


def _poetry_requirement(name: str, spec) -> str | None:
    """One poetry dependency as a requirement string, its `python` and `markers` as a marker
    (`enum34 = {version = "^1.1", python = "~2.7"}` must not reach Python 3)."""
    if not isinstance(spec, dict):
        return name + _poetry_spec(str(spec))
    if "version" not in spec and ("git" in spec or "path" in spec or "url" in spec):
        return None
    markers = []
    if spec.get("python"):
        markers.append(_poetry_python_marker(str(spec["python"])))
    if spec.get("markers"):
        markers.append(f"({spec['markers']})")
    text = name + _poetry_spec(str(spec.get("version", "*")))
    return text + ("; " + " and ".join(markers) if markers else "")


def _poetry_python_marker(constraint: str) -> str:
    """A poetry Python constraint (`~2.7 || ^3.5`) as a PEP 508 marker."""
    alternatives = []
    for alternative in constraint.split("||"):
        parts = []
        alternative = re.sub(r"([<>=!^~]+)\s+", r"\1", alternative.strip())  # ">= 3.6" is ">=3.6"
        for part in re.split(r"[,\s]+(?=[<>=!^~*\d])", alternative):
            parts += _poetry_bounds(part.strip())
        alternatives.append("(" + " and ".join(f'python_full_version {op} "{v}"' for op, v in parts) + ")" if parts else "(python_version >= \"0\")")
    return "(" + " or ".join(alternatives) + ")"


def _poetry_bounds(part: str) -> list[tuple[str, str]]:
    if part in ("", "*"):
        return []
    match = re.match(r"^(\^|~=?|==?|>=|<=|>|<|!=)?\s*([\d.*]+)$", part)
    if not match:
        return []
    op, version = match[1] or "==", match[2]
    numbers = [int(n) for n in version.replace(".*", "").split(".") if n.isdigit()]
    if op == "^" or (op == "==" and version.endswith("*")) or op in ("~", "~="):
        if op == "^":
            index = next((i for i, n in enumerate(numbers) if n), len(numbers) - 1)
        elif op == "~" and len(numbers) > 1:
            index = 1
        elif op == "~=":
            index = max(len(numbers) - 2, 0)
        else:
            index = len(numbers) - 1
        upper = numbers[: index + 1]
        upper[-1] += 1
        return [(">=", ".".join(map(str, numbers))), ("<", ".".join(map(str, upper)))]
    return [(op if op != "=" else "==", version)]


def _poetry_spec(version: str) -> str:
    """Poetry's ^ and ~ constraints as lower bounds (an upper bound adds nothing as of a date)."""
    version = version.strip()
    if version in ("*", ""):
        return ""
    if version[0] in "^~":
        return ">=" + version.lstrip("^~=")
    return version if version[0] in "<>=!" else "==" + version


def _setup_cfg(files: _Reader, reasons: list) -> list[str]:
    parser = _config(files.read("setup.cfg"))
    if parser is None:
        return []
    out = []
    if parser.has_option("options", "install_requires"):
        out += parser.get("options", "install_requires").splitlines()
        reasons.append(("install", "setup.cfg [options] install_requires"))
    extras = _setup_cfg_extras(files)
    for name in _test_extra_names(extras):
        out += extras[name]
    return out


def _setup_cfg_extras(files: _Reader) -> dict[str, list[str]]:
    parser = _config(files.read("setup.cfg"))
    if parser is None or not parser.has_section("options.extras_require"):
        return {}
    return {name: parser.get("options.extras_require", name).splitlines() for name in parser.options("options.extras_require")}


LIST_LITERAL = r"\[([^\]]*)\]"


class _SetupPy:
    """The literal parts of a setup.py: module-level names bound to lists, dicts and strings
    (with `+`, `name[key]` and `dict[key] = ...`), and the keywords of its setup() call.
    Nothing is executed; what is not literal is left out."""

    def __init__(self, text: str | None) -> None:
        import ast

        self.text = text or ""
        self.names: dict[str, object] = {}
        self.call: dict[str, object] = {}
        try:
            tree = ast.parse(self.text)
        except (SyntaxError, ValueError):  # Python 2 setup.py: the regular expressions below
            self.tree = None
            return
        self.tree = tree
        for node in tree.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                self._assign(node.targets[0], node.value)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "setup":
                for keyword in node.keywords:
                    if keyword.arg:
                        value = self._eval(keyword.value)
                        if value is not None:
                            self.call[keyword.arg] = value

    def _assign(self, target, value_node) -> None:
        import ast

        value = self._eval(value_node)
        if value is None:
            return
        if isinstance(target, ast.Name):
            self.names[target.id] = value
        elif isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name):
            container, key = self.names.get(target.value.id), self._eval(target.slice)
            if isinstance(container, dict) and isinstance(key, str):
                container[key] = value

    def _eval(self, node):
        import ast

        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, (ast.List, ast.Tuple)):
            items = [self._eval(e) for e in node.elts]
            return [i for i in items if isinstance(i, str)]
        if isinstance(node, ast.Dict):
            out = {}
            for key, value in zip(node.keys, node.values):
                key, value = self._eval(key) if key is not None else None, self._eval(value)
                if isinstance(key, str) and value is not None:
                    out[key] = value
            return out
        if isinstance(node, ast.Name):
            value = self.names.get(node.id)
            return list(value) if isinstance(value, list) else value
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            left, right = self._eval(node.left), self._eval(node.right)
            if isinstance(left, list) and isinstance(right, list):
                return left + right
            if isinstance(left, str) and isinstance(right, str):
                return left + right
        if isinstance(node, ast.Subscript):
            container, key = self._eval(node.value), self._eval(node.slice)
            if isinstance(container, dict) and isinstance(key, str):
                return container.get(key)
        return None

    def keyword(self, name: str):
        return self.call.get(name)

    def requirements(self, name: str) -> list[str]:
        value = self.call.get(name)
        return [value] if isinstance(value, str) else [v for v in value or [] if isinstance(v, str)] if isinstance(value, list) else []

    def extras(self) -> dict[str, list[str]]:
        value = self.call.get("extras_require")
        if not isinstance(value, dict):
            return {}
        return {k: [v] if isinstance(v, str) else [i for i in v if isinstance(i, str)] for k, v in value.items() if isinstance(v, (str, list))}


def _setup_py(setup_py: _SetupPy, reasons: list, tests: bool = True) -> list[str]:
    """install_requires, and (when `tests`) tests_require and the test extras of setup.py, read
    without running it."""
    if not setup_py.text:
        return []
    if setup_py.tree is not None:
        out = setup_py.requirements("install_requires")
        if tests:
            out += setup_py.requirements("tests_require")
            extras = setup_py.extras()
            for name in _test_extra_names(extras):
                out += extras[name]
        if out:
            reasons.append(("install", "requirements read from setup.py's setup() call"))
        return out
    return _setup_py_regex(setup_py.text, reasons)


def _setup_py_regex(text: str, reasons: list) -> list[str]:
    """install_requires, tests_require and test extras written as literal lists in a setup.py
    that does not parse as Python 3."""
    out = []
    for key in ("install_requires", "tests_require"):
        match = re.search(key + r"\s*=\s*" + LIST_LITERAL, text)
        if match:
            out += re.findall(r"['\"]([^'\"]+)['\"]", match[1])
    for name in TEST_EXTRAS + DEV_EXTRAS:
        match = re.search(r"['\"]" + name + r"['\"]\s*:\s*" + LIST_LITERAL, text)
        if match:
            out += re.findall(r"['\"]([^'\"]+)['\"]", match[1])
    if out:
        reasons.append(("install", "literal requirement lists in setup.py"))
    return out


def _requirement_files(files: _Reader, reasons: list, seen: set[str] | None = None, own_extras: list[str] | None = None) -> list[str]:
    """Requirement files for the tests: the test ones (with the runtime requirements.txt) when
    there are any, else the dev ones, else all but docs, lint and release files."""
    names = [n for pattern in ("requirements*.txt", "requirements/*.txt", "*requirements*.txt") for n in files.glob(pattern)]
    names = [n for n in dict.fromkeys(names) if not re.search(r"docs?|doc-|lint|release|publish|typing|mypy", n)]
    # "tests-min.txt" and friends pin the oldest supported versions for a tox env of their own;
    # mixed with the plain test file they would downgrade what the project itself requires.
    names = [n for n in names if not re.search(r"min|oldest|lowest", n)]
    tests = [n for n in names if re.search(r"test", n)]
    # "tests-pallets-dev.txt", "tests-main.txt", nightly pins: the development versions of the
    # project's own dependencies (URL lines), meant for a CI job of their own
    plain = [n for n in tests if not re.search(r"[-_.](dev|main|master|nightly|upstream|latest|pre)([-_.]|$)", Path(n).stem + ".")]
    tests = plain or tests
    dev = [n for n in names if re.search(r"dev", n)]
    base = [n for n in names if n in ("requirements.txt", "requirements/base.txt", "requirements/main.txt")]
    names = tests + base if tests else dev + base if dev else names
    out = []
    for name in names:
        out += _requirement_lines(files, name, seen if seen is not None else set(), own_extras)
    if names:
        reasons.append(("install", "requirement files: " + ", ".join(names)))
    return out


def _requirement_lines(files: _Reader, name: str, seen: set[str], own_extras: list[str] | None = None) -> list[str]:
    if name in seen:
        return []
    seen.add(name)
    lines = []
    for line in (files.read(name) or "").splitlines():
        line = line.split(" #", 1)[0].strip()
        own = re.match(r"^(?:-e\s+|--editable\s+)?\.(?:/)?\[([^\]]+)\]$", line)
        if own and own_extras is not None:
            own_extras += [e.strip() for e in own[1].split(",") if e.strip()]
        elif line.startswith(("-r ", "--requirement ")):
            include = str(Path(name).parent / line.split(None, 1)[1]).removeprefix("./")
            lines += _requirement_lines(files, include, seen, own_extras)
        elif line and not line.startswith("-"):
            lines.append(line)
    return lines


def _tox(files: _Reader, reasons: list) -> list[str]:
    text = files.read("tox.ini")
    if not text:
        return []
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(text)
    except configparser.Error:
        return []
    if not parser.has_option("testenv", "deps"):
        return []
    reasons.append(("install", "tox.ini [testenv] deps"))
    out = []
    for line in parser.get("testenv", "deps").splitlines():
        line = line.strip()
        # `-rtests/requirements.txt`, `-r{toxinidir}/requirements-test.txt`: the file's lines
        include = re.match(r"^-r\s*(?:\{toxinidir\}/)?(?:\./)?(\S+)$", line)
        if include:
            out += _requirement_lines(files, include[1], set())
        elif line and not line.startswith(("-", "{")):
            out.append(line)
    return out


def _build_requires(pyproject: dict, files: _Reader, reasons: list) -> list[str]:
    """The build backend goes into the image: the project is installed offline, without isolation."""
    system = pyproject.get("build-system", {})
    requires = system.get("requires") or ["setuptools>=40.8", "wheel"]
    reasons.append(("build", f"{system.get('build-backend', 'setuptools (legacy)')}: {', '.join(requires)}"))
    # setuptools' own PEP 517 hooks ask for `wheel` on top of build-system.requires (old setuptools
    # has no bdist_wheel without it); an isolated build would add it, an offline install cannot.
    # Likewise what a backend asks for only for an editable build (get_requires_for_build_editable):
    # without it the editable install fails offline and the project lands in site-packages.
    extra = [r for backend, needs in EDITABLE_REQUIRES.items() if system.get("build-backend", "").startswith(backend) for r in needs]
    # setup_requires (setup.py or setup.cfg): what an old setuptools build fetched at build time,
    # setuptools_scm above all; offline and without isolation it must already be there
    setup_requires = _SetupPy(files.read("setup.py")).requirements("setup_requires")
    parser = _config(files.read("setup.cfg"))
    if parser is not None and parser.has_option("options", "setup_requires"):
        setup_requires += [line.strip() for line in parser.get("options", "setup_requires").splitlines() if line.strip()]
    if setup_requires:
        reasons.append(("build", "setup_requires: " + ", ".join(setup_requires)))
    return _clean(list(requires) + ["pip", "wheel", *extra, *setup_requires], None, reasons)


#: Plugins that reorder tests or rerun failures, neutralised so that repeated runs are comparable
#: and a flaky test shows as flaky: (plugin name, what the project's addopts may pass it, the
#: argument that turns it off when its options are in use, why).
_NEUTRALISED = (
    ("randomly", ("-p randomly", "--randomly"), "-p no:randomly", "tests run in the order they are written, the same every run"),
    ("random_order", ("--random-order",), "-p no:random_order", "tests run in the order they are written, the same every run"),
    ("xdist", ("-n", "--numprocesses", "--dist"), "-n 0", "one test process: results stream in order, limits and timeouts hold per run"),
    ("rerunfailures", ("--reruns",), "--reruns 0", "a failing test is not rerun until it passes: reruns would hide flaky tests"),
)


def _runner_args(files: _Reader, pyproject: dict, reasons: list) -> tuple[str, ...]:
    """pytest arguments that keep the project's plugins working but make runs repeatable. A plugin
    is blocked with `-p no:NAME` (harmless where it is not installed); where the project's own
    addopts use its options (which would then be unknown), its options are switched off instead."""
    addopts = _addopts(files, pyproject)
    args: list[str] = []
    for name, options, off, why in _NEUTRALISED:
        if any(re.search(rf"(^|\s){re.escape(o)}(\s|=|$)", addopts) for o in options):
            args += off.split()
            reasons.append(("runner", f"{off}: {why} (the project's addopts use {name})"))
        else:
            args += ["-p", f"no:{name}"]
            reasons.append(("runner", f"-p no:{name}: {why}"))
    reasons.append(("runner", "pytest's cache kept (plugins rely on it), in a scratch folder outside the checkout"))
    return tuple(args)


def _addopts(files: _Reader, pyproject: dict) -> str:
    """The addopts of every pytest configuration file at the commit, joined (a superset is enough)."""
    found = [str(pyproject.get("tool", {}).get("pytest", {}).get("ini_options", {}).get("addopts", ""))]
    for name in sorted(files.names):
        if name.rsplit("/", 1)[-1] in ("pytest.ini", ".pytest.ini", "tox.ini", "setup.cfg") and name.count("/") <= 2:
            text = files.read(name) or ""
            found += re.findall(r"^addopts\s*=\s*((?:.*)(?:\n[ \t]+.*)*)", text, flags=re.M)
    return " ".join(" ".join(item.split()) for item in found)


def _test_runner(deps: list[str], reasons: list) -> list[str]:
    names = {canonicalize_name(Requirement(d).name) for d in deps}
    if "pytest" in names:
        reasons.append(("test runner", "pytest, as the project's test requirements pin it"))
        return []
    reasons.append(("test runner", "pytest added (unittest suites run under pytest), as of the same date"))
    return ["pytest"]


def _choose_python(pyproject: dict, files: _Reader, repo: Path, commit: str, available: list[str], reasons: list) -> str:
    """The newest available Python that the project allows and that existed at the base date."""
    spec_text = pyproject.get("project", {}).get("requires-python") or _setup_python_requires(files)
    try:
        spec = SpecifierSet(spec_text or "")
    except InvalidSpecifier:
        spec = SpecifierSet()
    allowed = [v for v in available if spec.contains(v + ".0", prereleases=True)] or list(available)
    date = git(repo, "show", "-s", "--format=%cs", commit).strip()
    by_version = sorted(allowed, key=lambda v: tuple(map(int, v.split("."))))
    released = [v for v in by_version if PYTHON_RELEASED.get(v, "0") <= date]
    # The newest Python the code could have been written for; when even the oldest image's Python
    # is newer than the commit, the oldest is the nearest.
    chosen = released[-1] if released else by_version[0]
    why = f"requires-python {spec_text!r}" if spec_text else "no requires-python"
    reasons.append(("python", f"{chosen}: {why}, base commit of {date}, base images for {', '.join(available)}"))
    return chosen


def _setup_python_requires(files: _Reader) -> str | None:
    for name in ("setup.cfg", "setup.py"):
        match = re.search(r"python_requires\s*=\s*['\"]?([^'\"\n]+)", files.read(name) or "")
        if match:
            return match[1].strip()
    return None


def earlier_date(date: str) -> str:
    """`date` (as _spec_date writes it) moved RETRY_DAYS earlier."""
    moment = dt.datetime.strptime(date, "%Y-%m-%dT%H:%M:%SZ") - dt.timedelta(days=RETRY_DAYS)
    return moment.strftime("%Y-%m-%dT00:00:00Z")


def _spec_date(repo: Path, commit: str) -> str:
    """When the dependency specifications last changed, as of `commit` (UTC, ISO 8601)."""
    out = git(repo, "log", "-1", "--format=%ct", commit, "--", *SPEC_FILES).strip() or git(
        repo, "show", "-s", "--format=%ct", commit
    ).strip()
    moment = dt.datetime.fromtimestamp(int(out), dt.timezone.utc) + dt.timedelta(days=1)
    return moment.strftime("%Y-%m-%dT00:00:00Z")


def _package_name(files: _Reader, pyproject: dict) -> str | None:
    """The import name under test: a top-level package in src/ or at the root."""
    candidates = sorted(
        {n.split("/")[1] for n in files.names if n.startswith("src/") and n.count("/") == 2 and n.endswith("/__init__.py")}
        | {n.split("/")[0] for n in files.names if n.count("/") == 1 and n.endswith("/__init__.py")}
    )
    candidates = [c for c in candidates if c not in ("tests", "test", "docs", "doc", "examples", "benchmarks")]
    name = pyproject.get("project", {}).get("name", "")
    wanted = name.replace("-", "_").lower()
    return next((c for c in candidates if c.lower() == wanted), candidates[0] if candidates else None)


def _pretend_version(repo: Path, commit: str) -> str:
    """A version for setuptools_scm / hatch-vcs / versioneer, from the nearest tag before `commit`."""
    tag = git(repo, "describe", "--tags", "--abbrev=0", commit, check=False).strip()
    match = re.search(r"\d+(\.\d+)*", tag)
    return match[0] if match else "0.0.0"


def available_pythons() -> list[str]:
    """Python versions whose swegen base image is present."""
    from swegen.images import image_labels

    return [v for v in DEBIAN_SUITES if image_labels(base_tag(v)) is not None]


def describe(plan: EnvPlan) -> str:
    """The plan as text for `swegen env show`."""
    lines = [f"image base: {plan.recipe.base_image}", f"python: {plan.python}", f"dependencies as of: {plan.exclude_newer}"]
    lines += [f"package under test: {plan.package or '(none found)'}", f"pretend version: {plan.pretend_version}"]
    lines += ["requirements:"] + ["  " + r for r in plan.recipe.files[0][1].splitlines()]
    lines += ["why:"] + [f"  {part}: {why}" for part, why in plan.reasons]
    return "\n".join(lines)


__all__ = ["EnvPlan", "plan_environment", "available_pythons", "describe", "earlier_date", "RETRY_DAYS", "BASE_REPOSITORY"]
