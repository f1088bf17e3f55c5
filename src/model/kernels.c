/* Elementwise kernels (see kernels.h).
 *
 * The exponential is computed inline (exp_inline below) so that the loops vectorise completely: a
 * call to glibc's vector exp (libmvec) per 8 lanes measured 0.9-1.1 ns per element here, the inline
 * form about 0.3, and the exp pass is what stands beside the GEMMs in every step. -ffast-math is
 * not an option (it would turn NaN and Inf checks into no-ops); the file is compiled with
 * -fopenmp-simd -fno-math-errno -ffp-contract=fast. In the portable build (option simd = portable)
 * every kernel is compiled three times, for baseline x86-64 (SSE2), x86-64-v3 (AVX2) and x86-64-v4
 * (AVX-512), and the loader picks the best the CPU runs (GCC target_clones); simd = v3 or native
 * compile one version. */
#include "kernels.h"

#include <math.h>
#include <string.h>

/* exp(x) to within 2 ulp for |x| <= 708 (tests/test_kernels.c measures it against libm): x = k ln2
 * + r with |r| <= ln2/2 (Cody-Waite, two-part ln2), exp(r) by its Taylor series to r^13/13!
 * (truncation below 5e-18), times 2^k built in the exponent bits. Below -708.39 the result is 0
 * (the true value is subnormal, < 2.3e-308), above 709.78 it is +inf; NaN stays NaN. Branch-free so
 * that loops over it vectorise. (A reduction to |r| <= ln2/4 with degree 10 measured no faster here
 * and less accurate.) */
static inline double exp_inline(double x) {
  const double log2e = 1.4426950408889634074, ln2hi = 6.93147180369123816490e-01,
               ln2lo = 1.90821492927058770002e-10, shifter = 0x1.8p52;
  double xc = x < -708.39 ? -708.39 : (x > 709.78 ? 709.78 : x);
  double kd = xc * log2e + shifter;
  double k = kd - shifter;
  double r = (xc - k * ln2hi) - k * ln2lo;
  double p = 1.0 / 6227020800.0;
  p = p * r + 1.0 / 479001600.0;
  p = p * r + 1.0 / 39916800.0;
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 0.5;
  p = p * r + 1.0;
  p = p * r + 1.0;
  uint64_t bits,
      sbits; /* unsigned: for NaN input the bits are arbitrary, and the shift must be defined */
  memcpy(&bits, &kd, sizeof bits);
  memcpy(&sbits, &shifter, sizeof sbits);
  uint64_t e = (bits - sbits + 1023) << 52;
  double scale;
  memcpy(&scale, &e, sizeof scale);
  double y = p * scale;
  y = x < -708.39 ? 0.0 : y;
  return x > 709.78 ? INFINITY : y; /* NaN propagates through xc, kd and p */
}

/* Testing hook: the same function, out of line (tests/test_kernels.c). */
double sntk_kern_exp1(double x) {
  return exp_inline(x);
}

#if defined(SNTK_KERNEL_CLONES) && defined(__x86_64__)
#define KERNEL __attribute__((target_clones("default", "arch=x86-64-v3", "arch=x86-64-v4")))
#else
#define KERNEL
#endif

KERNEL void sntk_kern_softmax_rows(int64_t c, int64_t n, double *Z, double *M, double *s,
                                   int64_t stride) {
  for (int64_t i = 0; i < c; i++) {
    double *z = Z + i * n;
    double mx = -INFINITY, sum = 0.0;
#pragma omp simd reduction(max : mx)
    for (int64_t j = 0; j < n; j++) mx = z[j] > mx ? z[j] : mx;
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j < n; j++) {
      z[j] = exp_inline(z[j] - mx);
      sum += z[j];
    }
    M[i * stride] = mx;
    s[i * stride] = sum;
  }
}

KERNEL void sntk_kern_exp(int64_t len, double *Z) {
#pragma omp simd
  for (int64_t j = 0; j < len; j++) Z[j] = exp_inline(Z[j]);
}

KERNEL void sntk_kern_relu(int64_t len, double *Z) {
#pragma omp simd
  for (int64_t j = 0; j < len; j++) Z[j] = Z[j] > 0.0 ? Z[j] : 0.0;
}

