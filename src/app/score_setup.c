/* What `softntk score` and `softntk sample` share: the target, input map and step-0 training set of
 * a deck, their description in the banner and in results files. */
#include "score.h"
#include "softntk/target.h"
#include "softntk/process.h"

#include "softntk/error.h"
#include "softntk/log.h"

#include <math.h>
#include <string.h>

uint64_t diff_sample_seed(const sntk_deck_t *deck) {
  return (uint64_t)(deck->diffusion.sample_seed ? deck->diffusion.sample_seed : deck->run.seed);
}

int diff_setup(MPI_Comm comm, const sntk_deck_t *deck, sntk_target_t **tg, sntk_diff_map_t *map,
               sntk_dataset_t *train) {
  const sntk_diffusion_cfg_t *cfg = &deck->diffusion;
  const uint64_t seed = sntk_data_seed(&deck->data, deck->run.seed);
  const int full = cfg->minibatch == 0;
  memset(train, 0, sizeof *train);
  SNTK_CALL(sntk_agree(comm, sntk_diffusion_cfg_check(cfg)));
  SNTK_CALL(
      sntk_target_create(comm, cfg, seed, sntk_config_is_set(&deck->cfg, "diffusion", "dim"), tg));
  sntk_diff_map_init(map, cfg, *tg);
  int err = sntk_diff_dataset(*tg, map, cfg->t0, cfg->T, seed,
                              full ? SNTK_RNG_DIFF_TRAIN : SNTK_RNG_DIFF_BATCH, 0,
                              full ? cfg->samples_train : cfg->minibatch, train);
  err = sntk_agree(comm, err);
  if (err) sntk_target_destroy(tg), sntk_data_free(train);
  return err;
}

void diff_describe(const sntk_deck_t *deck, const sntk_target_t *tg, const sntk_diff_map_t *map,
                   const sntk_dataset_t *train) {
  const sntk_diffusion_cfg_t *cfg = &deck->diffusion;
  if (tg->kind == SNTK_DIFF_GMM)
    sntk_log("  target: mixture of %lld in d = %lld, %s means of norm %g, width %g%s",
             (long long)tg->C, (long long)tg->d,
             cfg->layout == SNTK_LAYOUT_RING ? "ring" : "random", cfg->radius, tg->width,
             tg->width == 0 ? " (point masses)" : "");
  else
    sntk_log("  target: %lld samples of d = %lld from %s:%s (score unknown)", (long long)tg->rows,
             (long long)tg->d, cfg->file, cfg->dataset);
  sntk_log("  data : %lld triples (x0, t ~ U[%g, %g], xi) %s; inputs (x_t / %.4g, t / %g) squashed "
           "to d + 2 = %lld coordinates, k = %lld",
           (long long)train->n, cfg->t0, cfg->T,
           cfg->minibatch ? "drawn fresh each step" : "drawn once (full batch)", map->scale, map->T,
           (long long)train->d, (long long)train->k);
}

int diff_write_target(sntk_results_t *res, const sntk_target_t *tg, const sntk_diff_map_t *map,
                      const sntk_diff_eval_t *ev) {
  if (tg->kind == SNTK_DIFF_GMM) {
    SNTK_CALL(sntk_results_matrix(res, "/diffusion/means", tg->C, tg->d, tg->mu, "1",
                                  "mixture means mu_c, one per row"));
    SNTK_CALL(sntk_results_matrix(res, "/diffusion/weights", tg->C, 0, tg->w, "1",
                                  "mixture weights w_c"));
    SNTK_CALL(sntk_results_attr_at_f64(res, "/diffusion", "width", tg->width));
  } else {
    SNTK_CALL(sntk_results_matrix(res, "/diffusion/second_moment", 1, 0, &tg->msq, "1",
                                  "E ||x_0||^2 of the file's samples"));
  }
  if (ev) {
    SNTK_CALL(sntk_results_matrix(res, "/diffusion/bin_edges", ev->nbins + 1, 0, ev->edges, "1",
                                  "edges of the time bins of /score/bin_error (log-spaced)"));
    /* The held-out points themselves, so that an analysis can evaluate any predictor (e.g. kernel
     * gradient descent at every step, in closed form) on exactly the points of /score. */
    SNTK_CALL(sntk_results_matrix(res, "/diffusion/eval_t", ev->n, 0, ev->t, "1",
                                  "held-out times t (point j lies in time bin j mod t_bins)"));
    SNTK_CALL(sntk_results_matrix(res, "/diffusion/eval_z", ev->n, ev->d + 2, ev->Z, "1",
                                  "held-out network inputs z(x_t, t), one per row"));
    SNTK_CALL(sntk_results_matrix(res, "/diffusion/eval_fstar", ev->n, ev->d, ev->fstar, "1",
                                  "held-out regression targets f* = E[x_0 | x_t] (x_0 when the "
                                  "score is not exact)"));
  }
  SNTK_CALL(sntk_results_attr_at_f64(res, "/diffusion", "input_scale", map->scale));
  SNTK_CALL(sntk_results_attr_at_f64(res, "/diffusion", "dim", (double)tg->d));
  SNTK_CALL(sntk_results_attr_at_f64(res, "/diffusion", "sdata", map->sdata));
  SNTK_CALL(sntk_results_attr_at_str(res, "/diffusion", "parametrisation",
                                     map->param == SNTK_PARAM_EDM ? "edm" : "plain"));
  return sntk_results_attr_at_str(
      res, "/diffusion", "input_map",
      map->param == SNTK_PARAM_EDM
          ? "z = (v / sqrt(2 (1 + |v|^2)), 1 / sqrt(2)), v = (x_t / input_scale, t / T); x_0 is "
            "predicted as c_skip(t) x_t + c_out(t) F(z) (edm: c_skip = sdata^2 / ((s^2 + "
            "sdata^2) alpha_t), c_out = s sdata / sqrt(s^2 + sdata^2), s = sigma_t / alpha_t); "
            "data/Y holds the targets of F"
          : "z = (v / sqrt(2 (1 + |v|^2)), 1 / sqrt(2)), v = (x_t / input_scale, t / T); the "
            "network predicts x_0");
}
