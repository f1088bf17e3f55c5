/* `softntk score`: denoising score matching as a problem of the training loop (train.h), so that
 * checkpoints, restarts, signals, the wall-time budget, the NTK tracker and /perf are those of
 * `softntk train`. The problem supplies the training set (the N triples drawn once, or a minibatch
 * regenerated from (seed, step)), the held-out evaluation into results.h5 /score, and at the end
 * the samples into /samples and, with diffusion.regression, the kernel regression comparison.
 *
 * The best step (lowest held-out error) is kept as attributes of /score and rebuilt at a restart
 * from the /score rows the truncated results file still holds (those of steps before the
 * checkpoint), so a resumed run reports the same best step as an uninterrupted one. */
#include "score.h"
#include "softntk/target.h"
#include "softntk/process.h"
#include "softntk/sampler.h"

#include "softntk/error.h"
#include "softntk/h5util.h"
#include "softntk/log.h"
#include "softntk/parallel.h"
#include "softntk/perf.h"
#include "softntk/commands.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { SC_STEP, SC_ERROR, SC_REL, SC_LOSS, SC_UNWEIGHTED, SC_KL, SC_NCOLS };

static const sntk_column_t score_cols[SC_NCOLS] = {
    {"step", 1, "1", "training step t of the evaluation (weights W(t))"},
    {"error", 0, "1",
     "held-out E_t E ||sigma_t^2 (s_net - s*)||^2 = E alpha_t^2 ||f_net - f*||^2, t ~ U[t0, T]"},
    {"rel_error", 0, "1", "error / E alpha_t^2 ||f*||^2 (the error of the zero predictor)"},
    {"heldout_loss", 0, "1", "held-out denoising loss 1/2 mean ||f_net - x_0||^2 (noisy labels)"},
    {"error_unweighted", 0, "1",
     "integral over [t0, T] of E ||s_net - s*||^2 dt, the score term of sampling bounds (NaN "
     "without an exact score)"},
    {"kl_bound", 0, "nat",
     "KL(p_t0 || reverse SDE law at t0) <= KL(p_T || N(0, I)) + error_unweighted (Girsanov, "
     "exact simulation of the reverse SDE; /score attribute kl_T_bound bounds the first term)"},
};

typedef struct score_problem {
  MPI_Comm comm;
  int rank;
  const sntk_deck_t *deck;
  const sntk_diffusion_cfg_t *cfg;
  sntk_target_t *tg;
  sntk_diff_map_t map;
  sntk_dataset_t train0;       /* the step-0 set until the loop takes it */
  const sntk_dataset_t *train; /* the loop's copy */
  sntk_dataset_t batch;        /* minibatch of the current step */
  sntk_diff_eval_t *ev;
  sntk_diff_errors_t errs;
  int series, bins, ubins; /* ids of /score, /score/bin_error, /score/bin_error_unweighted */
  double kl_T;             /* bound on KL(p_T || N(0, I)) (NaN without an exact target) */
  int64_t best_step, last_step;
  double best_error;
  char dir[4096]; /* run directory */
} score_problem_t;

static int sp_load(void *self, MPI_Comm comm, sntk_dataset_t *ds) {
  score_problem_t *sp = self;
  (void)comm;
  *ds = sp->train0;
  memset(&sp->train0, 0, sizeof sp->train0);
  sp->train = ds;
  return SNTK_OK;
}

static void sp_describe(void *self, const sntk_dataset_t *ds) {
  const score_problem_t *sp = self;
  diff_describe(sp->deck, sp->tg, &sp->map, ds);
  sntk_log("  eval : %lld held-out points in %lld log-spaced t bins every %lld steps; %s score",
           (long long)sp->ev->n, (long long)sp->ev->nbins, (long long)sp->cfg->eval_every,
           sp->ev->exact ? "exact" : "unknown (errors against the noisy labels)");
}

static int sp_batch(void *self, int64_t step, const sntk_dataset_t **batch) {
  score_problem_t *sp = self;
  const sntk_diffusion_cfg_t *cfg = sp->cfg;
  *batch = NULL;
  if (cfg->minibatch == 0) return SNTK_OK;
  sntk_perf_start(SNTK_EV_BATCH);
  int err = sntk_diff_dataset(
      sp->tg, &sp->map, cfg->t0, cfg->T, sntk_data_seed(&sp->deck->data, sp->deck->run.seed),
      SNTK_RNG_DIFF_BATCH, (uint64_t)(step * cfg->minibatch), cfg->minibatch, &sp->batch);
  sntk_perf_stop(SNTK_EV_BATCH, 0.0);
  SNTK_CALL(sntk_agree(sp->comm, err));
  *batch = &sp->batch;
  return SNTK_OK;
}

static int sp_header(void *self, sntk_results_t *res) {
  score_problem_t *sp = self;
  SNTK_CALL(diff_write_target(res, sp->tg, &sp->map, sp->ev));
  SNTK_CALL(sntk_results_attr_str(res, "diffusion_target", sp->tg->kind ? "file" : "gmm"));
  return sntk_results_attr_i64(res, "minibatch", sp->cfg->minibatch);
}

