/* Hot loops of the echo canceller; see aec_impl.h and aec.pyx (the algorithm, papers). */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "aec_impl.h"
#include "ca_multiversion.h"

/* Loop indices are ptrdiff_t: CPython's -fwrapv makes int index arithmetic (2 * i) wrap, which
 * stops GCC from proving the stride-2 accesses affine and vectorising them. */
CA_MULTIVERSION void ca_aec_filter_acc(int k, float *restrict acc, float *restrict pacc,
                       const float *restrict w, const float *restrict x,
                       const float *restrict ps, const float *restrict x2)
{
    const ptrdiff_t m = k;
    for (ptrdiff_t i = 0; i < m; i++) {
        float wr = w[2 * i], wi = w[2 * i + 1], xr = x[2 * i], xi = x[2 * i + 1];
        acc[2 * i] += wr * xr - wi * xi;
        acc[2 * i + 1] += wr * xi + wi * xr;
        pacc[i] += ps[i] * x2[i];
    }
}

/* One Kalman step over bins [0, m); nb_prev / nb_next select the neighbour terms (the callers
 * pass compile-time constants, so each variant is a branch-free loop).  pw holds |w_prev|^2 on
 * entry and |w|^2 (updated) on return, so the previous partition's power is not recomputed. */
static inline void kalman_loop(ptrdiff_t m, float *restrict w, float *restrict psi,
                               const float *restrict x, const float *restrict x2,
                               const float *restrict e, const float *restrict inv, float floor_,
                               float *restrict pw, const float *restrict w_next,
                               float q, float spread, float floor_psi, int nb_prev, int nb_next)
{
    for (ptrdiff_t i = 0; i < m; i++) {
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
        if (nb_prev)
            nb += pw[i];
        if (nb_next)
            nb += w_next[2 * i] * w_next[2 * i] + w_next[2 * i + 1] * w_next[2 * i + 1];
        float w2 = wr * wr + wi * wi;
        pw[i] = w2;
        psi[i] = (1.0f - q) * p + q * (w2 + spread * nb + floor_psi);
    }
}

CA_MULTIVERSION void ca_aec_kalman(int k, float *restrict w, float *restrict psi,
                   const float *restrict x, const float *restrict x2,
                   const float *restrict e, const float *restrict inv, float floor_,
                   float *restrict pw, int has_prev, const float *restrict w_next, float q,
                   float spread, float floor_psi)
{
    const ptrdiff_t m = k;
    if (has_prev && w_next != NULL)
        kalman_loop(m, w, psi, x, x2, e, inv, floor_, pw, w_next, q, spread, floor_psi, 1, 1);
    else if (has_prev)
        kalman_loop(m, w, psi, x, x2, e, inv, floor_, pw, w_next, q, spread, floor_psi, 1, 0);
    else if (w_next != NULL)
        kalman_loop(m, w, psi, x, x2, e, inv, floor_, pw, w_next, q, spread, floor_psi, 0, 1);
    else
        kalman_loop(m, w, psi, x, x2, e, inv, floor_, pw, w_next, q, spread, floor_psi, 0, 0);
}

