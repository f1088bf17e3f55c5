/* Elementwise kernels (see kernels.h).
 *
 * glibc declares the SIMD variants of exp only under -ffast-math, which this project cannot use (it
 * would turn NaN and Inf checks into no-ops). Declaring the variant here and compiling this file with
 * -fopenmp-simd -fno-math-errno makes GCC call libmvec's vector exp (at most a few ulp from the scalar
 * exp); the ISA level is the build option `simd`. */
#include "kernels.h"

#include <math.h>

#pragma omp declare simd notinbranch
double exp(double);

void sntk_kern_softmax_rows(int64_t c, int64_t n, double *Z, double *M, double *s, int64_t stride) {
  for (int64_t i = 0; i < c; i++) {
    double *z = Z + i * n;
    double mx = -INFINITY, sum = 0.0;
#pragma omp simd reduction(max : mx)
    for (int64_t j = 0; j < n; j++) mx = z[j] > mx ? z[j] : mx;
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j < n; j++) {
      z[j] = exp(z[j] - mx);
      sum += z[j];
    }
    M[i * stride] = mx;
    s[i * stride] = sum;
  }
}

void sntk_kern_exp(int64_t len, double *Z) {
#pragma omp simd
  for (int64_t j = 0; j < len; j++) Z[j] = exp(Z[j]);
}

void sntk_kern_relu(int64_t len, double *Z) {
#pragma omp simd
  for (int64_t j = 0; j < len; j++) Z[j] = Z[j] > 0.0 ? Z[j] : 0.0;
}

void sntk_kern_softmax_grad(int64_t c, int64_t n, const double *P, double *B, const double *f,
                            const double *q, double gamma) {
  for (int64_t i = 0; i < c; i++) {
    const double *p = P + i * n;
    double *b = B + i * n;
    const double fi = f[i], qi = q[i];
#pragma omp simd
    for (int64_t j = 0; j < n; j++) b[j] = p[j] * fi * (gamma * b[j] - qi);
  }
}

void sntk_kern_exp_grad(int64_t len, const double *P, double *B, double gamma) {
#pragma omp simd
  for (int64_t j = 0; j < len; j++) B[j] = gamma * P[j] * B[j];
}

void sntk_kern_relu_grad(int64_t len, const double *P, double *B, double gamma) {
#pragma omp simd
  for (int64_t j = 0; j < len; j++) B[j] = P[j] > 0.0 ? gamma * B[j] : 0.0;
}
