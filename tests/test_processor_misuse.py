"""VoiceProcessor under misuse (issue 13): every error a CallAudioError, the processor
unchanged after it; configuration changes while running; the pre-validated fast path."""

from __future__ import annotations

import copy
import pickle
from dataclasses import replace

import numpy as np
import pytest

import callaudio as ca
from callaudio.errors import CallAudioError, FrameError, InvalidStateError

RATE = 16000
N = RATE // 100


def tone(frames: int, seed: int = 0, level: float = 0.2) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(frames * N) / RATE
    x = level * np.sin(2 * np.pi * 300 * t) + 0.003 * rng.standard_normal(t.size)
    return x.astype(np.float32)


def frames_of(x: np.ndarray) -> list[np.ndarray]:
    return [x[i : i + N] for i in range(0, x.shape[0] - N + 1, N)]


def test_latency_samples_after_close_is_still_known():
    vp = ca.VoiceProcessor(RATE)
    latency = vp.latency_samples
    vp.close()
    assert vp.latency_samples == latency
    with pytest.raises(InvalidStateError):
        _ = vp.stats
    with pytest.raises(InvalidStateError):
        vp.process_capture(np.zeros(N, np.float32))


def test_pickling_is_refused_with_a_callaudio_error():
    vp = ca.VoiceProcessor(RATE)
    with pytest.raises(CallAudioError, match="build a new one"):
        pickle.dumps(vp)
    vp.process_capture(np.zeros(N, np.float32))  # still usable
    assert vp.stats.capture_frames == 1


@pytest.mark.parametrize("how", [copy.copy, copy.deepcopy])
def test_copying_is_refused_and_shares_nothing(how):
    vp = ca.VoiceProcessor(RATE)
    with pytest.raises(CallAudioError, match="build a new one"):
        how(vp)
    assert vp.stats.capture_frames == 0


def test_stereo_out_partly_overlapping_mic_gives_the_right_output():
    x = np.stack([tone(20, 1), tone(20, 2, level=0.1)], 1)
    ref = ca.VoiceProcessor(RATE, channels=2)
    expected = [ref.process_capture(f.copy()) for f in frames_of(x)]
    vp = ca.VoiceProcessor(RATE, channels=2)
    for k, f in enumerate(frames_of(x)):
        # mic is the frame at offset 1 of a buffer, out the same buffer at offset 0:
        # out's row i overlaps mic's row i - 1 (a partial overlap, not the same array)
        buf = np.empty((N + 1, 2), np.float32)
        buf[1:] = f
        mic, out = buf[1:], buf[:-1]
        assert np.shares_memory(mic, out)
        y = vp.process_capture(mic, out=out)
        np.testing.assert_array_equal(y, expected[k])


def test_process_arrays_byte_swapped_int16_returns_int16_like_native():
    x = (tone(30) * 32767).astype(np.int16)
    native = ca.process_arrays(x, sample_rate=RATE)
    swapped = ca.process_arrays(x.astype(">i2" if np.little_endian else "<i2"), sample_rate=RATE)
    assert swapped.dtype == np.int16
    np.testing.assert_array_equal(swapped, native)


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros(480, "m8[ms]"),
        np.zeros(480, "M8[s]"),
        np.zeros(480, np.complex64),
        np.zeros(480, bool),
        np.array(["a"] * 480),
        np.zeros(480, object),
    ],
    ids=["timedelta64", "datetime64", "complex", "bool", "str", "object"],
)
def test_process_arrays_refuses_what_is_not_samples(bad):
    with pytest.raises(FrameError, match="samples"):
        ca.process_arrays(bad, sample_rate=RATE)
    with pytest.raises(FrameError, match="samples"):
        ca.process_arrays(np.zeros(480, np.float32), bad, sample_rate=RATE)


def test_apply_config_keeps_unchanged_stages_and_their_state():
    vp = ca.VoiceProcessor(RATE)
    x = tone(100)
    far = tone(100, 3)
    for f, g in zip(frames_of(x), frames_of(far), strict=True):
        vp.process_render(g)
        vp.process_capture(f)
    before = vp._chains[0]
    aec, agc = before.echo_canceller, before.gain_control
    cfg = replace(vp.config, noise_suppressor=ca.NoiseSuppressorConfig(level_db=20.0))
    vp.apply_config(cfg)
    after = vp._chains[0]
    assert vp.config is cfg
    assert after.echo_canceller is aec and after.gain_control is agc  # state kept
    assert after.noise_suppressor is not before.noise_suppressor
    assert after.noise_suppressor.level_db == 20.0
    assert vp.stats.capture_frames == 100 and vp.stats.render_frames == 100
    # the processor still runs, and switching a stage off changes the latency with it
    vp.apply_config(replace(cfg, noise_suppressor=ca.NoiseSuppressorConfig(enabled=False)))
    assert vp._chains[0].noise_suppressor is None
    assert vp.latency_samples == vp._chains[0].latency_samples
    assert np.all(np.isfinite(vp.process_capture(x[:N])))


def test_apply_config_refuses_a_non_config_and_changes_nothing():
    vp = ca.VoiceProcessor(RATE)
    chains, cfg = vp._chains, vp.config
    with pytest.raises(ca.ConfigError):
        vp.apply_config({"echo_canceller": None})  # type: ignore[arg-type]
    assert vp._chains is chains and vp.config is cfg
    vp.close()
    with pytest.raises(InvalidStateError):
        vp.apply_config(cfg)


