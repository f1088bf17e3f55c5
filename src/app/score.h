/* What `softntk score` and `softntk sample` share (src/app): the target, input map and step-0
 * training set of a deck, their description, and the kernel-regression baseline of a score run. Not
 * part of the public API. */
#ifndef SOFTNTK_APP_SCORE_H
#define SOFTNTK_APP_SCORE_H

#include "softntk/deck.h"
#include "softntk/diffusion.h"
#include "softntk/target.h"
#include "softntk/process.h"
#include "softntk/sampler.h"
#include "softntk/results.h"

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
