/* The NTK of one state of a network written into a results file: the snapshot series (shared with
 * the tracker of `softntk train`), kernel regression on held-out points, the linearised loss curve,
 * the spectrum of H* and the Gram matrices (see ntk.h, sntk_ntk_analyse). */
#include "ntk_impl.h"

#include "softntk/error.h"
#include "softntk/log.h"
#include "softntk/perf.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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
  SNTK_TRY(sntk_results_matrix(res, "/ntk/linearised/loss", steps + 1, 0, loss, NULL, NULL));
  SNTK_TRY(sntk_results_matrix(res, "/ntk/linearised/bound", steps + 1, 0, bound, NULL, NULL));
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
  SNTK_CALL(sntk_results_matrix(res, "/ntk/limit/eigenvalues", neig, 0, ntk->w, NULL, NULL));
  SNTK_CALL(sntk_results_attr_at_f64(res, "/ntk/limit", "lambda_min", ntk->w[0]));
  return sntk_results_attr_at_f64(res, "/ntk/limit", "lambda_max", ntk->w[neig - 1]);
}

int ntk_snapshot_record(sntk_ntk_t *ntk, sntk_results_t *res, ntk_series_t *series, int64_t step) {
  sntk_ntk_snap_t snap;
  SNTK_CALL(sntk_ntk_snapshot(ntk, step, &snap));
  ntk_log_snapshot(ntk, &snap);
  if (!series->declared) SNTK_CALL(ntk_series_declare(ntk, res, snap.neig, series));
  if (snap.neig != series->neig)
    return sntk_error(SNTK_ERR_RUNTIME,
                      "NTK snapshot of step %lld has %lld eigenvalues, %lld expected",
                      (long long)step, (long long)snap.neig, (long long)series->neig);
  SNTK_CALL(ntk_series_append(res, series, &snap));
  SNTK_CALL(sntk_results_flush(res));
  if (!ntk->cfg.save_gram) return SNTK_OK;
  SNTK_CALL(ntk_fresh_H(ntk)); /* lean: the snapshot's solvers used H as their work matrix */
  char name[64];
  snprintf(name, sizeof name, "gram_%lld", (long long)step);
  return ntk_write_gram(&ntk->H, sntk_results_path(res), "/ntk", name, NULL);
}

static int save_limit_gram(sntk_ntk_t *ntk, sntk_results_t *res) {
  if (!ntk->cfg.limit) return SNTK_OK;
  return ntk_write_gram(&ntk->Hstar, sntk_results_path(res), "/ntk", "gram_limit", NULL);
}

int sntk_ntk_analyse(sntk_ntk_t *ntk, double eta, int64_t lin_steps, const sntk_dataset_t *train,
                     const sntk_dataset_t *hold, int64_t step, int64_t gd_steps,
                     sntk_results_t *res) {
  ntk_series_t series = {0};
  double t0 = sntk_wtime_sync(ntk->comm);
  SNTK_CALL(ntk_snapshot_record(ntk, res, &series, step));
  if (hold->n > 0)
    SNTK_CALL(ntk_regression(ntk, train, hold, eta, ntk->cfg.gd ? gd_steps : 0, res));
  if (ntk->cfg.spectrum == SNTK_SPECTRUM_FULL)
    SNTK_CALL(ntk_linearised_write(ntk, train, eta, lin_steps, res));
  if (ntk->cfg.limit) SNTK_CALL(limit_spectrum(ntk, res));
  if (ntk->cfg.save_gram) SNTK_CALL(save_limit_gram(ntk, res));
  const double wall = sntk_wtime_sync(ntk->comm) - t0;
  SNTK_CALL(sntk_results_attr_f64(res, "wall_time", wall));
  SNTK_CALL(sntk_results_attr_i64(res, "checks", ntk->checks));
  SNTK_CALL(sntk_results_attr_i64(res, "checks_failed", ntk->failures));
  sntk_log("done: %d checks, %d FAILED, %.3f s", ntk->checks, ntk->failures, wall);
  if (ntk->failures)
    return sntk_error(SNTK_ERR_RUNTIME, "%d of %d numerical checks FAILED (threshold %g)",
                      ntk->failures, ntk->checks, ntk->cfg.threshold);
  return SNTK_OK;
}
