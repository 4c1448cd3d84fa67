/* Hot loops of the echo canceller's residual-echo suppressor (aec_suppressor.pyx); the
 * declarations are in aec_impl.h and aec_suppressor.h. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "aec_impl.h"
#include "aec_suppressor.h"
#include "ca_multiversion.h"

CA_MULTIVERSION void ca_aec_residual_lin(int k, float *restrict rrev, float *restrict rlin,
                                         const float *restrict wl, const float *restrict x2b,
                                         const float *restrict syy, const float *restrict px,
                                         float gamma, float leak, float kres, float tiny)
{
    const ptrdiff_t m = k;
    for (ptrdiff_t i = 0; i < m; i++) {
        float wl2 = wl[2 * i] * wl[2 * i] + wl[2 * i + 1] * wl[2 * i + 1];
        float rv = gamma * (rrev[i] + 0.5f * wl2 * x2b[i]);
        rv = (rv < tiny) ? 0.0f : rv;
        rrev[i] = rv;
        float r = leak * syy[i];
        float a = kres * px[i];
        rlin[i] = ((a > r) ? a : r) + rv;
    }
}

CA_MULTIVERSION void ca_aec_nl_regress(int k, float *restrict eb, float *restrict pez,
                                       const float *restrict see, const float *restrict rlin,
                                       float dz, float s, float b, int learn, float tiny)
{
    const ptrdiff_t m = k;
    for (ptrdiff_t i = 0; i < m; i++) {
        float t = see[i] - rlin[i];
        t = (t > 0.0f) ? t : 0.0f;
        float e = s * eb[i] + (1.0f - s) * t + tiny;
        eb[i] = e;
        if (learn)
            pez[i] = (1.0f - b) * pez[i] + b * (t - e) * dz;
    }
}

CA_MULTIVERSION void ca_aec_residual_bound(int k, float *restrict rlin,
                                           const float *restrict aee,
                                           const float *restrict ayy,
                                           const float *restrict syy,
                                           const float *restrict rrev, float over, float lmin,
                                           float cap)
{
    const ptrdiff_t m = k;
    for (ptrdiff_t i = 0; i < m; i++) {
        float l = aee[i] / (ayy[i] + 1e-30f);
        l = (l < lmin) ? lmin : ((l > cap) ? cap : l);
        float b = over * l * syy[i] + rrev[i];
        rlin[i] = (b > rlin[i]) ? b : rlin[i];
    }
}

CA_MULTIVERSION void ca_aec_residual(int k, float *restrict see_s, float *restrict rs,
                                     float *restrict ls, const float *restrict rlin,
                                     const float *restrict see, const float *restrict syy,
                                     const float *restrict pez, float leak, float nlc,
                                     float tiny, double *restrict sums)
{
    const ptrdiff_t m = k;
    double ss_sum = 0.0, rs_sum = 0.0;
    for (ptrdiff_t i = 0; i < m; i++) {
        float r = rlin[i];
        float nl = nlc * ((pez[i] > 0.0f) ? pez[i] : 0.0f);
        r = (nl > r) ? nl : r;
        float ss = 0.5f * see_s[i] + 0.5f * see[i] + tiny;
        float rr = 0.5f * rs[i] + 0.5f * r + tiny;
        see_s[i] = ss;
        rs[i] = rr;
        ls[i] = 0.5f * ls[i] + 0.5f * leak * syy[i] + tiny;
        ss_sum += (double)ss;
        rs_sum += (double)rr;
    }
    sums[0] = ss_sum;
    sums[1] = rs_sum;
}

CA_MULTIVERSION void ca_aec_residual_near(int k, float *restrict aee, float *restrict ayy,
                                          float *restrict res, float *restrict ruse,
                                          const float *restrict see,
                                          const float *restrict syy,
                                          const float *restrict rrev,
                                          const float *restrict pez,
                                          const float *restrict rs, float a, int learn,
                                          int use, float nlc, float w, float lmin, float tiny)
{
    const ptrdiff_t m = k;
    if (learn)
        for (ptrdiff_t i = 0; i < m; i++) {
            aee[i] = (1.0f - a) * aee[i] + a * see[i];
            ayy[i] = (1.0f - a) * ayy[i] + a * syy[i];
        }
    for (ptrdiff_t i = 0; i < m; i++) {
        float l = 1.0f;
        if (use) {
            l = aee[i] / (ayy[i] + 1e-30f);
            l = (l < lmin) ? lmin : ((l > 1.0f) ? 1.0f : l);
        }
        float re = l * syy[i] + rrev[i];
        float nl = nlc * ((pez[i] > 0.0f) ? pez[i] : 0.0f);
        re = (nl > re) ? nl : re;
        res[i] = 0.5f * res[i] + 0.5f * re + tiny;
    }
    if (w <= 0.0f)
        memcpy(ruse, rs, (size_t)m * sizeof(float));
    else if (w >= 1.0f)
        memcpy(ruse, res, (size_t)m * sizeof(float));
    else
        for (ptrdiff_t i = 0; i < m; i++)
            ruse[i] = rs[i] * powf(res[i] / rs[i], w);
}

CA_MULTIVERSION void ca_aec_apply_gain(int k, float *restrict g, float *restrict nf,
                                       float *restrict out, const float *restrict see_s,
                                       const float *restrict rr, const float *restrict ls,
                                       const float *restrict see, const float *restrict e,
                                       float supp, float lsw, float gmin, float tiny)
{
    const ptrdiff_t m = k;
    for (ptrdiff_t i = 0; i < m; i++) {
        float r = supp * rr[i];
        float lr = lsw * ls[i];
        r = (lr > r) ? lr : r;
        float gi = 1.0f - r / (see_s[i] + 1e-20f);
        gi = (gi < gmin) ? gmin : ((gi > 1.0f) ? 1.0f : gi);
        g[i] = gi;
        float up = nf[i] * 1.002f + tiny, down = 0.8f * nf[i] + 0.2f * see[i] + tiny;
        nf[i] = (see[i] > nf[i]) ? up : down;
        out[2 * i] = gi * e[2 * i];
        out[2 * i + 1] = gi * e[2 * i + 1];
    }
}

CA_MULTIVERSION unsigned int ca_aec_comfort_noise(int k, float *restrict out,
                                                  const float *restrict nf,
                                                  const float *restrict g,
                                                  float *restrict amp, unsigned int state)
{
    const ptrdiff_t m = k;
    for (ptrdiff_t i = 0; i < m; i++)
        amp[i] = sqrtf(nf[i] * (1.0f - g[i] * g[i]) * 0.5f);
    for (ptrdiff_t i = 0; i < m; i++) {
        state ^= state << 13;      /* xorshift32 (Marsaglia 2003) */
        state ^= state >> 17;
        state ^= state << 5;
        out[2 * i] += (state & 1u) ? amp[i] : -amp[i];
        out[2 * i + 1] += (state & 2u) ? amp[i] : -amp[i];
    }
    return state;
}

