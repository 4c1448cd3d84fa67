/* Hot loops of the chain (pipeline.pyx), in plain C so the compiler can vectorise them. */
#ifndef CA_PIPELINE_IMPL_H
#define CA_PIPELINE_IMPL_H

/* One upper band of a band-split frame (pipeline.pyx, upper_bands_c), in double as the
 * Cython loop wrote it: out[i] = (line[i] (gs0 + dgs (i + 1)) + noise_i) (gp0 + dgp (i + 1)),
 * i < nb, where with comfort noise (noise != 0) noise_i = (a0 + da (i + 1)) (2 r_i / 2^32 - 1)
 * and r_i the xorshift32 sequence from r (Marsaglia 2003; drawn first into rs, nb values),
 * else 0.  Returns the generator's new state. */
unsigned int ca_upper_band(int nb, float *restrict out, const float *restrict line,
                           double gs0, double dgs, double gp0, double dgp, double a0,
                           double da, unsigned int r, int noise, unsigned int *restrict rs);

#endif
