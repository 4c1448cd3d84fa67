/* The echo canceller's delay-estimator correlation (aec_delay.pyx); declared in aec_impl.h. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "aec_impl.h"
#include "ca_multiversion.h"

CA_MULTIVERSION int ca_aec_delay_corr(int L, int H, int slot, int nb, const float *restrict ffr,
                                      const double *restrict ffe, const double *restrict fm,
                                      double a, double M, double *restrict C,
                                      double *restrict F, int valid, int lag, double tiny,
                                      double *restrict rbest_out, double *restrict rlag_out)
{
    int best = 0;
    double rbest = -2.0, rlag = -2.0;
    for (ptrdiff_t lg = 0; lg < L; lg++) {
        ptrdiff_t idx = (ptrdiff_t)slot - lg;
        if (idx < 0)
            idx += H;
        const float *restrict h = ffr + idx * nb;
        /* h.fm in four lanes (band b -> lane b % 4): four independent add chains */
        double c4[4] = {0.0, 0.0, 0.0, 0.0};
        ptrdiff_t b = 0;
        for (; b + 4 <= nb; b += 4)
            for (int j = 0; j < 4; j++)
                c4[j] += h[b + j] * fm[b + j];
        for (; b < nb; b++)
            c4[0] += h[b] * fm[b];
        double c = (c4[0] + c4[1]) + (c4[2] + c4[3]);
        double cl = a * C[lg] + c, fl = a * F[lg] + ffe[idx];
        if (fabs(cl) < tiny)
            cl = 0.0;
        if (fl < tiny)
            fl = 0.0;
        C[lg] = cl;
        F[lg] = fl;
        if (lg < valid) {
            double rho = cl / sqrt(fl * M + 1e-12);
            if (rho > rbest) {
                rbest = rho;
                best = (int)lg;
            }
            if (lg == lag)
                rlag = rho;
        }
    }
    *rbest_out = rbest;
    *rlag_out = rlag;
    return best;
}
