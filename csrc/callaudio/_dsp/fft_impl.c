/* Real FFT of even length n (n/2 = 2^a 3^b 5^c), single precision, written for callaudio.
 *
 * Algorithm
 * ---------
 * 1. Complex FFT of m = n/2 points of z[j] = x[2j] + i x[2j+1], then the standard
 *    split pass X[k] = E[k] + W_n^k O[k], E = (Z[k] + conj Z[m-k]) / 2,
 *    O = (Z[k] - conj Z[m-k]) / 2i  (Cooley, Lewis & Welch, "The fast Fourier transform
 *    algorithm: programming considerations in the calculation of sine, cosine and Laplace
 *    transforms", J. Sound Vib. 12(3), 1970; also Sorensen et al., "Real-valued fast
 *    Fourier transform algorithms", IEEE Trans. ASSP 35(6), 1987).  The inverse runs the
 *    same steps backwards.
 * 2. The complex FFT is a mixed-radix (8, 4, 2, 3, 5) decimation-in-frequency Stockham
 *    autosort FFT (T. G. Stockham, as formulated in C. Van Loan, "Computational Frameworks
 *    for the Fast Fourier Transform", SIAM 1992, sec. 1.7): every pass reads one buffer
 *    and writes the other, no bit reversal.  Pass with radix r, stride s, span l = m/(s r):
 *        y[q + s (r p + k)] = W_{r l}^{p k} sum_j x[q + s (p + j l)] W_r^{j k}
 *    for p < l, q < s, k < r.  The inner loop runs over q (contiguous, vectorisable);
 *    the first pass (s = 1) runs over p instead.
 * 3. Data are kept split (separate real and imaginary arrays), so every inner loop is a
 *    plain float loop the compiler vectorises at -O3 without intrinsics (SSE2/NEON
 *    baseline, no -march flags).  The inverse complex FFT reuses the forward one through
 *    IDFT(Z) = swap(DFT(swap(Z))), where swap(a + ib) = b + ia is free in split form
 *    (exchange the two array pointers).
 * 4. The forward transform's first pass reads the real input directly as interleaved
 *    complex numbers, and the inverse's last pass writes the real output directly, so no
 *    separate (de)interleaving pass is needed.  Passes are ordered radix 8 first (fewest
 *    passes; chosen by instruction counts under callgrind), then 4, 2, 3, 5.
 *
 * Twiddles are computed in double precision and rounded once to float.  Units: n is a
 * number of samples; the transform is unscaled forward, 1/n-scaled inverse (numpy.fft).
 */
#include "fft_impl.h"

#include <math.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>

#define CA_MAX_STAGES 40

/* MSVC's C compiler spells C99's restrict __restrict in its default mode. */
#if defined(_MSC_VER) && !defined(__clang__)
#define restrict __restrict
#endif

/* Indices are ptrdiff_t, not int: with -fwrapv (CPython's build flags) 32-bit int
 * index arithmetic may wrap, which stops GCC from vectorising the loops. */
typedef ptrdiff_t ix;

/* Every element loop below writes each output once and never reads what it writes (the
 * q loops store R outputs at offsets k * s apart with s unknown at compile time; the
 * split passes read plan buffers and write others).  CA_IVDEP tells the compiler the
 * iterations are independent instead of letting it give up on run-time alias checks. */
#if defined(__clang__)
#define CA_IVDEP _Pragma("clang loop vectorize(assume_safety)")
#elif defined(__GNUC__)
#define CA_IVDEP _Pragma("GCC ivdep")
#else
#define CA_IVDEP
#endif

/* Instruction sets: see ca_multiversion.h (an AVX2 clone of the hot functions, about 1.45x
 * faster where available, bit-identical).  The pass kernels are CA_INLINE so that they are
 * compiled into each clone. */
#include "ca_multiversion.h"

typedef struct {
    int radix;        /* 2, 3, 4, 5 or 8 */
    ix s;             /* stride: product of the radices of earlier passes */
    ix l;             /* span: m / (s * radix) */
    const float *twr; /* (radix - 1) * l twiddles, twr[(k-1) l + p] = Re W^{p k} */
    const float *twi;
} ca_stage;

