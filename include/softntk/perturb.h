/* softntk perturbation: how the normalised NTK H = nu K_X o (U U^T) (DESIGN.md section 2) moves
 * when every neuron's weights move, W -> W + R Delta with ||Delta_r|| <= 1 for every neuron r: the
 * setting of the paper's perturbation lemma.
 *
 * For the theory's scalar networks (k = 1) and n training points. H, its directional derivative
 * dH[Delta] and the adjoint dH*[G] are n x n (row-major = column-major, symmetric), replicated on
 * every rank; they are computed through the sharded network (each rank its neurons' features U and
 * their derivative dU along Delta, then dU U^T reduced over ranks: O(n^2 m / P + n d m / P) work
 * and one n x n allreduce), never through the n x dm Jacobian. Directions Delta are m_loc x d
 * blocks in the model's storage order, like W.
 *
 * The derivative: u_ir = a_r e^{z_ir} (exp), S_ir (a_r - f_i) (softmax, S = softmax over the m
 * neurons of z_i, f_i = <a, S_i>), a_r 1[z_ir > 0] (relu), z_ir = w_r . x_i; along Delta, dz_ir =
 * Delta_r . x_i and
 *   exp:     du_ir = u_ir dz_ir
 *   softmax: du_ir = u_ir dz_ir - S_ir (a_r c_i - 2 f_i c_i + e_i), c_i = sum_r S_ir dz_ir,
 *            e_i = sum_r a_r S_ir dz_ir
 *   relu:    du_ir = 0 wherever no z_ir is 0 (almost everywhere): its H is piecewise constant, and
 *            only finite R moves it;
 * dH = nu K_X o (dU U^T + U dU^T). The adjoint with respect to <A, B> = sum_ij A_ij B_ij and
 * <Delta, Delta'> = sum_r Delta_r . Delta'_r: dH*[G]_r = sum_i g_ir x_i with, for Gs = (G + G^T)/2
 * and M = (K_X o Gs) U,
 *   g_ir = 2 nu (M_ir u_ir + S_ir (p_i - q_i a_r)), p_i = sum_r M_ir S_ir (2 f_i - a_r),
 *   q_i = sum_r M_ir S_ir  (softmax; exp: the first term alone; relu: 0).
 *
 * The worst direction: ||dH[Delta]||_F^2 is a convex function of Delta, so its maximum over the
 * product of unit balls lies on the product of unit spheres, and the iteration Delta <- the
 * per-neuron normalisation of dH*[dH[Delta]] (the maximiser over that set of the linearisation at
 * Delta) never decreases it. It stops at a stationary point: a LOWER bound on the supremum, not the
 * supremum. */
#ifndef SOFTNTK_PERTURB_H
#define SOFTNTK_PERTURB_H

#include "softntk/model.h"

#include <stdint.h>

enum { SNTK_PERTURB_MAX_RADII = 16 };

/* The perturbation context: borrowed model and inputs, scratch for n x m_loc and n x n arrays. */
typedef struct sntk_perturb sntk_perturb_t;

/* Collective. For the model (k = 1, else SNTK_ERR_INPUT) and its n training inputs X (n x d, every
 * rank). The model and X must outlive the context. */
int sntk_perturb_create(sntk_model_t *model, const double *X, int64_t n, sntk_perturb_t **out);
void sntk_perturb_destroy(sntk_perturb_t **p);

/* Collective. H(W) for this rank's weights W (m_loc x d, storage order) into H (n x n, every rank).
 */
int sntk_perturb_gram(sntk_perturb_t *p, const double *W, double *H);

/* Collective. dH[Delta] at W into dH (n x n, every rank). */
int sntk_perturb_dgram(sntk_perturb_t *p, const double *W, const double *Delta, double *dH);

/* Collective. The adjoint dH*[G] at W for an n x n matrix G (every rank): this rank's block of the
 * direction, m_loc x d in storage order, into D. */
int sntk_perturb_adjoint(sntk_perturb_t *p, const double *W, const double *G, double *D);

/* Not collective. Scale every row (neuron) of D (m_loc x d) to unit norm; a zero row becomes the
 * row of `keep` (NULL: stays zero). */
void sntk_perturb_unit_rows(const sntk_perturb_t *p, double *D, const double *keep);

/* Not collective. Directions with ||Delta_r|| = 1 for every neuron:
 * random: Delta_r uniform on the sphere, from the stream (seed, SNTK_RNG_PERTURB, global neuron r);
 * shift:  Delta_r = v for every neuron, v uniform on the sphere from (seed, SNTK_RNG_PERTURB_SHIFT,
 * 0) (softmax's H is invariant along it; exp's H_ij is multiplied by e^{R v.(x_i + x_j)});
 * boundary: Delta_r = -sign(z_ir) x_i / ||x_i|| for the sample i nearest the neuron's hyperplane
 *         (smallest |z_ir| / ||x_i||): it carries each neuron across its nearest data hyperplane at
 *         the smallest R, which is what moves relu's H. */
void sntk_perturb_random(const sntk_perturb_t *p, uint64_t seed, double *D);
void sntk_perturb_shift(const sntk_perturb_t *p, uint64_t seed, double *v, double *D);
int sntk_perturb_boundary(sntk_perturb_t *p, const double *W, double *D);

/* Collective. The worst direction from the start D (unit rows; overwritten with the result): up to
 * `iters` steps of Delta <- unit rows of dH*[dH[Delta]], stopping when ||dH[Delta]||_F rises by
 * less than rtol relative. history (iters + 1 values, may be NULL) receives ||dH[Delta]||_F at the
 * start and after each step (non-decreasing up to round-off), *value the last, *taken the steps
 * taken. A lower bound on sup ||dH[Delta]||_F over ||Delta_r|| <= 1. */
int sntk_perturb_worst(sntk_perturb_t *p, const double *W, double *D, int iters, double rtol,
                       double *history, double *value, int *taken);

/* Collective. ||A||_F and ||A||_2 of a symmetric n x n matrix (every rank holds it; LAPACK dsyev on
 * a copy). */
int sntk_perturb_norms(const sntk_perturb_t *p, const double *A, double *fro, double *spec);

/* Collective. The explicit first-order bound of BOUND.md (experiments/perturbation): for every
 * Delta with ||Delta_r|| <= 1 and inputs with ||x_i|| <= 1 (scaled otherwise by max ||x_i||),
 *   softmax: ||dH[Delta]||_F <= 24 ||m |K_X| o (S S^T)||_F,
 *   exp:     ||dH[Delta]||_F <= 2 ||(1/m) |K_X| o (E E^T)||_F, E_ir = e^{z_ir},
 *   relu:    0 (almost everywhere),
 * evaluated at W. At finite R the same bound times e^{4R} (softmax) or e^{2R} (exp) bounds
 * ||H(W + R Delta) - H(W)||_F / R. For relu, bound_relu(R) = ||(1/m) |K_X| o C(R)||_F with
 * C_ij(R) = #{r : |z_ir| <= R ||x_i|| or |z_jr| <= R ||x_j||} (the neurons whose sign can flip on
 * x_i or x_j) bounds ||H(W + R Delta) - H(W)||_F. nR radii R into relu_bound (may be NULL). */
int sntk_perturb_bound(sntk_perturb_t *p, const double *W, int nR, const double *R, double *first,
                       double *relu_bound);

/* Not collective. Parse a comma-separated list of positive radii (at most max): SNTK_ERR_INPUT with
 * the reason otherwise. */
int sntk_perturb_parse_radii(const char *text, int max, double *R, int *count);

#endif
