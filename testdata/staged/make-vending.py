#!/usr/bin/env python3
"""Stage testdata/staged/vending.mp4 (street vending) from testdata/vtest.mp4.

THIS CLIP IS A COMPOSITE. Nobody sold anything in the real footage. From
t = 20 s to the end (70 s) two static cut-outs are pasted on the paved area:

  * a bicycle (the "stall", a COCO `bicycle` = vendor_stall role), a real
    photograph: darknet's data/dog.jpg from the Debian package `darknet`
    (provenance and licence: testdata/README.md, "vending.mp4"); the cut-out
    is cutouts/bicycle.png, made by `--make-bike-cutout` below;
  * a person standing right beside it: a pedestrian of vtest.mp4 itself,
    cut out of source frame 120 (t = 12 s, standing near the sign post) by
    the difference to source frame 200 (where that spot is empty).

Before t = 20 s the frames are vtest's own (untouched). Real pedestrians that
pass *in front of* the pasted objects (their feet lower in the picture than the
object's base) stay visible on top of them; those passing behind are hidden.

Decode / edit / encode exactly as make-staged.py (this script imports it):
gst avdec_h264 -> raw I420 -> edit the planes -> x264enc (same settings) ->
mp4mux, creation times zeroed -> byte-identical reruns.

Usage:
  make-vending.py                       # writes testdata/staged/vending.mp4
  make-vending.py --make-bike-cutout /path/to/dog.jpg
                                        # rebuilds cutouts/bicycle.png
  make-vending.py --verify [--clip F]   # NanoDet check (needs onnxruntime,
                                        #   numpy, pillow; no OpenCV)
Needs (build): numpy, opencv-python-headless (as make-staged.sh), GStreamer 1.22.
"""

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
BIKE_PNG = os.path.join(HERE, "cutouts", "bicycle.png")

FPS = 10
T_APPEAR = 20.0                 # s: the stall + vendor appear (frame 200)
LENGTH = 70.0                   # s: 700 frames (source frames 0-699)

# ---- the vendor: a real pedestrian of vtest.mp4 -----------------------------
PERSON_FRAME = 120              # source frame: standing still, arms down, alone
PERSON_BG_FRAME = 200           # same spot, nobody there
PERSON_CROP = (366, 174, 414, 266)      # [x1, x2) x [y1, y2) around him
# generous outline (crop coordinates) that keeps other moving things (tape,
# a second person, the sign post) out of the difference mask
PERSON_POLY = [(14, 7), (25, 7), (27, 18), (30, 24), (30, 48), (29, 56), (33, 78), (38, 81),
               (38, 85), (30, 86), (21, 88), (12, 88), (12, 60), (8, 48), (8, 26), (13, 20)]
# head + torso core: always opaque (the face is close to the gravel's colour)
PERSON_CORE = [(16, 9), (23, 9), (25, 20), (27, 22), (28, 46), (11, 46), (11, 22), (16, 19)]
PERSON_DIFF_RAMP = (15.0, 35.0)         # RGB max-channel difference -> alpha 0..1

# ---- placement (output pixels) ----------------------------------------------
# bottom-centre of the object's bounding box and its size; chosen on the paved
# area right of the lamp post, above the tripod, where pedestrians pass
BIKE_BASE = (517, 316)          # wheels touch the ground at y = 316 (0.549)
BIKE_WIDTH = 99                 # px (1.1 x the person's height: a large bike)
PERSON_BASE = (583, 319)        # feet; just right of the rear wheel, 3 px nearer
PERSON_HEIGHT = 90              # px: pedestrians whose feet are at y = 0.55 are 88-95 px
BIKE_LOOK = dict(saturation=0.75, contrast=0.85, blur=0.7)   # match the hazy footage

