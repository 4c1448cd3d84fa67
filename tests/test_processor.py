"""VoiceProcessor API: validation, dtypes, channels, NaN recovery, chunking, GIL, allocation."""

from __future__ import annotations

import dataclasses
import threading
import tracemalloc

import numpy as np
import pytest

import callaudio as ca

RATES = [pytest.param(r, id=f"{r // 1000}k") for r in ca.SAMPLE_RATES]


def noisy_tone(rate: int, seconds: float, seed: int = 0, level: float = 0.05) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(rate * seconds)) / rate
    x = level * np.sin(2 * np.pi * 300 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))
    x += 0.002 * rng.standard_normal(t.size)
    return x.astype(np.float32)


def run_frames(vp: ca.VoiceProcessor, x: np.ndarray) -> np.ndarray:
    n = vp.frame_size
    out = np.empty_like(x)
    for i in range(0, x.shape[0] - n + 1, n):
        out[i : i + n] = vp.process_capture(x[i : i + n])
    return out


# -- configuration --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("factory", "field"),
    [
        (lambda: ca.HighPassConfig(cutoff_hz=5.0), "high_pass.cutoff_hz"),
        (lambda: ca.HighPassConfig(order=3), "high_pass.order"),
        (lambda: ca.HighPassConfig(cutoff_hz=float("nan")), "high_pass.cutoff_hz"),
        (lambda: ca.GainControlConfig(target_level_dbfs=3.0), "gain_control.target_level_dbfs"),
        (lambda: ca.GainControlConfig(max_gain_db=-1.0), "gain_control.max_gain_db"),
        (lambda: ca.GainControlConfig(enabled="yes"), "gain_control.enabled"),
        (lambda: ca.NoiseSuppressorConfig(level_db=40.0), "noise_suppressor.level_db"),
        (lambda: ca.EchoCancellerConfig(tail_ms=1.0), "echo_canceller.tail_ms"),
        (lambda: ca.ProcessingConfig(gain_control=None), "gain_control"),
    ],
    ids=[
        "hp-cutoff",
        "hp-order",
        "hp-nan",
        "agc-target",
        "agc-maxgain",
        "agc-enabled",
        "ns-level",
        "aec-tail",
        "not-a-stage",
    ],
)
def test_config_names_the_wrong_field(factory, field):
    with pytest.raises(ca.ConfigError) as err:
        factory()
    assert err.value.field == field
    assert field in str(err.value)


@pytest.mark.parametrize("rate", [11025, 22050, 96000, 16000.5, "16000", None])
def test_unsupported_sample_rate(rate):
    with pytest.raises(ca.ConfigError, match="sample_rate"):
        ca.VoiceProcessor(rate)


@pytest.mark.parametrize("channels", [0, -1, 33, 1.0, True])
def test_bad_channel_count(channels):
    with pytest.raises(ca.ConfigError, match="channels"):
        ca.VoiceProcessor(16000, channels=channels)


def test_frame_size():
    assert [ca.frame_size(r) for r in ca.SAMPLE_RATES] == [80, 160, 320, 441, 480]


# -- bad frames leave the processor unchanged -------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros(159, np.float32),
        np.zeros(161, np.float32),
        np.zeros(160, np.float64),
        np.zeros(160, np.int32),
        np.zeros((160, 2), np.float32),
        np.zeros((1, 160), np.float32),
        np.zeros((160, 1, 1), np.float32),
        [0.0] * 160,
    ],
    ids=["short", "long", "float64", "int32", "2ch", "transposed", "3d", "list"],
)
def test_bad_capture_frame_raises_and_loses_nothing(bad):
    x = noisy_tone(16000, 1.0)
    ref = ca.VoiceProcessor(16000)
    vp = ca.VoiceProcessor(16000)
    expect = run_frames(ref, x)
    half = x.size // 2
    got_a = run_frames(vp, x[:half])
    with pytest.raises(ca.FrameError):
        vp.process_capture(bad)
    got_b = run_frames(vp, x[half:])
    np.testing.assert_array_equal(np.concatenate([got_a, got_b]), expect)


def test_bad_out_buffer():
    vp = ca.VoiceProcessor(16000)
    mic = np.zeros(160, np.float32)
    for out in (np.zeros(160, np.int16), np.zeros(100, np.float32), np.zeros(320, np.float32)[::2]):
        with pytest.raises(ca.FrameError, match="out"):
            vp.process_capture(mic, out=out)
    ro = np.zeros(160, np.float32)
    ro.flags.writeable = False
    with pytest.raises(ca.FrameError, match="writable"):
        vp.process_capture(mic, out=ro)


