"""Generated call audio for the long-run, thread and recovery tests.

A *pool* of seeded 48 kHz echo scenarios (simulation.EchoScenario), each in a different
room with a different bulk delay, so every boundary between two pieces is an abrupt echo-
path and delay change. Pieces cover far-end single talk, double talk, an in-piece path
change, pink/babble/keyboard noise, loud and quiet far ends, and near-end single talk. A
long call cycles through the pool; pass ``k`` of the cycle scales far and mic by seeded
gains (level changes of up to +-12 dB, the ERL changing with them).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from callaudio.simulation import EchoScenario

RATE = 48000
N = RATE // 100
F32 = npt.NDArray[np.float32]

_PIECES: tuple[dict[str, object], ...] = (
    {"duration_s": 12.0, "bulk_delay_ms": 80.0},
    {
        "duration_s": 12.0,
        "bulk_delay_ms": 200.0,
        "near_intervals": ((3.0, 6.0), (8.5, 10.5)),
        "noise_kind": "pink",
        "noise_snr_db": 25.0,
    },
    {"duration_s": 12.0, "bulk_delay_ms": 40.0, "path_change_s": 6.0, "far_level_dbfs": -20.0},
    {
        "duration_s": 10.0,
        "bulk_delay_ms": 350.0,
        "far_level_dbfs": -36.0,
        "erl_db": 0.0,
        "noise_kind": "babble",
        "noise_snr_db": 20.0,
    },
    {
        "duration_s": 12.0,
        "bulk_delay_ms": 120.0,
        "near_intervals": ((2.5, 9.0),),
        "noise_kind": "keyboard",
        "noise_snr_db": 30.0,
        "rt60_s": 0.5,
    },
    {
        "duration_s": 6.0,
        "far_intervals": (),
        "near_intervals": None,
        "noise_kind": "white",
        "noise_snr_db": 35.0,
    },
)


@dataclass(frozen=True)
class Piece:
    far: F32
    echo: F32  # echo at the mic (follows the far gain)
    near_noise: F32  # near talker + noise at the mic (follows the mic gain)
    noise: F32
    far_only: npt.NDArray[np.bool_]
    idle: npt.NDArray[np.bool_]  # neither the far end (echo) nor the near talker active
    frames: int


@functools.lru_cache(maxsize=1)
def pool() -> tuple[Piece, ...]:
    out = []
    for i, kw in enumerate(_PIECES):
        res = EchoScenario(sample_rate=RATE, seed=100 + i, **kw).build()  # type: ignore[arg-type]
        m = res.far.size // N * N
        out.append(
            Piece(
                far=np.ascontiguousarray(res.far[:m]),
                echo=np.ascontiguousarray(res.echo[:m]),
                near_noise=(res.near[:m] + res.noise[:m]).astype(np.float32),
                noise=np.ascontiguousarray(res.noise[:m]),
                far_only=res.far_only[:m],
                idle=~(res.far_active[:m] | res.near_active[:m]),
                frames=m // N,
            )
        )
    return tuple(out)


def pool_frames() -> int:
    return sum(p.frames for p in pool())


def gains(k: int) -> tuple[float, float]:
    """(far gain, near gain) of pass k: pass 0 is unscaled, later ones +-12 dB each.

    The echo follows the far gain (the acoustic path is linear), so the ERL stays and the
    echo level changes with the far level; near talker and noise follow the near gain.
    """
    if k == 0:
        return 1.0, 1.0
    g = np.random.default_rng([7, k]).uniform(-12.0, 12.0, size=2)
    return float(10 ** (g[0] / 20)), float(10 ** (g[1] / 20))


def call(total_frames: int, offset: int = 0) -> Iterator[tuple[int, int, float, float]]:
    """Yield (piece index, frame within piece, far gain, mic gain) for ``total_frames``."""
    pieces = pool()
    done, k = 0, 0
    idx = offset % len(pieces)
    while done < total_frames:
        gf, gm = gains(k)
        p = pieces[idx]
        for f in range(p.frames):
            if done >= total_frames:
                return
            yield idx, f, gf, gm
            done += 1
        idx = (idx + 1) % len(pieces)
        if idx == offset % len(pieces):
            k += 1


# -- running a call through a processor ------------------------------------------------


class Target:
    """What a call runs through: a VoiceProcessor or a bare compiled Chain."""

    def __init__(self, obj: Any) -> None:
        from callaudio._dsp.aec import EchoCanceller
        from callaudio._dsp.pipeline import Chain

        self.obj = obj
        self.kind = (
            "chain"
            if isinstance(obj, Chain)
            else "aec"
            if isinstance(obj, EchoCanceller)
            else "processor"
        )
        self.chain: Any = obj._chains[0] if self.kind == "processor" else obj

    @property
    def echo_canceller(self) -> Any:
        return self.obj if self.kind == "aec" else self.chain.echo_canceller

    def render(self, far: F32) -> None:
        if self.kind == "processor":
            self.obj.process_render(far)
        else:
            self.obj.render(far)

    def capture(self, mic: F32, out: F32) -> None:
        if self.kind == "chain":
            np.copyto(out, mic)
            if self.obj.capture(out, out):
                self.obj.reset()
        elif self.kind == "aec":
            np.copyto(out, self.obj.capture(mic))
        else:
            self.obj.process_capture(mic, out=out)

    def agc_gain(self) -> float:
        """Linear gain the gain control applied to the last frame (1 when absent)."""
        agc = None if self.kind == "aec" else self.chain.gain_control
        if agc is None:
            return 1.0
        return float(10 ** ((agc.gain_db + agc.limiter_gain_db) / 20))

    @property
    def latency(self) -> int:
        return int(self.chain.latency_samples)


@dataclass
class CallReport:
    frames: int = 0
    nonfinite_out: int = 0
    peak: float = 0.0
    erle: list[tuple[int, int, float]] | None = None  # (visit, piece, median dB)
    # same, gain control included, with the output's rise over its own background:
    # (visit, piece, heard ERLE dB, far-only minus idle output level dB, NaN if no idle)
    erle_heard: list[tuple[int, int, float, float]] | None = None
    # echo-to-noise ratio at the mic of each visit in ``erle`` (same order), dB: the measure
    # (echo + noise over output) cannot exceed it by much, whatever the canceller does
    enr: list[float] | None = None
    # (minute of the call, median ERLE dB over the 50 ms far-only frames measured in it)
    erle_minutes: list[tuple[int, float]] | None = None
    rss_after_warmup: int = 0
    rss_end: int = 0


def _median_level_db(x: F32, mask: npt.NDArray[np.bool_], frame: int = RATE // 20) -> float:
    """Median level (dB) of the 50 ms frames of ``x`` that ``mask`` covers entirely; NaN
    when they add up to less than 0.5 s."""
    m = x.size // frame
    cover = mask[: m * frame].reshape(m, frame).all(axis=1)
    if np.count_nonzero(cover) * frame < RATE // 2:
        return float("nan")
    p = np.mean(x[: m * frame].reshape(m, frame)[cover].astype(np.float64) ** 2, axis=1)
    return float(np.median(10.0 * np.log10(p + 1e-20)))


def run_call(
    target: Target,
    total_frames: int,
    *,
    offset: int = 0,
    warmup_frames: int = 0,
    measure_erle: bool = True,
    rss: object = None,
    checkpoint: Callable[[str], None] | None = None,
) -> CallReport:
    """Run ``total_frames`` of the cycled call through ``target``; measure as it goes.

    ERLE per piece visit: ``metrics.erle_db`` (50 ms frames) of echo + noise at the mic over
    the output with the gain control's gain divided out (``erle``: the echo path's stages;
    ``erle_minutes``: the same 50 ms frames pooled by minute of the call, as the issue's
    "ERLE above its floor in every far-end-only minute" reads),
    and over the output as sent (``erle_heard``: what the far end hears back), on far-only
    frames from 2 s after the piece starts (each piece is a new echo path). ``rss`` is a
    callable returning the RSS in bytes, sampled after ``warmup_frames`` and at the end;
    ``checkpoint`` is called with ``"warm"`` and ``"end"`` at the same two points (threads
    meet there so one RSS sample covers them all). The measurement buffers are allocated
    once, before the warm-up ends, so they add nothing to the growth.
    """
    import gc

    from callaudio.simulation.metrics import erle_db

    rep = CallReport(erle=[], erle_heard=[], erle_minutes=[], enr=[])
    visit_gains = (1.0, 1.0)
    hop = RATE // 20  # erle_db's 50 ms frames
    # every 50 ms ERLE frame of the call, by its place in the call (NaN: not measured);
    # allocated up front so the measurement itself does not grow the RSS it samples
    erle_frames = np.full(total_frames * N // hop + 1, np.nan, np.float32)
    visit_start = 0
    pieces = pool()
    out = np.empty(N, np.float32)
    mic = np.empty(N, np.float32)
    far = np.empty(N, np.float32)
    lat = target.latency
    visit = -1
    cur = -1
    longest = max(p.frames for p in pieces) * N if measure_erle else 0
    out_all = np.zeros(longest, np.float32)
    heard_all = np.zeros(longest, np.float32)
    ref_all = np.zeros(longest, np.float32)
    tmp_all = np.zeros(longest, np.float32)
    buf_out = out_all[:0]
    buf_heard = heard_all[:0]
    buf_ref = ref_all[:0]
    buf_mask = np.zeros(0, bool)
    buf_idle = np.zeros(0, bool)

    def close_visit() -> None:
        if cur < 0 or not measure_erle or rep.erle is None:
            return
        m = min(buf_out.size, (rep.frames - visit_start) * N) - lat  # processed part only
        start = 2 * RATE
        if m <= start:
            return
        o = buf_out[lat:][start:m]
        r = buf_ref[start:m]
        msk = buf_mask[start:m]
        if np.count_nonzero(msk) < RATE:  # at least 1 s of far-only speech
            return
        per, med = erle_db(r, o, RATE, mask=msk)
        if np.isfinite(med) and rep.enr is not None:
            rep.erle.append((visit, cur, float(med)))
            p = pieces[cur]
            echo = visit_gains[0] * p.echo[start:m][msk].astype(np.float64)
            noise = visit_gains[1] * p.noise[start:m].astype(np.float64)
            rep.enr.append(float(10 * np.log10(np.mean(echo**2) / (np.mean(noise**2) + 1e-20))))
        first = (visit_start * N + start) // hop
        fit = max(0, min(per.size, erle_frames.size - first))
        erle_frames[first : first + fit] = per[:fit]
        _, med = erle_db(r, buf_heard[lat:][start:m], RATE, mask=msk)
        heard = buf_heard[lat:][start:m]
        if np.isfinite(med) and rep.erle_heard is not None:
            rise = _median_level_db(heard, msk) - _median_level_db(heard, buf_idle[start:m])
            rep.erle_heard.append((visit, cur, float(med), rise))

    for idx, f, gf, gn in call(total_frames, offset):
        p = pieces[idx]
        if f == 0:
            close_visit()
            visit += 1
            visit_start = rep.frames
            visit_gains = (gf, gn)
            cur = idx
            if measure_erle:
                size = p.frames * N
                buf_out = out_all[:size]
                buf_heard = heard_all[:size]
                buf_ref = ref_all[:size]
                np.multiply(p.echo, gf, out=buf_ref)
                buf_ref += np.multiply(p.noise, gn, out=tmp_all[:size])
                buf_mask = p.far_only
                buf_idle = p.idle
        sl = slice(f * N, (f + 1) * N)
        np.multiply(p.far[sl], gf, out=far)
        np.multiply(p.echo[sl], gf, out=mic)
        mic += gn * p.near_noise[sl]
        target.render(far)
        target.capture(mic, out)
        if not np.all(np.isfinite(out)):
            rep.nonfinite_out += 1
        rep.peak = max(rep.peak, float(np.max(np.abs(out))))
        if measure_erle:
            buf_out[sl] = out / target.agc_gain()
            buf_heard[sl] = out
        rep.frames += 1
        if rep.frames == warmup_frames:
            if rss is not None:
                gc.collect()
                rep.rss_after_warmup = rss()  # type: ignore[operator]
            if checkpoint is not None:
                checkpoint("warm")
    if rss is not None:
        gc.collect()
        rep.rss_end = rss()  # type: ignore[operator]
    if checkpoint is not None:
        checkpoint("end")
    close_visit()
    per_minute = 60 * RATE // hop
    for m in range(0, erle_frames.size, per_minute):
        v = erle_frames[m : m + per_minute]
        v = v[np.isfinite(v)]
        if v.size >= 20:
            rep.erle_minutes.append((m // per_minute, float(np.median(v))))
    return rep
