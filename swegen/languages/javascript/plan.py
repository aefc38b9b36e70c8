"""The environment of a JS/TS repository at one commit: Node version, package manager, install
commands, test runner and the package the tests run in, each with the reason it was chosen.

Everything is read from git objects at the commit (`git show`, `git ls-tree`), never from the
work tree. The image installs the dependency files (package.json files, the lock file, .npmrc,
.yarnrc.yml) under /opt/swegen/deps; the test command links its node_modules into the checkout
(commands.LINK), so one image serves every commit with the same dependency files.
"""

from __future__ import annotations

import json
import shlex
import re
import subprocess
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

from swegen.errors import GitError
from swegen.images import EnvRecipe
from swegen.languages.base import Plan
from swegen.languages.javascript.commands import DEPS, OPTIONS_VAR, WORKSPACES_VAR

BASE_IMAGE = "swegen-base:py3.11"
#: Debian bookworm's nodejs (the base image's); other majors come from the npm registry's `node` package.
SYSTEM_NODE = 18
#: Node's LTS majors and the day each became LTS: the one current at a commit's date is its default.
LTS = ((4, "2015-10-01"), (6, "2016-10-18"), (8, "2017-10-31"), (10, "2018-10-30"), (12, "2019-10-21"),
       (14, "2020-10-27"), (16, "2021-10-26"), (18, "2022-10-25"), (20, "2023-10-24"), (22, "2024-10-29"), (24, "2025-10-28"))
KNOWN_MAJORS = tuple(m for m, _ in LTS)
LTS_CODENAMES = {"argon": 4, "boron": 6, "carbon": 8, "dubnium": 10, "erbium": 12, "fermium": 14,
                 "gallium": 16, "hydrogen": 18, "iron": 20, "jod": 22, "krypton": 24}
#: Runners this language can parse, in the order they are looked for among the dependencies.
RUNNERS = (("vitest", "vitest"), ("jest", "jest"), ("mocha", "mocha"), ("ava", "ava"), ("tape", "tape"))
LOCKS = (("package-lock.json", "npm"), ("npm-shrinkwrap.json", "npm"), ("pnpm-lock.yaml", "pnpm"), ("yarn.lock", "yarn"))
EXTRA_FILES = (".npmrc", ".yarnrc", ".yarnrc.yml", "pnpm-workspace.yaml", ".nvmrc", ".node-version")


# ---------------------------------------------------------------------------------------------
# Reading the commit


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, encoding="utf-8", errors="replace")


def show(repo: Path, commit: str, path: str) -> str | None:
    """A file's text at the commit, or None when it is not there."""
    result = _git(repo, "show", f"{commit}:{path}")
    return result.stdout if result.returncode == 0 else None


def tree(repo: Path, commit: str) -> list[str]:
    """Every file path at the commit."""
    result = _git(repo, "ls-tree", "-r", "--name-only", "-z", commit)
    if result.returncode != 0:
        raise GitError(f"cannot list {commit} in {repo}", hint="is the commit in this repository?", detail=result.stderr.strip())
    return [p for p in result.stdout.split("\0") if p]


def commit_date(repo: Path, commit: str) -> str:
    result = _git(repo, "show", "-s", "--format=%cI", commit)
    return result.stdout.strip()[:10] if result.returncode == 0 else ""


def _json(text: str | None) -> dict:
    if not text:
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


# ---------------------------------------------------------------------------------------------
# Node version


def lts_at(day: str) -> int:
    """The newest Node LTS major on this day (the oldest known one before any)."""
    current = LTS[0][0]
    for major, since in LTS:
        if day and day >= since:
            current = major
    return current