def test_bad_render_frame():
    vp = ca.VoiceProcessor(48000)
    with pytest.raises(ca.FrameError, match="480"):
        vp.process_render(np.zeros(160, np.float32))
    assert vp.stats.render_frames == 0
    vp.process_render(np.zeros((480, 2), np.float32))
    assert vp.stats.render_frames == 1


# -- input forms ----------------------------------------------------------------------------


@pytest.mark.parametrize("rate", RATES)
def test_non_contiguous_input_equals_contiguous(rate):
    x = noisy_tone(rate, 0.5)
    n = ca.frame_size(rate)
    a, b = ca.VoiceProcessor(rate), ca.VoiceProcessor(rate)
    wide = np.zeros((x.size, 2), np.float32)
    wide[:, 1] = x
    for i in range(0, x.size, n):
        ya = a.process_capture(x[i : i + n])
        yb = b.process_capture(wide[i : i + n, 1])  # strided view
        np.testing.assert_array_equal(ya, yb)


def test_int16_follows_float_path():
    rate = 16000
    x = noisy_tone(rate, 1.0, level=0.2)
    xi = np.round(x * 32768).astype(np.int16)
    yf = run_frames(ca.VoiceProcessor(rate), xi.astype(np.float32) / 32768)
    vp = ca.VoiceProcessor(rate)
    yi = np.concatenate([vp.process_capture(xi[i : i + 160]) for i in range(0, xi.size, 160)])
    assert yi.dtype == np.int16
    assert np.max(np.abs(yi.astype(np.float64) - yf * 32768.0)) <= 1.0


def test_in_place_processing():
    x = noisy_tone(16000, 0.2)
    ref = run_frames(ca.VoiceProcessor(16000), x)
    vp = ca.VoiceProcessor(16000)
    y = x.copy()
    for i in range(0, y.size, 160):
        frame = y[i : i + 160]
        assert vp.process_capture(frame, out=frame) is frame
    np.testing.assert_array_equal(y, ref)


def test_multichannel_equals_independent_mono():
    rate = 16000
    x = np.stack([noisy_tone(rate, 0.5, seed=1), noisy_tone(rate, 0.5, seed=2, level=0.2)], 1)
    vp = ca.VoiceProcessor(rate, channels=2, link_channels=False)
    y = np.concatenate([vp.process_capture(x[i : i + 160]) for i in range(0, x.shape[0], 160)])
    for c in range(2):
        np.testing.assert_array_equal(y[:, c], run_frames(ca.VoiceProcessor(rate), x[:, c].copy()))
    with pytest.raises(ca.FrameError, match="2 channel"):
        vp.process_capture(np.zeros(160, np.float32))


