# cython: language_level=3
"""Noise suppressor: an STFT gain over a tracked noise PSD, with low-delay windows.

Per hop of R samples (R = frame_size / hops_per_frame, 5 ms by default) on a K = 2 *
frame_size (20 ms) analysis frame, for every bin k of Y = FFT(w_a * y):

1. **Analysis/synthesis**: the asymmetric low-delay windows of H. W. Mauler and R. Martin,
   "A low delay, variable resolution, perfect reconstruction spectral analysis-synthesis
   system for speech enhancement", EUSIPCO 2007, in the form the echo canceller's
   suppressor uses (``lowdelay_windows(K, R, d)``): the analysis window rises as a sine
   over K - d samples and falls as a cosine over the last d; the synthesis window makes
   w_a * w_s zero up to K - R - d, a sin^2 rise over d samples, one, and the complementary
   fall over the last d, so overlap-add at hop R reconstructs exactly, d samples late.
   On its own the stage uses d = R (latency one hop: 10, 5 or 2.5 ms) with the paper's
   square-root Hann pair (M = R, d = 0 in its terms: the analysis window a square-root Hann
   rise of length K - R and fall of length R, w_a * w_s a Hann window over the last 2R
   samples); with ``low_delay`` (what the chain asks for) d = frame_size / 4 (2.5 ms)
   whatever the hop.  A shorter d
   is a shorter cross-fade between hops (d samples): at 5 ms hops it costs 0.03-0.08 PESQ
   in car and street noise against d = R, so it is not the default.
   **Shared synthesis**: in a chain with the echo canceller the canceller's error is
   framed in this stage's hops and windows (``analyse_c``: 5 ms hops, the low-delay pair
   with the longest d that keeps the chain within 5 ms: 5 ms at 8/16 kHz, 4 ms on the
   band split's 16 kHz band, 3.3 ms at 44.1 kHz); the residual-echo suppressor multiplies
   each hop by its per-frame gain and adds its comfort noise, ``process_spectrum_c``
   computes this stage's gain on that (what the listener would hear) and multiplies it
   in, and one synthesis (``synthesise_c``) outputs both stages: one delay, not two.  The
   noise estimate is thus taken on the echo-suppressed error, comfort noise included, as
   it was when this stage ran on the canceller's output.  (One 10 ms hop with the
   canceller's 2.5 ms cross-fade instead cost 0.09-0.25 PESQ in car noise.)  Every
   smoothing factor is a time constant turned into a per-hop factor, so the behaviour does
   not depend on the hop (decision-directed a = 0.98 at 5 ms hops is DD_TAU_S = 0.2475 s;
   at 2.5 ms hops a stays 0.98, DD_ALPHA_MAX, as before).
2. **Noise PSD**: the unbiased MMSE-based estimator with speech-presence probability of
   T. Gerkmann and R. C. Hendriks, "Unbiased MMSE-based noise power estimation with low
   complexity and low tracking delay", IEEE TASLP 20(4), 2012: a posteriori SPP with a
   fixed a priori SNR xi_H1 = 13.5 dB (15 dB, the paper's, at 8 kHz and in babble: below)
   and P(H1) = 0.5,
   ``P = 1 / (1 + (1 + xi_H1) exp(-|Y|^2 / s2 * xi_H1 / (1 + xi_H1)))``,
   ``E[|N|^2 | Y] = (1 - P) |Y|^2 + P s2``, recursively smoothed (time constant
   NOISE_TAU_S = 72 ms, the paper's 0.8 at 16 ms hops).  At the paper's 15 dB a talker's
   bins at 0-5 dB local SNR leaked into s2: in air-con at 10 dB (a dense talker) s2 sat
   +4..+5 dB over the true noise PSD at 150-600 Hz during speech (+0.5 dB in the pauses),
   and the STOI loss came from the 1/3-octave bands at 190-480 Hz and 1.9 kHz (an oracle
   noise PSD: STOI -0.009 instead of -0.022).  A lower xi_H1 raises P at lower local
   SNRs: worst STOI change in air-con at 10 dB -0.022 -> -0.018 (16 kHz), PESQ gain up
   0.00-0.02 in air-con, street and car.  In babble (the held pause-floor weight >=
   ONSET_MAX_W, as for the onset hold below) the paper's value stays: there 13.5 dB cost
   0.011 PESQ in the cafe -> car switch and 0.017 in babble at 48 kHz.  The price is a
   slower rise after a noise step (10 dB step, within 2 dB: 0.76 -> 0.89 s at 16 kHz, 0.74
   -> 1.10 s at 48 kHz; 12 dB took 1.66 s at 8 kHz, hence 15 dB there) and ~0.3 dB lower
   s2 in stationary noise.  Stagnation control: P is capped at
   0.99 while its average (time constant SPP_TAU_S = 0.5 s; the paper's 0.15 s let the
   estimate climb into long vowels of clean speech) exceeds 0.99.  The first 50 ms are
   averaged to initialise s2; s2 never falls below NOISE_FLOOR_DBFS = -140 dBFS.
   **Speech-pause floor** (for babble-like noise, where the SPP tracker settles far below the
   noise's mean because the noise's own peaks look like speech): a hop whose mean |Y|^2 over
   100..8000 Hz is within FLOOR_GATE_DB = 4 dB of its minimum over the last FLOOR_WIN_S = 1 s
   is a pause of the talker (the minimum-statistics idea of R. Martin, "Noise power spectral
   density estimation based on optimal smoothing and minimum statistics", IEEE TSAP 9(5),
   2001, applied to the band energy, whose variance is small); the pause hops' periodograms
   are averaged (FLOOR_TAU_S = 0.1 s) into a pause spectrum F.  The gain uses
   ``max(s2, B w F)`` with ``w = w_level w_flat``: w_level rises from 0 to 1 as the band mean
   of F exceeds that of s2 by FLOOR_ON_DB = 2 .. FLOOR_FULL_DB = 5 dB (stationary noise,
   where s2 is unbiased, is left alone), w_flat from 0 to 1 as the spectral flatness of F
   (geometric over arithmetic mean in the band; J. D. Johnston, "Transform coding of audio
   signals using perceptual noise criteria", IEEE JSAC 6(2), 1988) rises over FLOOR_FLAT =
   0.02 .. 0.05 (log-linear): music, sustained tones and engine rumble have flatness ~0.005
   and are left to s2, babble 0.1-0.3.  w is held: ``max(w, its average)`` over
   FLOOR_HOLD_TAU_S = 3 s, so that it does not drop to 0 between the talker's pauses (and
   let the babble through at the tracker's level).  F averages the quietest hops only, so
   it lies below the babble's mean: B = FLOOR_BIAS = 8 (9 dB) is its bias compensation, as
   minimum statistics has one (Martin 2001), and an over-subtraction (M. Berouti, R.
   Schwartz and J. Makhoul, "Enhancement of speech corrupted by acoustic noise", ICASSP
   1979) that keeps the gain at its floor except on the talker's clear peaks.  Where F
   lifts the tracker the gain floor (item 4) is ``G_min^(1 - FLOOR_GMIN_SHARE w)``,
   FLOOR_GMIN_SHARE = 0.75 (3 dB at the default 12): babble covers the talker's weak
   parts, which the full floor would take with it.  Worst PESQ gain in babble at 10 dB
   (16 kHz, the sweep's seeds) -0.021 -> +0.022, STOI kept within 0.02; the worst DNSMOS
   OVRL change in babble -0.29 -> -0.18 (16 kHz), -0.04 -> -0.01 (48 kHz).
   s2 itself is not changed by F.  At 8 kHz w = 0: in the chain's double talk the pause
   spectrum (residual echo) lifted the tracker and took the near end's level just under
   the chain test's bound (-23.1 dBFS for >= -23).
   **Tonal protection** (music, dial and ring tones: stationary, so s2 learns them and the
   gain took them to its floor within a second): a bin of the VAD band where the mean
   periodogram Pbar (time constant TONAL_TAU_S = 0.5 s; it and the weights below are
   updated every TONAL_EVERY_S = 20 ms) stands more than TONAL_ON_DB =
   20 dB above its local floor L (the larger of the minima of Pbar over the TONAL_BINS =
   8 bins, 400 Hz, on either side, within the band) is a tonal peak, as MPEG-1's
   psychoacoustic model 1 tells tonal from noise maskers by a local maximum's margin over
   its neighbours (ISO/IEC 11172-3, Annex D.1, 1993); s2 there falls towards min(s2, L)
   before the pause floor's max, fully from TONAL_FULL_DB = 25 dB (weight linear in
   power).  The dial tone stands ~34 dB over its local floor (16 kHz), resolved notes
   25-35 dB; air-con blade-pass tones and engine harmonics 10-15 dB.  The minima are
   taken on the noise-like part of Pbar, ``Pbar (1 - C)^2``, C the bin's phase coherence:
   ``|mean(u / |u|)|`` over TONAL_COH_TAU_S = 0.3 s of the updates, ``u = z_n
   conj(z_m)`` (m: the last update), ``z_n = X_n conj(X_{n-1})`` the phase advance over
   one hop (a steady sinusoid advances by the same phase every hop, as a phase vocoder
   tracks a partial's frequency; M. Dolson, "The phase vocoder: a tutorial", Computer
   Music Journal 10(4), 1986).  Sinusoids and the bins their window leaks into have C
   near 1, noise ~0.2: a chord's low partials (two bins apart) filled each other's floor
   and stood only 10-15 dB over it; now they stand over the noise between them, while a
   fan's tones, whose neighbours are noise, keep their 10-15 dB.  Music's worst 0.5 s gain
   -12.0 -> -2.1 dB.  Linked channels (``process_power_c``: powers only) keep C = 0.
   **Onset hold**: where a bin's periodogram (averaged over ONSET_TAU_S = 20 ms) rises
   ONSET_DB = 10 dB over s2, for ONSET_HOLD_S = 1.5 s (ended when that average falls
   below ONSET_OFF_DB = 3 dB over s2: the partial stopped) while the bin's C exceeds
   ONSET_COH = 0.25..0.75 (the hold's share linear in C^2 between: a ramp, so that the
   float32 kernel and the reference model decide alike; a note that started, a talker's
   voiced harmonic) s2 may fall there but not rise: the tracker no longer learns the
   talker's harmonics at 5-10 dB over the noise (in air-con at 10 dB it sat 5-10 dB over
   the true noise at 200-600 Hz during speech: the worst STOI change -0.024 -> -0.022;
   without the early end -0.017, but s2 then stayed low after the talker and the frame VAD
   called 17 % of the pauses speech instead of 11 %), and a chord started after the first
   second is not learnt (music -2.1 -> -0.9 dB).  A fan's tones sound from the start (no
   onset), noise that rises is not coherent; off while the held pause-floor weight is >=
   ONSET_MAX_W = 0.05 (babble, whose own talkers' onsets are noise).  (On s2 instead of
   Pbar the margin also caught bins of s2 that had learnt a talker's harmonics over the
   near-silence between keyboard clicks.)  ``noise_psd`` and ``noise_level_dbfs`` report
   ``max(s2 limited, B w F)``.
   **Transient (keyboard click) suppression**: a click is an abrupt, broadband onset that
   decays within tens of ms, which the trackers above (time constants >= 72 ms) cannot
   learn.  A hop is a transient's onset when at least TRANS_FRAC[0] = 30 % of the bins in
   TRANS_BAND_HZ = 1..8 kHz stand TRANS_ON_DB = 10 dB over their detection reference D
   (each bin's periodogram followed down fast, TRANS_DREF_TAU_S[0] = 10 ms, and up
   slowly, 50 ms, not updated during transients: a click rises in nearly every bin at
   once, also between a talker's harmonics, where a voiced onset or a fricative rises in
   some bins or gradually; the count of rising bins is the half-wave rectified spectral
   flux taken as a count over bands, J. P. Bello et al., "A tutorial on onset detection
   in music signals", IEEE TSAP 13(5), 2005), the band mean e_h stands
   TRANS_JUMP_DB = 4 dB over its value two hops before (abrupt) and over the band mean of
   T below.  It ends when fewer than TRANS_FRAC[1] = 30 % of the bins stand TRANS_OFF_DB
   = 6 dB over D; one that lasts TRANS_MAX_S = 50 ms was not a click (no new onset until
   it ends).  Once e_h has fallen TRANS_RETRIG_DB = 10 dB under the transient's peak, an
   onset starts a new transient (the next key's click while the last one's decay is still
   in the analysis window: else it passed at full gain).  It is confirmed a click
   TRANS_CONFIRM_S = 60 ms after its onset if it ended and the 100 Hz..1 kHz mean did not
   rise TRANS_OFF_DB over its level before it meanwhile (a plosive's burst is followed by
   voicing).  The count of confirmed clicks, decaying with TRANS_RATE_TAU_S = 2 s, gives
   a weight wt (0 at TRANS_RATE = 1, 1 from 2): clicks that recur, as typing's do, are
   suppressed; a talker's lone bursts are not (the plosive test is unchanged).  Over the
   transient's first
   TRANS_SUPPRESS_S = 15 ms (3 hops of 5 ms: by then the click has left the last 10 ms
   that the synthesis window outputs, while the 20 ms analysis window still holds it)
   the gain's noise PSD is ``max(., wt (|Y|^2 - T))``, T the periodogram's
   TRANS_REF_TAU_S = 30 ms average before the onset (not updated during transients), and
   above 1 kHz the gain is multiplied by ``clamp(TRANS_KEEP T / |Y|^2, TRANS_GMIN^2,
   1)^(wt / 2)`` (each bin at most TRANS_KEEP = 4 times, 6 dB, its power before; >= -30
   dB; off at 8 kHz, where 1-4 kHz carries most of the talker's cues): a fast per-bin
   noise estimate for the flagged hops only, the slow trackers untouched (the scheme of
   A. Hirszhorn, D. Dov, R. Talmon and I. Cohen, "Transient interference suppression in
   speech signals based on the OM-LSA algorithm", IWAENC 2012: a transient detector
   marks the frames whose noise estimate OM-LSA then takes from the frame itself; theirs
   is learned, this one is the onset count above).  With the oracle's
   flags (the hops where the click's own periodogram exceeds 0.3 times the talker's over
   1-8 kHz) this suppression reaches +0.36..+0.65 PESQ in keyboard noise (16 kHz, 6 s
   scenarios, seeds 0-1), with the true noise periodogram as the estimate +0.24..+0.77:
   the detector is what limits it.  Before (the band mean 15 dB over its envelope, 10 dB
   jump, a high/low rise ratio, the whole 50 ms suppressed) the detector found 9-13 % of
   the click hops, 0-5 % of those in speech; now 29-45 %, 15-25 % in speech.  Keyboard
   PESQ gain (the sweep's 6 s scenarios, seeds 0-1 at 16 kHz, 10 / 20 dB) +0.067 /
   +0.027 / +0.052 / +0.078 -> +0.138 / +0.246 / +0.119 / +0.212; 48 kHz seed 2 +0.034
   / -0.008 -> +0.127 / +0.109 (STOI change >= -0.011 at both rates).  Suppressing the
   whole transient (50 ms) instead cost up to 0.025 STOI at 20 dB (a talker's onset taken
   for a click); 10 ms of it 0.02-0.05 PESQ.  A new transient at any onset during one
   (not only after its decay) cost 0.05 STOI at 20 dB; also after one that lasted, clean
   speech PESQ 4.51 -> 4.40 (a talker's bursts confirmed as clicks).
3. **A priori SNR**: decision-directed, Y. Ephraim and D. Malah, "Speech enhancement using
   a minimum mean-square error short-time spectral amplitude estimator", IEEE TASSP 32(6),
   1984: ``xi = a G_prev^2 |Y_prev|^2 / s2 + (1 - a) max(gamma - 1, 0)`` with a = 0.98
   per 5 ms (DD_TAU_S) and xi >= -25 dB (the floor that, with the smoothing, keeps the
   residual free of musical noise; O. Cappe, IEEE TSAP 2(2), 1994).
4. **Gain**: the log-spectral amplitude estimator, Y. Ephraim and D. Malah, "Speech
   enhancement using a minimum mean-square error log-spectral amplitude estimator", IEEE
   TASSP 33(2), 1985: ``G_H1 = xi / (1 + xi) exp(E1(v) / 2)``, ``v = xi gamma / (1 + xi)``
   (E1 from Abramowitz & Stegun 5.1.53 / 5.1.56), limited to [G_min, 1], then weighted by
   the speech-presence probability ``p = 1 / (1 + (1 + xi) exp(-v))`` as in I. Cohen and B.
   Berdugo, "Speech enhancement for non-stationary noise environments", Signal Processing
   81(11), 2001 (OM-LSA): ``G = G_H1^p G_min^(1 - p)``, so bins without speech get exactly
   the floor ``G_min = 10^(-level_db / 20)`` (raised in babble: item 2).  The a priori
   absence odds ``q / (1 - q)`` multiply ``(1 + xi) exp(-v)``; q follows the same paper: the
   previous a priori SNR averaged over time (SAP_TAU_S = 22 ms) and over a local (+-50 Hz)
   and a global (+-500 Hz) Hann window in frequency, each mapped to a presence 0..1 between
   -10 and -5 dB, q = 1 - P_local P_global <= 0.95.  This keeps isolated noise peaks at the
   floor, which is what keeps the residual free of musical noise.  The DC and Nyquist bins
   take their neighbour's gain (their periodogram is chi-square with one degree of freedom,
   which biases their noise estimate low).  Departure from the paper: p is evaluated against
   a noise power SPP_MARGIN = 5 (7 dB) times the estimate,
   ``p = 1 / (1 + odds (1 + xi / 5) exp(-v / 5))``.  With 75 % overlapping 5 ms hops a noise
   periodogram peak persists over several hops and, through the decision-directed
   recursion, pumps xi up until the bin opens (the residual's spectral kurtosis then rises);
   the stricter presence test keeps such peaks at the floor and costs < 0.01 STOI on speech
   in noise.
4b. **Speech absence in babble**: in babble-like noise the raised gain floor (item 2) and
   the bins the babble opens leave the babble 3-5 dB down in the talker's pauses.  A hop
   is the talker's when its mean |Y|^2 over 100..8000 Hz stands more than ON dB over the
   pause spectrum F's band mean (item 2; a near talker at 10 dB SNR stands 9-19 dB over it,
   the babble alone under 5-7 dB); ON adapts to the talker: his level L (the average over
   ABSENT_LEVEL_TAU_S = 2 s of that ratio in dB, over the hops above ABSENT_ON_DB[0]) less
   ABSENT_MARGIN_DB = 6, within ABSENT_ON_DB = 5..8 dB (a talker at 0 dB SNR stands only
   ~8 dB over F and keeps ON at 5).  ABSENT_HANG_S = 150 ms after the last such hop (the
   hangover of the VADs of J. Sohn, N. S. Kim and W. Sung, IEEE SPL 6(1), 1999, and ITU-T
   G.729 Annex B: a syllable's weak end and the consonants between voiced parts stay)
   the absence weight u rises to 1 (ABSENT_TAU_S = 50 ms; 0 again at the next hop over
   ON), and in the babble state (the held pause-floor weight >= ONSET_MAX_W) the gain is
   multiplied by ``(G_min^ABSENT_DEPTH / G_floor)^u``, G_floor this hop's gain floor:
   the bins at the floor go to G_min^(5/3) (20 dB at the default 12), the open ones down
   by the same ratio.  Nothing changes outside babble or at 8 kHz (no babble state
   there).  Measured (bench/bench_ns_peers.py, 2 seeds): see bench/README.md.  A
   periodicity (voicing) detector, the autocorrelation of the analysis frame normalised
   by the window's (P. Boersma, "Accurate short-term analysis of the fundamental
   frequency and the harmonics-to-noise ratio of a sampled sound", IFA Proceedings 17,
   1993), did not separate the talker from the babble here: the 20 ms window holds two
   periods of a male voice and the babble's talkers are voiced too (median peak 0.54 in
   the talker's voiced hops, 0.51-0.59 in babble alone).
5. **Speech probability per frame** (for the gain control's VAD): m = the mean of the
   presence probabilities p of item 4 over the bins in 100..8000 Hz and the frame's hops
   (it is 1 - q_max = 0.05 on noise alone) gives the frame likelihood ratio (threshold 0.13
   at 8 kHz, whose mean over half the bins varies more)
   ``ln Lambda = 40 (m - 0.12)`` (slope and threshold calibrated on the simulation's
   scenarios: it separates active speech from pauses far better than the mean Gaussian
   LLR, ROC area 0.91-0.95 against 0.69-0.84 at 5-20 dB SNR), smoothed by the HMM
   recursion of J. Sohn, N. S. Kim and W. Sung, "A statistical model-based voice activity
   detection", IEEE SPL 6(1), 1999:
   ``Gamma_n = Lambda_n (a01 + a11 Gamma_{n-1}) / (a00 + a10 Gamma_{n-1})``, a01 = 0.2,
   a10 = 0.1 per 10 ms frame; ``speech_prob = Gamma / (1 + Gamma)``.

Units: ``level_db`` in dB (0..30; WebRTC's levels are 6, 12, 18, 21), ``sample_rate`` in Hz,
time constants in seconds, ``latency_samples`` in samples at ``sample_rate``,
``noise_level_dbfs`` the mean-square level of the estimated noise in dBFS (the scale of
:mod:`callaudio.simulation.metrics`).

Robustness: non-finite input samples are replaced by 0 and samples are limited to +-16
before analysis, so the state stays finite; powers below CA_TINY are flushed to zero.
The slow NumPy model of exactly this algorithm is ``tests/_reference/ns_ref.py``.

Layers: the per-bin kernels are plain C in ``ns_impl.c`` (branch-free loops with a
polynomial exp/log so they vectorise without -ffast-math; an AVX2 copy is picked at load
time with GCC on x86-64); ``NoiseSuppressor._hop`` / ``process_c`` orchestrate them
without the GIL and allocate nothing; ``process`` / ``process_signal`` validate and call
the same path.  The constants live in ``ns_impl.h``.
"""

