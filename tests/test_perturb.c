/* The perturbation map of the normalised NTK (softntk/perturb.h), on any rank count (run with 1, 2,
 * 3 and 4 ranks), for softmax, exp and relu with random (m = 37) and coupled (m = 38) neurons, n =
 * 13 points on the unit sphere in d = 5:
 * - dH[Delta] against central finite differences (H(W + eps Delta) - H(W - eps Delta)) / (2 eps);
 * - the adjoint identity <dH[Delta], G> = <Delta, dH*[G]> for a random symmetric G;
 * - dH[Delta] and H on P ranks equal the single-rank result (a model on MPI_COMM_SELF);
 * - the worst-direction iteration never decreases ||dH[Delta]||_F and ends at least as high as
 *   the random direction it starts from;
 * - the common shift w_r -> w_r + R v (R = 0.5, far outside first order): softmax's H unchanged to
 *   round-off; exp's H_ij multiplied by e^{R v.(x_i + x_j)} to round-off while it moves far beyond
 *   round-off; the shift applied to half the neurons moves softmax's H far beyond the same
 *   tolerance (the check can fail);
 * - relu: dH = 0; H(W +- eps Delta) equals H(W) bit for bit while no neuron's sign can flip (eps
 *   below min |z_ir| / ||x_i||), and the boundary direction moves H at a radius just past it.
 * Tolerances, each from a bound (Q below is the absolute-value Gram of perturb.h's bound,
 * Q = ||nu |K_X| o (|U| |U|^T)||_F up to the constant: first / (24 xmax) for softmax, first /
 * (2 xmax) for exp, with ||x_i|| <= xmax = 1 here):
 * - finite differences: truncation eps^2 / 6 max |d^3 H / dt^3| plus round-off 2 gamma_N 4Q / (2
 * eps) (every entry of H is a sum of m products of features computed to relative gamma_N, N = m + d
 * + 16). The third derivative: d^p S_ir / dt^p <= p! 2^p xmax^p S_ir (each derivative of the
 *   softmax brings a centred factor dz - c, |dz - c| <= 2 xmax), so |u^(p)| <= 2 (p + 1)! 2^p
 * xmax^p S and |d^3 H_ij| <= nu |K_ij| sum_r sum_p C(3,p) |u_i^(p)| |u_j^(3-p)| <= 3840 xmax^3 (m
 * |K| o S S^T)_ij; along the segment S grows at most by e^{2 eps xmax}. exp: |d^3 H_ij| <= 8 xmax^3
 *   (nu |K| o E E^T)_ij e^{2 eps xmax}.
 * - adjoint and P-invariance: both sides are sums of at most m n^2 d terms each bounded by the
 *   absolute values behind the first-order bound: 64 gamma_{m + n + d} first ||G||_F for H, dH and
 *   <dH[Delta], G>; <Delta, dH*[G]> sums m rows of dH*[G], each within that bound, against unit
 * rows of Delta (||Delta||_F = sqrt(m)), hence the factor sqrt(m) in the adjoint's tolerance.
 * - shift: the logits (w_r + R v).x_i are computed to gamma_d (||w_r|| + R) xmax absolute, which
 *   moves each S or e^z by a relative 2 delta, and the normalising sums add gamma_{m+16}: the
 * entries of H move by at most (8 delta + 4 gamma_{m+16}) times the absolute Gram 4Q (softmax) or Q
 * (exp, both before and after the shift, hence the factor e^{2R} on Q). */
#include "harness.h"
#include "softntk/log.h"
#include "softntk/model.h"
#include "softntk/perturb.h"
#include "softntk/rng.h"

#include <cblas.h>
#include <string.h>

enum { N = 13, D = 5 };

static double fro(int64_t len, const double *a) {
  return cblas_dnrm2((int)len, a, 1);
}

static double dotv(int64_t len, const double *a, const double *b) {
  return cblas_ddot((int)len, a, 1, b, 1);
}

/* <Delta, D> summed over all ranks */
static double dot_all(int64_t len, const double *a, const double *b) {
  double v = len > 0 ? dotv(len, a, b) : 0.0;
  MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  return v;
}