CA_MULTIVERSION void ca_aec_gain(int k, float *restrict rrev, float *restrict see_s,
                 float *restrict rs, float *restrict g, float *restrict nf,
                 float *restrict out, const float *restrict wl, const float *restrict x2b,
                 const float *restrict syy, const float *restrict px,
                 const float *restrict see, const float *restrict e,
                 float gamma, float leak, float kres, float supp, float gmin, float tiny)
{
    const ptrdiff_t m = k;
    for (ptrdiff_t i = 0; i < m; i++) {
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

CA_MULTIVERSION void ca_aec_window(int n, float *restrict out, const float *restrict wa,
                                   const float *restrict prev, const float *restrict cur)
{
    const ptrdiff_t m = n;
    for (ptrdiff_t i = 0; i < m; i++) {
        out[i] = wa[i] * prev[i];
        out[m + i] = wa[m + i] * cur[i];
    }
}

CA_MULTIVERSION double ca_aec_sumsq(int n, const float *restrict x)
{
    const ptrdiff_t m = n;
    double s[4] = {0.0, 0.0, 0.0, 0.0};
    ptrdiff_t i = 0;
    for (; i + 4 <= m; i += 4)
        for (int j = 0; j < 4; j++)
            s[j] += (double)(x[i + j] * x[i + j]);
    for (; i < m; i++)
        s[0] += (double)(x[i] * x[i]);
    return (s[0] + s[1]) + (s[2] + s[3]);
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

CA_MULTIVERSION void ca_aec_error(int n, float *restrict y, float *restrict e,
                                  const float *restrict t, const float *restrict mic)
{
    const ptrdiff_t m = n;
    for (ptrdiff_t i = 0; i < m; i++) {
        y[i] = t[i];
        e[i] = mic[i] - t[i];
    }
}

CA_MULTIVERSION void ca_aec_gain_inv(int k, float *restrict phi, float *restrict inv,
                                     const float *restrict e, const float *restrict px,
                                     double lambda, double delta, double tiny)
{
    const ptrdiff_t m = k;
    for (ptrdiff_t i = 0; i < m; i++) {
        double er = e[2 * i], ei = e[2 * i + 1];
        float ph = (float)(lambda * phi[i] + (1.0 - lambda) * (er * er + ei * ei) + tiny);
        phi[i] = ph;
        inv[i] = (float)(1.0 / (0.5 * px[i] + ph + delta));
    }
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

/* The peak search runs on the bit patterns: for |t| (sign bit cleared) the unsigned integer
 * order is the float order, an integer max reduction vectorises, and any pattern at or above
 * that of +Inf is a non-finite sample. */
CA_MULTIVERSION int ca_aec_peak_and_zero(int n, float *restrict t, float *peak)
{
    const ptrdiff_t m = n;
    uint32_t mx = 0;
    for (ptrdiff_t i = 0; i < m; i++) {
        uint32_t u;
        memcpy(&u, &t[i], sizeof u);
        u &= 0x7fffffffu;
        mx = (u > mx) ? u : mx;
    }
    for (ptrdiff_t i = 0; i < m; i++)
        t[m + i] = 0.0f;
    if (mx >= 0x7f800000u) {
        *peak = NAN;
        return 0;
    }
    memcpy(peak, &mx, sizeof mx);
    for (ptrdiff_t i = 0; i < m; i++) {
        uint32_t u;
        memcpy(&u, &t[i], sizeof u);
        if ((u & 0x7fffffffu) == mx)
            return (int)i;
    }
    return 0;
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

CA_MULTIVERSION int ca_aec_delay_corr(int L, int H, int slot, int nb, const float *restrict ffr,
                                      const double *restrict ffe, const double *restrict fm,
                                      double a, double M, double *restrict C,
                                      double *restrict F, int valid, int lag, double tiny,
                                      double *restrict rbest_out, double *restrict rlag_out)
{
    int best = 0;
    double rbest = -2.0, rlag = -2.0;
    for (ptrdiff_t lg = 0; lg < L; lg++) {
        ptrdiff_t idx = (ptrdiff_t)slot - lg;
        if (idx < 0)
            idx += H;
        const float *restrict h = ffr + idx * nb;
        /* h.fm in four lanes (band b -> lane b % 4): four independent add chains */
        double c4[4] = {0.0, 0.0, 0.0, 0.0};
        ptrdiff_t b = 0;
        for (; b + 4 <= nb; b += 4)
            for (int j = 0; j < 4; j++)
                c4[j] += h[b + j] * fm[b + j];
        for (; b < nb; b++)
            c4[0] += h[b] * fm[b];
        double c = (c4[0] + c4[1]) + (c4[2] + c4[3]);
        double cl = a * C[lg] + c, fl = a * F[lg] + ffe[idx];
        if (fabs(cl) < tiny)
            cl = 0.0;
        if (fl < tiny)
            fl = 0.0;
        C[lg] = cl;
        F[lg] = fl;
        if (lg < valid) {
            double rho = cl / sqrt(fl * M + 1e-12);
            if (rho > rbest) {
                rbest = rho;
                best = (int)lg;
            }
            if (lg == lag)
                rlag = rho;
        }
    }
    *rbest_out = rbest;
    *rlag_out = rlag;
    return best;
}
