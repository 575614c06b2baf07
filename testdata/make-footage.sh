#!/usr/bin/env bash
# Rebuild testdata/vtest.mp4: real, camera-like test footage for Steward.
#
# Source: examples/data/vtest.avi from the Debian package opencv-doc
# (4.6.0+dfsg-12 in Debian 12; licence Apache-2.0 AND BSD-3-Clause, see
# testdata/README.md). It is a fixed elevated camera over a campus road:
# 768x576, 10 fps, 795 frames (79.5 s), MS-MPEG-4 v3 in AVI.
#
# We transcode it to what a street camera sends: H.264 without B-frames,
# a key frame every 20 frames (2 s), constant-bitrate ~600 kbit/s, in MP4.
# Size, frame rate and frame count are unchanged.
#
# Needs: apt-get (only "download" is used, nothing is installed), dpkg-deb,
# gst-launch-1.0 with plugins good (avidemux, mp4mux), ugly (x264enc),
# libav (MS-MPEG-4 decoder) and bad (h264parse).
#
# Usage: testdata/make-footage.sh [OUTPUT.mp4]     (default: testdata/vtest.mp4)
# Env:   OPENCV_DOC_VERSION=4.6.0+dfsg-12  pin the Debian package version.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:-$here/vtest.mp4}"
out="$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"

# sha256 of vtest.avi inside opencv-doc 4.6.0+dfsg-12. A different value only
# means the upstream clip changed; we warn rather than fail.
expected_avi_sha256="45cddc9490be69345cbdab64ca583be65987e864ca408038e648db99e10516cf"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# 1. Fetch the .deb without installing it (apt-get download writes to the cwd;
#    running it as root from a dir _apt cannot read only prints a warning).
(
  cd "$work"
  apt-get download "opencv-doc${OPENCV_DOC_VERSION:+=$OPENCV_DOC_VERSION}"
)
deb="$(ls "$work"/opencv-doc_*.deb)"
echo "package: $(dpkg-deb -f "$deb" Package) $(dpkg-deb -f "$deb" Version)"

# 2. Unpack just the clip.
dpkg-deb -x "$deb" "$work/x"
avi="$work/x/usr/share/doc/opencv-doc/examples/data/vtest.avi"
if [[ ! -f "$avi" && -f "$avi.gz" ]]; then
  gunzip -k "$avi.gz"
fi
[[ -f "$avi" ]] || { echo "vtest.avi not found in $deb" >&2; exit 1; }
avi_sha="$(sha256sum "$avi" | cut -d' ' -f1)"
echo "vtest.avi sha256: $avi_sha"
if [[ "$avi_sha" != "$expected_avi_sha256" ]]; then
  echo "warning: vtest.avi differs from the one testdata/README.md describes" >&2
fi

# 3. Transcode. -e sends EOS at the end so mp4mux writes a complete moov.
#    x264enc: bframes=0 (cameras send I/P only), key-int-max=20 (GOP 2 s at
#    10 fps), speed-preset=medium, pass=cbr bitrate=600 kbit/s (~6 MB),
#    threads=1 so the output is deterministic for a given libx264 build.
#    profile=main: what typical camera sub-streams use.
gst-launch-1.0 -q -e \
  filesrc location="$avi" ! avidemux ! decodebin ! videoconvert ! \
  video/x-raw,format=I420,width=768,height=576,framerate=10/1 ! \
  x264enc bframes=0 key-int-max=20 speed-preset=medium pass=cbr bitrate=600 threads=1 ! \
  video/x-h264,profile=main,stream-format=avc,alignment=au ! h264parse ! \
  mp4mux faststart=true ! filesink location="$out.tmp"
mv -f "$out.tmp" "$out"

echo "wrote $out ($(stat -c %s "$out") bytes)"
sha256sum "$out"
