"""The Go environment of a repository at a commit: go.mod read from git, Debian's Go chosen by the
module's `go` line and the commit's date, and the `go test -json` command that runs test files.

Everything is read with `git show`/`git ls-tree` at the commit, never from the work tree, so a
plan is the same whatever is checked out. There is often no Go module proxy where swegen runs,
so a plan says plainly whether the module builds offline: with no requirements at all, or with
every requirement vendored (vendor/modules.txt); otherwise it needs a proxy (SWEGEN_GOPROXY,
or GoLanguage(goproxy=...)), and without one only the packages that import nothing outside the
module can be tested (the others are `[setup failed]`, which the parser reads as ERROR).
"""

from __future__ import annotations

import os
import posixpath
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path, PurePosixPath

from swegen.errors import SwegenError
from swegen.images import EnvRecipe, base_tag
from swegen.languages.base import Plan, TestCommand
from swegen.languages.go.roles import is_excluded, package_dir

#: Debian's golang-go in each swegen base image: (base image's Python, Debian suite, Go version).
#: Go keeps the Go 1 compatibility promise, so the oldest Go that is new enough is the safest pick.
DEBIAN_GO = (("3.11", "bookworm", (1, 19)), ("3.13", "trixie", (1, 24)))
TOOLCHAIN_PACKAGES = ("golang-go",)
#: When each Go release came out (go.dev/doc/devel/release): says which Go was current at a date.
GO_RELEASES = {
    (1, 11): "2018-08-24", (1, 12): "2019-02-25", (1, 13): "2019-09-03", (1, 14): "2020-02-25",
    (1, 15): "2020-08-11", (1, 16): "2021-02-16", (1, 17): "2021-08-16", (1, 18): "2022-03-15",
    (1, 19): "2022-08-02", (1, 20): "2023-02-01", (1, 21): "2023-08-08", (1, 22): "2024-02-06",
    (1, 23): "2024-08-13", (1, 24): "2025-02-11", (1, 25): "2025-08-12",
}
#: The go line a go.mod without one is read as (cmd/go: "go 1.16" when absent).
DEFAULT_GO = (1, 16)
GOCACHE = "/tmp/swegen-go-cache"
GOMODCACHE = "/opt/swegen/gomodcache"
REPORT_PATH = "/tmp/swegen-go-test.json"
PROXY_ENV = "SWEGEN_GOPROXY"
#: The module path, carried in the plan's test environment so that a test command given test ids
#: (`<import path>::<Test>`) instead of files can find their package folders.
MODULE_ENV = "SWEGEN_GO_MODULE"
#: How the module's requirements reach the build: none, vendor, proxy (downloaded into the image),
#: or missing (no proxy: packages importing them cannot build).
DEPS_ENV = "SWEGEN_GO_DEPS"


class GoModError(SwegenError):
    """A go.mod that cannot be read at a commit."""


@dataclass(frozen=True)
class GoMod:
    """What a plan needs from one go.mod."""

    #: Folder of the go.mod relative to the repository root ("" for the root).
    root: str
    module: str
    go: tuple[int, int] | None
    toolchain: str | None
    #: Required module paths that no local `replace` (=> ./dir, ../dir) provides: what a proxy must give.
    requires: tuple[str, ...]
    vendored: bool
    #: The highest `go` line among vendored modules (vendor/modules.txt `## explicit; go 1.N`).
    vendor_go: tuple[int, int] | None = None
    go_sum: str = ""
    text: str = ""
    #: No go.mod at the commit (GOPATH-era code): this one is made in the sandbox, its module
    #: path read from the code (an import comment, the repository's imports of itself).
    synthesized: bool = False


def _git(repo: Path, *args: str) -> str:
    result = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise GoModError(f"git {' '.join(args)} failed in {repo}", hint=result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "")
    return result.stdout


def _show(repo: Path, commit: str, path: str) -> str | None:
    result = subprocess.run(["git", "-C", str(repo), "show", f"{commit}:{path}"], capture_output=True)
    return result.stdout.decode("utf-8", "replace") if result.returncode == 0 else None


def _version(text: str) -> tuple[int, int] | None:
    match = re.match(r"(?:go)?(\d+)\.(\d+)", text.strip())
    return (int(match.group(1)), int(match.group(2))) if match else None


