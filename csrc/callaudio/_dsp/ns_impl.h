/* Per-bin kernels of the noise suppressor (see ns.pyx for the algorithm and papers).
 * Array arguments never overlap (they are declared restrict).
 *
 * Every loop here is branch-free over the bins (selects, not jumps) and uses the
 * polynomial ca_ns_expf / ca_ns_logf below instead of libm, so GCC/Clang vectorise the
 * loops at -O3 without -ffast-math.  Both functions are accurate to about 2 ulp over the
 * ranges used (|x| <= 87 for exp; normal positive x for log).
 *
 * The constants are the single source of truth: ns.pyx re-exports them to Python and
 * callaudio._reference.ns_ref mirrors them.
 */
#ifndef CA_NS_IMPL_H
#define CA_NS_IMPL_H

/* Gerkmann & Hendriks 2012 noise PSD estimator. */
#define CA_NS_XI_H1_DB 13.5          /* fixed a priori SNR under speech presence, dB */
#define CA_NS_XI_H1_PAPER_DB 15.0    /* the paper's: at 8 kHz and in babble (ns.pyx item 2) */
#define CA_NS_NOISE_TAU_S 0.072      /* noise PSD smoothing time constant, s */
#define CA_NS_SPP_TAU_S 0.5          /* stagnation-control SPP average time constant, s */
#define CA_NS_SPP_CAP 0.99           /* cap of the posterior SPP while the average exceeds it */
#define CA_NS_INIT_S 0.05            /* the noise PSD is the mean periodogram of this span, s */
#define CA_NS_NOISE_FLOOR_DBFS -140.0
/* Speech-pause noise floor for non-stationary (babble-like) noise: the mean periodogram of
 * the hops whose band energy is within FLOOR_GATE_DB of its minimum over FLOOR_WIN_S; it
 * lifts the noise PSD with a weight from how far its band mean exceeds the tracker's (0 at
 * FLOOR_ON_DB, 1 from FLOOR_FULL_DB): stationary noise leaves the tracker alone. */
#define CA_NS_FLOOR_WIN_S 1.0        /* minimum-tracking window of the hop energy, s */
#define CA_NS_FLOOR_GATE_DB 4.0      /* a hop within this much of the minimum is a pause, dB */
#define CA_NS_FLOOR_TAU_S 0.1        /* smoothing time constant of the pause spectrum, s */
#define CA_NS_FLOOR_ON_DB 2.0
#define CA_NS_FLOOR_FULL_DB 5.0
/* ... and times a weight from the pause spectrum's flatness (geometric over arithmetic
 * mean in the band; J. D. Johnston, IEEE JSAC 6(2), 1988): 0 below FLAT_LO (music,
 * sustained tones, engine rumble: ~0.005), 1 above FLAT_HI (babble: 0.1-0.3), log-linear
 * between. */
#define CA_NS_FLOOR_FLAT_LO 0.02
#define CA_NS_FLOOR_FLAT_HI 0.05
/* The weight w is held: max(w, its average over FLOOR_HOLD_TAU_S), so it does not drop to 0
 * between the talker's pauses.  The pause spectrum is the mean of the quietest hops only
 * (within FLOOR_GATE_DB of the minimum), below the babble's mean: it is multiplied by
 * FLOOR_BIAS (9 dB: the bias compensation of minimum statistics, R. Martin 2001, and an
 * over-subtraction, M. Berouti et al., ICASSP 1979) before it lifts the tracker.  Where it
 * does, the gain floor is G_min^(1 - FLOOR_GMIN_SHARE w) (3 dB at the default 12): in
 * babble the talker's weak parts sit under the noise, and the full floor takes them. */
#define CA_NS_FLOOR_HOLD_TAU_S 3.0
#define CA_NS_FLOOR_BIAS 8.0
#define CA_NS_FLOOR_GMIN_SHARE 0.75
/* Speech absence in babble (ns.pyx item 4b): a hop whose mean |Y|^2 over the VAD band
 * stands more than ON dB over the pause spectrum's band mean is the talker's, ON = the
 * talker's level L less ABSENT_MARGIN_DB, within ABSENT_ON_LO_DB .. ABSENT_ON_HI_DB (L: the
 * average, ABSENT_LEVEL_TAU_S, of that ratio in dB over the hops above ABSENT_ON_LO_DB);
 * ABSENT_HANG_S after the last such hop the absence weight u rises to 1 with ABSENT_TAU_S
 * (0 again at the next one), and in the babble state (held pause-floor weight >=
 * ONSET_MAX_W) the gain is multiplied by (G_min^ABSENT_DEPTH / G_floor)^u (20 dB under the
 * input at the default 12 dB level, where the babble floor alone leaves 3 dB). */
