/* Hot loops of the chain (pipeline.pyx); declared in pipeline_impl.h. */
#include <math.h>
#include <stddef.h>
#include "pipeline_impl.h"
#include "ca_multiversion.h"

CA_MULTIVERSION unsigned int ca_upper_band(int nb, float *restrict out,
                                           const float *restrict line, double gs0,
                                           double dgs, double gp0, double dgp, double a0,
                                           double da, unsigned int r, int noise,
                                           unsigned int *restrict rs)
{
    if (!noise) {
        for (int i = 0; i < nb; i++)
            out[i] = (float)(line[i] * (gs0 + dgs * (i + 1)) * (gp0 + dgp * (i + 1)));
        return r;
    }
    for (int i = 0; i < nb; i++) {
        r ^= r << 13;
        r ^= r >> 17;
        r ^= r << 5;
        rs[i] = r;
    }
    for (int i = 0; i < nb; i++)
        out[i] = (float)((line[i] * (gs0 + dgs * (i + 1))
                          + (a0 + da * (i + 1)) * (rs[i] * (2.0 / 4294967296.0) - 1.0))
                         * (gp0 + dgp * (i + 1)));
    return r;
}