def _majors_of_range(spec: str) -> list[int] | None:
    """The known majors a semver range allows (`>=14`, `^16 || ^18`, `14.x`, `>=12 <17`), or
    None when it cannot be read."""
    allowed = set()
    for alternative in spec.split("||"):
        comparators = re.findall(r"(>=|<=|>|<|\^|~|=)?\s*v?(\d+)(?:\.(\d+|x|\*))?(?:\.(\d+|x|\*))?", alternative)
        if not comparators:
            if alternative.strip() in ("*", "x", ""):
                allowed.update(KNOWN_MAJORS)
                continue
            return None
        ok = set(KNOWN_MAJORS)
        for op, major, minor, patch in comparators:
            m = int(major)
            nonzero = (minor not in ("", "0", "x", "*")) or (patch not in ("", "0", "x", "*"))
            if op == ">=" or (op == ">" and nonzero):
                ok = {k for k in ok if k >= m}
            elif op == ">":
                ok = {k for k in ok if k > m}
            elif op == "<=":
                ok = {k for k in ok if k <= m}
            elif op == "<":
                ok = {k for k in ok if k < m or (k == m and nonzero)}
            else:  # ^, ~, =, bare version or x-range: that major
                ok = {k for k in ok if k == m}
        allowed |= ok
    return sorted(allowed)


def pinned_node(text: str) -> int | None:
    """The major of a .nvmrc/.node-version/volta pin (`16`, `v16.3.0`, `lts/gallium`)."""
    text = text.strip().splitlines()[0].strip() if text.strip() else ""
    m = re.match(r"v?(\d+)", text)
    if m:
        return int(m.group(1))
    if text.startswith("lts/"):
        return LTS_CODENAMES.get(text[4:].lower())
    return None


def choose_node(pins: list[tuple[str, str]], engines: str | None, day: str) -> tuple[int, str]:
    """(major, reason): a pin wins, then engines.node (the base image's 18 when allowed, else the
    allowed major nearest the commit's date), then the LTS current at the commit's date."""
    for source, text in pins:
        major = pinned_node(text)
        if major is not None:
            return major, f"{source} pins Node {text.strip().splitlines()[0]}"
    at_date = lts_at(day)
    if engines:
        majors = _majors_of_range(engines)
        if majors:
            if SYSTEM_NODE in majors:
                return SYSTEM_NODE, f"engines.node {engines!r} allows the base image's Node {SYSTEM_NODE}"
            best = min(majors, key=lambda m: (abs(m - at_date), -m))
            return best, f"engines.node {engines!r} excludes Node {SYSTEM_NODE}; {best} is the allowed LTS nearest the commit's date ({day})"
    return at_date, f"no pin or engines.node: the LTS current at the commit's date ({day})"


def node_setup(major: int) -> tuple[str, ...]:
    """Commands that make `node` this major: nothing for the base image's; else the npm registry's
    `node` package (its binaries are npm packages too, so no other download site is needed),
    with an npm old enough to run on it for majors before 14."""
    if major == SYSTEM_NODE:
        return ()
    steps = []
    if major < 14:
        steps.append("npm install -g --no-audit --no-fund npm@6")
    steps.append(f"npm install -g --no-audit --no-fund node@{major} && hash -r && node --version")
    return tuple(steps)


# ---------------------------------------------------------------------------------------------
# Workspaces, manager, runner


def workspace_globs(package: dict, pnpm_workspace: str | None) -> list[str]:
    """Workspace package folders as globs (npm/yarn `workspaces`, pnpm-workspace.yaml `packages`)."""
    ws = package.get("workspaces")
    if isinstance(ws, dict):
        ws = ws.get("packages")
    globs = [g for g in ws if isinstance(g, str)] if isinstance(ws, list) else []
    if pnpm_workspace:
        inside = False
        for line in pnpm_workspace.splitlines():
            if re.match(r"^packages\s*:", line):
                inside = True
                continue
            if inside:
                m = re.match(r"^\s*-\s*['\"]?([^'\"#]+?)['\"]?\s*(#.*)?$", line)
                if m:
                    globs.append(m.group(1).strip())
                elif line.strip() and not line.startswith((" ", "\t")):
                    inside = False
    return [g.rstrip("/") for g in globs if not g.startswith("!")]


def workspace_dirs(files: list[str], globs: list[str]) -> list[str]:
    """Folders holding a package.json that a workspace glob matches."""
    dirs = []
    for path in files:
        if not path.endswith("/package.json") or "node_modules/" in path:
            continue
        folder = path[: -len("/package.json")]
        if any(fnmatch(folder, g) or (g.endswith("/**") and folder.startswith(g[:-3] + "/")) for g in globs):
            dirs.append(folder)
    return sorted(dirs)


@dataclass(frozen=True)
class Manager:
    name: str
    lock: str | None
    version: str | None  # from packageManager ("yarn@3.6.1"), when given
    reason: str


