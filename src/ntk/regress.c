/* Kernel regression with the NTK (DESIGN.md section 2): alpha = (K + ridge I)^{-1} (y - F(X)) by
 * Cholesky (PDPOTRF + PDPOTRS, both checked), predictions F(x) + K(x, X) alpha on held-out points,
 * for the empirical kernel H at the current weights and, when built, the infinite-width H*. With
 * ntk.gd also alpha of gradient descent on the kernel (distributed K r products, one allreduce per
 * step): the linearised network's predictions after a given number of steps, which the trained
 * network approaches as m grows (ridge regression is a different spectral filter).
 *
 * The cross kernel of the empirical NTK is never formed: with V_{j,r} = sum_l u_{j,l,r}
 * alpha_{j,l}, K(x_p, X) alpha at output l is nu sum_r u_{p,l,r} sum_j (x_p . x_j) V_{j,r}: two
 * local GEMMs per rank over its own neurons and one allreduce of the held-out outputs. */
#include "ntk_impl.h"

#include "softntk/error.h"
#include "softntk/log.h"
#include "softntk/parallel.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Held-out predictions of the empirical kernel: pred += K(Xh, X) alpha. */
static int cross_empirical(sntk_ntk_t *ntk, const sntk_dataset_t *tr, const sntk_dataset_t *ho,
                           const double *alpha, double *pred) {
  sntk_model_t *md = ntk->model;
  const int64_t n = tr->n, h = ho->n, k = ntk->k, d = ntk->d, ml = md->m_loc, nk = ntk->nk;
  double *Uh = NULL, *V = NULL, *Kx = NULL, *B = NULL, *part = NULL;
  int err = SNTK_OK;
  SNTK_TRY(SNTK_ALLOC(Uh, h * k * (ml > 0 ? ml : 1)));
  SNTK_TRY(SNTK_ALLOC(V, n * ml));
  SNTK_TRY(SNTK_ALLOC(Kx, h * n));
  SNTK_TRY(SNTK_ALLOC(B, h * ml));
  SNTK_TRY(SNTK_ALLOC(part, h * k));
  err = sntk_model_features(md, ho->X, h, Uh, h * k);
  SNTK_TRY(sntk_agree(ntk->comm, err));
  for (int64_t j = 0; j < n; j++)
    for (int64_t r = 0; r < ml; r++) {
      double s = 0.0;
      for (int64_t l = 0; l < k; l++) s += ntk->U1.a[r * nk + j * k + l] * alpha[j * k + l];
      V[j * ml + r] = s;
    }
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)h, (int)n, (int)d, 1.0, ho->X, (int)d,
              tr->X, (int)d, 0.0, Kx, (int)n);
  if (ml > 0)
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)h, (int)ml, (int)n, 1.0, Kx, (int)n,
                V, (int)ml, 0.0, B, (int)ml);
  for (int64_t p = 0; p < h; p++)
    for (int64_t l = 0; l < k; l++) {
      double s = 0.0;
      for (int64_t r = 0; r < ml; r++) s += Uh[r * h * k + p * k + l] * B[p * ml + r];
      part[p * k + l] = md->nu * s;
    }
  SNTK_TRY(sntk_allreduce_sum(part, h * k, ntk->comm));
  for (int64_t i = 0; i < h * k; i++) pred[i] += part[i];
done:
  free(Uh), free(V), free(Kx), free(B), free(part);
  return err;
}

/* Held-out predictions of the limit kernel: pred_{p,l} += sum_j h(x_p, x_j) alpha_{j,l}. */
static void cross_limit(const sntk_ntk_t *ntk, const sntk_dataset_t *tr, const sntk_dataset_t *ho,
                        const double *alpha, double *pred) {
  const int64_t d = ntk->d, k = ntk->k;
  for (int64_t p = 0; p < ho->n; p++) {
    const double *xp = ho->X + p * d;
    const double np = cblas_ddot((int)d, xp, 1, xp, 1);
    for (int64_t j = 0; j < tr->n; j++) {
      const double *xj = tr->X + j * d;
      const double kx = cblas_ddot((int)d, xp, 1, xj, 1), nj = cblas_ddot((int)d, xj, 1, xj, 1);
      const double hv = ntk_limit_entry(ntk->model->act, ntk->model->sigma, xp, xj, d, kx, np, nj);
      for (int64_t l = 0; l < k; l++) pred[p * k + l] += hv * alpha[j * k + l];
    }
  }
}

