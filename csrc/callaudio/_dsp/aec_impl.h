/* Hot loops of the echo canceller (aec_impl.c, aec_filter_impl.c, aec_delay_impl.c,
 * aec_suppressor_impl.c: one per module), in plain C so the compiler can vectorise them: restrict-qualified float32 arrays, no Python objects, no allocation.
 * Complex spectra are interleaved (re, im) over k bins (numpy.fft.rfft layout). */
#ifndef CA_AEC_IMPL_H
#define CA_AEC_IMPL_H

/* acc[i] += a[i] * b[i] (complex), and pacc[i] += ps[i] * x2[i] (real), i < k. */
void ca_aec_filter_acc(int k, float *restrict acc, float *restrict pacc,
                       const float *restrict w, const float *restrict x,
                       const float *restrict ps, const float *restrict x2);

/* acc[i] += w[i] * x[i] (complex), i < k: ca_aec_filter_acc without the PX sum. */
void ca_aec_filter_acc_y(int k, float *restrict acc, const float *restrict w,
                         const float *restrict x);

/* Kalman step of one partition: mu = psi * inv; w += mu conj(x) e;
 * psi = (1 - q) psi max(1 - 0.5 mu |x|^2, floor) + q (|w|^2 + spread (|w_prev|^2 +
 * |w_next|^2) + floor_psi), with the random-walk factor q = q[i] per bin.  pw (k floats) holds |w_prev|^2 of the previous partition (already
 * updated this frame) on entry when has_prev, and this partition's new |w|^2 on return; w_next
 * (not yet updated) is NULL for the last partition. */
void ca_aec_kalman(int k, float *restrict w, float *restrict psi,
                   const float *restrict x, const float *restrict x2,
                   const float *restrict e, const float *restrict inv, float floor_,
                   float *restrict pw, int has_prev, const float *restrict w_next,
                   const float *restrict q, float spread, float floor_psi);

/* Mic/echo-estimate coherence per bin (aec.pyx, _random_walk): the smoothed cross- and
 * auto-spectra cdy += (1 - a) (d conj(y) - cdy), cyy, cdd likewise (d, y: k complex bins). */
void ca_aec_coherence_acc(int k, float a, float *restrict cdy, float *restrict cyy,
                          float *restrict cdd, const float *restrict d,
                          const float *restrict y);

/* q[i] = q0 (1 - x + x clip((|cdy|^2 / (cyy cdd) - lo) / (hi - lo), 0, 1)): the random
 * walk per bin, the coherence's share weighted by x (0..1). */
void ca_aec_coherence_q(int k, float *restrict q, const float *restrict cdy,
                        const float *restrict cyy, const float *restrict cdd, float q0,
                        float lo, float hi, float x);

/* (the suppressor's gain kernels are declared in aec_suppressor.h) */

/* out += sqrt(nf (1 - g^2) / 2) (+-1 +-j), signs from xorshift32; amp (k floats) is scratch;
 * returns the new state. */
unsigned int ca_aec_comfort_noise(int k, float *restrict out, const float *restrict nf,
                                  const float *restrict g, float *restrict amp,
                                  unsigned int state);

/* amp = sqrt(nf (1 - g^2) / 2), the comfort noise's amplitude (as ca_aec_comfort_noise's). */
void ca_aec_comfort_amp(int k, float *restrict amp, const float *restrict nf,
                        const float *restrict g);

/* The same with the amplitudes given (amp, k floats): out += amp (+-1 +-j), one xorshift32
 * step per bin (the draws of ca_aec_comfort_noise). */
unsigned int ca_aec_comfort_signs(int k, float *restrict out, const float *restrict amp,
                                  unsigned int state);

/* out <- out g (ca_aec_scale_spectrum), then ca_aec_comfort_signs with the signs of 16
 * bins from one xorshift32 step (amp >= 0; linked channels: one generator per channel). */
unsigned int ca_aec_scale_signs16(int k, float *restrict out, const float *restrict g,
                                  const float *restrict amp, unsigned int state);

/* The state after k bins' signs without drawing them: col (32 words) <- the table for k,
 * then ca_aec_comfort_jump(col, state). */
void ca_aec_comfort_jump_table(int k, unsigned int *col);
unsigned int ca_aec_comfort_jump(const unsigned int *col, unsigned int state);

/* Sanitise one frame pair: non-finite samples -> 0, then clamp to +-clamp; far in place,
 * mic -> mic_out.  Returns 1 when any input sample was non-finite. */
int ca_aec_sanitize(int n, float *restrict far, const float *restrict mic,
                    float *restrict mic_out, float clamp);

/* x2[i] = |x[i]|^2, i < k. */
void ca_aec_power(int k, float *restrict x2, const float *restrict x);

