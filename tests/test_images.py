"""Image tags change when, and only when, the recipe that builds them changes."""

from __future__ import annotations

import dataclasses
import uuid

import pytest

from swegen.images import (
    EnvRecipe,
    base_recipe,
    build_env_image,
    env_fingerprint,
    env_tag,
    image_labels,
)
from swegen import languages
from swegen.errors import BadInput, ImageMissing

from conftest import TEST_PYTHON

RECIPE = EnvRecipe(
    base_image="swegen-base:py3.11",
    system_packages=("libxml2-dev", "gcc"),
    install=("pip install -r /opt/swegen/deps/requirements.txt",),
    env=(("A", "1"), ("B", "2")),
    files=(("requirements.txt", "pytest==8.0\n"),),
)
BASE_ID = "sha256:" + "a" * 64


def tag(recipe: EnvRecipe = RECIPE, base_id: str = BASE_ID, ca: bytes | None = None) -> str:
    return env_tag(env_fingerprint(recipe, base_id, ca))


def test_same_recipe_same_tag():
    assert tag() == tag(dataclasses.replace(RECIPE))
    assert tag().startswith("swegen-env:") and len(tag().split(":")[1]) == 16


def test_order_of_unordered_parts_does_not_matter():
    shuffled = dataclasses.replace(RECIPE, system_packages=("gcc", "libxml2-dev"), env=(("B", "2"), ("A", "1")))
    assert tag(shuffled) == tag()


@pytest.mark.parametrize(
    "change",
    [
        {"base_image": "python:3.11-slim"},
        {"python": "python3.11"},
        {"system_packages": ("gcc",)},
        {"pre_install": ("pip install -U pip",)},
        {"install": ("pip install pytest",)},
        {"env": (("A", "1"), ("B", "3"))},
        {"files": (("requirements.txt", "pytest==8.1\n"),)},
        {"files": (("requirements-dev.txt", "pytest==8.0\n"),)},
    ],
)
def test_any_change_to_the_recipe_changes_the_tag(change):
    assert tag(dataclasses.replace(RECIPE, **change)) != tag()


def test_a_rebuilt_base_image_or_another_ca_changes_the_tag():
    assert tag(base_id="sha256:" + "b" * 64) != tag()
    assert tag(ca=b"-----BEGIN CERTIFICATE-----") != tag()
    assert tag(ca=b"one") != tag(ca=b"two")


def test_rendered_dockerfile_carries_the_recipe():
    text = RECIPE.render(ca_bundle=True)
    assert text.startswith("# swegen environment image")
    assert "FROM swegen-base:py3.11" in text
    assert "apt-get install -y --no-install-recommends gcc libxml2-dev" in text
    assert "COPY ca-bundle.crt" in text and "COPY deps/" in text
    assert "COPY ca-bundle.crt" not in RECIPE.render(ca_bundle=False)


def test_base_recipe_digest_follows_its_inputs(tmp_path):
    one = base_recipe("3.11")
    assert one.suite == "bookworm" and base_recipe("3.9").suite == "bullseye"
    assert one.digest() == base_recipe("3.11").digest()
    assert one.digest() != base_recipe("3.11", mirror="http://mirror.example/debian").digest()
    ca = tmp_path / "ca.pem"
    ca.write_text("company CA")
    assert one.digest() != base_recipe("3.11", ca_bundle=ca).digest()
    assert one.digest() != dataclasses.replace(one, packages=one.packages + ("gcc",)).digest()
    with pytest.raises(BadInput):
        base_recipe("2.7")


@pytest.mark.docker
def test_env_image_is_built_once_and_shared(base_image, tmp_path):
    recipe = EnvRecipe(base_image=base_image, env=(("SWEGEN_TEST_MARK", "shared"),))
    first, built_first = build_env_image(recipe, ca_bundle=None, log_path=tmp_path / "build.log")
    second, built_second = build_env_image(dataclasses.replace(recipe), ca_bundle=None)
    assert first == second and not built_second
    labels = image_labels(first)
    assert labels is not None and labels["swegen.kind"] == "env"
    assert labels["swegen.fingerprint"].startswith(first.split(":")[1])
    if built_first:
        assert "Successfully built" in (tmp_path / "build.log").read_text() or "Successfully tagged" in (tmp_path / "build.log").read_text()
    changed, _ = build_env_image(dataclasses.replace(recipe, env=(("SWEGEN_TEST_MARK", "other"),)), ca_bundle=None)
    assert changed != first


@pytest.mark.docker
def test_missing_base_image_says_how_to_build_it(docker_ready):
    with pytest.raises(ImageMissing) as info:
        build_env_image(EnvRecipe(base_image="swegen-base:py3.99"), ca_bundle=None)
    assert "swegen images build-base --python 3.99" in info.value.hint