#define CA_NS_ABSENT_ON_LO_DB 5.0
#define CA_NS_ABSENT_ON_HI_DB 8.0
#define CA_NS_ABSENT_MARGIN_DB 6.0
#define CA_NS_ABSENT_LEVEL_TAU_S 2.0
#define CA_NS_ABSENT_HANG_S 0.15
#define CA_NS_ABSENT_TAU_S 0.05
#define CA_NS_ABSENT_DEPTH (5.0 / 3.0)
/* ... and only while the talker stands under ABSENT_MAX_LEV_DB over the pause spectrum (a
 * babble that loud matters; the babble state engaging on a clean talker 40 dB over its noise
 * must not deepen the floor there). */
#define CA_NS_ABSENT_MAX_LEV_DB 25.0
/* Tonal protection (music, dial and ring tones): a bin whose mean periodogram (time
 * constant TONAL_TAU_S) stands more than TONAL_ON_DB above the mean periodogram on both
 * sides (the minimum over the TONAL_BINS bins left of it, and right of it; 400 Hz, the
 * bin being 50 Hz at every rate) is a tonal peak, as MPEG-1's psychoacoustic model 1
 * tells tonal from noise maskers by a local maximum's margin over its neighbours
 * (ISO/IEC 11172-3, Annex D.1, 1993).  There the tracker's noise PSD falls to that local
 * floor, fully from TONAL_FULL_DB (weight linear in power between), before the pause
 * floor's max.  Air-con blade-pass tones and engine harmonics stand 10-15 dB above their
 * broadband floor, a held tone over a quiet floor 30-40 dB. */
#define CA_NS_TONAL_BINS 8           /* fixed: the minimum is built by doubling (2, 4, 8) */
#define CA_NS_TONAL_ON_DB 20.0
#define CA_NS_TONAL_FULL_DB 25.0
#define CA_NS_TONAL_TAU_S 0.5
#define CA_NS_TONAL_EVERY_S 0.02     /* the weights are updated every 20 ms (4 hops of 5 ms) */
/* The local floor is taken on the noise-like part of the mean periodogram: each bin's
 * Pbar times (1 - C)^2, C the phase coherence of the bin, |mean of u / |u||,
 * u = z_n conj(z_m) (m: the last update), z_n = X_n conj(X_{n-1}) the phase advance over
 * one hop (as a phase vocoder tracks a partial's instantaneous frequency; M. Dolson, "The
 * phase vocoder: a tutorial", Computer Music Journal 10(4), 1986), averaged over
 * TONAL_COH_TAU_S at every update.  A steady sinusoid advances by the same phase every hop
 * (C -> 1, also in the bins its window leaks into), noise by a random one (C ~ 0.2 over
 * 0.3 s): a chord's low partials, two bins apart, no longer fill each other's floor, while
 * a fan's tones keep theirs (their neighbours are noise). */
#define CA_NS_TONAL_COH_TAU_S 0.3
/* Onset hold: a bin whose periodogram, averaged over ONSET_TAU_S (a single noise peak does
 * not count), rises ONSET_DB above the tracker's noise PSD starts a hold of ONSET_HOLD_S,
 * ended early when that average falls below ONSET_OFF_DB over the tracker (the partial
 * has stopped: the tracker must not stay low after it, or the pauses look like speech);
 * while it lasts and the bin's phase coherence exceeds ONSET_COH (a steady partial: a
 * note that started, a voiced talker's harmonic; the hold's share rises linearly in C^2
 * from ONSET_COH_LO to ONSET_COH_HI, a ramp, not a step, so that the float32 kernel and
 * the float64 reference model decide alike), the tracker may fall there but not rise
 * (the talker's harmonics at 5-10 dB over the noise no longer leak into it; in air-con at
 * 10 dB it sat 5-10 dB over the true noise at 200-600 Hz during speech).  Noise tones (a
 * fan's blade-pass, hum) sound from the start and have no onset; noise that rises (a level
 * step) is not coherent.  Off while the pause floor's held weight is >= ONSET_MAX_W (babble:
 * there the coherent onsets are the noise's own talkers). */