# -- NaN / Inf ------------------------------------------------------------------------------


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("poison", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
def test_nonfinite_input_is_silenced_and_state_recovers(rate, poison):
    x = noisy_tone(rate, 1.0)
    n = ca.frame_size(rate)
    bad = x.copy()
    bad[10 * n + 3] = poison
    bad[20 * n : 22 * n] = poison
    clean = x.copy()
    clean[~np.isfinite(bad)] = 0.0
    vp = ca.VoiceProcessor(rate)
    y = run_frames(vp, bad)
    assert np.all(np.isfinite(y))
    assert vp.stats.nonfinite_frames == 3
    # The guard replaced the poison by silence and nothing else changed.
    np.testing.assert_array_equal(y, run_frames(ca.VoiceProcessor(rate), clean))


def test_huge_input_is_clamped_not_propagated():
    vp = ca.VoiceProcessor(16000)
    y = vp.process_capture(np.full(160, 1e30, np.float32))
    assert np.all(np.isfinite(y)) and np.max(np.abs(y)) < 1.0
    y = run_frames(vp, noisy_tone(16000, 0.5))
    assert np.all(np.isfinite(y))


# -- whole signals --------------------------------------------------------------------------


@pytest.mark.parametrize("rate", RATES)
def test_process_arrays_equals_frame_loop_and_keeps_length(rate):
    x = noisy_tone(rate, 0.73)  # not a whole number of frames
    y = ca.process_arrays(x, sample_rate=rate)
    assert y.shape == x.shape and y.dtype == np.float32
    n = ca.frame_size(rate)
    whole = x.size // n * n
    np.testing.assert_array_equal(y[:whole], run_frames(ca.VoiceProcessor(rate), x[:whole]))


def test_process_arrays_int16_and_far():
    x = (noisy_tone(16000, 0.5) * 32768).astype(np.int16)
    y = ca.process_arrays(x, far=np.zeros(10), sample_rate=16000)
    assert y.dtype == np.int16 and y.shape == x.shape


# -- stats, latency, lifecycle ---------------------------------------------------------------


def test_stats_none_until_known():
    vp = ca.VoiceProcessor(16000)
    s = vp.stats
    assert s.output_level_dbfs is None and s.gain_db is None and s.speech is None
    assert s.erle_db is None and s.delay_ms is None  # echo canceller off
    run_frames(vp, noisy_tone(16000, 2.0, level=0.1))
    s = vp.stats
    assert s.capture_frames == 200
    assert s.output_level_dbfs is not None and -60 < s.output_level_dbfs < 0
    assert s.gain_db is not None


def test_bypass_is_identity():
    x = noisy_tone(48000, 0.3)
    y = ca.process_arrays(x, sample_rate=48000, config=ca.ProcessingConfig.bypass())
    np.testing.assert_array_equal(x, y)
    assert ca.VoiceProcessor(48000, config=ca.ProcessingConfig.bypass()).latency_samples == 0


def test_latency_and_context_manager():
    with ca.VoiceProcessor(32000) as vp:
        assert isinstance(vp.latency_samples, int) and vp.latency_samples >= 0
        assert vp.stats.latency_ms == pytest.approx(vp.latency_samples / 32.0)
        assert "VoiceProcessor(sample_rate=32000" in repr(vp)


def test_reset_restores_initial_behaviour():
    x = noisy_tone(16000, 1.0, level=0.3)
    vp = ca.VoiceProcessor(16000)
    first = run_frames(vp, x)
    vp.reset()
    np.testing.assert_array_equal(run_frames(vp, x), first)


def test_config_is_frozen():
    cfg = ca.ProcessingConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.gain_control = ca.GainControlConfig()  # type: ignore[misc]


# -- real-time properties ---------------------------------------------------------------------


def test_process_capture_with_out_allocates_nothing():
    vp = ca.VoiceProcessor(48000)
    x = noisy_tone(48000, 1.0)
    out = np.empty(480, np.float32)
    frames = [x[i : i + 480] for i in range(0, x.size, 480)]
    for f in frames[:10]:  # warm-up: caches, lazily created objects
        vp.process_capture(f, out=out)
    tracemalloc.start()
    try:
        start, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        for _ in range(3):
            for f in frames:
                vp.process_capture(f, out=out)
        end, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert end - start <= 0, "memory retained across frames"
    # A frame buffer alone would be 1920 bytes; only transient small objects are allowed.
    assert peak - start < 1024, f"per-frame allocation of {peak - start} bytes"


def test_two_threads_progress_concurrently():
    """Thread A runs a long signal through a chain in one compiled call (the same per-frame
    kernels ``process_capture`` uses, looped in C); thread B meanwhile runs its own processor
    frame by frame. A C call that holds the GIL cannot be preempted, so if the chain kept
    the GIL, B could not finish a single frame while A is inside its call."""
    rate = 48000
    signal = noisy_tone(rate, 20.0, seed=1)
    chain = ca.VoiceProcessor(rate)._chains[0]
    out = np.empty_like(signal)
    a_inside = threading.Event()
    a_done = threading.Event()
    b_frames_while_a_inside = [0]
    b_started = threading.Event()

    def thread_a() -> None:
        b_started.wait()
        a_inside.set()
        chain.process_block(signal, out, None)
        a_inside.clear()
        a_done.set()

    def thread_b() -> None:
        vp = ca.VoiceProcessor(rate)
        frame = noisy_tone(rate, 0.01, seed=2)
        buf = np.empty_like(frame)
        b_started.set()
        for _ in range(200_000):  # bounded: A finishes long before this
            vp.process_capture(frame, out=buf)
            if a_inside.is_set():
                b_frames_while_a_inside[0] += 1
            if a_done.is_set():
                break

    threads = [threading.Thread(target=thread_a), threading.Thread(target=thread_b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert a_done.is_set()
    assert np.all(np.isfinite(out))
    assert b_frames_while_a_inside[0] >= 10, b_frames_while_a_inside


def test_process_arrays_multichannel_and_far_equal_frame_loop():
    rate = 16000
    x = np.stack([noisy_tone(rate, 0.5, seed=1), noisy_tone(rate, 0.5, seed=2, level=0.2)], 1)
    far = np.stack([noisy_tone(rate, 0.5, seed=3)] * 3, 1)
    y = ca.process_arrays(x, far, sample_rate=rate)
    vp = ca.VoiceProcessor(rate, channels=2)
    for i in range(0, x.shape[0], 160):
        vp.process_render(far[i : i + 160])
        np.testing.assert_array_equal(vp.process_capture(x[i : i + 160]), y[i : i + 160])
