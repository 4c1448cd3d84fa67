/* The residual-echo suppressor's design constants and kernels (aec_suppressor.pyx; the
 * papers and units are there).  The NumPy reference (tests/_reference/aec_ref.py) parses
 * the constants, one per line:  #define AEC_SUP_<NAME> <number>  / * comment * /
 * Complex spectra are interleaved (re, im) over k bins. */
#ifndef CA_AEC_SUPPRESSOR_H
#define CA_AEC_SUPPRESSOR_H

#define AEC_SUP_NL_BETA 0.02  /* nonlinear coupling regression rate per frame (~0.5 s) */
#define AEC_SUP_NL_SMOOTH 0.95  /* running means of the regression (per frame) */
#define AEC_SUP_NL_WEIGHT 8.0  /* weight of the nonlinear echo in the residual echo */
#define AEC_SUP_NL_GATE 0.5  /* the coupling learns only while the near-end presence is below */
#define AEC_SUP_ECHO_DB -8.0  /* error/residual echo (dB) at or below which a frame is echo only */
#define AEC_SUP_NEAR_DB -4.0  /* ... at or above which a near-end talker is present */
#define AEC_SUP_OVER_ECHO 2.0  /* over-subtraction in an echo-only frame (x suppression) */
#define AEC_SUP_OVER_NEAR 0.2  /* over-subtraction with a near-end talker (x suppression) */
#define AEC_SUP_NEAR_HOLD 0.9  /* per-frame decay of the near-end presence (hold) */
#define AEC_SUP_NEAR_LEAK 0.1  /* leakage (~1/linear ERLE) at which a talker gets full subtraction */
#define AEC_SUP_OVER_ERLE 0.5  /* over-subtraction of the ERLE-based estimate with a talker */
#define AEC_SUP_ERLE_HOLD 100  /* frames after a lag change without the ERLE-based estimate */
#define AEC_SUP_ERLE_RATE 0.05  /* per-frame rate of the per-bin error and echo means (~0.2 s) */
#define AEC_SUP_ERLE_GATE 0.05  /* ... which learn only while the near-end presence is below */
#define AEC_SUP_ERLE_MIN 1e-4  /* smallest learnt error/echo ratio (40 dB linear ERLE) */
#define AEC_SUP_ERLE_FRAMES 10  /* echo-only frames before the learnt ratio replaces 1 */
#define AEC_SUP_ERLE_OVER 2.0  /* weight of the learnt-ratio bound in the residual echo */
#define AEC_SUP_ERLE_CAP 4.0  /* largest learnt error/echo ratio in that bound (-6 dB ERLE) */
#define AEC_SUP_JUMP_FRAMES 50  /* a lag change this soon after an error louder than the mic */
#define AEC_SUP_JUMP_LOUDER 1.25  /* ... by this power ratio (not the equal powers of y = 0) */
#define AEC_SUP_OVER_JUMP 2.0  /* ... holds this over-subtraction with a talker (x suppression) */
#define AEC_SUP_KEEP_FLOOR 0.15  /* the talker's gain floor (-16.5 dB) in a bin the near end holds */
#define AEC_SUP_KEEP_NEAR 0.8  /* presence x_n above which a talker sets the floor's context */
#define AEC_SUP_KEEP_DECAY 0.967  /* per-frame decay of that context (~0.3 s) */
#define AEC_SUP_KEEP_RATIO 6.0  /* error/R_near power ratio at which a bin gets the whole floor */
#define AEC_SUP_KEEP_COH_LO 0.7  /* mic/echo-estimate coherence at or below which it does */
#define AEC_SUP_KEEP_COH_HI 0.95  /* ... at or above which it gets none (the echo dominates) */

/* Linear residual echo per bin: rrev = gamma (rrev + 0.5 |wl|^2 x2b) (0 below tiny);
 * rlin = max(leak syy, kres px) + rrev. */
void ca_aec_residual_lin(int k, float *restrict rrev, float *restrict rlin,
                         const float *restrict wl, const float *restrict x2b,
                         const float *restrict syy, const float *restrict px, float gamma,
                         float leak, float kres, float tiny);

/* Nonlinear coupling regression per bin: t = max(see - rlin, 0); eb = s eb + (1 - s) t;
 * when learn, pez = (1 - b) pez + b (t - eb) dz. */
void ca_aec_nl_regress(int k, float *restrict eb, float *restrict pez,
                       const float *restrict see, const float *restrict rlin, float dz,
                       float s, float b, int learn, float tiny);

/* The echo the filter leaves where it models little (saturation harmonics, a drifting path
 * at high frequencies): rlin = max(rlin, over clip(aee / ayy, lmin, cap) syy + rrev). */
void ca_aec_residual_bound(int k, float *restrict rlin, const float *restrict aee,
                          const float *restrict ayy, const float *restrict syy,
                          const float *restrict rrev, float over, float lmin, float cap);

/* Residual echo r = max(rlin, nlc max(pez, 0)); smoothed (1/2) see_s, rs and the leakage
 * term ls of leak syy; sums = (sum see_s, sum rs). */
void ca_aec_residual(int k, float *restrict see_s, float *restrict rs, float *restrict ls,
                     const float *restrict rlin, const float *restrict see,
                     const float *restrict syy, const float *restrict pez, float leak,
                     float nlc, float tiny, double *restrict sums);

/* Residual echo behind a talker from the per-bin linear ERLE: when learn, aee/ayy move by a
 * towards see/syy; l = use ? clip(aee / ayy, lmin, 1) : 1; re = max(l syy + rrev,
 * nlc max(pez, 0)) smoothed (1/2) into res; ruse = rs^(1-w) res^w. */
void ca_aec_residual_near(int k, float *restrict aee, float *restrict ayy, float *restrict res,
                          float *restrict ruse, const float *restrict see,
                          const float *restrict syy, const float *restrict rrev,
                          const float *restrict pez, const float *restrict rs, float a,
                          int learn, int use, float nlc, float w, float lmin, float tiny);

/* Gain g = clip(1 - max(supp r, lsw ls) / see_s, gmin, 1), then g = max(g, kf) (the
 * talker's floor); noise floor nf (slow up, fast down); out = g e (complex). */
void ca_aec_apply_gain(int k, float *restrict g, float *restrict nf, float *restrict out,
                       const float *restrict see_s, const float *restrict r,
                       const float *restrict ls, const float *restrict see,
                       const float *restrict e, const float *restrict kf, float supp,
                       float lsw, float gmin, float tiny);

/* The same without the spectrum: g and nf only. */
void ca_aec_gain_floor(int k, float *restrict g, float *restrict nf, const float *restrict see_s,
                       const float *restrict r, const float *restrict ls,
                       const float *restrict see, const float *restrict kf, float supp,
                       float lsw, float gmin, float tiny);

/* The talker's floor kf = keep clip((see_s / res - 1) kslope, 0, 1)
 * clip((chi - C) / (chi - clo), 0, 1), C = |cdy|^2 / (cyy cdd) (cdy complex). */
void ca_aec_keep_floor(int k, float *restrict kf, const float *restrict see_s,
                       const float *restrict res, const float *restrict cdy,
                       const float *restrict cyy, const float *restrict cdd, float keep,
                       float kslope, float clo, float chi);

#endif