# ---- live pedestrians in front of the pasted objects -------------------------
SEARCH = (430, 180, 636, 440)   # even rect where live foreground is looked for
PLATE_FRAMES = range(200, 700, 5)       # per-pixel median = empty background
FG_THRESHOLD = 24               # max(|dY|, 1.5 |dU|, 1.5 |dV|) above this = foreground
FG_MIN_AREA = 40


def load_staged():
    spec = importlib.util.spec_from_file_location("make_staged", os.path.join(HERE, "make-staged.py"))
    ms = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ms)
    return ms


# --------------------------------------------------------------------------
# colour (BT.601 limited range, as the decoder / videoconvert use)
# --------------------------------------------------------------------------

def rgb_to_yuv(rgb):
    r, g, b = [rgb[..., i].astype(np.float32) / 255 for i in range(3)]
    y = 16 + 65.481 * r + 128.553 * g + 24.966 * b
    u = 128 - 37.797 * r - 74.203 * g + 112.0 * b
    v = 128 + 112.0 * r - 93.786 * g - 18.214 * b
    return np.dstack([y, u, v])


def yuv_to_rgb(yuv):
    y, u, v = yuv[..., 0] - 16, yuv[..., 1] - 128, yuv[..., 2] - 128
    r = 1.164 * y + 1.596 * v
    g = 1.164 * y - 0.392 * u - 0.813 * v
    b = 1.164 * y + 2.017 * u
    return np.clip(np.dstack([r, g, b]), 0, 255)


# --------------------------------------------------------------------------
# cut-outs
# --------------------------------------------------------------------------

