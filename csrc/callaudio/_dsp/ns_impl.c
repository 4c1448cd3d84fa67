/* Per-bin kernels of the noise suppressor; see ns_impl.h and ns.pyx. */
#include "ns_impl.h"
#include "ca_vec.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Instruction sets: the build uses portable flags only (SSE2 on x86-64).  With GCC on
 * x86-64 glibc the per-bin kernels are also compiled for AVX2 and picked at load time
 * (function multiversioning, as in fft_impl.c).  -std=c99 implies -ffp-contract=off, so
 * no FMA contraction happens and both versions give the same results.  The helpers are
 * forced inline so that they are compiled into each version. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__GLIBC__) \
    && defined(__has_attribute)
#if __has_attribute(target_clones)
#define CA_NS_MULTIVERSION __attribute__((target_clones("avx2", "default")))
#endif
#endif
#ifndef CA_NS_MULTIVERSION
#define CA_NS_MULTIVERSION
#endif
#if defined(__GNUC__)
#define CA_NS_INLINE static inline __attribute__((always_inline))
#else
#define CA_NS_INLINE static inline
#endif

#if defined(__GNUC__)
typedef float ca_ns_v8 __attribute__((vector_size(32)));
#endif

typedef union {
    float f;
    int32_t i;
} f32bits;

/* exp(x) for |x| <= 87 (clamped): x = n ln2 + r, |r| <= ln2 / 2, e^r by its degree-6
 * Taylor polynomial (relative error < 2e-7 on that interval), 2^n through the exponent
 * bits.  Rounding to n uses the 1.5 * 2^23 trick (no roundps needed, exact for |t| <
 * 2^22). */
CA_NS_INLINE float expf_i(float x) {
    x = x < -87.0f ? -87.0f : x;
    x = x > 87.0f ? 87.0f : x;
    float t = x * 1.44269504088896341f;
    float n = (t + 12582912.0f) - 12582912.0f;
    float r = x - n * 0.693145751953125f;          /* ln2 high part (exact in float) */
    r = r - n * 1.428606765330187045e-06f;          /* ln2 low part */
    float p = 1.0f + r * (1.0f + r * (0.5f + r * (0.16666667f + r * (0.041666668f
              + r * (0.008333334f + r * 0.0013888889f)))));
    f32bits s;
    s.i = ((int32_t)n + 127) << 23;
    return p * s.f;
}

/* log(x) for normal positive x: x = m 2^e with m in [sqrt(1/2), sqrt(2)),
 * log m = 2 atanh(s), s = (m - 1) / (m + 1), |s| <= 0.1716, series to s^9. */
CA_NS_INLINE float logf_i(float x) {
    f32bits u;
    u.f = x;
    int32_t e = ((u.i >> 23) & 0xff) - 127;
    u.i = (u.i & 0x007fffff) | 0x3f800000;
    float m = u.f;
    int32_t big = m > 1.41421356f;
    m = big ? m * 0.5f : m;
    e += big;
    float f = m - 1.0f;
    float s = f / (2.0f + f);
    float z = s * s;
    float r = z * (0.66666667f + z * (0.4f + z * (0.28571429f + z * 0.22222222f)));
    return (float)e * 0.69314718f + (2.0f * s + s * r);
}

/* exp(E1(v) / 2), v clamped to >= 1e-8; Abramowitz & Stegun 5.1.53 (v < 1) and 5.1.56
 * (v >= 1), both evaluated and selected. */
CA_NS_INLINE float exp_half_e1_i(float v) {
    v = v < 1e-8f ? 1e-8f : v;
    float small = -logf_i(v) - 0.57721566f
                  + v * (0.99999193f + v * (-0.24991055f + v * (0.05519968f
                  + v * (-0.00976004f + v * 0.00107857f))));
    float vl = v < 1.0f ? 1.0f : v;
    float num = (((vl + 8.5733287401f) * vl + 18.0590169730f) * vl + 8.6347608925f) * vl
                + 0.2677737343f;
    float den = (((vl + 9.5733223454f) * vl + 25.6329561486f) * vl + 21.0996530827f) * vl
                + 3.9584969228f;
    float large = num / den * expf_i(-vl) / vl;
    return expf_i(0.5f * (v < 1.0f ? small : large));
}

