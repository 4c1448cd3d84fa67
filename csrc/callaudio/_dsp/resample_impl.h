/* The resampler's per-frame kernel (resample_impl.c). */
#ifndef CA_RESAMPLE_IMPL_H
#define CA_RESAMPLE_IMPL_H

void ca_resample_frame(int n_out, int taps, const float* coef, const int* start,
                       const float* buf, float* y);

#endif
