"""Agent images: a preset's agent installed on top of one environment image, built once.

The tag carries the agent's name and version and a hash of the template, the environment image's
id, the requirement and the CA bundle, so the same agent on the same environment is built once
and reused by every later run (and by the tests); labels (`swegen.kind=agent`) let `swegen clean
--images` find them. The install needs the registry, so it is built with the host's network and
the host's CA bundle, like environment images; the agent's sandbox itself gets none of that.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterable

from swegen.agents import AgentPreset
from swegen.docker_sandbox import LABEL_MANAGED, docker_client
from swegen.errors import ImageBuildFailed
from swegen.images import LABEL_KIND, base_image_id, image_labels
from swegen.resources import template_env, template_source

AGENT_REPOSITORY = "swegen-agent"
AGENT_TEMPLATE = "agent.Dockerfile.j2"
LABEL_AGENT = "swegen.agent"
LABEL_AGENT_VERSION = "swegen.agent_version"
LABEL_ENV_IMAGE = "swegen.env_image"


def render(preset: AgentPreset, version: str, env_image: str, ca_bundle: bool) -> str:
    """The Dockerfile of one agent on one environment image."""
    return template_env().get_template(AGENT_TEMPLATE).render(
        env_image=env_image, installer=preset.installer, package=preset.package,
        requirement=preset.requirement(version), ca_bundle=ca_bundle,
    )


def agent_tag(preset: AgentPreset, version: str, env_image: str, ca: bytes | None) -> str:
    """swegen-agent:<name>-<version>-<hash>: the hash covers everything that builds it."""
    digest = hashlib.sha256()
    for part in (template_source(AGENT_TEMPLATE), render(preset, version, env_image, ca is not None), base_image_id(env_image), ca or b""):
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big") + data)
    return f"{AGENT_REPOSITORY}:{preset.name}-{version}-{digest.hexdigest()[:12]}"


def build_agent_image(
    preset: AgentPreset,
    env_image: str,
    *,
    version: str | None = None,
    ca_bundle: Path | None = None,
    log_path: Path | None = None,
    log: Callable[[str], None] = lambda line: None,
) -> tuple[str, bool]:
    """The agent image for `preset` on `env_image`, built unless present. Returns (tag, built)."""
    version = version or preset.version
    ca = ca_bundle.read_bytes() if ca_bundle else None
    tag = agent_tag(preset, version, env_image, ca)
    if image_labels(tag) is not None:
        if log_path is not None and not log_path.exists():
            log_path.parent.mkdir(parents=True, exist_ok=True)
            log_path.write_text(f"{tag} was already built; reused.\n", encoding="utf-8")
        return tag, False
    lines: list[str] = []
    labels = {LABEL_MANAGED: "true", LABEL_KIND: "agent", LABEL_AGENT: preset.name, LABEL_AGENT_VERSION: version, LABEL_ENV_IMAGE: env_image}
    try:
        with tempfile.TemporaryDirectory(prefix="swegen-agent-") as context:
            (Path(context) / "Dockerfile").write_text(render(preset, version, env_image, ca is not None), encoding="utf-8")
            if ca is not None:
                (Path(context) / "ca-bundle.crt").write_bytes(ca)
            _build(Path(context), tag, labels, lines, log)
    finally:
        if log_path is not None:  # kept on failure too: it says why
            log_path.parent.mkdir(parents=True, exist_ok=True)
            log_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return tag, True


def _build(context: Path, tag: str, labels: dict[str, str], lines: list[str], log: Callable[[str], None]) -> None:
    try:
        stream: Iterable[dict[str, Any]] = docker_client().api.build(
            path=str(context), tag=tag, rm=True, forcerm=True, decode=True, labels=labels, network_mode="host"
        )
        for chunk in stream:
            text = (chunk.get("stream") or chunk.get("status") or "").rstrip()
            if text.strip():
                lines.append(text)
                log(text)
            if "error" in chunk:
                lines.append(chunk["error"])
                raise ImageBuildFailed(f"installing the agent into {tag} failed", hint="see the agent image's build log",
                                       detail="\n".join(lines[-30:]))
    except ImageBuildFailed:
        raise
    except Exception as exc:
        raise ImageBuildFailed(f"building the agent image {tag} failed", detail=str(exc)) from exc