float ca_ns_expf(float x) { return expf_i(x); }
float ca_ns_logf(float x) { return logf_i(x); }
float ca_ns_exp_half_e1(float v) { return exp_half_e1_i(v); }

CA_NS_MULTIVERSION
void ca_ns_sanitize(float *x, long n, float tiny) {
    const float lim = (float)CA_NS_INPUT_LIMIT;
    for (long i = 0; i < n; i++) {
        float v = x[i];
        v = (v == v) ? v : 0.0f;                 /* NaN -> 0 */
        v = v > lim ? lim : v;                   /* +inf -> lim */
        v = v < -lim ? -lim : v;
        v = (v < tiny && v > -tiny) ? 0.0f : v;  /* denormals and near-denormals */
        x[i] = v;
    }
}

CA_NS_MULTIVERSION
void ca_ns_power(const float *restrict spec, float *restrict P, int nb, float tiny) {
    for (ptrdiff_t k = 0; k < nb; k++) {
        float re = spec[2 * k], im = spec[2 * k + 1];
        float p = re * re + im * im;
        P[k] = p >= tiny ? p : 0.0f;
    }
}

CA_NS_MULTIVERSION
void ca_ns_noise_update(const float *restrict P, float *restrict noise,
                        float *restrict sppbar, float *restrict hold,
                        float *restrict psm, const float *restrict coh, int nb,
                        float a_noise, float a_spp, float floor_, float tiny, float on,
                        float a_on, float hold_n, float coh2_lo, float coh2_inv,
                        float xi_h1) {
    const float off = (float)pow(10.0, CA_NS_ONSET_OFF_DB / 10.0);
    const float r_h1 = xi_h1 / (1.0f + xi_h1);
    const float cap = (float)CA_NS_SPP_CAP;
    const float gmax = (float)CA_NS_GAMMA_MAX;
    for (ptrdiff_t k = 0; k < nb; k++) {
        float nz = noise[k];
        float ratio = P[k] / nz;
        ratio = ratio > gmax ? gmax : ratio;
        float post = 1.0f / (1.0f + (1.0f + xi_h1) * expf_i(-ratio * r_h1));
        float sb = a_spp * sppbar[k] + (1.0f - a_spp) * post;
        sb = sb < tiny ? 0.0f : sb;
        sppbar[k] = sb;
        post = (sb > cap && post > cap) ? cap : post;
        float en = (1.0f - post) * P[k] + post * nz;
        float ps = a_on * psm[k] + (1.0f - a_on) * P[k];
        psm[k] = ps < tiny ? 0.0f : ps;
        float h = hold[k];
        h = (ps > on * nz && h <= 0.0f) ? hold_n : (h > 1.0f ? h - 1.0f : 0.0f);
        h = ps < off * nz ? 0.0f : h;
        hold[k] = h;
        float cr = coh[2 * k], ci = coh[2 * k + 1];
        float kap = (cr * cr + ci * ci - coh2_lo) * coh2_inv;   /* 0..1: the hold's share */
        kap = kap < 0.0f ? 0.0f : (kap > 1.0f ? 1.0f : kap);
        kap = h > 0.0f ? kap : 0.0f;
        float old = nz;
        nz = a_noise * nz + (1.0f - a_noise) * en;
        nz = (kap > 0.0f && nz > old) ? old + (1.0f - kap) * (nz - old) : nz;
        noise[k] = nz < floor_ ? floor_ : nz;
    }
}