CA_MULTIVERSION void ca_aec_comfort_amp(int k, float *restrict amp, const float *restrict nf,
                                         const float *restrict g)
{
    const ptrdiff_t m = k;
    for (ptrdiff_t i = 0; i < m; i++)
        amp[i] = sqrtf(nf[i] * (1.0f - g[i] * g[i]) * 0.5f);
}

CA_MULTIVERSION unsigned int ca_aec_comfort_signs(int k, float *restrict out,
                                                  const float *restrict amp,
                                                  unsigned int state)
{
    /* one xorshift32 step (Marsaglia 2003, as ca_aec_comfort_noise) gives the two signs
     * of 16 bins (bits 2j, 2j + 1); the sign is set on the bits, so the loop vectorises */
    const ptrdiff_t m = k;
    for (ptrdiff_t b = 0; b < m; b += 16) {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        const uint32_t s = state;
        const ptrdiff_t e = (m - b < 16) ? m - b : 16;
        for (ptrdiff_t j = 0; j < e; j++) {
            uint32_t a, re, im;
            float fr, fi;
            memcpy(&a, &amp[b + j], sizeof a);
            re = a ^ ((~(s >> (2 * j)) & 1u) << 31);
            im = a ^ ((~(s >> (2 * j + 1)) & 1u) << 31);
            memcpy(&fr, &re, sizeof fr);
            memcpy(&fi, &im, sizeof fi);
            out[2 * (b + j)] += fr;
            out[2 * (b + j) + 1] += fi;
        }
    }
    return state;
}

