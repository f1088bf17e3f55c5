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

#endif
