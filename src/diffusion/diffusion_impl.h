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

/* Accept hook of sntk_ckpt_read for checkpoints of a score run: same trajectory keys and the same
 * step-0 training set (ctx is a diff_accept_t). */
typedef struct diff_accept {
  const sntk_deck_t *deck;
  const char *data_hash;
} diff_accept_t;
int diff_accept_checkpoint(const char *path, const sntk_ckpt_meta_t *meta, void *ctx);

/* Collective. `softntk score` with diffusion.regression: kernel regression of x_0 with the NTK of
 * the network at initialisation on the training set, predicting the held-out points; compared with
 * the trained network md (trained `step` steps at learning rate eta). Writes <dir>/regression.h5. */
int diff_regression(MPI_Comm comm, const sntk_deck_t *deck, const sntk_dataset_t *train,
                    const sntk_diff_eval_t *ev, sntk_model_t *md, double eta, int64_t step,
                    const char *dir);

#endif
