/* `softntk ntk`: the NTK of the network a deck describes, without training, into <run dir>/ntk.h5.
 *
 * sntk_ntk_main builds data and the model at initialisation (W0), optionally loads W from one of
 * the run's checkpoints, and hands them to sntk_ntk_analyse with the checkpoint's step. */
#include "ntk_impl.h"

#include "softntk/checkpoint.h"
#include "softntk/deck.h"
#include "softntk/error.h"
#include "softntk/log.h"
#include "softntk/parallel.h"
#include "softntk/perf.h"
#include "softntk/rundir.h"
#include "softntk/train.h"
#include "softntk/version.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define GIB 1073741824.0

int ntk_linearised_write(sntk_ntk_t *ntk, const sntk_dataset_t *tr, double eta, int64_t steps,
                         sntk_results_t *res) {
  const sntk_model_t *md = ntk->model;
  const double dmin = md->gamma * md->gamma / md->nu * ntk->w[0];
  double *r0 = NULL, *loss = NULL, *bound = NULL;
  int err = SNTK_OK;
  SNTK_TRY(SNTK_ALLOC(r0, ntk->nk));
  SNTK_TRY(SNTK_ALLOC(loss, steps + 1));
  SNTK_TRY(SNTK_ALLOC(bound, steps + 1));
  SNTK_TRY(sntk_model_forward(ntk->model, tr->X, tr->n, r0));
  for (int64_t i = 0; i < ntk->nk; i++) r0[i] -= tr->Y[i];
  SNTK_TRY(sntk_ntk_linearised(ntk, r0, eta, steps, loss));
  for (int64_t t = 0; t <= steps; t++) bound[t] = loss[0] * pow(1.0 - 0.5 * eta * dmin, (double)t);
  SNTK_TRY(
      sntk_results_matrix(res, "/ntk/linearised/loss", steps + 1, 0, loss, "1",
                          "linearised prediction 1/2 sum_q (1 - eta D_q)^(2t) <q_q, r(0)>^2 of "
                          "the training loss at steps t = 0..steps, D = eig(J J^T)"));
  SNTK_TRY(sntk_results_matrix(res, "/ntk/linearised/bound", steps + 1, 0, bound, "1",
                               "the paper's bound L(0) (1 - eta lambda_min(J J^T) / 2)^t"));
  SNTK_TRY(sntk_results_attr_at_f64(res, "/ntk/linearised", "eta", eta));
  sntk_log("linearised: eta %g, L(0) = %.6e, predicted L(%lld) = %.6e, bound %.6e", eta, loss[0],
           (long long)steps, loss[steps], bound[steps]);
done:
  free(r0), free(loss), free(bound);
  return err;
}

/* Eigenvalues of H* (overwrites ntk->w): /ntk/limit. */
static int limit_spectrum(sntk_ntk_t *ntk, sntk_results_t *res) {
  int64_t neig;
  SNTK_CALL(sntk_ntk_eigen(ntk, &ntk->Hstar, SNTK_SPECTRUM_VALUES, 0, &neig, "H*"));
  sntk_log("limit: lambda_min(H*) = %.6e, lambda_max(H*) = %.6e (%s, sigma = %g)", ntk->w[0],
           ntk->w[neig - 1], sntk_activation_names[ntk->model->act], ntk->model->sigma);
  SNTK_CALL(sntk_results_matrix(res, "/ntk/limit/eigenvalues", neig, 0, ntk->w, "1",
                                "eigenvalues of the infinite-width NTK H*, ascending"));
  SNTK_CALL(sntk_results_attr_at_f64(res, "/ntk/limit", "lambda_min", ntk->w[0]));
  return sntk_results_attr_at_f64(res, "/ntk/limit", "lambda_max", ntk->w[neig - 1]);
}

static int save_grams(sntk_ntk_t *ntk, int64_t step, sntk_results_t *res) {
  char name[64];
  snprintf(name, sizeof name, "gram_%lld", (long long)step);
  SNTK_CALL(ntk_write_gram(&ntk->H, sntk_results_path(res), "/ntk", name,
                           "normalised NTK H = nu J J^T / gamma^2 at this step, nk x nk"));
  if (!ntk->cfg.limit) return SNTK_OK;
  return ntk_write_gram(&ntk->Hstar, sntk_results_path(res), "/ntk", "gram_limit",
                        "infinite-width NTK H*, nk x nk");
}