CA_NS_MULTIVERSION
void ca_ns_floor_update(const float *restrict P, float *restrict floor_spec, int nb,
                        float a, float tiny) {
    for (ptrdiff_t k = 0; k < nb; k++) {
        float v = a * floor_spec[k] + (1.0f - a) * P[k];
        floor_spec[k] = v < tiny ? 0.0f : v;
    }
}

CA_NS_MULTIVERSION
void ca_ns_transient(const float *restrict P, float *restrict tref, float *restrict used,
                     int nb, float a, float w, int active, float tiny) {
    const ptrdiff_t m = nb;
    if (active) {
        for (ptrdiff_t k = 0; k < m; k++) {
            float d = w * (P[k] - tref[k]);
            used[k] = d > used[k] ? d : used[k];
        }
    } else {
        for (ptrdiff_t k = 0; k < m; k++) {
            float t = a * tref[k] + (1.0f - a) * P[k];
            tref[k] = t < tiny ? 0.0f : t;
        }
    }
}

int ca_ns_transient_count(const float *restrict P, const float *restrict dref, int lo,
                          int hi, float thr, float floor_) {
    int c = 0;
    for (ptrdiff_t k = lo; k < hi; k++)
        c += P[k] > thr * (dref[k] + floor_);
    return c;
}

void ca_ns_transient_dref(const float *restrict P, float *restrict dref, int nb,
                          float a_fall, float a_rise, float tiny) {
    const ptrdiff_t m = nb;
    for (ptrdiff_t k = 0; k < m; k++) {
        float a = P[k] < dref[k] ? a_fall : a_rise;
        float t = a * dref[k] + (1.0f - a) * P[k];
        dref[k] = t < tiny ? 0.0f : t;
    }
}

void ca_ns_transient_limit(const float *restrict P, const float *restrict tref,
                           float *restrict gain, int nb, float keep, float gmin2, float w) {
    const ptrdiff_t m = nb;
    const float h = 0.5f * w;
    for (ptrdiff_t k = 0; k < m; k++) {
        float p = P[k] > 1e-30f ? P[k] : 1e-30f;
        float r = keep * tref[k] / p;
        r = r < gmin2 ? gmin2 : (r > 1.0f ? 1.0f : r);
        gain[k] *= ca_ns_expf(h * ca_ns_logf(r));
    }
}

void ca_ns_noise_used(const float *restrict noise, const float *restrict floor_spec,
                      const float *restrict tonal_t, const float *restrict tonal_fl,
                      float *restrict used, int nb, float w) {
    const ptrdiff_t m = nb;
    for (ptrdiff_t k = 0; k < m; k++) {
        float nz = noise[k];
        float lo = nz < tonal_fl[k] ? nz : tonal_fl[k];
        float lim = nz - tonal_t[k] * (nz - lo);
        float f = w * floor_spec[k];
        used[k] = lim > f ? lim : f;
    }
}

/* The local floor is the minimum over 8 bins, built by doubling in place (min of 2, of 4,
 * of 8 consecutive: three passes that vectorise) on a copy of the band with its edges
 * repeated. */