static double rel_error(const double *a, const double *b, int64_t len) {
  double num = 0.0, den = 0.0;
  for (int64_t i = 0; i < len; i++) num += (a[i] - b[i]) * (a[i] - b[i]), den += b[i] * b[i];
  return den > 0 ? sqrt(num / den) : sqrt(num);
}

/* Kernel gradient descent: the linearised network after `steps` steps at learning rate eta from the
 * training residual r(0) = -b = F(W, X) - y. With c = gamma^2 / nu (J J^T = c K),
 * r(s+1) = r(s) - eta c K r(s) and the held-out prediction is F(W, x) + K(x, X) alpha with
 * alpha = -eta c sum_{s < steps} r(s). *loss = 1/2 ||r(steps)||^2, the linearised training loss. */
static int gd_alpha(sntk_ntk_t *ntk, const sntk_dmat_t *K, const double *b, double eta,
                    int64_t steps, double *alpha, double *loss) {
  const int64_t nk = ntk->nk;
  const double ec = eta * ntk->model->gamma * ntk->model->gamma / ntk->model->nu;
  double *r = NULL, *Kr = NULL;
  int err = SNTK_OK;
  SNTK_TRY(SNTK_ALLOC(r, nk));
  SNTK_TRY(SNTK_ALLOC(Kr, nk));
  for (int64_t i = 0; i < nk; i++) r[i] = -b[i], alpha[i] = 0.0;
  for (int64_t s = 0; s < steps; s++) {
    SNTK_TRY(ntk_symv(K, r, Kr));
    for (int64_t i = 0; i < nk; i++) alpha[i] -= ec * r[i], r[i] -= ec * Kr[i];
  }
  double l = 0.0;
  for (int64_t i = 0; i < nk; i++) l += r[i] * r[i];
  *loss = 0.5 * l;
done:
  free(r), free(Kr);
  return sntk_agree(ntk->comm, err);
}

/* Factor K + ridge I, solve for alpha; *ok = 0 when K + ridge I is not positive definite. */
static int fit(sntk_ntk_t *ntk, const sntk_dmat_t *K, const double *b, double *alpha,
               const char *what, int *ok) {
  double logdet;
  SNTK_CALL(sntk_ntk_cholesky(ntk, K, ntk->cfg.ridge, ok, &logdet));
  if (!*ok) {
    sntk_log("regression: %s + ridge I is not positive definite: no %s prediction (raise "
             "ntk.ridge)",
             what, what);
    return SNTK_OK;
  }
  return sntk_ntk_solve(ntk, K, ntk->cfg.ridge, b, alpha, "regression solve");
}

/* The kernel gradient-descent predictions for H and, when built, H* (gd_steps > 0). */
static int regression_gd(sntk_ntk_t *ntk, const sntk_dataset_t *tr, const sntk_dataset_t *ho,
                         const double *b, const double *f0, double eta, int64_t steps,
                         sntk_results_t *res) {
  const int64_t hk = ho->n * ntk->k;
  double *alpha = NULL, *pred = NULL, *plim = NULL;
  double loss = NAN, loss_lim = NAN, e = NAN, e_lim = NAN;
  int err = SNTK_OK;
  SNTK_TRY(SNTK_ALLOC(alpha, ntk->nk));
  SNTK_TRY(SNTK_ALLOC(pred, hk));
  SNTK_TRY(SNTK_ALLOC(plim, hk));
  memcpy(pred, f0, (size_t)hk * sizeof *pred);
  SNTK_TRY(gd_alpha(ntk, &ntk->H, b, eta, steps, alpha, &loss));
  SNTK_TRY(cross_empirical(ntk, tr, ho, alpha, pred));
  e = rel_error(pred, ho->Y, hk);
  SNTK_TRY(
      sntk_results_matrix(res, "/ntk/regression/predictions_gd", ho->n, ntk->k, pred, NULL, NULL));
  if (ntk->cfg.limit) {
    memcpy(plim, f0, (size_t)hk * sizeof *plim);
    SNTK_TRY(gd_alpha(ntk, &ntk->Hstar, b, eta, steps, alpha, &loss_lim));
    cross_limit(ntk, tr, ho, alpha, plim);
    e_lim = rel_error(plim, ho->Y, hk);
    SNTK_TRY(sntk_results_matrix(res, "/ntk/regression/predictions_gd_limit", ho->n, ntk->k, plim,
                                 NULL, NULL));
  }
  sntk_log("regression: kernel gradient descent, %lld steps at eta %g: relative error with H "
           "%.4e, with H* %.4e; training loss of the linearised network %.6e (H), %.6e (H*)",
           (long long)steps, eta, e, e_lim, loss, loss_lim);
  SNTK_TRY(sntk_results_attr_at_f64(res, "/ntk/regression", "gd_steps", (double)steps));
  SNTK_TRY(sntk_results_attr_at_f64(res, "/ntk/regression", "gd_eta", eta));
  SNTK_TRY(sntk_results_attr_at_f64(res, "/ntk/regression", "gd_train_loss", loss));
  SNTK_TRY(sntk_results_attr_at_f64(res, "/ntk/regression", "gd_train_loss_limit", loss_lim));
  SNTK_TRY(sntk_results_attr_at_f64(res, "/ntk/regression", "rel_error_gd", e));
  SNTK_TRY(sntk_results_attr_at_f64(res, "/ntk/regression", "rel_error_gd_limit", e_lim));
done:
  free(alpha), free(pred), free(plim);
  return err;
}

