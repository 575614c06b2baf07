#!/usr/bin/env python3
"""Regenerate Steward's *staged* test clips from testdata/vtest.mp4.

Every clip written here is a COMPOSITE of the real clip testdata/vtest.mp4:
real footage, edited frame by frame in a few fixed rectangles and time windows
to stage an event that the real clip does not contain (a vehicle hidden,
a vehicle leaving and coming back, litter appearing, a sign going dark, the
light dropping). None of these events really happened. testdata/README.md
("Staged clips") documents each edit: what, where, when and how.

Pipeline (no randomness anywhere; all parameters are constants below):

  1. gst-launch-1.0 decodes vtest.mp4 (qtdemux ! h264parse ! avdec_h264) to raw
     I420 frames in a temporary file (795 frames, ~528 MB, removed at the end).
  2. For each output frame n of a clip, the source frame is n % 795 (clips
     longer than 79.5 s play vtest forward again from its first frame).
     The edits are done directly on the decoded I420 planes, so pixels that
     are not edited are passed to the encoder bit-identical to the decoded
     source (no colour-space round trip). Brightness scaling by k is done as
     Y' = 16 + k (Y - 16), C' = 128 + k (C - 128), which is exactly RGB * k
     for BT.601 limited-range video.
  3. The frames are piped raw into gst-launch-1.0
       fdsrc ! rawvideoparse (I420 768x576 10/1) ! x264enc ... ! mp4mux
     with the SAME x264enc / caps / h264parse / mp4mux settings as
     testdata/make-footage.sh (bframes=0 key-int-max=20 speed-preset=medium
     pass=cbr bitrate=600 threads=1, Main profile, avc, faststart).
  4. The creation/modification times that mp4mux stamps into mvhd/tkhd/mdhd
     are zeroed, so a rerun with the same libx264/GStreamer build gives
     byte-identical files (same sha256).

Usage:  make-staged.py [--src testdata/vtest.mp4] [--out testdata/staged]
                       [--only occlusion,dimmed,...] [--bitrate 600]
Needs:  numpy, opencv-python-headless (see make-staged.sh), GStreamer 1.22
        with plugins base/good/bad/ugly/libav, gst-launch-1.0.
"""

import argparse
import hashlib
import os
import struct
import subprocess
import sys
import tempfile

import cv2
import numpy as np

W, H, FPS = 768, 576, 10
NSRC = 795                      # frames in vtest.mp4 (79.5 s)
YS = W * H                      # luma plane size
CS = YS // 4                    # one chroma plane size
FS = YS + 2 * CS                # one I420 frame

# Identical to testdata/make-footage.sh (everything after videoconvert there).
BITRATE = 600                   # kbit/s, as make-footage.sh; --bitrate overrides
ENCODER = (
    "x264enc bframes=0 key-int-max=20 speed-preset=medium pass=cbr bitrate={bitrate} threads=1 ! "
    "video/x-h264,profile=main,stream-format=avc,alignment=au ! h264parse ! "
    "mp4mux faststart=true"
)


def sec(t):
    """Output-clip time in seconds -> frame index (10 fps)."""
    return int(round(t * FPS))


# --------------------------------------------------------------------------
# Frame access
# --------------------------------------------------------------------------