#define CA_NS_ONSET_DB 10.0
#define CA_NS_ONSET_HOLD_S 1.5
#define CA_NS_ONSET_COH_LO 0.25
#define CA_NS_ONSET_COH_HI 0.75
#define CA_NS_ONSET_TAU_S 0.02
#define CA_NS_ONSET_OFF_DB 3.0
#define CA_NS_ONSET_MAX_W 0.05
/* Transient (keyboard click) suppression: a hop starts a transient when at least
 * TRANS_FRAC_ON of the bins in TRANS_LO..HI_HZ stand TRANS_ON_DB over their detection
 * reference D (each bin's periodogram tracked down fast, TRANS_DREF_FALL_S, up slowly,
 * TRANS_DREF_RISE_S; not updated during transients) and the band mean e_h stands
 * TRANS_JUMP_DB over its value two hops before (abrupt) and over the band mean of the
 * reference T below; it ends when fewer than
 * TRANS_FRAC_OFF of the bins stand TRANS_OFF_DB over D, and is confirmed a click if that
 * happens within TRANS_MAX_S and, from its end to TRANS_CONFIRM_S after its onset, the
 * 100..TRANS_LO_HZ mean stays under TRANS_OFF_DB over its value before the transient (a
 * plosive's burst is followed by voicing); a transient that lasts TRANS_MAX_S is not a click
 * (no new one starts until fewer than TRANS_FRAC_OFF of the bins stand over D).  During a
 * transient, once e_h has fallen TRANS_RETRIG_DB under the transient's peak, an onset
 * starts a new transient (the next key's click while the last one's decay is still in the
 * analysis window).
 * The confirmed clicks' count, decaying with TRANS_RATE_TAU_S, gives the weight (0 at
 * TRANS_RATE_LO, 1 from TRANS_RATE_HI) with which, during a transient, the gain's noise PSD
 * is lifted to the rise of each bin over its spectrum before (T: TRANS_REF_TAU_S mean, not
 * updated during transients), for the first TRANS_SUPPRESS_S of the transient only (a
 * click has passed the output's last 10 ms by then; a talker's onset taken for one is
 * kept after it).  Where no clicks recur (clean speech, plosives alone) the
 * weight stays 0. */
#define CA_NS_TRANS_LO_HZ 1000.0
#define CA_NS_TRANS_HI_HZ 8000.0
#define CA_NS_TRANS_ON_DB 10.0
#define CA_NS_TRANS_FRAC_ON 0.3
#define CA_NS_TRANS_FRAC_OFF 0.3
#define CA_NS_TRANS_JUMP_DB 4.0
#define CA_NS_TRANS_OFF_DB 6.0
#define CA_NS_TRANS_MAX_S 0.05
#define CA_NS_TRANS_SUPPRESS_S 0.015
#define CA_NS_TRANS_RETRIG_DB 10.0
#define CA_NS_TRANS_CONFIRM_S 0.06
#define CA_NS_TRANS_DREF_FALL_S 0.01
#define CA_NS_TRANS_DREF_RISE_S 0.05
#define CA_NS_TRANS_REF_TAU_S 0.03
#define CA_NS_TRANS_RATE_TAU_S 2.0
#define CA_NS_TRANS_RATE_LO 1.0
#define CA_NS_TRANS_RATE_HI 2.0
/* ... and the gain limits each bin above TRANS_LO_HZ to TRANS_KEEP times its power before
 * the click (not below TRANS_GMIN_DB), to the same weight (below, a voiced onset that comes
 * with a click would be limited too).  Off at 8 kHz: there 1-4 kHz carries most of the
 * talker's cues, and the limit cost 0.02 STOI in keyboard noise at 5 dB. */
#define CA_NS_TRANS_KEEP 4.0
#define CA_NS_TRANS_GMIN_DB -30.0
/* Decision-directed a priori SNR and log-MMSE gain (Ephraim & Malah 1984, 1985). */
/* Time constant of the decision-directed recursion: its factor is exp(-hop / DD_TAU_S),
 * 0.98 at a 5 ms hop (-0.005 / ln 0.98: the value the floors were tuned with), 0.96 at
 * 10 ms; never above DD_ALPHA_MAX (at 2.5 ms hops 0.99 would make the recursion so
 * slow that a 1e-7 change of the input moves a gain by 1e-4). */
