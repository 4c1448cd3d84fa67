/* Polyphase kernels of the cosine-modulated filter bank (see bands.pyx for the design).
 *
 * Notation: M bands, prototype p of N = 2 M K taps, nb = frame / M samples per band.
 * The modulation c_k[n] has c_k[n + 2M] = -c_k[n], so with n = j + 2 M l
 * (j < 2M, l < K) every filter is the 2M polyphase branches q_j[l] = (-1)^l p[j + 2Ml]
 * followed by a 2M x M cosine matrix.  Each branch sums its K taps over shifted copies of
 * one of the M input phases (x_r[i] = x[i M + r]), and each matrix row its 2M (or M)
 * branches, one output sample at a time in a loop over the frame: no reduction across
 * samples, so it vectorises without -ffast-math, and every sample gets its additions in
 * the order of K axpys over the frame.
 *
 * State: xs holds M input phases, ws the 2M synthesis branch inputs, each a row of
 * H + nb floats whose first H = 2K are the previous frames' tail. */
#include <stddef.h>
#include <string.h>

#include "bands_impl.h"
#include "ca_multiversion.h"

/* y[i] (+)= a[0] x[i] + a[1] x[i - 2] + ... + a[L - 1] x[i - 2 (L - 1)], added in that
 * order from 0 (add: from y[i]): what L axpys over shifted x give, bit for bit, in one
 * pass over y.  Called with L = 8 (the bank's K) as a constant, so it vectorises. */
CA_INLINE void fir2(ptrdiff_t n, int L, const float* restrict a, const float* restrict x,
                    float* restrict y, int add) {
    for (ptrdiff_t i = 0; i < n; i++) {
        float acc = add ? y[i] : 0.0f;
        for (int l = 0; l < L; l++) acc += a[l] * x[i - 2 * l];
        y[i] = acc;
    }
}

CA_INLINE void fir2_k(ptrdiff_t n, int L, const float* a, const float* x, float* y, int add) {
    if (L == 8 && add)
        fir2(n, 8, a, x, y, 1);
    else if (L == 8)
        fir2(n, 8, a, x, y, 0);
    else
        fir2(n, L, a, x, y, add);
}

/* y[i] = c[0] x[i] + c[1] x[stride + i] + ... + c[J - 1] x[(J - 1) stride + i], added in
 * that order from 0 (what J axpys into a zeroed y give, bit for bit), in one pass; J (the
 * cosine matrix's width: 2, 3, 4 or 6) a constant in each call, so it vectorises. */
CA_INLINE void mix(ptrdiff_t n, int J, const float* restrict c, const float* restrict x,
                   ptrdiff_t stride, float* restrict y) {
    for (ptrdiff_t i = 0; i < n; i++) {
        float acc = 0.0f;
        for (int j = 0; j < J; j++) acc += c[j] * x[j * stride + i];
        y[i] = acc;
    }
}

CA_INLINE void mix_k(ptrdiff_t n, int J, const float* c, const float* x, ptrdiff_t stride,
                     float* y) {
    switch (J) {
    case 2: mix(n, 2, c, x, stride, y); break;
    case 3: mix(n, 3, c, x, stride, y); break;
    case 4: mix(n, 4, c, x, stride, y); break;
    case 6: mix(n, 6, c, x, stride, y); break;
    default: mix(n, J, c, x, stride, y); break;
    }
}

/* d_r[i] = x[i M + r] (r < M) and back, with M = 2 and 3 (32 and 48 kHz) as constants and
 * ptrdiff_t indices so the strided copies vectorise. */
CA_INLINE void split_phases(ptrdiff_t nb, int M, const float* restrict x, float* d, ptrdiff_t row) {
    if (M == 3) {
        float* restrict d0 = d;
        float* restrict d1 = d + row;
        float* restrict d2 = d + 2 * row;
        for (ptrdiff_t i = 0; i < nb; i++) {
            d0[i] = x[3 * i];
            d1[i] = x[3 * i + 1];
            d2[i] = x[3 * i + 2];
        }
    } else if (M == 2) {
        float* restrict d0 = d;
        float* restrict d1 = d + row;
        for (ptrdiff_t i = 0; i < nb; i++) {
            d0[i] = x[2 * i];
            d1[i] = x[2 * i + 1];
        }
    } else {
        for (ptrdiff_t r = 0; r < M; r++)
            for (ptrdiff_t i = 0; i < nb; i++) d[r * row + i] = x[i * M + r];
    }
}

CA_INLINE void join_phases(ptrdiff_t nb, int M, const float* s, float* restrict y) {
    if (M == 3) {
        const float* restrict s0 = s;
        const float* restrict s1 = s + nb;
        const float* restrict s2 = s + 2 * nb;
        for (ptrdiff_t i = 0; i < nb; i++) {
            y[3 * i] = s0[i];
            y[3 * i + 1] = s1[i];
            y[3 * i + 2] = s2[i];
        }
    } else if (M == 2) {
        const float* restrict s0 = s;
        const float* restrict s1 = s + nb;
        for (ptrdiff_t i = 0; i < nb; i++) {
            y[2 * i] = s0[i];
            y[2 * i + 1] = s1[i];
        }
    } else {
        for (ptrdiff_t r = 0; r < M; r++)
            for (ptrdiff_t i = 0; i < nb; i++) y[i * M + r] = s[r * nb + i];
    }
}

CA_MULTIVERSION
void ca_bands_analysis(int M, int K, int nb, int kmax, const float* x, float* v,
                       float* xs, float* u, const float* q, const float* cmod) {
    const int H = 2 * K, row = H + nb;
    split_phases(nb, M, x, xs + H, row);
    /* v_k[m] = sum_n h_k[n] x[m M + M - 1 - n]: branch j reads phase (M - 1 - j) mod M,
     * one block earlier for j >= M */
    for (int j = 0; j < 2 * M; j++) {
        const int r = j < M ? M - 1 - j : 2 * M - 1 - j, s = j < M ? 0 : 1;
        const float* src = xs + r * row + H - s;
        fir2_k(nb, K, q + j * K, src, u + j * nb, 0);
    }
    for (int k = 0; k < kmax; k++) mix_k(nb, 2 * M, cmod + k * 2 * M, u, nb, v + k * nb);
    for (int r = 0; r < M; r++) memmove(xs + r * row, xs + r * row + nb, H * sizeof(float));
}

CA_MULTIVERSION
void ca_bands_synthesis(int M, int K, int nb, const float* v, float* y, float* ws,
                        float* yr, const float* q, const float* cmod) {
    const int H = 2 * K, row = H + nb;
    /* branch inputs w_j[m] = sum_k f-modulation[k][j] v_k[m] (cmod: 2M x M, gain M in it) */
    for (int j = 0; j < 2 * M; j++) {
        mix_k(nb, M, cmod + j * M, v, nb, ws + j * row + H);
    }
    /* y[i M + r] = sum_{t, l} q_j[l] w_j[i - e - t - 2l], j = (r + 1) mod M + t M,
     * e = 1 for r < M - 1 (block m's output starts at sample m M + M - 1) */
    for (int r = 0; r < M; r++) {
        const int e = r < M - 1 ? 1 : 0;
        for (int t = 0; t < 2; t++) {
            const int j = (r + 1) % M + t * M;
            const float* src = ws + j * row + H - e - t;
            fir2_k(nb, K, q + j * K, src, yr + r * nb, t);
        }
    }
    join_phases(nb, M, yr, y);
    for (int j = 0; j < 2 * M; j++) memmove(ws + j * row, ws + j * row + nb, H * sizeof(float));
}
