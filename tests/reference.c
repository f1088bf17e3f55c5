/* Plain-loop reference network (see reference.h). */
#include "reference.h"

#include "softntk/model.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>

/* act_r(x) for every neuron of one sample: softmax probabilities S_r, exp(z_r) or max(z_r, 0). */
static void hidden(int act, int64_t m, int64_t d, const double *W, const double *x, double *h) {
  double mx = -INFINITY, s = 0;
  for (int64_t r = 0; r < m; r++) {
    double z = 0;
    for (int64_t j = 0; j < d; j++) z += W[r * d + j] * x[j];
    h[r] = z;
    if (z > mx) mx = z;
  }
  for (int64_t r = 0; r < m; r++) {
    if (act == SNTK_ACT_SOFTMAX) {
      h[r] = exp(h[r] - mx);
      s += h[r];
    } else if (act == SNTK_ACT_EXP) {
      h[r] = exp(h[r]);
    } else {
      h[r] = h[r] > 0 ? h[r] : 0;
    }
  }
  if (act == SNTK_ACT_SOFTMAX)
    for (int64_t r = 0; r < m; r++) h[r] /= s;
}

void ref_forward(int act, double gamma, int64_t m, int64_t d, int64_t k, const double *W,
                 const double *A, const double *X, int64_t n, double *F) {
  double *h = malloc((size_t)m * sizeof *h);
  for (int64_t i = 0; i < n; i++) {
    hidden(act, m, d, W, X + i * d, h);
    for (int64_t l = 0; l < k; l++) {
      double f = 0;
      for (int64_t r = 0; r < m; r++) f += A[l * m + r] * h[r];
      F[i * k + l] = gamma * f;
    }
  }
  free(h);
}

double ref_loss_grad(int act, double gamma, int64_t m, int64_t d, int64_t k, const double *W,
                     const double *A, const double *X, const double *Y, int64_t n, double *grad) {
  double *h = malloc((size_t)m * sizeof *h), *F = malloc((size_t)k * sizeof *F), loss = 0;
  for (int64_t i = 0; i < m * d; i++) grad[i] = 0;
  for (int64_t i = 0; i < n; i++) {
    const double *x = X + i * d;
    hidden(act, m, d, W, x, h);
    for (int64_t l = 0; l < k; l++) {
      F[l] = 0;
      for (int64_t r = 0; r < m; r++) F[l] += gamma * A[l * m + r] * h[r];
      loss += 0.5 * (F[l] - Y[i * k + l]) * (F[l] - Y[i * k + l]);
    }
    for (int64_t r = 0; r < m; r++) {
      double g = 0; /* sum_l E_il c_{i,l,r} */
      for (int64_t l = 0; l < k; l++) {
        double e = F[l] - Y[i * k + l], c;
        if (act == SNTK_ACT_SOFTMAX)
          c = h[r] * (gamma * A[l * m + r] - F[l]);
        else if (act == SNTK_ACT_EXP)
          c = gamma * A[l * m + r] * h[r];
        else
          c = gamma * A[l * m + r] * (h[r] > 0 ? 1.0 : 0.0);
        g += e * c;
      }
      for (int64_t j = 0; j < d; j++) grad[r * d + j] += g * x[j];
    }
  }
  free(h);
  free(F);
  return loss;
}

void ref_jacobian(int act, double gamma, int64_t m, int64_t d, int64_t k, const double *W,
                  const double *A, const double *X, int64_t n, double *J) {
  double *h = malloc((size_t)m * sizeof *h), *F = malloc((size_t)k * sizeof *F),
         *z = malloc((size_t)m * sizeof *z);
  for (int64_t i = 0; i < n; i++) {
    const double *x = X + i * d;
    hidden(act, m, d, W, x, h);
    for (int64_t r = 0; r < m; r++) {
      z[r] = 0;
      for (int64_t j = 0; j < d; j++) z[r] += W[r * d + j] * x[j];
    }
    for (int64_t l = 0; l < k; l++) {
      F[l] = 0;
      for (int64_t r = 0; r < m; r++) F[l] += gamma * A[l * m + r] * h[r];
    }
    for (int64_t l = 0; l < k; l++)
      for (int64_t r = 0; r < m; r++) {
        double c, a = A[l * m + r];
        if (act == SNTK_ACT_SOFTMAX)
          c = h[r] * (gamma * a - F[l]);
        else if (act == SNTK_ACT_EXP)
          c = gamma * a * exp(z[r]);
        else
          c = gamma * a * (z[r] > 0 ? 1.0 : 0.0);
        for (int64_t j = 0; j < d; j++) J[(i * k + l) * (m * d) + r * d + j] = c * x[j];
      }
  }
  free(h);
  free(F);
  free(z);
}

