"""Tests of callaudio.simulation: measured properties of the generated signals."""

from __future__ import annotations

import numpy as np
import pytest

from callaudio.simulation import metrics, speech_like

RATES = [pytest.param(16000, id="16k"), pytest.param(48000, id="48k")]


# --------------------------------------------------------------------------- metrics


def test_active_level_of_steady_tone_equals_its_level() -> None:
    t = np.arange(3 * 16000) / 16000
    x = 0.1 * np.sin(2 * np.pi * 440.0 * t)
    assert metrics.active_level_dbfs(x, 16000) == pytest.approx(-23.01, abs=0.1)
    assert metrics.level_dbfs(x) == pytest.approx(-23.01, abs=0.01)


def test_active_level_ignores_appended_silence() -> None:
    x = speech_like(6.0, 16000, seed=3)
    z = np.concatenate([x, np.zeros(x.size, np.float32)])
    assert metrics.level_dbfs(z) == pytest.approx(metrics.level_dbfs(x) - 3.01, abs=0.01)
    assert metrics.active_level_dbfs(z, 16000) == pytest.approx(-26.0, abs=0.5)


def test_active_level_of_gated_noise_counts_bursts_plus_hangover() -> None:
    # 1 s bursts of -20 dBFS noise alternating with 1 s of silence: P.56 counts the bursts
    # plus the envelope's decay and the 0.2 s hangover as active.
    rng = np.random.default_rng(0)
    rate = 16000
    x = np.concatenate([np.r_[0.1 * rng.standard_normal(rate), np.zeros(rate)] for _ in range(5)])
    frac = metrics.active_fraction(x, rate)
    assert 0.5 + 0.2 / 2 < frac < 0.5 + 0.35 / 2
    expected = 10 * np.log10(np.mean(x[:rate] ** 2) * 0.5 / frac)
    assert metrics.active_level_dbfs(x, rate) == pytest.approx(expected, abs=0.1)


def _p56_per_sample(x: np.ndarray, rate: int) -> float:
    """Slow reference: P.56 method B evaluated sample by sample (scipy envelope)."""
    from scipy.signal import lfilter

    g = np.exp(-1.0 / (0.03 * rate))
    env = lfilter([1 - g], [1, -g], lfilter([1 - g], [1, -g], np.abs(x)))
    hang = round(0.2 * rate)
    idx = np.arange(x.size)
    top = 20 * np.log10(env.max())
    thr = np.arange(-100.0, top, 0.25)  # the same grid as active_level_dbfs
    thr = thr[thr > top - 60.0]
    diff = []
    act = []
    for c in thr:
        last = np.maximum.accumulate(np.where(env >= 10 ** (c / 20), idx, -(10**9)))
        on = idx - last < hang
        a = 10 * np.log10(np.sum(x[on] ** 2) / max(1, on.sum()) + 1e-30)
        act.append(a)
        diff.append(a - c)
    j = int(np.nonzero(np.array(diff) <= 15.9)[0][0])
    frac = (diff[j - 1] - 15.9) / (diff[j - 1] - diff[j])
    return float(act[j - 1] + frac * (act[j] - act[j - 1]))


@pytest.mark.parametrize("talker", [0, 1])
def test_active_level_matches_per_sample_reference(talker: int) -> None:
    from callaudio.simulation import load_talker

    rate = 8000
    for x in (speech_like(4.0, rate, seed=4, talker=talker), load_talker(talker, rate, 4.0)):
        x = x.astype(np.float64) * 0.3
        assert metrics.active_level_dbfs(x, rate) == pytest.approx(
            _p56_per_sample(x, rate), abs=0.05
        )


def test_active_level_of_silence_is_floor() -> None:
    assert metrics.active_level_dbfs(np.zeros(1600), 16000) == -200.0


# --------------------------------------------------------------------------- speech_like


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("talker", [0, 1])
def test_speech_like_level_length_dtype_activity(rate: int, talker: int) -> None:
    x = speech_like(8.0, rate, level_dbfs=-30.0, seed=5, talker=talker)
    assert x.dtype == np.float32
    assert x.shape == (8 * rate,)
    assert metrics.active_level_dbfs(x, rate) == pytest.approx(-30.0, abs=0.05)
    frac = metrics.active_fraction(x, rate)
    assert 0.5 <= frac <= 0.8
    assert np.max(np.abs(x)) < 1.0
    assert abs(float(np.mean(x))) < 1e-4