CA_NS_MULTIVERSION
void ca_ns_tonal_update(const float *restrict P, float *restrict pbar,
                        const float *restrict coh, float *restrict tonal_t,
                        float *restrict tonal_fl, float *restrict pad, int lo, int hi,
                        float a_pbar, float t_on, float inv_span, float fl_min) {
    const int H = CA_NS_TONAL_BINS;
    const ptrdiff_t n = hi - lo, L = n + 2 * H;
    float *restrict pb = pbar + lo;
    const float *restrict p = P + lo;
    const float *restrict c2 = coh + 2 * (ptrdiff_t)lo;
    for (ptrdiff_t i = 0; i < n; i++) {
        float v = a_pbar * pb[i] + (1.0f - a_pbar) * p[i];
        pb[i] = v;
        float cr = c2[2 * i], ci = c2[2 * i + 1];
        float r = 1.0f - sqrtf(cr * cr + ci * ci);
        r = r < 0.0f ? 0.0f : r;
        pad[H + i] = v * (r * r);   /* the noise-like part */
    }
    for (int j = 0; j < H; j++) {
        pad[j] = pad[H];
        pad[n + H + j] = pad[n + H - 1];
    }
    for (ptrdiff_t j = 0; j + 1 < L; j++)
        pad[j] = pad[j + 1] < pad[j] ? pad[j + 1] : pad[j];
    for (ptrdiff_t j = 0; j + 3 < L; j++)
        pad[j] = pad[j + 2] < pad[j] ? pad[j + 2] : pad[j];
    for (ptrdiff_t j = 0; j + 7 < L; j++)
        pad[j] = pad[j + 4] < pad[j] ? pad[j + 4] : pad[j];
    /* pad[i]: min of pbar[lo + i - H .. lo + i - 1]; pad[i + H + 1]: of the H after */
    float *restrict t_ = tonal_t + lo;
    float *restrict f_ = tonal_fl + lo;
    for (ptrdiff_t i = 0; i < n; i++) {
        float fl = pad[i] > pad[i + H + 1] ? pad[i] : pad[i + H + 1];
        fl = fl > fl_min ? fl : fl_min;
        float t = (pb[i] - t_on * fl) * inv_span / fl;
        t = t < 0.0f ? 0.0f : t;
        t_[i] = t > 1.0f ? 1.0f : t;
        f_[i] = fl;
    }
}

CA_NS_MULTIVERSION
void ca_ns_phase_store(const float *restrict spec, const float *restrict P,
                       float *restrict xn, int lo, int hi) {
    for (ptrdiff_t k = lo; k < hi; k++) {
        float p = P[k];
        float s = 1.0f / sqrtf(p > 0.0f ? p : 1.0f);
        s = p > 0.0f ? s : 0.0f;
        xn[2 * k] = spec[2 * k] * s;
        xn[2 * k + 1] = spec[2 * k + 1] * s;
    }
}

CA_NS_MULTIVERSION
void ca_ns_coherence(const float *restrict spec, const float *restrict P,
                     const float *restrict xprev, float *restrict zlast,
                     float *restrict coh, int lo, int hi, float a, float tiny) {
    for (ptrdiff_t k = lo; k < hi; k++) {
        float p = P[k];
        float s = 1.0f / sqrtf(p > 0.0f ? p : 1.0f);
        s = p > 0.0f ? s : 0.0f;
        float xr = spec[2 * k] * s, xi = spec[2 * k + 1] * s;
        float pr = xprev[2 * k], pi = xprev[2 * k + 1];
        float zr = xr * pr + xi * pi, zi = xi * pr - xr * pi;     /* x conj(xprev) */
        float lr = zlast[2 * k], li = zlast[2 * k + 1];
        float ur = zr * lr + zi * li, ui = zi * lr - zr * li;     /* z conj(zlast) */
        zlast[2 * k] = zr;
        zlast[2 * k + 1] = zi;
        float cr = a * coh[2 * k] + (1.0f - a) * ur;
        float ci = a * coh[2 * k + 1] + (1.0f - a) * ui;
        coh[2 * k] = (cr < tiny && cr > -tiny) ? 0.0f : cr;
        coh[2 * k + 1] = (ci < tiny && ci > -tiny) ? 0.0f : ci;
    }
}

/* out[k] = sum_j w[j] z[clamp(k + j - h)]: z with its edges repeated into pad (nb + 2h),
 * then the taps in order over each bin, summed from 0 (the same additions as one
 * vectorised loop per tap, without storing and reloading out between taps). */