struct ca_rfft {
    int n;            /* real length */
    int m;            /* complex length n/2 */
    int nstages;
    ca_stage stage[CA_MAX_STAGES];
    float *fwr, *fwi; /* forward split twiddles: 0.5 W_n^k, k < m */
    float *iwr, *iwi; /* inverse split twiddles: W_n^k / n, k < m */
    float *ar, *ai, *br, *bi; /* work buffers, m floats each */
    float *block;     /* the one allocation everything above points into */
};

int ca_rfft_supported(int n)
{
    if (n < 2 || n > CA_RFFT_MAX_N || (n & 1)) {
        return 0;
    }
    int m = n / 2;
    while (m % 2 == 0) m /= 2;
    while (m % 3 == 0) m /= 3;
    while (m % 5 == 0) m /= 5;
    return m == 1;
}

/* W_N^e = exp(-2 pi i e / N) in double, e reduced mod N first for accuracy. */
static void twiddle(long e, long N, double *re, double *im)
{
    const double two_pi = 6.283185307179586476925286766559;
    e %= N;
    double a = two_pi * (double)e / (double)N;
    *re = cos(a);
    *im = -sin(a);
}

ca_rfft *ca_rfft_new(int n)
{
    if (!ca_rfft_supported(n)) {
        return NULL;
    }
    ca_rfft *p = (ca_rfft *)calloc(1, sizeof(ca_rfft));
    if (p == NULL) {
        return NULL;
    }
    const int m = n / 2;
    p->n = n;
    p->m = m;

    /* Factor m = 2^a 3^b 5^c into passes: as many radix-8 passes as possible (fewest
     * passes over memory; a leftover 2^1 is taken as 4 * 4 instead of 8 * 2), then 4, 2,
     * 3, 5.  This order gave the fewest instructions (callgrind) for the pipeline sizes.
     * For even m the first pass then has radix 2, 4 or 8, whose interleaving stores
     * vectorise; radix 3 or 5 comes first only for odd m (small n). */
    int radices[CA_MAX_STAGES];
    int ns = 0, rest = m, a = 0;
    while (rest % 2 == 0) { a++; rest /= 2; }
    int n8 = a / 3, n4 = 0, n2 = 0;
    if (a % 3 == 2) {
        n4 = 1;
    } else if (a % 3 == 1) {
        if (n8 > 0) { n8--; n4 = 2; } else { n2 = 1; }
    }
    while (n8-- > 0) radices[ns++] = 8;
    while (n4-- > 0) radices[ns++] = 4;
    while (n2-- > 0) radices[ns++] = 2;
    while (rest % 3 == 0) { radices[ns++] = 3; rest /= 3; }
    while (rest % 5 == 0) { radices[ns++] = 5; rest /= 5; }
    p->nstages = ns;

    size_t ntw = 0;
    {
        int s = 1;
        for (int i = 0; i < ns; i++) {
            int l = m / (s * radices[i]);
            ntw += (size_t)(radices[i] - 1) * (size_t)l;
            s *= radices[i];
        }
    }
    /* Work buffers (4), split twiddles (4), stage twiddles (2 per stage), each starting on
     * a multiple of 8 floats (32 bytes) from calloc's 16-byte aligned block. */
    const size_t mp = ((size_t)m + 7) & ~(size_t)7;
    size_t total = 8 * mp + 2 * ntw + 16 * (size_t)ns;
    p->block = (float *)calloc(total, sizeof(float));
    if (p->block == NULL) {
        free(p);
        return NULL;
    }
    float *cur = p->block;
    p->ar = cur; cur += mp;
    p->ai = cur; cur += mp;
    p->br = cur; cur += mp;
    p->bi = cur; cur += mp;
    p->fwr = cur; cur += mp;
    p->fwi = cur; cur += mp;
    p->iwr = cur; cur += mp;
    p->iwi = cur; cur += mp;

    int s = 1;
    for (int i = 0; i < ns; i++) {
        const int r = radices[i];
        const int l = m / (s * r);
        ca_stage *st = &p->stage[i];
        st->radix = r;
        st->s = s;
        st->l = l;
        const size_t ntw_stage = (((size_t)(r - 1) * (size_t)l) + 7) & ~(size_t)7;
        float *twr = cur;
        cur += ntw_stage;
        float *twi = cur;
        cur += ntw_stage;
        for (int k = 1; k < r; k++) {
            for (ix q = 0; q < l; q++) {
                double wr, wi;
                twiddle((long)q * k, (long)r * l, &wr, &wi);
                twr[(k - 1) * l + q] = (float)wr;
                twi[(k - 1) * l + q] = (float)wi;
            }
        }
        st->twr = twr;
        st->twi = twi;
        s *= r;
    }
    for (int k = 0; k < m; k++) {
        double wr, wi;
        twiddle(k, n, &wr, &wi);
        p->fwr[k] = (float)(0.5 * wr);
        p->fwi[k] = (float)(0.5 * wi);
        p->iwr[k] = (float)(wr / n);
        p->iwi[k] = (float)(wi / n);
    }
    return p;
}

