#!/usr/bin/env python3
"""Golden reference for Steward's NanoDet decoder, independent of the Rust code.

Reads the letterboxed 416x416 RGB model-input frames in this directory
(frame_05s.png, frame_30s.png, frame_60s.png; made by make-frames.sh), runs
models/nanodet-m-416-coco.onnx with onnxruntime (CPUExecutionProvider) and
decodes the raw outputs in numpy, then writes golden.json.

Preprocessing: RGB -> BGR, float32, (x - mean) / std per channel, HWC -> NCHW
[1, 3, 416, 416], mean = [103.53, 116.28, 123.675], std = [57.375, 57.12, 58.395]
(BGR order).

Decoding (NanoDet / GFL head), per stride s in (8, 16, 32):
  side = 416 / s, N = side^2; the score output is the one shaped [1, N, 80]
  (sigmoid already applied in the graph) and the box output the one shaped
  [1, N, 44] (4 sides x 11 bins of raw logits). Outputs are told apart by
  shape, never by name.
  cell i: cx = ((i % side) + 0.5) * s, cy = ((i // side) + 0.5) * s
          (cell CENTRE, as in upstream NanoDet v0.x; the cell origin without
          +0.5 shifts every box by s/2 up and left: see README.md, "Anchor point")
  dist  = softmax over the 11 bins of [N, 4, 11], expectation sum(k * p_k),
          times s -> (left, top, right, bottom)
  box   = (cx - l, cy - t, cx + r, cy + b), in 416-pixel input coordinates,
          not clipped to the image
  keep the highest-scoring class of each cell if its score >= 0.35.
Then greedy NMS per class with IoU > 0.6 suppressing (IoU = intersection /
union of plain areas (x2-x1)*(y2-y1)), and all kept detections sorted by score,
descending.

Run:  /tmp/golden-venv/bin/python testdata/golden/make_golden.py
      (venv: onnxruntime==1.31.1 numpy pillow)
"""

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
MODEL = REPO / "models" / "nanodet-m-416-coco.onnx"
MANIFEST = REPO / "models" / "nanodet-m-416-coco.toml"
FRAMES = ["frame_05s.png", "frame_30s.png", "frame_60s.png"]

INPUT_NAME = "input_1:0"
SIZE = 416
MEAN_BGR = np.array([103.53, 116.28, 123.675], dtype=np.float32)
STD_BGR = np.array([57.375, 57.12, 58.395], dtype=np.float32)
STRIDES = (8, 16, 32)
NUM_CLASSES = 80
BINS = 11
SCORE_THRESHOLD = 0.35
NMS_IOU = 0.6
# Anchor offset in cells: 0.5 = cell centre ((i % side) + 0.5) * s (chosen,
# measured: see README.md "Anchor point"); 0.0 would be the cell origin.
ANCHOR_OFFSET = 0.5


def class_names():
    """The 80 COCO names from the model manifest (avoids a toml dependency)."""
    text = MANIFEST.read_text()
    line = next(l for l in text.splitlines() if l.startswith("names = ["))
    names = json.loads(line.split("=", 1)[1])
    assert len(names) == NUM_CLASSES
    return names


def preprocess(png_path):
    rgb = np.asarray(Image.open(png_path).convert("RGB"), dtype=np.float32)
    assert rgb.shape == (SIZE, SIZE, 3), rgb.shape
    bgr = rgb[:, :, ::-1]
    x = (bgr - MEAN_BGR) / STD_BGR
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None], dtype=np.float32)


