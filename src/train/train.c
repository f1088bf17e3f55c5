/* `softntk train`: full-batch gradient descent on the sharded network, progress lines, results.h5. */
#include "softntk/train.h"

#include "softntk/deck.h"
#include "softntk/error.h"
#include "softntk/log.h"
#include "softntk/ntk.h"
#include "softntk/parallel.h"
#include "softntk/results.h"
#include "softntk/rundir.h"
#include "softntk/version.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define OFF(f) offsetof(sntk_run_cfg_t, f)
const sntk_key_t sntk_run_keys[] = {
    {"name", SNTK_T_STRING, OFF(name), "default", 0, 0, 0, NULL, NULL,
     "run directory name (below output_dir)"},
    {"output_dir", SNTK_T_STRING, OFF(output_dir), "runs", 0, 0, 0, NULL, NULL,
     "directory holding run directories"},
    {"seed", SNTK_T_INT, OFF(seed), "1", 0, 9e15, 0, NULL, NULL,
     "master seed of every random stream (data, weights, signs)"},
    {"overwrite", SNTK_T_BOOL, OFF(overwrite), "false", 0, 0, 0, NULL, NULL,
     "replace results.h5 of an earlier run with the same name"},
    {NULL}};
#undef OFF

#define OFF(f) offsetof(sntk_train_cfg_t, f)
const sntk_key_t sntk_train_keys[] = {
    {"steps", SNTK_T_INT, OFF(steps), "1000", 0, 9e15, 0, NULL, NULL, "gradient-descent steps"},
    {"eta", SNTK_T_REAL, OFF(eta), "3e-5", 0, INFINITY, SNTK_KEY_MIN_OPEN, NULL, NULL,
     "learning rate (> 0); the stable range scales like 1 / (gamma^2 lambda_max(H) / nu)"},
    {"target_loss", SNTK_T_REAL, OFF(target_loss), "0", 0, INFINITY, 0, NULL, NULL,
     "stop once the loss is at or below this value (0: run all steps)"},
    {"log_every", SNTK_T_INT, OFF(log_every), "100", 1, 9e15, 0, NULL, NULL,
     "print a progress line (and flush results.h5) every this many steps"},
    {"chunk", SNTK_T_INT, OFF(chunk), "0", 0, 1e9, 0, NULL, NULL,
     "samples per chunk; 0 sizes chunks so the chunk buffers take about 64 MiB per rank"},
    {NULL}};
#undef OFF

enum { COL_STEP, COL_LOSS, COL_GRAD, COL_DRIFT, COL_TIME, NCOLS };

static const sntk_column_t train_cols[NCOLS] = {
    {"step", 1, "1", "gradient-descent step t; the row holds values at W(t), before update t"},
    {"loss", 0, "1", "L(W(t)) = 1/2 sum_i ||F(x_i) - y_i||^2"},
    {"grad_norm", 0, "1", "Frobenius norm of dL/dW at W(t)"},
    {"max_drift", 0, "1", "max_r ||w_r(t) - w_r(0)||"},
    {"wall_time", 0, "s", "wall-clock seconds since the first step began (rank 0)"},
};