int sntk_ntk_analyse(sntk_ntk_t *ntk, double eta, int64_t lin_steps, const sntk_dataset_t *train,
                     const sntk_dataset_t *hold, int64_t step, int64_t gd_steps,
                     sntk_results_t *res) {
  sntk_ntk_snap_t snap;
  ntk_series_t series;
  double t0 = ntk_wtime(ntk->comm);
  SNTK_CALL(sntk_ntk_snapshot(ntk, step, &snap));
  ntk_log_snapshot(ntk, &snap);
  SNTK_CALL(ntk_series_declare(ntk, res, snap.neig, &series));
  SNTK_CALL(ntk_series_append(res, &series, &snap));
  SNTK_CALL(sntk_results_flush(res));
  if (hold->n > 0)
    SNTK_CALL(ntk_regression(ntk, train, hold, eta, ntk->cfg.gd ? gd_steps : 0, res));
  if (ntk->cfg.spectrum == SNTK_SPECTRUM_FULL)
    SNTK_CALL(ntk_linearised_write(ntk, train, eta, lin_steps, res));
  if (ntk->cfg.limit) SNTK_CALL(limit_spectrum(ntk, res));
  if (ntk->cfg.save_gram) SNTK_CALL(save_grams(ntk, step, res));
  const double wall = ntk_wtime(ntk->comm) - t0;
  SNTK_CALL(sntk_results_attr_f64(res, "wall_time", wall));
  SNTK_CALL(sntk_results_attr_i64(res, "checks", ntk->checks));
  SNTK_CALL(sntk_results_attr_i64(res, "checks_failed", ntk->failures));
  sntk_log("done: %d checks, %d FAILED, %.3f s", ntk->checks, ntk->failures, wall);
  if (ntk->failures)
    return sntk_error(SNTK_ERR_RUNTIME, "%d of %d numerical checks FAILED (threshold %g)",
                      ntk->failures, ntk->checks, ntk->cfg.threshold);
  return SNTK_OK;
}

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

/* Run directory; ntk.h5 is refused when present unless run.overwrite (results.h5 is not ours). */
static int prepare_dir(MPI_Comm comm, const sntk_deck_t *deck, char *dir, size_t len, char *path,
                       size_t plen) {
  int rank, err = SNTK_OK;
  MPI_Comm_rank(comm, &rank);
  SNTK_CALL(sntk_rundir_prepare(comm, deck->run.output_dir, deck->run.name, dir, len));
  snprintf(path, plen, "%s/ntk.h5", dir);
  if (rank == 0 && !deck->run.overwrite && access(path, F_OK) == 0)
    err = sntk_error(SNTK_ERR_INPUT,
                     "%s already exists: choose another run.name, or set run.overwrite = true to "
                     "replace it",
                     path);
  return sntk_agree(comm, err);
}

