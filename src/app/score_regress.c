/* Network versus NTK kernel regression for a score run (diffusion.regression = true): the kernel
 * regression predictor of x_0 with the NTK of the network at initialisation, fitted on the
 * full-batch training triples and evaluated on the held-out points, against the trained network.
 *
 * The NTK module does the work (sntk_ntk_analyse on a model rebuilt at W0: the Gram matrix on the
 * BLACS grid, Cholesky, the predictions F(W0, x) + H(x, X)(H + ridge I)^{-1}(y - F(W0, X)) for the
 * empirical H(0) and, with ntk.limit, for H*); its targets are the posterior means f* (the labels
 * x_0 when the score is unknown). With coupled initialisation F(W0) = 0 and the prediction is the
 * plain kernel regressor. Everything goes to <run dir>/regression.h5 (the layout of `softntk ntk`'s
 * ntk.h5 plus /ntk/regression/trained), rewritten at the end of every run that completes. The
 * network-versus-kernel distance as the width m grows is the experiment this serves. */
#include "score.h"
#include "softntk/process.h"

#include "softntk/error.h"
#include "softntk/h5util.h"
#include "softntk/log.h"
#include "softntk/ntk.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static double rel_diff(const double *a, const double *b, int64_t len) {
  double num = 0.0, den = 0.0;
  for (int64_t i = 0; i < len; i++) num += (a[i] - b[i]) * (a[i] - b[i]), den += b[i] * b[i];
  return den > 0 ? sqrt(num / den) : sqrt(num);
}

/* The kernel predictors of regression.h5 the trained network is compared with: ridge regression
 * with H(0) (always), kernel gradient descent with H(0) and with H* (ntk.gd, ntk.limit). */
#define NCMP 3
static const char *const cmp_sets[NCMP] = {"ntk/regression/predictions",
                                           "ntk/regression/predictions_gd",
                                           "ntk/regression/predictions_gd_limit"};
static const char *const cmp_names[NCMP][2] = {
    {"score_error_kernel", "rel_diff_trained_kernel"},
    {"score_error_kernel_gd", "rel_diff_trained_gd"},
    {"score_error_kernel_gd_limit", "rel_diff_trained_gd_limit"}};

/* Rank 0: compare the trained network's predictions with each kernel predictor (read back from the
 * file). out[0] = the trained score error; out[1 + 2c], out[2 + 2c] = the score error of predictor
 * c and ||f_net - f_c|| / ||f_c||, NaN when the file lacks it (not positive definite, not asked).
 */
/* The predictions of x_0 from network outputs F on the held-out points (the output map). */
static void to_x0(const sntk_diff_eval_t *ev, const double *F, double *f) {
  for (int64_t j = 0; j < ev->n; j++)
    sntk_diff_output(&ev->map, ev->t[j], ev->xt + j * ev->d, F + j * ev->d, f + j * ev->d);
}

static int compare(const char *path, const sntk_diff_eval_t *ev, const double *Ft, double *out) {
  double *Fk = NULL, *bins = NULL, *f = NULL;
  int64_t rows, cols;
  int err = SNTK_OK;
  sntk_diff_errors_t e = {0};
  for (int i = 0; i < 1 + 2 * NCMP; i++) out[i] = NAN;
  SNTK_TRY(SNTK_ALLOC(bins, ev->nbins));
  SNTK_TRY(SNTK_ALLOC(f, ev->n * ev->d));
  e.bins = bins;
  to_x0(ev, Ft, f);
  sntk_diff_eval_errors(ev, f, &e);
  out[0] = e.error;
  for (int c = 0; c < NCMP; c++) {
    if (sntk_h5_read_matrix(path, cmp_sets[c], &rows, &cols, &Fk) != SNTK_OK) continue;
    to_x0(ev, Fk, f);
    sntk_diff_eval_errors(ev, f, &e);
    out[1 + 2 * c] = e.error;
    out[2 + 2 * c] = rel_diff(Ft, Fk, ev->n * ev->d);
    free(Fk);
    Fk = NULL;
  }
done:
  free(Fk), free(bins), free(f);
  return err;
}

