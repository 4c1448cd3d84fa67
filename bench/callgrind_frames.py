"""Callgrind driver: N frames of a double-talk scenario through the whole chain.

Instruction counts do not drift with machine load, so they are the before/after measure
of speed work.  Run under callgrind and read each stage's inclusive cost per call::

    valgrind --tool=callgrind --callgrind-out-file=cg.48k \
        python bench/callgrind_frames.py 48000 300 [CHANNELS]
    python bench/callgrind_frames.py --report cg.48k [FRAMES]

The stereo/mono check of issue 17 (exit status 1 above ``--max``, default 1.6)::

    python bench/callgrind_frames.py --stereo-ratio 48000 [FRAMES] [--max 1.6]

runs the driver under callgrind twice, mono and two linked channels, and prints each one's
instructions per frame in the per-frame entry points (``VoiceProcessor.process_capture``
plus ``process_render``, inclusive) and their ratio.

With CHANNELS (default 1) the capture is a ``VoiceProcessor(rate, channels=CHANNELS)`` fed
the scenario's mic on every channel, each scaled differently (a talker panned across
them); the report's Ir/frame column then counts all channels of a frame together.

The report divides each compiled stage entry point's inclusive instruction count by its
number of calls (one call per frame and channel), so the driver's setup is not counted;
with FRAMES it also divides by the frames (all channels of a frame together).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile

#: (label, regex on the Cython symbol) of the per-frame entry points
SYMBOLS = [
    ("chain capture_c", r"8pipeline_5Chain_capture_c$"),
    ("linked capture", r"8pipeline_5Chain_capture_linked_c$"),
    ("chain render_c", r"8pipeline_5Chain_render_c$"),
    ("high-pass", r"3hpf_8HighPass_process_c$"),
    ("aec capture", r"3aec_13EchoCanceller_capture_c$"),
    ("aec capture (+ns)", r"3aec_13EchoCanceller_capture_post_c$"),
    ("aec render", r"3aec_13EchoCanceller_render_c$"),
    ("ns", r"2ns_15NoiseSuppressor_process_c$"),
    ("ns (shared analysis)", r"2ns_15NoiseSuppressor_process_spectrum_c$"),
    ("agc", r"3agc_11GainControl_process_c$"),
    ("band analysis", r"5bands_\d+\w*analysis_c$"),
    ("band synthesis", r"5bands_\d+\w*synthesis_c$"),
    ("resampler", r"8resample_9Resampler_process_c$"),
    ("Chain.capture (py)", r"8pipeline_5Chain_\d+capture$"),
    ("Chain.capture_linked (py)", r"8pipeline_5Chain_\d+capture_linked$"),
    ("Chain.render (py)", r"8pipeline_5Chain_\d+render$"),
    ("VoiceProcessor capture", r"8pipeline_10FrameEntry_\d+capture$"),
    ("VoiceProcessor render", r"8pipeline_10FrameEntry_\d+render$"),
]


def drive(rate: int, frames: int, channels: int = 1) -> None:
    import numpy as np

    import callaudio as ca
    from callaudio.simulation import scenario as scn

    res = scn.double_talk(rate)
    n = rate // 100
    mic = np.ascontiguousarray(res.mic[: frames * n], dtype=np.float32).reshape(-1, n)
    far = np.ascontiguousarray(res.far[: frames * n], dtype=np.float32).reshape(-1, n)
    if channels > 1:
        gains = np.linspace(1.0, 0.5, channels, dtype=np.float32)
        mic = np.ascontiguousarray(mic[:, :, None] * gains)
    vp = ca.VoiceProcessor(rate, channels=channels)
    out = np.empty(mic.shape[1:], np.float32)
    for k in range(min(frames, mic.shape[0])):
        vp.process_render(far[k])
        vp.process_capture(mic[k], out=out)


def inclusive(path: str) -> dict[str, tuple[int, int]]:
    """Each SYMBOLS label's (inclusive instructions, calls) in a callgrind file."""
    text = subprocess.run(
        ["callgrind_annotate", "--inclusive=yes", "--threshold=100", path],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    incl: dict[str, int] = {}
    for line in text.splitlines():
        m = re.match(r"\s*([\d,]+)\s+\(.*?\)\s+\S*:(\S+)", line) or re.match(
            r"\s*([\d,]+)\s+\S*:(\S+)", line
        )
        if m:
            # inlined code is listed again per source file: the largest is the function's
            name, ir = m.group(2), int(m.group(1).replace(",", ""))
            incl[name] = max(ir, incl.get(name, 0))
    calls = _calls(path)
    out: dict[str, tuple[int, int]] = {}
    for label, pat in SYMBOLS:
        for sym, ir in incl.items():
            if re.search(pat, sym) and calls.get(sym):
                out[label] = (ir, calls[sym])
    return out


def report(path: str, frames: int = 0) -> None:
    for label, (ir, n) in inclusive(path).items():
        line = f"{label:22s} {ir / n:12.0f} Ir/call  ({n} calls)"
        if frames:
            line += f"  {ir / frames:12.0f} Ir/frame"
        print(line)


def _calls(path: str) -> dict[str, int]:
    """Calls per function, from the callgrind file's calls= lines."""
    names: dict[str, str] = {}
    calls: dict[str, int] = {}
    cfn = None
    with open(path) as f:
        for line in f:
            m = re.match(r"(c?fn)=\((\d+)\)(?: (.*))?", line)
            if m:
                key, ident, name = m.groups()
                if name:
                    names[ident] = name.strip()
                if key == "cfn":
                    cfn = names.get(ident)
                continue
            if line.startswith("calls=") and cfn is not None:
                calls[cfn] = calls.get(cfn, 0) + int(line[6:].split()[0])
    return calls


def frame_instructions(rate: int, frames: int, channels: int) -> float:
    """Instructions per frame of VoiceProcessor's capture and render entry points."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "cg.out")
        subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={out}",
                sys.executable,
                __file__,
                str(rate),
                str(frames),
                str(channels),
            ],
            capture_output=True,
            check=True,
        )
        incl = inclusive(out)
    return sum(incl[k][0] for k in ("VoiceProcessor capture", "VoiceProcessor render")) / frames


def stereo_ratio(rate: int, frames: int = 300, limit: float = 1.6) -> bool:
    """Print mono and linked-stereo instructions per frame and their ratio; True if the
    ratio is at most ``limit``."""
    mono, stereo = (frame_instructions(rate, frames, c) for c in (1, 2))
    ratio = stereo / mono
    print(
        f"{rate} Hz: mono {mono:.0f} Ir/frame, stereo {stereo:.0f} Ir/frame, "
        f"stereo/mono {ratio:.3f} (limit {limit})"
    )
    return ratio <= limit


if __name__ == "__main__":
    if sys.argv[1] == "--stereo-ratio":
        args = sys.argv[2:]
        lim = 1.6
        if "--max" in args:
            i = args.index("--max")
            lim = float(args[i + 1])
            del args[i : i + 2]
        ok = stereo_ratio(int(args[0]), int(args[1]) if len(args) > 1 else 300, lim)
        sys.exit(0 if ok else 1)
    if sys.argv[1] == "--report":
        report(sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 0)
    else:
        drive(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 1)