def split_outputs(outputs):
    """Map stride -> (scores [N,80], boxes [N,44]) by tensor shape."""
    by_stride = {}
    for s in STRIDES:
        n = (SIZE // s) ** 2
        scores = [o for o in outputs if o.shape == (1, n, NUM_CLASSES)]
        boxes = [o for o in outputs if o.shape == (1, n, 4 * BINS)]
        assert len(scores) == 1 and len(boxes) == 1, f"stride {s}: outputs by shape"
        by_stride[s] = (scores[0][0].astype(np.float64), boxes[0][0].astype(np.float64))
    return by_stride


def decode(outputs, anchor_offset=ANCHOR_OFFSET, score_threshold=SCORE_THRESHOLD):
    """Return candidates (before NMS): list of (class_id, score, [x1,y1,x2,y2])."""
    cands = []
    for s, (scores, boxes) in split_outputs(outputs).items():
        side = SIZE // s
        n = side * side
        cls = scores.argmax(axis=1)
        best = scores[np.arange(n), cls]
        keep = np.nonzero(best >= score_threshold)[0]
        if keep.size == 0:
            continue
        logits = boxes[keep].reshape(-1, 4, BINS)
        logits = logits - logits.max(axis=2, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=2, keepdims=True)
        dist = (p * np.arange(BINS)).sum(axis=2) * s  # [k, 4]: l, t, r, b
        cx = (keep % side + anchor_offset) * s
        cy = (keep // side + anchor_offset) * s
        x1, y1 = cx - dist[:, 0], cy - dist[:, 1]
        x2, y2 = cx + dist[:, 2], cy + dist[:, 3]
        for j, i in enumerate(keep):
            cands.append((int(cls[i]), float(best[i]), [float(x1[j]), float(y1[j]), float(x2[j]), float(y2[j])]))
    return cands


def iou(a, b):
    ix1, iy1 = max(a[0], b[0]), max(a[1], b[1])
    ix2, iy2 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, ix2 - ix1) * max(0.0, iy2 - iy1)
    area_a = max(0.0, a[2] - a[0]) * max(0.0, a[3] - a[1])
    area_b = max(0.0, b[2] - b[0]) * max(0.0, b[3] - b[1])
    union = area_a + area_b - inter
    return inter / union if union > 0 else 0.0


def nms_per_class(cands, iou_threshold=NMS_IOU):
    kept = []
    for c in sorted({c for c, _, _ in cands}):
        group = sorted((d for d in cands if d[0] == c), key=lambda d: -d[1])
        chosen = []
        for d in group:
            if all(iou(d[2], k[2]) <= iou_threshold for k in chosen):
                chosen.append(d)
        kept.extend(chosen)
    kept.sort(key=lambda d: -d[1])
    return kept


def session():
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(MODEL), sess_options=opts, providers=["CPUExecutionProvider"])


def detect(sess, png_path, anchor_offset=ANCHOR_OFFSET):
    outputs = sess.run(None, {INPUT_NAME: preprocess(png_path)})
    return nms_per_class(decode(outputs, anchor_offset))


def dump(golden):
    """JSON with one detection per line (stable, diff-friendly)."""
    head = {k: v for k, v in golden.items() if k != "frames"}
    lines = ["{"]
    lines += [f" {json.dumps(k)}: {json.dumps(v)}," for k, v in head.items()]
    lines.append(' "frames": [')
    for fi, fr in enumerate(golden["frames"]):
        lines.append(f'  {{"file": {json.dumps(fr["file"])}, "detections": [')
        dets = [f"   {json.dumps(d)}" for d in fr["detections"]]
        lines.append(",\n".join(dets))
        lines.append("  ]}" + ("," if fi + 1 < len(golden["frames"]) else ""))
    lines.append(" ]")
    lines.append("}")
    return "\n".join(l for l in lines if l) + "\n"


def main():
    names = class_names()
    sess = session()
    frames = []
    for f in FRAMES:
        dets = detect(sess, HERE / f)
        frames.append({
            "file": f,
            "detections": [
                {"class_id": c, "class": names[c], "score": round(sc, 6), "box": [round(v, 4) for v in box]}
                for c, sc, box in dets
            ],
        })
        print(f, len(dets), "detections", file=sys.stderr)
    golden = {
        "model_sha256": hashlib.sha256(MODEL.read_bytes()).hexdigest(),
        "score_threshold": SCORE_THRESHOLD,
        "nms_iou": NMS_IOU,
        "frames": frames,
    }
    (HERE / "golden.json").write_text(dump(golden))
    print("wrote", HERE / "golden.json", file=sys.stderr)


if __name__ == "__main__":
    main()
