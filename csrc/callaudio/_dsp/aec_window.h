/* The low-delay analysis window of the echo canceller, used by its filter (aec.pyx) and its
 * suppressor (aec_suppressor.pyx): out[0:n] = wa[0:n] prev, out[n:2n] = wa[n:2n] cur; and
 * the suppressor's gain on a spectrum framed by the noise suppressor (shared synthesis).
 * Element-wise products only, so every compilation of it gives the same bits. */
#ifndef CA_AEC_WINDOW_H
#define CA_AEC_WINDOW_H
#include <stddef.h>

static inline void ca_aec_window(int n, float *restrict out, const float *restrict wa,
                                   const float *restrict prev, const float *restrict cur)
{
    const ptrdiff_t m = n;
    for (ptrdiff_t i = 0; i < m; i++) {
        out[i] = wa[i] * prev[i];
        out[m + i] = wa[m + i] * cur[i];
    }
}

/* t[2i], t[2i+1] *= g[i] for i < k: a real gain on an interleaved spectrum. */
static inline void ca_aec_scale_spectrum(int k, float *restrict t, const float *restrict g)
{
    const ptrdiff_t m = k;
    for (ptrdiff_t i = 0; i < m; i++) {
        t[2 * i] *= g[i];
        t[2 * i + 1] *= g[i];
    }
}

#endif