static int check(int act, int init, int64_t m, const sntk_dataset_t *ds) {
  const char *an = sntk_activation_names[act];
  const char *in = init == SNTK_INIT_COUPLED ? "coupled" : "random";
  sntk_model_cfg_t mc = th_model_cfg(act, m, init);
  sntk_model_t *md = NULL, *one = NULL;
  sntk_perturb_t *p = NULL, *p1 = NULL;
  TH_CALL(sntk_model_create(MPI_COMM_WORLD, &mc, D, 1, 0, N, &md));
  TH_CALL(sntk_model_create(MPI_COMM_SELF, &mc, D, 1, 0, N, &one));
  sntk_model_init(md, 11);
  sntk_model_init(one, 11);
  TH_CALL(sntk_perturb_create(md, ds->X, N, &p));
  TH_CALL(sntk_perturb_create(one, ds->X, N, &p1));
  const int64_t ml = md->m_loc, len = ml * D, nn = N * N, mlen = len > 0 ? len : 1;
  double *H = calloc(nn, 8), *Hp = calloc(nn, 8), *Hm = calloc(nn, 8), *dH = calloc(nn, 8),
         *G = calloc(nn, 8), *dH1 = calloc(nn, 8), *H1 = calloc(nn, 8);
  double *Dl = calloc(mlen, 8), *Dadj = calloc(mlen, 8), *Wt = calloc(mlen, 8),
         *Dbig = calloc(m * D, 8), *hist = calloc(41, 8), v[D];
  double first, first1;
  TH_CALL(sntk_perturb_bound(p, md->W, 0, NULL, &first, NULL));
  TH_CALL(sntk_perturb_bound(p1, one->W, 0, NULL, &first1, NULL));
  const double xmax = 1.0 + 4 * DBL_EPSILON; /* unit sphere */
  const double Q = act == SNTK_ACT_SOFTMAX ? first / 24.0 : first / 2.0;
  TH_CALL(sntk_perturb_gram(p, md->W, H));
  sntk_perturb_random(p, 5, Dl);
  TH_CALL(sntk_perturb_dgram(p, md->W, Dl, dH));
  const double gN = th_gamma((double)(m + D + 16));

  /* P-invariance against the single-rank model */
  sntk_perturb_random(p1, 5, Dbig);
  TH_CALL(sntk_perturb_gram(p1, one->W, H1));
  TH_CALL(sntk_perturb_dgram(p1, one->W, Dbig, dH1));
  double eH = 0, edH = 0;
  for (int64_t j = 0; j < nn; j++) eH += (H[j] - H1[j]) * (H[j] - H1[j]);
  for (int64_t j = 0; j < nn; j++) edH += (dH[j] - dH1[j]) * (dH[j] - dH1[j]);
  const double tolP = 64 * th_gamma((double)(m + N + D)) * (act == SNTK_ACT_RELU ? 1.0 : first);
  TH_OK(sqrt(eH) <= tolP * 4 && sqrt(edH) <= tolP,
        "%s %s m=%lld: H and dH on %d ranks equal one rank's: %.2e, %.2e (tol %.2e)", an, in,
        (long long)m, th_size, sqrt(eH), sqrt(edH), tolP);

  if (act != SNTK_ACT_RELU) {
    /* finite differences */
    const double eps = 1e-4;
    for (int64_t j = 0; j < len; j++) Wt[j] = md->W[j] + eps * Dl[j];
    TH_CALL(sntk_perturb_gram(p, Wt, Hp));
    for (int64_t j = 0; j < len; j++) Wt[j] = md->W[j] - eps * Dl[j];
    TH_CALL(sntk_perturb_gram(p, Wt, Hm));
    double e = 0;
    for (int64_t j = 0; j < nn; j++) {
      const double fd = (Hp[j] - Hm[j]) / (2 * eps) - dH[j];
      e += fd * fd;
    }
    e = sqrt(e);
    const double x3 = xmax * xmax * xmax;
    const double tol = act == SNTK_ACT_SOFTMAX
                           ? eps * eps / 6 * 3840 * x3 * Q * exp(4 * eps * xmax) +
                                 2 * gN * 4 * Q * exp(4 * eps * xmax) / (2 * eps)
                           : eps * eps / 6 * 8 * x3 * Q * exp(2 * eps * xmax) +
                                 2 * gN * Q * exp(2 * eps * xmax) / (2 * eps);
    TH_OK(e <= tol && fro(nn, dH) > 100 * tol,
          "%s %s m=%lld: ||dH - FD||_F = %.2e <= %.2e (||dH||_F = %.3e)", an, in, (long long)m, e,
          tol, fro(nn, dH));

    /* adjoint identity */
    sntk_rng_t s;
    sntk_rng_init(&s, 99, SNTK_RNG_NTK_CHECK, 0);
    for (int64_t i = 0; i < N; i++)
      for (int64_t j = 0; j <= i; j++) G[i * N + j] = G[j * N + i] = sntk_rng_normal(&s);
    TH_CALL(sntk_perturb_adjoint(p, md->W, G, Dadj));
    const double lhs = dotv(nn, dH, G), rhs = dot_all(len, Dl, Dadj);
    const double tola = 64 * th_gamma((double)(m + N + D)) * first * fro(nn, G) * sqrt((double)m);
    TH_OK(fabs(lhs - rhs) <= tola && fabs(lhs) > 1e3 * tola,
          "%s %s m=%lld: <dH[D], G> = %.12e, <D, dH*[G]> = %.12e, |diff| %.2e <= %.2e", an, in,
          (long long)m, lhs, rhs, fabs(lhs - rhs), tola);

    /* worst direction: monotone */
    double val;
    int taken;
    memcpy(Wt, Dl, (size_t)mlen * 8);
    TH_CALL(sntk_perturb_worst(p, md->W, Wt, 40, 1e-10, hist, &val, &taken));
    int mono = 1;
    for (int t = 1; t <= taken; t++)
      if (hist[t] < hist[t - 1] * (1 - 1e-9)) mono = 0;
    TH_OK(mono && val >= hist[0] && val <= first,
          "%s %s m=%lld: worst-direction iteration non-decreasing over %d steps: %.4e -> %.4e "
          "(explicit bound %.4e)",
          an, in, (long long)m, taken, hist[0], val, first);

    /* the common shift */
    const double R = 0.5;
    sntk_perturb_shift(p, 3, v, Dl);
    double wmax = 0;
    for (int64_t r = 0; r < ml; r++) wmax = fmax(wmax, fro(D, md->W + r * D));
    MPI_Allreduce(MPI_IN_PLACE, &wmax, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    for (int64_t j = 0; j < len; j++) Wt[j] = md->W[j] + R * Dl[j];
    TH_CALL(sntk_perturb_gram(p, Wt, Hp));
    const double delta = th_gamma(D) * (wmax + R) * xmax;
    double es = 0, moved = 0;
    for (int64_t i = 0; i < N; i++)
      for (int64_t j = 0; j < N; j++) {
        double pred = H[i * N + j];
        if (act == SNTK_ACT_EXP)
          pred *= exp(R * (dotv(D, v, ds->X + i * D) + dotv(D, v, ds->X + j * D)));
        es += (Hp[i * N + j] - pred) * (Hp[i * N + j] - pred);
        moved += (Hp[i * N + j] - H[i * N + j]) * (Hp[i * N + j] - H[i * N + j]);
      }
    es = sqrt(es), moved = sqrt(moved);
    const double tols = (8 * delta + 4 * th_gamma((double)(m + 16))) *
                        (act == SNTK_ACT_SOFTMAX ? 4 * Q : Q * exp(2 * R * xmax)) * 2;
    if (act == SNTK_ACT_SOFTMAX)
      TH_OK(es <= tols, "softmax %s m=%lld: common shift R = %g: ||H' - H||_F = %.2e <= %.2e", in,
            (long long)m, R, es, tols);
    else
      TH_OK(es <= tols && moved > 1e6 * tols,
            "exp %s m=%lld: common shift R = %g: ||H' - H||_F = %.3e (far from round-off %.2e), "
            "||H' - e^{R v.(x_i+x_j)} o H||_F = %.2e <= %.2e",
            in, (long long)m, R, moved, tols, es, tols);
    /* the shift on half the neurons (global index even) breaks the invariance */
    if (act == SNTK_ACT_SOFTMAX) {
      for (int64_t r = 0; r < ml; r++)
        for (int64_t c = 0; c < D; c++)
          Wt[r * D + c] = md->W[r * D + c] + ((md->r0 + md->perm[r]) % 2 ? 0.0 : R * v[c]);
      TH_CALL(sntk_perturb_gram(p, Wt, Hp));
      double eh = 0;
      for (int64_t j = 0; j < nn; j++) eh += (Hp[j] - H[j]) * (Hp[j] - H[j]);
      TH_OK(sqrt(eh) > 1e6 * tols,
            "softmax %s m=%lld: the shift on half the neurons moves H by %.3e >> %.2e", in,
            (long long)m, sqrt(eh), tols);
    }
  } else {
    TH_OK(fro(nn, dH) == 0.0, "relu %s m=%lld: dH = 0", in, (long long)m);
    /* the smallest distance of a neuron to a data hyperplane */
    double zmin = INFINITY;
    for (int64_t r = 0; r < ml; r++)
      for (int64_t i = 0; i < N; i++)
        zmin = fmin(zmin, fabs(dotv(D, md->W + r * D, ds->X + i * D)));
    MPI_Allreduce(MPI_IN_PLACE, &zmin, 1, MPI_DOUBLE, MPI_MIN, MPI_COMM_WORLD);
    const double eps = 0.5 * zmin; /* ||x_i|| = 1 */
    for (int64_t j = 0; j < len; j++) Wt[j] = md->W[j] + eps * Dl[j];
    TH_CALL(sntk_perturb_gram(p, Wt, Hp));
    int same = memcmp(Hp, H, (size_t)nn * 8) == 0;
    TH_CALL(sntk_perturb_boundary(p, md->W, Dadj));
    for (int64_t j = 0; j < len; j++) Wt[j] = md->W[j] + 1.01 * zmin * Dadj[j];
    TH_CALL(sntk_perturb_gram(p, Wt, Hm));
    double e = 0;
    for (int64_t j = 0; j < nn; j++) e += (Hm[j] - H[j]) * (Hm[j] - H[j]);
    TH_OK(same && sqrt(e) > 0.5 / m,
          "relu %s m=%lld: H unchanged within R = %.2e (below min |z| = %.2e); the boundary "
          "direction at 1.01 min |z| moves it by %.3e",
          in, (long long)m, eps, zmin, sqrt(e));
  }
  free(H), free(Hp), free(Hm), free(dH), free(G), free(dH1), free(H1);
  free(Dl), free(Dadj), free(Wt), free(Dbig), free(hist);
  sntk_perturb_destroy(&p);
  sntk_perturb_destroy(&p1);
  sntk_model_destroy(&md);
  sntk_model_destroy(&one);
  return 0;
}

int main(int argc, char **argv) {
  th_init(&argc, &argv);
  sntk_log_init(MPI_COMM_WORLD);
  sntk_dataset_t ds;
  TH_CALL(th_sphere_data(N, D, 1, 7, &ds));
  for (int act = 0; act < 3; act++) {
    if (check(act, SNTK_INIT_RANDOM, 37, &ds)) return 1;
    if (check(act, SNTK_INIT_COUPLED, 38, &ds)) return 1;
  }
  double R[16];
  int c;
  TH_OK(sntk_perturb_parse_radii("1e-4, 1e-3,0.1", 16, R, &c) == 0 && c == 3 && R[2] == 0.1 &&
            sntk_perturb_parse_radii("1e-4,-1", 16, R, &c) == SNTK_ERR_INPUT &&
            sntk_perturb_parse_radii("", 16, R, &c) == SNTK_ERR_INPUT,
        "radii lists parsed, negative and empty ones refused");
  sntk_data_free(&ds);
  return th_finish();
}
