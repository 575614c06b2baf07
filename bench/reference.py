#!/usr/bin/env python3
"""The reference loop `steward bench` compares Steward against (issue 4).

The same job as Steward's detector, written the way most people write it:
OpenCV (`cv2.VideoCapture`, FFmpeg backend of the opencv-python-headless wheel)
decodes each camera in a thread of its own, every frame is read, and about
`--analysis-fps` frames a second per camera are letterboxed, normalised and run
through one shared ONNX Runtime session (CPUExecutionProvider, default
threads); NanoDet is decoded and NMS'd in numpy. See bench/README.md.

    python bench/reference.py --manifest models/nanodet-m-416-coco.toml \
        --analysis-fps 1.0 --duration 30 --warmup 5 --json OUT.json URL [URL ...]
    python bench/reference.py --manifest models/nanodet-m-416-coco.toml --selftest

URLs are live streams (rtsp://...: reopened 1 s after a failed read) or files
(played at their own frame rate, like a camera, and looped). After `--warmup`
seconds, analysed and decoded frames, detections and CPU time are counted for
`--duration` seconds; the result goes to `--json` and one summary line to stderr.

`--selftest` runs the model and the decoder on the letterboxed golden frames
(testdata/golden/*.png) and compares with testdata/golden/golden.json; exits 1
on any mismatch.
"""

import argparse
import hashlib
import json
import os
import platform
import resource
import sys
import threading
import time
import tomllib
from pathlib import Path

# RTSP over TCP, as nearly every OpenCV RTSP how-to sets it: must be set before cv2 is imported.
os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402

LIVE_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://", "srt://")
RECONNECT_DELAY_S = 1.0


# --------------------------------------------------------------------------- model

