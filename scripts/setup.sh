#!/usr/bin/env bash
# swegen's own set-up, safe to run again: a virtual environment with swegen installed, a Docker
# engine when none answers (Debian's docker.io, started in the background), debootstrap, and the
# base image for the default Python built offline-friendly. Run as root on Debian, or as a user
# whose Docker already works.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON_VERSION=${SWEGEN_PYTHON:-3.11}
log() { echo "[setup] $*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_ready=""
apt_install() {
    if [ -z "$apt_ready" ]; then as_root apt-get update -qq; apt_ready=1; fi
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

# 1. A Python >= 3.10 with venv, and git.
command -v git >/dev/null || { log "installing git"; apt_install git; }
PY=${SWEGEN_SETUP_PYTHON:-python3}
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
    echo "[setup] swegen needs Python 3.10 or newer as python3 (or set SWEGEN_SETUP_PYTHON)" >&2
    exit 2
fi
if [ ! -x .venv/bin/python ]; then
    log "creating .venv"
    if ! "$PY" -m venv .venv 2>/dev/null; then
        rm -rf .venv
        log "installing python3-venv"
        apt_install python3-venv python3-pip
        "$PY" -m venv .venv
    fi
fi
log "installing swegen into .venv"
.venv/bin/python -m pip install -q -U pip 'setuptools>=68' wheel 2>&1 | grep -v '^WARNING: Location' || true
# the ray extra too: tests/test_ray.py runs a real two-node Ray cluster on this machine
.venv/bin/python -m pip install -q -e '.[test,ray]' 2>&1 | grep -v '^WARNING: Location' || true
.venv/bin/python -c 'import swegen' || { log "installing swegen failed"; exit 2; }

# Debian's docker-registry (the reference registry): tests/test_ray.py pushes and pulls through it.
command -v docker-registry >/dev/null || { log "installing docker-registry (the Ray tests push images to it)"; apt_install docker-registry; }
# Debian's chromium: the tests open the HTML report in it, headless.
# Debian's Go and Node: tests/test_lang_go.py and tests/test_lang_javascript.py run real go test
# and node on the host (the environment images install their own).
command -v go >/dev/null || { log "installing golang-go (the Go language tests run real go test)"; apt_install golang-go; }
command -v node >/dev/null && command -v npm >/dev/null || { log "installing nodejs and npm (the JavaScript language tests)"; apt_install nodejs npm; }
command -v chromium >/dev/null || { log "installing chromium (the tests open the HTML report in it)"; apt_install chromium; }

# 2. A Docker engine that answers.
docker_answers() { command -v docker >/dev/null && timeout 20 docker info >/dev/null 2>&1; }
if ! docker_answers; then
    if ! command -v dockerd >/dev/null; then
        log "installing Docker (Debian's docker.io)"
        apt_install docker.io
    fi
    if ! docker_answers; then
        log "starting dockerd in the background (log: /var/log/swegen-dockerd.log)"
        # its own session, so that it outlives the shell (and process group) that started it
        as_root sh -c 'setsid nohup dockerd >>/var/log/swegen-dockerd.log 2>&1 </dev/null &'
        for _ in $(seq 60); do docker_answers && break; sleep 1; done
        docker_answers || { log "dockerd did not start; see /var/log/swegen-dockerd.log"; exit 2; }
    fi
fi

# 3. The base image, built locally: no registry is needed.
if ! .venv/bin/swegen images list 2>/dev/null | grep -q "swegen-base:py${PYTHON_VERSION}"; then
    command -v debootstrap >/dev/null || { log "installing debootstrap"; apt_install debootstrap; }
fi
log "base image for Python ${PYTHON_VERSION}"
.venv/bin/swegen images build-base --python "$PYTHON_VERSION"
log "ready"