cimport cython
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from libc.math cimport M_PI, ceil, cos, exp, log, log10, sqrt
from libc.string cimport memcpy, memmove, memset

import numpy as np

from callaudio.config import validate_stage
from callaudio.errors import ConfigError

from callaudio._dsp._typedefs cimport CA_TINY, f32, f64
from callaudio._dsp.fft cimport RealFFT

cdef extern from "ns_impl.h":
    double CA_NS_XI_H1_DB, CA_NS_XI_H1_PAPER_DB
    double CA_NS_NOISE_TAU_S, CA_NS_SPP_TAU_S, CA_NS_SPP_CAP, CA_NS_INIT_S
    double CA_NS_NOISE_FLOOR_DBFS, CA_NS_DD_TAU_S, CA_NS_DD_ALPHA_MAX, CA_NS_XI_MIN_DB
    double CA_NS_XI_MAX
    double CA_NS_GAMMA_MAX, CA_NS_SAP_TAU_S, CA_NS_SAP_LOCAL_HZ, CA_NS_SAP_GLOBAL_HZ
    double CA_NS_SAP_ZETA_MIN_DB, CA_NS_SAP_ZETA_MAX_DB, CA_NS_SAP_Q_MAX, CA_NS_SPP_MARGIN
    double CA_NS_VAD_LO_HZ, CA_NS_VAD_HI_HZ, CA_NS_VAD_A01, CA_NS_VAD_A10
    double CA_NS_VAD_THRESHOLD, CA_NS_VAD_THRESHOLD_NB, CA_NS_VAD_SLOPE
    double CA_NS_LOG_ODDS_MAX, CA_NS_INPUT_LIMIT
    double CA_NS_FLOOR_WIN_S, CA_NS_FLOOR_GATE_DB, CA_NS_FLOOR_TAU_S
    double CA_NS_FLOOR_ON_DB, CA_NS_FLOOR_FULL_DB, CA_NS_FLOOR_FLAT_LO, CA_NS_FLOOR_FLAT_HI
    double CA_NS_FLOOR_HOLD_TAU_S, CA_NS_FLOOR_BIAS, CA_NS_FLOOR_GMIN_SHARE
    double CA_NS_ABSENT_ON_LO_DB, CA_NS_ABSENT_ON_HI_DB, CA_NS_ABSENT_MARGIN_DB
    double CA_NS_ABSENT_LEVEL_TAU_S, CA_NS_ABSENT_HANG_S, CA_NS_ABSENT_TAU_S, CA_NS_ABSENT_DEPTH
    double CA_NS_ABSENT_MAX_LEV_DB
    int CA_NS_TONAL_BINS
    double CA_NS_TONAL_ON_DB, CA_NS_TONAL_FULL_DB, CA_NS_TONAL_TAU_S, CA_NS_TONAL_EVERY_S
    double CA_NS_TONAL_COH_TAU_S, CA_NS_ONSET_DB, CA_NS_ONSET_HOLD_S, CA_NS_ONSET_COH_LO
    double CA_NS_ONSET_COH_HI
    double CA_NS_ONSET_TAU_S, CA_NS_ONSET_MAX_W, CA_NS_ONSET_OFF_DB
    double CA_NS_TRANS_LO_HZ, CA_NS_TRANS_HI_HZ, CA_NS_TRANS_ON_DB, CA_NS_TRANS_JUMP_DB
    double CA_NS_TRANS_OFF_DB, CA_NS_TRANS_MAX_S, CA_NS_TRANS_SUPPRESS_S, CA_NS_TRANS_RETRIG_DB
    double CA_NS_TRANS_FRAC_ON, CA_NS_TRANS_FRAC_OFF
    double CA_NS_TRANS_DREF_FALL_S, CA_NS_TRANS_DREF_RISE_S
    int ca_ns_transient_count(const float* P, const float* dref, int lo, int hi, float thr,
                              float floor_) noexcept nogil
    void ca_ns_transient_dref(const float* P, float* dref, int nb, float a_fall,
                              float a_rise, float tiny) noexcept nogil
    double CA_NS_TRANS_REF_TAU_S, CA_NS_TRANS_RATE_TAU_S, CA_NS_TRANS_RATE_LO
    double CA_NS_TRANS_RATE_HI, CA_NS_TRANS_CONFIRM_S, CA_NS_TRANS_KEEP, CA_NS_TRANS_GMIN_DB
    void ca_ns_transient_limit(const float* P, const float* tref, float* gain, int nb,
                               float keep, float gmin2, float w) noexcept nogil
    void ca_ns_transient(const float* P, float* tref, float* used, int nb, float a, float w,
                         int active, float tiny) noexcept nogil
    float ca_ns_expf(float x) noexcept nogil
    float ca_ns_logf(float x) noexcept nogil
    float ca_ns_exp_half_e1(float v) noexcept nogil
    void ca_ns_sanitize(float* x, long n, float tiny) noexcept nogil
    void ca_ns_power(const float* spec, float* P, int nb, float tiny) noexcept nogil
    void ca_ns_noise_update(const float* P, float* noise, float* sppbar, float* hold,
                            float* psm, const float* coh, int nb, float a_noise,
                            float a_spp, float floor_, float tiny, float on, float a_on,
                            float hold_n, float coh2_lo, float coh2_inv,
                            float xi_h1) noexcept nogil
    void ca_ns_absence_odds(float* zeta, const float* xi_prev, float* zloc, float* odds,
                            int nb, float a_zeta, const float* wloc, int hloc,
                            const float* wglob, int hglob) noexcept nogil
    void ca_ns_gain(const float* P, const float* noise, float* pprev, float* gain,
                    float* xi_out, float* odds, int nb, float gmin,
                    float log_gmin, float dd) noexcept nogil
    void ca_ns_apply(float* spec, const float* gain, int nb, double* sums) noexcept nogil
    double ca_ns_mean(const float* x, int lo, int hi) noexcept nogil
    double ca_ns_log_mean(const float* x, int lo, int hi) noexcept nogil
    double ca_ns_min(const double* x, int n) noexcept nogil
    int ca_ns_finite(const float* x, int n) noexcept nogil
    int ca_ns_power_acc(const float* spec, float* acc, int nb, int first) noexcept nogil
    void ca_ns_floor_update(const float* P, float* floor_spec, int nb, float a,
                            float tiny) noexcept nogil
    void ca_ns_noise_used(const float* noise, const float* floor_spec, const float* tonal_t,
                          const float* tonal_fl, float* used, int nb, float w) noexcept nogil
    void ca_ns_tonal_update(const float* P, float* pbar, const float* coh, float* tonal_t,
                            float* tonal_fl, float* pad, int lo, int hi, float a_pbar,
                            float t_on, float inv_span, float fl_min) noexcept nogil
    void ca_ns_coherence(const float* spec, const float* P, const float* xprev, float* zlast,
                         float* coh, int lo, int hi, float a, float tiny) noexcept nogil
    void ca_ns_phase_store(const float* spec, const float* P, float* xn, int lo,
                           int hi) noexcept nogil