void ca_rfft_free(ca_rfft *plan)
{
    if (plan != NULL) {
        free(plan->block);
        free(plan);
    }
}

/* Butterflies: inputs a<j>r, a<j>i in scope; outputs y<k>r, y<k>i; W_r = e^{-2 pi i / r}. */

#define DFT2                                                                           \
    const float y0r = a0r + a1r, y0i = a0i + a1i;                                      \
    const float y1r = a0r - a1r, y1i = a0i - a1i;

#define DFT3                                                                           \
    const float t1r = a1r + a2r, t1i = a1i + a2i;                                      \
    const float d1r = (a1r - a2r) * C3_S, d1i = (a1i - a2i) * C3_S;                    \
    const float m1r = a0r - 0.5f * t1r, m1i = a0i - 0.5f * t1i;                        \
    const float y0r = a0r + t1r, y0i = a0i + t1i;                                      \
    const float y1r = m1r + d1i, y1i = m1i - d1r;                                      \
    const float y2r = m1r - d1i, y2i = m1i + d1r;

#define DFT4                                                                           \
    const float t0r = a0r + a2r, t0i = a0i + a2i;                                      \
    const float t1r = a0r - a2r, t1i = a0i - a2i;                                      \
    const float t2r = a1r + a3r, t2i = a1i + a3i;                                      \
    const float t3r = a1r - a3r, t3i = a1i - a3i;                                      \
    const float y0r = t0r + t2r, y0i = t0i + t2i;                                      \
    const float y2r = t0r - t2r, y2i = t0i - t2i;                                      \
    const float y1r = t1r + t3i, y1i = t1i - t3r;                                      \
    const float y3r = t1r - t3i, y3i = t1i + t3r;

#define DFT5                                                                           \
    const float t1r = a1r + a4r, t1i = a1i + a4i;                                      \
    const float t2r = a2r + a3r, t2i = a2i + a3i;                                      \
    const float d1r = a1r - a4r, d1i = a1i - a4i;                                      \
    const float d2r = a2r - a3r, d2i = a2i - a3i;                                      \
    const float y0r = a0r + t1r + t2r, y0i = a0i + t1i + t2i;                          \
    const float m1r = a0r + C5_C1 * t1r + C5_C2 * t2r;                                 \
    const float m1i = a0i + C5_C1 * t1i + C5_C2 * t2i;                                 \
    const float m2r = a0r + C5_C2 * t1r + C5_C1 * t2r;                                 \
    const float m2i = a0i + C5_C2 * t1i + C5_C1 * t2i;                                 \
    const float n1r = C5_S1 * d1r + C5_S2 * d2r, n1i = C5_S1 * d1i + C5_S2 * d2i;      \
    const float n2r = C5_S2 * d1r - C5_S1 * d2r, n2i = C5_S2 * d1i - C5_S1 * d2i;      \
    const float y1r = m1r + n1i, y1i = m1i - n1r;                                      \
    const float y4r = m1r - n1i, y4i = m1i + n1r;                                      \
    const float y2r = m2r + n2i, y2i = m2i - n2r;                                      \
    const float y3r = m2r - n2i, y3i = m2i + n2r;