CA_NS_INLINE void smooth_bins(const float *z, float *restrict out, float *restrict pad, int nb,
                              const float *w, int h) {
    const ptrdiff_t m = nb;     /* ptrdiff_t: int indices keep GCC from vectorising */
    for (int k = 0; k < h; k++) {
        pad[k] = z[0];
        pad[h + nb + k] = z[nb - 1];
    }
    memcpy(pad + h, z, (size_t)nb * sizeof(float));
    ptrdiff_t k = 0;
#if defined(__GNUC__)
    /* 16 bins at a time, their sums kept in two 8-float registers across the taps (the
     * additions in the same order, from 0, tap after tap, as a loop per bin) */
    for (; k + 16 <= m; k += 16) {
        const ca_ns_v8 zero = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
        ca_ns_v8 a0 = zero, a1 = zero;
        for (int j = 0; j <= 2 * h; j++) {
            const ca_ns_v8 wj = zero + w[j];     /* w[j] in every lane */
            ca_ns_v8 p0, p1;
            memcpy(&p0, pad + j + k, sizeof p0);
            memcpy(&p1, pad + j + k + 8, sizeof p1);
            a0 += wj * p0;
            a1 += wj * p1;
        }
        memcpy(out + k, &a0, sizeof a0);
        memcpy(out + k + 8, &a1, sizeof a1);
    }
#endif
    for (; k < m; k++) {
        float acc = 0.0f;
        for (int j = 0; j <= 2 * h; j++)
            acc += w[j] * pad[j + k];
        out[k] = acc;
    }
}

CA_NS_INLINE float presence(float z, float zmin, float zmax, float inv_range) {
    float p = logf_i((z > zmin ? z : zmin) / zmin) * inv_range;
    p = z >= zmax ? 1.0f : p;
    return z <= zmin ? 0.0f : p;
}

CA_NS_MULTIVERSION
void ca_ns_absence_odds(float *restrict zeta, const float *restrict xi_prev,
                        float *restrict zloc, float *restrict odds, int nb,
                        float a_zeta, const float *restrict wloc, int hloc,
                        const float *restrict wglob, int hglob) {
    const float zmin = (float)pow(10.0, CA_NS_SAP_ZETA_MIN_DB / 10.0);
    const float zmax = (float)pow(10.0, CA_NS_SAP_ZETA_MAX_DB / 10.0);
    const float inv_range =
        (float)(1.0 / log(pow(10.0, (CA_NS_SAP_ZETA_MAX_DB - CA_NS_SAP_ZETA_MIN_DB) / 10.0)));
    const float qmax = (float)CA_NS_SAP_Q_MAX;
    for (ptrdiff_t k = 0; k < nb; k++)
        zeta[k] = a_zeta * zeta[k] + (1.0f - a_zeta) * xi_prev[k];
    float *pad = zloc + nb;
    smooth_bins(zeta, zloc, pad, nb, wloc, hloc);
    smooth_bins(zeta, odds, pad, nb, wglob, hglob);
    for (ptrdiff_t k = 0; k < nb; k++) {
        float q = 1.0f - presence(zloc[k], zmin, zmax, inv_range)
                             * presence(odds[k], zmin, zmax, inv_range);
        q = q > qmax ? qmax : q;
        odds[k] = q / (1.0f - q);
    }
}

CA_NS_MULTIVERSION
void ca_ns_gain(const float *restrict P, const float *restrict noise,
                float *restrict pprev, float *restrict gain, float *restrict xi_out,
                float *restrict odds, int nb, float gmin, float log_gmin, float dd) {
    const float xi_min = (float)pow(10.0, CA_NS_XI_MIN_DB / 10.0);
    const float xi_max = (float)CA_NS_XI_MAX;
    const float gmax = (float)CA_NS_GAMMA_MAX;
    const float inv_margin = (float)(1.0 / CA_NS_SPP_MARGIN);
    for (ptrdiff_t k = 0; k < nb; k++) {
        float nz = noise[k];
        float gam = P[k] / nz;
        gam = gam > gmax ? gmax : gam;
        float g = gain[k];
        float xi = dd * g * g * pprev[k] / nz;
        xi = gam > 1.0f ? xi + (1.0f - dd) * (gam - 1.0f) : xi;
        xi = xi < xi_min ? xi_min : xi;
        xi = xi > xi_max ? xi_max : xi;
        float r = xi / (1.0f + xi);
        float v = r * gam;
        float gh1 = r * exp_half_e1_i(v);
        gh1 = gh1 > 1.0f ? 1.0f : gh1;
        gh1 = gh1 < gmin ? gmin : gh1;
        float vq = v * inv_margin;
        vq = vq > 50.0f ? 50.0f : vq;
        float q = 1.0f / (1.0f + odds[k] * (1.0f + xi * inv_margin) * expf_i(-vq));
        gain[k] = expf_i(q * logf_i(gh1) + (1.0f - q) * log_gmin);
        odds[k] = q;
        xi_out[k] = xi;
        pprev[k] = P[k];
    }
    gain[0] = gain[1];
    gain[nb - 1] = gain[nb - 2];
}