# Algorithm constants (defined once, in ns_impl.h; see the module docstring).
XI_H1_DB = CA_NS_XI_H1_DB
XI_H1_PAPER_DB = CA_NS_XI_H1_PAPER_DB
# linear, for the kernel (the paper's below 16 kHz and in babble)
cdef f32 _XI_H1 = <f32>(10.0 ** (CA_NS_XI_H1_DB / 10.0))
cdef f32 _XI_H1_PAPER = <f32>(10.0 ** (CA_NS_XI_H1_PAPER_DB / 10.0))
NOISE_TAU_S = CA_NS_NOISE_TAU_S
SPP_TAU_S = CA_NS_SPP_TAU_S
SPP_CAP = CA_NS_SPP_CAP
DD_TAU_S = CA_NS_DD_TAU_S
DD_ALPHA_MAX = CA_NS_DD_ALPHA_MAX
XI_MIN_DB = CA_NS_XI_MIN_DB
GAMMA_MAX = CA_NS_GAMMA_MAX
XI_MAX = CA_NS_XI_MAX
INIT_S = CA_NS_INIT_S
NOISE_FLOOR_DBFS = CA_NS_NOISE_FLOOR_DBFS
VAD_BAND_HZ = (CA_NS_VAD_LO_HZ, CA_NS_VAD_HI_HZ)
VAD_A01 = CA_NS_VAD_A01
VAD_A10 = CA_NS_VAD_A10
VAD_THRESHOLD = CA_NS_VAD_THRESHOLD
VAD_SLOPE = CA_NS_VAD_SLOPE
LOG_ODDS_MAX = CA_NS_LOG_ODDS_MAX
INPUT_LIMIT = CA_NS_INPUT_LIMIT
SAP_TAU_S = CA_NS_SAP_TAU_S
SAP_LOCAL_HZ = CA_NS_SAP_LOCAL_HZ
SAP_GLOBAL_HZ = CA_NS_SAP_GLOBAL_HZ
SAP_ZETA_MIN_DB = CA_NS_SAP_ZETA_MIN_DB
SAP_ZETA_MAX_DB = CA_NS_SAP_ZETA_MAX_DB
SAP_Q_MAX = CA_NS_SAP_Q_MAX
SPP_MARGIN = CA_NS_SPP_MARGIN
FLOOR_WIN_S = CA_NS_FLOOR_WIN_S
FLOOR_GATE_DB = CA_NS_FLOOR_GATE_DB
FLOOR_TAU_S = CA_NS_FLOOR_TAU_S
FLOOR_ON_DB = CA_NS_FLOOR_ON_DB
FLOOR_FULL_DB = CA_NS_FLOOR_FULL_DB
FLOOR_FLAT = (CA_NS_FLOOR_FLAT_LO, CA_NS_FLOOR_FLAT_HI)
FLOOR_HOLD_TAU_S = CA_NS_FLOOR_HOLD_TAU_S
FLOOR_BIAS = CA_NS_FLOOR_BIAS
FLOOR_GMIN_SHARE = CA_NS_FLOOR_GMIN_SHARE
ABSENT_ON_DB = (CA_NS_ABSENT_ON_LO_DB, CA_NS_ABSENT_ON_HI_DB)
ABSENT_MARGIN_DB = CA_NS_ABSENT_MARGIN_DB
ABSENT_LEVEL_TAU_S = CA_NS_ABSENT_LEVEL_TAU_S
ABSENT_HANG_S = CA_NS_ABSENT_HANG_S
ABSENT_TAU_S = CA_NS_ABSENT_TAU_S
ABSENT_DEPTH = CA_NS_ABSENT_DEPTH
TONAL_BINS = CA_NS_TONAL_BINS
TONAL_DB = (CA_NS_TONAL_ON_DB, CA_NS_TONAL_FULL_DB)
TONAL_TAU_S = CA_NS_TONAL_TAU_S
TONAL_EVERY_S = CA_NS_TONAL_EVERY_S
TONAL_COH_TAU_S = CA_NS_TONAL_COH_TAU_S
ONSET_DB = CA_NS_ONSET_DB
ONSET_HOLD_S = CA_NS_ONSET_HOLD_S
ONSET_COH = (CA_NS_ONSET_COH_LO, CA_NS_ONSET_COH_HI)
ONSET_TAU_S = CA_NS_ONSET_TAU_S
ONSET_MAX_W = CA_NS_ONSET_MAX_W
ONSET_OFF_DB = CA_NS_ONSET_OFF_DB
TRANS_BAND_HZ = (CA_NS_TRANS_LO_HZ, CA_NS_TRANS_HI_HZ)
TRANS_ON_DB = CA_NS_TRANS_ON_DB
TRANS_JUMP_DB = CA_NS_TRANS_JUMP_DB
TRANS_OFF_DB = CA_NS_TRANS_OFF_DB
TRANS_MAX_S = CA_NS_TRANS_MAX_S
TRANS_SUPPRESS_S = CA_NS_TRANS_SUPPRESS_S
TRANS_RETRIG_DB = CA_NS_TRANS_RETRIG_DB
TRANS_CONFIRM_S = CA_NS_TRANS_CONFIRM_S
TRANS_DREF_TAU_S = (CA_NS_TRANS_DREF_FALL_S, CA_NS_TRANS_DREF_RISE_S)
TRANS_FRAC = (CA_NS_TRANS_FRAC_ON, CA_NS_TRANS_FRAC_OFF)
TRANS_REF_TAU_S = CA_NS_TRANS_REF_TAU_S
TRANS_RATE_TAU_S = CA_NS_TRANS_RATE_TAU_S
TRANS_RATE = (CA_NS_TRANS_RATE_LO, CA_NS_TRANS_RATE_HI)
TRANS_KEEP = CA_NS_TRANS_KEEP
TRANS_GMIN_DB = CA_NS_TRANS_GMIN_DB