/* Rank 0: the best (lowest-error) row of /score in the file, and the width of its bin rows. */
static int read_best(const char *path, int64_t *best_step, double *best_error, int64_t *width) {
  double *steps = NULL, *errors = NULL, *bins = NULL;
  int64_t rows, rows2, one, nb;
  int err = SNTK_OK;
  *best_step = -1;
  *best_error = INFINITY;
  *width = 0;
  SNTK_TRY(sntk_h5_read_matrix(path, "score/step", &rows, &one, &steps));
  SNTK_TRY(sntk_h5_read_matrix(path, "score/error", &rows2, &one, &errors));
  SNTK_TRY(sntk_h5_read_matrix(path, "score/bin_error", &nb, width, &bins));
  for (int64_t r = 0; r < rows && r < rows2; r++)
    if (errors[r] < *best_error) *best_error = errors[r], *best_step = (int64_t)steps[r];
done:
  free(steps), free(errors), free(bins);
  return err;
}

/* Collective: after a restart, the best step among the rows kept, and the bin count check. */
static int restore_best(score_problem_t *sp, sntk_results_t *res) {
  double best[2] = {-1.0, INFINITY};
  int64_t width = 0, bs = -1;
  int err = SNTK_OK;
  if (sp->rank == 0 && read_best(sntk_results_path(res), &bs, &best[1], &width) != SNTK_OK) {
    sntk_warn("no /score rows before the checkpoint (%s): the best step is taken over the "
              "evaluations from here on",
              sntk_error_message());
    best[1] = INFINITY;
  } else if (sp->rank == 0 && width != sp->ev->nbins) {
    err = sntk_error(SNTK_ERR_INPUT,
                     "diffusion.t_bins = %lld but the run's /score rows hold %lld bins: resume "
                     "with the t_bins the run started with",
                     (long long)sp->ev->nbins, (long long)width);
  } else if (sp->rank == 0) {
    best[0] = (double)bs;
  }
  SNTK_CALL(sntk_agree(sp->comm, err));
  SNTK_CALL(SNTK_MPI(MPI_Bcast(best, 2, MPI_DOUBLE, 0, sp->comm)));
  sp->best_step = (int64_t)best[0];
  sp->best_error = best[1];
  if (sp->best_step < 0) return SNTK_OK;
  SNTK_CALL(sntk_results_attr_at_f64(res, "/score", "best_step", (double)sp->best_step));
  return sntk_results_attr_at_f64(res, "/score", "best_error", sp->best_error);
}

/* Collective: a resumed run's /score rows must hold as many bins as this run writes. */
static int check_bins(score_problem_t *sp, sntk_results_t *res) {
  int64_t bs, width = 0;
  double be;
  int err = SNTK_OK;
  if (sp->rank == 0 && read_best(sntk_results_path(res), &bs, &be, &width) == SNTK_OK &&
      width != sp->ev->nbins)
    err = sntk_error(SNTK_ERR_INPUT,
                     "diffusion.t_bins = %lld but the run's /score rows hold %lld bins: resume "
                     "with the t_bins the run started with",
                     (long long)sp->ev->nbins, (long long)width);
  return sntk_agree(sp->comm, err);
}

static int sp_open(void *self, sntk_results_t *res, int64_t start_step) {
  score_problem_t *sp = self;
  if (start_step > 0) SNTK_CALL(check_bins(sp, res));
  SNTK_CALL(sntk_results_series(res, "/score", SC_NCOLS, score_cols, &sp->series));
  SNTK_CALL(sntk_results_rows(res, "/score", "bin_error", sp->ev->nbins, "1",
                              "held-out error within each time bin (edges: /diffusion/bin_edges)",
                              &sp->bins));
  SNTK_CALL(sntk_results_rows(res, "/score", "bin_error_unweighted", sp->ev->nbins, "1",
                              "held-out E ||s_net - s*||^2 within each time bin (unweighted)",
                              &sp->ubins));
  SNTK_CALL(sntk_results_attr_at_str(res, "/score", "weighting",
                                     "error, bin_error: sigma_t^4 on the squared score error, i.e. "
                                     "alpha_t^2 on the squared x_0-prediction error; "
                                     "error_unweighted, bin_error_unweighted: none"));
  sp->kl_T = sntk_diff_kl_T_bound(sp->tg, sp->cfg->T);
  SNTK_CALL(sntk_results_attr_at_f64(res, "/score", "kl_T_bound", sp->kl_T));
  SNTK_CALL(sntk_results_attr_at_f64(res, "/score", "eval_points", (double)sp->ev->n));
  SNTK_CALL(sntk_results_attr_at_f64(res, "/score", "exact", sp->ev->exact));
  SNTK_CALL(sntk_results_attr_at_f64(res, "/score", "zero_predictor_error", sp->ev->norm));
  sp->best_step = -1;
  sp->best_error = INFINITY;
  return start_step > 0 ? restore_best(sp, res) : SNTK_OK;
}

