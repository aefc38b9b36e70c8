#!/bin/sh
# Install the project under test from /testbed, offline (the sandbox has no network): its
# dependencies are already in the image. Tries an editable install, then the compat editable
# mode and `setup.py develop` that old build backends need, then a plain install; prints which
# way worked on its last line. Versions computed from git get $SWEGEN_PRETEND_VERSION, since the
# tree has no .git.
cd /testbed || exit 3
export SETUPTOOLS_SCM_PRETEND_VERSION="${SWEGEN_PRETEND_VERSION:-0.0.0}"
export PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1
common="--no-deps --no-build-isolation -q"
if [ ! -f pyproject.toml ] && [ ! -f setup.py ] && [ ! -f setup.cfg ]; then
    echo "swegen-install: none (no packaging files; tests run from the tree)"; exit 0
fi
if pip install $common -e . ; then echo "swegen-install: editable"; exit 0; fi
if pip install $common --config-settings editable_mode=compat -e . ; then echo "swegen-install: editable-compat"; exit 0; fi
if [ -f setup.py ] && python setup.py -q develop --no-deps ; then echo "swegen-install: setup.py develop"; exit 0; fi
if pip install $common . ; then echo "swegen-install: regular"; exit 0; fi
echo "swegen-install: failed"
exit 1