def _strip_comment(line: str) -> str:
    return line.split("//", 1)[0].strip()


def parse_gomod(text: str, root: str = "", vendor_modules: str | None = None, go_sum: str = "") -> GoMod:
    """The module path, go and toolchain lines, and requirements of a go.mod (its own grammar is
    line based: `require x v1` or a `require (...)` block; `// indirect` ones count too)."""
    module, go, toolchain, requires, local = "", None, None, [], set()
    block = None
    for raw in text.splitlines():
        line = _strip_comment(raw)
        if not line:
            continue
        if block:
            if line == ")":
                block = None
            elif block == "require":
                requires.append(line.split()[0])
            elif block == "replace":
                local |= _local_replace(line)
            continue
        words = line.split()
        verb = words[0]
        if len(words) >= 2 and words[1] == "(":
            block = verb
            continue
        if verb == "module" and len(words) >= 2:
            module = words[1].strip('"')
        elif verb == "go" and len(words) >= 2:
            go = _version(words[1])
        elif verb == "toolchain" and len(words) >= 2:
            toolchain = words[1]
        elif verb == "require" and len(words) >= 2:
            requires.append(words[1])
        elif verb == "replace":
            local |= _local_replace(line[len("replace"):])
    requires = [r for r in requires if r not in local]
    vendor_go = None
    if vendor_modules:
        versions = [_version(v) for v in re.findall(r"^## .*\bgo (\d+\.\d+)", vendor_modules, re.MULTILINE)]
        vendor_go = max((v for v in versions if v), default=None)
    return GoMod(root, module, go, toolchain, tuple(requires), vendor_modules is not None, vendor_go, go_sum, text)


def _local_replace(spec: str) -> set[str]:
    """The module a `old [version] => ./dir` replace points at a folder (none for another module)."""
    if "=>" not in spec:
        return set()
    old, new = (part.split() for part in spec.split("=>", 1))
    target = new[0] if new else ""
    local = target.startswith(("./", "../", "/")) or target in (".", "..")
    return {old[0].strip('"')} if old and local else set()


def modules_at(repo: Path, commit: str) -> list[GoMod]:
    """Every go.mod of the repository at `commit` (outside vendor/ and testdata/), root first."""
    return list(_modules_at(str(Path(repo).resolve()), _git(Path(repo), "rev-parse", "--verify", f"{commit}^{{commit}}").strip()))


@lru_cache(maxsize=256)
def _modules_at(repo_path: str, sha: str) -> tuple[GoMod, ...]:
    """Cached by commit id: what a commit holds never changes (mining binds once per commit)."""
    repo = Path(repo_path)
    names = _git(repo, "ls-tree", "-r", "--name-only", sha).splitlines()
    found = []
    for name in names:
        path = PurePosixPath(name)
        if path.name != "go.mod" or is_excluded(name) or "testdata" in path.parts:
            continue
        root = "" if str(path.parent) == "." else str(path.parent)
        prefix = f"{root}/" if root else ""
        text = _show(repo, sha, name) or ""
        vendor = _show(repo, sha, f"{prefix}vendor/modules.txt")
        found.append(parse_gomod(text, root, vendor, _show(repo, sha, f"{prefix}go.sum") or ""))
    if not found and any(n.endswith(".go") and not is_excluded(n) for n in names):
        found.append(_gopath_module(repo, sha, names))
    return tuple(sorted(found, key=lambda m: (m.root.count("/") if m.root else -1, m.root)))


#: `package uuid // import "github.com/google/uuid"`: Go 1.4's canonical import comment.
_IMPORT_COMMENT = re.compile(r'^package\s+\w+\s*//\s*import\s+"([^"]+)"', re.MULTILINE)
_IMPORTS = re.compile(r'"((?:[\w.-]+\.[a-z]{2,}|[\w-]+)/[\w./-]+)"')
#: How many .go files are read to find the module path of GOPATH-era code.
_GOPATH_SCAN = 200