def choose_manager(files: set[str], package: dict, yarn_lock: str | None) -> Manager:
    """By the lock file at the root; the packageManager field gives the version (and says berry)."""
    field_ = package.get("packageManager") if isinstance(package.get("packageManager"), str) else ""
    declared, _, version = field_.partition("@")
    version = version.split("+")[0] or None
    for lock, name in LOCKS:
        if lock in files:
            return Manager(name, lock, version if declared == name else None, f"{lock} at the root")
    if declared in ("npm", "yarn", "pnpm"):
        return Manager(declared, None, version, f"no lock file; packageManager says {field_}")
    return Manager("npm", None, None, "no lock file: npm resolves the dependencies as of the commit's date")


def _is_berry(manager: Manager, yarn_lock: str | None, files: set[str]) -> bool:
    if manager.version:
        return not manager.version.startswith("1.")
    return ".yarnrc.yml" in files or bool(yarn_lock and "__metadata:" in yarn_lock)


#: Corepack fetches yarn and pnpm from the npm registry, not from repo.yarnpkg.com (which a
#: network that lets only the npm registry through does not reach), and never asks.
COREPACK_ENV = "COREPACK_NPM_REGISTRY=https://registry.npmjs.org COREPACK_ENABLE_DOWNLOAD_PROMPT=0"


def yarn_release(files: set[str], yarnrc: str | None) -> str | None:
    """The yarn release a .yarnrc.yml's yarnPath names, when the repository holds it."""
    m = re.search(r"^yarnPath:\s*['\"]?([^'\"\s]+)", yarnrc or "", re.M)
    return m.group(1) if m and m.group(1) in files else None


def pnpm_for_lock(lock: str | None) -> str:
    """The pnpm major that writes this pnpm-lock.yaml's lockfileVersion (each reads only its own
    with --frozen-lockfile): 9.0 -> 9, 6.x -> 8, 5.4 -> 7, 5.3 -> 6; 8 when unknown."""
    m = re.search(r"^lockfileVersion:\s*['\"]?(\d+)(?:\.(\d+))?", lock or "", re.M)
    if not m:
        return "8"
    major, minor = int(m.group(1)), int(m.group(2) or 0)
    if major >= 9:
        return "9"
    if major == 6:
        return "8"
    if major == 5:
        return "7" if minor >= 4 else "6"
    return "8"


def rebuild(cd: str, tool: str) -> str:
    """The dependencies' own install scripts, held back at install (`npm rebuild`). One that fails
    (a native build without its toolchain, a download of a browser, a postinstall that needs the
    checkout) is said in the build log and survived: the image is kept, and only the tests that
    need that dependency fail, before and after a fix alike, so none of them can be FAIL_TO_PASS."""
    said = (f"swegen: {tool} rebuild failed (an install script of a dependency did not finish); "
            "the image is kept, and the tests that need that dependency will fail on their own")
    return f"{cd} && ({tool} rebuild || echo '{said}' >&2)"