static void hms(double seconds, char *out, size_t len) {
  if (!isfinite(seconds) || seconds < 0) seconds = 0;
  long s = (long)(seconds + 0.5);
  snprintf(out, len, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
}

/* Memory one rank needs (data are replicated; model and gradient are per rank), against what the node
 * offers. */
static int check_memory(MPI_Comm comm, const sntk_model_t *md, const sntk_dataset_t *ds) {
  int64_t avail, need = sntk_model_bytes(md->m_loc, md->d, md->k, md->chunk) +
                        (ds->n * (ds->d + ds->k) + md->m_loc * md->d) * (int64_t)sizeof(double);
  SNTK_CALL(sntk_mem_per_rank(comm, &avail));
  if (avail > 0 && need > avail)
    return sntk_error(SNTK_ERR_INPUT,
                      "the run needs %.2f GiB per rank but %.2f GiB are available per rank: use "
                      "more nodes, a smaller train.chunk, or a smaller problem",
                      need / 1073741824.0, avail / 1073741824.0);
  return SNTK_OK;
}

static int write_header(sntk_results_t *res, const sntk_deck_t *deck, const sntk_model_t *md,
                        const sntk_dataset_t *ds) {
  SNTK_CALL(sntk_results_attr_i64(res, "n", ds->n));
  SNTK_CALL(sntk_results_attr_i64(res, "d", ds->d));
  SNTK_CALL(sntk_results_attr_i64(res, "k", ds->k));
  SNTK_CALL(sntk_results_attr_i64(res, "m", md->m));
  SNTK_CALL(sntk_results_attr_str(res, "activation", sntk_activation_names[md->act]));
  SNTK_CALL(sntk_results_attr_f64(res, "gamma", md->gamma));
  SNTK_CALL(sntk_results_attr_f64(res, "nu", md->nu));
  SNTK_CALL(sntk_results_attr_f64(res, "sigma", md->sigma));
  SNTK_CALL(sntk_results_attr_f64(res, "eta", deck->train.eta));
  SNTK_CALL(sntk_results_attr_i64(res, "seed", deck->run.seed));
  SNTK_CALL(sntk_results_attr_i64(res, "chunk", md->chunk));
  if (deck->data.store) {
    SNTK_CALL(sntk_results_matrix(res, "/data/X", ds->n, ds->d, ds->X, "1",
                                  "training inputs, one sample per row"));
    SNTK_CALL(sntk_results_matrix(res, "/data/Y", ds->n, ds->k, ds->Y, "1",
                                  "training targets, one sample per row"));
  }
  return SNTK_OK;
}

static void log_banner(const sntk_ctx_t *ctx, const sntk_deck_t *deck, const sntk_model_t *md,
                       const sntk_dataset_t *ds, const char *dir) {
  static const char *src[] = {"sphere", "file"}, *tgt[] = {"teacher", "random labels"};
  int64_t lo = md->m / ctx->size, hi = lo + (md->m % ctx->size != 0);
  sntk_log("softntk %s train: deck %s (config hash %s)", sntk_version(), deck->origin, deck->hash);
  sntk_log("  data : %s, n = %lld, d = %lld, k = %lld%s%s", src[deck->data.source],
           (long long)ds->n, (long long)ds->d, (long long)ds->k,
           deck->data.source == SNTK_SOURCE_SPHERE ? ", " : "",
           deck->data.source == SNTK_SOURCE_SPHERE ? tgt[deck->data.target] : "");
  sntk_log("  model: %s, m = %lld, %s init, sigma = %g, gamma = %.6g, nu = %.6g",
           sntk_activation_names[md->act], (long long)md->m,
           md->init == SNTK_INIT_COUPLED ? "coupled" : "random", md->sigma, md->gamma, md->nu);
  sntk_log("  ranks: %d, neurons per rank %lld..%lld, chunk %lld samples, %.1f MiB per rank",
           ctx->size, (long long)lo, (long long)hi, (long long)md->chunk,
           sntk_model_bytes(hi, md->d, md->k, md->chunk) / 1048576.0);
  sntk_log("  train: %lld steps, eta = %g%s, output in %s", (long long)deck->train.steps,
           deck->train.eta, deck->train.target_loss > 0 ? " (until target_loss)" : "", dir);
  sntk_log("%8s %14s %14s %14s %10s %10s", "step", "loss", "grad_norm", "max_drift", "s/step",
           "ETA");
}

/* Collective: global gradient norm and drift from the local blocks. */
static int measures(const sntk_model_t *md, const double *grad, double *gnorm, double *drift) {
  double g2 = 0.0;
  for (int64_t i = 0; i < md->m_loc * md->d; i++) g2 += grad[i] * grad[i];
  double dl = sntk_model_local_drift(md);
  SNTK_CALL(SNTK_MPI(MPI_Allreduce(MPI_IN_PLACE, &g2, 1, MPI_DOUBLE, MPI_SUM, md->comm)));
  SNTK_CALL(SNTK_MPI(MPI_Allreduce(MPI_IN_PLACE, &dl, 1, MPI_DOUBLE, MPI_MAX, md->comm)));
  *gnorm = sqrt(g2);
  *drift = dl;
  return SNTK_OK;
}

/* A non-finite loss, or one grown a million-fold over the initial loss, ends the run with advice. */
static int diverged(const sntk_deck_t *deck, const sntk_model_t *md, int64_t t, double loss,
                    double loss0) {
  char txt[32];
  snprintf(txt, sizeof txt, isnan(loss) ? "NaN" : isinf(loss) ? "infinite" : "%.6e", loss);
  if (t == 0)
    return sntk_error(SNTK_ERR_RUNTIME,
                      "loss is %s at initialisation: the outputs overflow; lower "
                      "model.output_scale (now %s) or model.sigma (now %g)",
                      txt, deck->model.output_scale, md->sigma);
  if (md->act == SNTK_ACT_EXP && isinf(loss))
    return sntk_error(SNTK_ERR_RUNTIME,
                      "loss is infinite at step %lld: exp(w . x) overflowed (weights grew too "
                      "large); lower train.eta (now %g) or model.sigma (now %g)",
                      (long long)t, deck->train.eta, md->sigma);
  return sntk_error(SNTK_ERR_RUNTIME,
                    "loss is %s at step %lld (initial loss %.6e): gradient descent diverged; lower "
                    "train.eta (now %g)",
                    txt, (long long)t, loss0, deck->train.eta);
}

static int is_divergent(double loss, double loss0) {
  return !isfinite(loss) || (loss0 > 0 && loss > 1e6 * loss0);
}

/* The gradient-descent loop: rows into results, a progress line every log_every steps. */
static int descend(const sntk_deck_t *deck, sntk_model_t *md, const sntk_dataset_t *ds,
                   sntk_results_t *res, int series, double *grad, sntk_ntk_tracker_t *trk) {
  const sntk_train_cfg_t *tc = &deck->train;
  const double t_start = MPI_Wtime();
  double t_mark = t_start, loss0 = NAN, loss = NAN;
  int64_t s_mark = 0, t;
  for (t = 0;; t++) {
    double gnorm, drift;
    SNTK_CALL(sntk_model_eval(md, ds, &loss, NULL, grad));
    SNTK_CALL(measures(md, grad, &gnorm, &drift));
    if (t == 0) loss0 = loss;
    double now = MPI_Wtime();
    double row[NCOLS] = {(double)t, loss, gnorm, drift, now - t_start};
    SNTK_CALL(sntk_results_append(res, series, row));
    int last = t >= tc->steps || (tc->target_loss > 0 && loss <= tc->target_loss);
    if (is_divergent(loss, loss0)) {
      SNTK_CALL(sntk_results_flush(res));
      return diverged(deck, md, t, loss, loss0);
    }
    SNTK_CALL(sntk_ntk_tracker_step(trk, res, t)); /* [ntk] every: NTK of W(t) */
    if (t % tc->log_every == 0 || last) {
      double per = t > s_mark ? (now - t_mark) / (double)(t - s_mark) : 0.0;
      char eta_txt[32];
      hms(per * (double)(tc->steps - t), eta_txt, sizeof eta_txt);
      sntk_log("%8lld %14.6e %14.6e %14.6e %10.3e %10s", (long long)t, loss, gnorm, drift, per,
               eta_txt);
      t_mark = now;
      s_mark = t;
      SNTK_CALL(sntk_results_flush(res));
    }
    if (last) break;
    sntk_model_update(md, grad, tc->eta);
  }
  double wall = MPI_Wtime() - t_start;
  const char *why = t >= tc->steps ? "all steps done" : "target_loss reached";
  sntk_log("done: %s, %lld steps in %.3f s (%.3e s/step); loss %.6e -> %.6e (%.3g x lower)", why,
           (long long)t, wall, t > 0 ? wall / (double)t : 0.0, loss0, loss,
           loss > 0 ? loss0 / loss : INFINITY);
  SNTK_CALL(sntk_results_attr_i64(res, "steps_done", t));
  SNTK_CALL(sntk_results_attr_f64(res, "final_loss", loss));
  return SNTK_OK;
}

int sntk_train_main(const sntk_ctx_t *ctx, const sntk_deck_t *deck) {
  MPI_Comm comm = ctx->comm;
  sntk_dataset_t ds = {0};
  sntk_model_t *md = NULL;
  sntk_results_t *res = NULL;
  sntk_ntk_tracker_t *trk = NULL;
  double *grad = NULL;
  char dir[4096], path[4200];
  int err = SNTK_OK, series;
  const uint64_t seed = (uint64_t)deck->run.seed;
  SNTK_TRY(sntk_data_load(comm, &deck->data, seed, sntk_deck_data_mask(deck), &ds));
  SNTK_TRY(sntk_model_create(comm, &deck->model, ds.d, ds.k, deck->train.chunk, ds.n, &md));
  SNTK_TRY(sntk_agree(comm, check_memory(comm, md, &ds)));
  SNTK_TRY(sntk_agree(comm, SNTK_ALLOC(grad, md->m_loc * md->d)));
  sntk_model_init(md, seed);
  SNTK_TRY(sntk_ntk_tracker_create(deck, md, &ds, &trk));
  SNTK_TRY(sntk_rundir_prepare(comm, deck->run.output_dir, deck->run.name, deck->run.overwrite, dir,
                               sizeof dir));
  snprintf(path, sizeof path, "%s/log.txt", dir);
  SNTK_TRY(sntk_agree(comm, sntk_log_open_file(path)));
  log_banner(ctx, deck, md, &ds, dir);
  snprintf(path, sizeof path, "%s/results.h5", dir);
  SNTK_TRY(sntk_results_create(comm, path, "train", deck->text, deck->hash, &res));
  SNTK_TRY(write_header(res, deck, md, &ds));
  SNTK_TRY(sntk_results_series(res, "/train", NCOLS, train_cols, &series));
  SNTK_TRY(descend(deck, md, &ds, res, series, grad, trk));
  SNTK_TRY(sntk_ntk_tracker_finish(trk));
  SNTK_TRY(sntk_results_close(&res));
  sntk_log("results: %s", path);
done:
  sntk_results_free(&res);
  sntk_log_open_file(NULL);
  sntk_ntk_tracker_destroy(&trk);
  free(grad);
  sntk_model_destroy(&md);
  sntk_data_free(&ds);
  return err;
}