/* The sums below run in four double lanes (bin k -> lane k % 4) so they vectorise; their
 * order differs from a serial sum only by double rounding. */
CA_NS_INLINE void apply_bin(float *restrict spec, const float *restrict gain, ptrdiff_t k,
                            int j, double *restrict before, double *restrict after) {
    float re = spec[2 * k], im = spec[2 * k + 1], g = gain[k];
    float p = re * re + im * im;
    before[j] += (double)p;
    after[j] += (double)(g * g * p);
    spec[2 * k] = g * re;
    spec[2 * k + 1] = g * im;
}

CA_NS_MULTIVERSION
void ca_ns_apply(float *restrict spec, const float *restrict gain, int nb,
                 double *restrict sums) {
    double before[4] = {0.0, 0.0, 0.0, 0.0}, after[4] = {0.0, 0.0, 0.0, 0.0};
    ptrdiff_t k = 0;
#if CA_HAVE_VEC
    {   /* four bins at a time, lane j = bin k + j: apply_bin's operations (ca_vec.h) */
        v4d vb = {0.0, 0.0, 0.0, 0.0}, va = vb;
        for (; k + 4 <= nb; k += 4) {
            v4f s0, s1, g;
            memcpy(&s0, spec + 2 * k, sizeof s0);
            memcpy(&s1, spec + 2 * k + 4, sizeof s1);
            memcpy(&g, gain + k, sizeof g);
            const v4f re = SHUF4(s0, s1, 0, 2, 4, 6), im = SHUF4(s0, s1, 1, 3, 5, 7);
            const v4f p = re * re + im * im;
            vb += CVT_V4D(p);
            va += CVT_V4D(g * g * p);
            const v4f gr = g * re, gi = g * im;
            s0 = SHUF4(gr, gi, 0, 4, 1, 5);
            s1 = SHUF4(gr, gi, 2, 6, 3, 7);
            memcpy(spec + 2 * k, &s0, sizeof s0);
            memcpy(spec + 2 * k + 4, &s1, sizeof s1);
        }
        for (int j = 0; j < 4; j++) {
            before[j] = vb[j];
            after[j] = va[j];
        }
    }
#else
    for (; k + 4 <= nb; k += 4)
        for (int j = 0; j < 4; j++)
            apply_bin(spec, gain, k + j, j, before, after);
#endif
    for (; k < nb; k++)
        apply_bin(spec, gain, k, 0, before, after);
    sums[0] = (after[0] + after[1]) + (after[2] + after[3]);
    sums[1] = (before[0] + before[1]) + (before[2] + before[3]);
}

CA_NS_MULTIVERSION
double ca_ns_mean(const float *restrict x, int lo, int hi) {
    /* pointer and ptrdiff_t index: the loop vectorises (with int k it did not) */
    const float *restrict p = x + lo;
    const ptrdiff_t m = hi > lo ? (ptrdiff_t)(hi - lo) : 0;
    double s[4] = {0.0, 0.0, 0.0, 0.0};
    ptrdiff_t k = 0;
#if CA_HAVE_VEC
    {
        v4d acc = {0.0, 0.0, 0.0, 0.0};
        for (; k + 4 <= m; k += 4) {
            v4f v;
            memcpy(&v, p + k, sizeof v);
            acc += CVT_V4D(v);
        }
        for (int j = 0; j < 4; j++)
            s[j] = acc[j];
    }
#else
    for (; k + 4 <= m; k += 4)
        for (int j = 0; j < 4; j++)
            s[j] += (double)p[k + j];
#endif
    for (; k < m; k++)
        s[0] += (double)p[k];
    double acc = (s[0] + s[1]) + (s[2] + s[3]);
    return hi > lo ? acc / (hi - lo) : 0.0;
}

