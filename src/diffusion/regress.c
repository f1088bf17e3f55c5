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
#include "diffusion_impl.h"

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

/* Rank 0: compare the trained network's predictions with the kernel's (read back from the file);
 * out = {kernel score error, trained score error, ||f_net - f_ker|| / ||f_ker||}. */
static int compare(const char *path, const sntk_diff_eval_t *ev, const double *Ft, double *out) {
  double *Fk = NULL, *bins = NULL;
  int64_t rows, cols;
  int err = SNTK_OK;
  sntk_diff_errors_t e;
  out[0] = out[1] = out[2] = NAN;
  SNTK_TRY(SNTK_ALLOC(bins, ev->nbins));
  e.bins = bins;
  diff_eval_errors(ev, Ft, &e);
  out[1] = e.error;
  if (sntk_h5_read_matrix(path, "ntk/regression/predictions", &rows, &cols, &Fk) != SNTK_OK)
    goto done; /* H(0) + ridge I was not positive definite: no kernel prediction (logged) */
  diff_eval_errors(ev, Fk, &e);
  out[0] = e.error;
  out[2] = rel_diff(Ft, Fk, ev->n * ev->d);
done:
  free(Fk), free(bins);
  return err;
}

static int write_comparison(MPI_Comm comm, sntk_results_t *res, const sntk_diff_eval_t *ev,
                            const double *Ft) {
  double cmp[3];
  int rank, err = SNTK_OK;
  MPI_Comm_rank(comm, &rank);
  SNTK_CALL(sntk_results_matrix(res, "/ntk/regression/trained", ev->n, ev->d, Ft, "1",
                                "the trained network's x_0 predictions on the held-out points"));
  if (rank == 0) err = compare(sntk_results_path(res), ev, Ft, cmp);
  SNTK_CALL(sntk_agree(comm, err));
  SNTK_CALL(SNTK_MPI(MPI_Bcast(cmp, 3, MPI_DOUBLE, 0, comm)));
  SNTK_CALL(sntk_results_attr_at_f64(res, "/ntk/regression", "score_error_kernel", cmp[0]));
  SNTK_CALL(sntk_results_attr_at_f64(res, "/ntk/regression", "score_error_trained", cmp[1]));
  SNTK_CALL(sntk_results_attr_at_f64(res, "/ntk/regression", "rel_diff_trained_kernel", cmp[2]));
  sntk_log("regression: held-out score error of kernel regression %.6e, of the trained network "
           "%.6e; ||f_net - f_ker|| / ||f_ker|| = %.4e",
           cmp[0], cmp[1], cmp[2]);
  return SNTK_OK;
}

int diff_regression(MPI_Comm comm, const sntk_deck_t *deck, const sntk_dataset_t *train,
                    const sntk_diff_eval_t *ev, sntk_model_t *md, int64_t step, const char *dir) {
  sntk_model_t *m0 = NULL;
  sntk_ntk_t *ntk = NULL;
  sntk_results_t *res = NULL;
  double *Ft = NULL;
  char path[4200];
  const sntk_dataset_t hold = {ev->n, ev->d + 2, ev->d, ev->Z, ev->fstar};
  int err = SNTK_OK;
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
  SNTK_TRY(sntk_ntk_analyse(ntk, deck, train, &hold, 0, res));
  SNTK_TRY(write_comparison(comm, res, ev, Ft));
  SNTK_TRY(sntk_results_close(&res));
done:
  sntk_results_free(&res);
  sntk_ntk_destroy(&ntk);
  sntk_model_destroy(&m0);
  free(Ft);
  return err;
}
