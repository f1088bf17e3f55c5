/* `softntk sample deck.ini [--restart auto|PATH]`: generate samples from the network of a score
 * run's checkpoint and evaluate them (sample.c) into <run dir>/samples.h5.
 *
 * The checkpoint must belong to the deck: the trajectory keys (sntk_deck_same_trajectory) and the
 * hash of the step-0 training set, regenerated from the deck, must agree, exactly as `softntk
 * train` checks before a restart. samples.h5 carries the root attributes of every softntk file
 * (format, version, command, config, hash, mpi_size, start time) and the checkpoint it sampled; it
 * is not replaced unless run.overwrite = true. Sampler settings (sampler, sample_steps, samples,
 * time_grid, sample_seed, ...) may differ from the deck the run was trained with. */
#include "score.h"
#include "softntk/target.h"
#include "softntk/process.h"
#include "softntk/sampler.h"

#include "softntk/error.h"
#include "softntk/log.h"
#include "softntk/parallel.h"
#include "softntk/perf.h"
#include "softntk/runfile.h"
#include "softntk/version.h"

#include <stdlib.h>
#include <string.h>

static int write_header(sntk_results_t *res, const sntk_deck_t *deck, const sntk_model_t *md,
                        const char *ckpt, int64_t step) {
  SNTK_CALL(sntk_runfile_header(res, md, NULL, deck->run.seed, -1, 0));
  SNTK_CALL(sntk_results_attr_str(res, "checkpoint", ckpt));
  return sntk_results_attr_i64(res, "step", step);
}

static int sample_run(const sntk_ctx_t *ctx, const sntk_deck_t *deck, const char *which,
                      sntk_target_t *tg, const sntk_diff_map_t *map, const sntk_dataset_t *train,
                      sntk_model_t *md) {
  char dir[4096], path[4200], logp[4200], ckpt[5400];
  sntk_results_t *res = NULL;
  int64_t step = 0;
  int err = SNTK_OK;
  SNTK_TRY(sntk_deck_load_checkpoint(
      ctx->comm, deck, which, train,
      "softntk sample needs a trained network (run softntk score with this deck first, or give "
      "--restart PATH)",
      md, &step, ckpt, sizeof ckpt));
  SNTK_TRY(sntk_runfile_prepare(ctx->comm, deck->run.output_dir, deck->run.name, "samples.h5",
                                deck->run.overwrite, dir, sizeof dir, path, sizeof path));
  snprintf(logp, sizeof logp, "%s/log.txt", dir);
  SNTK_TRY(sntk_agree(ctx->comm, sntk_log_open_file(logp)));
  sntk_log("softntk %s sample: deck %s (config hash %s)", sntk_version(), deck->origin, deck->hash);
  diff_describe(deck, tg, map, train);
  sntk_log("  model: %s, m = %lld, weights of step %lld from %s; output %s",
           sntk_activation_names[md->act], (long long)md->m, (long long)step, ckpt, path);
  const double t0 = MPI_Wtime();
  sntk_perf_reset();
  SNTK_TRY(sntk_results_create(ctx->comm, path, "sample", deck->text, deck->hash, &res));
  SNTK_TRY(write_header(res, deck, md, ckpt, step));
  SNTK_TRY(diff_write_target(res, tg, map, NULL));
  SNTK_TRY(sntk_diffusion_sample_report(ctx->comm, &deck->diffusion, diff_sample_seed(deck), tg,
                                        map, md, NULL, NULL, step, res));
  SNTK_TRY(sntk_perf_report(ctx->comm, MPI_Wtime() - t0, res));
  SNTK_TRY(sntk_results_close(&res));
  sntk_log("results: %s", path);
done:
  sntk_results_free(&res);
  sntk_log_open_file(NULL);
  return err;
}

int sntk_sample_main(const sntk_ctx_t *ctx, const sntk_deck_t *deck, const sntk_run_opts_t *opts) {
  const char *which = opts && opts->restart_given ? opts->restart : "auto";
  sntk_target_t *tg = NULL;
  sntk_diff_map_t map;
  sntk_dataset_t train = {0};
  sntk_model_t *md = NULL;
  int err = SNTK_OK;
  if (strcmp(which, "none") == 0)
    return sntk_error(SNTK_ERR_INPUT, "softntk sample needs a trained network: --restart auto "
                                      "(the run's newest checkpoint) or --restart PATH, not none");
  if (deck->diffusion.samples < 1)
    return sntk_error(SNTK_ERR_INPUT, "diffusion.samples = 0: softntk sample has nothing to do");
  SNTK_TRY(diff_setup(ctx->comm, deck, &tg, &map, &train));
  SNTK_TRY(sntk_model_create(ctx->comm, &deck->model, train.d, train.k, deck->train.chunk,
                             deck->diffusion.samples, &md));
  sntk_model_init(md, (uint64_t)deck->run.seed);
  err = sample_run(ctx, deck, which, tg, &map, &train, md);
done:
  sntk_model_destroy(&md);
  sntk_data_free(&train);
  sntk_target_destroy(&tg);
  return err;
}