static int write_comparison(MPI_Comm comm, sntk_results_t *res, const sntk_diff_eval_t *ev,
                            const double *Ft) {
  double cmp[1 + 2 * NCMP];
  int rank, err = SNTK_OK;
  MPI_Comm_rank(comm, &rank);
  SNTK_CALL(sntk_results_matrix(
      res, "/ntk/regression/trained", ev->n, ev->d, Ft, "1",
      "the trained network's outputs F on the held-out points (x_0 predictions for "
      "diffusion.parametrisation = plain)"));
  if (rank == 0) err = compare(sntk_results_path(res), ev, Ft, cmp);
  SNTK_CALL(sntk_agree(comm, err));
  SNTK_CALL(SNTK_MPI(MPI_Bcast(cmp, 1 + 2 * NCMP, MPI_DOUBLE, 0, comm)));
  SNTK_CALL(sntk_results_attr_at_f64(res, "/ntk/regression", "score_error_trained", cmp[0]));
  for (int c = 0; c < NCMP; c++) {
    SNTK_CALL(sntk_results_attr_at_f64(res, "/ntk/regression", cmp_names[c][0], cmp[1 + 2 * c]));
    SNTK_CALL(sntk_results_attr_at_f64(res, "/ntk/regression", cmp_names[c][1], cmp[2 + 2 * c]));
  }
  sntk_log("regression: held-out score error of kernel regression %.6e, of the trained network "
           "%.6e; ||f_net - f_ker|| / ||f_ker|| = %.4e",
           cmp[1], cmp[0], cmp[2]);
  if (!isnan(cmp[4]))
    sntk_log("regression: kernel gradient descent (the linearised network at the trained step): "
             "score error %.6e with H(0), %.6e with H*; ||f_net - f_gd|| / ||f_gd|| = %.4e (H(0)), "
             "%.4e (H*)",
             cmp[3], cmp[5], cmp[4], cmp[6]);
  return SNTK_OK;
}

/* Collective. The H* predictor for sampling: alpha = (H* + ridge I)^{-1} (y - F(W0, X)) from the
 * Cholesky of H* (left intact by the analysis); *ok = 0 when H* + ridge I is not positive definite.
 */
static int kernel_fit(sntk_ntk_t *ntk, const sntk_dataset_t *train, sntk_model_t *m0, double *alpha,
                      int *ok) {
  const int64_t nk = train->n * train->k;
  double *b = NULL, logdet;
  int err = SNTK_OK;
  SNTK_TRY(sntk_agree(ntk->comm, SNTK_ALLOC(b, nk)));
  SNTK_TRY(sntk_model_forward(m0, train->X, train->n, b));
  for (int64_t i = 0; i < nk; i++) b[i] = train->Y[i] - b[i];
  SNTK_TRY(sntk_ntk_cholesky(ntk, &ntk->Hstar, ntk->cfg.ridge, ok, &logdet));
  if (*ok) SNTK_TRY(sntk_ntk_solve(ntk, &ntk->Hstar, ntk->cfg.ridge, b, alpha, "kernel score"));
done:
  free(b);
  return err;
}

void diff_kernel_free(diff_kernel_t *kr) {
  sntk_model_destroy(&kr->m0);
  free(kr->Ztr), free(kr->alpha), free(kr->Z), free(kr->F);
  memset(kr, 0, sizeof *kr);
}

int diff_kernel_score(void *ctx, double t, int64_t n, const double *X, double *S) {
  diff_kernel_t *kr = ctx;
  const int64_t d = kr->map->d, dz = d + 2;
  if (n > kr->n)
    return sntk_error(SNTK_ERR_RUNTIME, "kernel score: %lld points, workspace for %lld",
                      (long long)n, (long long)kr->n);
  for (int64_t i = 0; i < n; i++) sntk_diff_input(kr->map, X + i * d, t, kr->Z + i * dz);
  SNTK_CALL(sntk_model_forward(kr->m0, kr->Z, n, kr->F)); /* F(W0, z): 0 for coupled pairs */
  for (int64_t i = 0; i < n; i++)
    for (int64_t j = 0; j < kr->N; j++) {
      const double h =
          sntk_ntk_limit_kernel(kr->act, kr->sigma, kr->Z + i * dz, kr->Ztr + j * dz, dz);
      for (int64_t l = 0; l < d; l++) kr->F[i * d + l] += h * kr->alpha[j * d + l];
    }
  for (int64_t i = 0; i < n; i++)
    sntk_diff_output(kr->map, t, X + i * d, kr->F + i * d, kr->F + i * d);
  const double alpha = sntk_ou_alpha(t), inv = 1.0 / sntk_ou_sigma2(t);
  for (int64_t i = 0; i < n * d; i++) S[i] = (alpha * kr->F[i] - X[i]) * inv;
  return SNTK_OK;
}

