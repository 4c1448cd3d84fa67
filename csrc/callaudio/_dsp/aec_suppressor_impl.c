/* Hot loops of the echo canceller's residual-echo suppressor (aec_suppressor.pyx); the
 * declarations are in aec_impl.h and aec_suppressor.h. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "aec_impl.h"
#include "aec_suppressor.h"
#include "ca_multiversion.h"
#include "ca_vec.h"

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
    /* the per-bin updates in a loop that vectorises, then the two sums in bin order */
    for (ptrdiff_t i = 0; i < m; i++) {
        float r = rlin[i];
        float nl = nlc * ((pez[i] > 0.0f) ? pez[i] : 0.0f);
        r = (nl > r) ? nl : r;
        see_s[i] = 0.5f * see_s[i] + 0.5f * see[i] + tiny;
        rs[i] = 0.5f * rs[i] + 0.5f * r + tiny;
        ls[i] = 0.5f * ls[i] + 0.5f * leak * syy[i] + tiny;
    }
    for (ptrdiff_t i = 0; i < m; i++) {
        ss_sum += (double)see_s[i];
        rs_sum += (double)rs[i];
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

/* One bin's suppression gain (stored in g[i]) and noise-floor update: the step shared by
 * ca_aec_apply_gain and ca_aec_gain_floor (inlined into both loops), then the talker's
 * floor kf[i] (ca_aec_keep_floor; zeros when none). */
static inline float gain_bin(ptrdiff_t i, float *restrict g, float *restrict nf,
                             const float *restrict see_s, const float *restrict rr,
                             const float *restrict ls, const float *restrict see,
                             const float *restrict kf, float supp, float lsw, float gmin,
                             float tiny)
{
    float r = supp * rr[i];
    float lr = lsw * ls[i];
    r = (lr > r) ? lr : r;
    float gi = 1.0f - r / (see_s[i] + 1e-20f);
    gi = (gi < gmin) ? gmin : ((gi > 1.0f) ? 1.0f : gi);
    gi = (kf[i] > gi) ? kf[i] : gi;
    g[i] = gi;
    float up = nf[i] * 1.002f + tiny, down = 0.8f * nf[i] + 0.2f * see[i] + tiny;
    nf[i] = (see[i] > nf[i]) ? up : down;
    return gi;
}

CA_MULTIVERSION void ca_aec_apply_gain(int k, float *restrict g, float *restrict nf,
                                       float *restrict out, const float *restrict see_s,
                                       const float *restrict rr, const float *restrict ls,
                                       const float *restrict see, const float *restrict e,
                                       const float *restrict kf, float supp, float lsw,
                                       float gmin, float tiny)
{
    const ptrdiff_t m = k;
    for (ptrdiff_t i = 0; i < m; i++) {
        float gi = gain_bin(i, g, nf, see_s, rr, ls, see, kf, supp, lsw, gmin, tiny);
        out[2 * i] = gi * e[2 * i];
        out[2 * i + 1] = gi * e[2 * i + 1];
    }
}

/* ca_aec_apply_gain without the spectrum: the gain and the noise floor only (the same
 * operations per bin), for a synthesis that takes the error from another analysis. */
CA_MULTIVERSION void ca_aec_gain_floor(int k, float *restrict g, float *restrict nf,
                                       const float *restrict see_s, const float *restrict rr,
                                       const float *restrict ls, const float *restrict see,
                                       const float *restrict kf, float supp, float lsw,
                                       float gmin, float tiny)
{
    const ptrdiff_t m = k;
    for (ptrdiff_t i = 0; i < m; i++)
        gain_bin(i, g, nf, see_s, rr, ls, see, kf, supp, lsw, gmin, tiny);
}

CA_MULTIVERSION void ca_aec_keep_floor(int k, float *restrict kf, const float *restrict see_s,
                                       const float *restrict res, const float *restrict cdy,
                                       const float *restrict cyy, const float *restrict cdd,
                                       float keep, float kslope, float clo, float chi)
{
    const ptrdiff_t m = k;
    const float s = 1.0f / (chi - clo);
    for (ptrdiff_t i = 0; i < m; i++) {
        float a = (see_s[i] / (res[i] + 1e-30f) - 1.0f) * kslope;
        a = (a < 0.0f) ? 0.0f : ((a > 1.0f) ? 1.0f : a);
        /* |cdy|^2 <= cyy cdd; see ca_aec_coherence_q */
        float c2 = cdy[2 * i] * cdy[2 * i] + cdy[2 * i + 1] * cdy[2 * i + 1];
        float c = c2 / (cyy[i] * cdd[i] + 1e-30f);
        float v = (chi - c) * s;
        v = (v < 0.0f) ? 0.0f : ((v > 1.0f) ? 1.0f : v);
        kf[i] = keep * a * v;
    }
}

/* The comfort noise's amplitudes as ca_aec_comfort_noise computes them. */
CA_MULTIVERSION void ca_aec_comfort_amp(int k, float *restrict amp, const float *restrict nf,
                                        const float *restrict g)
{
    const ptrdiff_t m = k;
    for (ptrdiff_t i = 0; i < m; i++)
        amp[i] = sqrtf(nf[i] * (1.0f - g[i] * g[i]) * 0.5f);
}

/* The xorshift32 (Marsaglia 2003) map applied k times.  It is linear over GF(2), so
 * ca_aec_comfort_jump_table stores the images of the 32 unit vectors and
 * ca_aec_comfort_jump applies it to any state with 32 masked XORs instead of k steps. */
static unsigned int xorshift_steps(int k, unsigned int state)
{
    for (int i = 0; i < k; i++) {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
    }
    return state;
}

void ca_aec_comfort_jump_table(int k, unsigned int *col)
{
    for (int b = 0; b < 32; b++)
        col[b] = xorshift_steps(k, 1u << b);
}

unsigned int ca_aec_comfort_jump(const unsigned int *col, unsigned int state)
{
    unsigned int r = 0;
    for (int b = 0; b < 32; b++)
        r ^= col[b] & (0u - ((state >> b) & 1u));
    return r;
}

/* out += amp (+-1 +-j): the re sign from bit 0, the im sign from bit 1 of each bin's
 * xorshift32 state (set: +).  The serial state chain runs into a block of states first,
 * then the signs go on as sign-bit flips (-a is a with its sign bit flipped) in a loop
 * that vectorises. */
CA_INLINE unsigned int comfort_signs(int k, float *restrict out, const float *restrict amp,
                                     unsigned int state)
{
    uint32_t st[64];
    const ptrdiff_t m = k;
    for (ptrdiff_t i0 = 0; i0 < m; i0 += 64) {
        const ptrdiff_t c = (m - i0 < 64) ? m - i0 : 64;
        for (ptrdiff_t j = 0; j < c; j++) {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            st[j] = state;
        }
        const float *restrict a = amp + i0;
        float *restrict o = out + 2 * i0;
        for (ptrdiff_t j = 0; j < c; j++) {
            uint32_t u, ur, ui;
            float fr, fi;
            memcpy(&u, &a[j], sizeof u);
            ur = u ^ ((~st[j] & 1u) << 31);
            ui = u ^ ((~st[j] & 2u) << 30);
            memcpy(&fr, &ur, sizeof fr);
            memcpy(&fi, &ui, sizeof fi);
            o[2 * j] += fr;
            o[2 * j + 1] += fi;
        }
    }
    return state;
}

CA_MULTIVERSION unsigned int ca_aec_comfort_noise(int k, float *restrict out,
                                                  const float *restrict nf,
                                                  const float *restrict g,
                                                  float *restrict amp, unsigned int state)
{
    const ptrdiff_t m = k;
    for (ptrdiff_t i = 0; i < m; i++)
        amp[i] = sqrtf(nf[i] * (1.0f - g[i] * g[i]) * 0.5f);
    return comfort_signs(k, out, amp, state);
}

CA_MULTIVERSION unsigned int ca_aec_comfort_signs(int k, float *restrict out,
                                                  const float *restrict amp,
                                                  unsigned int state)
{
    return comfort_signs(k, out, amp, state);
}

#if CA_HAVE_VEC
typedef float v8f __attribute__((vector_size(32)));
typedef uint32_t v8u __attribute__((vector_size(32)));
#if defined(__clang__)
#define DUP8(a, h) ((h) ? __builtin_shufflevector(a, a, 4, 4, 5, 5, 6, 6, 7, 7) \
                        : __builtin_shufflevector(a, a, 0, 0, 1, 1, 2, 2, 3, 3))