CA_MULTIVERSION double ca_aec_cpower_sum(int k, const float *restrict w)
{
    const ptrdiff_t m = 2 * (ptrdiff_t)k;
    double s[4] = {0.0, 0.0, 0.0, 0.0};
    ptrdiff_t i = 0;
    for (; i + 8 <= m; i += 8)
        for (int j = 0; j < 4; j++)
            s[j] += (double)(w[i + 2 * j] * w[i + 2 * j] + w[i + 2 * j + 1] * w[i + 2 * j + 1]);
    for (; i < m; i += 2)
        s[0] += (double)(w[i] * w[i] + w[i + 1] * w[i + 1]);
    return (s[0] + s[1]) + (s[2] + s[3]);
}

/* One bin of ca_aec_residual_spectra, accumulating into lane j of the partial sums. */
static inline void residual_bin(ptrdiff_t i, int j, float *restrict espec, float *restrict ebar,
                                float *restrict ybar, float *restrict syy_out,
                                float *restrict see_out, const float *restrict yspec,
                                const float *restrict dspec, double tiny, double *restrict sy,
                                double *restrict se, double *restrict sey, double *restrict syy2)
{
    double yr = yspec[2 * i], yi = yspec[2 * i + 1];
    double er = dspec[2 * i] - yr, ei = dspec[2 * i + 1] - yi;
    espec[2 * i] = (float)er;
    espec[2 * i + 1] = (float)ei;
    double see = er * er + ei * ei, syy = yr * yr + yi * yi;
    float eb = (float)(0.95 * ebar[i] + 0.05 * see + tiny);
    float yb = (float)(0.95 * ybar[i] + 0.05 * syy + tiny);
    ebar[i] = eb;
    ybar[i] = yb;
    double dE = see - eb, dY = syy - yb;
    sy[j] += syy;
    se[j] += see;
    sey[j] += dE * dY;
    syy2[j] += dY * dY;
    syy_out[i] = (float)syy;
    see_out[i] = (float)see;
}

/* The sums run in four interleaved lanes (bin i -> lane i % 4) so the compiler can keep them
 * in one vector register; their order differs from a serial sum only by double rounding. */
CA_MULTIVERSION void ca_aec_residual_spectra(int k, float *restrict espec, float *restrict ebar,
                                             float *restrict ybar, float *restrict syy_out,
                                             float *restrict see_out,
                                             const float *restrict yspec,
                                             const float *restrict dspec, double tiny,
                                             double *restrict sums)
{
    const ptrdiff_t m = k;
    double sy[4] = {0.0, 0.0, 0.0, 0.0}, se[4] = {0.0, 0.0, 0.0, 0.0};
    double sey[4] = {0.0, 0.0, 0.0, 0.0}, syy2[4] = {0.0, 0.0, 0.0, 0.0};
    ptrdiff_t i = 0;
    for (; i + 4 <= m; i += 4)
        for (int j = 0; j < 4; j++)
            residual_bin(i + j, j, espec, ebar, ybar, syy_out, see_out, yspec, dspec, tiny,
                         sy, se, sey, syy2);
    for (; i < m; i++)
        residual_bin(i, 0, espec, ebar, ybar, syy_out, see_out, yspec, dspec, tiny,
                     sy, se, sey, syy2);
    sums[0] = (sy[0] + sy[1]) + (sy[2] + sy[3]);
    sums[1] = (se[0] + se[1]) + (se[2] + se[3]);
    sums[2] = (sey[0] + sey[1]) + (sey[2] + sey[3]);
    sums[3] = (syy2[0] + syy2[1]) + (syy2[2] + syy2[3]);
}

CA_MULTIVERSION void ca_aec_synthesis(int n, int lat, float *restrict out, float *restrict t,
                                      float *restrict ola, const float *restrict ws)
{
    const ptrdiff_t m = n;
    for (ptrdiff_t i = 0; i < m; i++)
        t[i] = t[i] * ws[i] + ola[m + i];
    for (ptrdiff_t i = 0; i < m; i++)
        t[m + i] *= ws[m + i];
    for (ptrdiff_t i = 0; i < 2 * m; i++)
        ola[i] = t[i];
    for (ptrdiff_t i = 0; i < m; i++)
        out[i] = t[m - lat + i];
}