# -- the package index not answering: an outage, never the recipe's failure ------------------------

#: An index address where nothing listens: every request is refused at once.
DEAD_INDEX = "http://127.0.0.1:9/simple"


def _dated_install(base_image: str, requirements: str, index: str | None) -> EnvRecipe:
    """The recipe's own install step (swegen.languages.python.env) for `requirements`, against `index` if given."""
    from swegen.languages.python.env import _install_command

    install = _install_command("2024-05-01T00:00:00Z", TEST_PYTHON, [])
    if index:
        install = f"export UV_INDEX_URL={index} UV_HTTP_TIMEOUT=5; {install}"
    return EnvRecipe(base_image=base_image, pre_install=("pip install --no-cache-dir uv",),
                     install=(install,), files=(("requirements.txt", requirements),))


@pytest.mark.docker
def test_an_index_that_does_not_answer_fails_the_build_as_an_outage_after_new_tries(base_image, tmp_path, monkeypatch):
    """The install step's one-by-one fallback would skip every requirement when the index does not
    answer and leave an image without them, kept and reused for good; instead the build stops,
    is tried again, and fails as PackageIndexDown (not the recipe's ImageBuildFailed)."""
    from swegen import images
    from swegen.errors import PackageIndexDown

    monkeypatch.setattr(images, "INDEX_RETRY_WAITS", (0.5,))
    recipe = _dated_install(base_image, "attrs\n", DEAD_INDEX)
    with pytest.raises(PackageIndexDown) as info:
        build_env_image(recipe, ca_bundle=None, log_path=tmp_path / "build.log")
    said = [line.strip() for line in (tmp_path / "build.log").read_text().splitlines() if not line.startswith(("Step ", "The command"))]
    log = "\n".join(said)
    assert images.INDEX_DOWN_MARK in said and not any(line.startswith("swegen: skipped") for line in said), log[-2000:]
    assert log.count("building again") == 1 and "the package index did not answer" in info.value.message
    assert image_labels(env_tag(env_fingerprint(recipe, images.base_image_id(recipe.base_image), None))) is None


@pytest.mark.docker
def test_a_requirement_the_index_does_not_have_is_skipped_and_the_image_built(base_image, tmp_path):
    """The control: a real resolution failure (no such distribution) with the index answering is
    the recipe's, handled by installing the others one by one, as before."""
    from swegen import images

    recipe = _dated_install(base_image, "swegen-no-such-distribution-zz==1.0\niniconfig\n", None)
    # built afresh every time, past docker's layer cache too: a cached install step prints nothing
    recipe = dataclasses.replace(recipe, pre_install=(f"echo {uuid.uuid4().hex}", *recipe.pre_install))
    tag, built = build_env_image(recipe, ca_bundle=None, log_path=tmp_path / "build.log")
    said = [line.strip() for line in (tmp_path / "build.log").read_text().splitlines() if not line.startswith(("Step ", "The command"))]
    assert built
    assert "swegen: skipped swegen-no-such-distribution-zz==1.0" in said, "\n".join(said)[-2000:]
    assert images.INDEX_DOWN_MARK not in said
    assert image_labels(tag) is not None
    images.docker_client().images.remove(tag, force=True)  # one of its own every run: not kept


@pytest.mark.docker
def test_an_index_outage_under_validation_is_an_infrastructure_error_with_nothing_recorded(base_image, tmp_path, monkeypatch):
    """A project's own install (swegen.toml) against an index that does not answer: the testbed's
    error is an infrastructure error, and no `.failed` marker makes later runs reuse it."""
    from swegen import images
    from swegen.sandbox import Limits
    from swegen.testbed import Environments, is_infra
    from gitrepo import GitRepo

    monkeypatch.setattr(images, "INDEX_RETRY_WAITS", ())
    repo = GitRepo(tmp_path / "repo")
    head = repo.commit("Init", {
        "swegen.toml": f'[environment]\ninstall = ["pip install --timeout 5 --index-url {DEAD_INDEX} attrs"]\n',
        "pkg/__init__.py": "",
    })
    run = tmp_path / "run"
    run.mkdir()
    envs = Environments(run, repo.path, base_image=base_image)
    bed, _, error = envs.testbed({"instance_id": "local__pkg-1", "base_commit": head}, Limits())
    assert bed is None and is_infra(error) and "package index did not answer" in error, error
    assert not list((run / "envs").glob("*.failed"))