#else
typedef int v8i __attribute__((vector_size(32)));
#define DUP8(a, h) ((h) ? __builtin_shuffle(a, (v8i){4, 4, 5, 5, 6, 6, 7, 7}) \
                        : __builtin_shuffle(a, (v8i){0, 0, 1, 1, 2, 2, 3, 3}))
#endif
#endif

CA_MULTIVERSION unsigned int ca_aec_scale_signs16(int k, float *restrict out,
                                                  const float *restrict g,
                                                  const float *restrict amp,
                                                  unsigned int state)
{
    /* out <- out g (each bin's pair, as ca_aec_scale_spectrum) plus the comfort noise:
     * one xorshift32 step (Marsaglia 2003, as ca_aec_comfort_noise) gives the two signs
     * of 16 bins (bits 2j, 2j + 1); the sign is set on the bits, so the loop vectorises.
     * A whole block runs over its 32 interleaved outputs q (sign: bit q), so the shifts
     * are per-lane constants */
    const ptrdiff_t m = k;
    for (ptrdiff_t b = 0; b < m; b += 16) {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        const uint32_t s = state;
        const ptrdiff_t e = (m - b < 16) ? m - b : 16;
        if (e == 16) {
            float *restrict o = out + 2 * b;
#if CA_HAVE_VEC
            {   /* the same bits as below, 8 outputs a vector: bit q of s clear -> sign set */
                const v8u st = {s, s, s, s, s, s, s, s};
                v8f a0, a1, g0, g1, t;
                memcpy(&a0, &amp[b], sizeof a0);
                memcpy(&a1, &amp[b + 8], sizeof a1);
                memcpy(&g0, &g[b], sizeof g0);
                memcpy(&g1, &g[b + 8], sizeof g1);
                for (int v = 0; v < 4; v++) {
                    const v8f d = DUP8((v >> 1) ? a1 : a0, v & 1);
                    const v8u bit = (v8u){1u, 2u, 4u, 8u, 16u, 32u, 64u, 128u} << (8 * v);
                    const v8u sgn = (v8u)((st & bit) == 0) & 0x80000000u;
                    memcpy(&t, o + 8 * v, sizeof t);
                    t *= DUP8((v >> 1) ? g1 : g0, v & 1);
                    t += (v8f)((v8u)d ^ sgn);
                    memcpy(o + 8 * v, &t, sizeof t);
                }
            }
            continue;
#endif
            for (int q = 0; q < 32; q++) {
                uint32_t a, u;
                float f;
                memcpy(&a, &amp[b + (q >> 1)], sizeof a);
                u = a ^ ((~(s >> q) & 1u) << 31);
                memcpy(&f, &u, sizeof f);
                o[q] *= g[b + (q >> 1)];
                o[q] += f;
            }
            continue;
        }
        for (ptrdiff_t j = 0; j < e; j++) {
            uint32_t a, re, im;
            float fr, fi;
            memcpy(&a, &amp[b + j], sizeof a);
            re = a ^ ((~(s >> (2 * j)) & 1u) << 31);
            im = a ^ ((~(s >> (2 * j + 1)) & 1u) << 31);
            memcpy(&fr, &re, sizeof fr);
            memcpy(&fi, &im, sizeof fi);
            out[2 * (b + j)] *= g[b + j];
            out[2 * (b + j) + 1] *= g[b + j];
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
#if CA_HAVE_VEC
    {   /* lane j = bin i / 2 + j, as below (ca_vec.h) */
        v4d acc = {0.0, 0.0, 0.0, 0.0};
        for (; i + 8 <= m; i += 8) {
            v4f a, b;
            memcpy(&a, w + i, sizeof a);
            memcpy(&b, w + i + 4, sizeof b);
            const v4f re = SHUF4(a, b, 0, 2, 4, 6), im = SHUF4(a, b, 1, 3, 5, 7);
            acc += CVT_V4D(re * re + im * im);
        }
        for (int j = 0; j < 4; j++)
            s[j] = acc[j];
    }
#else
    for (; i + 8 <= m; i += 8)
        for (int j = 0; j < 4; j++)
            s[j] += (double)(w[i + 2 * j] * w[i + 2 * j] + w[i + 2 * j + 1] * w[i + 2 * j + 1]);
#endif
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
#if CA_HAVE_VEC
    /* Four bins at a time in 4-double vectors, lane j = bin i + j: the same operations per
     * bin and the same lanes of the sums as residual_bin (GCC's vector extensions). */
    {
        v4d vsy = {0.0, 0.0, 0.0, 0.0}, vse = vsy, vsey = vsy, vsyy2 = vsy;
        for (; i + 4 <= m; i += 4) {
            v4f y0, y1, d0, d1, eb4, yb4;
            memcpy(&y0, yspec + 2 * i, sizeof y0);
            memcpy(&y1, yspec + 2 * i + 4, sizeof y1);
            memcpy(&d0, dspec + 2 * i, sizeof d0);
            memcpy(&d1, dspec + 2 * i + 4, sizeof d1);
            const v4d yr = CVT_V4D(SHUF4(y0, y1, 0, 2, 4, 6));
            const v4d yi = CVT_V4D(SHUF4(y0, y1, 1, 3, 5, 7));
            const v4d er = CVT_V4D(SHUF4(d0, d1, 0, 2, 4, 6)) - yr;
            const v4d ei = CVT_V4D(SHUF4(d0, d1, 1, 3, 5, 7)) - yi;
            const v4f erf = CVT_V4F(er), eif = CVT_V4F(ei);
            const v4f e0 = SHUF4(erf, eif, 0, 4, 1, 5), e1 = SHUF4(erf, eif, 2, 6, 3, 7);
            memcpy(espec + 2 * i, &e0, sizeof e0);
            memcpy(espec + 2 * i + 4, &e1, sizeof e1);
            const v4d see = er * er + ei * ei, syy = yr * yr + yi * yi;
            memcpy(&eb4, ebar + i, sizeof eb4);
            memcpy(&yb4, ybar + i, sizeof yb4);
            eb4 = CVT_V4F(0.95 * CVT_V4D(eb4) + 0.05 * see + tiny);
            yb4 = CVT_V4F(0.95 * CVT_V4D(yb4) + 0.05 * syy + tiny);
            memcpy(ebar + i, &eb4, sizeof eb4);
            memcpy(ybar + i, &yb4, sizeof yb4);
            const v4d dE = see - CVT_V4D(eb4), dY = syy - CVT_V4D(yb4);
            vsy += syy;
            vse += see;
            vsey += dE * dY;
            vsyy2 += dY * dY;
            const v4f syyf = CVT_V4F(syy), seef = CVT_V4F(see);
            memcpy(syy_out + i, &syyf, sizeof syyf);
            memcpy(see_out + i, &seef, sizeof seef);
        }
        for (int j = 0; j < 4; j++) {
            sy[j] = vsy[j];
            se[j] = vse[j];
            sey[j] = vsey[j];
            syy2[j] = vsyy2[j];
        }
    }
#else
    for (; i + 4 <= m; i += 4)
        for (int j = 0; j < 4; j++)
            residual_bin(i + j, j, espec, ebar, ybar, syy_out, see_out, yspec, dspec, tiny,
                         sy, se, sey, syy2);
#endif
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
