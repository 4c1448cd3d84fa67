/* The chain's input/output guards as loops the compiler vectorises (pipeline.pyx).
 * Non-finite is tested on the bits (exponent all ones), an integer sum that vectorises
 * without -ffast-math; the clamp is a compare-and-select per sample. */
#ifndef CA_GUARD_H
#define CA_GUARD_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ca_multiversion.h"
#include "ca_vec.h"

/* each module that includes this uses some of it */
#if defined(__GNUC__)
#define CA_GUARD_UNUSED __attribute__((unused))
#else
#define CA_GUARD_UNUSED
#endif

/* How many of x[0..n) are NaN or +-Inf. */
CA_MULTIVERSION CA_GUARD_UNUSED static int ca_count_nonfinite(const float* x, int n) {
    int bad = 0;
    for (int i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, x + i, sizeof u);
        bad += (u & 0x7f800000u) == 0x7f800000u;
    }
    return bad;
}

/* y[i] = x[i] clamped to [-c, c] (x finite; y may be x). */
CA_MULTIVERSION CA_GUARD_UNUSED static void ca_clamp_copy(const float* x, float* y, int n, float c) {
    for (int i = 0; i < n; i++) {
        float v = x[i];
        v = v > c ? c : v;
        y[i] = v < -c ? -c : v;
    }
}

/* Mean square of x[0..n) in double (eight float lanes, summed in double per frame). */
CA_MULTIVERSION CA_GUARD_UNUSED static double ca_mean_square(const float* x, int n) {
    float lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) lane[j] += x[i + j] * x[i + j];
    double acc = 0.0;
    for (int j = 0; j < 8; j++) acc += lane[j];
    for (; i < n; i++) acc += (double)x[i] * x[i];
    return n > 0 ? acc / n : 0.0;
}

/* The gain ramps of the limiters (agc.pyx, pipeline.pyx), in double as their Cython loops
 * wrote them, sample i scaled by g0 + dg (i + 1): four lanes, the ramp's (i + 1) kept as
 * exact doubles, so the loops vectorise and give the loops' results bit for bit. */

/* max |x[i] (g0 + dg (i + 1))| over i < n, 0 for none (NaN never wins, as in a scalar
 * "if a > peak" loop). */
CA_MULTIVERSION CA_GUARD_UNUSED static double ca_peak_ramp(const float* x, int n, double g0, double dg) {
    const ptrdiff_t m = n;
    double pk[4] = {0.0, 0.0, 0.0, 0.0};
    ptrdiff_t i = 0;
#if CA_HAVE_VEC
    {   /* the same in 4-double vectors (ca_vec.h): |.| as the sign bit cleared, the max as
         * a compare-and-select that keeps pk where a > pk is false (NaN) */
        typedef long long v4l __attribute__((vector_size(32)));
        const v4l nosign = {INT64_MAX, INT64_MAX, INT64_MAX, INT64_MAX};
        v4d vpk = {0.0, 0.0, 0.0, 0.0}, vt = {1.0, 2.0, 3.0, 4.0};
        for (; i + 4 <= m; i += 4) {
            v4f xf;
            memcpy(&xf, x + i, sizeof xf);
            const v4d a = (v4d)((v4l)(CVT_V4D(xf) * (g0 + dg * vt)) & nosign);
            const v4l gt = (v4l)(a > vpk);
            vpk = (v4d)((gt & (v4l)a) | (~gt & (v4l)vpk));
            vt += 4.0;
        }
        for (int j = 0; j < 4; j++)
            pk[j] = vpk[j];
    }
#else
    double t[4] = {1.0, 2.0, 3.0, 4.0};
    for (; i + 4 <= m; i += 4)
        for (int j = 0; j < 4; j++) {
            double a = fabs((double)x[i + j] * (g0 + dg * t[j]));
            pk[j] = a > pk[j] ? a : pk[j];
            t[j] += 4.0;
        }
#endif
    for (; i < m; i++) {
        double a = fabs((double)x[i] * (g0 + dg * (double)(i + 1)));
        pk[0] = a > pk[0] ? a : pk[0];
    }
    double p = pk[0];
    for (int j = 1; j < 4; j++) p = pk[j] > p ? pk[j] : p;
    return p;
}