def _gopath_module(repo: Path, sha: str, names: list[str]) -> GoMod:
    """The module of GOPATH-era code (no go.mod): its path from a root package's import comment,
    else the longest prefix of the repository's own imports that ends at its root (tests in an
    external `_test` package import it), else `local/<folder name>`; no requirements known."""
    files = [n for n in names if n.endswith(".go") and not is_excluded(n) and "testdata" not in n.split("/")][:_GOPATH_SCAN]
    root_files = [n for n in files if "/" not in n]
    texts = {n: _show(repo, sha, n) or "" for n in files}
    module = ""
    for name in root_files:
        found = _IMPORT_COMMENT.search(texts[name])
        if found:
            module = found.group(1)
            break
    if not module:
        folders = {str(PurePosixPath(n).parent) for n in files if "/" in n}
        votes: dict[str, int] = {}
        for text in texts.values():
            for imported in _IMPORTS.findall(text):
                for folder in folders:
                    if imported.endswith("/" + folder):
                        votes[imported[: -len(folder) - 1]] = votes.get(imported[: -len(folder) - 1], 0) + 1
                if root_files:
                    package = re.search(r"^package\s+(\w+)", texts[root_files[0]], re.MULTILINE)
                    if package and imported.rsplit("/", 1)[-1] == package.group(1) and "." in imported.split("/")[0]:
                        votes[imported] = votes.get(imported, 0) + 1
        module = max(votes, key=lambda m: (votes[m], -len(m)), default="")
    module = module or f"local/{repo.name}"
    return GoMod("", module, None, None, (), False, text=f"module {module}\n\ngo {DEFAULT_GO[0]}.{DEFAULT_GO[1]}\n", synthesized=True)


def module_for(modules: list[GoMod], path: str) -> GoMod | None:
    """The module a repository path belongs to: the deepest go.mod folder above it."""
    best = None
    for mod in modules:
        if not mod.root or path == mod.root or path.startswith(mod.root + "/"):
            if best is None or len(mod.root) > len(best.root):
                best = mod
    return best


def import_path(modules: list[GoMod], path: str) -> str:
    """The import path of the package a (test) file of the repository belongs to: the module path
    joined with the package folder under the module root, as `go test -json` names it. Without a
    module (GOPATH-era code) the folder itself."""
    folder = package_dir(path)
    mod = module_for(modules, folder if folder else path)
    if mod is None or not mod.module:
        return folder or "."
    rel = folder[len(mod.root):].lstrip("/") if mod.root else folder
    return f"{mod.module}/{rel}" if rel else mod.module


def supported_floor(as_of: str) -> tuple[int, int]:
    """The older of the two Go releases supported on `as_of` (Go supports its two newest): the
    oldest Go a maintained project then had to build with, so the newest whose standard library
    API its code may use whatever its go line says (a `go 1.16` module may call strings.Cut)."""
    released = sorted(v for v, date in GO_RELEASES.items() if date <= as_of[:10])
    return released[-2] if len(released) >= 2 else (released[-1] if released else (1, 11))


def choose_go(needed: tuple[int, int], as_of: str) -> tuple[str, str, tuple[int, int], str]:
    """(base image Python, Debian suite, Go version, why): the oldest Debian Go of a swegen base
    that is at least what go.mod asks and at least the older supported Go at the commit's date."""
    floor = supported_floor(as_of)
    want = max(needed, floor)
    when = (f"the older of the two supported Go releases on {as_of[:10]} was {floor[0]}.{floor[1]}"
            + (", so the code may use its standard library" if floor > needed else ""))
    for python, suite, version in DEBIAN_GO:
        if want <= version:
            return python, suite, version, (
                f"go.mod asks for Go >= {needed[0]}.{needed[1]} and {when}; Debian {suite}'s golang-go is "
                f"Go {version[0]}.{version[1]}, the oldest swegen base new enough (the Go 1 compatibility "
                f"promise keeps older code building on newer Go)")
    python, suite, version = DEBIAN_GO[-1]
    return python, suite, version, (
        f"the module needs Go >= {want[0]}.{want[1]} ({when}), newer than any swegen base (Debian "
        f"{suite} has Go {version[0]}.{version[1]}); with GOTOOLCHAIN=local it may not build")