#define DFT8                                                                           \
    const float e0r = a0r + a4r, e0i = a0i + a4i, e1r = a0r - a4r, e1i = a0i - a4i;    \
    const float e2r = a2r + a6r, e2i = a2i + a6i, e3r = a2r - a6r, e3i = a2i - a6i;    \
    const float o0r = a1r + a5r, o0i = a1i + a5i, o1r = a1r - a5r, o1i = a1i - a5i;    \
    const float o2r = a3r + a7r, o2i = a3i + a7i, o3r = a3r - a7r, o3i = a3i - a7i;    \
    const float E0r = e0r + e2r, E0i = e0i + e2i, E2r = e0r - e2r, E2i = e0i - e2i;    \
    const float E1r = e1r + e3i, E1i = e1i - e3r, E3r = e1r - e3i, E3i = e1i + e3r;    \
    const float O0r = o0r + o2r, O0i = o0i + o2i, O2r = o0r - o2r, O2i = o0i - o2i;    \
    const float O1r = o1r + o3i, O1i = o1i - o3r, O3r = o1r - o3i, O3i = o1i + o3r;    \
    const float P1r = (O1r + O1i) * C8_S, P1i = (O1i - O1r) * C8_S;                    \
    const float P3r = (O3i - O3r) * C8_S, P3i = -(O3r + O3i) * C8_S;                   \
    const float y0r = E0r + O0r, y0i = E0i + O0i, y4r = E0r - O0r, y4i = E0i - O0i;    \
    const float y1r = E1r + P1r, y1i = E1i + P1i, y5r = E1r - P1r, y5i = E1i - P1i;    \
    const float y2r = E2r + O2i, y2i = E2i - O2r, y6r = E2r - O2i, y6i = E2i + O2r;    \
    const float y3r = E3r + P3r, y3i = E3i + P3i, y7r = E3r - P3r, y7i = E3i - P3i;

#define C3_S 0.86602540378443864676f  /* sin(2 pi/3) */
#define C5_C1 0.30901699437494742410f /* cos(2 pi/5) */
#define C5_C2 -0.80901699437494742410f /* cos(4 pi/5) */
#define C5_S1 0.95105651629515357212f /* sin(2 pi/5) */
#define C5_S2 0.58778525229247312917f /* sin(4 pi/5) */
#define C8_S 0.70710678118654752440f  /* sin(pi/4) */

/* dst = y * w (complex) */
#define CMUL_STORE(dr, di, yr_, yi_, wr_, wi_)                                         \
    do {                                                                               \
        (dr) = (yr_) * (wr_) - (yi_) * (wi_);                                          \
        (di) = (yr_) * (wi_) + (yi_) * (wr_);                                          \
    } while (0)

/* Loads of input j:
 *   LD1  split input, first-pass order (s = 1): element p + j l;
 *   LDI  the real signal read as interleaved complex z = x[2i] + i x[2i+1], s = 1;
 *   LDQ  split input, general stride: element s p + j s l + q. */
#define LD1(j) const float a##j##r = xr[p + (j) * l], a##j##i = xi[p + (j) * l];
#define LDI(j)                                                                         \
    const float a##j##r = x[2 * (p + (j) * l)], a##j##i = x[2 * (p + (j) * l) + 1];
#define LDQ(j)                                                                         \
    const float a##j##r = xr[i0 + (j) * sl + q], a##j##i = xi[i0 + (j) * sl + q];

/* Stores of output k: ST1 / ST1W at R p + k (s = 1; W = twiddle of (p, k)); STQ / STQW
 * at R s p + k s + q (twiddle w<k> hoisted out of the q loop); STI into the interleaved
 * real output of the inverse, real and imaginary parts exchanged (see the inverse). */
#define ST1(k)                                                                         \
    yr[R * p + (k)] = y##k##r;                                                         \
    yi[R * p + (k)] = y##k##i;
#define ST1W(k)                                                                        \
    CMUL_STORE(yr[R * p + (k)], yi[R * p + (k)], y##k##r, y##k##i,                     \
               twr[((k) - 1) * l + p], twi[((k) - 1) * l + p]);
