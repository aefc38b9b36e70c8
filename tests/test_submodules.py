"""The sandbox's source tree holds the content of the repository's submodules at the base commit.

Tests often keep their data in a submodule (tomlkit's test suite does), and `git archive` leaves
submodules out; swegen adds them from the clone's own copies (.git/modules), at the commit the
base commit records, recursively, so a fix validated there sees the data its tests read.
"""

from __future__ import annotations

import io
import subprocess
import tarfile

from gitrepo import GitRepo
from swegen.testbed import git_archive


def _files(archive: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def _add_submodule(repo: GitRepo, url: str, path: str) -> None:
    repo.git("-c", "protocol.file.allow=always", "submodule", "add", "-q", "--name", f"name-of-{path}", url, path)


def test_submodules_are_in_the_archive_at_the_recorded_commit(tmp_path):
    data = GitRepo(tmp_path / "data")
    first = data.commit("v1", {"cases/one.toml": "a = 1\n"})
    data.commit("v2", {"cases/one.toml": "a = 2\n", "cases/two.toml": "b = 2\n"})
    inner = GitRepo(tmp_path / "inner")
    inner.commit("inner", {"deep.txt": "deep\n"})
    data.git("-c", "protocol.file.allow=always", "submodule", "add", "-q", str(inner.path), "vendor/inner")
    data.commit("with inner")

    repo = GitRepo(tmp_path / "project")
    repo.commit("init", {"src/pkg.py": "x = 1\n"})
    _add_submodule(repo, str(data.path), "tests/data")
    repo.git("-C", "tests/data", "checkout", "-q", first)
    pinned_old = repo.commit("pin data v1", {"tests/test_pkg.py": "def test(): pass\n"})
    repo.git("-C", "tests/data", "checkout", "-q", "main")
    repo.git("-c", "protocol.file.allow=always", "-C", "tests/data", "submodule", "update", "--init", "-q")
    pinned_new = repo.commit("pin data v2")

    old = _files(git_archive(repo.path, pinned_old))
    assert old["tests/data/cases/one.toml"] == b"a = 1\n" and "tests/data/cases/two.toml" not in old
    assert old["src/pkg.py"] == b"x = 1\n"
    new = _files(git_archive(repo.path, pinned_new))
    assert new["tests/data/cases/one.toml"] == b"a = 2\n" and new["tests/data/cases/two.toml"] == b"b = 2\n"
    assert new["tests/data/vendor/inner/deep.txt"] == b"deep\n"  # a submodule of the submodule
    assert not any(".git" in name.split("/") for name in new)
    # the control: git archive alone has no submodule content
    plain = subprocess.run(["git", "-C", str(repo.path), "archive", "--format=tar", pinned_new], capture_output=True, check=True).stdout
    assert "tests/data/cases/one.toml" not in _files(plain)


def test_a_submodule_the_clone_never_checked_out_stays_empty(tmp_path):
    data = GitRepo(tmp_path / "data")
    data.commit("v1", {"one.txt": "1\n"})
    repo = GitRepo(tmp_path / "project")
    repo.commit("init", {"a.py": ""})
    _add_submodule(repo, str(data.path), "data")
    base = repo.commit("add data")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(repo.path), str(clone)], check=True)  # no --recurse-submodules
    files = _files(git_archive(clone, base))
    assert "a.py" in files and not any(name.startswith("data/") for name in files)
