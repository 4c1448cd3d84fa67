/* The resampler's per-frame kernel (resample.pyx): each output is a 2 half-tap dot
 * product with its own coefficient row, accumulated in eight lanes (taps j, j + 8, ...)
 * so that one vector multiply-add covers eight taps without -ffast-math; the lanes are
 * summed in a fixed order, so every build gives the same result. */
#include <string.h>

#include "ca_multiversion.h"
#include "resample_impl.h"

#if defined(__GNUC__)
typedef float ca_v8f __attribute__((vector_size(32)));

CA_MULTIVERSION
void ca_resample_frame(int n_out, int taps, const float* coef, const int* start,
                       const float* buf, float* y) {
    for (int i = 0; i < n_out; i++) {
        const float* c = coef + (long)i * taps;
        const float* b = buf + start[i];
        ca_v8f acc = {0, 0, 0, 0, 0, 0, 0, 0}, cv, bv;
        int k = 0;
        for (; k + 8 <= taps; k += 8) {
            memcpy(&cv, c + k, sizeof cv);
            memcpy(&bv, b + k, sizeof bv);
            acc += cv * bv;
        }
        float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
        for (; k < taps; k++) s += c[k] * b[k];
        y[i] = s;
    }
}
#else
void ca_resample_frame(int n_out, int taps, const float* coef, const int* start,
                       const float* buf, float* y) {
    for (int i = 0; i < n_out; i++) {
        const float* c = coef + (long)i * taps;
        const float* b = buf + start[i];
        float lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        int k = 0;
        for (; k + 8 <= taps; k += 8)
            for (int j = 0; j < 8; j++) lane[j] += c[k + j] * b[k + j];
        float s = ((lane[0] + lane[4]) + (lane[1] + lane[5])) +
                  ((lane[2] + lane[6]) + (lane[3] + lane[7]));
        for (; k < taps; k++) s += c[k] * b[k];
        y[i] = s;
    }
}
#endif