int diff_regression(MPI_Comm comm, const sntk_deck_t *deck, const sntk_dataset_t *train,
                    const sntk_diff_eval_t *ev, const sntk_diff_map_t *map, sntk_model_t *md,
                    double eta, int64_t step, const char *dir, int64_t nsamples,
                    diff_kernel_t *kernel) {
  sntk_model_t *m0 = NULL;
  sntk_ntk_t *ntk = NULL;
  sntk_results_t *res = NULL;
  double *Ft = NULL, *Yh = NULL;
  char path[4200];
  int err = SNTK_OK;
  /* The kernel predictors regress the network's output F: their held-out targets are f* mapped
   * into F (f* itself for the plain parametrisation). */
  SNTK_TRY(sntk_agree(comm, SNTK_ALLOC(Yh, ev->n * ev->d)));
  for (int64_t j = 0; j < ev->n; j++)
    sntk_diff_output_target(map, ev->t[j], ev->xt + j * ev->d, ev->fstar + j * ev->d,
                            Yh + j * ev->d);
  const sntk_dataset_t hold = {ev->n, ev->d + 2, ev->d, ev->Z, Yh};
  snprintf(path, sizeof path, "%s/regression.h5", dir);
  sntk_log("regression: NTK of the network at initialisation on the %lld training triples (nk = "
           "%lld), predicting x_0 on %lld held-out points; output %s",
           (long long)train->n, (long long)(train->n * train->k), (long long)ev->n, path);
  SNTK_TRY(sntk_agree(comm, SNTK_ALLOC(Ft, ev->n * ev->d)));
  SNTK_TRY(sntk_model_forward(md, ev->Z, ev->n, Ft));
  SNTK_TRY(
      sntk_model_create(comm, &deck->model, train->d, train->k, deck->train.chunk, train->n, &m0));
  sntk_model_init(m0, (uint64_t)deck->run.seed);
  SNTK_TRY(sntk_ntk_create(&deck->ntk, &deck->parallel, m0, train->X, train->n, hold.n, 0, &ntk));
  SNTK_TRY(sntk_results_create(comm, path, "score-regression", deck->text, deck->hash, &res));
  SNTK_TRY(sntk_results_attr_i64(res, "m", m0->m));
  SNTK_TRY(sntk_results_attr_i64(res, "trained_step", step));
  SNTK_TRY(sntk_results_attr_str(
      res, "targets", ev->exact ? "posterior mean f* = E[x_0 | x_t]" : "noisy labels x_0"));
  SNTK_TRY(sntk_results_attr_f64(res, "eta", eta));
  SNTK_TRY(sntk_ntk_analyse(ntk, eta, deck->train.steps, train, &hold, 0, step, res));
  SNTK_TRY(write_comparison(comm, res, ev, Ft));
  SNTK_TRY(sntk_results_close(&res));
  if (kernel && ntk->cfg.limit) { /* the H* predictor as a score field for the sampler */
    int ok = 0;
    memset(kernel, 0, sizeof *kernel);
    err = SNTK_ALLOC(kernel->alpha, train->n * train->k);
    if (!err) err = SNTK_ALLOC(kernel->Ztr, train->n * train->d);
    if (!err) err = SNTK_ALLOC(kernel->Z, nsamples * train->d);
    if (!err) err = SNTK_ALLOC(kernel->F, nsamples * train->k);
    SNTK_TRY(sntk_agree(comm, err));
    SNTK_TRY(kernel_fit(ntk, train, m0, kernel->alpha, &ok));
    if (ok) {
      memcpy(kernel->Ztr, train->X, (size_t)(train->n * train->d) * sizeof *train->X);
      kernel->act = m0->act;
      kernel->sigma = m0->sigma;
      kernel->map = map;
      kernel->N = train->n;
      kernel->n = nsamples;
      kernel->m0 = m0;
      m0 = NULL; /* the kernel score owns it now */
    } else {
      sntk_log("regression: H* + ridge I is not positive definite: no kernel samples");
      diff_kernel_free(kernel);
    }
  }
done:
  sntk_results_free(&res);
  sntk_ntk_destroy(&ntk);
  sntk_model_destroy(&m0);
  free(Ft), free(Yh);
  return err;
}
