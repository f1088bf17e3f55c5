/* relu: F(x) = gamma sum_r a_r max(w_r . x, 0). */
#include "kernels.h"
#include "model_impl.h"

#include <math.h>

static double gamma_paper(double m) {
  return 1.0 / sqrt(m);
}

static double gamma_ntk(double m) {
  return 1.0 / sqrt(m);
}

static double nu(double m) {
  return 1.0 / m;
}

static void act_k1(int64_t c, int64_t n, double *Z, int64_t ldz, const double *a, double *out,
                   int64_t stride) {
  sntk_kern_act_k1(1, c, n, Z, ldz, a, out, stride);
}

static int forward(sntk_model_t *md, const double *X, int64_t c, double *F) {
  (void)X;
  return model_forward_sum(md, c, F, act_k1, sntk_kern_relu);
}

/* k = 1: G = gamma e_i a_r where Z > 0, in place of Z. */
static void grad_k1(sntk_model_t *md, int64_t c) {
  sntk_kern_relu_grad_k1(c, md->m_loc, md->Z, md->m_loc, md->A, md->E, md->gamma);
}

static void grad(sntk_model_t *md, int64_t c) {
  sntk_kern_relu_grad(c * md->m_loc, md->Z, md->B, md->gamma);
}

/* gamma (1[Z > 0] o Zp) A^T. */
static void jvp(const sntk_model_t *md, int64_t i0, int64_t c, double *Zp, double *out) {
  const int64_t ml = md->m_loc;
  for (int64_t i = 0; i < c; i++) {
    const double *z = md->Z + (i0 + i) * ml;
    double *p = Zp + i * ml;
    for (int64_t r = 0; r < ml; r++) p[r] = z[r] > 0.0 ? p[r] : 0.0;
  }
  model_jvp_gemm(md, c, Zp, out);
}

static void jvp_prod(const sntk_model_t *md, int64_t i0, int64_t c, double *Zp) {
  const int64_t ml = md->m_loc;
  for (int64_t i = 0; i < c; i++) {
    const double *z = md->Z + (i0 + i) * ml;
    double *p = Zp + i * ml;
    for (int64_t r = 0; r < ml; r++) p[r] = z[r] > 0.0 ? p[r] : 0.0;
  }
}

static void feature(const sntk_model_t *md, int64_t i0, int64_t i1, int64_t r, int64_t l, double a,
                    double *u) {
  const int64_t ml = md->m_loc, k = md->k;
  (void)l;
  for (int64_t i = i0; i < i1; i++) u[i * k] = md->Z[i * ml + r] > 0.0 ? a : 0.0;
}

/* The angle between x and y (squared norms nx2, ny2 > 0) as 2 atan2(|u - v|, |u + v|) of the unit
 * vectors u, v: accurate to a few eps in absolute terms for every pair, where acos(x . y / (|x|
 * |y|)) loses half the digits as the pair becomes parallel (a rounding of eps in the cosine moves
 * the angle by about sqrt(2 eps) there). Identical inputs give exactly 0. */
static double unit_angle(const double *x, const double *y, int64_t d, double nx2, double ny2) {
  const double nx = sqrt(nx2), ny = sqrt(ny2);
  double dm = 0.0, dp = 0.0;
  for (int64_t c = 0; c < d; c++) {
    const double u = x[c] / nx, v = y[c] / ny;
    dm += (u - v) * (u - v);
    dp += (u + v) * (u + v);
  }
  return 2.0 * atan2(sqrt(dm), sqrt(dp));
}

/* kx (pi - theta) / (2 pi), written so that theta = 0 gives exactly kx / 2; sigma drops out. */
static double limit(double sigma, const double *xi, const double *xj, int64_t d, double kx,
                    double ni, double nj) {
  (void)sigma;
  if (ni <= 0.0 || nj <= 0.0) return 0.0;
  return kx * (0.5 - unit_angle(xi, xj, d, ni, nj) / (2.0 * M_PI));
}

const sntk_act_ops_t sntk_act_relu = {
    .name = "relu",
    .gamma_paper = gamma_paper,
    .gamma_ntk = gamma_ntk,
    .nu = nu,
    .forward = forward,
    .grad_k1 = grad_k1,
    .grad = grad,
    .jvp = jvp,
    .jvp_prod = jvp_prod,
    .jvp_finish = model_jvp_finish_linear,
    .feature = feature,
    .limit = limit,
};
