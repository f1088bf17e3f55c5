/* softntk diffusion: the data distribution p_0 and its exact score (see diffusion.h for the process
 * and conventions). */
#ifndef SOFTNTK_TARGET_H
#define SOFTNTK_TARGET_H

#include "softntk/diffusion.h"
#include "softntk/rng.h"

#include <mpi.h>
#include <stdint.h>

/* The data distribution p_0. Global: identical on every rank. */
typedef struct sntk_target {
  int kind;        /* SNTK_DIFF_* */
  int64_t d;       /* dimension */
  int64_t C;       /* components (gmm) */
  double *mu;      /* C x d means */
  double *w;       /* C weights, summing to 1 */
  double *logw;    /* their logarithms */
  double width;    /* shared standard deviation s */
  int64_t rows;    /* file: samples held */
  double *data;    /* file: rows x d */
  double msq;      /* E ||x_0||^2 */
  double *scratch; /* C values of workspace for the functions below (so they are not reentrant) */
} sntk_target_t;

/* Collective. The target of cfg: mixture means from the layout (ring: evenly spaced on a circle in
 * the first two coordinates; random: uniform on the sphere, stream MEANS of `seed`), or the file's
 * samples read by rank 0 and broadcast. `dim_given`: diffusion.dim was set explicitly (a file must
 * then have that many columns). SNTK_ERR_INPUT naming the key or file on bad input. */
int sntk_target_create(MPI_Comm comm, const sntk_diffusion_cfg_t *cfg, uint64_t seed, int dim_given,
                       sntk_target_t **out);
void sntk_target_destroy(sntk_target_t **tg);

/* Not collective. Is the score known in closed form (a mixture)? */
int sntk_target_exact(const sntk_target_t *tg);

/* Not collective. Draw x_0 from the stream s (a mixture: a component by its weight, then the mean
 * plus width times d normals; a file: a row uniformly). */
void sntk_target_draw(const sntk_target_t *tg, sntk_rng_t *s, double *x0);

/* Not collective, not reentrant (they share tg->scratch); mixtures only, t > 0 (or width > 0).
 * The noised law p_t is the mixture of N(alpha_t mu_c, v_t I), v_t = alpha_t^2 s^2 + sigma_t^2:
 * its log-density at x, its score grad log p_t(x) and the posterior mean E[x_0 | x_t = x]. `resp`
 * (C values, may be NULL) receives the posterior component weights. */
double sntk_target_log_density(const sntk_target_t *tg, double t, const double *x);
void sntk_target_score(const sntk_target_t *tg, double t, const double *x, double *score);
void sntk_target_posterior_mean(const sntk_target_t *tg, double t, const double *x, double *f,
                                double *resp);

/* Not collective. Index of the mean nearest to x and its distance (mixtures). */
int64_t sntk_target_nearest(const sntk_target_t *tg, const double *x, double *dist);

#endif
