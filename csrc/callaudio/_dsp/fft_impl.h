/* Plain-C99 core of callaudio._dsp.fft: a real FFT of even length n built on a
 * mixed-radix (4, 2, 3, 5) Stockham complex FFT of n/2 points.  See fft_impl.c. */
#ifndef CALLAUDIO_FFT_IMPL_H
#define CALLAUDIO_FFT_IMPL_H

/* Largest transform length a plan accepts (keeps every index in an int). */
#define CA_RFFT_MAX_N (1 << 24)

typedef struct ca_rfft ca_rfft;

/* 1 if n is even, 2 <= n <= CA_RFFT_MAX_N and n/2 = 2^a 3^b 5^c; else 0. */
int ca_rfft_supported(int n);

/* A plan (twiddles + work buffers) for length n; NULL if n is unsupported or out of
 * memory.  Free with ca_rfft_free.  A plan is not safe for concurrent use: its work
 * buffers are shared by every call. */
ca_rfft *ca_rfft_new(int n);
void ca_rfft_free(ca_rfft *plan);

/* x: n reals.  X: n + 2 floats = bins 0..n/2 as (re, im) pairs, unscaled
 * (numpy.fft.rfft).  x and X must not overlap. */
void ca_rfft_forward(ca_rfft *plan, const float *x, float *X);

/* X: n + 2 floats (the imaginary parts of bins 0 and n/2 are ignored; X is not written).
 * x: n reals scaled by 1/n (numpy.fft.irfft).  X and x must not overlap. */
void ca_rfft_inverse(ca_rfft *plan, const float *X, float *x);

#endif