def _fast_math(x, fn):
    """The polynomial exp / log / exp(E1/2) of ns_impl.c, for tests (``fn`` names one)."""
    cdef float v = x
    if fn == "exp":
        return ca_ns_expf(v)
    if fn == "log":
        return ca_ns_logf(v)
    if fn == "exp_half_e1":
        return ca_ns_exp_half_e1(v)
    raise ValueError(f"unknown function {fn!r}")


cdef void mauler_martin_windows(f32* wa, f32* ws, int K, int R) noexcept:
    """The pair with delay R (module docstring, item 1): w_a * w_s is a Hann window of
    length 2R over the last 2R samples."""
    cdef int n, L = 2 * (K - R)
    cdef double hs, den
    for n in range(K):
        wa[n] = 0.0
        ws[n] = 0.0
    for n in range(K - R):
        wa[n] = sqrt(0.5 - 0.5 * cos(2.0 * M_PI * n / L))
    for n in range(K - R, K):
        hs = 0.5 - 0.5 * cos(2.0 * M_PI * (n - (K - 2 * R)) / (2 * R))
        wa[n] = sqrt(hs)
        ws[n] = sqrt(hs)
    for n in range(K - 2 * R, K - R):
        hs = 0.5 - 0.5 * cos(2.0 * M_PI * (n - (K - 2 * R)) / (2 * R))
        den = sqrt(0.5 - 0.5 * cos(2.0 * M_PI * n / L))
        ws[n] = hs / den if den > 0.0 else 0.0


cdef void hann_weights(f32* w, int h) noexcept:
    """2h+1 Hann weights (numpy.hanning(2h + 3)[1:-1]) normalised to sum 1."""
    cdef int j
    cdef double tot = 0.0, v
    for j in range(2 * h + 1):
        v = 0.5 - 0.5 * cos(2.0 * M_PI * (j + 1) / (2 * h + 2))
        w[j] = v
        tot += v
    for j in range(2 * h + 1):
        w[j] = w[j] / tot


def lowdelay_windows(int K, int R, int d):
    """Low-delay analysis/synthesis pair of length ``K`` for hop ``R`` and output delay
    ``d <= R`` (Mauler & Martin 2007; module docstring, item 1), float64.

    ``wa * ws`` is zero on ``[0, K-R-d)``, a sin^2 rise on ``[K-R-d, K-R)``, one on
    ``[K-R, K-d)`` and the complementary fall on ``[K-d, K)``, so overlap-add at hop ``R``
    reconstructs exactly, ``d`` samples late.  The echo canceller's suppressor uses
    ``lowdelay_windows(2n, n, d)``, the noise suppressor shares it.
    """
    if not (0 < d <= R and R + d <= K):
        raise ValueError(f"no low-delay window pair for K={K}, R={R}, d={d}")
    wa = np.zeros(K)
    ws = np.zeros(K)
    r = K - d
    i = np.arange(r)
    wa[:r] = np.sin(0.5 * np.pi * (i + 0.5) / r)
    j = np.arange(d)
    fall = np.cos(0.5 * np.pi * (j + 0.5) / d)
    wa[r:] = fall
    prod = np.zeros(K)
    prod[K - R - d : K - R] = np.sin(0.5 * np.pi * (j + 0.5) / d) ** 2
    prod[K - R : K - d] = 1.0
    prod[K - d :] = fall ** 2
    nz = prod > 0
    ws[nz] = prod[nz] / wa[nz]
    return wa, ws


# -- stage type ------------------------------------------------------------------------

