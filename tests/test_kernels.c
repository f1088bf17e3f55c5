/* The elementwise kernels' inline exponential against libm, and the fused k = 1 kernels against
 * their plain definitions. Single rank.
 * Tolerances: the inline exp is a Cody-Waite reduction (r within 0.7 u |r| of x - k ln 2), a
 * degree-13 Taylor polynomial in Horner form (truncation below 5e-18 = 0.05 u; each rounding is
 * damped by |r|^j, |r| <= ln2 / 2, so at most u (1 + |r|) / (1 - |r|) e^{2 |r|} <= 4.2 u) and an
 * exact power-of-two scaling: within 5 u of exp(x), and glibc's exp within 1 ulp = 2 u of it: the
 * two differ by < 7 u < 4 ulp (8 u; the kernel contract ref_bounds in reference.c uses). */
#include "../src/model/kernels.h"
#include "harness.h"

#include <string.h>

int main(int argc, char **argv) {
  th_init(&argc, &argv);
  enum { N = 200001 };
  double *x = malloc(sizeof(double) * N), *y = malloc(sizeof(double) * N);
  for (int i = 0; i < N; i++) x[i] = -708.0 + 1417.0 * i / (N - 1.0); /* [-708, 709] */
  memcpy(y, x, sizeof(double) * N);
  sntk_kern_exp(N, y);
  double worst = 0, worst_x = 0;
  for (int i = 0; i < N; i++) {
    double e = fabs(y[i] - exp(x[i])) / exp(x[i]);
    if (isnan(e) || e > worst) worst = e, worst_x = x[i];
  }
  TH_OK(worst < 8 * TH_U, "vector exp over [-708, 709]: max relative error %.2e at %.3f (< 4 ulp)",
        worst, worst_x);
  double sx[] = {0.0, -1000.0, 1000.0, -708.5, 709.9, NAN, -INFINITY, INFINITY};
  double sy[8];
  memcpy(sy, sx, sizeof sx);
  sntk_kern_exp(8, sy);
  TH_OK(sy[0] == 1.0 && sy[1] == 0.0 && isinf(sy[2]) && sy[3] == 0.0 && isinf(sy[4]) &&
            isnan(sy[5]) && sy[6] == 0.0 && isinf(sy[7]),
        "exp(0) = 1 exactly; underflow to 0, overflow to inf, NaN stays NaN");
  /* fused softmax rows (k = 1) against max, exp, sum and weighted sum written out */
  enum { C = 3, M = 1000 };
  double Z[C * M], Z2[C * M], a[M], T[C * 3];
  for (int j = 0; j < M; j++) a[j] = (j % 3) ? 1.0 : -1.0;
  for (int i = 0; i < C * M; i++) Z[i] = Z2[i] = 40.0 * sin(0.37 * i) + (i / M == 2 ? 900.0 : 0.0);
  sntk_kern_softmax_rows_k1(C, M, Z, M, a, T, 3);
  double err = 0;
  for (int i = 0; i < C; i++) {
    double mx = -INFINITY, s = 0, num = 0;
    for (int j = 0; j < M; j++) mx = fmax(mx, Z2[i * M + j]);
    for (int j = 0; j < M; j++) {
      double e = exp(Z2[i * M + j] - mx);
      s += e, num += a[j] * e;
      err = th_max(err, fabs(Z[i * M + j] - e));
    }
    err = th_max(err, fabs(T[3 * i] - mx));
    err = th_max(err, th_max(fabs(T[3 * i + 1] - s), fabs(T[3 * i + 2] - num)) / s);
  }
  /* exponentials of the same z - mx: 4 ulp each way; the sums of M terms: within gamma_M s of the
   * exact sum each (|a| = 1), so the two computations within 2 gamma_M + 8 u on the scale of s */
  const double bound = 2 * th_gamma(M) + 8 * TH_U;
  TH_OK(err <= bound,
        "fused softmax rows (k = 1, one row shifted by 900): max deviation %.1e (<= %.1e = "
        "2 gamma_M + 8 u)",
        err, bound);
  free(x);
  free(y);
  return th_finish();
}
