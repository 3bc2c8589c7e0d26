#!/usr/bin/env bash
# Generates the test clips into testdata/clips/ (gitignored, kept as a cache).
#
#   scripts/make-clips.sh              every clip that is missing
#   scripts/make-clips.sh NAME...      just these (e.g. h264-small.mp4)
#   scripts/make-clips.sh --list       the known names
#   FORCE=1 scripts/make-clips.sh      regenerate even if present
#
# Go tests get clips through internal/testpeer.Clip, which runs this script.
# Generation is serialised with flock(1) on testdata/clips/.lock, so parallel
# test packages never write the same file twice or read a half-written one
# (clips are written to a temporary name and renamed into place).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
DIR=${SKYRELAY_CLIPS_DIR:-testdata/clips}

CLIPS=(h264-720p30.mp4 h264-720p30-g75.mp4 h264-small.mp4 h264-small-aac.mp4 h265-small.mp4 h264-bframes.mp4)

# ffmpeg arguments for each clip, after the output-independent prefix.
# Sources are ffmpeg's own lavfi generators, so the clips are reproducible
# from nothing but Debian's ffmpeg.
recipe() {
  local av720=(-f lavfi -i testsrc2=size=1280x720:rate=30
    -f lavfi -i sine=frequency=1000:sample_rate=48000 -t 30
    -c:v libx264 -profile:v main -preset veryfast -pix_fmt yuv420p
    -b:v 3M -maxrate 3M -bufsize 3M -sc_threshold 0 -bf 0
    -c:a aac -b:a 128k -ac 2)
  local small=(-f lavfi -i testsrc2=size=320x240:rate=25 -t 5 -an -pix_fmt yuv420p)
  case "$1" in
    # the benchmark clip (docs/testing.md): 1280x720 30 fps 3 Mbit/s, keyframe every 1 s,
    # no B-frames (WebRTC cannot carry them), AAC stereo, 30 s.
    h264-720p30.mp4) R=("${av720[@]}" -g 30 -keyint_min 30) ;;
    # The same with 2.5 s between keyframes, as DJI devices send.
    h264-720p30-g75.mp4) R=("${av720[@]}" -g 75 -keyint_min 75) ;;
    # Small and short for fast tests: 320x240 25 fps, 5 s, keyframe every
    # 1 s, no B-frames, no audio.
    h264-small.mp4) R=("${small[@]}" -c:v libx264 -profile:v main -preset veryfast
      -g 25 -keyint_min 25 -sc_threshold 0 -bf 0) ;;
    # The small clip with a mono AAC sine tone, 4 s: audio and video.
    h264-small-aac.mp4) R=(-f lavfi -i testsrc2=size=320x240:rate=25
      -f lavfi -i sine=frequency=1000:sample_rate=48000 -t 4 -pix_fmt yuv420p
      -c:v libx264 -profile:v main -preset veryfast
      -g 25 -keyint_min 25 -sc_threshold 0 -bf 0 -c:a aac -b:a 64k -ac 1) ;;
    # H.265 (what newer DJI devices send), no B-frames.
    h265-small.mp4) R=("${small[@]}" -c:v libx265 -preset veryfast
      -x265-params bframes=0:keyint=25:min-keyint=25:scenecut=0:log-level=error) ;;
    # With B-frames (3 between references): for reorder/DTS handling and for
    # the paths that must refuse or flag them.
    h264-bframes.mp4) R=("${small[@]}" -c:v libx264 -profile:v main -preset veryfast
      -g 25 -keyint_min 25 -sc_threshold 0 -bf 3 -b_strategy 0) ;;
    *) return 1 ;;
  esac
}

if [ "${1:-}" = --list ]; then
  printf '%s\n' "${CLIPS[@]}"
  exit 0
fi

want=("$@")
[ ${#want[@]} -gt 0 ] || want=("${CLIPS[@]}")
for name in "${want[@]}"; do
  if ! recipe "$name"; then
    echo "make-clips.sh: unknown clip \"$name\"; known: ${CLIPS[*]}" >&2
    exit 2
  fi
done

if ! command -v ffmpeg >/dev/null 2>&1; then
  echo "make-clips.sh: ffmpeg not found (Debian package ffmpeg); run scripts/install-test-peers.sh" >&2
  exit 1
fi

mkdir -p "$DIR"
# internal/testpeer already holds the lock when it runs us.
if [ -z "${SKYRELAY_CLIPS_LOCK_HELD:-}" ]; then
  exec 9>"$DIR/.lock"
  flock 9
fi

for name in "${want[@]}"; do
  out="$DIR/$name"
  if [ -s "$out" ] && [ -z "${FORCE:-}" ]; then
    continue
  fi
  recipe "$name"
  tmp="$DIR/.$name.$$.partial"
  echo "make-clips.sh: generating $out" >&2
  if ! ffmpeg -nostdin -hide_banner -loglevel error -y "${R[@]}" -movflags +faststart -f mp4 "$tmp"; then
    rm -f "$tmp"
    echo "make-clips.sh: ffmpeg failed for $name" >&2
    exit 1
  fi
  mv -f "$tmp" "$out"
done