/* Round-off bounds of ref_bounds, first order in the unit roundoff u (gamma_n = n u / (1 - n u)
 * bounds a sum of n terms in any order relative to the sum of their absolute values; Higham,
 * Accuracy and Stability of Numerical Algorithms, ch. 3):
 * - z_r = w_r . x: |dz_r| <= gamma_d za_r with za_r = sum_j |w_rj x_j|.
 * - softmax: S_r = exp(z_r - s) / sum_q exp(z_q - s) for a shift |s| <= sig = ||x|| max_r ||w_r||
 *   (the library's bound ||x|| wmax or a row maximum); the ranks' partial sums are merged by
 *   rescaling with exp(s_p - s). Each exponential is within eps_r = gamma_d za_r + 2 u sig + 8 u
 *   (the subtraction, the inline exp's 4 ulp); each rescale costs 2 u sig + 9 u, at most `ranks` of
 *   them plus the final factor on any path; the sums gamma_{m + ranks}. So |dS_r| <= rho S_r with
 *   rho = 2 max_r eps_r + (ranks + 2) (2 u sig + 9 u) + gamma_{m + ranks} + 2 u. Exponentials
 *   below e^-708.39 flush to 0, and a shift lies at most 600 above its row maximum (else the row is
 *   recomputed with the maximum): each flush moves S by at most e^(600 - 708.39) absolute, and at
 *   most ranks + 1 of them (terms and rescaled partial sums) reach any S_r.
 * - exp: |dh_r| <= h_r (gamma_d za_r + 8 u); relu: |dh_r| <= gamma_d za_r (max(z, 0) adds nothing).
 * - F_il = gamma sum_r a_lr h_r: |dF| <= |gamma| sum_r |a_lr| (|dh_r| + gamma_{m + ranks + 4} h_r).
 * - c_ilr (DESIGN.md section 1): softmax S_r (gamma a_lr - F_il), bounded by C = S_r T with
 *   T = |gamma a_lr| + |F_il|, |dc| <= |dS_r| T + S_r |dF_il| + 2 u C; exp gamma a_lr h_r,
 *   |dc| <= |gamma a_lr| |dh_r| + u C; relu gamma a_lr 1[z_r > 0], exact unless |z_r| <= 2 |dz_r|
 *   (the indicator may flip), then |dc| <= |gamma a_lr|.
 * - E = F - Y: |dE| <= |dF| + u |E|; g_ir = sum_l E_il c_ilr (the library's softmax form
 *   S_r (gamma (E A)_ir - <E_i, F_i>) regroups the same terms): |dg| <= sum_l (|dE| C + |E| |dc|) +
 *   gamma_{k + 4} sum_l |E| C; grad_rj = sum_i x_ij g_ir: |d grad_rj| <= sum_i |x_ij| (|dg_ir| +
 *   gamma_{n + 2} sum_l |E_il| C_ilr); loss = 1/2 sum E^2: |dL| <= sum |E| |dE| + gamma_{nk + n +
 * 2} L (chunk partial sums). The values entering the bounds are this plain-loop evaluation's: the
 * difference is second order. */
static double gam(double n) {
  const double u = DBL_EPSILON / 2;
  return n * u / (1.0 - n * u);
}