/* The first i < n with |x[i] (g0 + dg (i + 1))| lim > clip, or -1. */
CA_GUARD_UNUSED static int ca_first_over(const float* x, int n, double g0, double dg, double lim, double clip) {
    for (int i = 0; i < n; i++)
        if (fabs((double)x[i] * (g0 + dg * (double)(i + 1))) * lim > clip) return i;
    return -1;
}

/* The upper bands' ramps (pipeline.pyx, upper_bands_c), in double as its Cython loop wrote
 * them: out[i] = (float) ((x[i] gs(i) + a(i) (r_i 2^-31 - 1)) gp(i)) with gs(i) = gs0 +
 * dgs (i + 1) (likewise a, gp) and r_i the xorshift32 (Marsaglia 2003) state after i + 1
 * steps from *rng; with a0 = a1 = 0 (no comfort noise) out[i] = (float) (x[i] gs(i)
 * gp(i)) and the state stays.  The serial state chain runs into a block of states first;
 * then four samples at a time in 4-double vectors (ca_vec.h), the ramps' (i + 1) as exact
 * doubles and each state converted exactly, so the result is the loop's bit for bit. */
CA_MULTIVERSION CA_GUARD_UNUSED static void ca_upper_ramp(const float* restrict x, float* restrict out,
                                                          int n, double gs0, double dgs,
                                                          double a0, double da, double gp0,
                                                          double dgp, int noise,
                                                          unsigned int* rng) {
    const ptrdiff_t m = n;
    unsigned int r = *rng;
    uint32_t st[64];
    for (ptrdiff_t i0 = 0; i0 < m; i0 += 64) {
        const ptrdiff_t c = (m - i0 < 64) ? m - i0 : 64;
        if (noise)
            for (ptrdiff_t j = 0; j < c; j++) {
                r ^= r << 13;
                r ^= r >> 17;
                r ^= r << 5;
                st[j] = r;
            }
        ptrdiff_t j = 0;
#if CA_HAVE_VEC
        typedef int v4si __attribute__((vector_size(16)));
        v4d vt = {1.0, 2.0, 3.0, 4.0};
        vt += (double)i0;
        for (; j + 4 <= c; j += 4) {
            v4f xf;
            memcpy(&xf, x + i0 + j, sizeof xf);
            const v4d xs = CVT_V4D(xf) * (gs0 + dgs * vt);
            v4d o;
            if (noise) {
                const v4si sv = {(int)(st[j] ^ 0x80000000u), (int)(st[j + 1] ^ 0x80000000u),
                                 (int)(st[j + 2] ^ 0x80000000u), (int)(st[j + 3] ^ 0x80000000u)};
                const v4d rd = __builtin_convertvector(sv, v4d) + 2147483648.0;
                o = (xs + (a0 + da * vt) * (rd * (2.0 / 4294967296.0) - 1.0)) * (gp0 + dgp * vt);
            } else {
                o = xs * (gp0 + dgp * vt);
            }
            const v4f of = CVT_V4F(o);
            memcpy(out + i0 + j, &of, sizeof of);
            vt += 4.0;
        }
#endif
        for (; j < c; j++) {
            const double t = (double)(i0 + j + 1);
            const double xs = (double)x[i0 + j] * (gs0 + dgs * t);
            out[i0 + j] = noise ? (float)((xs + (a0 + da * t) * ((double)st[j]
                                                                  * (2.0 / 4294967296.0) - 1.0))
                                          * (gp0 + dgp * t))
                                : (float)(xs * (gp0 + dgp * t));
        }
    }
    *rng = r;
}

