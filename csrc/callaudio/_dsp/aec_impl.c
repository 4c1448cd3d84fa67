/* Hot loops of the echo canceller; see aec_impl.h and aec.pyx (the algorithm, papers). */
#include <math.h>
#include <stddef.h>
#include "aec_impl.h"

/* Portable wheels are built without -march; on x86-64 GCC/Clang emit an AVX2 clone of each
 * loop next to the baseline one and pick it at load time (function multiversioning). */
#if defined(__has_attribute)
#if __has_attribute(target_clones) && (defined(__x86_64__) || defined(_M_X64)) && !defined(__clang__)
#define CA_MULTIVERSION __attribute__((target_clones("avx2", "default")))
#endif
#endif
#ifndef CA_MULTIVERSION
#define CA_MULTIVERSION
#endif

CA_MULTIVERSION void ca_aec_filter_acc(int k, float *restrict acc, float *restrict pacc,
                       const float *restrict w, const float *restrict x,
                       const float *restrict ps, const float *restrict x2)
{
    for (int i = 0; i < k; i++) {
        float wr = w[2 * i], wi = w[2 * i + 1], xr = x[2 * i], xi = x[2 * i + 1];
        acc[2 * i] += wr * xr - wi * xi;
        acc[2 * i + 1] += wr * xi + wi * xr;
    }
    for (int i = 0; i < k; i++)
        pacc[i] += ps[i] * x2[i];
}

CA_MULTIVERSION void ca_aec_kalman(int k, float *restrict w, float *restrict psi,
                   const float *restrict x, const float *restrict x2,
                   const float *restrict e, const float *restrict inv, float floor_,
                   const float *w_prev, const float *w_next, float q, float spread, float floor_psi)
{
    for (int i = 0; i < k; i++) {
        /* measurement update */
        float mu = psi[i] * inv[i];
        float xr = x[2 * i], xi = x[2 * i + 1], er = e[2 * i], ei = e[2 * i + 1];
        float wr = w[2 * i] + mu * (xr * er + xi * ei);
        float wi = w[2 * i + 1] + mu * (xr * ei - xi * er);
        w[2 * i] = wr;
        w[2 * i + 1] = wi;
        float s = 1.0f - 0.5f * mu * x2[i];
        float p = psi[i] * ((s < floor_) ? floor_ : s);
        /* time update: random walk with this and the neighbouring partitions' power */
        float nb = 0.0f;
        if (w_prev != NULL)
            nb += w_prev[2 * i] * w_prev[2 * i] + w_prev[2 * i + 1] * w_prev[2 * i + 1];
        if (w_next != NULL)
            nb += w_next[2 * i] * w_next[2 * i] + w_next[2 * i + 1] * w_next[2 * i + 1];
        psi[i] = (1.0f - q) * p + q * (wr * wr + wi * wi + spread * nb + floor_psi);
    }
}

CA_MULTIVERSION void ca_aec_gain(int k, float *restrict rrev, float *restrict see_s,
                 float *restrict rs, float *restrict g, float *restrict nf,
                 float *restrict out, const float *restrict wl, const float *restrict x2b,
                 const float *restrict syy, const float *restrict px,
                 const float *restrict see, const float *restrict e,
                 float gamma, float leak, float kres, float supp, float gmin, float tiny)
{
    for (int i = 0; i < k; i++) {
        float wl2 = wl[2 * i] * wl[2 * i] + wl[2 * i + 1] * wl[2 * i + 1];
        float rv = gamma * (rrev[i] + 0.5f * wl2 * x2b[i]);
        rv = (rv < tiny) ? 0.0f : rv;
        rrev[i] = rv;
        float r = leak * syy[i];
        float a = kres * px[i];
        r = ((a > r) ? a : r) + rv;
        float ss = 0.5f * see_s[i] + 0.5f * see[i] + tiny;
        float rr = 0.5f * rs[i] + 0.5f * r + tiny;
        see_s[i] = ss;
        rs[i] = rr;
        float gi = 1.0f - supp * rr / (ss + 1e-20f);
        gi = (gi < gmin) ? gmin : ((gi > 1.0f) ? 1.0f : gi);
        g[i] = gi;
        float up = nf[i] * 1.002f + tiny, down = 0.8f * nf[i] + 0.2f * see[i] + tiny;
        nf[i] = (see[i] > nf[i]) ? up : down;
        out[2 * i] = gi * e[2 * i];
        out[2 * i + 1] = gi * e[2 * i + 1];
    }
}

unsigned int ca_aec_comfort_noise(int k, float *restrict out, const float *restrict nf,
                                  const float *restrict g, unsigned int state)
{
    for (int i = 0; i < k; i++) {
        float amp = sqrtf(nf[i] * (1.0f - g[i] * g[i]) * 0.5f);
        state ^= state << 13;      /* xorshift32 (Marsaglia 2003) */
        state ^= state >> 17;
        state ^= state << 5;
        out[2 * i] += (state & 1u) ? amp : -amp;
        out[2 * i + 1] += (state & 2u) ? amp : -amp;
    }
    return state;
}