CA_NS_MULTIVERSION
double ca_ns_min(const double *restrict x, int n) {
    const ptrdiff_t m = n;
    double lo[4] = {x[0], x[0], x[0], x[0]};
    ptrdiff_t k = 0;
#if CA_HAVE_VEC
    {   /* the same lanes as vectors, the min as a compare-and-select (ca_vec.h) */
        typedef long long v4l __attribute__((vector_size(32)));
        v4d vlo = {x[0], x[0], x[0], x[0]};
        for (; k + 4 <= m; k += 4) {
            v4d v;
            memcpy(&v, x + k, sizeof v);
            const v4l lt = (v4l)(v < vlo);
            vlo = (v4d)((lt & (v4l)v) | (~lt & (v4l)vlo));
        }
        for (int j = 0; j < 4; j++)
            lo[j] = vlo[j];
    }
#else
    for (; k + 4 <= m; k += 4)
        for (int j = 0; j < 4; j++)
            lo[j] = x[k + j] < lo[j] ? x[k + j] : lo[j];
#endif
    for (; k < m; k++)
        lo[0] = x[k] < lo[0] ? x[k] : lo[0];
    double r = lo[0];
    for (int j = 1; j < 4; j++)
        r = lo[j] < r ? lo[j] : r;
    return r;
}

CA_NS_MULTIVERSION
double ca_ns_log_mean(const float *restrict x, int lo, int hi) {
    /* eight float lanes (bin k -> lane (k - lo) % 8), so the loop vectorises */
    float s[8] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
    const float *restrict p = x + lo;
    const ptrdiff_t m = hi > lo ? (ptrdiff_t)(hi - lo) : 0;
    ptrdiff_t k = 0;
    for (; k + 8 <= m; k += 8)
        for (int j = 0; j < 8; j++)
            s[j] += logf_i(p[k + j] + 1e-30f);
    for (; k < m; k++)
        s[0] += logf_i(p[k] + 1e-30f);
    double acc = ((double)s[0] + s[1] + s[2] + s[3]) + ((double)s[4] + s[5] + s[6] + s[7]);
    return hi > lo ? acc / (hi - lo) : 0.0;
}

CA_NS_MULTIVERSION
int ca_ns_finite(const float *restrict x, int n) {
    float s[8] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
    ptrdiff_t k = 0;
    for (; k + 8 <= n; k += 8)
        for (int j = 0; j < 8; j++)
            s[j] += x[k + j] * 0.0f;
    for (; k < n; k++)
        s[0] += x[k] * 0.0f;
    float t = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
    return t == 0.0f;   /* x * 0 is NaN for NaN and +-inf, 0 otherwise */
}

CA_NS_MULTIVERSION
int ca_ns_power_acc(const float *restrict spec, float *restrict acc, int nb, int first) {
    if (!ca_ns_finite(spec, 2 * nb))
        return 0;
    const ptrdiff_t m = nb;   /* not int: with -fwrapv an int index blocks vectorising */
    if (first)
        for (ptrdiff_t k = 0; k < m; k++)
            acc[k] = spec[2 * k] * spec[2 * k] + spec[2 * k + 1] * spec[2 * k + 1];
    else
        for (ptrdiff_t k = 0; k < m; k++)
            acc[k] += spec[2 * k] * spec[2 * k] + spec[2 * k + 1] * spec[2 * k + 1];
    return 1;
}