#define STQ(k)                                                                         \
    yr[o0 + (k) * s + q] = y##k##r;                                                    \
    yi[o0 + (k) * s + q] = y##k##i;
#define STQW(k)                                                                        \
    CMUL_STORE(yr[o0 + (k) * s + q], yi[o0 + (k) * s + q], y##k##r, y##k##i,           \
               w##k##r, w##k##i);
#define STI(k)                                                                         \
    out[2 * ((k) * s + q)] = y##k##i;                                                  \
    out[2 * ((k) * s + q) + 1] = y##k##r;

#define LOADS2(LD) LD(0) LD(1)
#define LOADS3(LD) LD(0) LD(1) LD(2)
#define LOADS4(LD) LD(0) LD(1) LD(2) LD(3)
#define LOADS5(LD) LD(0) LD(1) LD(2) LD(3) LD(4)
#define LOADS8(LD) LD(0) LD(1) LD(2) LD(3) LD(4) LD(5) LD(6) LD(7)
#define STORES2(ST0, STW) ST0(0) STW(1)
#define STORES3(ST0, STW) ST0(0) STW(1) STW(2)
#define STORES4(ST0, STW) ST0(0) STW(1) STW(2) STW(3)
#define STORES5(ST0, STW) ST0(0) STW(1) STW(2) STW(3) STW(4)
#define STORES8(ST0, STW) ST0(0) STW(1) STW(2) STW(3) STW(4) STW(5) STW(6) STW(7)
#define TWIDDLES2 const float w1r = twr[p], w1i = twi[p];
#define TWIDDLES3 TWIDDLES2 const float w2r = twr[l + p], w2i = twi[l + p];
#define TWIDDLES4 TWIDDLES3 const float w3r = twr[2 * l + p], w3i = twi[2 * l + p];
#define TWIDDLES5 TWIDDLES4 const float w4r = twr[3 * l + p], w4i = twi[3 * l + p];
#define TWIDDLES8                                                                      \
    TWIDDLES5 const float w5r = twr[4 * l + p], w5i = twi[4 * l + p];                  \
    const float w6r = twr[5 * l + p], w6i = twi[5 * l + p];                            \
    const float w7r = twr[6 * l + p], w7i = twi[6 * l + p];

/* The pass kernels of radix R:
 *   pass<R>   one Stockham pass, split in -> split out: the p loop when s = 1, else
 *             qpass<R> (q loops; the p = 0 block has unit twiddles).  s = 8 (the second
 *             pass after a radix-8 first pass) gets its own copy with s a compile-time
 *             constant: one AVX / two SSE vectors, no remainder code (~15% fewer
 *             instructions overall);
 *   first<R>  the first pass (s = 1) reading the real input as interleaved complex, so
 *             the forward transform needs no separate de-interleaving pass;
 *   last<R>   the last pass (l = 1, unit twiddles) writing the inverse's real output. */
#define DEFINE_PASSES(RX)                                                              \
    CA_INLINE void qpass##RX(ix s, ix l, const float *restrict xr,                     \
                           const float *restrict xi, float *restrict yr,               \
                           float *restrict yi, const float *restrict twr,              \
                           const float *restrict twi)                                  \
    {                                                                                  \
        enum { R = RX };                                                               \
        const ix sl = s * l;                                                           \
        for (ix p = 0; p < l; p++) {                                                   \
            const ix i0 = s * p, o0 = RX * s * p;                                      \
            if (p == 0) {                                                              \
                CA_IVDEP                                                               \
                for (ix q = 0; q < s; q++) {                                           \
                    LOADS##RX(LDQ) DFT##RX STORES##RX(STQ, STQ)                        \
                }                                                                      \
            } else {                                                                   \
                TWIDDLES##RX                                                           \
                CA_IVDEP                                                               \
                for (ix q = 0; q < s; q++) {                                           \
                    LOADS##RX(LDQ) DFT##RX STORES##RX(STQ, STQW)                       \
                }                                                                      \
            }                                                                          \
        }                                                                              \
    }                                                                                  \
    CA_INLINE void pass##RX(ix s, ix l, const float *restrict xr,                      \
                          const float *restrict xi, float *restrict yr,                \
                          float *restrict yi, const float *restrict twr,               \
                          const float *restrict twi)                                   \
    {                                                                                  \
        enum { R = RX };                                                               \
        if (s == 1) {                                                                  \
            CA_IVDEP                                                                   \
            for (ix p = 0; p < l; p++) {                                               \
                LOADS##RX(LD1) DFT##RX STORES##RX(ST1, ST1W)                           \
            }                                                                          \
        } else if (s == 8) {                                                           \
            qpass##RX(8, l, xr, xi, yr, yi, twr, twi);                                 \
        } else {                                                                       \
            qpass##RX(s, l, xr, xi, yr, yi, twr, twi);                                 \
        }                                                                              \
    }                                                                                  \
    CA_INLINE void first##RX(ix l, const float *restrict x, float *restrict yr,        \
                           float *restrict yi, const float *restrict twr,              \
                           const float *restrict twi)                                  \
    {                                                                                  \
        enum { R = RX };                                                               \
        CA_IVDEP                                                                       \
        for (ix p = 0; p < l; p++) {                                                   \
            LOADS##RX(LDI) DFT##RX STORES##RX(ST1, ST1W)                               \
        }                                                                              \
    }                                                                                  \
    CA_INLINE void last##RX(ix s, const float *restrict xr, const float *restrict xi,  \
                          float *restrict out)                                         \
    {                                                                                  \
        const ix i0 = 0, sl = s;                                                       \
        CA_IVDEP                                                                       \
        for (ix q = 0; q < s; q++) {                                                   \
            LOADS##RX(LDQ) DFT##RX STORES##RX(STI, STI)                                \
        }                                                                              \
    }

