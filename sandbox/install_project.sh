#!/bin/sh
# Install the project under test from /testbed, offline (the sandbox has no network): its
# dependencies are already in the image. Tries an editable install, then the compat editable
# mode and `setup.py develop` that old build backends need, then a plain install; prints which
# way worked on its last line. Versions computed from git get $SWEGEN_PRETEND_VERSION, since the
# tree has no .git.
cd "${SWEGEN_TESTBED:-/testbed}" || exit 3
export SETUPTOOLS_SCM_PRETEND_VERSION="${SWEGEN_PRETEND_VERSION:-0.0.0}"
export PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1
common="--no-deps --no-build-isolation -q"
if [ ! -f pyproject.toml ] && [ ! -f setup.py ] && [ ! -f setup.cfg ]; then
    echo "swegen-install: none (no packaging files; tests run from the tree)"; exit 0
fi
if pip install $common -e . ; then echo "swegen-install: editable"; exit 0; fi
if pip install $common --config-settings editable_mode=compat -e . ; then echo "swegen-install: editable-compat"; exit 0; fi
if [ -f setup.py ] && python setup.py -q develop --no-deps ; then echo "swegen-install: setup.py develop"; exit 0; fi
if pip install $common . ; then
    # A backend without editable installs (PEP 660: poetry-core before 1.0.8, flit_core before
    # 3.4): the installed copy's packages are swapped for a .pth file that points at the checkout,
    # so the code under test is the checkout's wherever Python starts, with the installed metadata
    # (version, entry points) kept.
    if python - "$PWD" <<'PY'
import importlib.metadata as md, json, pathlib, shutil, sys, sysconfig
root = pathlib.Path(sys.argv[1]).resolve()
site = pathlib.Path(sysconfig.get_paths()["purelib"])
for dist in md.distributions():
    url = json.loads(dist.read_text("direct_url.json") or "{}").get("url", "")
    if url.rstrip("/") != root.as_uri():
        continue
    tops = {f.parts[0] for f in dist.files or [] if len(f.parts) and not f.parts[0].endswith((".dist-info", ".pth")) and f.parts[0] != ".."}
    dirs = []
    for top in sorted(tops):
        name = top[:-3] if top.endswith(".py") else top
        for base in (root, root / "src"):
            if (base / name).is_dir() or (base / (name + ".py")).is_file():
                installed = site / top
                shutil.rmtree(installed) if installed.is_dir() else installed.unlink(missing_ok=True)
                dirs.append(str(base))
                break
    if not dirs:
        sys.exit(1)
    (site / "_swegen_checkout.pth").write_text("".join(d + "\n" for d in dict.fromkeys(dirs)))
    sys.exit(0)
sys.exit(1)
PY
    then echo "swegen-install: regular, packages linked to the checkout"; exit 0; fi
    echo "swegen-install: regular"; exit 0
fi
echo "swegen-install: failed"
exit 1
