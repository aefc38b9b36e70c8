"""Image tags change when, and only when, the recipe that builds them changes."""

from __future__ import annotations

import dataclasses

import pytest

from swegen.images import (
    EnvRecipe,
    base_recipe,
    build_env_image,
    env_fingerprint,
    env_tag,
    image_labels,
)
from swegen.errors import BadInput, ImageMissing

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
