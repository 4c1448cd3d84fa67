/* Hot loops of the echo canceller's partitioned Kalman filter (aec_filter.pyx); declared in
 * aec_impl.h. */
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

/* ca_aec_filter_acc without the uncertainty sum (for the kept copy, whose PX is unused). */
CA_MULTIVERSION void ca_aec_filter_acc_y(int k, float *restrict acc, const float *restrict w,
                                         const float *restrict x)
{
    const ptrdiff_t m = k;
    for (ptrdiff_t i = 0; i < m; i++) {
        float wr = w[2 * i], wi = w[2 * i + 1], xr = x[2 * i], xi = x[2 * i + 1];
        acc[2 * i] += wr * xr - wi * xi;
        acc[2 * i + 1] += wr * xi + wi * xr;
    }
}

/* One Kalman step over bins [0, m); nb_prev / nb_next select the neighbour terms (the callers
 * pass compile-time constants, so each variant is a branch-free loop).  pw holds |w_prev|^2 on
 * entry and |w|^2 (updated) on return, so the previous partition's power is not recomputed. */
static inline void kalman_loop(ptrdiff_t m, float *restrict w, float *restrict psi,
                               const float *restrict x, const float *restrict x2,
                               const float *restrict e, const float *restrict inv, float floor_,
                               float *restrict pw, const float *restrict w_next,
                               const float *restrict q, float spread, float floor_psi,
                               int nb_prev, int nb_next)
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
        psi[i] = (1.0f - q[i]) * p + q[i] * (w2 + spread * nb + floor_psi);
    }
}

CA_MULTIVERSION void ca_aec_kalman(int k, float *restrict w, float *restrict psi,
                   const float *restrict x, const float *restrict x2,
                   const float *restrict e, const float *restrict inv, float floor_,
                   float *restrict pw, int has_prev, const float *restrict w_next,
                   const float *restrict q, float spread, float floor_psi)
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