#define CA_NS_DD_TAU_S 0.24749158226254556
#define CA_NS_DD_ALPHA_MAX 0.98
#define CA_NS_XI_MIN_DB -25.0
#define CA_NS_XI_MAX 1.0e6
#define CA_NS_GAMMA_MAX 1.0e4        /* a posteriori SNR cap */
/* Speech-presence weighting (Cohen & Berdugo 2001). */
#define CA_NS_SAP_TAU_S 0.022        /* zeta smoothing time constant, s */
#define CA_NS_SAP_LOCAL_HZ 50.0      /* half-width of the local frequency window, Hz */
#define CA_NS_SAP_GLOBAL_HZ 500.0    /* half-width of the global frequency window, Hz */
#define CA_NS_SAP_ZETA_MIN_DB -10.0
#define CA_NS_SAP_ZETA_MAX_DB -5.0
#define CA_NS_SAP_Q_MAX 0.95
#define CA_NS_SPP_MARGIN 5.0         /* presence judged against 5x (7 dB) the noise PSD */
/* Frame speech probability: mean presence probability over a band, through a logistic
 * likelihood ratio into Sohn, Kim & Sung's (1999) HMM recursion. */
#define CA_NS_VAD_THRESHOLD 0.12     /* mean presence where the frame LR is 1 */
#define CA_NS_VAD_THRESHOLD_NB 0.13  /* the same at 8 kHz (half the bins: a noisier mean) */
#define CA_NS_VAD_SLOPE 40.0         /* ln LR per unit of mean presence */
#define CA_NS_VAD_LO_HZ 100.0
#define CA_NS_VAD_HI_HZ 8000.0
#define CA_NS_VAD_A01 0.2            /* P(speech at n | noise at n-1), per 10 ms frame */
#define CA_NS_VAD_A10 0.1            /* P(noise at n | speech at n-1), per 10 ms frame */
#define CA_NS_LOG_ODDS_MAX 30.0
/* Input guard: the core's one clamp limit. */
#include "ca_limits.h"
#define CA_NS_INPUT_LIMIT CA_INPUT_CLAMP

float ca_ns_expf(float x);
float ca_ns_logf(float x);
float ca_ns_exp_half_e1(float v);

/* In place: non-finite -> 0, clip to +-CA_NS_INPUT_LIMIT, |x| < tiny -> 0. */
void ca_ns_sanitize(float *x, long n, float tiny);

/* |X|^2 of the interleaved spectrum (nb bins); values below tiny become 0. */
void ca_ns_power(const float *restrict spec, float *restrict P, int nb, float tiny);

/* One step of the Gerkmann-Hendriks estimator (a priori SNR xi_h1, linear), in place on
 * noise and sppbar, with the
 * onset hold: psm <- a_on psm + (1 - a_on) P (< tiny -> 0); hold[k] <- hold_n where
 * psm > on noise (before the step) and hold[k] is 0, else max(hold[k] - 1, 0), and 0
 * where psm < 10^(ONSET_OFF_DB / 10) noise; where
 * hold[k] > 0 a rise of noise[k] is scaled by 1 - clamp((|coh[k]|^2 - coh2_lo) coh2_inv)
 * (coh interleaved complex; a fall is not). */
void ca_ns_noise_update(const float *restrict P, float *restrict noise,
                        float *restrict sppbar, float *restrict hold,
                        float *restrict psm, const float *restrict coh, int nb,
                        float a_noise, float a_spp, float floor_, float tiny, float on,
                        float a_on, float hold_n, float coh2_lo, float coh2_inv,
                        float xi_h1);

/* Transient suppression (nb bins): active: used <- max(used, w (P - tref)); else tref <-
 * a tref + (1 - a) P (< tiny -> 0). */
void ca_ns_transient(const float *restrict P, float *restrict tref, float *restrict used,
                     int nb, float a, float w, int active, float tiny);

/* The number of bins k in lo..hi-1 with P[k] > thr (dref[k] + floor_). */
int ca_ns_transient_count(const float *restrict P, const float *restrict dref, int lo,
                          int hi, float thr, float floor_);

/* The detection reference: dref <- a dref + (1 - a) P, a = a_fall where P < dref, else
 * a_rise (< tiny -> 0). */
void ca_ns_transient_dref(const float *restrict P, float *restrict dref, int nb,
                          float a_fall, float a_rise, float tiny);

/* The click limit: gain[k] *= (clamp(keep tref / max(P, 1e-30), gmin2, 1))^(w / 2). */
void ca_ns_transient_limit(const float *restrict P, const float *restrict tref,
                           float *restrict gain, int nb, float keep, float gmin2, float w);

