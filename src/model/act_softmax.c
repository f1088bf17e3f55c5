/* Softmax over the m neurons: F(x) = gamma sum_r a_r S_r(x), S_r = exp(w_r . x) / sum_s exp(w_s .
 * x) (the paper's network). The forward reduces one tuple per sample across ranks (the row shift,
 * the normaliser and the k numerators); Z keeps exp(z - local shift) and ft the factors turning it
 * into S. */
#include "kernels.h"
#include "model_impl.h"
#include "softntk/error.h"
#include "softntk/perf.h"

#include <cblas.h>
#include <math.h>

static double gamma_paper(double m) {
  return m;
}

static double gamma_ntk(double m) {
  return sqrt(m);
}

static double nu(double m) {
  return m;
}

/* k = 1 in one pass over Z: each row is shifted by an upper bound of its pre-activations, ||x_i||
 * max_r ||w_r|| (Cauchy-Schwarz; model->wmax), instead of its maximum, which would need a pass of
 * its own. Any shift gives the same softmax; this one cannot overflow, and a row whose bound lies
 * more than 600 above its maximum (exp would lose it to underflow) or whose sum is not positive
 * (NaN) is recomputed with its true maximum. The shift is a function of W and x_i only, so results
 * are reproducible and independent of history. */
static void softmax_k1(sntk_model_t *md, const double *X, int64_t c) {
  const int64_t ml = md->m_loc, d = md->d;
  for (int64_t i = 0; i < c; i++) md->ft[i] = cblas_dnrm2((int)d, X + i * d, 1) * md->wmax;
  sntk_kern_softmax_shift_k1(c, ml, md->Z, ml, md->A, md->ft, md->T, 3);
  for (int64_t i = 0; i < c; i++) {
    if (md->T[3 * i + 1] > 0.0) continue; /* marked: recompute the row, two passes */
    cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)ml, (int)d, 1.0, md->W, (int)d, X + i * d, 1, 0.0,
                md->Z + i * ml, 1);
    sntk_kern_softmax_rows_k1(1, ml, md->Z + i * ml, ml, md->A, md->T + 3 * i, 3);
  }
}

static int forward(sntk_model_t *md, const double *X, int64_t c, double *F) {
  const int64_t ml = md->m_loc, k = md->k, w = k + 2;
  const int ci = (int)c, mli = (int)ml, ki = (int)k;
  if (md->repro) return model_softmax_units(md, X, c, F);
  sntk_perf_start(SNTK_EV_ACTIVATION);
  if (k == 1) {
    softmax_k1(md, X, c);
  } else {
    sntk_kern_softmax_rows(c, ml, md->Z, md->T, md->T + 1, w);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, ci, ki, mli, 1.0, md->Z, mli, md->A, mli,
                0.0, md->T + 2, (int)w);
  }
  sntk_perf_stop(SNTK_EV_ACTIVATION, 2.0 * (double)c * (double)ml * (double)k);
  for (int64_t i = 0; i < c; i++) md->ft[i] = md->T[i * w]; /* local shift, kept for rescaling */
  sntk_perf_start(SNTK_EV_ALLREDUCE);
  int rc = MPI_Allreduce(MPI_IN_PLACE, md->T, ci, md->tuple_type, md->tuple_op, md->comm);
  sntk_perf_stop(SNTK_EV_ALLREDUCE, 0.0);
  SNTK_CALL(SNTK_MPI(rc));
  for (int64_t i = 0; i < c; i++) {
    const double *t = md->T + i * w;
    const double inv_s = 1.0 / t[1];
    for (int64_t l = 0; l < k; l++) F[i * k + l] = md->gamma * t[2 + l] * inv_s;
    md->ft[i] = exp(md->ft[i] - t[0]) * inv_s;
  }
  return SNTK_OK;
}

/* rowq_i = <E_i, F_i>. */
static void grad_prepare(sntk_model_t *md, int64_t c, const double *F) {
  for (int64_t i = 0; i < c; i++) {
    double q = 0.0;
    for (int64_t l = 0; l < md->k; l++) q += md->E[i * md->k + l] * F[i * md->k + l];
    md->rowq[i] = q;
  }
}

static void grad_signs(const sntk_model_t *md, int64_t i, double ge, double *u, double *v) {
  *u = md->ft[i] * (ge - md->rowq[i]);
  *v = md->ft[i] * (-ge - md->rowq[i]);
}

static void grad(sntk_model_t *md, int64_t c) {
  sntk_kern_softmax_grad(c, md->m_loc, md->Z, md->B, md->ft, md->rowq, md->gamma);
}

/* With Z holding exp(z - shift) and S = Z ft: gamma ft_i ((Z o Zp) A^T - <a_l, S_i> sum_r Z_ir
 * Zp_ir). */
static void jvp(const sntk_model_t *md, int64_t i0, int64_t c, double *Zp, double *out) {
  const int64_t ml = md->m_loc, k = md->k, w = k + 2;
  for (int64_t i = 0; i < c; i++) {
    const double *z = md->Z + (i0 + i) * ml;
    double *p = Zp + i * ml;
    for (int64_t r = 0; r < ml; r++) p[r] *= z[r];
  }
  model_jvp_gemm(md, c, Zp, out);
  for (int64_t i = 0; i < c; i++) {
    double sum = 0.0;
    for (int64_t r = 0; r < ml; r++) sum += Zp[i * ml + r];
    const double *t = md->T + (i0 + i) * w;
    for (int64_t l = 0; l < k; l++)
      out[i * k + l] = md->ft[i0 + i] * (out[i * k + l] - md->gamma * sum * t[2 + l] / t[1]);
  }
}

static void jvp_finish(const sntk_model_t *md, int64_t i0, int64_t c, const double *sums,
                       double *out) {
  const int64_t k = md->k, w = k + 2;
  for (int64_t i = 0; i < c; i++) {
    const double *t = md->T + (i0 + i) * w, *s = sums + i * (k + 1);
    for (int64_t l = 0; l < k; l++)
      out[i * k + l] = md->ft[i0 + i] * (md->gamma * s[1 + l] - md->gamma * s[0] * t[2 + l] / t[1]);
  }
}

/* u = S_r (a_l - <a_l, S>), the merged tuples' numerators over the sum being <a_l, S(x_i)>. */
static void feature(const sntk_model_t *md, int64_t i0, int64_t i1, int64_t r, int64_t l, double a,
                    double *u) {
  const int64_t ml = md->m_loc, k = md->k, w = k + 2;
  for (int64_t i = i0; i < i1; i++) {
    const double z = md->Z[i * ml + r];
    const double *t = md->T + i * w;
    u[i * k] = z * md->ft[i] * (a - t[2 + l] / t[1]);
  }
}

static double limit(double sigma, const double *xi, const double *xj, int64_t d, double kx,
                    double ni, double nj) {
  (void)xi, (void)xj, (void)d, (void)ni, (void)nj;
  return kx * exp(sigma * sigma * kx);
}

const sntk_act_ops_t sntk_act_softmax = {
    .name = "softmax",
    .gamma_paper = gamma_paper,
    .gamma_ntk = gamma_ntk,
    .nu = nu,
    .forward = forward,
    .grad_prepare = grad_prepare,
    .grad_signs = grad_signs,
    .grad = grad,
    .jvp = jvp,
    .jvp_prod = model_jvp_prod_value,
    .jvp_finish = jvp_finish,
    .feature = feature,
    .limit = limit,
};
