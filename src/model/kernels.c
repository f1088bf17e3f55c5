/* Elementwise kernels (see kernels.h).
 *
 * glibc declares the SIMD variants of exp only under -ffast-math, which this project cannot use (it
 * would turn NaN and Inf checks into no-ops). Declaring the variant here and compiling this file with
 * -fopenmp-simd -fno-math-errno makes GCC call libmvec's vector exp (at most a few ulp from the scalar
 * exp). In the portable build (option simd = portable) every kernel is compiled three times, for
 * baseline x86-64 (SSE2), x86-64-v3 (AVX2) and x86-64-v4 (AVX-512), and the loader picks the best the
 * CPU runs (GCC target_clones); simd = v3 or native compile one version for that ISA. */
#include "kernels.h"

#include <math.h>

#pragma omp declare simd notinbranch
double exp(double);

#if defined(SNTK_KERNEL_CLONES) && defined(__x86_64__)
#define KERNEL __attribute__((target_clones("default", "arch=x86-64-v3", "arch=x86-64-v4")))
#else
#define KERNEL
#endif

KERNEL void sntk_kern_softmax_rows(int64_t c, int64_t n, double *Z, double *M, double *s, int64_t stride) {
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

KERNEL void sntk_kern_exp(int64_t len, double *Z) {
#pragma omp simd
  for (int64_t j = 0; j < len; j++) Z[j] = exp(Z[j]);
}

KERNEL void sntk_kern_relu(int64_t len, double *Z) {
#pragma omp simd
  for (int64_t j = 0; j < len; j++) Z[j] = Z[j] > 0.0 ? Z[j] : 0.0;
}

KERNEL void sntk_kern_softmax_grad(int64_t c, int64_t n, const double *P, double *B, const double *f,
                            const double *q, double gamma) {
  for (int64_t i = 0; i < c; i++) {
    const double *p = P + i * n;
    double *b = B + i * n;
    const double fi = f[i], qi = q[i];
#pragma omp simd
    for (int64_t j = 0; j < n; j++) b[j] = p[j] * fi * (gamma * b[j] - qi);
  }
}

KERNEL void sntk_kern_exp_grad(int64_t len, const double *P, double *B, double gamma) {
#pragma omp simd
  for (int64_t j = 0; j < len; j++) B[j] = gamma * P[j] * B[j];
}

KERNEL void sntk_kern_relu_grad(int64_t len, const double *P, double *B, double gamma) {
#pragma omp simd
  for (int64_t j = 0; j < len; j++) B[j] = P[j] > 0.0 ? gamma * B[j] : 0.0;
}
