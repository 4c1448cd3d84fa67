/* Portable 4-lane vectors for the kernels whose sums run in four interleaved lanes (bin i ->
 * lane i % 4): GCC (>= 9) and Clang vector extensions, with the same IEEE operations per
 * lane as the scalar code (no FMA contraction under -std=c99), so results are bit-identical.
 * CA_HAVE_VEC is 0 elsewhere (MSVC), where the scalar loops run. */
#ifndef CA_VEC_H
#define CA_VEC_H

#if defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 9)
#define CA_HAVE_VEC 1
typedef float v4f __attribute__((vector_size(16)));
typedef double v4d __attribute__((vector_size(32)));
#if defined(__clang__)
#define SHUF4(a, b, i0, i1, i2, i3) __builtin_shufflevector(a, b, i0, i1, i2, i3)
#else
typedef int v4i __attribute__((vector_size(16)));
#define SHUF4(a, b, i0, i1, i2, i3) __builtin_shuffle(a, b, (v4i){i0, i1, i2, i3})
#endif
#define CVT_V4D(x) __builtin_convertvector(x, v4d)
#define CVT_V4F(x) __builtin_convertvector(x, v4f)
#else
#define CA_HAVE_VEC 0
#endif

#endif