@pytest.mark.parametrize("dtype", [np.float32, np.int16])
def test_fast_path_equals_the_checked_path(dtype):
    x = tone(50)
    if dtype == np.int16:
        x = (x * 32767).astype(np.int16)
    far = tone(50, 4)
    a, b = ca.VoiceProcessor(RATE), ca.VoiceProcessor(RATE)
    out = np.empty(N, dtype)
    for f, g in zip(frames_of(x), frames_of(far), strict=True):
        a.process_render(g)
        expected = a.process_capture(f)
        b.process_render_fast(g)
        assert b.process_capture_fast(f, out) is out
        np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize(
    ("mic", "out"),
    [
        (np.zeros(N + 1, np.float32), np.zeros(N + 1, np.float32)),  # wrong length
        (np.zeros(N, np.float32), np.zeros(N, np.int16)),  # dtypes differ
        (np.zeros(N, np.float64), np.zeros(N, np.float64)),  # unsupported dtype
        (np.zeros(2 * N, np.float32)[::2], np.zeros(N, np.float32)),  # not contiguous
    ],
    ids=["length", "mixed", "float64", "strided"],
)
def test_fast_path_still_refuses_what_it_cannot_read_safely(mic, out):
    vp = ca.VoiceProcessor(RATE)
    with pytest.raises(FrameError):
        vp.process_capture_fast(mic, out)
    assert vp.stats.capture_frames == 0
    if mic.dtype == out.dtype:  # mic alone is a bad far frame too
        with pytest.raises(FrameError):
            vp.process_render_fast(mic)
        assert vp.stats.render_frames == 0


# -- wave 2: the adversary's second report ----------------------------------------------------


@pytest.mark.parametrize(
    "far",
    [None, [0.0] * N, np.float32(0.0), np.zeros((), np.float32), np.zeros((N, 1, 1), np.float32)],
    ids=["None", "list", "scalar", "0-d", "3-d"],
)
def test_process_render_fast_refuses_what_is_not_a_frame_array(far) -> None:
    vp = ca.VoiceProcessor(RATE)
    with pytest.raises(FrameError, match="far"):
        vp.process_render_fast(far)
    vp.process_render_fast(np.zeros(N, np.float32))  # still usable


class _ArrayRaises:
    def __array__(self, *args: object, **kwargs: object) -> None:
        raise RuntimeError("no samples here")


def test_process_arrays_refuses_an_object_whose_array_conversion_raises() -> None:
    # Adversarial round 13: a RuntimeError from __array__ came out as itself
    with pytest.raises(FrameError, match="mic must be an array of samples: RuntimeError"):
        ca.process_arrays(_ArrayRaises(), sample_rate=RATE)
    with pytest.raises(FrameError, match="far must be an array of samples: RuntimeError"):
        ca.process_arrays(np.zeros(480, np.float32), _ArrayRaises(), sample_rate=RATE)


def test_process_arrays_cuts_a_long_far_before_converting_it() -> None:
    mic = np.zeros(1600, np.float32)
    far = np.broadcast_to(np.int16(100), (10**10,))  # 20 GB once converted to float32
    y = ca.process_arrays(mic, far, sample_rate=RATE)
    assert y.shape == mic.shape
    short = np.full(800, 0.1, np.float32)  # a far shorter than the mic is padded, as before
    assert ca.process_arrays(mic, short, sample_rate=RATE).shape == mic.shape


def test_stage_slots_take_only_their_own_stage_class() -> None:
    from callaudio.errors import ConfigError

    stages = {
        "high_pass": ca.HighPassConfig,
        "echo_canceller": ca.EchoCancellerConfig,
        "noise_suppressor": ca.NoiseSuppressorConfig,
        "gain_control": ca.GainControlConfig,
    }
    for slot, right in stages.items():
        for cls in stages.values():
            if cls is right:
                ca.ProcessingConfig(**{slot: cls()})
            else:
                with pytest.raises(ConfigError, match=slot):
                    ca.ProcessingConfig(**{slot: cls()})
    for flag in (np.True_, np.False_, True):
        with pytest.raises(ConfigError, match="hops_per_frame"):
            ca.NoiseSuppressorConfig(hops_per_frame=flag)
    assert ca.NoiseSuppressorConfig(hops_per_frame=4).hops_per_frame == 4


def test_numpy_integers_are_rates_and_channel_counts_like_ints() -> None:
    # np.int64(16000) was refused as a rate while 16000.0 was taken (float's subclass
    # np.float64 passed, numpy's integers did not); np.int64 channels likewise
    vp = ca.VoiceProcessor(np.int64(16000), channels=np.int32(2))
    assert (vp.sample_rate, vp.channels) == (16000, 2)
    assert type(vp.sample_rate) is int and type(vp.channels) is int
    ref = ca.VoiceProcessor(16000, channels=2)
    x = np.stack([tone(1)] * 2, axis=1)
    np.testing.assert_array_equal(vp.process_capture(x), ref.process_capture(x))
    for rate in (np.bool_(True), np.int64(7), np.float64(16000.5)):
        with pytest.raises(ca.ConfigError, match="sample_rate"):
            ca.VoiceProcessor(rate)
    with pytest.raises(ca.ConfigError, match="channels"):
        ca.VoiceProcessor(16000, channels=np.bool_(True))


def test_channels_from_an_int_subclass_are_read_as_its_plain_value() -> None:
    """int(channels) ran a subclass's __int__ (a RuntimeError came out of the constructor)."""

    class RaisingInt(int):
        def __int__(self) -> int:
            raise RuntimeError("no int")

    assert ca.VoiceProcessor(16000, channels=RaisingInt(2)).channels == 2