KERNEL void sntk_kern_softmax_grad(int64_t c, int64_t n, const double *P, double *B,
                                   const double *f, const double *q, double gamma) {
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

KERNEL void sntk_kern_softmax_rows_k1(int64_t c, int64_t n, double *Z, int64_t ldz, const double *a,
                                      double *T, int64_t stride) {
  for (int64_t i = 0; i < c; i++) {
    double *z = Z + i * ldz;
    double mx = -INFINITY, sum = 0.0, num = 0.0;
#pragma omp simd reduction(max : mx)
    for (int64_t j = 0; j < n; j++) mx = z[j] > mx ? z[j] : mx;
#pragma omp simd reduction(+ : sum, num)
    for (int64_t j = 0; j < n; j++) {
      z[j] = exp_inline(z[j] - mx);
      sum += z[j];
      num += a[j] * z[j];
    }
    T[i * stride] = mx;
    T[i * stride + 1] = sum;
    T[i * stride + 2] = num;
  }
}

KERNEL void sntk_kern_softmax_shift_k1(int64_t c, int64_t n, double *Z, int64_t ldz,
                                       const double *a, const double *shift, double *T,
                                       int64_t stride) {
  for (int64_t i = 0; i < c; i++) {
    double *z = Z + i * ldz;
    const double sh = shift[i];
    double mx = -INFINITY, sum = 0.0, num = 0.0;
#pragma omp simd reduction(max : mx) reduction(+ : sum, num)
    for (int64_t j = 0; j < n; j++) {
      const double v = z[j];
      mx = v > mx ? v : mx;
      z[j] = exp_inline(v - sh);
      sum += z[j];
      num += a[j] * z[j];
    }
    T[i * stride] = sh;
    T[i * stride + 1] = (sh - mx <= 600.0 && sum > 0.0) ? sum : -1.0;
    T[i * stride + 2] = num;
  }
}

KERNEL void sntk_kern_act_k1(int relu, int64_t c, int64_t n, double *Z, int64_t ldz,
                             const double *a, double *out, int64_t stride) {
  for (int64_t i = 0; i < c; i++) {
    double *z = Z + i * ldz, acc = 0.0;
    if (relu) {
#pragma omp simd reduction(+ : acc)
      for (int64_t j = 0; j < n; j++) {
        z[j] = z[j] > 0.0 ? z[j] : 0.0;
        acc += a[j] * z[j];
      }
    } else {
#pragma omp simd reduction(+ : acc)
      for (int64_t j = 0; j < n; j++) {
        z[j] = exp_inline(z[j]);
        acc += a[j] * z[j];
      }
    }
    out[i * stride] = acc;
  }
}

KERNEL void sntk_kern_relu_grad_k1(int64_t c, int64_t n, double *Z, int64_t ldz, const double *a,
                                   const double *e, double gamma) {
  for (int64_t i = 0; i < c; i++) {
    double *z = Z + i * ldz;
    const double ge = gamma * e[i];
#pragma omp simd
    for (int64_t j = 0; j < n; j++) z[j] = z[j] > 0.0 ? ge * a[j] : 0.0;
  }
}

/* Reproducible mode: sums whose association is fixed by the source. No `omp simd reduction` (which
 * lets the compiler choose the association): eight partial sums over j mod 8, combined as ((s0 +
 * s4) + (s1 + s5)) + ((s2 + s6) + (s3 + s7)), then the tail in order. Without -ffast-math the
 * compiler may vectorise this (eight lanes are two AVX2 or one AVX-512 register) but not reorder
 * it, so every call with the same length gives the same bits wherever the data lie in memory. */
static inline double fdot8(const double *a, const double *x, int64_t n) {
  double s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (int q = 0; q < 8; q++) s[q] += a[j + q] * x[j + q];
  double t = ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
  for (; j < n; j++) t += a[j] * x[j];
  return t;
}

static inline double fsum8(const double *x, int64_t n) {
  double s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (int q = 0; q < 8; q++) s[q] += x[j + q];
  double t = ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
  for (; j < n; j++) t += x[j];
  return t;
}

/* fsum8(x) and fdot8(a, x) in one pass, with the same association as each. */
static inline void fsumdot8(const double *a, const double *x, int64_t n, double *sum, double *dot) {
  double s[8] = {0, 0, 0, 0, 0, 0, 0, 0}, t[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (int q = 0; q < 8; q++) {
      s[q] += x[j + q];
      t[q] += a[j + q] * x[j + q];
    }
  double us = ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
  double ut = ((t[0] + t[4]) + (t[1] + t[5])) + ((t[2] + t[6]) + (t[3] + t[7]));
  for (; j < n; j++) {
    us += x[j];
    ut += a[j] * x[j];
  }
  *sum = us;
  *dot = ut;
}

KERNEL void sntk_kern_softmax_units(int64_t c, int64_t nu, const int64_t *ustart,
                                    const int64_t *ulen, double *Z, int64_t ldz,
                                    const double *shift, const double *A, int64_t lda, int64_t k,
                                    double *T, int64_t stride) {
  for (int64_t i = 0; i < c; i++) /* row by row: the units of a row lie side by side */
    for (int64_t u = 0; u < nu; u++) {
      const int64_t len = ulen[u];
      double *z = Z + i * ldz + ustart[u], *t = T + (u * c + i) * stride, mx = -INFINITY;
      const double *a = A + ustart[u], sh = shift[i];
      if (k == 1) { /* one pass: the association of fsumdot8, eight lanes the compiler vectorises */
        double m8[8], s8[8] = {0, 0, 0, 0, 0, 0, 0, 0}, t8[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        for (int q = 0; q < 8; q++) m8[q] = -INFINITY;
        int64_t j = 0;
        for (; j + 8 <= len; j += 8)
          for (int q = 0; q < 8; q++) {
            const double v = z[j + q], e = exp_inline(v - sh);
            m8[q] = v > m8[q] ? v : m8[q];
            z[j + q] = e;
            s8[q] += e;
            t8[q] += a[j + q] * e;
          }
        double us = ((s8[0] + s8[4]) + (s8[1] + s8[5])) + ((s8[2] + s8[6]) + (s8[3] + s8[7]));
        double ut = ((t8[0] + t8[4]) + (t8[1] + t8[5])) + ((t8[2] + t8[6]) + (t8[3] + t8[7]));
        for (int q = 0; q < 8; q++) mx = m8[q] > mx ? m8[q] : mx;
        for (; j < len; j++) {
          const double v = z[j], e = exp_inline(v - sh);
          mx = v > mx ? v : mx;
          z[j] = e;
          us += e;
          ut += a[j] * e;
        }
        t[0] = mx, t[1] = us, t[2] = ut;
        continue;
      }
#pragma omp simd reduction(max : mx) /* a maximum does not depend on the order */
      for (int64_t j = 0; j < len; j++) {
        const double v = z[j];
        mx = v > mx ? v : mx;
        z[j] = exp_inline(v - sh);
      }
      t[0] = mx;
      t[1] = fsum8(z, len);
      for (int64_t l = 0; l < k; l++) t[2 + l] = fdot8(a + l * lda, z, len);
    }
}

KERNEL void sntk_kern_dots_units(int64_t c, int64_t nu, const int64_t *ustart, const int64_t *ulen,
                                 const double *P, int64_t ldp, const double *A, int64_t lda,
                                 int64_t k, int with_sum, double *out, int64_t stride) {
  for (int64_t i = 0; i < c; i++)
    for (int64_t u = 0; u < nu; u++) {
      const int64_t len = ulen[u];
      const double *p = P + i * ldp + ustart[u], *a = A + ustart[u];
      double *o = out + (u * c + i) * stride;
      if (k == 1 && with_sum) {
        fsumdot8(a, p, len, o, o + 1);
        continue;
      }
      if (with_sum) o[0] = fsum8(p, len);
      for (int64_t l = 0; l < k; l++) o[with_sum + l] = fdot8(a + l * lda, p, len);
    }
}

double sntk_kern_fdot8(const double *a, const double *x, int64_t n) {
  return fdot8(a, x, n);
}
