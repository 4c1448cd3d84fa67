/* The chain's input/output guards as loops the compiler vectorises (pipeline.pyx).
 * Non-finite is tested on the bits (exponent all ones), an integer sum that vectorises
 * without -ffast-math; the clamp is a compare-and-select per sample. */
#ifndef CA_GUARD_H
#define CA_GUARD_H

#include <stdint.h>
#include <string.h>

#include "ca_multiversion.h"

/* How many of x[0..n) are NaN or +-Inf. */
CA_MULTIVERSION static int ca_count_nonfinite(const float* x, int n) {
    int bad = 0;
    for (int i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, x + i, sizeof u);
        bad += (u & 0x7f800000u) == 0x7f800000u;
    }
    return bad;
}

/* y[i] = x[i] clamped to [-c, c] (x finite; y may be x). */
CA_MULTIVERSION static void ca_clamp_copy(const float* x, float* y, int n, float c) {
    for (int i = 0; i < n; i++) {
        float v = x[i];
        v = v > c ? c : v;
        y[i] = v < -c ? -c : v;
    }
}

/* Mean square of x[0..n) in double (eight float lanes, summed in double per frame). */
CA_MULTIVERSION static double ca_mean_square(const float* x, int n) {
    float lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) lane[j] += x[i + j] * x[i + j];
    double acc = 0.0;
    for (int j = 0; j < 8; j++) acc += lane[j];
    for (; i < n; i++) acc += (double)x[i] * x[i];
    return n > 0 ? acc / n : 0.0;
}

#endif
