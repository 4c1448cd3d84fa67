/* Design constants of the echo canceller (aec.pyx; the papers and units are there).
 *
 * The one place they are written: aec.pyx reads them through `cdef extern from
 * "aec_constants.h"`, and the NumPy reference (tests/_reference/aec_ref.py) parses this
 * file, so the two cannot drift apart.  Format, one per line:
 *     #define AEC_<NAME> <number>  / * comment * /
 */
#ifndef CA_AEC_CONSTANTS_H
#define CA_AEC_CONSTANTS_H

#define AEC_HEADROOM 2  /* partitions kept before the coarse delay */
#define AEC_FIFO_FRAMES 50  /* render frames buffered ahead of capture (500 ms) */
#define AEC_NB 16  /* delay-estimator bands (log-spaced, bins 4..84 = 200..4200 Hz) */
#define AEC_DE_TAU 150.0  /* correlation memory, frames (1.5 s) */
#define AEC_DE_RHO_MIN 0.25  /* minimum normalised correlation to accept a lag */
#define AEC_DE_CONFIRM 4  /* frames the first lag must stay the best */
#define AEC_DE_CONFIRM_CHANGE 25  /* frames a changed lag must stay the best */
#define AEC_DE_MARGIN 0.1  /* correlation margin of a changed lag over the current one */
#define AEC_DE_JUMP_ERLE 6.0  /* lag jumps only while the linear ERLE is below (dB) */
#define AEC_DE_RHO_JUMP 0.5  /* normalised correlation a changed lag needs */
#define AEC_DE_WEAK_FRAMES 50  /* the prior is weakened only when its memory is longer (frames) */
#define AEC_DE_MARGIN_FAST 0.3  /* margin that replaces a provisional lag before it is proven */
#define AEC_DE_RELOCK_FRAMES 100  /* frames after a confirmed echo-path change a lag counts as proven-held */
#define AEC_DE_FORGET 0.01  /* correlation memory kept after a confirmed echo-path change */
#define AEC_DE_PROVE_FRAMES 40  /* frames a provisional lag is kept before a better one replaces it */
#define AEC_DT_RATIO 4.0  /* mic power over the echo the far end explains: near talk */
#define AEC_DT_HANG 10  /* frames the near-talk decision holds (100 ms) */
#define AEC_DT_RHO 0.5  /* error/echo-estimate correlation below which excess is a talker */
#define AEC_DT_NEAR 0.5  /* suppressor's near-end presence above which the random walk may stop */
#define AEC_DT_LEAK 0.03  /* ... behind a filter whose leakage is below (not a saturating speaker) */
#define AEC_DT_RHO_FREEZE 0.2  /* ... while |error/echo-estimate correlation| is below */
#define AEC_DT_PERSIST 6  /* ... once that held this many far-active frames in a row */
#define AEC_COH_SMOOTH 0.7  /* mic/echo-estimate cross- and auto-spectra smoothing per frame */
#define AEC_COH_LO 0.6  /* coherence at or below which a bin's random walk stops in a talker */
#define AEC_COH_HI 0.95  /* coherence at or above which it runs at the full rate */
#define AEC_COH_LEAK 0.02  /* ... only behind a filter whose leakage is below (not saturating) */
#define AEC_DT_MU_LO 0.0  /* suppressor's near-end presence above which the Kalman step shrinks */
#define AEC_DT_MU_HI 0.3  /* ... where it is shrunk fully and the random walk stops */
#define AEC_DT_MU_HOLD 0.7  /* per-frame decay of the presence the Kalman step reads (its own hold) */
#define AEC_DT_MU_CALM 10  /* frames after an echo-path change or an error louder than the mic before it shrinks */
#define AEC_DT_MU_CUT 0.5  /* share of the Kalman step taken off at full presence */
#define AEC_DT_MU_QUIET 0.1  /* presence below which the leakage the control reads is latched */
#define AEC_DT_MU_LEAK 0.2  /* leakage above which the control is off whatever the latched one */
#define AEC_DT_MU_AGE 100  /* frames of presence the latched leakage is trusted; then the current one */
#define AEC_ANCHOR_ERLE 10.0  /* linear ERLE (dB) above which the peak re-anchors */
#define AEC_ANCHOR_DOM 2.0  /* re-anchoring peak over any other partition's */
#define AEC_ANCHOR_FRAMES 50  /* frames the peak must stay off-centre before re-anchoring */
#define AEC_KF_Q 3e-2  /* random-walk factor 1 - A^2 per frame */
#define AEC_KF_SPREAD 1.0  /* neighbours' power share in the process noise */
#define AEC_KF_PSI0 0.25  /* initial state-error variance (per partition and bin) */
#define AEC_KF_PSIMIN 0.1  /* random-walk power floor, x the prior (keeps it learning) */
#define AEC_KF_DECAY 0.7  /* prior decay of the state-error variance per partition */
#define AEC_KF_LAMBDA 0.5  /* observation-noise PSD smoothing */
#define AEC_KF_SHRINK 0.3  /* largest relative decrease of the state-error variance per frame */
#define AEC_KF_REG 1e-3  /* relative gain regularisation (x far power per bin) */
#define AEC_KF_DELTA 1e-10  /* gain regularisation: power per sample of a -100 dBFS floor */
#define AEC_KAL_RES 1.0  /* weight of the Kalman state error in the residual echo */
#define AEC_LEAK_BETA0 0.05  /* leakage estimator adaptation rate */
#define AEC_DIV_ALPHA 0.7  /* short-term power smoothing of the divergence test */
#define AEC_DIV_RATIO 1.0  /* error/mic power ratio that signals an echo-path change */
#define AEC_DIV_FRAMES 2  /* consecutive far-active frames above the ratio */
#define AEC_TP_SMOOTH1 0.6  /* two-path: fast smoothing of the error-power difference */
#define AEC_TP_SMOOTH2 0.85  /* two-path: slow smoothing of the error-power difference */
#define AEC_TP_UPDATE1 0.5  /* two-path: fast-average significance that copies the adaptive filter */
#define AEC_TP_UPDATE2 0.25  /* two-path: slow-average significance that copies the adaptive filter */
#define AEC_TP_BACK 4.0  /* two-path: significance that restores the adaptive filter from the copy */
#define AEC_TP_FLOOR 1e-10  /* two-path: difference-power floor per sample (-100 dBFS) */
#define AEC_TP_KEEP 0.25  /* the filter is copied only in a frame it removes >= 6 dB of the mic */
#define AEC_DIV_FG 0.8  /* the kept copy's error below 0.8 x the mic's power: the path did not change */
#define AEC_DIV_FG_ADD 2.0  /* the kept copy's error above 2 x the mic's power: it adds echo, the path changed */
#define AEC_DIV_FG_FRAMES 4  /* consecutive far-active frames of that without near talk */
#define AEC_DIV_SE 0.5  /* ... while the adaptive filter's error is above 0.5 x the mic's (it removes < 3 dB) */
#define AEC_DR_GAIN 0.5  /* clock-drift tracker: largest share of the filter's remaining rotation taken per estimate (its Kalman gain's cap) */
#define AEC_DR_EVAL 16  /* ... frames between its estimates (atan2 per bin) */
#define AEC_DR_SD_PRIOR 100.0  /* ... the drift's standard deviation before any estimate (ppm) */
#define AEC_DR_SD_MEAS 30.0  /* ... one estimate's (ppm) */
#define AEC_DR_SD_WALK 3.0  /* ... the drift's change per estimate (ppm) */
#define AEC_DR_GATE 3.0  /* ... estimates beyond this many standard deviations are skipped */
#define AEC_DR_MAX 200.0  /* ... largest drift it applies (ppm) */
#define AEC_DR_STEP 0.05  /* ... pending rotation (samples) applied at once */
#define AEC_STAT_ALPHA 0.95  /* statistics smoothing per far-active frame */
#define AEC_FAR_ACTIVE 1e-7  /* far frame mean square above which the far end is active */
#define AEC_ECHO_ONLY_RATIO 0.0316  /* error/mic power (-15 dB): far-active frame = echo only */
#define AEC_ECHO_HANG 20  /* frames (200 ms) the far end counts as talking after it stops */
#define AEC_TINY 1e-25  /* denormal guard added to recursive powers */

#endif
