/* Kernels of the cosine-modulated filter bank (bands.pyx). */
#ifndef CA_BANDS_IMPL_H
#define CA_BANDS_IMPL_H

/* Analysis of one frame: x (M nb samples) -> v (rows k < kmax of M x nb). */
void ca_bands_analysis(int M, int K, int nb, int kmax, const float* x, float* v,
                       float* xs, float* u, const float* q, const float* cmod);
/* Synthesis of one frame: v (M x nb) -> y (M nb samples). */
void ca_bands_synthesis(int M, int K, int nb, const float* v, float* y, float* ws,
                        float* yr, const float* q, const float* cmod);

#endif
