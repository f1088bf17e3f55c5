/* softntk diffusion: sample metrics (sliced W2, MMD, mode coverage) (see diffusion.h for the
 * process and conventions). */
#ifndef SOFTNTK_METRICS_H
#define SOFTNTK_METRICS_H

#include "softntk/target.h"

#include <mpi.h>
#include <stdint.h>

/* Collective over comm (work split by rank, sums reduced). Sliced Wasserstein-2 distance
 * sqrt(mean_j W2^2(<theta_j, A>, <theta_j, B>)) over L directions theta_j uniform on the sphere
 * (stream PROJ of seed); the 1-D distances are exact for the empirical laws (any sizes). */
int sntk_sliced_w2(MPI_Comm comm, int64_t na, const double *A, int64_t nb, const double *B,
                   int64_t d, int64_t L, uint64_t seed, double *sw2);

/* Collective over comm. Maximum mean discrepancy sqrt(MMD^2) (biased V-statistic, so zero for
 * identical samples) with the RBF kernel exp(-||x - y||^2 / (2 h^2)), h the median distance between
 * the pooled points (of at most 1000 from each sample); h is returned in *bandwidth. */
int sntk_mmd_rbf(MPI_Comm comm, int64_t na, const double *A, int64_t nb, const double *B, int64_t d,
                 double *mmd, double *bandwidth);

/* Not collective. sqrt of the p-quantile of the chi-square law with d degrees of freedom: the
 * radius holding a share p of a standard normal in d dimensions. */
double sntk_chi_quantile(int64_t d, double p);

/* Not collective. The radius around alpha_t0 mu_c within which a share p of the samples of
 * component c at the sampler's end time t0 lie: sqrt(alpha^2 s^2 + sigma^2) times the chi_d
 * p-quantile (s the mixture width; alpha, sigma of t0). */
double sntk_mode_radius(const sntk_target_t *tg, double t0, double p);

/* Not collective. Coverage of a mixture by radius: frac[c] = share of the n samples X (at time t0)
 * within `radius` of alpha_t0 mu_c; *inside = share within the radius of any mode; *covered =
 * modes whose share is at least half their weight. A Gaussian blob between the modes covers none.
 */
void sntk_mode_coverage(const sntk_target_t *tg, double t0, double radius, int64_t n,
                        const double *X, double *frac, double *inside, int64_t *covered);

#endif