/* The pause spectrum: floor <- a floor + (1 - a) P (< tiny -> 0), in place. */
void ca_ns_floor_update(const float *restrict P, float *restrict floor_spec, int nb,
                        float a, float tiny);

/* used <- max(noise - tonal_t (noise - min(noise, tonal_fl)), w floor_spec). */
void ca_ns_noise_used(const float *restrict noise, const float *restrict floor_spec,
                      const float *restrict tonal_t, const float *restrict tonal_fl,
                      float *restrict used, int nb, float w);

/* The tonal weights over bins lo..hi-1 (0 <= lo < hi): pbar <- a_pbar pbar + (1 - a_pbar)
 * P there; tonal_fl <- F, the larger of the minima of pbar (1 - |coh|)^2 (coh: interleaved
 * complex, indexed by bin) over the CA_NS_TONAL_BINS bins left and right of a bin (within
 * lo..hi-1, its edges repeated; >= fl_min); tonal_t <-
 * clamp((pbar / F - t_on) inv_span) with inv_span = 1 / (t_full - t_on).  pad is scratch
 * of hi - lo + 2 CA_NS_TONAL_BINS floats. */
void ca_ns_tonal_update(const float *restrict P, float *restrict pbar,
                        const float *restrict coh, float *restrict tonal_t,
                        float *restrict tonal_fl, float *restrict pad, int lo, int hi,
                        float a_pbar, float t_on, float inv_span, float fl_min);

/* The phase coherence's update over bins lo..hi-1 (interleaved complex arrays of nbins,
 * indexed by bin): z = spec / |spec| conj(xprev) (xprev: the unit phasors stored by
 * ca_ns_phase_store the hop before; 0 where P is 0), coh <- a coh + (1 - a) z conj(zlast)
 * (|values| < tiny -> 0), zlast <- z. */
void ca_ns_coherence(const float *restrict spec, const float *restrict P,
                     const float *restrict xprev, float *restrict zlast,
                     float *restrict coh, int lo, int hi, float a, float tiny);

/* xn <- spec / |spec| over bins lo..hi-1 (0 where P is 0; interleaved, indexed by bin). */
void ca_ns_phase_store(const float *restrict spec, const float *restrict P,
                       float *restrict xn, int lo, int hi);

/* zeta <- a zeta + (1 - a) xi_prev; odds <- q / (1 - q) from the local and global
 * Hann-smoothed zeta (weights wloc[2 hloc + 1], wglob[2 hglob + 1], edges repeated).
 * zloc is scratch of 2 nb + 2 max(hloc, hglob) floats. */
void ca_ns_absence_odds(float *restrict zeta, const float *restrict xi_prev,
                        float *restrict zloc, float *restrict odds, int nb,
                        float a_zeta, const float *restrict wloc, int hloc,
                        const float *restrict wglob, int hglob);

/* Decision-directed log-MMSE gain with presence weighting.  On entry gain holds the
 * previous hop's gain; on exit this hop's.  Updates pprev (<- P) and xi_out; overwrites
 * odds with the speech-presence probability p of each bin. */
void ca_ns_gain(const float *restrict P, const float *restrict noise,
                float *restrict pprev, float *restrict gain, float *restrict xi_out,
                float *restrict odds, int nb, float gmin, float log_gmin, float dd);

/* spec[k] *= gain[k] (interleaved complex); returns (sum |spec|^2 after, before) in
 * sums[0], sums[1] (double accumulation). */
void ca_ns_apply(float *restrict spec, const float *restrict gain, int nb,
                 double *restrict sums);

/* Mean of x[lo..hi-1] (double accumulation in four lanes). */
double ca_ns_mean(const float *restrict x, int lo, int hi);

/* Mean of log(x[k] + 1e-30) over lo..hi-1 (eight float partial sums, added in double). */
double ca_ns_log_mean(const float *restrict x, int lo, int hi);
/* The smallest of x[0..n) (n >= 1; x holds no NaN), in four lanes that vectorise. */
double ca_ns_min(const double *restrict x, int n);

/* 1 when every x[0..n-1] is finite, else 0. */
int ca_ns_finite(const float *restrict x, int n);

/* Linked channels: acc (nb) = (first) or += |spec|^2 per bin; 0 (acc untouched) when the
 * spectrum (2 nb floats, interleaved) is not finite, else 1. */
int ca_ns_power_acc(const float *restrict spec, float *restrict acc, int nb, int first);

#endif