def _needed(mod: GoMod, reasons: list[tuple[str, str]]) -> tuple[int, int]:
    needed = mod.go or DEFAULT_GO
    if mod.synthesized:
        reasons.append(("go.mod", f"none at the commit (GOPATH-era code): module {mod.module} (from the code), go "
                        f"{needed[0]}.{needed[1]}, written into the checkout in the sandbox; the imports of other "
                        f"repositories are unknown (no go.mod names them), so packages that use any do not build"))
        return needed
    reasons.append(("go.mod", f"module {mod.module or '(none)'} at {mod.root or '.'}/go.mod, "
                    + (f"go {needed[0]}.{needed[1]}" if mod.go else "no go line (read as go 1.16)")
                    + (f", toolchain {mod.toolchain} (not fetched: GOTOOLCHAIN=local)" if mod.toolchain else "")))
    if mod.vendor_go and mod.vendor_go > needed:
        reasons.append(("go version", f"a vendored module needs go {mod.vendor_go[0]}.{mod.vendor_go[1]}"))
        needed = mod.vendor_go
    return needed


def parse_gowork(text: str) -> list[str]:
    """The folders a go.work `use`s (`use ./a` or a `use (...)` block), as written."""
    folders, block = [], False
    for raw in text.splitlines():
        line = _strip_comment(raw)
        if block:
            if line == ")":
                block = False
            elif line:
                folders.append(line.strip('"'))
        elif line.startswith("use"):
            rest = line[3:].strip()
            if rest == "(":
                block = True
            elif rest:
                folders.append(rest.strip('"'))
    return folders


def _workspace(repo: Path, commit: str, mod: GoMod, modules: list[GoMod], reasons: list) -> set[str] | None:
    """The module paths of the go.work that covers the module (its folder or one above), or None.
    In workspace mode go refuses -mod=mod, and the workspace's own modules need no download."""
    parts = mod.root.split("/") if mod.root else []
    for depth in range(len(parts), -1, -1):
        folder = "/".join(parts[:depth])
        text = _show(repo, commit, f"{folder}/go.work" if folder else "go.work")
        if text is None:
            continue
        roots = {posixpath.normpath(posixpath.join(folder or ".", use)) for use in parse_gowork(text)}
        roots = {"" if r == "." else r for r in roots}
        used = {m.module for m in modules if m.root in roots}
        reasons.append(("workspace", f"{folder or '.'}/go.work uses {len(used)} module(s) of the repository: "
                        f"workspace mode (GOFLAGS=-mod=readonly; go refuses -mod=mod there)"))
        return used
    return None


def _modes(mod: GoMod, goproxy: str | None, reasons: list[tuple[str, str]], workspace: set[str] | None = None) -> tuple[dict[str, str], bool]:
    """(the go environment for test runs, whether the module builds with no network)."""
    env = {"GOTOOLCHAIN": "local", "GOCACHE": GOCACHE, "GOMODCACHE": GOMODCACHE, "GOSUMDB": "off", MODULE_ENV: mod.module}
    if workspace is not None:
        outside = [r for r in mod.requires if r not in workspace]
        env_modes = _modes(replace(mod, requires=tuple(outside)), goproxy, reasons)
        env.update(env_modes[0])
        if env["GOFLAGS"] == "-mod=mod":
            env["GOFLAGS"] = "-mod=readonly"  # go refuses -mod=mod in workspace mode
        if env[DEPS_ENV] == "none":
            env[DEPS_ENV] = "workspace"
        return env, env_modes[1]
    if mod.vendored:
        env.update(GOFLAGS="-mod=vendor", GOPROXY="off", **{DEPS_ENV: "vendor"})
        reasons.append(("modules", f"vendor/modules.txt is present: every requirement is vendored, "
                        f"GOFLAGS=-mod=vendor, GOPROXY=off (builds offline)"))
        return env, True
    if mod.synthesized:
        env.update(GOFLAGS="-mod=mod", GOPROXY="off", GO111MODULE="on", **{DEPS_ENV: "gopath"})
        reasons.append(("modules", "GOPATH-era code: module mode on the go.mod made in the sandbox, GOPROXY=off"))
        return env, True
    if not mod.requires:
        env.update(GOFLAGS="-mod=readonly", GOPROXY="off", **{DEPS_ENV: "none"})
        reasons.append(("modules", "go.mod requires no module: GOPROXY=off (builds offline); GOFLAGS=-mod=readonly, "
                        "since -mod=mod rewrites go.mod (adds a missing go line) in the checkout"))
        return env, True
    if goproxy:
        env.update(GOFLAGS="-mod=mod", GOPROXY=goproxy, **{DEPS_ENV: "proxy"})
        reasons.append(("modules", f"{len(mod.requires)} requirement(s), not vendored: fetched from the "
                        f"configured GOPROXY {goproxy} while the image is built (go mod download); "
                        f"GOFLAGS=-mod=mod, so that go.sum entries the commit lacks are added, not fatal"))
        return env, False
    env.update(GOFLAGS="-mod=readonly", GOPROXY="off", **{DEPS_ENV: "missing"})
    reasons.append(("modules", f"{len(mod.requires)} requirement(s) ({', '.join(mod.requires[:3])}"
                    f"{'...' if len(mod.requires) > 3 else ''}) and no vendor/: a Go module proxy is needed "
                    f"(set {PROXY_ENV}); without one, packages importing them are [setup failed] (ERROR)"))
    return env, True