int ntk_regression(sntk_ntk_t *ntk, const sntk_dataset_t *tr, const sntk_dataset_t *ho, double eta,
                   int64_t gd_steps, sntk_results_t *res) {
  const int64_t nk = ntk->nk, hk = ho->n * ntk->k;
  double *F = NULL, *b = NULL, *alpha = NULL, *f0 = NULL, *pred = NULL, *plim = NULL;
  double e_net = NAN, e_emp = NAN, e_lim = NAN;
  int ok = 0, ok_lim = 0, err = SNTK_OK;
  SNTK_TRY(SNTK_ALLOC(F, nk));
  SNTK_TRY(SNTK_ALLOC(b, nk));
  SNTK_TRY(SNTK_ALLOC(alpha, nk));
  SNTK_TRY(SNTK_ALLOC(f0, hk));
  SNTK_TRY(SNTK_ALLOC(pred, hk));
  SNTK_TRY(SNTK_ALLOC(plim, hk));
  SNTK_TRY(sntk_model_forward(ntk->model, tr->X, tr->n, F));
  SNTK_TRY(sntk_model_forward(ntk->model, ho->X, ho->n, f0));
  for (int64_t i = 0; i < nk; i++) b[i] = tr->Y[i] - F[i];
  e_net = rel_error(f0, ho->Y, hk);
  memcpy(pred, f0, (size_t)hk * sizeof *pred);
  memcpy(plim, f0, (size_t)hk * sizeof *plim);
  SNTK_TRY(fit(ntk, &ntk->H, b, alpha, "H", &ok));
  if (ok) {
    SNTK_TRY(cross_empirical(ntk, tr, ho, alpha, pred));
    e_emp = rel_error(pred, ho->Y, hk);
  }
  if (ntk->cfg.limit) {
    SNTK_TRY(fit(ntk, &ntk->Hstar, b, alpha, "H*", &ok_lim));
    if (ok_lim) {
      cross_limit(ntk, tr, ho, alpha, plim);
      e_lim = rel_error(plim, ho->Y, hk);
    }
  }
  sntk_log("regression: %lld held-out points, ridge %g: relative error of the network %.4e, of "
           "kernel regression with H %.4e, with H* %.4e",
           (long long)ho->n, ntk->cfg.ridge, e_net, e_emp, e_lim);
  SNTK_TRY(sntk_results_matrix(res, "/ntk/regression/targets", ho->n, ntk->k, ho->Y, NULL, NULL));
  SNTK_TRY(sntk_results_matrix(res, "/ntk/regression/network", ho->n, ntk->k, f0, NULL, NULL));
  if (ok)
    SNTK_TRY(
        sntk_results_matrix(res, "/ntk/regression/predictions", ho->n, ntk->k, pred, NULL, NULL));
  if (ok_lim)
    SNTK_TRY(sntk_results_matrix(res, "/ntk/regression/predictions_limit", ho->n, ntk->k, plim,
                                 NULL, NULL));
  SNTK_TRY(sntk_results_attr_at_f64(res, "/ntk/regression", "ridge", ntk->cfg.ridge));
  SNTK_TRY(sntk_results_attr_at_f64(res, "/ntk/regression", "rel_error_network", e_net));
  SNTK_TRY(sntk_results_attr_at_f64(res, "/ntk/regression", "rel_error", e_emp));
  SNTK_TRY(sntk_results_attr_at_f64(res, "/ntk/regression", "rel_error_limit", e_lim));
  if (gd_steps > 0) SNTK_TRY(regression_gd(ntk, tr, ho, b, f0, eta, gd_steps, res));
done:
  free(F), free(b), free(alpha), free(f0), free(pred), free(plim);
  return err;
}
