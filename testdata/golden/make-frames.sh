#!/usr/bin/env bash
# Make the golden model-input frames frame_05s.png, frame_30s.png, frame_60s.png
# from testdata/vtest.mp4: the frames at t = 5, 30 and 60 s, letterboxed to
# 416x416 RGB exactly as the product's source stage does it
# (videoscale add-borders=true, pixel-aspect-ratio=1/1): the 768x576 picture is
# scaled to 416x312 and sits on rows 52..363, with black rows 0..51 and 364..415.
#
# videorate at 1/1 emits, for output frame k (timestamp k s), the input frame
# closest to k s, i.e. frame 10k of the 10 fps clip.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
clip="$here/../vtest.mp4"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

gst-launch-1.0 -q \
  filesrc location="$clip" ! qtdemux ! h264parse ! avdec_h264 ! \
  videorate ! video/x-raw,framerate=1/1 ! \
  videoscale add-borders=true ! video/x-raw,width=416,height=416,pixel-aspect-ratio=1/1 ! \
  videoconvert ! video/x-raw,format=RGB ! pngenc ! \
  multifilesink location="$work/f%03d.png"

for t in 05 30 60; do
  cp "$work/f0$t.png" "$here/frame_${t}s.png"
done
sha256sum "$here"/frame_*s.png