DEFINE_PASSES(2)
DEFINE_PASSES(3)
DEFINE_PASSES(4)
DEFINE_PASSES(5)
DEFINE_PASSES(8)

/* Forward complex FFT of the plan's m points.  Input: the split pair (ar, ai), or, if
 * in_il is not NULL, the interleaved complex array in_il.  (br, bi) is scratch (and (ar,
 * ai) too when in_il is given).  If out_sw is not NULL the last pass writes the result
 * into it interleaved with real and imaginary parts exchanged and -1 is returned;
 * otherwise the result is left split and the return value says where: 0 in (ar, ai),
 * 1 in (br, bi).  Needs at least one stage (m >= 2). */
CA_MULTIVERSION
static int cfft(const ca_rfft *plan, const float *in_il, float *ar, float *ai, float *br,
                float *bi, float *out_sw)
{
    float *xr = ar, *xi = ai, *yr = br, *yi = bi;
    const int ns = plan->nstages;
    for (int i = 0; i < ns; i++) {
        const ca_stage *st = &plan->stage[i];
        if (i == 0 && in_il != NULL) {
            switch (st->radix) {
            case 8: first8(st->l, in_il, yr, yi, st->twr, st->twi); break;
            case 4: first4(st->l, in_il, yr, yi, st->twr, st->twi); break;
            case 2: first2(st->l, in_il, yr, yi, st->twr, st->twi); break;
            case 3: first3(st->l, in_il, yr, yi, st->twr, st->twi); break;
            default: first5(st->l, in_il, yr, yi, st->twr, st->twi); break;
            }
        } else if (i == ns - 1 && out_sw != NULL) {
            switch (st->radix) {
            case 8: last8(st->s, xr, xi, out_sw); break;
            case 4: last4(st->s, xr, xi, out_sw); break;
            case 2: last2(st->s, xr, xi, out_sw); break;
            case 3: last3(st->s, xr, xi, out_sw); break;
            default: last5(st->s, xr, xi, out_sw); break;
            }
            return -1;
        } else {
            switch (st->radix) {
            case 8: pass8(st->s, st->l, xr, xi, yr, yi, st->twr, st->twi); break;
            case 4: pass4(st->s, st->l, xr, xi, yr, yi, st->twr, st->twi); break;
            case 2: pass2(st->s, st->l, xr, xi, yr, yi, st->twr, st->twi); break;
            case 3: pass3(st->s, st->l, xr, xi, yr, yi, st->twr, st->twi); break;
            default: pass5(st->s, st->l, xr, xi, yr, yi, st->twr, st->twi); break;
            }
        }
        float *tr = xr, *ti = xi;
        xr = yr;
        xi = yi;
        yr = tr;
        yi = ti;
    }
    return ns & 1;
}

