#!/usr/bin/env bash
# Regenerate the staged (composited) test clips in testdata/staged/ from
# testdata/vtest.mp4. See make-staged.py and testdata/README.md ("Staged clips").
#
# Creates a Python venv OUTSIDE the repository (default /tmp/staging-venv,
# override with STAGED_VENV) with pinned numpy + opencv-python-headless from
# PyPI, then runs make-staged.py. Extra arguments are passed through, e.g.
#   testdata/staged/make-staged.sh --only sign-dark
# Needs: python3 with venv, gst-launch-1.0 (GStreamer 1.22: plugins
# base/good/bad/ugly/libav), ~0.6 GB free in $TMPDIR for the decoded source.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${STAGED_VENV:-/tmp/staging-venv}"
if [[ ! -x "$venv/bin/python" ]]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install -q "numpy==2.4.6" "opencv-python-headless==5.0.0.93"
exec "$venv/bin/python" "$here/make-staged.py" "$@"
