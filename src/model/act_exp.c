/* exp: F(x) = gamma sum_r a_r exp(w_r . x). */
#include "kernels.h"
#include "model_impl.h"

#include <math.h>

static double gamma_paper(double m) {
  (void)m;
  return 1.0;
}

static double gamma_ntk(double m) {
  return 1.0 / sqrt(m);
}

static double nu(double m) {
  return 1.0 / m;
}

static void act_k1(int64_t c, int64_t n, double *Z, int64_t ldz, const double *a, double *out,
                   int64_t stride) {
  sntk_kern_act_k1(0, c, n, Z, ldz, a, out, stride);
}

static int forward(sntk_model_t *md, const double *X, int64_t c, double *F) {
  (void)X;
  return model_forward_sum(md, c, F, act_k1, sntk_kern_exp);
}

static void grad_signs(const sntk_model_t *md, int64_t i, double ge, double *u, double *v) {
  (void)md, (void)i;
  *u = ge;
  *v = -ge;
}

static void grad(sntk_model_t *md, int64_t c) {
  sntk_kern_exp_grad(c * md->m_loc, md->Z, md->B, md->gamma);
}

/* gamma (Z o Zp) A^T. */
static void jvp(const sntk_model_t *md, int64_t i0, int64_t c, double *Zp, double *out) {
  const int64_t ml = md->m_loc;
  for (int64_t i = 0; i < c; i++) {
    const double *z = md->Z + (i0 + i) * ml;
    double *p = Zp + i * ml;
    for (int64_t r = 0; r < ml; r++) p[r] *= z[r];
  }
  model_jvp_gemm(md, c, Zp, out);
}

static void feature(const sntk_model_t *md, int64_t i0, int64_t i1, int64_t r, int64_t l, double a,
                    double *u) {
  const int64_t ml = md->m_loc, k = md->k;
  (void)l;
  for (int64_t i = i0; i < i1; i++) u[i * k] = a * md->Z[i * ml + r];
}

static double limit(double sigma, const double *xi, const double *xj, int64_t d, double kx,
                    double ni, double nj) {
  (void)xi, (void)xj, (void)d;
  return kx * exp(0.5 * (sigma * sigma) * (ni + nj + 2.0 * kx));
}

const sntk_act_ops_t sntk_act_exp = {
    .name = "exp",
    .gamma_paper = gamma_paper,
    .gamma_ntk = gamma_ntk,
    .nu = nu,
    .forward = forward,
    .grad_signs = grad_signs,
    .grad = grad,
    .jvp = jvp,
    .jvp_prod = model_jvp_prod_value,
    .jvp_finish = model_jvp_finish_linear,
    .feature = feature,
    .limit = limit,
    .overflow = "exp(w . x) overflowed",
};
