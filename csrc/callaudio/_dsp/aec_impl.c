/* Hot loops of the echo canceller; see aec_impl.h and aec.pyx (the algorithm, papers). */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "aec_impl.h"
#include "aec_window.h"
#include "ca_multiversion.h"
#include "ca_vec.h"

/* ---- per-frame helpers (elementwise passes; double where aec.pyx's model keeps double) --- */

CA_MULTIVERSION int ca_aec_sanitize(int n, float *restrict far, const float *restrict mic,
                                    float *restrict mic_out, float clamp)
{
    const ptrdiff_t m = n;
    int bad = 0;
    for (ptrdiff_t i = 0; i < m; i++) {
        float a = far[i], b = mic[i];
        int fa = !(fabsf(a) <= 3.40282347e+38f), fb = !(fabsf(b) <= 3.40282347e+38f);
        bad |= fa | fb;
        a = fa ? 0.0f : a;
        b = fb ? 0.0f : b;
        a = (a > clamp) ? clamp : ((a < -clamp) ? -clamp : a);
        b = (b > clamp) ? clamp : ((b < -clamp) ? -clamp : b);
        far[i] = a;
        mic_out[i] = b;
    }
    return bad;
}

CA_MULTIVERSION void ca_aec_power(int k, float *restrict x2, const float *restrict x)
{
    const ptrdiff_t m = k;
    for (ptrdiff_t i = 0; i < m; i++)
        x2[i] = x[2 * i] * x[2 * i] + x[2 * i + 1] * x[2 * i + 1];
}

CA_MULTIVERSION double ca_aec_sumsq(int n, const float *restrict x)
{
    const ptrdiff_t m = n;
    double s[4] = {0.0, 0.0, 0.0, 0.0};
    ptrdiff_t i = 0;
#if CA_HAVE_VEC
    {
        v4d acc = {0.0, 0.0, 0.0, 0.0};
        for (; i + 4 <= m; i += 4) {
            v4f v;
            memcpy(&v, x + i, sizeof v);
            acc += CVT_V4D(v * v);
        }
        for (int j = 0; j < 4; j++)
            s[j] = acc[j];
    }
#else
    for (; i + 4 <= m; i += 4)
        for (int j = 0; j < 4; j++)
            s[j] += (double)(x[i + j] * x[i + j]);
#endif
    for (; i < m; i++)
        s[0] += (double)(x[i] * x[i]);
    return (s[0] + s[1]) + (s[2] + s[3]);
}

/* ---- linked capture channels (aec.pyx, suppress_linked_c) ---------------------------- */

CA_MULTIVERSION void ca_aec_link_acc(int k, int mode, float inv, float *restrict lpx,
                                     float *restrict lwl, float *restrict lwm,
                                     float *restrict see, float *restrict syy,
                                     const float *restrict px, const float *restrict wl,
                                     const float *restrict wm, const float *restrict ose,
                                     const float *restrict osy)
{
    const ptrdiff_t m = k;
    if (mode == 0) {
        for (ptrdiff_t i = 0; i < m; i++) {
            lpx[i] = px[i];
            lwl[2 * i] = wl[2 * i] * wl[2 * i] + wl[2 * i + 1] * wl[2 * i + 1];
            lwm[2 * i] = wm[2 * i] * wm[2 * i] + wm[2 * i + 1] * wm[2 * i + 1];
        }
        return;
    }
    if (mode == 2) {    /* the last channel: its sums and the means in one pass */
        for (ptrdiff_t i = 0; i < m; i++) {
            float l = lwl[2 * i] + (wl[2 * i] * wl[2 * i] + wl[2 * i + 1] * wl[2 * i + 1]);
            float w = lwm[2 * i] + (wm[2 * i] * wm[2 * i] + wm[2 * i + 1] * wm[2 * i + 1]);
            lpx[i] = (lpx[i] + px[i]) * inv;
            see[i] = (see[i] + ose[i]) * inv;
            syy[i] = (syy[i] + osy[i]) * inv;
            lwl[2 * i] = (float)sqrt((double)(l * inv));
            lwl[2 * i + 1] = 0.0f;
            lwm[2 * i] = (float)sqrt((double)(w * inv));
            lwm[2 * i + 1] = 0.0f;
        }
        return;
    }
    for (ptrdiff_t i = 0; i < m; i++) {
        lpx[i] += px[i];
        lwl[2 * i] += wl[2 * i] * wl[2 * i] + wl[2 * i + 1] * wl[2 * i + 1];
        lwm[2 * i] += wm[2 * i] * wm[2 * i] + wm[2 * i + 1] * wm[2 * i + 1];
        see[i] += ose[i];
        syy[i] += osy[i];
    }
}