/* sum of x[i]^2 (float products, double sum), i < n. */
double ca_aec_sumsq(int n, const float *restrict x);

/* sum of |w[i]|^2 (float products, double sum) over k complex bins. */
double ca_aec_cpower_sum(int k, const float *restrict w);

/* y = t[0:n]; e = mic - y. */
void ca_aec_error(int n, float *restrict y, float *restrict e, const float *restrict t,
                  const float *restrict mic);

/* Kalman gain denominator (double arithmetic): phi = lambda phi + (1 - lambda) |e|^2 + tiny;
 * inv = 1 / (0.5 px + phi + delta). */
void ca_aec_gain_inv(int k, float *restrict phi, float *restrict inv, const float *restrict e,
                     const float *restrict px, double lambda, double delta, double tiny);

/* Suppressor spectra (double arithmetic): espec = dspec - yspec; smoothed powers ebar, ybar
 * (0.95); syy_out = |Y|^2, see_out = |E|^2; sums = (sum |Y|^2, sum |E|^2,
 * sum (|E|^2 - ebar)(|Y|^2 - ybar), sum (|Y|^2 - ybar)^2). */
void ca_aec_residual_spectra(int k, float *restrict espec, float *restrict ebar,
                             float *restrict ybar, float *restrict syy_out,
                             float *restrict see_out, const float *restrict yspec,
                             const float *restrict dspec, double tiny, double *restrict sums);

/* Gradient constraint on a 2n-sample impulse response t: *peak = max |t[0:n]| (NaN when a
 * sample is non-finite), t[n:2n] = 0; returns the first index of the peak. */
int ca_aec_peak_and_zero(int n, float *restrict t, float *peak);

/* Overlap-add synthesis: t *= ws; t[0:n] += ola[n:2n]; ola = t; out = t[n-lat : 2n-lat]. */
void ca_aec_synthesis(int n, int lat, float *restrict out, float *restrict t,
                      float *restrict ola, const float *restrict ws);

/* Delay estimator, all lags lg < L: features h = ffr[(slot - lg) mod H] (nb each) with
 * energies ffe[(slot - lg) mod H] = h.h; C[lg] = a C[lg] + h.fm, F[lg] = a F[lg] + h.h
 * (|.| < tiny -> 0); over lg < valid the normalised correlation rho = C / sqrt(F M + 1e-12).
 * Returns the first lag of the largest rho (*rbest_out, -2 when none) and writes rho at lag
 * `lag` to *rlag_out (-2 when none). */
int ca_aec_delay_corr(int L, int H, int slot, int nb, const float *restrict ffr,
                      const double *restrict ffe, const double *restrict fm, double a, double M,
                      double *restrict C, double *restrict F, int valid, int lag, double tiny,
                      double *restrict rbest_out, double *restrict rlag_out);

/* Linked capture channels' per-bin sums (aec.pyx, suppress_linked_c): mode 0 (the first
 * channel): lpx = px and the tail partitions' powers lwl/lwm (real lanes) = |wl|^2, |wm|^2;
 * mode 1: lpx += px, lwl/lwm += |wl|^2, |wm|^2, see += ose, syy += osy; mode 2 (the last
 * channel): those sums and their means (ca_aec_link_mean with inv) in one pass. */
void ca_aec_link_acc(int k, int mode, float inv, float *restrict lpx, float *restrict lwl,
                     float *restrict lwm, float *restrict see, float *restrict syy,
                     const float *restrict px, const float *restrict wl,
                     const float *restrict wm, const float *restrict ose,
                     const float *restrict osy);

/* ... and their means over the channels (inv = 1 / channels): see, syy, lpx scaled; lwl,
 * lwm = (sqrt(mean power), 0), the magnitudes of the mean powers. */
void ca_aec_link_mean(int k, float inv, float *restrict see, float *restrict syy,
                      float *restrict lpx, float *restrict lwl, float *restrict lwm);

/* Clock-drift tracker (aec.pyx, _drift): c += w conj(wold) over k bins (complex,
 * interleaved); the delay change per frame (samples) the rotation of c shows, least squares
 * over bins 1 .. k-2 weighted by |c| (0 when c is empty); the phasors exp(-j pi i theta / n)
 * of bins i < k (a delay of theta samples, |theta| <= 0.15); P partitions of k bins rotated
 * by them. */
void ca_aec_drift_acc(int k, float *restrict c, const float *restrict w,
                      const float *restrict wold, const float *restrict cdy,
                      const float *restrict cyy, const float *restrict cdd);
double ca_aec_drift_delta(int k, int n, const float *restrict c);
void ca_aec_phasor(int k, float *restrict ph, int n, double theta);
void ca_aec_rotate(int k, int P, float *restrict w, const float *restrict ph);

#endif