def _f0_estimate(x: np.ndarray, rate: int) -> float:
    """Median cepstral pitch (70-400 Hz) over the loudest 40 ms frames."""
    n = int(0.04 * rate)
    frames = x[: x.size // n * n].reshape(-1, n).astype(np.float64)
    energy = np.sum(frames**2, axis=1)
    loud = frames[energy > np.percentile(energy, 70)] * np.hanning(n)
    ceps = np.fft.irfft(np.log(np.abs(np.fft.rfft(loud, 4 * n, axis=1)) + 1e-9), axis=1)
    lo, hi = int(rate / 400), int(rate / 70)
    lag = lo + np.argmax(ceps[:, lo:hi], axis=1)
    return float(np.median(rate / lag))


@pytest.mark.parametrize("rate", RATES)
def test_speech_like_talkers_differ_in_pitch(rate: int) -> None:
    f_male = _f0_estimate(speech_like(6.0, rate, seed=1, talker=0), rate)
    f_female = _f0_estimate(speech_like(6.0, rate, seed=1, talker=1), rate)
    assert 95.0 <= f_male <= 150.0
    assert 170.0 <= f_female <= 260.0


def test_speech_like_spectrum_is_speech_shaped() -> None:
    rate = 16000
    x = speech_like(8.0, rate, seed=2).astype(np.float64)
    spec = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(x.size, 1 / rate)
    band = lambda lo, hi: float(spec[(f >= lo) & (f < hi)].sum())  # noqa: E731
    total = band(0, 8000)
    # Like recorded speech (espeak-ng clips: 86 %, 5-8 %, 4-9 %): most energy in
    # 100-1500 Hz, little below 60 Hz, a few % in 1.5-3 kHz and in 3-8 kHz.
    assert band(100, 1500) / total > 0.7
    assert band(0, 60) / total < 0.01
    assert 0.02 < band(1500, 3000) / total < 0.2
    assert 0.01 < band(3000, 8000) / total < 0.2


def test_speech_like_has_syllabic_modulation() -> None:
    rate = 16000
    x = speech_like(10.0, rate, seed=4).astype(np.float64)
    blk = rate // 100
    env = np.sqrt(np.mean(x[: x.size // blk * blk].reshape(-1, blk) ** 2, axis=1))
    env = env - env.mean()
    mod = np.abs(np.fft.rfft(env)) ** 2
    fm = np.fft.rfftfreq(env.size, 0.01)
    band = lambda lo, hi: float(mod[(fm >= lo) & (fm < hi)].sum())  # noqa: E731
    # Syllables (2-8 Hz) and talkspurts (0.3-2 Hz) dominate the envelope's modulation
    # spectrum; faster modulation (8-30 Hz) is weaker (recorded speech: ratio 6-7).
    assert band(2.0, 8.0) > 3.0 * band(8.0, 30.0)
    assert band(0.3, 8.0) > 0.5 * band(0.3, 50.0)


def test_speech_like_reproducible_and_seed_dependent() -> None:
    a = speech_like(2.0, 16000, seed=7)
    b = speech_like(2.0, 16000, seed=7)
    c = speech_like(2.0, 16000, seed=8)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_speech_like_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="duration_s"):
        speech_like(0.0, 16000)
    with pytest.raises(ValueError, match="sample_rate"):
        speech_like(1.0, 1000)
    with pytest.raises(ValueError, match="talker"):
        speech_like(1.0, 16000, talker=99)


# --------------------------------------------------------------------------- load_talker


def test_recorded_clips_are_small_16k_mono() -> None:
    from importlib import resources

    from callaudio.simulation.speech import TALKER_FILES, read_wav

    total = 0
    for name in TALKER_FILES:
        ref = resources.files("callaudio.simulation") / "data" / name
        with resources.as_file(ref) as path:
            x, rate = read_wav(str(path))
            total += path.stat().st_size
        assert rate == 16000
        assert 10.0 <= x.size / rate <= 16.0
    assert total < 1_000_000


@pytest.mark.parametrize("rate", [*RATES, pytest.param(32000, id="32k", marks=pytest.mark.slow)])
def test_load_talker_length_level_and_pitch(rate: int) -> None:
    from callaudio.simulation import load_talker

    a = load_talker(0, rate, 7.0, seed=1)
    b = load_talker(1, rate, 7.0, seed=1)
    for x in (a, b):
        assert x.dtype == np.float32
        assert x.shape == (7 * rate,)
        assert metrics.active_level_dbfs(x, rate) == pytest.approx(-26.0, abs=0.05)
    # espeak-ng en-us (male) and en-us+f3 (female) voices.
    assert _f0_estimate(a, rate) < 140.0
    assert _f0_estimate(b, rate) > 170.0


def test_load_talker_loops_deterministically() -> None:
    from callaudio.simulation import load_talker

    once = load_talker(0, 16000, None, seed=0, level_dbfs=None)
    assert 10.0 < once.size / 16000 < 18.0
    long = load_talker(0, 16000, 40.0, seed=3)
    assert long.size == 40 * 16000
    # Speech keeps going over the whole 40 s (sentences are cycled).
    blocks = long.reshape(8, -1)
    assert np.all(np.sqrt(np.mean(blocks.astype(np.float64) ** 2, axis=1)) > 0.01)
    np.testing.assert_array_equal(long, load_talker(0, 16000, 40.0, seed=3))
    assert not np.array_equal(long, load_talker(0, 16000, 40.0, seed=4))


def test_load_talker_missing_clip_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    from callaudio.simulation import speech

    speech._utterances.cache_clear()
    speech._utterances_at.cache_clear()
    monkeypatch.setattr(speech, "TALKER_FILES", ("missing_a.wav", "missing_b.wav"))
    try:
        with pytest.raises(FileNotFoundError, match=r"make_clips\.sh"):
            speech.load_talker(0, 16000, 1.0)
    finally:
        speech._utterances.cache_clear()
        speech._utterances_at.cache_clear()


# --------------------------------------------------------------------------- resample

RATE_PAIRS = [
    (16000, 48000),
    (48000, 16000),
    (48000, 32000),
    (32000, 48000),
    (22050, 16000),
    (16000, 22050),
]


@pytest.mark.parametrize(("rin", "rout"), RATE_PAIRS, ids=lambda r: f"{r // 1000}k")
def test_resample_matches_scipy_in_passband(rin: int, rout: int) -> None:
    from scipy.signal import resample_poly

    from callaudio.simulation.resample import resample

    x = speech_like(2.0, rin, seed=1).astype(np.float64)
    y = resample(x, rin, rout)
    z = resample_poly(x, rout, rin, window=("kaiser", 8.6))
    assert y.size == z.size == -(-x.size * rout // rin)
    # Compare below 0.8 of the lower Nyquist frequency (the filters differ in the
    # transition band), away from the edges.
    fc = 0.8 * min(rin, rout) / 2

    def lowpass(s: np.ndarray) -> np.ndarray:
        spec = np.fft.rfft(s)
        spec[np.fft.rfftfreq(s.size, 1 / rout) > fc] = 0
        return np.fft.irfft(spec, s.size)[500:-500]

    err = lowpass(y) - lowpass(z)
    ref = lowpass(z)
    assert 10 * np.log10(np.sum(err**2) / np.sum(ref**2)) < -55.0


@pytest.mark.parametrize(("rin", "rout"), RATE_PAIRS[:5], ids=lambda r: f"{r // 1000}k")
def test_resample_pure_tone_and_alias_rejection(rin: int, rout: int) -> None:
    from callaudio.simulation.resample import resample

    t = np.arange(rin) / rin
    y = resample(np.sin(2 * np.pi * 1000.0 * t), rin, rout)
    ref = np.sin(2 * np.pi * 1000.0 * np.arange(y.size) / rout)
    err = (y - ref)[300:-300]
    assert 10 * np.log10(np.mean(err**2) / 0.5) < -80.0
    if rout < rin:
        # A tone above the new Nyquist frequency must vanish (> 75 dB down).
        f_hi = 0.56 * rout
        z = resample(np.sin(2 * np.pi * f_hi * t), rin, rout)[300:-300]
        assert 10 * np.log10(np.mean(z**2) / 0.5) < -75.0


@pytest.mark.parametrize("ppm", [100.0, -100.0, 1000.0])
def test_resample_ratio_drift_tone(ppm: float) -> None:
    from callaudio.simulation.resample import resample_ratio

    rate = 48000
    ratio = 1.0 + ppm * 1e-6
    x = np.sin(2 * np.pi * 997.0 * np.arange(rate) / rate)
    y = resample_ratio(x, ratio)
    assert y.size == int(np.floor(x.size * ratio))
    ref = np.sin(2 * np.pi * 997.0 * np.arange(y.size) / ratio / rate)
    err = (y - ref)[300:-300]
    assert 10 * np.log10(np.mean(err**2) / 0.5) < -90.0


def test_resample_ratio_agrees_with_rational_path() -> None:
    from callaudio.simulation.resample import resample, resample_ratio

    x = speech_like(1.0, 48000, seed=2).astype(np.float64)
    a = resample(x, 48000, 16000)
    b = resample_ratio(x, 1.0 / 3.0, n_out=a.size)
    np.testing.assert_allclose(a[200:-200], b[200:-200], atol=1e-5)


# --------------------------------------------------------------------------- rir


@pytest.mark.parametrize("rt60", [0.15, 0.3, 0.6])
def test_rir_rt60_matches_target(rt60: float) -> None:
    from callaudio.simulation.rir import room_rir, rt60_schroeder

    h, _ = room_rir(16000, rt60, 1.0, seed=1)
    assert h.size == round(rt60 * 16000)
    assert rt60_schroeder(h, 16000) == pytest.approx(rt60, rel=0.2)


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("distance", [0.05, 0.3, 1.0])
def test_rir_direct_path_delay_and_amplitude(rate: int, distance: float) -> None:
    from callaudio.simulation.rir import SPEED_OF_SOUND, room_rir

    h, direct = room_rir(rate, 0.3, distance, seed=2)
    assert direct == pytest.approx(distance / SPEED_OF_SOUND * rate)
    first = int(np.argmax(np.abs(h) > 0.5 * np.max(np.abs(h))))
    assert abs(first - direct) <= 1.0
    # Anechoic room: only the direct path, peak 1 / (4 pi d) at d / c.
    from callaudio.simulation.rir import image_source_rir, place_in_room

    src, mic = place_in_room((5.0, 4.0, 2.8), distance, np.random.default_rng(0))
    h0 = image_source_rir(
        rate, (5.0, 4.0, 2.8), src, mic, beta=0.0, length_s=0.05, highpass_hz=None
    )
    k = int(np.argmax(np.abs(h0)))
    assert abs(k - direct) <= 0.5
    assert np.sum(h0**2) == pytest.approx((1 / (4 * np.pi * distance)) ** 2, rel=0.1)
    assert np.sum(h0[round(direct) + 12 :] ** 2) < 1e-3 * np.sum(h0**2)


def test_rir_has_no_dc_and_rejects_bad_rooms() -> None:
    from callaudio.simulation.rir import absorption_from_rt60, image_source_rir, room_rir

    h, _ = room_rir(16000, 0.3, 0.5, seed=0)
    assert abs(np.sum(h)) < 0.05 * np.sum(np.abs(h))
    a_e = absorption_from_rt60(0.3, (5, 4, 2.8))
    a_s = absorption_from_rt60(0.3, (5, 4, 2.8), "sabine")
    assert a_s == pytest.approx(-np.log(1 - a_e))
    with pytest.raises(ValueError, match="not reachable"):
        absorption_from_rt60(0.01, (5, 4, 2.8), "sabine")
    with pytest.raises(ValueError, match="inside the room"):
        image_source_rir(16000, (5, 4, 2.8), (6, 1, 1), (1, 1, 1), rt60_s=0.3)


# --------------------------------------------------------------------------- noise


def _octave_db(x: np.ndarray, rate: int) -> np.ndarray:
    spec = np.abs(np.fft.rfft(x.astype(np.float64))) ** 2
    f = np.fft.rfftfreq(x.size, 1 / rate)
    return np.array(
        [10 * np.log10(spec[(f >= lo) & (f < 2 * lo)].sum()) for lo in (125, 250, 500, 1000, 2000)]
    )


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize(("kind", "slope"), [("white", 3.01), ("pink", 0.0), ("brown", -3.01)])
def test_coloured_noise_octave_slopes(rate: int, kind: str, slope: float) -> None:
    from callaudio.simulation import make_noise

    x = make_noise(kind, 4.0, rate, level_dbfs=-35.0, seed=1)
    assert x.dtype == np.float32 and x.size == 4 * rate
    assert metrics.level_dbfs(x) == pytest.approx(-35.0, abs=0.01)
    steps = np.diff(_octave_db(x, rate))
    np.testing.assert_allclose(steps, slope, atol=0.6)


def test_hum_is_tonal_at_mains_harmonics() -> None:
    from callaudio.simulation.noise import hum_noise

    rate = 16000
    x = hum_noise(4.0, rate, seed=2, fundamental_hz=50.0).astype(np.float64)
    spec = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(x.size, 1 / rate)
    near = np.zeros(f.size, bool)
    for k in (1, 2, 3):
        near |= np.abs(f - 50.0 * k) < 2.0
    # tonal_to_broadband 6 dB: about 3/4 of the power sits on the harmonics, most on 50-150 Hz.
    assert 0.55 < spec[near].sum() / spec.sum() < 0.9
    assert spec[(f > 1500) & (f < 8000)].sum() / spec.sum() < 0.02


def test_keyboard_is_impulsive_and_babble_is_dense() -> None:
    from callaudio.simulation.noise import babble_noise, keyboard_noise

    rate = 16000
    k = keyboard_noise(5.0, rate, seed=3).astype(np.float64)
    kurt = np.mean(k**4) / np.mean(k**2) ** 2
    assert kurt > 20.0  # Gaussian noise: 3
    b = babble_noise(5.0, rate, seed=3).astype(np.float64)
    assert metrics.level_dbfs(b) == pytest.approx(-40.0, abs=0.01)
    assert metrics.active_fraction(b, rate) > 0.95  # no pauses in a crowd
    assert np.mean(b**4) / np.mean(b**2) ** 2 < 6.0  # close to Gaussian


def test_step_noise_steps_by_10_db() -> None:
    from callaudio.simulation.noise import step_noise

    rate = 16000
    from callaudio.simulation.noise import pink_noise

    x = step_noise(6.0, rate, seed=4, step_time_s=2.5, step_db=10.0).astype(np.float64)
    k = int(2.5 * rate)
    assert metrics.level_dbfs(x[:k]) == pytest.approx(-40.0, abs=0.01)
    after = metrics.level_dbfs(x[k:])
    assert after == pytest.approx(-30.0, abs=1.0)
    # The gain ratio to the same pink noise is exactly 1 before and +10 dB after the step.
    ratio = x / pink_noise(6.0, rate, seed=4).astype(np.float64)
    assert np.ptp(ratio[:k]) < 1e-4 * ratio[0]
    assert 20 * np.log10(np.mean(ratio[k:]) / np.mean(ratio[:k])) == pytest.approx(10, abs=1e-3)


@pytest.mark.parametrize("kind", ["white", "pink", "brown", "hum", "babble", "keyboard", "step"])
def test_noise_reproducible_and_seeded(kind: str) -> None:
    from callaudio.simulation import make_noise

    a = make_noise(kind, 1.0, 16000, seed=5)
    np.testing.assert_array_equal(a, make_noise(kind, 1.0, 16000, seed=5))
    assert not np.allclose(a, make_noise(kind, 1.0, 16000, seed=6))
    assert np.all(np.isfinite(a))


@pytest.mark.parametrize("snr", [0.0, 5.0, 10.0, 20.0])
def test_mix_at_snr(snr: float) -> None:
    from callaudio.simulation import make_noise, mix_at_snr

    rate = 16000
    clean = speech_like(4.0, rate, seed=1)
    noisy, noise = mix_at_snr(clean, make_noise("pink", 4.0, rate, seed=1), snr, rate)
    got = metrics.active_level_dbfs(clean, rate) - metrics.level_dbfs(noise)
    assert got == pytest.approx(snr, abs=0.01)
    np.testing.assert_allclose(noisy, clean + noise, atol=1e-7)
    with pytest.raises(ValueError, match="unknown noise kind"):
        make_noise("traffic", 1.0, rate)


# --------------------------------------------------------------------------- metrics


def test_erle_and_snr_measures() -> None:
    rate = 16000
    echo = speech_like(4.0, rate, seed=1).astype(np.float64)
    per, med = metrics.erle_db(echo, 0.1 * echo, rate)
    assert med == pytest.approx(20.0, abs=1e-6)
    assert np.all(np.isnan(per) | (np.abs(per - 20.0) < 1e-6))
    mask = np.zeros(echo.size, bool)
    mask[: echo.size // 2] = True
    resid = np.where(mask, 0.1, 0.01) * echo
    assert metrics.erle_db(echo, resid, rate, mask=mask)[1] == pytest.approx(20.0, abs=1e-6)
    assert metrics.erle_db(echo, resid, rate, mask=~mask)[1] == pytest.approx(40.0, abs=1e-6)

    rng = np.random.default_rng(0)
    noise = rng.standard_normal(echo.size) * 10 ** (-26 / 20)
    noisy = echo + noise
    processed = echo + 0.1 * noise
    seg_in = metrics.segmental_snr_db(echo, noisy, rate)
    assert -5.0 < seg_in < 5.0
    # Every frame's SNR rises by exactly 20 dB; without clamping so does the mean.
    wide = {"lo_db": -1000.0, "hi_db": 1000.0}
    gain = metrics.segmental_snr_db(echo, processed, rate, **wide) - metrics.segmental_snr_db(
        echo, noisy, rate, **wide
    )
    assert gain == pytest.approx(20.0, abs=1e-6)
    # With the default [-10, 35] dB clamp the improvement is smaller but substantial.
    assert 12.0 < metrics.snr_improvement_db(echo, noisy, processed, rate) < 20.0
    assert metrics.segmental_snr_db(echo, echo * (1 + 1e-6), rate) == pytest.approx(35.0)
    assert metrics.snr_db(echo, echo + 0.1 * echo) == pytest.approx(20.0)


def test_near_end_loss_ignores_uncorrelated_leak() -> None:
    rate = 16000
    near = speech_like(4.0, rate, seed=1, talker=1).astype(np.float64)
    leak = speech_like(4.0, rate, seed=9, talker=0).astype(np.float64)
    out = 0.5 * near + leak
    assert metrics.near_end_loss_db(out, near) == pytest.approx(-6.02, abs=0.5)
    assert metrics.near_end_loss_db(near, near) == pytest.approx(0.0, abs=1e-9)
    m = np.zeros(near.size, bool)
    m[near.size // 2 :] = True
    half = np.where(m, near, 0.25 * near)
    assert metrics.near_end_loss_db(half, near, m) == pytest.approx(0.0, abs=1e-9)


def _musical(x: np.ndarray, keep: float, rng: np.random.Generator) -> np.ndarray:
    """Noise through a random binary spectral gate (isolated surviving bins = musical)."""
    n, hop = 512, 256
    w = np.sqrt(np.hanning(n + 1)[:n])
    out = np.zeros_like(x)
    for s in range(0, x.size - n, hop):
        spec = np.fft.rfft(x[s : s + n] * w)
        spec *= rng.random(spec.size) < keep
        out[s : s + n] += np.fft.irfft(spec, n) * w
    return out


def test_musical_noise_measures() -> None:
    rate = 16000
    rng = np.random.default_rng(1)
    white = rng.standard_normal(4 * rate)
    assert metrics.log_kurtosis_ratio(white, 0.1 * white, rate) == pytest.approx(0.0, abs=1e-9)
    other = rng.standard_normal(4 * rate)
    assert abs(metrics.log_kurtosis_ratio(white, other, rate)) < 0.1
    lsv = metrics.log_spectral_variance(white, rate)
    assert lsv == pytest.approx((10 / np.log(10)) ** 2 * np.pi**2 / 6, rel=0.1)
    mus = _musical(white, 0.1, rng)
    assert metrics.log_kurtosis_ratio(white, mus, rate) > 1.0
    assert metrics.log_spectral_variance(mus, rate) > 2 * lsv


# --------------------------------------------------------------------------- scenario


def _xcorr_lag(a: np.ndarray, b: np.ndarray, max_lag: int) -> float:
    """Lag (samples, parabolic-interpolated) by which ``b`` trails ``a``."""
    n = a.size + b.size
    nfft = 1 << int(np.ceil(np.log2(n)))
    c = np.fft.irfft(np.conj(np.fft.rfft(a, nfft)) * np.fft.rfft(b, nfft), nfft)
    c = c[: max_lag + 1]
    k = int(np.argmax(c))
    if 0 < k < max_lag:
        y0, y1, y2 = c[k - 1], c[k], c[k + 1]
        return k + 0.5 * (y0 - y2) / (y0 - 2 * y1 + y2)
    return float(k)


@pytest.fixture(
    scope="module",
    params=[pytest.param(16000, id="16k"), pytest.param(48000, id="48k", marks=pytest.mark.slow)],
)
def dt_result(request: pytest.FixtureRequest) -> object:
    from callaudio.simulation import scenario

    return scenario.double_talk(request.param, seed=1)


def test_double_talk_levels_and_components(dt_result: object) -> None:
    from callaudio.simulation import EchoResult

    r = dt_result
    assert isinstance(r, EchoResult)
    rate = r.sample_rate
    n = 16 * rate
    for sig in (r.far, r.mic, r.echo, r.near, r.noise):
        assert sig.dtype == np.float32 and sig.shape == (n,)
    np.testing.assert_allclose(r.mic, r.echo + r.near + r.noise, atol=1e-6)
    assert metrics.active_level_dbfs(r.far, rate) == pytest.approx(-26.0, abs=0.05)
    assert r.erl_db == pytest.approx(6.0, abs=0.05)
    assert metrics.active_level_dbfs(r.near, rate) == pytest.approx(-32.0, abs=0.05)
    # The near end talks only in its intervals (plus the room's reverberation tail).
    t = np.arange(n) / rate
    outside = ~(((t >= 4.0) & (t < 8.0 + 0.3)) | ((t >= 11.0) & (t < 15.0 + 0.3)))
    assert np.max(np.abs(r.near[outside])) < 1e-3 * np.max(np.abs(r.near))


def test_double_talk_masks_are_consistent(dt_result: object) -> None:
    from callaudio.simulation import EchoResult

    r = dt_result
    assert isinstance(r, EchoResult)
    rate = r.sample_rate
    fo, dt, no = r.far_only, r.double_talk, r.near_only
    assert not np.any(fo & dt) and not np.any(fo & no) and not np.any(dt & no)
    np.testing.assert_array_equal(fo | dt | no, r.far_active | r.near_active)
    # Enough of each condition for measurements.
    assert fo.mean() > 0.3 and dt.mean() > 0.25
    # Double talk only where the near end was scheduled (+ hangover and reverberation).
    t = np.arange(dt.size) / rate
    sched = ((t >= 4.0) & (t < 8.5)) | ((t >= 11.0) & (t < 15.5))
    assert not np.any(dt & ~sched)
    # The masks describe the signals: echo is loud where far_active, silent elsewhere.
    quiet = ~r.far_active
    assert metrics.level_dbfs(r.echo[quiet]) < metrics.level_dbfs(r.echo[r.far_active]) - 12
    fm = r.frame_mask("double_talk", 10.0)
    assert fm.size == dt.size // (rate // 100)
    assert abs(fm.mean() - dt.mean()) < 0.01


@pytest.mark.parametrize(
    ("rate", "delay_ms"),
    [(16000, 0.0), (16000, 100.0), (16000, 300.0), (16000, 1000.0), (48000, 600.0)],
    ids=["16k-0ms", "16k-100ms", "16k-300ms", "16k-1000ms", "48k-600ms"],
)
def test_far_single_talk_true_delay(rate: int, delay_ms: float) -> None:
    from callaudio.simulation import scenario

    r = scenario.far_single_talk(delay_ms, rate, duration_s=4.0, rt60_s=0.15)
    assert r.bulk_delay_samples == round(delay_ms * rate / 1000)
    assert r.delay_ms == pytest.approx(delay_ms + 1000 * 0.1 / 343.0, abs=1e-9)
    assert not np.any(r.near) and not np.any(r.noise) and not np.any(r.near_active)
    lag = _xcorr_lag(r.far.astype(np.float64), r.echo.astype(np.float64), int(1.1 * rate))
    # The cross-correlation peak is the direct path (0.1 m: the strongest arrival).
    assert abs(lag - r.delay_samples) <= 1.0
    # The echo is exactly the far signal through the stored echo path.
    far_d = np.concatenate([np.zeros(r.bulk_delay_samples), r.far])[: r.far.size]
    pred = np.convolve(far_d, r.echo_paths[0])[: r.far.size]
    err = pred - r.echo
    assert 10 * np.log10(np.sum(err**2) / np.sum(pred**2)) < -60.0


def test_path_change_switches_response() -> None:
    from callaudio.simulation import scenario

    rate = 16000
    r = scenario.path_change(rate, duration_s=6.0, path_change_s=3.0)
    assert r.path_change_sample == 3 * rate and len(r.echo_paths) == 2
    h1, h2 = r.echo_paths
    assert np.sum(h1**2) == pytest.approx(np.sum(h2**2), rel=1e-9)
    corr = np.max(np.abs(np.correlate(h1[:800], h2[:800], "full")))
    assert corr < 0.9 * np.sum(h1[:800] ** 2)  # genuinely different paths
    far_d = np.concatenate([np.zeros(r.bulk_delay_samples), r.far])[: r.far.size]
    e1 = np.convolve(far_d, h1)[: r.far.size]
    e2 = np.convolve(far_d, h2)[: r.far.size]
    c = r.path_change_sample
    assert c is not None
    before, after = slice(0, c - rate // 100), slice(c, None)

    def rel_db(a: np.ndarray, b: np.ndarray) -> float:
        return float(10 * np.log10(np.sum((a - b) ** 2) / np.sum(b**2)))

    assert rel_db(r.echo[before], e1[before]) < -60.0
    assert rel_db(r.echo[after], e2[after]) < -60.0
    assert rel_db(r.echo[after], e1[after]) > -10.0  # the old path no longer fits


@pytest.mark.parametrize(
    "ppm", [pytest.param(100.0, id="+100"), pytest.param(-100.0, id="-100", marks=pytest.mark.slow)]
)
def test_drift_shifts_delay_over_time(ppm: float) -> None:
    from callaudio.simulation import scenario

    rate = 16000
    r = scenario.drift(ppm, rate, duration_s=20.0, rt60_s=0.15)
    far, echo = r.far.astype(np.float64), r.echo.astype(np.float64)
    w = 4 * rate
    lag0 = _xcorr_lag(far[:w], echo[:w], rate // 2)
    lag1 = _xcorr_lag(far[-w:], echo[-w:], rate // 2)
    # Windows 16 s apart: the delay moves by ppm * 1e-6 * 16 s * rate samples (25.6).
    assert lag1 - lag0 == pytest.approx(-ppm * 1e-6 * 16 * rate, abs=1.5)
    assert r.delay_samples_at(10.0) == pytest.approx(r.delay_samples - ppm * 1e-6 * 10 * rate)


def test_soft_clip_makes_echo_nonlinear() -> None:
    from callaudio.simulation import scenario

    rate = 16000
    lin = scenario.far_single_talk(100.0, rate, duration_s=4.0)
    clip = scenario.soft_clip(rate, duration_s=4.0)
    for r, lo, hi in ((lin, -200.0, -60.0), (clip, -22.0, -10.0)):
        # Best linear prediction of the echo from the far signal through the true path
        # (scaled): what a linear canceller could at most remove.
        far_d = np.concatenate([np.zeros(r.bulk_delay_samples), r.far])[: r.far.size]
        pred = np.convolve(far_d, r.echo_paths[0])[: r.far.size]
        g = np.dot(pred, r.echo) / np.dot(pred, pred)
        err = r.echo - g * pred
        assert lo < 10 * np.log10(np.sum(err**2) / np.sum(r.echo.astype(np.float64) ** 2)) < hi
    assert clip.erl_db == pytest.approx(6.0, abs=0.05)


def test_near_single_talk_and_noise_level() -> None:
    from callaudio.simulation import EchoScenario, scenario

    r = scenario.near_single_talk(16000, duration_s=4.0)
    assert not np.any(r.far) and not np.any(r.echo) and not np.any(r.far_active)
    np.testing.assert_array_equal(r.near_only, r.near_active)
    assert r.near_active.mean() > 0.6
    sc = EchoScenario(duration_s=3.0, noise_kind="pink", noise_snr_db=20.0, near_intervals=None)
    rn = sc.build()
    assert metrics.level_dbfs(rn.noise) == pytest.approx(-52.0, abs=0.01)


def test_scenario_reproducible_and_seeded() -> None:
    from callaudio.simulation import EchoScenario

    sc = EchoScenario(duration_s=3.0, near_intervals=((1.0, 2.5),), noise_kind="white", seed=3)
    a, b = sc.build(), sc.build()
    c = sc.replace(seed=4).build()
    for name in ("far", "mic", "echo", "near", "noise"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
        assert not np.allclose(getattr(a, name), getattr(c, name))
    syn = sc.replace(speech="synthetic").build()
    assert metrics.active_level_dbfs(syn.far, 16000) == pytest.approx(-26.0, abs=0.05)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("sample_rate", 4000),
        ("rt60_s", 2.0),
        ("speaker_mic_distance_m", 0.01),
        ("talker_mic_distance_m", 3.0),
        ("noise_kind", "rain"),
        ("drift_ppm", 5000.0),
        ("path_change_s", 50.0),
        ("near_intervals", ((5.0, 4.0),)),
        ("speech", "sung"),
    ],
)
def test_scenario_validation_names_the_field(field: str, value: object) -> None:
    from callaudio.simulation import EchoScenario

    with pytest.raises(ValueError, match=field):
        EchoScenario().replace(**{field: value})


def test_wav_round_trip(tmp_path: object) -> None:
    from pathlib import Path

    from callaudio.simulation.speech import read_wav, write_wav

    x = speech_like(0.5, 16000, seed=1)
    path = str(Path(str(tmp_path)) / "x.wav")
    write_wav(path, x, 16000)
    y, rate = read_wav(path)
    assert rate == 16000
    np.testing.assert_allclose(y, x, atol=1.0 / 32768)


def test_simulation_needs_no_scipy() -> None:
    import subprocess
    import sys

    code = (
        "import sys, callaudio.simulation as s; s.scenario.far_single_talk(0.0, 16000, "
        "duration_s=1.0); assert 'scipy' not in sys.modules, 'scipy imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("rate", RATES)
@pytest.mark.parametrize("kind", ["pink", "babble", None])
def test_noisy_speech(rate: int, kind: str | None) -> None:
    from callaudio.simulation import noisy_speech

    r = noisy_speech(kind, 5.0, rate, duration_s=4.0, lead_s=1.0, seed=2)
    assert r.noisy.shape == r.clean.shape == r.noise.shape == (4 * rate,)
    np.testing.assert_allclose(r.noisy, r.clean + r.noise, atol=1e-6)
    assert not np.any(r.clean[:rate]) and np.all(r.noise_only[:rate])
    assert not np.any(r.speech_active[: rate // 2])
    assert metrics.active_level_dbfs(r.clean, rate) == pytest.approx(-26.0, abs=0.05)
    if kind is None:
        assert not np.any(r.noise)
    else:
        snr = metrics.active_level_dbfs(r.clean, rate) - metrics.level_dbfs(r.noise)
        assert snr == pytest.approx(5.0, abs=0.01)


@pytest.mark.parametrize("b", [0.5, -0.5])
def test_rir_single_reflecting_wall(b: float) -> None:
    from callaudio.simulation.rir import SPEED_OF_SOUND, image_source_rir

    rate = 48000
    src, mic = np.array([1.0, 2.0, 1.5]), np.array([2.5, 2.2, 1.4])
    h = image_source_rir(
        rate, (5.0, 4.0, 3.0), src, mic, beta=[b, 0, 0, 0, 0, 0], length_s=0.05, highpass_hz=None
    )
    d0 = float(np.linalg.norm(src - mic))
    d1 = float(np.linalg.norm(src * [-1, 1, 1] - mic))  # image in the wall x = 0
    for d, amp in ((d0, 1.0), (d1, b)):
        k = round(d / SPEED_OF_SOUND * rate)
        seg = h[k - 12 : k + 13]
        peak = seg[np.argmax(np.abs(seg))]
        assert np.sign(peak) == np.sign(amp)
        assert np.sum(seg**2) == pytest.approx((amp / (4 * np.pi * d)) ** 2, rel=0.1)
    assert np.sum(h**2) == pytest.approx(
        (1 / (4 * np.pi * d0)) ** 2 + (b / (4 * np.pi * d1)) ** 2, rel=0.1
    )


@pytest.mark.parametrize(
    "track",
    ["x", [[0.1], [0.2, 0.3]], np.zeros((100, 5)), np.zeros((4, 2, 2)), np.zeros(8, complex)],
    ids=["str", "ragged", "5-channels", "3-D", "complex"],
)
def test_the_simulated_rooms_near_and_noise_tracks_refuse_what_is_no_mono_track(track) -> None:
    # a string or a ragged list failed as a raw ValueError; an (n, 5) array was flattened
    # into one track five times as long (its channels interleaved in time)
    import callaudio as ca

    room = ca.SimulatedBackend(16000)
    for build in (
        lambda: ca.make_backend("simulated", near=track),
        lambda: ca.SimulatedBackend(16000, noise=track),
        lambda: room.set_near(track),
    ):
        with pytest.raises(ca.ConfigError):
            build()
    room.set_near(np.full((1600, 1), 0.1))  # (n, 1) is a mono track
    assert room.room.sample_rate == 16000


@pytest.mark.parametrize(
    "bad",
    [
        {"duration_s": "1"},
        {"duration_s": 1e9},
        {"erl_db": float("nan")},
        {"far_level_dbfs": float("inf")},
        {"near_intervals": "x"},
        {"near_intervals": (("a", "b"),)},
        {"seed": "x"},
        {"seed": -1},
        {"far_talker": 1.5},
    ],
    ids=lambda kw: next(iter(kw)),
)
def test_an_echo_scenario_refuses_a_bad_setting_when_made(bad) -> None:
    # each failed as a raw TypeError/ValueError, some only in build() (a string seed, a
    # NaN level), and duration_s=1e9 was taken (build() would allocate without end)
    import callaudio as ca
    from callaudio.simulation import EchoScenario

    with pytest.raises(ca.ConfigError, match=next(iter(bad))):
        EchoScenario(**{"sample_rate": 16000, "duration_s": 1.0, **bad})
    sc = EchoScenario(sample_rate=np.int64(16000), duration_s=np.float32(1.0), seed=np.int64(3))
    assert sc.build().mic.shape == (16000,)