CA_MULTIVERSION void ca_aec_link_mean(int k, float inv, float *restrict see,
                                      float *restrict syy, float *restrict lpx,
                                      float *restrict lwl, float *restrict lwm)
{
    const ptrdiff_t m = k;
    for (ptrdiff_t i = 0; i < m; i++) {
        see[i] *= inv;
        syy[i] *= inv;
        lpx[i] *= inv;
        lwl[2 * i] = (float)sqrt((double)(lwl[2 * i] * inv));
        lwl[2 * i + 1] = 0.0f;
        lwm[2 * i] = (float)sqrt((double)(lwm[2 * i] * inv));
        lwm[2 * i + 1] = 0.0f;
    }
}

CA_MULTIVERSION void ca_aec_coherence_acc(int k, float a, float *restrict cdy,
                                          float *restrict cyy, float *restrict cdd,
                                          const float *restrict d, const float *restrict y)
{
    const ptrdiff_t m = k;
    const float b = 1.0f - a;
    for (ptrdiff_t i = 0; i < m; i++) {
        float dr = d[2 * i], di = d[2 * i + 1], yr = y[2 * i], yi = y[2 * i + 1];
        cdy[2 * i] = a * cdy[2 * i] + b * (dr * yr + di * yi);
        cdy[2 * i + 1] = a * cdy[2 * i + 1] + b * (di * yr - dr * yi);
        cyy[i] = a * cyy[i] + b * (yr * yr + yi * yi);
        cdd[i] = a * cdd[i] + b * (dr * dr + di * di);
    }
}

CA_MULTIVERSION void ca_aec_coherence_q(int k, float *restrict q, const float *restrict cdy,
                                        const float *restrict cyy, const float *restrict cdd,
                                        float q0, float lo, float hi, float x)
{
    const ptrdiff_t m = k;
    const float s = 1.0f / (hi - lo), base = q0 * (1.0f - x), qx = q0 * x;
    for (ptrdiff_t i = 0; i < m; i++) {
        /* |cdy|^2 <= cyy cdd (Cauchy-Schwarz); powers of clamped input stay below ~1e9, so
         * the products fit a float */
        float c2 = cdy[2 * i] * cdy[2 * i] + cdy[2 * i + 1] * cdy[2 * i + 1];
        float c = c2 / (cyy[i] * cdd[i] + 1e-30f);
        float v = s * (c - lo);
        v = v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
        q[i] = base + qx * v;
    }
}

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

CA_MULTIVERSION void ca_aec_drift_acc(int k, float *restrict c, const float *restrict w,
                                      const float *restrict wold, const float *restrict cdy,
                                      const float *restrict cyy, const float *restrict cdd)
{
    const ptrdiff_t m = k;
    for (ptrdiff_t i = 0; i < m; i++) {
        float wr = w[2 * i], wi = w[2 * i + 1], or_ = wold[2 * i], oi = wold[2 * i + 1];
        /* each bin weighted by its mic/echo-estimate coherence (as ca_aec_coherence_q) */
        float c2 = cdy[2 * i] * cdy[2 * i] + cdy[2 * i + 1] * cdy[2 * i + 1];
        float g = c2 / (cyy[i] * cdd[i] + 1e-30f);
        c[2 * i] += g * (wr * or_ + wi * oi);
        c[2 * i + 1] += g * (wi * or_ - wr * oi);
    }
}

double ca_aec_drift_delta(int k, int n, const float *restrict c)
{
    double num = 0.0, den = 0.0;
    for (int i = 1; i < k - 1; i++) {
        double cr = c[2 * i], ci = c[2 * i + 1];
        double a = sqrt(cr * cr + ci * ci), w = M_PI * i / n;
        num += w * a * atan2(ci, cr);
        den += w * w * a;
    }
    return den > 0.0 ? -num / den : 0.0;
}

CA_MULTIVERSION void ca_aec_phasor(int k, float *restrict ph, int n, double theta)
{
    const ptrdiff_t m = k;
    const float s = (float)(-M_PI * theta / n);
    for (ptrdiff_t i = 0; i < m; i++) {
        /* Taylor series to a^8 / a^9: |a| <= pi 0.15 here, error < 1e-8 */
        const float a = s * (float)i, a2 = a * a;
        ph[2 * i] = 1.0f - 0.5f * a2 * (1.0f - a2 / 12.0f * (1.0f - a2 / 30.0f * (1.0f - a2 / 56.0f)));
        ph[2 * i + 1] = a * (1.0f - a2 / 6.0f * (1.0f - a2 / 20.0f * (1.0f - a2 / 42.0f * (1.0f - a2 / 72.0f))));
    }
}

CA_MULTIVERSION void ca_aec_rotate(int k, int P, float *restrict w, const float *restrict ph)
{
    const ptrdiff_t m = k;
    for (int p = 0; p < P; p++) {
        float *restrict z = w + (ptrdiff_t)p * 2 * k;
        for (ptrdiff_t i = 0; i < m; i++) {
            const float zr = z[2 * i], zi = z[2 * i + 1], fr = ph[2 * i], fi = ph[2 * i + 1];
            z[2 * i] = zr * fr - zi * fi;
            z[2 * i + 1] = zr * fi + zi * fr;
        }
    }
}