cdef class NoiseSuppressor:
    """Single-channel noise suppressor working on 10 ms float32 frames.

    Parameters
    ----------
    sample_rate : int
        Sample rate in Hz: 8000, 16000, 32000 or 48000.
    level_db : float, default 12.0
        Maximum noise attenuation in dB, 0..30 (WebRTC's levels: 6, 12, 18, 21), except
        in the talker's pauses in babble-like noise (5/3 of it there). Bins without
        speech are attenuated by exactly this much (a quarter of it in babble-like noise
        while the talker speaks; see the module docstring, items 2 and 4b); 0 passes
        the input through
        (delayed by ``latency_samples``).
    hops_per_frame : int, default 2
        Analysis hops per 10 ms frame: 1, 2 or 4 (overlap 50, 75, 87.5 %); more hops
        cost proportionally more FFTs. The algorithmic latency is one hop (10, 5 or
        2.5 ms), or 2.5 ms at every setting with ``low_delay``. In a chain with the echo
        canceller the stage shares the canceller's synthesis (two hops per frame).
    low_delay : bool, default False
        Output delay 2.5 ms at every hop (``frame_size / 4``) instead of one hop.
    delay_samples : int, default 0
        With the low-delay windows, this output delay (1 .. hop_size samples: the
        cross-fade between hops) instead of 2.5 ms; 0 keeps the rule above.

    Raises
    ------
    ConfigError
        If a parameter is outside its range (:data:`callaudio.config.RANGES`; the message
        names it).
    """

    def __cinit__(self, int sample_rate, double level_db=12.0, int hops_per_frame=2,
                  bint low_delay=False, int delay_samples=0):
        validate_stage("noise_suppressor", sample_rate, level_db=level_db,
                       hops_per_frame=hops_per_frame)
        self.sample_rate = sample_rate
        self.level_db = level_db
        self.hops_per_frame = hops_per_frame
        self.frame_size = sample_rate // 100
        self.hop_size = self.frame_size // hops_per_frame
        self.fft_size = 2 * self.frame_size
        if delay_samples != 0 and not 0 < delay_samples <= self.hop_size:
            raise ConfigError("noise_suppressor.delay_samples",
                              f"must be in 1..hop_size={self.hop_size}, got {delay_samples}")
        self.low_delay = low_delay or delay_samples > 0
        if delay_samples > 0:
            self.latency_samples = delay_samples
        else:
            self.latency_samples = (min(self.hop_size, self.frame_size // 4) if low_delay
                                    else self.hop_size)
        self._nbins = self.fft_size // 2 + 1
        self._fft = RealFFT(self.fft_size)

        cdef int K = self.fft_size, R = self.hop_size, nb = self._nbins, n
        cdef double hop_s = <double>R / sample_rate
        self._gmin = 10.0 ** (-level_db / 20.0)
        self._log_gmin = log(<double>self._gmin)
        self._a_noise = exp(-hop_s / NOISE_TAU_S)
        self._a_spp = exp(-hop_s / SPP_TAU_S)
        self._n_init = max(1, <int>(INIT_S / hop_s + 0.5))
        self._vad_lo = <int>(VAD_BAND_HZ[0] * K / sample_rate + 0.999999)
        self._vad_hi = min(nb, <int>(VAD_BAND_HZ[1] * K / sample_rate) + 1)
        self._vad_threshold = (CA_NS_VAD_THRESHOLD_NB if sample_rate < 16000
                               else CA_NS_VAD_THRESHOLD)

        self._wa = <f32*>PyMem_Malloc(K * sizeof(f32))
        self._ws = <f32*>PyMem_Malloc(K * sizeof(f32))
        self._inbuf = <f32*>PyMem_Malloc(K * sizeof(f32))
        self._tbuf = <f32*>PyMem_Malloc(K * sizeof(f32))
        self._spec = <f32*>PyMem_Malloc((K + 2) * sizeof(f32))
        self._outacc = <f32*>PyMem_Malloc(2 * R * sizeof(f32))
        self._power = <f32*>PyMem_Malloc(nb * sizeof(f32))
        self._noise = <f32*>PyMem_Malloc(nb * sizeof(f32))
        self._pprev = <f32*>PyMem_Malloc(nb * sizeof(f32))
        self._gprev = <f32*>PyMem_Malloc(nb * sizeof(f32))
        self._sppbar = <f32*>PyMem_Malloc(nb * sizeof(f32))
        self._xi = <f32*>PyMem_Malloc(nb * sizeof(f32))
        self._zeta = <f32*>PyMem_Malloc(nb * sizeof(f32))
        self._odds = <f32*>PyMem_Malloc(nb * sizeof(f32))
        # zloc and the smoothing's padded copy (ca_ns_absence_odds)
        self._zloc = <f32*>PyMem_Malloc(
            (2 * nb + 2 * (<int>(max(SAP_GLOBAL_HZ, SAP_LOCAL_HZ) * K / sample_rate) + 2))
            * sizeof(f32))
        cdef double bw = <double>sample_rate / K
        self._hloc = <int>(SAP_LOCAL_HZ / bw + 0.5)
        self._hglob = <int>(SAP_GLOBAL_HZ / bw + 0.5)
        self._wloc = <f32*>PyMem_Malloc((2 * self._hloc + 1) * sizeof(f32))
        self._wglob = <f32*>PyMem_Malloc((2 * self._hglob + 1) * sizeof(f32))
        self._a_zeta = exp(-hop_s / SAP_TAU_S)
        self._a_dd = min(exp(-hop_s / CA_NS_DD_TAU_S), CA_NS_DD_ALPHA_MAX)
        self._nhist = max(1, <int>(FLOOR_WIN_S / hop_s + 0.5))
        self._a_floor = exp(-hop_s / FLOOR_TAU_S)
        self._a_whold = exp(-hop_s / FLOOR_HOLD_TAU_S)
        self._floor_gate = 10.0 ** (FLOOR_GATE_DB / 10.0)
        self._floor_spec = <f32*>PyMem_Malloc(nb * sizeof(f32))
        self._noise_used = <f32*>PyMem_Malloc(nb * sizeof(f32))
        self._tonal_pad = <f32*>PyMem_Malloc((nb + 2 * CA_NS_TONAL_BINS) * sizeof(f32))
        self._pbar = <f32*>PyMem_Malloc(nb * sizeof(f32))
        self._tonal_t = <f32*>PyMem_Malloc(nb * sizeof(f32))
        self._tonal_fl = <f32*>PyMem_Malloc(nb * sizeof(f32))
        self._xprev = <f32*>PyMem_Malloc(2 * nb * sizeof(f32))
        self._zlast = <f32*>PyMem_Malloc(2 * nb * sizeof(f32))
        self._coh = <f32*>PyMem_Malloc(2 * nb * sizeof(f32))
        self._hold = <f32*>PyMem_Malloc(nb * sizeof(f32))
        self._psm = <f32*>PyMem_Malloc(nb * sizeof(f32))
        self._a_onset = exp(-hop_s / CA_NS_ONSET_TAU_S)
        self._onset = 10.0 ** (CA_NS_ONSET_DB / 10.0)
        self._hold_n = <int>(CA_NS_ONSET_HOLD_S / hop_s + 0.5)
        self._onset_coh2 = CA_NS_ONSET_COH_LO * CA_NS_ONSET_COH_LO
        self._onset_coh2_inv = 1.0 / (CA_NS_ONSET_COH_HI * CA_NS_ONSET_COH_HI
                                      - CA_NS_ONSET_COH_LO * CA_NS_ONSET_COH_LO)
        self._tonal_every = max(1, <int>(CA_NS_TONAL_EVERY_S / hop_s + 0.5))
        self._a_pbar = exp(-self._tonal_every * hop_s / CA_NS_TONAL_TAU_S)
        self._a_coh = exp(-self._tonal_every * hop_s / CA_NS_TONAL_COH_TAU_S)
        self._tonal_on = 10.0 ** (CA_NS_TONAL_ON_DB / 10.0)
        self._tonal_inv_span = 1.0 / (10.0 ** (CA_NS_TONAL_FULL_DB / 10.0) - self._tonal_on)
        self._ehist = <f64*>PyMem_Malloc(self._nhist * sizeof(f64))
        self._tref = <f32*>PyMem_Malloc(nb * sizeof(f32))
        self._t_lo = <int>(CA_NS_TRANS_LO_HZ * K / sample_rate + 0.5)
        self._t_hi = min(nb, <int>(CA_NS_TRANS_HI_HZ * K / sample_rate) + 1)
        self._a_tref = exp(-hop_s / CA_NS_TRANS_REF_TAU_S)
        self._dref = <f32*>PyMem_Malloc(nb * sizeof(f32))
        self._a_dfall = exp(-hop_s / CA_NS_TRANS_DREF_FALL_S)
        self._a_drise = exp(-hop_s / CA_NS_TRANS_DREF_RISE_S)
        self._t_non = <int>ceil(CA_NS_TRANS_FRAC_ON * (self._t_hi - self._t_lo) - 1e-9)
        self._t_noff = <int>ceil(CA_NS_TRANS_FRAC_OFF * (self._t_hi - self._t_lo) - 1e-9)
        self._a_trate = exp(-hop_s / CA_NS_TRANS_RATE_TAU_S)
        self._t_max = max(1, <int>(CA_NS_TRANS_MAX_S / hop_s + 0.5))
        self._t_sup = min(self._t_max, max(1, <int>(CA_NS_TRANS_SUPPRESS_S / hop_s + 0.5)))
        self._t_conf = max(1, <int>(CA_NS_TRANS_CONFIRM_S / hop_s + 0.5))
        self._t_on = 10.0 ** (CA_NS_TRANS_ON_DB / 10.0)
        self._t_off = 10.0 ** (CA_NS_TRANS_OFF_DB / 10.0)
        self._t_jump = 10.0 ** (CA_NS_TRANS_JUMP_DB / 10.0)
        self._t_retrig = 10.0 ** (-CA_NS_TRANS_RETRIG_DB / 10.0)
        self._abs_hang = max(1, <int>(CA_NS_ABSENT_HANG_S / hop_s + 0.5))
        self._a_abs = exp(-hop_s / CA_NS_ABSENT_TAU_S)
        self._a_alev = exp(-hop_s / CA_NS_ABSENT_LEVEL_TAU_S)
        if (self._floor_spec == NULL or self._ehist == NULL or self._noise_used == NULL
                or self._tonal_pad == NULL or self._pbar == NULL or self._tonal_t == NULL
                or self._tonal_fl == NULL or self._xprev == NULL or self._zlast == NULL
                or self._coh == NULL or self._hold == NULL
                or self._psm == NULL or self._tref == NULL or self._dref == NULL):
            raise MemoryError()
        if (self._xi == NULL or self._zeta == NULL or self._odds == NULL or self._zloc == NULL
                or self._wloc == NULL or self._wglob == NULL):
            raise MemoryError()
        hann_weights(self._wloc, self._hloc)
        hann_weights(self._wglob, self._hglob)
        if (self._wa == NULL or self._ws == NULL or self._inbuf == NULL or self._tbuf == NULL
                or self._spec == NULL or self._outacc == NULL or self._power == NULL
                or self._noise == NULL or self._pprev == NULL or self._gprev == NULL
                or self._sppbar == NULL):
            raise MemoryError()
        if self.low_delay:
            wa, ws = lowdelay_windows(K, R, self.latency_samples)
            for n in range(K):
                self._wa[n] = wa[n]
                self._ws[n] = ws[n]
        else:
            mauler_martin_windows(self._wa, self._ws, K, R)
        cdef double energy = 0.0
        for n in range(K):
            energy += <double>self._wa[n] * self._wa[n]
        self._wa_energy = energy
        self._noise_floor = 10.0 ** (NOISE_FLOOR_DBFS / 10.0) * energy
        self.reset()

    def __dealloc__(self):
        PyMem_Free(self._wa)
        PyMem_Free(self._ws)
        PyMem_Free(self._inbuf)
        PyMem_Free(self._tbuf)
        PyMem_Free(self._spec)
        PyMem_Free(self._outacc)
        PyMem_Free(self._power)
        PyMem_Free(self._noise)
        PyMem_Free(self._pprev)
        PyMem_Free(self._gprev)
        PyMem_Free(self._sppbar)
        PyMem_Free(self._xi)
        PyMem_Free(self._zeta)
        PyMem_Free(self._odds)
        PyMem_Free(self._zloc)
        PyMem_Free(self._wloc)
        PyMem_Free(self._wglob)
        PyMem_Free(self._floor_spec)
        PyMem_Free(self._noise_used)
        PyMem_Free(self._tonal_pad)
        PyMem_Free(self._pbar)
        PyMem_Free(self._tonal_t)
        PyMem_Free(self._tonal_fl)
        PyMem_Free(self._xprev)
        PyMem_Free(self._zlast)
        PyMem_Free(self._coh)
        PyMem_Free(self._hold)
        PyMem_Free(self._psm)
        PyMem_Free(self._ehist)
        PyMem_Free(self._tref)
        PyMem_Free(self._dref)

    cpdef void reset(self):
        """Forget the signal: empty buffers, noise PSD back to its floor, gains to 1."""
        with nogil:
            self.reset_c()

    cdef void reset_c(self) noexcept nogil:
        cdef int k, K = self.fft_size, nb = self._nbins
        memset(self._inbuf, 0, K * sizeof(f32))
        memset(self._outacc, 0, (self.hop_size + self.latency_samples) * sizeof(f32))
        memset(self._pprev, 0, nb * sizeof(f32))
        memset(self._sppbar, 0, nb * sizeof(f32))
        memset(self._zeta, 0, nb * sizeof(f32))
        memset(self._floor_spec, 0, nb * sizeof(f32))
        memset(self._pbar, 0, nb * sizeof(f32))
        memset(self._tonal_t, 0, nb * sizeof(f32))
        memset(self._tonal_fl, 0, nb * sizeof(f32))
        memset(self._xprev, 0, 2 * nb * sizeof(f32))
        memset(self._zlast, 0, 2 * nb * sizeof(f32))
        memset(self._coh, 0, 2 * nb * sizeof(f32))
        memset(self._hold, 0, nb * sizeof(f32))
        memset(self._psm, 0, nb * sizeof(f32))
        memset(self._tref, 0, nb * sizeof(f32))
        memset(self._dref, 0, nb * sizeof(f32))
        self._t_left = 0
        self._t_refr = False
        self._t_elprev = 0.0
        self._t_el0 = 0.0
        self._t_pend = 0
        self._t_voiced = False
        self._t_e1 = 0.0
        self._t_e2 = 0.0
        self._t_rate = 0.0
        self._t_peak = 0.0
        self._t_wt = 0.0
        self._t_count = 0
        self._floor_known = False
        for k in range(self._nhist):
            self._ehist[k] = 1e300   # empty slots never hold the minimum
        self._hist_pos = 0
        self._wbar = 0.0
        self._abs_run = 0
        self._abs_u = 0.0
        self._abs_lev = CA_NS_ABSENT_ON_LO_DB + CA_NS_ABSENT_MARGIN_DB
        for k in range(nb):
            self._noise[k] = self._noise_floor
            self._noise_used[k] = self._noise_floor
            self._gprev[k] = 1.0
            self._xi[k] = 10.0 ** (CA_NS_XI_MIN_DB / 10.0)
        self._count = 0
        self._presence_acc = 0.0
        self._log_odds = 0.0
        self._speech_prob = 0.0

    cdef void carry_state_c(self, NoiseSuppressor other) noexcept:
        """Continue from ``other`` (same rate, any hop and windows): its per-bin noise,
        gain and presence state (the noise PSDs rescaled to this analysis window's
        energy) and its speech probability; the signal buffers and the pause history
        start empty."""
        cdef int k, nb = self._nbins
        cdef f32 scale = <f32>(self._wa_energy / other._wa_energy)
        self.reset_c()
        for k in range(nb):
            self._noise[k] = other._noise[k] * scale
            self._noise_used[k] = other._noise_used[k] * scale
            self._floor_spec[k] = other._floor_spec[k] * scale
            self._pbar[k] = other._pbar[k] * scale
            self._tonal_fl[k] = other._tonal_fl[k] * scale
            self._tonal_t[k] = other._tonal_t[k]
            self._coh[2 * k] = other._coh[2 * k]
            self._coh[2 * k + 1] = other._coh[2 * k + 1]
            self._pprev[k] = other._pprev[k] * scale
            self._gprev[k] = other._gprev[k]
            self._sppbar[k] = other._sppbar[k]
            self._xi[k] = other._xi[k]
            self._zeta[k] = other._zeta[k]
            self._tref[k] = other._tref[k] * scale
            self._dref[k] = other._dref[k] * scale
        self._t_rate = other._t_rate
        self._count = other._count
        self._wbar = other._wbar
        self._log_odds = other._log_odds
        self._speech_prob = other._speech_prob

    @cython.boundscheck(False)   # kernel: indices < K, R + d, nbins by construction
    @cython.wraparound(False)
    @cython.cdivision(True)      # count + 1 >= 1
    cdef void _gain_hop(self, f32* spec, f64* sums) noexcept nogil:
        """One hop's gain from the analysis spectrum ``spec`` (fft_size + 2 floats,
        interleaved), applied to it in place; sums = (power after, before)."""
        ca_ns_power(spec, self._power, self._nbins, CA_TINY)
        # The tonal protection's phase coherence (item 2): updated with the tonal weights,
        # from this hop's and the previous hop's phases.
        if self._count % self._tonal_every == 0:
            ca_ns_coherence(spec, self._power, self._xprev, self._zlast, self._coh,
                            self._vad_lo, self._vad_hi, self._a_coh, CA_TINY)
        if (self._count + 1) % self._tonal_every == 0:
            ca_ns_phase_store(spec, self._power, self._xprev, self._vad_lo, self._vad_hi)
        self._gain_power()
        ca_ns_apply(spec, self._gprev, self._nbins, sums)

    @cython.boundscheck(False)
    @cython.wraparound(False)
    @cython.cdivision(True)
    cdef void _gain_power(self) noexcept nogil:
        """One hop's noise tracking, speech presence and gain (into ``_gprev``) from the
        power spectrum in ``_power``."""
        cdef int nb = self._nbins, k
        cdef f32* P = self._power
        cdef f64 e, emin, w, wf, eb
        cdef f32 gmin, log_gmin, on, coh2, xi_h1
        if self._count < self._n_init:
            # Initialisation: the noise PSD is the mean periodogram of the first hops.
            for k in range(nb):
                self._noise[k] += (P[k] - self._noise[k]) / (self._count + 1)
                if self._noise[k] < self._noise_floor:
                    self._noise[k] = self._noise_floor
        else:
            # The onset hold and the lower xi_H1 (item 2) are off in babble (no onset, no
            # hold kept).
            on = self._onset if self._wbar < CA_NS_ONSET_MAX_W else <f32>3e38
            coh2 = self._onset_coh2 if self._wbar < CA_NS_ONSET_MAX_W else <f32>2.0
            xi_h1 = (_XI_H1 if self._wbar < CA_NS_ONSET_MAX_W and self.sample_rate >= 16000
                     else _XI_H1_PAPER)
            ca_ns_noise_update(P, self._noise, self._sppbar, self._hold, self._psm,
                               self._coh, nb, self._a_noise, self._a_spp,
                               self._noise_floor, CA_TINY, on, self._a_onset, self._hold_n,
                               coh2, self._onset_coh2_inv,
                               xi_h1)
        # Speech-pause floor: the hop is a pause when its band energy is within
        # FLOOR_GATE_DB of the minimum over the last FLOOR_WIN_S (this hop included).
        e = ca_ns_mean(P, self._vad_lo, self._vad_hi)
        eb = e
        self._ehist[self._hist_pos] = e
        self._hist_pos = (self._hist_pos + 1) % self._nhist
        emin = ca_ns_min(self._ehist, self._nhist)
        if e <= emin * self._floor_gate:
            ca_ns_floor_update(P, self._floor_spec, nb, self._a_floor, CA_TINY)
            self._floor_known = False
        if not self._floor_known:   # the pause spectrum's means change only in pauses
            self._floor_mean = ca_ns_mean(self._floor_spec, self._vad_lo, self._vad_hi)
            self._floor_geo = exp(ca_ns_log_mean(self._floor_spec, self._vad_lo, self._vad_hi))
            self._floor_known = True
        # Weight: how far the pause spectrum's band mean exceeds the tracker's, in dB.
        e = self._floor_mean
        w = ca_ns_mean(self._noise, self._vad_lo, self._vad_hi)
        w = (10.0 * log10((e if e > 1e-30 else 1e-30) / w) - CA_NS_FLOOR_ON_DB) / (
            CA_NS_FLOOR_FULL_DB - CA_NS_FLOOR_ON_DB)
        w = 0.0 if w < 0.0 else (1.0 if w > 1.0 else w)
        e = e if e > 1e-30 else 1e-30
        wf = self._floor_geo / e
        wf = log((wf if wf > 1e-30 else 1e-30) / CA_NS_FLOOR_FLAT_LO) / log(
            CA_NS_FLOOR_FLAT_HI / CA_NS_FLOOR_FLAT_LO)
        w *= 0.0 if wf < 0.0 else (1.0 if wf > 1.0 else wf)
        if self.sample_rate < 16000:
            w = 0.0   # narrowband: off (see the module docstring)
        self._wbar = self._a_whold * self._wbar + (1.0 - self._a_whold) * w
        if self._wbar < 1e-30:
            self._wbar = 0.0
        if self._wbar > w:
            w = self._wbar
        # max(s2 limited at the tonal peaks of the mean periodogram, B w F); the peaks
        # (a 0.5 s mean) are looked for every TONAL_EVERY_S.
        if self._count % self._tonal_every == 0:
            ca_ns_tonal_update(P, self._pbar, self._coh, self._tonal_t, self._tonal_fl,
                               self._tonal_pad, self._vad_lo, self._vad_hi, self._a_pbar,
                               self._tonal_on, self._tonal_inv_span, self._noise_floor)
        ca_ns_noise_used(self._noise, self._floor_spec, self._tonal_t, self._tonal_fl,
                         self._noise_used, nb, <f32>(CA_NS_FLOOR_BIAS * w))
        # The gain floor where the pause spectrum lifts the tracker (babble).
        gmin = self._gmin
        log_gmin = self._log_gmin
        if w > 0.0:
            log_gmin = <f32>((1.0 - CA_NS_FLOOR_GMIN_SHARE * w) * self._log_gmin)
            gmin = <f32>exp(log_gmin)
        self._transient()
        if self._count < 2147483647:
            self._count += 1
        ca_ns_absence_odds(self._zeta, self._xi, self._zloc, self._odds, nb, self._a_zeta,
                           self._wloc, self._hloc, self._wglob, self._hglob)
        ca_ns_gain(P, self._noise_used, self._pprev, self._gprev, self._xi, self._odds, nb,
                   gmin, log_gmin, self._a_dd)
        if self._t_wt > 0.0 and self.sample_rate >= 16000:
            ca_ns_transient_limit(P + self._t_lo, self._tref + self._t_lo,
                                  self._gprev + self._t_lo, nb - self._t_lo, CA_NS_TRANS_KEEP,
                                  <f32>(10.0 ** (CA_NS_TRANS_GMIN_DB / 10.0)), <f32>self._t_wt)
        self._absence(eb, log_gmin)
        # self._odds now holds each bin's presence probability.
        self._presence_acc += ca_ns_mean(self._odds, self._vad_lo, self._vad_hi)

    @cython.boundscheck(False)
    @cython.wraparound(False)
    cdef void _absence(self, f64 e, f32 log_gmin) noexcept nogil:
        """Speech absence in babble (item 4b; ns_impl.h ABSENT_*): ``e`` is the hop's band
        mean of |Y|^2; in the babble state the gain ``_gprev`` is multiplied by
        (G_min^ABSENT_DEPTH / G_floor)^u, ``log_gmin`` = ln G_floor of this hop."""
        cdef int k
        cdef f64 fm = self._floor_mean if self._floor_mean > 1e-30 else 1e-30
        cdef f64 r_db = 10.0 * log10((e if e > 1e-30 else 1e-30) / fm)
        cdef f64 on = self._abs_lev - CA_NS_ABSENT_MARGIN_DB
        cdef f32 f
        on = (CA_NS_ABSENT_ON_LO_DB if on < CA_NS_ABSENT_ON_LO_DB
              else (CA_NS_ABSENT_ON_HI_DB if on > CA_NS_ABSENT_ON_HI_DB else on))
        if r_db > CA_NS_ABSENT_ON_LO_DB:
            self._abs_lev = self._a_alev * self._abs_lev + (1.0 - self._a_alev) * r_db
        if r_db > on:
            self._abs_run = 0
        elif self._abs_run < self._abs_hang:
            self._abs_run += 1
        if self._abs_run >= self._abs_hang:
            self._abs_u = self._a_abs * self._abs_u + (1.0 - self._a_abs)
        else:
            self._abs_u = 0.0
        if (self._wbar >= CA_NS_ONSET_MAX_W and self._abs_u > 0.0
                and self._abs_lev < CA_NS_ABSENT_MAX_LEV_DB):
            f = <f32>exp(self._abs_u * (CA_NS_ABSENT_DEPTH * <f64>self._log_gmin
                                        - <f64>log_gmin))
            for k in range(self._nbins):
                self._gprev[k] *= f

    @cython.cdivision(True)
    cdef void _transient(self) noexcept nogil:
        """Transient (click) suppression (item 2; ns_impl.h TRANS_*) on ``_power``: lifts
        ``_noise_used`` during a transient by the confirmed clicks' weight."""
        cdef f32* P = self._power
        cdef f64 eh = ca_ns_mean(P, self._t_lo, self._t_hi)
        cdef f64 el = ca_ns_mean(P, self._vad_lo, self._t_lo)
        cdef f64 dl = el - self._t_elprev, e2 = self._t_e1, wt
        cdef bint sup
        self._t_elprev = el
        self._t_e1 = self._t_e2
        self._t_e2 = eh
        cdef f64 pk
        if self._t_left > 0:
            pk = self._t_peak
            if eh > pk:
                self._t_peak = eh
            if (self._t_left < self._t_max and self._t_e1 < self._t_retrig * pk
                    and self._t_onset(eh, e2)):
                self._t_begin(eh, el, dl)   # a new click in the last one's decay
            elif ca_ns_transient_count(P, self._dref, self._t_lo, self._t_hi,
                                       <f32>self._t_off, self._noise_floor) < self._t_noff:
                self._t_left = 0
            else:
                self._t_left -= 1
                if self._t_left == 0:
                    self._t_refr = True
            if self._t_refr:
                self._t_voiced = True   # it lasted: not a click
        elif self._t_refr:
            if ca_ns_transient_count(P, self._dref, self._t_lo, self._t_hi, <f32>self._t_off,
                                     self._noise_floor) < self._t_noff:
                self._t_refr = False
        elif self._t_onset(eh, e2):
            self._t_begin(eh, el, dl)
        if self._t_pend > 0:
            # A click is confirmed TRANS_CONFIRM_S after its onset if it decayed within
            # TRANS_MAX_S and no voicing followed it (a plosive's burst is followed by one).
            if self._t_left == 0 and el > self._t_off * self._t_el0:
                self._t_voiced = True
            self._t_pend -= 1
            if self._t_pend == 0 and not self._t_voiced:
                self._t_rate += 1.0
        self._t_rate *= self._a_trate
        wt = (self._t_rate - CA_NS_TRANS_RATE_LO) / (CA_NS_TRANS_RATE_HI - CA_NS_TRANS_RATE_LO)
        wt = 0.0 if wt < 0.0 else (1.0 if wt > 1.0 else wt)
        # suppressed over the transient's first _t_sup hops only
        sup = self._t_left > self._t_max - self._t_sup
        self._t_wt = wt if sup else 0.0
        if self._t_left > 0:
            if wt > 0.0 and sup:
                ca_ns_transient(P, self._tref, self._noise_used, self._nbins, self._a_tref,
                                <f32>wt, 1, CA_TINY)
        else:
            ca_ns_transient(P, self._tref, self._noise_used, self._nbins, self._a_tref,
                            0.0, 0, CA_TINY)
            ca_ns_transient_dref(P, self._dref, self._nbins, self._a_dfall, self._a_drise,
                                 CA_TINY)

    cdef bint _t_onset(self, f64 eh, f64 e2) noexcept nogil:
        """A transient's onset (ns_impl.h TRANS_*): abrupt (TRANS_JUMP_DB over e_h two hops
        before), over the band mean of T, and TRANS_FRAC_ON of the band's bins TRANS_ON_DB
        over D."""
        return (self._count >= self._n_init and eh > self._t_jump * e2
                and eh > ca_ns_mean(self._tref, self._t_lo, self._t_hi)
                and ca_ns_transient_count(self._power, self._dref, self._t_lo, self._t_hi,
                                          <f32>self._t_on, self._noise_floor) >= self._t_non)

    cdef void _t_begin(self, f64 eh, f64 el, f64 dl) noexcept nogil:
        self._t_left = self._t_max
        self._t_peak = eh
        self._t_el0 = el - dl
        self._t_pend = self._t_conf
        self._t_voiced = False
        self._t_count += 1

    @cython.boundscheck(False)
    @cython.wraparound(False)
    cdef void analyse_c(self, const f32* x, f32* spec) noexcept nogil:
        cdef int K = self.fft_size, R = self.hop_size
        cdef Py_ssize_t i   # not int: with -fwrapv an int index keeps GCC from vectorising
        memmove(self._inbuf, self._inbuf + R, (K - R) * sizeof(f32))
        memcpy(self._inbuf + K - R, x, R * sizeof(f32))
        for i in range(K):
            self._tbuf[i] = self._wa[i] * self._inbuf[i]
        self._fft.forward_c(self._tbuf, spec)

    @cython.boundscheck(False)
    @cython.wraparound(False)
    cdef void synthesise_c(self, const f32* spec, f32* out) noexcept nogil:
        cdef int K = self.fft_size, R = self.hop_size
        cdef Py_ssize_t i
        cdef int m = R + self.latency_samples, s0 = K - R - self.latency_samples
        self._fft.inverse_c(spec, self._tbuf)
        for i in range(m):
            self._outacc[i] += self._tbuf[s0 + i] * self._ws[s0 + i]
        memcpy(out, self._outacc, R * sizeof(f32))
        memmove(self._outacc, self._outacc + R, (m - R) * sizeof(f32))
        memset(self._outacc + m - R, 0, R * sizeof(f32))

    cdef void clear_output_c(self) noexcept nogil:
        memset(self._inbuf, 0, self.fft_size * sizeof(f32))
        memset(self._outacc, 0, (self.hop_size + self.latency_samples) * sizeof(f32))

    cdef void _hop(self, f32* x) noexcept nogil:
        """Analyse R new samples of ``x`` and overwrite them with R output samples."""
        cdef f64 sums[2]
        self.analyse_c(x, self._spec)
        self._gain_hop(self._spec, sums)
        self.synthesise_c(self._spec, x)

    cdef void _frame_vad(self, int nh) noexcept nogil:
        """Frame log likelihood ratio from the mean presence probability of the frame's
        ``nh`` hops, then Sohn's HMM recursion (log domain)."""
        cdef f64 lam, e, lo
        lam = CA_NS_VAD_SLOPE * (self._presence_acc / nh - self._vad_threshold)
        lo = self._log_odds
        e = exp(lo)
        lo = log((CA_NS_VAD_A01 + (1.0 - CA_NS_VAD_A10) * e)
                 / ((1.0 - CA_NS_VAD_A01) + CA_NS_VAD_A10 * e)) + lam
        if lo > CA_NS_LOG_ODDS_MAX:
            lo = CA_NS_LOG_ODDS_MAX
        elif lo < -CA_NS_LOG_ODDS_MAX:
            lo = -CA_NS_LOG_ODDS_MAX
        self._log_odds = lo
        self._speech_prob = 1.0 / (1.0 + exp(-lo))

    cdef void process_c(self, f32* x, Py_ssize_t n) noexcept nogil:
        cdef int h, nh = <int>(n // self.hop_size)
        ca_ns_sanitize(x, n, CA_TINY)
        self._presence_acc = 0.0
        for h in range(nh):
            self._hop(x + h * self.hop_size)
        if nh > 0:
            self._frame_vad(nh)

    cdef bint process_spectrum_c(self, f32* spec, int hop, f64* sums) noexcept nogil:
        cdef bint ok = ca_ns_finite(spec, self.fft_size + 2)
        if hop == 0:
            self._presence_acc = 0.0
            self._shared_hops = 0
        if ok:
            self._gain_hop(spec, sums)
            self._shared_hops += 1
        if hop == self.hops_per_frame - 1 and self._shared_hops > 0:
            self._frame_vad(self._shared_hops)
        return ok

    @cython.boundscheck(False)
    @cython.wraparound(False)
    cdef bint power_acc_c(self, const f32* spec, f32* acc, bint first) noexcept nogil:
        """Linked channels: add this hop's power spectrum |spec|^2 to ``acc`` (nbins;
        ``first``: overwrite it). False, ``acc`` untouched, when ``spec`` is not finite."""
        return ca_ns_power_acc(spec, acc, self._nbins, first) != 0

    @cython.boundscheck(False)
    @cython.wraparound(False)
    cdef void process_power_c(self, const f32* acc, int count, int hop) noexcept nogil:
        """Linked channels, hop ``hop`` of a frame: the gain (``gain_c``) from the mean
        ``acc / count`` of ``count`` channels' power spectra (``power_acc_c``; count 0:
        none was finite, nothing learnt). One noise model, one speech presence, one gain
        for all the channels: a common real gain keeps their level and phase differences
        (binaural noise reduction's common-gain rule). The speech probability is updated
        after the frame's last hop."""
        cdef int k, nb = self._nbins
        cdef f32 inv
        if hop == 0:
            self._presence_acc = 0.0
            self._shared_hops = 0
        if count > 0:
            inv = <f32>1.0 / count
            for k in range(nb):
                self._power[k] = acc[k] * inv if acc[k] * inv >= CA_TINY else 0.0
            self._gain_power()
            self._shared_hops += 1
        if hop == self.hops_per_frame - 1 and self._shared_hops > 0:
            self._frame_vad(self._shared_hops)

    cdef void follow_c(self, NoiseSuppressor leader) noexcept nogil:
        """Linked channels: take the leader's last gain and speech probability (what a
        band-split chain reads for its upper bands)."""
        memcpy(self._gprev, leader._gprev, self._nbins * sizeof(f32))
        self._speech_prob = leader._speech_prob

    cdef const f32* gain_c(self) noexcept nogil:
        """The last hop's gain per bin (nbins)."""
        return self._gprev

    cdef void apply_c(self, f32* spec, const f32* gain, f64* sums) noexcept nogil:
        """``spec`` *= ``gain`` per bin; sums = (power after, before)."""
        ca_ns_apply(spec, gain, self._nbins, sums)

    # -- Python-facing -------------------------------------------------------------------

    @property
    def speech_prob(self):
        """Probability (0..1) that the last frame holds speech; 0 after reset."""
        return self._speech_prob

    @property
    def speech_probability(self):
        """The same as :attr:`speech_prob`: frame-level, 0..1, read-only (item 5 of the
        module docstring; the gain control's VAD reads it)."""
        return self._speech_prob

    @property
    def noise_level_dbfs(self):
        """Mean-square level of the estimated noise in dBFS (about -140 after reset)."""
        cdef double acc = 0.0
        cdef int k, nb = self._nbins
        for k in range(nb):
            acc += (1.0 if k == 0 or k == nb - 1 else 2.0) * self._noise_used[k]
        return 10.0 * log10(acc / (<double>self.fft_size * self._wa_energy))

    @property
    def noise_psd(self):
        """A copy of the noise PSD estimate per bin (|FFT(w_a * y)|^2 units), float32."""
        out = np.empty(self._nbins, dtype=np.float32)
        cdef f32[::1] v = out
        memcpy(&v[0], self._noise_used, self._nbins * sizeof(f32))
        return out

    cdef f32 upper_band_gain_c(self) noexcept nogil:
        """Mean gain of the last hop over the upper half of the spectrum (4-8 kHz at
        16 kHz): what a band-split chain applies to the bands above this one."""
        cdef int k, nb = self._nbins
        cdef f32 s = 0.0
        for k in range(nb // 2, nb):
            s += self._gprev[k]
        return s / (nb - nb // 2)

    @property
    def gain(self):
        """A copy of the gain applied at the last hop per bin (G_min..1), float32."""
        out = np.empty(self._nbins, dtype=np.float32)
        cdef f32[::1] v = out
        memcpy(&v[0], self._gprev, self._nbins * sizeof(f32))
        return out

    def process(self, frame):
        """Suppress noise in one 10 ms frame; the result lags by ``latency_samples``.

        Parameters
        ----------
        frame : numpy.ndarray
            1-D float32 array of ``frame_size`` samples; it is not modified.

        Returns
        -------
        numpy.ndarray
            A new float32 array of ``frame_size`` samples.
        """
        arr = np.asarray(frame)
        if arr.ndim != 1:
            raise ValueError(f"frame must be 1-D, got shape {arr.shape}")
        if arr.dtype != np.float32:
            raise TypeError(f"frame must be float32, got {arr.dtype}")
        if arr.shape[0] != self.frame_size:
            raise ValueError(
                f"frame must have frame_size={self.frame_size} samples, got {arr.shape[0]}")
        out = np.array(arr, dtype=np.float32, order="C", copy=True)
        cdef f32[::1] view = out
        with nogil:
            self.process_c(&view[0], self.frame_size)
        return out

    def process_signal(self, x):
        """Process a whole signal frame by frame (same result as repeated ``process``).

        Parameters
        ----------
        x : numpy.ndarray
            1-D float32 array whose length is a multiple of ``frame_size``.

        Returns
        -------
        numpy.ndarray
            A new float32 array of the same length (delayed by ``latency_samples``).
        """
        arr = np.asarray(x)
        if arr.ndim != 1:
            raise ValueError(f"x must be 1-D, got shape {arr.shape}")
        if arr.dtype != np.float32:
            raise TypeError(f"x must be float32, got {arr.dtype}")
        if arr.shape[0] % self.frame_size:
            raise ValueError(
                f"len(x) must be a multiple of frame_size={self.frame_size}, "
                f"got {arr.shape[0]}")
        out = np.array(arr, dtype=np.float32, order="C", copy=True)
        cdef Py_ssize_t i, nf = out.shape[0] // self.frame_size, N = self.frame_size
        if nf == 0:
            return out
        cdef f32[::1] view = out
        with nogil:
            for i in range(nf):
                self.process_c(&view[i * N], N)
        return out

    def __repr__(self):
        return (f"NoiseSuppressor(sample_rate={self.sample_rate}, level_db={self.level_db!r}, "
                f"hops_per_frame={self.hops_per_frame}, low_delay={self.low_delay})")