def plan(repo: Path, commit: str, as_of: str, paths: list[str] | None = None, goproxy: str | None = None) -> Plan | None:
    """The Go plan for the module that holds `paths` (a change's files; the root module, else the
    first, when not given), or None when the commit has no go.mod."""
    modules = modules_at(repo, commit)
    if not modules:
        return None
    reasons: list[tuple[str, str]] = []
    mod = _pick(modules, paths or [], reasons)
    goproxy = goproxy if goproxy is not None else os.environ.get(PROXY_ENV) or None
    needed = _needed(mod, reasons)
    python, suite, version, why = choose_go(needed, as_of)
    reasons.append(("go version", why))
    env, offline = _modes(mod, goproxy, reasons, _workspace(repo, commit, mod, modules, reasons))
    files, install = _install(mod, env, offline, reasons)
    recipe = EnvRecipe(
        base_image=base_tag(python),
        system_packages=TOOLCHAIN_PACKAGES,
        install=install,
        env=tuple(sorted(env.items())),
        files=files,
    )
    reasons.append(("base image", f"{base_tag(python)} is Debian {suite}; golang-go added from its archive"))
    return Plan(
        language="go",
        recipe=recipe,
        runtime=("go", f"{version[0]}.{version[1]}"),
        manager="go",
        runner="go test",
        as_of=as_of,
        workdir=mod.root,
        test_env=tuple(sorted(env.items())),
        reasons=tuple(reasons),
    )


def _pick(modules: list[GoMod], paths: list[str], reasons: list[tuple[str, str]]) -> GoMod:
    if len(modules) == 1:
        return modules[0]
    counts: dict[str, int] = {}
    for path in paths:
        mod = module_for(modules, path)
        if mod is not None:
            counts[mod.root] = counts.get(mod.root, 0) + 1
    if counts:
        root = max(counts, key=lambda r: (counts[r], -len(r)))
        chosen = next(m for m in modules if m.root == root)
        reasons.append(("module", f"{len(modules)} go.mod files; {root or '.'} holds {counts[root]} of the change's files"))
        return chosen
    reasons.append(("module", f"{len(modules)} go.mod files and no change given: the {'root' if not modules[0].root else 'first'} one"))
    return modules[0]


def _install(mod: GoMod, env: dict[str, str], offline: bool, reasons: list) -> tuple[tuple[tuple[str, str], ...], tuple[str, ...]]:
    """(dependency files, install commands): a proxy's modules downloaded into the image, and the
    standard library compiled into the build cache the tests use (Go >= 1.20 ships no compiled std)."""
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in sorted(env.items()))
    warm = f"mkdir -p {GOCACHE} && env GOCACHE={GOCACHE} GOTOOLCHAIN=local GOFLAGS= go build std"
    if offline:
        reasons.append(("install", "no download: warm-up compiles the standard library into GOCACHE"))
        return (), (warm,)
    files = (("go.mod", mod.text), ("go.sum", mod.go_sum))
    download = f"cd /opt/swegen/deps && env {exports} GOFLAGS= GOWORK=off go mod download"
    if any(part == "workspace" for part, _ in reasons):
        # alone in /opt/swegen/deps, the go.mod's requirements on workspace modules cannot be found
        download += " || true"
    reasons.append(("install", "go mod download from go.mod and go.sum, then the standard library warm-up"))
    return files, (download, warm)