def test_base_recipe_with_toolchains_keeps_its_core_and_adds_their_packages():
    plain, with_go = base_recipe("3.11"), base_recipe("3.11", toolchains=languages.toolchains(["go"]))
    both = base_recipe("3.11", toolchains=languages.toolchains(["javascript", "go", "go"]))
    assert plain.toolchains == () and plain.all_packages() == plain.packages
    assert with_go.core_digest() == plain.core_digest() == plain.digest()  # an image built before toolchains is still up to date
    assert with_go.digest() != plain.digest() and both.digest() not in (plain.digest(), with_go.digest())
    assert "golang-go" in with_go.all_packages() and "golang-go" not in plain.all_packages()
    assert both.toolchains == ("go", "javascript") and both.digest() == base_recipe("3.11", toolchains=languages.toolchains(["go", "javascript"])).digest()
    assert {"nodejs", "npm", "golang-go"} <= set(both.all_packages())
    with pytest.raises(BadInput, match="cobol"):
        languages.toolchains(["cobol"])


def test_an_image_covers_a_recipe_with_its_core_and_at_least_its_toolchains():
    from swegen.images import LABEL_CORE, LABEL_RECIPE, LABEL_TOOLCHAINS, _covers

    plain, with_go = base_recipe("3.11"), base_recipe("3.11", toolchains=languages.toolchains(["go"]))
    before_toolchains = {LABEL_RECIPE: plain.digest()}  # an image built by an earlier swegen
    assert _covers(before_toolchains, plain) and not _covers(before_toolchains, with_go)
    go_image = {LABEL_RECIPE: with_go.digest(), LABEL_CORE: plain.core_digest(), LABEL_TOOLCHAINS: "go"}
    assert _covers(go_image, plain) and _covers(go_image, with_go)
    assert not _covers(go_image, base_recipe("3.11", toolchains=languages.toolchains(["javascript"])))
    assert not _covers({**go_image, LABEL_CORE: "other"}, plain) and not _covers(None, plain)


def test_env_dockerfile_leaves_out_the_packages_its_base_image_holds():
    recipe = dataclasses.replace(RECIPE, system_packages=("golang-go", "libxml2-dev"))
    text = recipe.render(ca_bundle=False, present=["golang-go", "python3"])
    install = [line for line in text.splitlines() if "apt-get install" in line and "libxml2-dev" in line]
    assert len(install) == 1 and "golang-go" not in install[0]
    assert "In the base image already (swegen images build-base --language): golang-go" in text
    assert "golang-go" in [w for line in recipe.render(ca_bundle=False).splitlines() if "libxml2-dev" in line for w in line.split()]
    everything = recipe.render(ca_bundle=False, present=["golang-go", "libxml2-dev"])
    assert not [line for line in everything.splitlines() if line.startswith("RUN apt-get update && apt-get install -y --no-install-recommends golang")]
    assert "apt-get install -y --no-install-recommends golang-go libxml2-dev" not in everything


@pytest.mark.docker
@pytest.mark.slow  # 5 to 10 minutes: a debootstrap of bookworm with Go
def test_a_base_image_with_the_go_toolchain_builds_go_environments_without_apt(tmp_path, docker_ready):
    """`build-base --language go` into a tag of its own: Go is in the image, and a Go plan's
    environment image on it installs nothing from Debian."""
    from swegen.images import build_base_image, host_ca_bundle, LABEL_TOOLCHAINS
    from swegen.languages.go import LANGUAGE
    from swegen.docker_sandbox import DockerSandbox
    from swegen.sandbox import SandboxSpec
    from tests.gitrepo import GitRepo

    tag = "swegen-test-base:py3.11-go"
    recipe = base_recipe("3.11", ca_bundle=host_ca_bundle(), toolchains=languages.toolchains(["go"]))
    built_tag, _ = build_base_image(recipe, tag=tag)
    assert built_tag == tag and image_labels(tag)[LABEL_TOOLCHAINS] == "go"
    assert build_base_image(base_recipe("3.11", ca_bundle=host_ca_bundle()), tag=tag) == (tag, False)  # covered
    repo = GitRepo(tmp_path / "repo")
    commit = repo.commit("init", {"go.mod": "module example.com/t\n\ngo 1.19\n", "t_test.go": "package t\n\nimport \"testing\"\n\nfunc TestT(t *testing.T) {}\n"})
    plan = LANGUAGE.plan(repo.path, commit, "2023-01-01")
    env_recipe = dataclasses.replace(plan.recipe, base_image=tag)
    assert "golang-go" in env_recipe.system_packages
    env_image, _ = build_env_image(env_recipe, ca_bundle=host_ca_bundle(), log_path=tmp_path / "build.log")
    log = (tmp_path / "build.log").read_text()
    assert "golang-go" not in [w for line in log.splitlines() if "apt-get install" in line for w in line.split()], log[-2000:]
    with DockerSandbox(SandboxSpec(image=env_image)) as box:
        assert "go1.19" in box.exec("go version", timeout=60).stdout
