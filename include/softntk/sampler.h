/* softntk diffusion: score fields, samplers and the sample report (see diffusion.h for the process
 * and conventions). */
#ifndef SOFTNTK_SAMPLER_H
#define SOFTNTK_SAMPLER_H

#include "softntk/diffusion.h"
#include "softntk/model.h"
#include "softntk/process.h"
#include "softntk/target.h"

#include <mpi.h>
#include <stdint.h>

/* A score field: s (n x d) at time t for the n points X (n x d). Collective when it evaluates the
 * network. */
typedef int (*sntk_score_fn)(void *ctx, double t, int64_t n, const double *X, double *S);

/* The learned score s = (alpha_t f(z(x, t)) - x) / sigma_t^2 of a network (ctx for
 * sntk_score_learned: workspace for `n` points, made by sntk_learned_create). */
typedef struct sntk_learned {
  sntk_model_t *md;
  const sntk_diff_map_t *map;
  int64_t n;
  double *Z, *F;
} sntk_learned_t;
int sntk_learned_create(sntk_model_t *md, const sntk_diff_map_t *map, int64_t n,
                        sntk_learned_t *out);
void sntk_learned_free(sntk_learned_t *ln);
int sntk_score_learned(void *ctx, double t, int64_t n, const double *X, double *S);
/* The exact score of a mixture (ctx is the sntk_target_t). Not collective. */
int sntk_score_exact(void *ctx, double t, int64_t n, const double *X, double *S);

/* The sampler's settings. */
typedef struct sntk_sampler {
  int kind;      /* SNTK_SAMPLER_SDE (Euler-Maruyama) or SNTK_SAMPLER_ODE (Heun) */
  int grid;      /* SNTK_TGRID_* */
  int64_t steps; /* K */
  double t0, T;
  uint64_t seed; /* stream SAMPLE: x_T ~ N(0, I) and the noise of sample i */
} sntk_sampler_t;

/* Not collective. The K + 1 time points t_0 = T > t_1 > ... > t_K = t0. */
void sntk_sampler_times(const sntk_sampler_t *sp, double *times);

/* Collective when fn is. Generate n samples into X (n x d) from x_T ~ N(0, I) by K steps of the
 * reverse SDE dx = (x + 2 s) dtau + sqrt(2) dW (Euler-Maruyama) or the probability-flow ODE
 * dx/dtau = x + s (Heun), tau = T - t. Sample i uses its own stream, so two runs with different
 * score fields see the same x_T and noise. */
int sntk_sampler_run(const sntk_sampler_t *sp, sntk_score_fn fn, void *ctx, int64_t n, int64_t d,
                     double *X);

struct sntk_results;

/* Collective. Sample with the learned score of md, and beside it the baselines: the exact score
 * (mixtures), N(0, I), the moment-matched Gaussian and, when `kernel` is given (a score field with
 * ctx kernel_ctx, e.g. kernel regression with H*), that field; compute the metrics of every set
 * against the same fresh target samples and noise floor and write the group /samples of res.
 * `step` is the training step of the weights. */
int sntk_diffusion_sample_report(MPI_Comm comm, const sntk_diffusion_cfg_t *cfg, uint64_t seed,
                                 const sntk_target_t *tg, const sntk_diff_map_t *map,
                                 sntk_model_t *md, sntk_score_fn kernel, void *kernel_ctx,
                                 int64_t step, struct sntk_results *res);

#endif
