/* Plain-loop reference of the network (DESIGN.md section 1), written straight from the formulas
 * with no BLAS, chunking or distribution, for the tests to compare the library against. Global
 * arrays: W m x d (row r = w_r), A k x m, X n x d, Y n x k. */
#ifndef SOFTNTK_TEST_REFERENCE_H
#define SOFTNTK_TEST_REFERENCE_H

#include <stdint.h>

/* Outputs F (n x k). */
void ref_forward(int act, double gamma, int64_t m, int64_t d, int64_t k, const double *W,
                 const double *A, const double *X, int64_t n, double *F);

/* Loss 1/2 sum ||F - Y||^2 and gradient dL/dW (m x d). */
double ref_loss_grad(int act, double gamma, int64_t m, int64_t d, int64_t k, const double *W,
                     const double *A, const double *X, const double *Y, int64_t n, double *grad);

/* The Jacobian of the outputs, J[(i k + l) * (m d) + r d + j] = dF_l(x_i) / dW_{r j} = c_{i,l,r}
 * x_{i j} with c from DESIGN.md section 1 (nk x md, row-major). */
void ref_jacobian(int act, double gamma, int64_t m, int64_t d, int64_t k, const double *W,
                  const double *A, const double *X, int64_t n, double *J);

/* First-order bounds on the round-off of the outputs, loss and gradient of any computation of the
 * network by sums and dot products in any order (the library on any number of ranks with any BLAS,
 * or the plain loops above), from the exact-arithmetic values they approximate; see reference.c
 * for the derivation. Two such computations differ by at most twice the bound. Arrays are
 * allocated here and released by ref_bounds_free; the layouts are those of the functions above. */
typedef struct {
  double *F;    /* n x k: bound on |F_il - exact| */
  double *grad; /* m x d: bound on the gradient entries (NULL when Y is NULL) */
  double loss;  /* bound on the loss (0 when Y is NULL) */
  double *C;    /* n k x m, row (i k + l): |c_{i,l,r}| or an upper bound of it (DESIGN.md 1) */
  double *dC;   /* n k x m: bound on the round-off of c_{i,l,r} */
} ref_bounds_t;

/* `ranks`: the largest number of ranks (partial sums and softmax tuple merges) being bounded. */
void ref_bounds(int act, double gamma, int64_t m, int64_t d, int64_t k, const double *W,
                const double *A, const double *X, const double *Y, int64_t n, int ranks,
                ref_bounds_t *b);
void ref_bounds_free(ref_bounds_t *b);

#endif