/* X[k] = E + W^k O from Z[k] and Z[m-k] for 0 < k < m (see the header; the factor 1/2 of
 * O is folded into fw), and the real bins 0 and m. */
CA_MULTIVERSION
static void split_forward(ix m, const float *restrict zr, const float *restrict zi,
                          const float *restrict fwr, const float *restrict fwi,
                          float *restrict X)
{
    X[0] = zr[0] + zi[0];
    X[1] = 0.0f;
    X[2 * m] = zr[0] - zi[0];
    X[2 * m + 1] = 0.0f;
    CA_IVDEP
    for (ix k = 1; k < m; k++) {
        const float Ar = zr[k], Ai = zi[k], Br = zr[m - k], Bi = zi[m - k];
        const float Er = 0.5f * (Ar + Br), Ei = 0.5f * (Ai - Bi);
        const float Or = Ai + Bi, Oi = Br - Ar;
        X[2 * k] = Er + fwr[k] * Or - fwi[k] * Oi;
        X[2 * k + 1] = Ei + fwr[k] * Oi + fwi[k] * Or;
    }
}

void ca_rfft_forward(ca_rfft *plan, const float *restrict x, float *restrict X)
{
    const ix m = plan->m;
    const float *zr = plan->ar, *zi = plan->ai;
    if (plan->nstages == 0) {
        plan->ar[0] = x[0];
        plan->ai[0] = x[1];
    } else if (cfft(plan, x, plan->ar, plan->ai, plan->br, plan->bi, NULL) == 1) {
        zr = plan->br;
        zi = plan->bi;
    }
    split_forward(m, zr, zi, plan->fwr, plan->fwi, X);
}

/* Z = (E + i O) n with E = (X[k] + conj X[m-k]) / 2, O = (X[k] - conj X[m-k]) W^-k / 2
 * (the inverse of split_forward, scaled by 1/n through g and the iw twiddles). */
CA_MULTIVERSION
static void split_inverse(ix m, float g, const float *restrict X, const float *restrict iwr,
                          const float *restrict iwi, float *restrict br, float *restrict bi,
                          float *restrict zr, float *restrict zi)
{
    /* Split X into (br, bi) first: the loop below reads bin m - k, and reversed reads
     * vectorise on split arrays but not on the interleaved input. */
    CA_IVDEP
    for (ix k = 0; k < m; k++) {
        br[k] = X[2 * k];
        bi[k] = X[2 * k + 1];
    }
    zr[0] = g * (X[0] + X[2 * m]);
    zi[0] = g * (X[0] - X[2 * m]);
    CA_IVDEP
    for (ix k = 1; k < m; k++) {
        const float Ar = br[k], Ai = bi[k], Br = br[m - k], Bi = bi[m - k];
        const float Er = g * (Ar + Br), Ei = g * (Ai - Bi);
        const float Dr = Ar - Br, Di = Ai + Bi;
        const float Or = Dr * iwr[k] + Di * iwi[k];
        const float Oi = Di * iwr[k] - Dr * iwi[k];
        zr[k] = Er - Oi;
        zi[k] = Ei + Or;
    }
}

void ca_rfft_inverse(ca_rfft *plan, const float *restrict X, float *restrict x)
{
    const ix m = plan->m;
    split_inverse(m, 1.0f / (float)plan->n, X, plan->iwr, plan->iwi, plan->br, plan->bi,
                  plan->ar, plan->ai);
    if (plan->nstages == 0) {
        x[0] = plan->ar[0];
        x[1] = plan->ai[0];
        return;
    }
    /* Inverse DFT through the forward one with real and imaginary parts exchanged
     * (IDFT(Z) = swap(DFT(swap(Z)))); the last pass writes x[2j] = Re, x[2j+1] = Im of
     * the result, undoing the exchange. */
    cfft(plan, NULL, plan->ai, plan->ar, plan->bi, plan->br, x);
}
