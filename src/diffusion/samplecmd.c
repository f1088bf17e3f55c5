/* `softntk sample deck.ini [--restart auto|PATH]`: generate samples from the network of a score
 * run's checkpoint and evaluate them (sample.c) into <run dir>/samples.h5.
 *
 * The checkpoint must belong to the deck: the trajectory keys (sntk_deck_same_trajectory) and the
 * hash of the step-0 training set, regenerated from the deck, must agree, exactly as `softntk
 * train` checks before a restart. samples.h5 carries the root attributes of every softntk file
 * (format, version, command, config, hash, mpi_size, start time) and the checkpoint it sampled; it
 * is not replaced unless run.overwrite = true. Sampler settings (sampler, sample_steps, samples,
 * time_grid, sample_seed, ...) may differ from the deck the run was trained with. */
#include "diffusion_impl.h"

#include "softntk/error.h"
#include "softntk/log.h"
#include "softntk/parallel.h"
#include "softntk/perf.h"
#include "softntk/rundir.h"
#include "softntk/train.h"
#include "softntk/version.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Collective: does dir hold at least one complete checkpoint? */
static int any_checkpoint(MPI_Comm comm, const char *dir, int *any) {
  int rank, err = SNTK_OK, n = 0;
  int64_t *steps = NULL;
  MPI_Comm_rank(comm, &rank);
  if (rank == 0) err = sntk_ckpt_list(dir, &steps, &n);
  free(steps);
  SNTK_CALL(sntk_agree(comm, err));
  SNTK_CALL(SNTK_MPI(MPI_Bcast(&n, 1, MPI_INT, 0, comm)));
  *any = n > 0;
  return SNTK_OK;
}

/* Collective: the weights of checkpoint `which` (auto: the newest valid one of the run). */
static int load_network(MPI_Comm comm, const sntk_deck_t *deck, const char *which,
                        const sntk_dataset_t *train, sntk_model_t *md, int64_t *step, char *path,
                        size_t len) {
  char run_dir[4096], ckdir[5200], hash[17];
  int any = 1;
  sntk_data_hash(train, hash);
  diff_accept_t ac = {deck, hash};
  snprintf(run_dir, sizeof run_dir, "%s/%s", deck->run.output_dir[0] ? deck->run.output_dir : ".",
           deck->run.name);
  sntk_ckpt_dir(run_dir, deck->ckpt.dir, ckdir, sizeof ckdir);
  if (strcmp(which, "auto") == 0) SNTK_CALL(any_checkpoint(comm, ckdir, &any));
  if (!any)
    return sntk_error(SNTK_ERR_INPUT,
                      "softntk sample needs a trained network but %s holds no checkpoint: run "
                      "softntk score with this deck first, or give --restart PATH",
                      ckdir);
  return sntk_ckpt_load(comm, ckdir, which, diff_accept_checkpoint, &ac, md, step, path, len);
}

/* Collective: the run directory and the path of samples.h5 (refused when present, unless
 * run.overwrite). */
static int prepare_output(MPI_Comm comm, const sntk_deck_t *deck, char *dir, size_t len, char *path,
                          size_t plen) {
  int rank, err = SNTK_OK;
  MPI_Comm_rank(comm, &rank);
  SNTK_CALL(sntk_rundir_prepare(comm, deck->run.output_dir, deck->run.name, dir, len));
  snprintf(path, plen, "%s/samples.h5", dir);
  if (rank == 0 && !deck->run.overwrite && access(path, F_OK) == 0)
    err = sntk_error(SNTK_ERR_INPUT,
                     "%s already exists: set run.overwrite = true to replace it, or choose "
                     "another run.name",
                     path);
  return sntk_agree(comm, err);
}

static int write_header(sntk_results_t *res, const sntk_deck_t *deck, const sntk_model_t *md,
                        const char *ckpt, int64_t step) {
  SNTK_CALL(sntk_results_attr_i64(res, "d", md->d));
  SNTK_CALL(sntk_results_attr_i64(res, "k", md->k));
  SNTK_CALL(sntk_results_attr_i64(res, "m", md->m));
  SNTK_CALL(sntk_results_attr_str(res, "activation", sntk_activation_names[md->act]));
  SNTK_CALL(sntk_results_attr_f64(res, "gamma", md->gamma));
  SNTK_CALL(sntk_results_attr_i64(res, "seed", deck->run.seed));
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
  SNTK_TRY(load_network(ctx->comm, deck, which, train, md, &step, ckpt, sizeof ckpt));
  SNTK_TRY(prepare_output(ctx->comm, deck, dir, sizeof dir, path, sizeof path));
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
