/* `softntk ntk`: the NTK of the network a deck describes, without training, into <run dir>/ntk.h5.
 *
 * The driver builds data and the model at initialisation (W0), optionally loads W from one of the
 * run's checkpoints, and hands them to sntk_ntk_analyse (ntk.h) with the checkpoint's step. */
#include "softntk/checkpoint.h"
#include "softntk/error.h"
#include "softntk/log.h"
#include "softntk/parallel.h"
#include "softntk/perf.h"
#include "softntk/commands.h"
#include "softntk/results.h"
#include "softntk/runfile.h"
#include "softntk/version.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define GIB 1073741824.0

/* The training set plus ntk.holdout points after it (generated with the next indices, or the
 * file's next rows). */
static int load_data(MPI_Comm comm, const sntk_deck_t *deck, sntk_dataset_t *all, int64_t *ntrain) {
  sntk_data_cfg_t dc = deck->data;
  unsigned mask = sntk_deck_data_mask(deck);
  const int64_t h = deck->ntk.holdout;
  const int whole_file = dc.source == SNTK_SOURCE_FILE && !(mask & SNTK_DATA_SET_N);
  if (!whole_file) dc.n += h;
  SNTK_CALL(sntk_data_load(comm, &dc, sntk_data_seed(&dc, deck->run.seed), mask, all));
  *ntrain = whole_file ? all->n - h : deck->data.n;
  if (*ntrain < 1)
    return sntk_error(SNTK_ERR_INPUT, "%s holds %lld samples: too few for ntk.holdout = %lld",
                      dc.file, (long long)all->n, (long long)h);
  return SNTK_OK;
}

static int write_header(sntk_results_t *res, const sntk_deck_t *deck, const sntk_ntk_t *ntk,
                        const sntk_dataset_t *train, int64_t step) {
  char grid[64];
  snprintf(grid, sizeof grid, "%dx%d", ntk->grid->nprow, ntk->grid->npcol);
  SNTK_CALL(sntk_runfile_header(res, ntk->model, train, deck->run.seed,
                                (int64_t)sntk_data_seed(&deck->data, deck->run.seed),
                                deck->data.store));
  SNTK_CALL(sntk_results_attr_i64(res, "step", step));
  SNTK_CALL(sntk_results_attr_str(res, "process_grid", grid));
  SNTK_CALL(sntk_results_attr_i64(res, "nb", ntk->nb));
  SNTK_CALL(sntk_results_attr_i64(res, "panel", ntk->panel));
  return sntk_results_attr_f64(res, "memory_planned_per_rank", (double)ntk->mem_need);
}

static void log_banner(const sntk_deck_t *deck, const sntk_ntk_t *ntk, int64_t holdout,
                       const char *path) {
  const sntk_model_t *md = ntk->model;
  sntk_log("softntk %s ntk: deck %s (config hash %s)", sntk_version(), deck->origin, deck->hash);
  sntk_log("  data : n = %lld, d = %lld, k = %lld, %lld held-out points", (long long)ntk->n,
           (long long)ntk->d, (long long)ntk->k, (long long)holdout);
  sntk_log("  model: %s, m = %lld, %s init, sigma = %g, gamma = %.6g, nu = %.6g",
           sntk_activation_names[md->act], (long long)md->m,
           md->init == SNTK_INIT_COUPLED ? "coupled" : "random", md->sigma, md->gamma, md->nu);
  sntk_log("  grid : %d ranks as %dx%d, nb = %lld; H is %lld x %lld; PDSYRK panels of %lld of %lld "
           "neurons; %.2f GiB planned per rank (memory %s), %.2f GiB available",
           ntk->size, ntk->grid->nprow, ntk->grid->npcol, (long long)ntk->nb, (long long)ntk->nk,
           (long long)ntk->nk, (long long)ntk->panel, (long long)ntk->U1.n, ntk->mem_need / GIB,
           sntk_ntk_memory_names[ntk->cfg.memory], ntk->mem_avail / GIB);
  sntk_log("  ntk  : spectrum %s%s, limit %s, ridge %g, threshold %g; output %s",
           sntk_spectrum_names[deck->ntk.spectrum],
           deck->ntk.spectrum == SNTK_SPECTRUM_EXTREMES ? " (q at each end)" : "",
           deck->ntk.limit ? "on" : "off", deck->ntk.ridge, deck->ntk.threshold, path);
}