def install_commands(manager: Manager, as_of: str, berry: bool, yarn_path: str | None = None,
                     node_major: int = SYSTEM_NODE, pnpm_lock: str | None = None,
                     deps: str = DEPS) -> tuple[tuple[str, ...], tuple[str, ...], str]:
    """(setup commands, install commands, reason). Scripts are held back at install and then run
    for the dependencies alone (`rebuild`): a root `prepare` (husky, a build) needs the checkout."""
    cd = f"cd {deps}"
    if manager.name == "npm":
        if manager.lock:
            return (), (f"{cd} && npm ci --ignore-scripts --no-audit --no-fund", rebuild(cd, "npm")), f"npm ci from {manager.lock}"
        # The base image's npm resolves (old npm's --before finds nothing in today's registry
        # answers), writing a lock old npm reads too (v2); then `npm ci` from it on the project's
        # Node (plan() puts the Node switch between the two).
        # A registry mirror may stamp every version with the day it copied it (the one this was
        # built behind does): then nothing is older than as_of, and the ranges are resolved as of
        # now instead, saying so in the build log.
        lock_only = "npm install --package-lock-only --lockfile-version=2 --ignore-scripts --no-audit --no-fund"
        resolve = (f"{cd} && ({lock_only} --before={as_of} || (echo 'swegen: npm found no versions before {as_of} "
                   f"(a registry without publish dates?); resolving the ranges as of now' && {lock_only}))")
        return (), (resolve, f"{cd} && npm ci --ignore-scripts --no-audit --no-fund", rebuild(cd, "npm")), \
            f"npm install --before={as_of} (the newest versions the ranges allowed on that date), by the base image's npm, then npm ci"
    if manager.name == "yarn":
        if berry:
            env = f"YARN_NODE_LINKER=node-modules YARN_ENABLE_SCRIPTS=0 YARN_ENABLE_TELEMETRY=0 {COREPACK_ENV}"
            if yarn_path:
                # yarn 1 hands over to the release the repository carries (.yarnrc.yml's yarnPath).
                setup = ("npm install -g --no-audit --no-fund yarn@1.22.22",)
                why = f"yarn berry from the repository's own {yarn_path}, --immutable"
            else:
                version = manager.version or "stable"
                corepack = "corepack@0.29.4" if node_major >= 18 else "corepack@0.15.3"
                setup = (f"npm install -g --no-audit --no-fund {corepack} && {COREPACK_ENV} corepack prepare yarn@{version} --activate"
                         " && corepack enable",)
                why = f"yarn berry {version} via corepack (from the npm registry), --immutable"
            return setup, (f"{cd} && {env} yarn install --immutable",), \
                why + "; node_modules linker (Plug'n'Play leaves nothing to link)"
        version = manager.version or "1"
        return (f"npm install -g --no-audit --no-fund yarn@{version}",), \
            (f"{cd} && yarn install --frozen-lockfile --ignore-scripts --non-interactive", rebuild(cd, "npm")), \
            f"yarn classic {version}, --frozen-lockfile"
    version = manager.version or pnpm_for_lock(pnpm_lock)
    return (f"npm install -g --no-audit --no-fund pnpm@{version}",), \
        (f"{cd} && pnpm install --frozen-lockfile --ignore-scripts", rebuild(cd, "pnpm")), \
        f"pnpm {version} (npm's pnpm package; packageManager's version when given), --frozen-lockfile"


def choose_runner(package: dict, root_package: dict) -> tuple[str, str]:
    """(runner, reason): named in the package's test script, else found among its dev
    dependencies (then the root's, in a monorepo), else node:test when the script runs `node --test`."""
    for source, pkg in (("", package), ("the root's ", root_package)):
        script = str((pkg.get("scripts") or {}).get("test") or "")
        if re.search(r"\bnode\b[^&|;]*--test\b", script):
            return "node:test", f"{source}test script runs node --test"
        for name, runner in RUNNERS:
            if re.search(rf"\b{name}\b", script):
                return runner, f"{source}test script runs {name}"
        deps = {**(pkg.get("dependencies") or {}), **(pkg.get("devDependencies") or {})}
        for name, runner in RUNNERS:
            if name in deps:
                return runner, f"{name} is in {source}dependencies"
    return "node:test", "no known runner in the test script or dependencies: node's own test runner"


#: Options of a runner's invocation in the test script that the test command keeps (the rest:
#: reporters, watch, coverage, file arguments, are the command's own): name -> takes a value.
KEPT_OPTIONS = {
    "mocha": {"-u": True, "--ui": True, "-r": True, "--require": True, "--recursive": False, "--extension": True,
              "-t": True, "--timeout": True, "--file": True, "--config": True, "--exit": False, "-n": True,
              "--node-option": True, "--loader": True, "--full-trace": False, "--delay": False, "--package": True},
    "jest": {"-c": True, "--config": True, "--rootDir": True, "-i": False, "--runInBand": False, "--env": True,
             "--testEnvironment": True, "--selectProjects": True, "--setupFiles": True, "--detectOpenHandles": False},
    "vitest": {"-c": True, "--config": True, "-r": True, "--root": True, "--environment": True, "--dir": True,
               "--pool": True, "--project": True, "--globals": False, "--dom": False},
    "node:test": {"--import": True, "--loader": True, "--experimental-loader": True, "-r": True, "--require": True,
                  "--experimental-vm-modules": False, "--no-warnings": False, "--enable-source-maps": False,
                  "--experimental-test-module-mocks": False},
    "ava": {"--config": True, "--timeout": True, "-T": True, "--serial": False, "-s": False, "--node-arguments": True},
    "tape": {"-r": True, "--require": True},
}
_BINARIES = {"mocha": ("mocha", "_mocha"), "jest": ("jest",), "vitest": ("vitest",), "node:test": ("node",), "ava": ("ava",), "tape": ("tape",)}


