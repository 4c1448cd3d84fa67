#!/bin/sh
# Regenerate the recorded talker clips used by callaudio.simulation.speech.load_talker.
#
#   talker_a.wav  talker 0 (far end): espeak-ng voice en-us (male), Harvard sentences list 1
#   talker_b.wav  talker 1 (near end): espeak-ng voice en-us+f3 (female), Harvard list 2
#
# Output: 16 kHz, 16-bit, mono WAV, leading/trailing silence trimmed, peak-normalised to
# -3 dBFS. The sentences are from the IEEE Harvard sentence lists (IEEE Trans. Audio
# Electroacoust. 17(3), 1969), in the public domain.
#
# Needs: espeak-ng (tested with 1.51) and sox (14.4.2): apt-get install -y espeak-ng sox
# espeak-ng writes 22.05 kHz WAV; `sox -D` resamples without dither so the result is
# deterministic for a given espeak-ng version.
#
# Usage: sh make_clips.sh [output-dir]   (default: the directory of this script)
set -eu

out_dir=${1:-$(dirname "$0")}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

make_clip() {
    voice=$1
    text=$2
    dest=$3
    # Write to a file (not a pipe): espeak-ng's WAV header needs a seekable output.
    espeak-ng -v "$voice" -s 150 -w "$tmp/raw.wav" "$text"
    sox -D "$tmp/raw.wav" -r 16000 -b 16 -c 1 "$dest" \
        silence 1 0.01 0.1% reverse silence 1 0.01 0.1% reverse norm -3
}

make_clip en-us "The birch canoe slid on the smooth planks. Glue the sheet to the dark \
blue background. It's easy to tell the depth of a well. These days a chicken leg is a \
rare dish. Rice is often served in round bowls." "$out_dir/talker_a.wav"

make_clip en-us+f3 "The boy was there when the sun rose. A rod is used to catch pink \
salmon. The source of the huge river is the clear spring. Kick the ball straight and \
follow through. Help the woman get back to her feet." "$out_dir/talker_b.wav"
