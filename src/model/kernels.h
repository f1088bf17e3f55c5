/* Elementwise kernels of the forward and backward passes. Compiled with -fopenmp-simd
 * -fno-math-errno -ffp-contract=fast; exp is computed inline so that the loops vectorise completely
 * (kernels.c says why not through libmvec). Not collective.
 * Row-major c x n blocks with leading dimension n. */
#ifndef SOFTNTK_MODEL_KERNELS_H
#define SOFTNTK_MODEL_KERNELS_H

#include <stdint.h>

/* Per row i: M[i] = max_j Z[i, j]; Z[i, j] <- exp(Z[i, j] - M[i]); s[i] = sum_j Z[i, j]. The
 * maximum and sum are written with stride `stride` (M[i * stride], s[i * stride]). */
void sntk_kern_softmax_rows(int64_t c, int64_t n, double *Z, double *M, double *s, int64_t stride);

/* Z <- exp(Z) and Z <- max(Z, 0), len entries. */
void sntk_kern_exp(int64_t len, double *Z);
void sntk_kern_relu(int64_t len, double *Z);

/* Softmax gradient: B[i, j] <- P[i, j] f[i] (gamma B[i, j] - q[i]). */
void sntk_kern_softmax_grad(int64_t c, int64_t n, const double *P, double *B, const double *f,
                            const double *q, double gamma);
/* exp gradient: B <- gamma P B. relu gradient: B <- gamma B where P > 0, else 0. */
void sntk_kern_exp_grad(int64_t len, const double *P, double *B, double gamma);
void sntk_kern_relu_grad(int64_t len, const double *P, double *B, double gamma);

/* k = 1 fused forms (the theory's scalar-output networks) on a c x n block of Z with leading
 * dimension ldz (a tile of neuron columns): one pass instead of a pass plus a GEMV, while the tile
 * is in cache. Softmax: per row i, M = max_j Z[i,j], Z[i,j] <- exp(Z[i,j] - M), and T[i*stride +
 * 0..2] = (M, sum_j Z[i,j], sum_j a[j] Z[i,j]). */
void sntk_kern_softmax_rows_k1(int64_t c, int64_t n, double *Z, int64_t ldz, const double *a,
                               double *T, int64_t stride);
/* One pass with a given shift per row: Z[i,j] <- exp(Z[i,j] - shift[i]) and T[i*stride + 0..2] =
 * (shift[i], sum, weighted sum), unless the row's maximum lies more than 600 below its shift or its
 * sum is not positive: then T[i*stride + 1] = -1 marks it for recomputation (Z's row is lost). */
void sntk_kern_softmax_shift_k1(int64_t c, int64_t n, double *Z, int64_t ldz, const double *a,
                                const double *shift, double *T, int64_t stride);
/* exp (relu = 0) or relu (relu = 1): Z <- act(Z) and out[i*stride] = sum_j a[j] Z[i,j]. */
void sntk_kern_act_k1(int relu, int64_t c, int64_t n, double *Z, int64_t ldz, const double *a,
                      double *out, int64_t stride);
/* relu gradient factors in place of the activations P = Z, with residuals e[i]: G = gamma e[i] a[j]
 * where P > 0, else 0. (Softmax and exp need no such pass for k = 1: see backward_signs in
 * model.c.) */
void sntk_kern_relu_grad_k1(int64_t c, int64_t n, double *Z, int64_t ldz, const double *a,
                            const double *e, double gamma);

/* Reproducible mode (model.h): sums over a run of neurons (a unit: storage columns [ustart[u],
 * ustart[u] + ulen[u]) of the nu units) in an order fixed by the source (8 partial sums over j mod
 * 8, a fixed combination, the tail in order), so that the bits depend on the run's values and
 * length only, never on its address or on the rank that holds it. Row by row (the units of a row
 * lie side by side in memory); results unit-major: unit u, row i at T[(u c + i) stride].
 * softmax_units: per row i of Z (leading dimension ldz) and unit u: t[0] = max over the unit
 * (before), Z <- exp(Z - shift[i]), t[1] = sum of the unit's Z, t[2 + l] = sum of A[l*lda + r] Z[i,
 * r] over the unit, l < k. */
void sntk_kern_softmax_units(int64_t c, int64_t nu, const int64_t *ustart, const int64_t *ulen,
                             double *Z, int64_t ldz, const double *shift, const double *A,
                             int64_t lda, int64_t k, double *T, int64_t stride);
/* Per row i of P and unit u: o = out + (u c + i) stride; o[0] = the unit's sum of P[i, .] if
 * with_sum, then o[with_sum + l] = sum over the unit of A[l*lda + r] P[i, r], l < k. */
void sntk_kern_dots_units(int64_t c, int64_t nu, const int64_t *ustart, const int64_t *ulen,
                          const double *P, int64_t ldp, const double *A, int64_t lda, int64_t k,
                          int with_sum, double *out, int64_t stride);
/* sum_j a[j] x[j] in the same fixed order. */
double sntk_kern_fdot8(const double *a, const double *x, int64_t n);

/* exp(x) as the kernels compute it (for tests). */
double sntk_kern_exp1(double x);

#endif