def runner_options(script: str, runner: str) -> list[str]:
    """The options the package's test script gives its runner that the tests need (mocha's
    `-u tdd`, `--require ts-node/register`, jest's `--config`, node's `--import tsx`)."""
    kept = KEPT_OPTIONS.get(runner, {})
    for segment in re.split(r"&&|\|\||;|\|", script):
        try:
            words = shlex.split(segment)
        except ValueError:
            continue
        names = [w.rsplit("/", 1)[-1] for w in words]
        at = next((i for i, n in enumerate(names) if n in _BINARIES.get(runner, ())), None)
        if at is None or (runner == "node:test" and "--test" not in words):
            continue
        out, rest = [], words[at + 1:]
        i = 0
        while i < len(rest):
            word = rest[i]
            name, eq, _ = word.partition("=")
            if name in kept:
                if kept[name] and not eq and i + 1 < len(rest):
                    out += [word, rest[i + 1]]
                    i += 2
                    continue
                out.append(word)
            i += 1
        return out
    return []


def choose_workdir(workspaces: list[str], changed: list[str]) -> tuple[str, str]:
    """The workspace package holding most of the changed files, or the root."""
    counts = {w: sum(1 for p in changed if p.startswith(w + "/")) for w in workspaces}
    best = max(counts, key=lambda w: (counts[w], -len(w)), default=None)
    if best is None or counts[best] == 0:
        return "", "the repository's root" + (" (the change touches no workspace package)" if workspaces else "")
    return best, f"the workspace package holding {counts[best]} of the {len(changed)} changed files"


# ---------------------------------------------------------------------------------------------
# The plan

#: Where the environment image puts the host's CA bundle (templates/env.Dockerfile.j2).
CA_BUNDLE = "/etc/ssl/certs/swegen-ca-bundle.crt"


def with_ca(command: str) -> str:
    """Node keeps its own CA list and reads no SSL_CERT_FILE: a TLS-intercepting proxy's CA has
    to reach npm, yarn and corepack through NODE_EXTRA_CA_CERTS (and npm's own cafile). npm 6
    (old Node's) runs scripts as `nobody` when root, which cannot write root's cache: unsafe-perm."""
    return (f"if [ -f {CA_BUNDLE} ]; then export NODE_EXTRA_CA_CERTS={CA_BUNDLE} npm_config_cafile={CA_BUNDLE}; fi; "
            "export npm_config_unsafe_perm=true; " + command)


def changed_files(repo: Path, commit: str) -> list[str]:
    """Files the commit changes against its first parent (the fix whose tests run)."""
    result = _git(repo, "diff-tree", "--no-commit-id", "-r", "--name-only", "--root", "-m", "--first-parent", commit)
    return [p for p in result.stdout.splitlines() if p]


def project_root(files: list[str], changed: list[str]) -> str | None:
    """The folder of the JS project: the root when it has a package.json, else the shallowest
    folder with one that holds most of the changed files (a project in web/ or frontend/);
    None when there is none."""
    if "package.json" in files:
        return ""
    folders = [f[: -len("/package.json")] for f in files if f.endswith("/package.json") and "node_modules/" not in f]
    counts = {d: sum(1 for c in changed if c.startswith(d + "/")) for d in folders}
    best = min((d for d in counts if counts[d]), key=lambda d: (-counts[d], d.count("/"), d), default=None)
    return best