static int due(const score_problem_t *sp, int64_t step, int last) {
  const int64_t every = sp->cfg->eval_every;
  return last || step == 0 || (every > 0 && step % every == 0);
}

static int sp_evaluate(void *self, sntk_model_t *md, sntk_results_t *res, int64_t step, int last) {
  score_problem_t *sp = self;
  sntk_diff_errors_t *e = &sp->errs;
  if (last) sp->last_step = step;
  if (!due(sp, step, last)) return SNTK_OK;
  SNTK_CALL(sntk_diff_eval_run(sp->ev, md, e));
  const double row[SC_NCOLS] = {(double)step,        e->error,
                                e->rel_error,        e->loss,
                                e->error_unweighted, sp->kl_T + e->error_unweighted};
  SNTK_CALL(sntk_results_append(res, sp->series, row));
  SNTK_CALL(sntk_results_append(res, sp->bins, e->bins));
  SNTK_CALL(sntk_results_append(res, sp->ubins, e->bins_unweighted));
  int better = e->error < sp->best_error;
  if (better) {
    sp->best_error = e->error;
    sp->best_step = step;
    SNTK_CALL(sntk_results_attr_at_f64(res, "/score", "best_step", (double)step));
    SNTK_CALL(sntk_results_attr_at_f64(res, "/score", "best_error", e->error));
  }
  sntk_log("score %8lld  error %12.6e  rel %10.4e  heldout_loss %12.6e  unweighted %11.4e%s",
           (long long)step, e->error, e->rel_error, e->loss, e->error_unweighted,
           better ? "  (best)" : "");
  return SNTK_OK;
}

static int sp_finish(void *self, sntk_model_t *md, sntk_results_t *res, double eta) {
  score_problem_t *sp = self;
  const sntk_diffusion_cfg_t *cfg = sp->cfg;
  diff_kernel_t kr = {0};
  int err = SNTK_OK;
  sntk_log("score: best held-out error %.6e at step %lld; last %.6e at step %lld", sp->best_error,
           (long long)sp->best_step, sp->errs.error, (long long)sp->last_step);
  if (cfg->regression)
    SNTK_TRY(diff_regression(sp->comm, sp->deck, sp->train, sp->ev, &sp->map, md, eta,
                             sp->last_step, sp->dir, cfg->samples, cfg->samples > 0 ? &kr : NULL));
  if (cfg->samples > 0)
    SNTK_TRY(sntk_diffusion_sample_report(sp->comm, cfg, diff_sample_seed(sp->deck), sp->tg,
                                          &sp->map, md, kr.m0 ? diff_kernel_score : NULL, &kr,
                                          sp->last_step, res));
done:
  diff_kernel_free(&kr);
  return err;
}

static void sp_free(score_problem_t *sp) {
  sntk_target_destroy(&sp->tg);
  sntk_diff_eval_destroy(&sp->ev);
  sntk_data_free(&sp->train0);
  sntk_data_free(&sp->batch);
  free(sp->errs.bins);
  free(sp->errs.bins_unweighted);
}

int sntk_score_main(const sntk_ctx_t *ctx, const sntk_deck_t *deck, const sntk_run_opts_t *opts) {
  score_problem_t sp;
  int err = SNTK_OK;
  memset(&sp, 0, sizeof sp);
  sp.comm = ctx->comm;
  sp.rank = ctx->rank;
  sp.deck = deck;
  sp.cfg = &deck->diffusion;
  snprintf(sp.dir, sizeof sp.dir, "%s/%s", deck->run.output_dir[0] ? deck->run.output_dir : ".",
           deck->run.name);
  if (sp.cfg->regression && sp.cfg->minibatch > 0)
    return sntk_error(SNTK_ERR_INPUT, "diffusion.regression = true needs the full-batch training "
                                      "set (diffusion.minibatch = 0): kernel regression fits a "
                                      "fixed set");
  SNTK_TRY(diff_setup(ctx->comm, deck, &sp.tg, &sp.map, &sp.train0));
  err = sntk_diff_eval_create(sp.tg, &sp.map, sp.cfg, sntk_data_seed(&deck->data, deck->run.seed),
                              &sp.ev);
  if (!err) err = SNTK_ALLOC(sp.errs.bins, sp.cfg->t_bins);
  if (!err) err = SNTK_ALLOC(sp.errs.bins_unweighted, sp.cfg->t_bins);
  SNTK_TRY(sntk_agree(ctx->comm, err));
  const sntk_problem_t pb = {.command = "score",
                             .self = &sp,
                             .load = sp_load,
                             .describe = sp_describe,
                             .batch = sp_batch,
                             .header = sp_header,
                             .open = sp_open,
                             .evaluate = sp_evaluate,
                             .finish = sp_finish};
  const sntk_train_setup_t su = sntk_deck_train_setup(deck);
  err = sntk_train_run(ctx, &su, opts, &pb);
done:
  sp_free(&sp);
  return err;
}
