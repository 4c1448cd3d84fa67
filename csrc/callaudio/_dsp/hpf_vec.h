/* Two channels' high-pass cascades in the two lanes of one SSE2 vector: per lane exactly
 * the scalar operations of hpf.pyx's sos_df2t_inplace, in the same order (separate IEEE
 * multiplies and adds, the same MXCSR rounding for the float32 conversions), so each
 * channel's output and state are bit-identical to running it alone.  Returns 0 (nothing
 * done) without SSE2; the caller then filters the channels one by one. */
#ifndef CA_HPF_VEC_H
#define CA_HPF_VEC_H

#include <stddef.h>

#include "ca_multiversion.h"

#if defined(__SSE2__) || defined(_M_X64)
#include <emmintrin.h>

/* fabs(z) < tiny -> +0.0, lane by lane (a NaN lane is kept: fabs(NaN) < tiny is false) */
CA_INLINE __m128d ca_hpf_flush2(__m128d z, __m128d tiny, __m128d sign) {
    return _mm_andnot_pd(_mm_cmplt_pd(_mm_andnot_pd(sign, z), tiny), z);
}

CA_INLINE __m128d ca_hpf_load2(const float* x0, const float* x1) {
    return _mm_cvtps_pd(_mm_unpacklo_ps(_mm_load_ss(x0), _mm_load_ss(x1)));
}

CA_INLINE void ca_hpf_store2(float* x0, float* x1, __m128 o) {
    _mm_store_ss(x0, o);
    _mm_store_ss(x1, _mm_shuffle_ps(o, o, 1));
}

/* One section, transposed direct form II, on both lanes: y from input v and the state
 * (z1, z2), which it advances (flushing tiny values as the scalar filter does). */
CA_INLINE __m128d ca_hpf_section2(__m128d v, __m128d* z1, __m128d* z2, __m128d b0, __m128d b1,
                                  __m128d b2, __m128d a1, __m128d a2, __m128d tiny,
                                  __m128d sign) {
    __m128d y = _mm_add_pd(_mm_mul_pd(b0, v), *z1);
    __m128d t = _mm_add_pd(_mm_mul_pd(b1, v), *z2);
    *z1 = ca_hpf_flush2(_mm_sub_pd(t, _mm_mul_pd(a1, y)), tiny, sign);
    *z2 = ca_hpf_flush2(_mm_sub_pd(_mm_mul_pd(b2, v), _mm_mul_pd(a2, y)), tiny, sign);
    return y;
}

/* the AVX2 clone only for the 3-operand (VEX) encoding: the same SSE2 operations */
CA_MULTIVERSION
static int ca_sos_df2t_x2(float* x0, float* x1, ptrdiff_t n, const double* coef,
                          double* s0, double* s1, int nsec, double tiny_) {
    const __m128d tiny = _mm_set1_pd(tiny_), sign = _mm_set1_pd(-0.0);
    const __m128d b0 = _mm_set1_pd(coef[0]), b1 = _mm_set1_pd(coef[1]);
    const __m128d b2 = _mm_set1_pd(coef[2]), a1 = _mm_set1_pd(coef[3]);
    const __m128d a2 = _mm_set1_pd(coef[4]);
    __m128d z1 = _mm_set_pd(s1[0], s0[0]), z2 = _mm_set_pd(s1[1], s0[1]);
    __m128d y;
    ptrdiff_t i;
    if (nsec == 1) {
        for (i = 0; i < n; i++) {
            y = ca_hpf_section2(ca_hpf_load2(x0 + i, x1 + i), &z1, &z2, b0, b1, b2, a1, a2,
                                tiny, sign);
            ca_hpf_store2(x0 + i, x1 + i, _mm_cvtpd_ps(y));
        }
    } else {
        const __m128d c0 = _mm_set1_pd(coef[5]), c1 = _mm_set1_pd(coef[6]);
        const __m128d c2 = _mm_set1_pd(coef[7]), d1 = _mm_set1_pd(coef[8]);
        const __m128d d2 = _mm_set1_pd(coef[9]);
        __m128d q1 = _mm_set_pd(s1[2], s0[2]), q2 = _mm_set_pd(s1[3], s0[3]), w;
        for (i = 0; i < n; i++) {
            y = ca_hpf_section2(ca_hpf_load2(x0 + i, x1 + i), &z1, &z2, b0, b1, b2, a1, a2,
                                tiny, sign);
            /* the scalar cascade passes float32 between sections */
            w = ca_hpf_section2(_mm_cvtps_pd(_mm_cvtpd_ps(y)), &q1, &q2, c0, c1, c2, d1, d2,
                                tiny, sign);
            ca_hpf_store2(x0 + i, x1 + i, _mm_cvtpd_ps(w));
        }
        _mm_storel_pd(s0 + 2, q1); _mm_storeh_pd(s1 + 2, q1);
        _mm_storel_pd(s0 + 3, q2); _mm_storeh_pd(s1 + 3, q2);
    }
    _mm_storel_pd(s0, z1); _mm_storeh_pd(s1, z1);
    _mm_storel_pd(s0 + 1, z2); _mm_storeh_pd(s1 + 1, z2);
    return 1;
}
#else
static inline int ca_sos_df2t_x2(float* x0, float* x1, ptrdiff_t n, const double* coef,
                                 double* s0, double* s1, int nsec, double tiny_) {
    (void)x0; (void)x1; (void)n; (void)coef; (void)s0; (void)s1; (void)nsec; (void)tiny_;
    return 0;
}
#endif

#endif