def make_bike_cutout(dog_jpg, out_png):
    """Cut the bicycle out of darknet's data/dog.jpg (768x576, a red road bike
    leaning on a porch, a dog sitting in front of its front wheel).

    Hand-made geometric mask in the photo's pixel coordinates: tyre+rim rings
    (ellipses fitted by eye), the tubes as thick lines, saddle / cassette /
    chainring shapes, the handlebar as the dark pixels of its box; everything
    inside an outline of the dog is removed. Where the dog hid the bike, it is
    completed from the same photo: the front wheel's missing arc is the rear
    wheel's tyre+rim ring moved 252 px left, the fork and the lower down tube
    are straight lines in the frame's own median red, the front hub a grey dot.
    Yellow reflections of the porch wall on the rims are desaturated.
    Output: RGBA PNG cropped to the bike (alpha = mask, anti-aliased)."""
    import cv2
    im = cv2.imread(dog_jpg)
    assert im is not None and im.shape == (576, 768, 3), dog_jpg
    H, W = im.shape[:2]
    m = np.zeros((H, W), np.uint8)

    def line(pts, t):
        cv2.polylines(m, [np.array(pts, np.int32)], False, 255, t, cv2.LINE_AA)

    def poly(pts):
        cv2.fillPoly(m, [np.array(pts, np.int32)], 255, cv2.LINE_AA)

    ring_t = 12
    cv2.ellipse(m, (473, 330), (93 - ring_t // 2, 89 - ring_t // 2), 0, 0, 360, 255, ring_t, cv2.LINE_AA)
    line([(250, 208), (402, 210)], 10)          # top tube
    line([(404, 214), (363, 345)], 11)          # seat tube
    line([(407, 216), (474, 331)], 8)           # seat stay
    line([(363, 347), (475, 336)], 10)          # chain stay
    line([(300, 290), (362, 345)], 13)          # down tube (part right of the dog)
    line([(427, 150), (407, 206)], 9)           # seat post
    line([(362, 320), (470, 318)], 4)           # chain, upper run
    line([(362, 370), (458, 366)], 4)           # chain, lower run
    line([(362, 345), (408, 378)], 7)           # crank arm
    poly([(385, 142), (400, 137), (460, 135), (472, 139), (452, 149), (400, 150)])   # saddle
    poly([(455, 312), (490, 314), (492, 345), (478, 372), (458, 372), (450, 340)])   # cassette, derailleur
    cv2.ellipse(m, (358, 344), (27, 25), 0, 0, 360, 255, 10, cv2.LINE_AA)            # chainring
    line([(242, 190), (244, 232)], 13)          # head tube
    # handlebar, stem, brake levers: dark pixels in their box
    x1, y1, x2, y2 = 132, 138, 262, 222
    gray = cv2.cvtColor(im, cv2.COLOR_BGR2GRAY)
    box = (gray[y1:y2, x1:x2] < 95).astype(np.uint8) * 255
    box[:12, 100:] = 0                          # tree trunk behind the stem
    box = cv2.morphologyEx(box, cv2.MORPH_OPEN, np.ones((2, 2), np.uint8))
    m[y1:y2, x1:x2] = np.maximum(m[y1:y2, x1:x2], box)
    # the real front wheel: only its arc left of the dog
    fw = np.zeros_like(m)
    cv2.ellipse(fw, (221, 330), (93 - ring_t // 2, 89 - ring_t // 2), 0, 0, 360, 255, ring_t, cv2.LINE_AA)
    fw[:, 215:] = 0
    dog = np.zeros_like(m)
    cv2.fillPoly(dog, [np.array([(215, 226), (310, 226), (306, 250), (304, 300), (300, 330), (305, 576),
                                 (120, 576), (133, 430), (140, 397), (150, 362), (170, 330), (188, 305),
                                 (198, 280), (208, 255)], np.int32)], 255)
    m = np.maximum(m, fw)
    m[dog > 0] = 0

    img = im.astype(np.float32)
    a = m.astype(np.float32) / 255
    # front wheel completed with the rear wheel's ring (same bike, same photo)
    ring = np.zeros_like(m)
    cv2.ellipse(ring, (473, 330), (93 - ring_t // 2, 89 - ring_t // 2), 0, 0, 360, 255, ring_t, cv2.LINE_AA)
    shift = np.float32([[1, 0, 221 - 473], [0, 1, 0]])
    tpl = cv2.warpAffine(im, shift, (W, H)).astype(np.float32)
    tm = cv2.warpAffine(ring, shift, (W, H)).astype(np.float32) / 255
    real = np.zeros((H, W), np.float32)
    real[:, :215] = 1
    real[dog > 0] = 0
    sel = (1 - real) * tm
    img = img * (1 - sel[..., None]) + tpl * sel[..., None]
    a = np.maximum(a, sel)
    # fork, hidden down tube (frame red), front hub
    px = im[200:345, 330:410].reshape(-1, 3)
    red = np.median(px[(px[:, 2] > 120) & (px[:, 1] < 50) & (px[:, 0] < 60)], axis=0)
    paint = np.zeros_like(m)
    cv2.line(paint, (244, 226), (223, 330), 255, 8, cv2.LINE_AA)
    cv2.line(paint, (244, 226), (303, 292), 255, 13, cv2.LINE_AA)
    p = paint.astype(np.float32) / 255 * (dog > 0)
    img = img * (1 - p[..., None]) + red[None, None, :] * p[..., None]
    a = np.maximum(a, p)
    hub = np.zeros_like(m)
    cv2.circle(hub, (221, 330), 6, 255, -1, cv2.LINE_AA)
    h = hub.astype(np.float32) / 255 * (dog > 0)
    img = img * (1 - h[..., None]) + np.float32(90) * h[..., None]
    a = np.maximum(a, h)
    # no part of this bike is yellow: desaturate the porch wall's reflections
    hsv = cv2.cvtColor(np.clip(np.rint(img), 0, 255).astype(np.uint8), cv2.COLOR_BGR2HSV).astype(np.float32)
    yel = (a > 0) & (hsv[..., 0] > 15) & (hsv[..., 0] < 40)
    hsv[..., 1][yel] *= 0.25
    img = cv2.cvtColor(np.clip(np.rint(hsv), 0, 255).astype(np.uint8), cv2.COLOR_HSV2BGR)
    a8 = np.clip(np.rint(a * 255), 0, 255).astype(np.uint8)
    img[a8 == 0] = 0                            # fully transparent: no colour (smaller PNG)
    ys, xs = np.nonzero(a8)
    bx1, by1, bx2, by2 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
    rgba = np.dstack([img, a8])[by1:by2, bx1:bx2]
    os.makedirs(os.path.dirname(out_png), exist_ok=True)
    cv2.imwrite(out_png, rgba, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print(f"wrote {out_png}: {rgba.shape[1]}x{rgba.shape[0]} RGBA, from dog.jpg "
          f"[{bx1}, {bx2}) x [{by1}, {by2}); frame red (BGR) {red}")


def person_cutout(ms, src):
    """(yuv444 crop, alpha) of the standing pedestrian of source frame 120."""
    import cv2
    x1, y1, x2, y2 = PERSON_CROP
    fg = ms.to_444(src.frame(PERSON_FRAME))[y1:y2, x1:x2]
    bg = ms.to_444(src.frame(PERSON_BG_FRAME))[y1:y2, x1:x2]
    d = np.abs(yuv_to_rgb(fg) - yuv_to_rgb(bg)).max(axis=2)
    lo, hi = PERSON_DIFF_RAMP
    poly = np.zeros(d.shape, np.uint8)
    cv2.fillPoly(poly, [np.array(PERSON_POLY, np.int32)], 1)
    a = np.clip((d - lo) / (hi - lo), 0, 1) * poly
    sup = cv2.morphologyEx((a > 0.5).astype(np.uint8), cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
    n, lab, st, _ = cv2.connectedComponentsWithStats(sup)
    keep = cv2.dilate((lab == 1 + np.argmax(st[1:, 4])).astype(np.uint8), np.ones((3, 3), np.uint8))
    a = a * keep
    core = np.zeros(d.shape, np.uint8)
    cv2.fillPoly(core, [np.array(PERSON_CORE, np.int32)], 1)
    a = np.maximum(a, core.astype(np.float32))
    a = cv2.GaussianBlur(a.astype(np.float32), (0, 0), 0.5)
    ys, xs = np.nonzero(a > 0.02)
    c = (slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1))
    return fg[c].astype(np.float32), a[c]


def bike_cutout():
    import cv2
    rgba = cv2.imread(BIKE_PNG, cv2.IMREAD_UNCHANGED)
    assert rgba is not None and rgba.shape[2] == 4, BIKE_PNG
    rgb = rgba[..., 2::-1].astype(np.float32)
    s, c = BIKE_LOOK["saturation"], BIKE_LOOK["contrast"]
    g = rgb.mean(axis=2, keepdims=True)
    rgb = g + (rgb - g) * s
    rgb = 128 + (rgb - 128) * c
    return rgb_to_yuv(np.clip(rgb, 0, 255)), rgba[..., 3].astype(np.float32) / 255


def place(yuv, a, base, height=None, width=None, blur=0.0):
    """Scale a cut-out (premultiplied, INTER_AREA down / LINEAR up) so that its
    box is `height` (or `width`) px and its bottom-centre is at `base`.
    Returns (x1, y1, layer444, alpha) in output pixels."""
    import cv2
    h0, w0 = a.shape
    s = height / h0 if height else width / w0
    w, h = max(1, round(w0 * s)), max(1, round(h0 * s))
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    pm = cv2.resize(yuv * a[..., None], (w, h), interpolation=interp)
    al = cv2.resize(a, (w, h), interpolation=interp)
    pad = 3
    pm = np.pad(pm, ((pad, pad), (pad, pad), (0, 0)))
    al = np.pad(al, pad)
    if blur:
        pm = cv2.GaussianBlur(pm, (0, 0), blur)
        al = cv2.GaussianBlur(al, (0, 0), blur)
    al = np.clip(al, 0, 1)
    layer = np.where(al[..., None] > 1e-4, pm / np.maximum(al, 1e-4)[..., None], 0)
    x1 = int(round(base[0] - w / 2)) - pad
    y1 = int(base[1]) - h - pad
    return x1, y1, layer, al, (x1 + pad, y1 + pad, x1 + pad + w, y1 + pad + h)


# --------------------------------------------------------------------------
# build
# --------------------------------------------------------------------------

def build(out_path):
    import cv2
    ms = load_staged()
    W, H = ms.W, ms.H
    print(f"source {os.path.join(REPO, 'testdata', 'vtest.mp4')}")
    with tempfile.TemporaryDirectory(prefix="steward-vending-") as tmp:
        raw = os.path.join(tmp, "vtest.i420")
        ms.decode_source(os.path.join(REPO, "testdata", "vtest.mp4"), raw)
        src = ms.Source(raw)

        p_yuv, p_a = person_cutout(ms, src)
        b_yuv, b_a = bike_cutout()
        objs = {
            "bike": place(b_yuv, b_a, BIKE_BASE, width=BIKE_WIDTH, blur=BIKE_LOOK["blur"]) + (BIKE_BASE[1],),
            "person": place(p_yuv, p_a, PERSON_BASE, height=PERSON_HEIGHT) + (PERSON_BASE[1],),
        }
        # full-frame layers, drawn back to front (the person is 3 px nearer)
        order = sorted(objs, key=lambda k: objs[k][5])
        layers = {}
        for k in order:
            x1, y1, lay, al, box, base = objs[k]
            L = np.zeros((H, W, 3), np.float32)
            A = np.zeros((H, W), np.float32)
            L[y1:y1 + lay.shape[0], x1:x1 + lay.shape[1]] = lay
            A[y1:y1 + al.shape[0], x1:x1 + al.shape[1]] = al
            layers[k] = (L, A, base)
            print(f"  {k}: box x [{box[0]}, {box[2]}) y [{box[1]}, {box[3]}) = normalised "
                  f"[{box[0] / W:.4f}, {box[1] / H:.4f}, {box[2] / W:.4f}, {box[3] / H:.4f}], "
                  f"bottom-centre ({(box[0] + box[2]) / 2 / W:.4f}, {box[3] / H:.4f})")
        ys, xs = np.nonzero(sum(layers[k][1] for k in layers) > 0)
        sx1, sy1, sx2, sy2 = SEARCH
        assert sx1 <= xs.min() and xs.max() < sx2 and sy1 <= ys.min() and ys.max() < sy2
        rect = (xs.min() & ~1, ys.min() & ~1, (xs.max() + 2) & ~1, (ys.max() + 2) & ~1)
        print(f"  edited rectangle [{rect[0]}, {rect[2]}) x [{rect[1]}, {rect[3]})")

        plate = np.median(np.stack([ms.to_444(src.frame(n))[sy1:sy2, sx1:sx2] for n in PLATE_FRAMES]),
                          axis=0).astype(np.float32)
        stats = {"front_frames": 0, "front_px": 0}

        def front_mask(img):
            """Per object: live foreground components whose lowest pixel is
            below the object's base (= nearer the camera) -> soft 0..1."""
            d = np.abs(img[sy1:sy2, sx1:sx2] - plate) * np.float32([1, 1.5, 1.5])
            fg = (d.max(axis=2) > FG_THRESHOLD).astype(np.uint8)
            fg = cv2.morphologyEx(fg, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
            fg = cv2.morphologyEx(fg, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
            n, lab, st, _ = cv2.connectedComponentsWithStats(fg)
            out = {}
            for k, (L, A, base) in layers.items():
                m = np.zeros((H, W), np.float32)
                for i in range(1, n):
                    x, y, w, h, area = st[i]
                    if area >= FG_MIN_AREA and sy1 + y + h - 1 > base + 1:
                        m[sy1:sy2, sx1:sx2][lab == i] = 1
                if m.any():
                    m = cv2.GaussianBlur(m, (0, 0), 0.7)
                out[k] = m
            return out

        def make(n):
            f = src.frame(n)
            if n < ms.sec(T_APPEAR):
                return f
            img = ms.to_444(f)
            front = front_mask(img)
            canvas = img.copy()
            hit = 0
            for k in order:
                L, A, base = layers[k]
                a = A * (1 - front[k])
                hit += int(((A > 0.05) & (front[k] > 0.5)).sum())
                canvas = L * a[..., None] + canvas * (1 - a[..., None])
            if hit:
                stats["front_frames"] += 1
                stats["front_px"] = max(stats["front_px"], hit)
            ms.paste_444(f, rect, canvas)
            return f

        ms.encode(out_path, ms.sec(LENGTH), make)
        print(f"  live pedestrians drawn in front of the pasted objects in {stats['front_frames']} "
              f"frames (max {stats['front_px']} px)")


# --------------------------------------------------------------------------
# verification with the real model (onnxruntime; no OpenCV needed)
# --------------------------------------------------------------------------

VENDOR = ("umbrella", "dining table", "bench", "bicycle", "suitcase", "potted plant")
# pasted boxes (normalised), as printed by build()
BIKE_BOX = (0.6094, 0.4375, 0.7383, 0.5486)
PERSON_BOX = (0.7370, 0.3976, 0.7826, 0.5538)
ZONE = [(0.60, 0.46), (0.82, 0.46), (0.82, 0.62), (0.60, 0.62)]
CONTROL = [(0.30, 0.37), (0.50, 0.37), (0.50, 0.55), (0.30, 0.47)]


def inside(poly, x, y):
    c = False
    for i in range(len(poly)):
        (x1, y1), (x2, y2) = poly[i], poly[i - 1]
        if (y1 > y) != (y2 > y) and x < (x2 - x1) * (y - y1) / (y2 - y1) + x1:
            c = not c
    return c


def verify(clip, dump):
    sys.path.insert(0, os.path.join(REPO, "testdata", "golden"))
    import make_golden as g
    names, sess = g.class_names(), g.session()
    p = subprocess.Popen(
        ["gst-launch-1.0", "-q", "filesrc", f"location={clip}", "!", "qtdemux", "!", "h264parse", "!",
         "avdec_h264", "!", "videorate", "!", "video/x-raw,framerate=2/1", "!", "videoscale",
         "add-borders=true", "!", "video/x-raw,width=416,height=416,pixel-aspect-ratio=1/1", "!",
         "videoconvert", "!", "video/x-raw,format=RGB", "!", "fdsink", "fd=1"], stdout=subprocess.PIPE)
    frames = []
    n = 416 * 416 * 3
    while True:
        b = p.stdout.read(n)
        if len(b) < n:
            break
        rgb = np.frombuffer(b, np.uint8).reshape(416, 416, 3).astype(np.float32)
        x = (rgb[:, :, ::-1] - g.MEAN_BGR) / g.STD_BGR
        out = sess.run(None, {g.INPUT_NAME: np.ascontiguousarray(x.transpose(2, 0, 1)[None])})
        dets = g.nms_per_class(g.decode(out))
        frames.append([(names[c], s, [bb[0] / 416, (bb[1] - 52) / 312, bb[2] / 416, (bb[3] - 52) / 312])
                       for c, s, bb in dets])
    p.wait()
    if dump:
        with open(dump, "w") as fh:
            json.dump(frames, fh)
    t0 = int(T_APPEAR * 2)
    print(f"{clip}: {len(frames)} frames at 2 fps (t = 0 .. {(len(frames) - 1) / 2:.1f} s)")

    def best(dets, pred, ref, thr):
        c = [(s, n, b) for n, s, b in dets if pred(n) and g.iou(b, ref) >= thr]
        return max(c) if c else None

    after = frames[t0:]
    bk = [best(d, lambda n: n in VENDOR, BIKE_BOX, 0.3) for d in after]
    pe = [best(d, lambda n: n == "person", PERSON_BOX, 0.5) for d in after]

    def summary(name, hits):
        ok = [h for h in hits if h]
        print(f"  t >= {T_APPEAR:.0f} s, {name}: detected in {len(ok)}/{len(hits)} frames "
              f"({100 * len(ok) / len(hits):.1f} %)")
        if ok:
            sc = np.array([h[0] for h in ok])
            B = np.array([h[2] for h in ok])
            cls = {}
            for h in ok:
                cls[h[1]] = cls.get(h[1], 0) + 1
            print(f"     classes {cls}; score min {sc.min():.2f} median {np.median(sc):.2f} max {sc.max():.2f}; "
                  f"median box [{', '.join(f'{v:.3f}' for v in np.median(B, axis=0))}]")
        miss = [t0 / 2 + i / 2 for i, h in enumerate(hits) if not h]
        print(f"     missed at t = {miss}")
        return len(ok) / len(hits)

    fb = summary("stall (vendor-role class, IoU >= 0.3 with the pasted bicycle)", bk)
    fp = summary("pasted person (person, IoU >= 0.5)", pe)
    both = sum(1 for a, b in zip(bk, pe) if a and b)
    print(f"  both in the same frame: {both}/{len(after)} ({100 * both / len(after):.1f} %)")

    def vendor_in(poly, rng):
        hits = []
        for k in rng:
            for n, s, b in frames[k]:
                if n in VENDOR and inside(poly, (b[0] + b[2]) / 2, b[3]):
                    hits.append((k / 2, n, round(s, 2)))
        return hits

    print(f"  t < {T_APPEAR:.0f} s: vendor-role detections with bottom-centre in ZONE: "
          f"{vendor_in(ZONE, range(t0))}")
    pre = [(k / 2, n, round(s, 2)) for k in range(t0) for n, s, b in frames[k]
           if n in VENDOR and g.iou(b, BIKE_BOX) > 0]
    print(f"  t < {T_APPEAR:.0f} s: vendor-role detections overlapping the stall's box: {pre}")
    print(f"  whole clip: vendor-role detections with bottom-centre in CONTROL: "
          f"{vendor_in(CONTROL, range(len(frames)))}")
    print(f"  t >= {T_APPEAR:.0f} s: vendor-role detections with bottom-centre in ZONE: "
          f"{len(vendor_in(ZONE, range(t0, len(frames))))} in {len(after)} frames")
    pz = sum(1 for k in range(t0) if any(n == 'person' and inside(ZONE, (b[0] + b[2]) / 2, b[3])
                                         for n, s, b in frames[k]))
    print(f"  t < {T_APPEAR:.0f} s: frames with a (real) person's bottom-centre in ZONE: {pz}/{t0}")
    other = {}
    for k, d in enumerate(frames):
        for n, s, b in d:
            if n in VENDOR and not (k >= t0 and g.iou(b, BIKE_BOX) >= 0.3):
                other.setdefault(n, []).append((k / 2, round(s, 2), [round(v, 3) for v in b]))
    print(f"  any other vendor-role detection anywhere in the frame: {other}")
    return fb, fp


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(HERE, "vending.mp4"))
    ap.add_argument("--make-bike-cutout", metavar="DOG_JPG",
                    help="rebuild cutouts/bicycle.png from darknet's data/dog.jpg and exit")
    ap.add_argument("--verify", action="store_true", help="run NanoDet over the clip at 2 fps")
    ap.add_argument("--clip", help="clip to verify (default --out)")
    ap.add_argument("--dump", help="write per-frame detections (JSON) here")
    a = ap.parse_args()
    if a.make_bike_cutout:
        make_bike_cutout(a.make_bike_cutout, BIKE_PNG)
    elif a.verify:
        verify(a.clip or a.out, a.dump)
    else:
        build(a.out)


if __name__ == "__main__":
    main()