class Detector:
    """NanoDet-m from a Steward model manifest: letterbox, normalise, run, decode, NMS."""

    def __init__(self, manifest_path):
        manifest_path = Path(manifest_path)
        with open(manifest_path, "rb") as f:
            m = tomllib.load(f)
        inp, dec = m["input"], m["decoder"]
        if dec["kind"] != "nanodet" or inp["layout"] != "nchw" or inp["channels"] != "bgr":
            raise SystemExit(f"{manifest_path}: this reference handles nanodet / nchw / bgr only")
        self.model_path = manifest_path.parent / m["file"]
        self.model_sha256 = m.get("sha256")
        self.input_name = inp["name"]
        self.width, self.height = int(inp["width"]), int(inp["height"])
        self.mean = np.array(inp["mean"], dtype=np.float32)
        self.std = np.array(inp["std"], dtype=np.float32)
        self.strides = [int(s) for s in dec["strides"]]
        self.bins = int(dec["bins"])
        self.score_threshold = float(dec["score_threshold"])
        self.nms_iou = float(dec["nms_iou"])
        self.names = m["classes"]["names"]
        # One session shared by every camera thread (InferenceSession.run is thread-safe),
        # ONNX Runtime's default thread settings.
        self.session = ort.InferenceSession(str(self.model_path), providers=["CPUExecutionProvider"])

    def letterbox(self, frame):
        """BGR frame of any size -> 416x416 BGR, aspect ratio kept, black borders, centred."""
        h, w = frame.shape[:2]
        scale = min(self.width / w, self.height / h)
        nw, nh = round(w * scale), round(h * scale)
        resized = cv2.resize(frame, (nw, nh), interpolation=cv2.INTER_LINEAR)
        top = (self.height - nh) // 2
        left = (self.width - nw) // 2
        return cv2.copyMakeBorder(resized, top, self.height - nh - top, left, self.width - nw - left,
                                  cv2.BORDER_CONSTANT, value=(0, 0, 0))

    def blob(self, bgr):
        """416x416 BGR uint8 -> float32 [1, 3, 416, 416], (x - mean) / std."""
        x = (bgr.astype(np.float32) - self.mean) / self.std
        return np.ascontiguousarray(x.transpose(2, 0, 1)[None])

    def infer(self, blob):
        """Returns an array [k, 6]: x1, y1, x2, y2, score, class_id (416-pixel input coordinates)."""
        outputs = self.session.run(None, {self.input_name: blob})
        return self.nms(self.decode(outputs))

    def detect(self, frame):
        return self.infer(self.blob(self.letterbox(frame)))

    def decode(self, outputs):
        ncls = len(self.names)
        found = []
        for s in self.strides:
            side = self.width // s
            n = side * side
            # Outputs are told apart by shape, not by name or order.
            scores = next(o for o in outputs if o.shape == (1, n, ncls))[0]
            dists = next(o for o in outputs if o.shape == (1, n, 4 * self.bins))[0]
            cls = scores.argmax(axis=1)
            best = scores[np.arange(n), cls]
            keep = np.nonzero(best >= self.score_threshold)[0]
            if keep.size == 0:
                continue
            logits = dists[keep].reshape(-1, 4, self.bins)
            p = np.exp(logits - logits.max(axis=2, keepdims=True))
            p /= p.sum(axis=2, keepdims=True)
            d = (p * np.arange(self.bins, dtype=np.float32)).sum(axis=2) * s  # l, t, r, b
            cx = (keep % side + 0.5) * s  # cell centre
            cy = (keep // side + 0.5) * s
            found.append(np.stack([cx - d[:, 0], cy - d[:, 1], cx + d[:, 2], cy + d[:, 3],
                                   best[keep], cls[keep]], axis=1))
        return np.concatenate(found).astype(np.float64) if found else np.zeros((0, 6))

    def nms(self, dets):
        """Greedy NMS per class (IoU > nms_iou suppresses); result sorted by score, descending."""
        kept = []
        for c in np.unique(dets[:, 5]):
            d = dets[dets[:, 5] == c]
            d = d[np.argsort(-d[:, 4], kind="stable")]
            area = np.maximum(d[:, 2] - d[:, 0], 0) * np.maximum(d[:, 3] - d[:, 1], 0)
            alive = np.ones(len(d), dtype=bool)
            for i in range(len(d)):
                if not alive[i]:
                    continue
                kept.append(d[i])
                rest = np.nonzero(alive)[0]
                rest = rest[rest > i]
                if rest.size == 0:
                    break
                iw = np.maximum(np.minimum(d[i, 2], d[rest, 2]) - np.maximum(d[i, 0], d[rest, 0]), 0)
                ih = np.maximum(np.minimum(d[i, 3], d[rest, 3]) - np.maximum(d[i, 1], d[rest, 1]), 0)
                inter = iw * ih
                union = area[i] + area[rest] - inter
                iou = np.where(union > 0, inter / np.where(union > 0, union, 1), 0)
                alive[rest[iou > self.nms_iou]] = False
        if not kept:
            return np.zeros((0, 6))
        out = np.array(kept)
        return out[np.argsort(-out[:, 4], kind="stable")]


# --------------------------------------------------------------------------- cameras

class Camera(threading.Thread):
    """One camera: read every frame, analyse one every 1/analysis_fps seconds."""

    def __init__(self, url, detector, analysis_fps, stop):
        super().__init__(daemon=True)
        self.url = url
        self.live = url.lower().startswith(LIVE_SCHEMES)
        self.detector = detector
        self.interval = 1.0 / analysis_fps
        self.stop = stop
        # Counters, only ever written by this thread; the main thread reads them.
        self.decoded = 0
        self.analysed = 0
        self.detections = 0
        self.reconnects = 0
        self.error = None

    def open(self):
        return cv2.VideoCapture(self.url, cv2.CAP_FFMPEG)

    def run(self):
        try:
            self.loop()
        except Exception as e:  # report it in the summary instead of dying silently
            self.error = f"{type(e).__name__}: {e}"

    def loop(self):
        cap = self.open()
        next_due = None
        # Files: the clock is the video's own (CAP_PROP_POS_MSEC, plus the length of the passes
        # already played), and frames are released at that rate, as a camera would send them.
        file_offset = 0.0  # video seconds played before the current pass
        file_last = 0.0  # position of the last frame read in this pass
        file_start = time.monotonic()
        while not self.stop.is_set():
            ok, frame = cap.read()
            if not ok:
                frame_period = 1.0 / (cap.get(cv2.CAP_PROP_FPS) or 25.0)
                cap.release()
                if self.live:
                    self.reconnects += 1
                    self.stop.wait(RECONNECT_DELAY_S)
                else:  # end of file: start again
                    file_offset += file_last + frame_period
                    file_last = 0.0
                cap = self.open()
                if not self.live and not cap.isOpened():
                    self.stop.wait(RECONNECT_DELAY_S)
                continue
            self.decoded += 1
            if self.live:
                t = time.monotonic()
            else:
                file_last = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
                t = file_offset + file_last
                wait = file_start + t - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
            # Due every `interval` seconds (a schedule, so 1 fps stays 1.0 and not 1/(1 + half a
            # frame)); if analysis falls a whole interval behind, skip ahead instead of bursting.
            if next_due is not None and t < next_due:
                continue
            next_due = t + self.interval if next_due is None or t >= next_due + self.interval else next_due + self.interval
            dets = self.detector.detect(frame)
            self.analysed += 1
            self.detections += len(dets)
        cap.release()

    def snapshot(self):
        return self.decoded, self.analysed, self.detections


def cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def bench(args):
    detector = Detector(args.manifest)
    stop = threading.Event()
    cams = [Camera(url, detector, args.analysis_fps, stop) for url in args.urls]
    for c in cams:
        c.start()

    time.sleep(args.warmup)
    before = [c.snapshot() for c in cams]
    cpu0, t0 = cpu_seconds(), time.monotonic()
    time.sleep(args.duration)
    after = [c.snapshot() for c in cams]
    cpu1, t1 = cpu_seconds(), time.monotonic()
    stop.set()

    elapsed = t1 - t0
    decoded = [a[0] - b[0] for a, b in zip(after, before)]
    analysed = [a[1] - b[1] for a, b in zip(after, before)]
    detections = sum(a[2] - b[2] for a, b in zip(after, before))
    fps = [n / elapsed for n in analysed]
    result = {
        "tool": "python-reference",
        "python": platform.python_version(),
        "onnxruntime": ort.__version__,
        "opencv": cv2.__version__,
        "streams": len(cams),
        "duration_s": round(elapsed, 3),
        "analysed": analysed,
        "analysed_fps": [round(f, 4) for f in fps],
        "min_fps": round(min(fps), 4),
        "mean_fps": round(sum(fps) / len(fps), 4),
        "decoded_frames": decoded,
        "cpu_s": round(cpu1 - cpu0, 3),
        "rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "detections": detections,
        "analysis_fps": args.analysis_fps,
        "warmup_s": args.warmup,
        "reconnects": [c.reconnects for c in cams],
    }
    Path(args.json).write_text(json.dumps(result, indent=1) + "\n")

    for c in cams:
        c.join(timeout=5.0)
    errors = [f"stream {i}: {c.error}" for i, c in enumerate(cams) if c.error]
    print(f"python-reference: {len(cams)} streams, {elapsed:.1f} s: analysed fps min {result['min_fps']:.2f} "
          f"mean {result['mean_fps']:.2f}, decoded {sum(decoded) / elapsed:.1f} frames/s, "
          f"CPU {100 * result['cpu_s'] / elapsed:.0f}%, max RSS {result['rss_bytes'] / 2**20:.0f} MiB, "
          f"{detections} detections -> {args.json}" + "".join(f"\n  {e}" for e in errors), file=sys.stderr)
    return 0


# --------------------------------------------------------------------------- self-test

def selftest(args):
    """Model + decoder against testdata/golden/golden.json, on its letterboxed 416x416 frames."""
    detector = Detector(args.manifest)
    golden_dir = Path(args.golden) if args.golden else detector.model_path.parent.parent / "testdata" / "golden"
    golden = json.loads((golden_dir / "golden.json").read_text())
    failures = []
    sha = hashlib.sha256(detector.model_path.read_bytes()).hexdigest()
    if sha != golden["model_sha256"]:
        failures.append(f"model sha256 {sha} != golden {golden['model_sha256']}")
    worst = 0.0
    for fr in golden["frames"]:
        bgr = cv2.imread(str(golden_dir / fr["file"]), cv2.IMREAD_COLOR)  # the RGB PNG, read as BGR
        if bgr is None or bgr.shape != (detector.height, detector.width, 3):
            failures.append(f"{fr['file']}: cannot read a {detector.width}x{detector.height} image")
            continue
        dets = detector.infer(detector.blob(bgr))  # already letterboxed: no resize
        want = fr["detections"]
        line = f"{fr['file']}: {len(dets)} detections (golden {len(want)})"
        if len(dets) != len(want):
            failures.append(line)
        used = set()
        for g in want:
            best, best_err = None, None
            for j, d in enumerate(dets):
                if j in used or int(d[5]) != g["class_id"]:
                    continue
                err = float(np.abs(d[:4] - np.array(g["box"])).max())
                if best_err is None or err < best_err:
                    best, best_err = j, err
            if best is None or best_err > 0.5:
                failures.append(f"{fr['file']}: no match within 0.5 px for golden {g['class']} {g['score']} {g['box']}"
                                + (f" (nearest {best_err:.3f} px)" if best_err is not None else ""))
                continue
            used.add(best)
            worst = max(worst, best_err)
            if abs(dets[best][4] - g["score"]) > 1e-3:
                failures.append(f"{fr['file']}: {g['class']} score {dets[best][4]:.6f} != golden {g['score']}")
        print(line, file=sys.stderr)
    print(f"selftest: max box difference {worst:.4f} px; "
          + ("OK" if not failures else f"{len(failures)} FAILURES:\n  " + "\n  ".join(failures)), file=sys.stderr)
    return 0 if not failures else 1


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--manifest", required=True, help="model manifest TOML (the .onnx is next to it)")
    p.add_argument("--analysis-fps", type=float, default=1.0, help="frames analysed per second per stream")
    p.add_argument("--duration", type=float, default=30.0, help="measured seconds")
    p.add_argument("--warmup", type=float, default=5.0, help="seconds before measuring")
    p.add_argument("--json", help="where to write the result")
    p.add_argument("--selftest", action="store_true", help="check the decoder against testdata/golden and exit")
    p.add_argument("--golden", help="golden directory for --selftest (default: testdata/golden of the repo)")
    p.add_argument("urls", nargs="*", metavar="URL", help="rtsp:// URL or video file")
    args = p.parse_args()
    if args.selftest:
        return selftest(args)
    if not args.urls or not args.json:
        p.error("URL(s) and --json are required (or --selftest)")
    if args.analysis_fps <= 0 or args.duration <= 0 or args.warmup < 0:
        p.error("--analysis-fps and --duration must be > 0, --warmup >= 0")
    return bench(args)


if __name__ == "__main__":
    sys.exit(main())