class Frame:
    """A writable I420 frame with Y, U, V plane views."""

    def __init__(self, buf):
        self.buf = buf
        self.Y = buf[:YS].reshape(H, W)
        self.U = buf[YS:YS + CS].reshape(H // 2, W // 2)
        self.V = buf[YS + CS:].reshape(H // 2, W // 2)


class Source:
    def __init__(self, raw_path):
        self.mm = np.memmap(raw_path, dtype=np.uint8, mode="r")
        n = self.mm.size // FS
        if n != NSRC or self.mm.size % FS:
            sys.exit(f"decoded {self.mm.size} bytes = {self.mm.size / FS} frames, expected {NSRC}")
        self.mm = self.mm.reshape(NSRC, FS)

    def frame(self, n):
        """Writable copy of output frame n (source frame n mod 795)."""
        return Frame(np.array(self.mm[n % NSRC]))


def decode_source(mp4, raw_path):
    subprocess.run(
        ["gst-launch-1.0", "-q", "filesrc", f"location={mp4}", "!", "qtdemux", "!",
         "h264parse", "!", "avdec_h264", "!", "video/x-raw,format=I420,width=768,height=576", "!",
         "filesink", f"location={raw_path}"],
        check=True)


# --------------------------------------------------------------------------
# Edits (all rectangles are pixel [x1, x2) x [y1, y2) with even coordinates,
# so that the 2x2-subsampled chroma planes line up exactly)
# --------------------------------------------------------------------------

def _even(*v):
    assert all(c % 2 == 0 for c in v), v


def scale_rect(f, rect, k):
    """Multiply the RGB of a rectangle by k (done in limited-range YUV)."""
    x1, y1, x2, y2 = rect
    _even(*rect)
    y = f.Y[y1:y2, x1:x2].astype(np.float32)
    f.Y[y1:y2, x1:x2] = np.clip(np.rint(16 + k * (y - 16)), 0, 255).astype(np.uint8)
    for p in (f.U, f.V):
        c = p[y1 // 2:y2 // 2, x1 // 2:x2 // 2].astype(np.float32)
        p[y1 // 2:y2 // 2, x1 // 2:x2 // 2] = np.clip(np.rint(128 + k * (c - 128)), 0, 255).astype(np.uint8)


def scale_all(f, k):
    scale_rect(f, (0, 0, W, H), k)


# RGB (128,128,128) in BT.601 limited range: Y = 16 + 219*128/255 = 125.9 -> 126, U = V = 128.
GREY_YUV = (126, 128, 128)


def fill_rect(f, rect, yuv):
    x1, y1, x2, y2 = rect
    _even(*rect)
    f.Y[y1:y2, x1:x2] = yuv[0]
    f.U[y1 // 2:y2 // 2, x1 // 2:x2 // 2] = yuv[1]
    f.V[y1 // 2:y2 // 2, x1 // 2:x2 // 2] = yuv[2]


def to_444(f):
    """Float YUV 4:4:4 image (chroma nearest-upsampled)."""
    u = cv2.resize(f.U, (W, H), interpolation=cv2.INTER_NEAREST)
    v = cv2.resize(f.V, (W, H), interpolation=cv2.INTER_NEAREST)
    return np.dstack([f.Y, u, v]).astype(np.float32)


def paste_444(f, rect, img444, alpha=None):
    """Write rect of a float 4:4:4 image into f (chroma = 2x2 mean).
    alpha (full-res, same shape as rect, 0..1) blends over the current pixels."""
    x1, y1, x2, y2 = rect
    _even(*rect)
    new = img444[y1:y2, x1:x2]
    if alpha is not None:
        old = to_444(f)[y1:y2, x1:x2]
        a = alpha[..., None]
        new = new * a + old * (1 - a)
    h, w = y2 - y1, x2 - x1
    f.Y[y1:y2, x1:x2] = np.clip(np.rint(new[..., 0]), 0, 255).astype(np.uint8)
    for i, p in ((1, f.U), (2, f.V)):
        c = new[..., i].reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))
        p[y1 // 2:y2 // 2, x1 // 2:x2 // 2] = np.clip(np.rint(c), 0, 255).astype(np.uint8)


# ---- clip 3: van removal ---------------------------------------------------

VAN_HOLE = (646, 38, 728, 106)      # van body ≈ x 652-725, y 43-99, padded
VAN_PLATE_FRAME = 0                 # clean plate built once, from source frame 0
WALL_BASE = (640, 96, -0.34)        # wall/pavement line: y = 96 - 0.34 (x - 640)
FG_THRESHOLD = 28                   # |Y - Y(plate frame)| above this = something in front


def make_van_plate(src):
    """Clean plate for VAN_HOLE, built from one frame:
    - above the wall-base line (building wall, red door): each column is the
      mean of the 4 rows just above the hole, extended straight down (the wall's
      window recesses and the door are vertical);
    - below it (pavement, kerb, road): linear interpolation between the
      columns just left and right of the hole along lines parallel to the wall
      base / kerb (slope -0.34), so the diagonal pavement edges continue;
    - a 1-px blend across the wall-base line."""
    f = src.frame(VAN_PLATE_FRAME)
    img = to_444(f)
    x1, y1, x2, y2 = VAN_HOLE
    xl, xr = x1 - 1, x2
    bx, by, s = WALL_BASE
    top = img[y1 - 4:y1].mean(axis=0)
    out = img.copy()

    def samp(xx, yy):
        y0 = int(np.floor(yy))
        a = yy - y0
        return img[y0, xx] * (1 - a) + img[y0 + 1, xx] * a

    for y in range(y1, y2):
        for x in range(x1, x2):
            line = by + s * (x - bx)
            yl = y - s * (x - xl)          # follow the slope to the left column
            yr = y + s * (xr - x)          # ... and to the right column
            w = (x - xl) / (xr - xl)
            ground = samp(xl, yl) * (1 - w) + samp(xr, yr) * w
            a = min(max(y - line + 0.5, 0.0), 1.0)
            out[y, x] = top[x] * (1 - a) + ground * a
    ref_y = f.Y[y1:y2, x1:x2].astype(np.int16)
    return out, ref_y


def remove_van(f, plate, ref_y):
    """Paste the clean plate over the van, except where something that is not
    in the plate frame (a person walking past) is in front: those pixels are
    kept from the live frame."""
    x1, y1, x2, y2 = VAN_HOLE
    fg = (np.abs(f.Y[y1:y2, x1:x2].astype(np.int16) - ref_y) > FG_THRESHOLD).astype(np.uint8)
    k = np.ones((3, 3), np.uint8)
    fg = cv2.morphologyEx(fg, cv2.MORPH_OPEN, k)   # drop isolated codec-noise pixels
    alpha = 1.0 - fg.astype(np.float32)
    paste_444(f, VAN_HOLE, plate, alpha if fg.any() else None)
    return int(fg.sum())


# ---- clip 4: litter hidden under clean grass -------------------------------

FEATHER = 6     # px of linear alpha ramp around each core rectangle
# core rectangle (alpha 1; litter + its shadow + padding), source offset (dx, dy)
LITTER = {
    "yellow sheet": ((62, 490, 168, 534), (0, -48)),   # litter ≈ x 68-160, y 497-527
    "small paper": ((320, 446, 358, 472), (0, -30)),   # litter ≈ x 324-352, y 450-468
}


def litter_masks():
    masks = {}
    for name, (core, off) in LITTER.items():
        x1, y1, x2, y2 = core
        outer = (x1 - FEATHER, y1 - FEATHER, x2 + FEATHER, y2 + FEATHER)
        ox1, oy1, ox2, oy2 = outer
        yy, xx = np.mgrid[oy1:oy2, ox1:ox2].astype(np.float32)
        # distance outside the core (0 inside), per axis; alpha ramps 1 -> 0 over FEATHER px
        dx = np.maximum(np.maximum(x1 - xx - 0.5, xx + 0.5 - x2), 0)
        dy = np.maximum(np.maximum(y1 - yy - 0.5, yy + 0.5 - y2), 0)
        d = np.maximum(dx, dy)
        alpha = np.clip(1.0 - d / FEATHER, 0.0, 1.0)
        masks[name] = (outer, off, alpha)
    return masks


def grass_offsets(src, masks, frames):
    """Per-plane constant offset so the pasted patch has the same mean as the
    ring of grass around the core (computed once over the given frames)."""
    offs = {}
    for name, (outer, (dx, dy), alpha) in masks.items():
        ox1, oy1, ox2, oy2 = outer
        ring_sum = np.zeros(3)
        patch_sum = np.zeros(3)
        for n in frames:
            img = to_444(src.frame(n))
            ring = img[oy1:oy2, ox1:ox2][(alpha > 0) & (alpha < 1)]
            patch = img[oy1 + dy:oy2 + dy, ox1 + dx:ox2 + dx][alpha >= 1]
            ring_sum += ring.mean(axis=0)
            patch_sum += patch.mean(axis=0)
        offs[name] = (ring_sum - patch_sum) / len(frames)
    return offs


def hide_litter(f, masks, offs):
    img = to_444(f)
    for name, (outer, (dx, dy), alpha) in masks.items():
        ox1, oy1, ox2, oy2 = outer
        canvas = img.copy()
        canvas[oy1:oy2, ox1:ox2] = img[oy1 + dy:oy2 + dy, ox1 + dx:ox2 + dx] + offs[name]
        paste_444(f, outer, canvas, alpha)


# ---- clip 5: sign going dark -----------------------------------------------

SIGN = (413, 203, 445, 244)         # green "fire assembly point" sign on the lamp post
SIGN_FACTOR = 0.2


def darken_sign(f):
    """Multiply the sign's pixels by SIGN_FACTOR (exact rectangle, not
    even-aligned: chroma samples half inside get a 2x2-averaged factor)."""
    x1, y1, x2, y2 = SIGN
    k = np.ones((H, W), np.float32)
    k[y1:y2, x1:x2] = SIGN_FACTOR
    # work on the even-aligned bounding box
    ex1, ey1, ex2, ey2 = x1 & ~1, y1 & ~1, (x2 + 1) & ~1, (y2 + 1) & ~1
    kb = k[ey1:ey2, ex1:ex2]
    y = f.Y[ey1:ey2, ex1:ex2].astype(np.float32)
    f.Y[ey1:ey2, ex1:ex2] = np.clip(np.rint(16 + kb * (y - 16)), 0, 255).astype(np.uint8)
    kc = kb.reshape(kb.shape[0] // 2, 2, kb.shape[1] // 2, 2).mean(axis=(1, 3))
    for p in (f.U, f.V):
        c = p[ey1 // 2:ey2 // 2, ex1 // 2:ex2 // 2].astype(np.float32)
        p[ey1 // 2:ey2 // 2, ex1 // 2:ex2 // 2] = np.clip(np.rint(128 + kc * (c - 128)), 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------
# Encoding
# --------------------------------------------------------------------------

def encode(path, nframes, make):
    tmp = path + ".tmp"
    cmd = ("gst-launch-1.0 -q -e fdsrc fd=0 blocksize=%d ! "
           "rawvideoparse format=i420 width=%d height=%d framerate=%d/1 ! "
           "video/x-raw,format=I420,width=%d,height=%d,framerate=%d/1 ! %s ! filesink location=%s"
           % (FS, W, H, FPS, W, H, FPS, ENCODER.format(bitrate=BITRATE), tmp))
    p = subprocess.Popen(cmd.split(), stdin=subprocess.PIPE)
    try:
        for n in range(nframes):
            p.stdin.write(make(n).buf.tobytes())
    finally:
        p.stdin.close()
    if p.wait() != 0:
        sys.exit(f"gst-launch failed for {path}")
    zero_mp4_times(tmp)
    os.replace(tmp, path)
    print(f"wrote {path}: {nframes} frames, {os.path.getsize(path)} bytes, "
          f"sha256 {sha256(path)}", flush=True)


def zero_mp4_times(path):
    """Zero creation/modification times in mvhd, tkhd and mdhd (mp4mux writes
    the wall-clock time there), so reruns are byte-identical."""
    with open(path, "r+b") as fh:
        data = bytearray(fh.read())

    def walk(start, end):
        i = start
        while i + 8 <= end:
            size, typ = struct.unpack(">I4s", data[i:i + 8])
            hdr = 8
            if size == 1:
                size = struct.unpack(">Q", data[i + 8:i + 16])[0]
                hdr = 16
            elif size == 0:
                size = end - i
            if typ in (b"moov", b"trak", b"mdia"):
                walk(i + hdr, i + size)
            elif typ in (b"mvhd", b"tkhd", b"mdhd"):
                v = data[i + hdr]
                n = 8 if v == 1 else 4
                data[i + hdr + 4:i + hdr + 4 + 2 * n] = bytes(2 * n)
            i += size

    walk(0, len(data))
    with open(path, "r+b") as fh:
        fh.write(data)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for b in iter(lambda: fh.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


def decode_rgb_frame(mp4, index):
    """Frame `index` of an encoded clip, decoded as the appliance would see it
    (avdec_h264 + videoconvert to RGB), as an HxWx3 RGB array."""
    p = subprocess.Popen(
        ["gst-launch-1.0", "-q", "filesrc", f"location={mp4}", "!", "qtdemux", "!", "h264parse",
         "!", "avdec_h264", "!", "videoconvert", "!", "video/x-raw,format=RGB,width=768,height=576",
         "!", "fdsink", "fd=1"], stdout=subprocess.PIPE)
    n = W * H * 3
    out = None
    for i in range(index + 1):
        b = p.stdout.read(n)
        if len(b) != n:
            break
        if i == index:
            out = np.frombuffer(b, np.uint8).reshape(H, W, 3).copy()
    p.stdout.close()
    p.kill()
    p.wait()
    if out is None:
        sys.exit(f"could not decode frame {index} of {mp4}")
    return out


# --------------------------------------------------------------------------
# Clips
# --------------------------------------------------------------------------

def clip_occlusion(src, out):
    box = (722, 34, 768, 110)       # (0.94,0.06)-(1.0,0.19) rounded to even pixels
    t0, t1 = sec(20), sec(50)

    def make(n):
        f = src.frame(n)
        if t0 <= n < t1:
            fill_rect(f, box, GREY_YUV)
        return f
    encode(os.path.join(out, "occlusion.mp4"), sec(60), make)


def clip_dimmed(src, out):
    t0, t1 = sec(25), sec(45)

    def make(n):
        f = src.frame(n)
        if t0 <= n < t1:
            scale_all(f, 0.6)
        return f
    encode(os.path.join(out, "dimmed.mp4"), sec(60), make)


def clip_van_leaves(src, out):
    t0, t1 = sec(35), sec(75)
    plate, ref_y = make_van_plate(src)
    kept = {}

    def make(n):
        f = src.frame(n)
        if t0 <= n < t1:
            c = remove_van(f, plate, ref_y)
            if c:
                kept[n] = c
        return f
    encode(os.path.join(out, "van-leaves.mp4"), sec(110), make)
    if kept:
        print(f"  van-leaves: live foreground kept in the plate area in output frames "
              f"{min(kept)}-{max(kept)} ({len(kept)} frames, max {max(kept.values())} px)")


def clip_waste(src, out):
    t_appear = sec(25)
    masks = litter_masks()
    offs = grass_offsets(src, masks, range(0, t_appear, 10))
    for name, o in offs.items():
        print(f"  waste-appears: {name}: grass patch offset Y/U/V = "
              + "/".join(f"{v:+.1f}" for v in o))

    def make(n):
        f = src.frame(n)
        if n < t_appear:
            hide_litter(f, masks, offs)
        return f
    path = os.path.join(out, "waste-appears.mp4")
    encode(path, sec(70), make)
    rgb = decode_rgb_frame(path, sec(5))
    png = os.path.join(out, "waste-clean-reference.png")
    cv2.imwrite(png, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    print(f"wrote {png}: frame {sec(5)} (t=5 s) of waste-appears.mp4, sha256 {sha256(png)}")


def clip_sign_dark(src, out):
    t0 = sec(30)

    def make(n):
        f = src.frame(n)
        if n >= t0:
            darken_sign(f)
        return f
    encode(os.path.join(out, "sign-dark.mp4"), sec(70), make)


CLIPS = {
    "occlusion": clip_occlusion,
    "dimmed": clip_dimmed,
    "van-leaves": clip_van_leaves,
    "waste-appears": clip_waste,
    "sign-dark": clip_sign_dark,
}


def main():
    global BITRATE
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--src", default=os.path.normpath(os.path.join(here, "..", "vtest.mp4")))
    ap.add_argument("--out", default=here)
    ap.add_argument("--bitrate", type=int, default=BITRATE,
                    help="x264enc CBR bitrate in kbit/s (default 600 = make-footage.sh; "
                         "lower only to shrink files, the clips then look worse than vtest.mp4)")
    ap.add_argument("--only", default=",".join(CLIPS), help="comma-separated: " + ",".join(CLIPS))
    a = ap.parse_args()
    BITRATE = a.bitrate
    names = [s for s in a.only.split(",") if s]
    for s in names:
        if s not in CLIPS:
            sys.exit(f"unknown clip {s!r}; known: {', '.join(CLIPS)}")
    os.makedirs(a.out, exist_ok=True)
    print(f"source {a.src} sha256 {sha256(a.src)}")
    with tempfile.TemporaryDirectory(prefix="steward-staged-") as tmp:
        raw = os.path.join(tmp, "vtest.i420")
        decode_source(a.src, raw)
        src = Source(raw)
        for s in names:
            CLIPS[s](src, a.out)


if __name__ == "__main__":
    main()