static int write_header(sntk_results_t *res, const sntk_deck_t *deck, const sntk_ntk_t *ntk,
                        const sntk_dataset_t *train, int64_t step) {
  const sntk_model_t *md = ntk->model;
  char grid[64];
  snprintf(grid, sizeof grid, "%dx%d", ntk->grid->nprow, ntk->grid->npcol);
  SNTK_CALL(sntk_results_attr_i64(res, "n", ntk->n));
  SNTK_CALL(sntk_results_attr_i64(res, "d", ntk->d));
  SNTK_CALL(sntk_results_attr_i64(res, "k", ntk->k));
  SNTK_CALL(sntk_results_attr_i64(res, "m", md->m));
  SNTK_CALL(sntk_results_attr_str(res, "activation", sntk_activation_names[md->act]));
  SNTK_CALL(sntk_results_attr_f64(res, "gamma", md->gamma));
  SNTK_CALL(sntk_results_attr_f64(res, "nu", md->nu));
  SNTK_CALL(sntk_results_attr_f64(res, "sigma", md->sigma));
  SNTK_CALL(sntk_results_attr_i64(res, "seed", deck->run.seed));
  SNTK_CALL(sntk_results_attr_i64(res, "data_seed",
                                  (int64_t)sntk_data_seed(&deck->data, deck->run.seed)));
  SNTK_CALL(sntk_results_attr_i64(res, "step", step));
  SNTK_CALL(sntk_results_attr_str(res, "process_grid", grid));
  SNTK_CALL(sntk_results_attr_i64(res, "nb", ntk->nb));
  SNTK_CALL(sntk_results_attr_i64(res, "panel", ntk->panel));
  SNTK_CALL(sntk_results_attr_f64(res, "memory_planned_per_rank", (double)ntk->mem_need));
  if (!deck->data.store) return SNTK_OK;
  SNTK_CALL(sntk_results_matrix(res, "/data/X", train->n, train->d, train->X, "1",
                                "training inputs, one sample per row"));
  return sntk_results_matrix(res, "/data/Y", train->n, train->k, train->Y, "1",
                             "training targets, one sample per row");
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
           "neurons; %.2f GiB planned per rank, %.2f GiB available",
           ntk->size, ntk->grid->nprow, ntk->grid->npcol, (long long)ntk->nb, (long long)ntk->nk,
           (long long)ntk->nk, (long long)ntk->panel, (long long)ntk->U1.n, ntk->mem_need / GIB,
           ntk->mem_avail / GIB);
  sntk_log("  ntk  : spectrum %s%s, limit %s, ridge %g, threshold %g; output %s",
           sntk_spectrum_names[deck->ntk.spectrum],
           deck->ntk.spectrum == SNTK_SPECTRUM_EXTREMES ? " (q at each end)" : "",
           deck->ntk.limit ? "on" : "off", deck->ntk.ridge, deck->ntk.threshold, path);
}

typedef struct accept_ctx {
  const sntk_deck_t *deck;
  const char *data_hash;
} accept_ctx_t;

/* A checkpoint is usable when it belongs to the deck's trajectory and training data. */
static int accept_checkpoint(const char *path, const sntk_ckpt_meta_t *meta, void *ctx) {
  const accept_ctx_t *ac = ctx;
  char diff[2048];
  if (!sntk_deck_same_trajectory(meta->config, ac->deck->text, diff, sizeof diff))
    return sntk_error(SNTK_ERR_INPUT, "checkpoint %s belongs to a different run: %s", path, diff);
  if (strcmp(meta->data_hash, ac->data_hash) != 0)
    return sntk_error(SNTK_ERR_INPUT,
                      "checkpoint %s was trained on other data (data hash %s, here %s)", path,
                      meta->data_hash, ac->data_hash);
  return SNTK_OK;
}

/* Collective. W of the model from checkpoint `which` ("auto": the run's newest valid one, else a
 * path); *step receives its step. */
static int load_weights(MPI_Comm comm, const sntk_deck_t *deck, const char *which,
                        const sntk_dataset_t *train, sntk_model_t *md, int64_t *step) {
  char run_dir[4096], ckdir[5200], path[5400], hash[17];
  sntk_data_hash(train, hash);
  accept_ctx_t ac = {deck, hash};
  snprintf(run_dir, sizeof run_dir, "%s/%s", deck->run.output_dir[0] ? deck->run.output_dir : ".",
           deck->run.name);
  sntk_ckpt_dir(run_dir, deck->ckpt.dir, ckdir, sizeof ckdir);
  SNTK_CALL(
      sntk_ckpt_load(comm, ckdir, which, accept_checkpoint, &ac, md, step, path, sizeof path));
  sntk_log("weights from %s (step %lld)", path, (long long)*step);
  return SNTK_OK;
}

int sntk_ntk_main(const sntk_ctx_t *ctx, const sntk_deck_t *deck, const sntk_run_opts_t *opts) {
  MPI_Comm comm = ctx->comm;
  sntk_dataset_t all = {0};
  sntk_model_t *md = NULL;
  sntk_ntk_t *ntk = NULL;
  sntk_results_t *res = NULL;
  char dir[4096], path[4200], logp[4200];
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
    SNTK_TRY(load_weights(comm, deck, opts->restart, &train, md, &step));
  int same;
  SNTK_TRY(sntk_ntk_at_init(md, &same));
  SNTK_TRY(sntk_ntk_create(&deck->ntk, &deck->parallel, md, train.X, n, hold.n,
                           same ? 0 : SNTK_NTK_KEEP_INIT, &ntk));
  SNTK_TRY(prepare_dir(comm, deck, dir, sizeof dir, path, sizeof path));
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
