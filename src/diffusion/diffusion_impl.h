/* Internals shared by the files of the diffusion module (src/diffusion). Not part of the public
 * API. */
#ifndef SOFTNTK_DIFFUSION_IMPL_H
#define SOFTNTK_DIFFUSION_IMPL_H

#include "softntk/checkpoint.h"
#include "softntk/deck.h"
#include "softntk/diffusion.h"
#include "softntk/results.h"

/* Not collective. The normalised component weights of cfg (C values; equal when none are given). */
int sntk_diffusion_weights(const sntk_diffusion_cfg_t *cfg, double *w);

/* Not collective. The explicit means of cfg (C x dim values, component-major); diffusion.means must
 * be set. */
int sntk_diffusion_means(const sntk_diffusion_cfg_t *cfg, double *mu);

/* The seed of sampling and sample metrics: diffusion.sample_seed, or run.seed when it is 0. */
uint64_t diff_sample_seed(const sntk_deck_t *deck);

/* Collective. The target of the deck and the step-0 training set (full batch: the N triples;
 * minibatch: the batch of step 0), which identifies the run's data in checkpoints. */
int diff_setup(MPI_Comm comm, const sntk_deck_t *deck, sntk_target_t **tg, sntk_diff_map_t *map,
               sntk_dataset_t *train);

/* Not collective. Log the target and the map (the banner's data lines). */
void diff_describe(const sntk_deck_t *deck, const sntk_target_t *tg, const sntk_diff_map_t *map,
                   const sntk_dataset_t *train);

/* Collective. Write the group /diffusion (means, weights, bin edges, map) of a results file. */
int diff_write_target(sntk_results_t *res, const sntk_target_t *tg, const sntk_diff_map_t *map,
                      const sntk_diff_eval_t *ev);

/* Not collective. The errors of predictions F (n x d) of x_0 on the held-out points (out->bins
 * must hold nbins values). */
void diff_eval_errors(const sntk_diff_eval_t *ev, const double *F, sntk_diff_errors_t *out);

/* Not collective. A bound on KL(p_T || N(0, I)) for a mixture target (convexity of KL over the
 * components); NaN for targets without an exact law. */
double diff_kl_T_bound(const sntk_target_t *tg, double T);

/* Accept hook of sntk_ckpt_read for checkpoints of a score run: same trajectory keys and the same
 * step-0 training set (ctx is a diff_accept_t). */
typedef struct diff_accept {
  const sntk_deck_t *deck;
  const char *data_hash;
} diff_accept_t;
int diff_accept_checkpoint(const char *path, const sntk_ckpt_meta_t *meta, void *ctx);

/* The score field of kernel regression with H*: f(z) = F(W0, z) + sum_j h*(z, z_j) alpha_j on the
 * training inputs z_j, s = (alpha_t f - x) / sigma_t^2 (a sntk_score_fn with this as ctx). */
typedef struct diff_kernel {
  int act;
  double sigma;
  const sntk_diff_map_t *map;
  int64_t N;        /* training triples */
  double *Ztr;      /* N x (d + 2) training inputs */
  double *alpha;    /* N x d: (H* + ridge I)^{-1} (y - F(W0, Z)) */
  sntk_model_t *m0; /* the network at initialisation, F(W0, z) (owned) */
  int64_t n;        /* workspace: points per call */
  double *Z, *F;
} diff_kernel_t;
int diff_kernel_score(void *ctx, double t, int64_t n, const double *X, double *S);
void diff_kernel_free(diff_kernel_t *kr);

/* Collective. `softntk score` with diffusion.regression: kernel regression of x_0 with the NTK of
 * the network at initialisation on the training set, predicting the held-out points; compared with
 * the trained network md (trained `step` steps at learning rate eta). Writes <dir>/regression.h5.
 * With `kernel` (and ntk.limit) also the H* predictor as a score field for `nsamples` points at a
 * time (kernel->m0 is NULL when H* + ridge I is not positive definite); free it with
 * diff_kernel_free. */
int diff_regression(MPI_Comm comm, const sntk_deck_t *deck, const sntk_dataset_t *train,
                    const sntk_diff_eval_t *ev, const sntk_diff_map_t *map, sntk_model_t *md,
                    double eta, int64_t step, const char *dir, int64_t nsamples,
                    diff_kernel_t *kernel);

#endif