/* x[i] = (float) clamp(x[i] (g0 + dg (i + 1)) (l0 + dl (i + 1)), -clip, clip). */
CA_MULTIVERSION CA_GUARD_UNUSED static void ca_apply_ramps(float* x, int n, double g0, double dg, double l0,
                                           double dl, double clip) {
    const ptrdiff_t m = n;
    ptrdiff_t i = 0;
#if CA_HAVE_VEC
    {   /* the same in 4-double vectors (ca_vec.h); each clamp a compare-and-select (a NaN
         * fails both compares and stays, as in the scalar loop) */
        typedef long long v4l __attribute__((vector_size(32)));
        const v4d hi = {clip, clip, clip, clip}, lo = -hi;
        v4d vt = {1.0, 2.0, 3.0, 4.0};
        for (; i + 4 <= m; i += 4) {
            v4f xf;
            memcpy(&xf, x + i, sizeof xf);
            const v4d y = CVT_V4D(xf) * (g0 + dg * vt) * (l0 + dl * vt);
            const v4l above = (v4l)(y > hi), below = (v4l)(y < lo);
            const v4l low = (below & (v4l)lo) | (~below & (v4l)y);
            xf = CVT_V4F((v4d)((above & (v4l)hi) | (~above & low)));
            memcpy(x + i, &xf, sizeof xf);
            vt += 4.0;
        }
    }
#else
    double t[4] = {1.0, 2.0, 3.0, 4.0};
    for (; i + 4 <= m; i += 4)
        for (int j = 0; j < 4; j++) {
            double y = (double)x[i + j] * (g0 + dg * t[j]) * (l0 + dl * t[j]);
            x[i + j] = (float)(y > clip ? clip : (y < -clip ? -clip : y));
            t[j] += 4.0;
        }
#endif
    for (; i < m; i++) {
        double k = (double)(i + 1);
        double y = (double)x[i] * (g0 + dg * k) * (l0 + dl * k);
        x[i] = (float)(y > clip ? clip : (y < -clip ? -clip : y));
    }
}

/* The linked gain control's usual frame in float32 (agc.pyx, process_linked_c; x finite):
 * the gain ramp g0 + dg (i + 1), as the scalar loops wrote it, in loops that vectorise.
 * ca_peak_ramp_f32: max |x[i] (g0 + dg (i + 1))| (0 for none; on the bit patterns, whose
 * integer order is the float order of |.|); ca_ramp_clamp_f32: x[i] = clamp(x[i] (g0 +
 * dg (i + 1)), -hi, hi). */
CA_MULTIVERSION CA_GUARD_UNUSED static float ca_peak_ramp_f32(const float* x, int n, float g0, float dg) {
    uint32_t mx = 0;
    for (int i = 0; i < n; i++) {
        float a = x[i] * (g0 + dg * (float)(i + 1));
        uint32_t u;
        memcpy(&u, &a, sizeof u);
        u &= 0x7fffffffu;
        mx = u > mx ? u : mx;
    }
    float p;
    memcpy(&p, &mx, sizeof p);
    return p;
}

CA_MULTIVERSION CA_GUARD_UNUSED static void ca_ramp_clamp_f32(float* x, int n, float g0, float dg, float hi) {
    for (int i = 0; i < n; i++) {
        float a = x[i] * (g0 + dg * (float)(i + 1));
        x[i] = a > hi ? hi : (a < -hi ? -hi : a);
    }
}

/* A channel of an interleaved frame: dst[i] = src[i * stride] (ca_gather_f32) or
 * dst[i * stride] = src[i] (ca_scatter_f32), i < n; stride 2 (stereo) as its own loop, a
 * constant stride the compiler vectorises. */
CA_MULTIVERSION CA_GUARD_UNUSED static void ca_gather_f32(const float* src, ptrdiff_t stride, float* dst, int n) {
    const ptrdiff_t m = n;
    if (stride == 2)
        for (ptrdiff_t i = 0; i < m; i++) dst[i] = src[2 * i];
    else
        for (ptrdiff_t i = 0; i < m; i++) dst[i] = src[i * stride];
}

CA_MULTIVERSION CA_GUARD_UNUSED static void ca_scatter_f32(const float* src, float* dst, ptrdiff_t stride, int n) {
    const ptrdiff_t m = n;
    if (stride == 2)
        for (ptrdiff_t i = 0; i < m; i++) dst[2 * i] = src[i];
    else
        for (ptrdiff_t i = 0; i < m; i++) dst[i * stride] = src[i];
}

/* Two channels at once (stereo): a[i], b[i] <-> d[2 i], d[2 i + 1], i < n (loops the
 * compiler vectorises, unlike a stride-2 store of one channel). */
CA_MULTIVERSION CA_GUARD_UNUSED static void ca_deinterleave2_f32(const float* s, float* a, float* b, int n) {
    const ptrdiff_t m = n;
    for (ptrdiff_t i = 0; i < m; i++) {
        a[i] = s[2 * i];
        b[i] = s[2 * i + 1];
    }
}

CA_MULTIVERSION CA_GUARD_UNUSED static void ca_interleave2_f32(const float* a, const float* b, float* d, int n) {
    const ptrdiff_t m = n;
    for (ptrdiff_t i = 0; i < m; i++) {
        d[2 * i] = a[i];
        d[2 * i + 1] = b[i];
    }
}

#endif