def plan(repo: Path, commit: str, as_of: str, changed: list[str] | None = None) -> Plan | None:
    """The plan, or None when the commit has no package.json at its root or above its change."""
    all_files = tree(repo, commit)
    all_changed = changed if changed is not None else changed_files(repo, commit)
    project = project_root(all_files, all_changed)
    if project is None:
        return None
    prefix = project + "/" if project else ""
    files = [f[len(prefix):] for f in all_files if f.startswith(prefix)]
    file_set = set(files)
    get = lambda path: show(repo, commit, prefix + path)  # noqa: E731 - paths below the project
    root_package = _json(get("package.json"))
    reasons: list[tuple[str, str]] = [("project", f"package.json in {project}/ (none at the root)")] if project else []
    pnpm_ws = get("pnpm-workspace.yaml") if "pnpm-workspace.yaml" in file_set else None
    workspaces = workspace_dirs(files, workspace_globs(root_package, pnpm_ws))
    workdir, why = choose_workdir(workspaces, [c[len(prefix):] for c in all_changed if c.startswith(prefix)])
    reasons.append(("workdir", why))
    package = _json(get(f"{workdir}/package.json")) if workdir else root_package

    yarn_lock = get("yarn.lock") if "yarn.lock" in file_set else None
    manager = choose_manager(file_set, root_package, yarn_lock)
    reasons.append(("manager", f"{manager.name}: {manager.reason}"))
    berry = manager.name == "yarn" and _is_berry(manager, yarn_lock, file_set)
    yarn_path = yarn_release(file_set, get(".yarnrc.yml") if ".yarnrc.yml" in file_set else None) if berry else None

    pins = []
    for name in ((f"{workdir}/.nvmrc", f"{workdir}/.node-version") if workdir else ()) + (".nvmrc", ".node-version"):
        if name in file_set:
            pins.append((prefix + name, get(name) or ""))
    volta = root_package.get("volta") if isinstance(root_package.get("volta"), dict) else {}
    if isinstance(volta.get("node"), str):
        pins.append(("volta.node", volta["node"]))
    engines = next((e.get("node") for e in (package.get("engines"), root_package.get("engines")) if isinstance(e, dict) and isinstance(e.get("node"), str)), None)
    day = commit_date(repo, commit)
    major, why = choose_node(pins, engines, day)
    reasons.append(("node", why + ("" if major == SYSTEM_NODE else f"; installed from the npm registry's node@{major} package")))

    pnpm_lock = get("pnpm-lock.yaml") if manager.lock == "pnpm-lock.yaml" else None
    deps = f"{DEPS}/{project}" if project else DEPS
    setup, install, why = install_commands(manager, as_of, berry, yarn_path, major, pnpm_lock, deps)
    reasons.append(("install", why))
    resolve_first = manager.name == "npm" and manager.lock is None  # resolved before the Node switch

    runner, why = choose_runner(package, root_package)
    script = str((package.get("scripts") or {}).get("test") or "")
    options = runner_options(script, runner)
    reasons.append(("runner", why + (f"; its options from the test script: {' '.join(options)}" if options else "")))

    dep_files = ["package.json"] + [f"{w}/package.json" for w in workspaces]
    dep_files += [f for f in ((manager.lock,) if manager.lock else ()) + EXTRA_FILES if f and f in file_set]
    if berry:
        dep_files += [f for f in files if f.startswith(".yarn/releases/") or f.startswith(".yarn/plugins/") or f.startswith(".yarn/patches/")]
    contents = tuple((prefix + f, get(f) or "") for f in dict.fromkeys(dep_files))
    reasons.append(("files", f"{len(contents)} dependency files: " + ", ".join(f for f, _ in contents[:8]) + (" ..." if len(contents) > 8 else "")))

    recipe = EnvRecipe(
        base_image=BASE_IMAGE,
        system_packages=("nodejs", "npm"),
        pre_install=tuple(with_ca(c) for c in (() if resolve_first else node_setup(major)) + setup),
        install=tuple(with_ca(c) for c in (install[:1] + node_setup(major) + install[1:] if resolve_first else install)),
        env=(("PATH", f"{deps}/node_modules/.bin:/usr/local/bin:/opt/swegen/venv/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin"),
             ("NODE_OPTIONS", "--max-old-space-size=4096")),
        files=contents,
    )
    # The link step links node_modules of the project folder and of each workspace package.
    linked = ([project] if project else []) + [prefix + w for w in workspaces]
    test_env = ((WORKSPACES_VAR, " ".join(linked)),) if linked else ()
    if options:
        test_env += ((OPTIONS_VAR, " ".join(shlex.quote(o) for o in options)),)
    return Plan(language="javascript", recipe=recipe, runtime=("node", str(major)), manager=manager.name, runner=runner,
                as_of=as_of, workdir=prefix + workdir if workdir else project, test_env=test_env, reasons=tuple(reasons))