int sntk_ntk_main(const sntk_ctx_t *ctx, const sntk_deck_t *deck, const sntk_run_opts_t *opts) {
  MPI_Comm comm = ctx->comm;
  sntk_dataset_t all = {0};
  sntk_model_t *md = NULL;
  sntk_ntk_t *ntk = NULL;
  sntk_results_t *res = NULL;
  char dir[4096], path[4200], logp[4200], ckpt[5400];
  int64_t n = 0, step = 0; /* training step of W: 0 at initialisation */
  int err = SNTK_OK;
  SNTK_TRY(load_data(comm, deck, &all, &n));
  if (deck->ntk.perturb && all.k != 1)
    SNTK_TRY(sntk_error(SNTK_ERR_INPUT,
                        "ntk.perturb = true is for scalar networks (data.k = 1), not k = %lld",
                        (long long)all.k));
  sntk_dataset_t train = {n, all.d, all.k, all.X, all.Y};
  sntk_dataset_t hold = {all.n - n, all.d, all.k, all.X + n * all.d, all.Y + n * all.k};
  SNTK_TRY(sntk_model_create(comm, &deck->model, all.d, all.k, deck->train.chunk, n, &md));
  sntk_model_init(md, (uint64_t)deck->run.seed); /* W0; a checkpoint then replaces W */
  /* the learning rate of the linearised curve and of kernel gradient descent: the one softntk train
   * chooses for this deck (eta = auto: by power iteration at W0) */
  double eta = NAN;
  char rule[512] = "";
  if (deck->ntk.spectrum == SNTK_SPECTRUM_FULL || (deck->ntk.gd && deck->ntk.holdout > 0) ||
      deck->ntk.perturb)
    SNTK_TRY(sntk_train_resolve_eta(&deck->train, md, &train, (uint64_t)deck->run.seed, &eta, rule,
                                    sizeof rule));
  if (opts && opts->restart_given && strcmp(opts->restart, "none") != 0)
    SNTK_TRY(sntk_deck_load_checkpoint(comm, deck, opts->restart, &train, NULL, md, &step, ckpt,
                                       sizeof ckpt));
  int same;
  SNTK_TRY(sntk_ntk_at_init(md, &same));
  SNTK_TRY(sntk_ntk_create(&deck->ntk, &deck->parallel, md, train.X, n, hold.n,
                           (same ? 0 : SNTK_NTK_KEEP_INIT) | SNTK_NTK_LEAN_OK, &ntk));
  SNTK_TRY(sntk_runfile_prepare(comm, deck->run.output_dir, deck->run.name, "ntk.h5",
                                deck->run.overwrite, dir, sizeof dir, path, sizeof path));
  snprintf(logp, sizeof logp, "%s/log.txt", dir);
  SNTK_TRY(sntk_agree(comm, sntk_log_open_file(logp)));
  log_banner(deck, ntk, hold.n, path);
  SNTK_TRY(sntk_results_create(comm, path, "ntk", deck->text, deck->hash, &res));
  SNTK_TRY(write_header(res, deck, ntk, &train, step));
  if (rule[0]) SNTK_TRY(sntk_results_attr_f64(res, "eta", eta));
  if (rule[0]) SNTK_TRY(sntk_results_attr_str(res, "eta_rule", rule));
  sntk_perf_reset();
  double t0 = MPI_Wtime();
  SNTK_TRY(
      sntk_ntk_analyse(ntk, eta, deck->train.steps, &train, &hold, step, deck->train.steps, res));
  if (deck->ntk.perturb)
    SNTK_TRY(sntk_ntk_perturb(&deck->ntk, md, &train, eta, (uint64_t)deck->run.seed, res));
  SNTK_TRY(sntk_perf_report(comm, MPI_Wtime() - t0, res));
  SNTK_TRY(sntk_results_close(&res));
  sntk_log("results: %s", path);
done:
  if (res && err) sntk_results_close(&res);
  sntk_log_open_file(NULL);
  sntk_ntk_destroy(&ntk);
  sntk_model_destroy(&md);
  sntk_data_free(&all);
  return err;
}
