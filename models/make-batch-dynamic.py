"""Makes the batch dimension of the converted NanoDet graph dynamic.

tf2onnx writes the TF.js graph with batch fixed at 1: the input is [1,3,416,416] and the
head reshapes take their target shape from a small computed subgraph that evaluates to
[1, C, -1]. This replaces those targets with the constants [0, C, -1] (0 = keep the input's
batch), marks input and outputs with a symbolic `batch` dimension, drops the now unused
nodes and checks the model. Numerically the result equals the original for batch 1.
"""
import sys

import numpy as np
import onnx
import onnxruntime
from onnx import helper, numpy_helper

src, dst = sys.argv[1], sys.argv[2]
model = onnx.load(src)
graph = model.graph

# The reshape targets feeding the output heads, by channel count.
targets = {}
for node in graph.node:
    if node.op_type == "Reshape" and any(o in {x.name for x in graph.output} for n2 in graph.node if n2.input and n2.input[0] == node.output[0] for o in n2.output):
        targets.setdefault(node.input[1], []).append(node)
assert len(targets) == 2, f"expected two shared reshape targets, found {list(targets)}"

# Evaluate each target once (it is [1, C, -1]) and replace it by the constant [0, C, -1].
probe = onnx.ModelProto()
probe.CopyFrom(model)
for shape_name in targets:
    probe.graph.output.append(helper.make_tensor_value_info(shape_name, onnx.TensorProto.INT64, None))
session = onnxruntime.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
dims = graph.input[0].type.tensor_type.shape.dim
feed = {graph.input[0].name: np.zeros([d.dim_value for d in dims], dtype=np.float32)}
values = dict(zip(targets, session.run(list(targets), feed)))
for shape_name, nodes in targets.items():
    value = values[shape_name].astype(np.int64)
    assert value[0] == 1 and value[-1] == -1, (shape_name, value)
    value[0] = 0
    const_name = shape_name.replace(":0", "") + "_batch_dynamic"
    graph.initializer.append(numpy_helper.from_array(value, const_name))
    for n in nodes:
        n.input[1] = const_name

# Symbolic batch on the input and every output.
graph.input[0].type.tensor_type.shape.dim[0].dim_param = "batch"
for out in graph.output:
    out.type.tensor_type.shape.dim[0].dim_param = "batch"

# Remove nodes whose outputs nobody uses any more (the old shape subgraph).
while True:
    used = {i for n in graph.node for i in n.input} | {o.name for o in graph.output}
    dead = [n for n in graph.node if not any(o in used for o in n.output)]
    if not dead:
        break
    for n in dead:
        graph.node.remove(n)
used = {i for n in graph.node for i in n.input}
for init in list(graph.initializer):
    if init.name not in used:
        graph.initializer.remove(init)

onnx.checker.check_model(model)
onnx.save(model, dst)
print(f"wrote {dst}: {len(graph.node)} nodes, batch dimension dynamic")
