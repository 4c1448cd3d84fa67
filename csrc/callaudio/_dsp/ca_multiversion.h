/* Function multiversioning for the plain-C kernels (aec_impl.c, fft_impl.c).
 *
 * Portable wheels are built without -march; on x86-64 Linux with glibc (ifunc) GCC emits an
 * AVX2 clone of each CA_MULTIVERSION function next to the baseline one and picks one at load
 * time.  No FMA contraction happens (-std=c99 implies -ffp-contract=off) and the operations
 * per element are the same, so both clones give bit-identical results.  Elsewhere (Clang,
 * musl, other CPUs, MSVC) CA_MULTIVERSION expands to nothing. */
#ifndef CA_MULTIVERSION_H
#define CA_MULTIVERSION_H

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__GLIBC__) \
    && defined(__has_attribute)
#if __has_attribute(target_clones)
#define CA_MULTIVERSION __attribute__((target_clones("avx2", "default")))
#endif
#endif
#ifndef CA_MULTIVERSION
#define CA_MULTIVERSION
#endif

/* Forced inlining, so helpers are compiled into each clone of their caller. */
#if defined(__GNUC__)
#define CA_INLINE static inline __attribute__((always_inline))
#else
#define CA_INLINE static inline
#endif

#endif
