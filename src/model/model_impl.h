/* Internals shared by the files of the model module (src/model): helpers the activations
 * (act_<name>.c) build on. Not part of the public API. */
#ifndef SOFTNTK_MODEL_IMPL_H
#define SOFTNTK_MODEL_IMPL_H

#include "softntk/model.h"

#include <stdint.h>

/* Collective. The forward of an activation applied elementwise and summed over the neurons: k = 1
 * through the fused pass act_k1(c, m_loc, Z, m_loc, A, F, 1) (Z <- act(Z), F_i = sum_r a_r Z_ir),
 * k > 1 through act(c m_loc, Z) and a GEMM with A; F *= gamma; one allreduce of the partial sums.
 */
int model_forward_sum(sntk_model_t *md, int64_t c, double *F,
                      void (*act_k1)(int64_t c, int64_t n, double *Z, int64_t ldz, const double *a,
                                     double *out, int64_t stride),
                      void (*act)(int64_t len, double *Z));

/* Collective, reproducible mode. The softmax forward of the chunk just multiplied (Z = X W^T): row
 * shifts ||x_i|| max_r ||w_r|| (a global bound), per-unit tuples gathered and added in unit order;
 * leaves Z, T, ft as the rank-local forward does and writes F (c x k). */
int model_softmax_units(sntk_model_t *md, const double *X, int64_t c, double *F);

/* Not collective. out (c x k) = gamma P A^T for the c x m_loc rows P (the JVP's last GEMM). */
void model_jvp_gemm(const sntk_model_t *md, int64_t c, const double *P, double *out);

/* Shared parts of the activations' reproducible-mode JVP (model.c): Zp *= Z (exp, softmax), and
 * out = gamma sum_r a_{l,r} P_ir (exp, relu). */
void model_jvp_prod_value(const sntk_model_t *md, int64_t i0, int64_t c, double *Zp);
void model_jvp_finish_linear(const sntk_model_t *md, int64_t i0, int64_t c, const double *sums,
                             double *out);

#endif