def test_command(plan_: Plan, test_files: list[str]) -> TestCommand:
    """`go test -json -count=1 -vet=off` on the package folders of these files (relative to the
    checkout; those outside the plan's module are left out), or of these test ids' packages; every
    package of the module (`./...`) when none is given. -vet=off: vet's checks grow with each Go
    release, and a test that fails on a vet message of a newer Go than the project's proves nothing."""
    env = dict(plan_.test_env)
    module = env.get(MODULE_ENV, "")
    packages = sorted({_target(plan_.workdir, module, item) for item in test_files} - {None})
    if not test_files:
        packages = ["./..."]
    elif not packages:  # nothing of this module: run nothing, report nothing (every test missing)
        return TestCommand(command=f": > {REPORT_PATH}", report_path=REPORT_PATH)
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in sorted(env.items()))
    run = f"env {exports} go test -json -count=1 -vet=off"
    if packages == ["./..."]:
        return TestCommand(command=f"mkdir -p {GOCACHE} && {run} ./... > {REPORT_PATH}", report_path=REPORT_PATH)
    return TestCommand(command=f"mkdir -p {GOCACHE} && {_present(packages)} && {run} $pkgs > {REPORT_PATH}",
                       report_path=REPORT_PATH)


#: go test stops before running anything when one package argument is not a package of the main
#: module (a folder the patch removed, one that holds no .go file, one inside a nested module),
#: so the command keeps only the folders that are: `$pkgs`, or no run at all (an empty report).
_PRESENT = (
    'pkgs=; for p in {args}; do '
    'ls "$p"/*.go >/dev/null 2>&1 || continue; '
    'd=$p; nested=; while [ "$d" != . ]; do [ -f "$d/go.mod" ] && nested=1; d=$(dirname "$d"); done; '
    '[ -z "$nested" ] && pkgs="$pkgs $p"; done; '
    '[ -n "$pkgs" ] || {{ : > {report}; exit 0; }}'
)


def _present(packages: list[str]) -> str:
    return "{ " + _PRESENT.format(args=" ".join(shlex.quote(p) for p in packages), report=REPORT_PATH) + "; }"


def _target(workdir: str, module: str, item: str) -> str | None:
    """The package argument for a repository file (a .go file or test data), or for a test id or
    import path of the module (None for another module's)."""
    if item.endswith(".go") or "testdata" in PurePosixPath(item).parts:
        return _package_arg(workdir, item)
    name = item.split("::", 1)[0]
    if not module or (name != module and not name.startswith(module + "/")):
        return None
    rel = name[len(module):].lstrip("/")
    return f"./{rel}" if rel else "."


def install_command(plan_: Plan) -> str:
    """Run once in a fresh container after the patches: `go build ./...` of the module. It fills
    the build cache the test runs use, and when every requirement is at hand (none, vendored, or
    downloaded into the image from a proxy) its failure says the project does not build with
    this Go: unusable. With requirements no proxy fetched, some packages cannot build, so it only
    warms up."""
    env = dict(plan_.test_env)
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in sorted(env.items()))
    build = f"mkdir -p {GOCACHE} && env {exports} go build ./..."
    if env.get(DEPS_ENV) == "gopath":
        # GOPATH-era code: the go.mod it never had, then a build whose failure proves nothing
        # (its imports of other repositories are unknown)
        made = f"printf 'module %s\\n\\ngo {DEFAULT_GO[0]}.{DEFAULT_GO[1]}\\n' {shlex.quote(env.get(MODULE_ENV, ''))} > go.mod"
        return f"{{ [ -f go.mod ] || {made}; }} && {{ {build} || true; }}"
    return f"{build} || true" if env.get(DEPS_ENV) == "missing" else build


def _package_arg(workdir: str, path: str) -> str | None:
    folder = package_dir(path)
    if workdir:
        if folder != workdir and not folder.startswith(workdir + "/"):
            return None
        folder = folder[len(workdir):].lstrip("/")
    return f"./{folder}" if folder else "."


def doctor() -> list[tuple[str, bool, str]]:
    """go on the host (tests and the example need it; the images bring their own)."""
    go = shutil.which("go")
    checks = [("go on PATH", go is not None, "apt-get install -y golang-go" if go is None else go)]
    if go is not None:
        result = subprocess.run([go, "version"], capture_output=True, text=True)
        version = result.stdout.strip() or result.stderr.strip()
        checks.append(("go version", result.returncode == 0, version))
    checks.append(("base image packages", True, " ".join(TOOLCHAIN_PACKAGES) + " (added to each Go environment image)"))
    return checks