void ref_bounds(int act, double gamma, int64_t m, int64_t d, int64_t k, const double *W,
                const double *A, const double *X, const double *Y, int64_t n, int ranks,
                ref_bounds_t *b) {
  const double u = DBL_EPSILON / 2, ga = fabs(gamma), gd = gam((double)d), tiny = exp(-108.39);
  double *z = malloc(sizeof(double) * (size_t)m), *za = malloc(sizeof(double) * (size_t)m),
         *h = malloc(sizeof(double) * (size_t)m), *dh = malloc(sizeof(double) * (size_t)m),
         *F = malloc(sizeof(double) * (size_t)k), *E = malloc(sizeof(double) * (size_t)k),
         *dE = malloc(sizeof(double) * (size_t)k), wmax = 0.0;
  b->F = malloc(sizeof(double) * (size_t)(n * k));
  b->C = malloc(sizeof(double) * (size_t)(n * k * m));
  b->dC = malloc(sizeof(double) * (size_t)(n * k * m));
  b->grad = Y ? calloc((size_t)(m * d), sizeof(double)) : NULL;
  b->loss = 0.0;
  for (int64_t r = 0; r < m; r++) {
    double s = 0.0;
    for (int64_t j = 0; j < d; j++) s += W[r * d + j] * W[r * d + j];
    wmax = fmax(wmax, sqrt(s));
  }
  double loss = 0.0;
  for (int64_t i = 0; i < n; i++) {
    const double *x = X + i * d;
    double xn = 0.0, zmax = -INFINITY, epsmax = 0.0, den = 0.0;
    for (int64_t j = 0; j < d; j++) xn += x[j] * x[j];
    const double sig = sqrt(xn) * wmax;
    for (int64_t r = 0; r < m; r++) {
      z[r] = za[r] = 0.0;
      for (int64_t j = 0; j < d; j++)
        z[r] += W[r * d + j] * x[j], za[r] += fabs(W[r * d + j] * x[j]);
      zmax = fmax(zmax, z[r]);
      epsmax = fmax(epsmax, gd * za[r] + 2 * u * sig + 8 * u);
    }
    const double rho =
        2 * epsmax + (ranks + 2) * (2 * u * sig + 9 * u) + gam((double)(m + ranks)) + 2 * u;
    for (int64_t r = 0; r < m; r++) {
      if (act == SNTK_ACT_SOFTMAX) {
        h[r] = exp(z[r] - zmax);
        den += h[r];
      } else if (act == SNTK_ACT_EXP) {
        h[r] = exp(z[r]);
        dh[r] = h[r] * (gd * za[r] + 8 * u);
      } else {
        h[r] = z[r] > 0 ? z[r] : 0.0;
        dh[r] = gd * za[r];
      }
    }
    if (act == SNTK_ACT_SOFTMAX)
      for (int64_t r = 0; r < m; r++) h[r] /= den, dh[r] = rho * h[r] + (ranks + 1) * tiny;
    for (int64_t l = 0; l < k; l++) {
      double f = 0.0, fa = 0.0, df = 0.0;
      for (int64_t r = 0; r < m; r++) {
        f += gamma * A[l * m + r] * h[r];
        fa += ga * fabs(A[l * m + r]) * h[r];
        df += ga * fabs(A[l * m + r]) * dh[r];
      }
      F[l] = f;
      b->F[i * k + l] = df + gam((double)(m + ranks + 4)) * fa;
    }
    for (int64_t l = 0; l < k; l++)
      for (int64_t r = 0; r < m; r++) {
        const double ag = ga * fabs(A[l * m + r]), dF = b->F[i * k + l];
        double *C = b->C + (i * k + l) * m + r, *dC = b->dC + (i * k + l) * m + r;
        if (act == SNTK_ACT_SOFTMAX) {
          const double T = ag + fabs(F[l]);
          *C = h[r] * T;
          *dC = dh[r] * T + h[r] * dF + 2 * u * *C;
        } else if (act == SNTK_ACT_EXP) {
          *C = ag * h[r];
          *dC = ag * dh[r] + u * *C;
        } else {
          *C = z[r] > 0 ? ag : 0.0;
          *dC = fabs(z[r]) <= 2 * gd * za[r] ? ag : 0.0;
        }
      }
    if (!Y) continue;
    for (int64_t l = 0; l < k; l++) {
      E[l] = F[l] - Y[i * k + l];
      dE[l] = b->F[i * k + l] + u * fabs(E[l]);
      loss += 0.5 * E[l] * E[l];
      b->loss += fabs(E[l]) * dE[l];
    }
    for (int64_t r = 0; r < m; r++) {
      double gabs = 0.0, dg = 0.0;
      for (int64_t l = 0; l < k; l++) {
        const double C = b->C[(i * k + l) * m + r], dC = b->dC[(i * k + l) * m + r];
        gabs += fabs(E[l]) * C;
        dg += dE[l] * C + fabs(E[l]) * dC;
      }
      dg += gam((double)(k + 4)) * gabs;
      for (int64_t j = 0; j < d; j++)
        b->grad[r * d + j] += fabs(x[j]) * (dg + gam((double)(n + 2)) * gabs);
    }
  }
  if (Y) b->loss += gam((double)(n * k + n + 2)) * loss;
  free(z), free(za), free(h), free(dh), free(F), free(E), free(dE);
}

void ref_bounds_free(ref_bounds_t *b) {
  free(b->F), free(b->grad), free(b->C), free(b->dC);
  b->F = b->grad = b->C = b->dC = NULL;
}
