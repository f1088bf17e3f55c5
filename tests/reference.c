/* Plain-loop reference network (see reference.h). */
#include "reference.h"

#include "softntk/model.h"

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
