/* Hot loops of the echo canceller (aec.pyx), in plain C so the compiler can vectorise them:
 * restrict-qualified float32 arrays, no Python objects, no allocation.
 * Complex spectra are interleaved (re, im) over k bins (numpy.fft.rfft layout). */
#ifndef CA_AEC_IMPL_H
#define CA_AEC_IMPL_H

/* acc[i] += a[i] * b[i] (complex), and pacc[i] += ps[i] * x2[i] (real), i < k. */
void ca_aec_filter_acc(int k, float *restrict acc, float *restrict pacc,
                       const float *restrict w, const float *restrict x,
                       const float *restrict ps, const float *restrict x2);

/* Kalman step of one partition: mu = psi * inv; w += mu conj(x) e;
 * psi = (1 - q) psi max(1 - 0.5 mu |x|^2, floor) + q (|w|^2 + spread (|w_prev|^2 +
 * |w_next|^2) + floor_psi).  w_prev (already updated this frame) / w_next (not yet) may be NULL
 * for the first / last partition. */
void ca_aec_kalman(int k, float *restrict w, float *restrict psi,
                   const float *restrict x, const float *restrict x2,
                   const float *restrict e, const float *restrict inv, float floor_,
                   const float *w_prev, const float *w_next, float q, float spread, float floor_psi);

/* Suppressor gain per bin: reverberation tail rrev = gamma (rrev + 0.5 |wl|^2 x2b);
 * residual echo r = max(leak syy, kres px) + rrev; smoothed see_s, rs; gain
 * g = clip(1 - supp rs / see_s, gmin, 1); noise floor nf (slow up, fast down);
 * out = g e (complex). */
void ca_aec_gain(int k, float *restrict rrev, float *restrict see_s,
                 float *restrict rs, float *restrict g, float *restrict nf,
                 float *restrict out, const float *restrict wl, const float *restrict x2b,
                 const float *restrict syy, const float *restrict px,
                 const float *restrict see, const float *restrict e,
                 float gamma, float leak, float kres, float supp, float gmin, float tiny);

/* out += sqrt(nf (1 - g^2) / 2) (+-1 +-j), signs from xorshift32; returns the new state. */
unsigned int ca_aec_comfort_noise(int k, float *restrict out, const float *restrict nf,
                                  const float *restrict g, unsigned int state);

#endif
