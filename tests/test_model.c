/* Model correctness at any rank count (run with 1, 2, 3 and 4 ranks):
 * - reproducible mode: loss, F, gradient, its norm, JVP and lambda_max(J J^T) bitwise equal to
 *   one rank;
 * - step 0 is identical for every rank count (W gathered = W built on one rank, bitwise);
 * - loss, outputs F and the gradient on P ranks equal P = 1, for every activation and k in {1, 3},
 *   with m = 37 or 38 (not divisible by 3 or 4; 37 not by 2 either) and several chunks;
 * - the single-rank library equals the plain-loop reference, and the gradient equals central
 *   finite differences;
 * - softmax with pre-activations of magnitude 1000 stays finite and equals the shifted reference.
 * Tolerances: every computation here (P ranks, one rank, the plain loops) is within the first-order
 * round-off bound of ref_bounds (reference.c: gamma_n sums over the m neurons, the d inputs, the n
 * samples, the shifted exponentials and the ranks' tuple merges), entry by entry; two of them
 * differ by at most twice it. The finite differences carry their own bound (fd_ratio). */
#include "harness.h"
#include "reference.h"
#include "softntk/data.h"
#include "softntk/model.h"
#include "softntk/parallel.h"

#include <float.h>
#include <lapacke.h>
#include <string.h>

enum { N = 50, D = 5, CHUNK = 16 };

static int make_data(int64_t k, sntk_dataset_t *ds) {
  return th_sphere_data(N, D, k, 7, ds);
}

/* Rows of width w in the model's storage order, copied into the neurons' global order. */
static double *global_order(const sntk_model_t *md, const double *stored, int64_t w) {
  double *g = malloc(sizeof(double) * (size_t)(md->m_loc * w + 1));
  sntk_model_rows_to_global(md, stored, w, g);
  return g;
}

/* Gather a per-rank block array (rows of width w per neuron, storage order) into a global m x w
 * array in neuron order on rank 0. */
static void gather_rows(const sntk_model_t *md, const double *stored, int64_t w, double *global) {
  double *local = global_order(md, stored, w);
  int P = md->size, *counts = malloc(sizeof(int) * P), *displ = malloc(sizeof(int) * P);
  for (int p = 0; p < P; p++) {
    int64_t r0, r1;
    sntk_partition(md->m, P, p, &r0, &r1);
    counts[p] = (int)((r1 - r0) * w);
    displ[p] = (int)(r0 * w);
  }
  MPI_Gatherv(local, (int)(md->m_loc * w), MPI_DOUBLE, global, counts, displ, MPI_DOUBLE, 0,
              md->comm);
  free(counts);
  free(displ);
  free(local);
}

/* Transpose-gather A (k x m_loc per rank) into global k x m on rank 0. */
static void gather_signs(const sntk_model_t *md, double *A) {
  double *At = malloc(sizeof(double) * md->m_loc * md->k),
         *Ag = malloc(sizeof(double) * md->m * md->k);
  for (int64_t r = 0; r < md->m_loc; r++)
    for (int64_t l = 0; l < md->k; l++) At[r * md->k + l] = md->A[l * md->m_loc + r];
  gather_rows(md, At, md->k, Ag);
  if (md->rank == 0)
    for (int64_t r = 0; r < md->m; r++)
      for (int64_t l = 0; l < md->k; l++) A[l * md->m + r] = Ag[r * md->k + l];
  free(At);
  free(Ag);
}

/* Loss of the single-rank model with parameter i set to w (restored by the caller). */
static double loss_at(sntk_model_t *md, const sntk_dataset_t *ds, int64_t i, double w) {
  double l = NAN;
  md->W[i] = w;
  sntk_model_eval(md, ds, &l, NULL, NULL);
  return l;
}

/* Central differences of the single-rank loss against its gradient, entry by entry; returns the
 * largest error / bound. With the steps hp = (w + h) - w and hm = w - (w - h) (exact, so the
 * rounding of w + h does not count), fd(h) = g + h^2 L'''/6 + O(h^4) + a rounding <= Lb / h (two
 * losses, each within Lb of the exact one); fd(2h) - fd(h) = h^2 L'''/2 + a rounding <= 1.5 Lb / h
 * (Richardson), so |fd(h) - g| <= |fd(2h) - fd(h)| / 3 + 1.5 Lb / h, plus the gradient's own
 * round-off gb. h = 1e-5 max(|w|, 1) sits near the optimal step (3 Lb / |L'''|)^(1/3) ~ 3e-5 for
 * Lb ~ 1e-14 |L| and |L'''| ~ |L|, where the bound is ~1e-9 |L|. */
static double fd_ratio(sntk_model_t *md, const sntk_dataset_t *ds, const double *grad,
                       const double *gb, double Lb) {
  double worst = 0.0;
  for (int64_t i = 0; i < md->m_loc * md->d; i++) {
    const double w = md->W[i], h = 1e-5 * (fabs(w) > 1 ? fabs(w) : 1);
    double fd[2], step[2];
    for (int s = 0; s < 2; s++) {
      const volatile double wp = w + (s + 1) * h, wm = w - (s + 1) * h;
      step[s] = (wp - w) + (w - wm);
      fd[s] = (loss_at(md, ds, i, wp) - loss_at(md, ds, i, wm)) / step[s];
    }
    md->W[i] = w;
    const double bound = fabs(fd[1] - fd[0]) / 3 + 3 * Lb / step[0] + gb[i];
    const double r = fabs(fd[0] - grad[i]) / bound;
    worst = th_max(worst, r);
  }
  return worst;
}

static void check_case(int act, int64_t k, int init, int64_t m, double wscale) {
  const char *an = sntk_activation_names[act];
  const char *in = init == SNTK_INIT_COUPLED ? "coupled" : "random";
  sntk_dataset_t ds;
  sntk_model_t *md = NULL, *one = NULL;
  sntk_model_cfg_t mc = th_model_cfg(act, m, init);
  if (make_data(k, &ds) || sntk_model_create(MPI_COMM_WORLD, &mc, D, k, CHUNK, N, &md)) {
    TH_OK(0, "setup failed: %s", sntk_error_message());
    return;
  }
  sntk_model_init(md, 11);
  for (int64_t i = 0; i < md->m_loc * D; i++) md->W[i] *= wscale;
  double loss, *F = malloc(sizeof(double) * N * k), *grad = malloc(sizeof(double) * md->m_loc * D);
  if (sntk_model_eval(md, &ds, &loss, F, grad)) TH_OK(0, "eval: %s", sntk_error_message());

  /* F must be identical (bitwise) on every rank: each rank forms E from its own copy. */
  double *F0 = malloc(sizeof(double) * N * k);
  memcpy(F0, F, sizeof(double) * N * k);
  MPI_Bcast(F0, (int)(N * k), MPI_DOUBLE, 0, MPI_COMM_WORLD);
  TH_OK(memcmp(F0, F, sizeof(double) * N * k) == 0, "%s k=%lld %s: F identical on every rank", an,
        (long long)k, in);

  double *Wg = malloc(sizeof(double) * m * D), *Gg = malloc(sizeof(double) * m * D);
  double *Ag = malloc(sizeof(double) * m * k);
  gather_rows(md, md->W, D, Wg);
  gather_rows(md, grad, D, Gg);
  gather_signs(md, Ag);

  if (th_rank == 0) {
    sntk_model_create(MPI_COMM_SELF, &mc, D, k, CHUNK, N, &one);
    sntk_model_init(one, 11);
    for (int64_t i = 0; i < m * D; i++) one->W[i] *= wscale;
    double loss1, *F1 = malloc(sizeof(double) * N * k), *G1 = malloc(sizeof(double) * m * D);
    sntk_model_eval(one, &ds, &loss1, F1, G1);
    double *W1 = global_order(one, one->W, D), *G1g = global_order(one, G1, D), *A1 = NULL;
    double *A1t = malloc(sizeof(double) * m * k);
    for (int64_t r = 0; r < m; r++)
      for (int64_t l = 0; l < k; l++) A1t[r * k + l] = one->A[l * m + r];
    A1 = global_order(one, A1t, k);
    for (int64_t r = 0; r < m; r++)
      for (int64_t l = 0; l < k; l++) A1t[l * m + r] = A1[r * k + l];
    TH_OK(memcmp(W1, Wg, sizeof(double) * m * D) == 0 &&
              memcmp(A1t, Ag, sizeof(double) * m * k) == 0,
          "%s k=%lld %s m=%lld: step-0 W and a identical for P=%d and P=1", an, (long long)k, in,
          (long long)m, th_size);
    /* Entrywise within twice the round-off bound of ref_bounds (both sides within it of the exact
     * values); with coupled initialisation F(0) = 0 up to round-off, which the bound (on the sum
     * of |terms|) covers. */
    ref_bounds_t bd;
    ref_bounds(act, one->gamma, m, D, k, one->W, one->A, ds.X, ds.Y, N, th_size, &bd);
    double *Gbg = global_order(one, bd.grad, D);
    const double eF = th_bound_ratio(F, F1, bd.F, N * k) / 2,
                 eG = th_bound_ratio(Gg, G1g, Gbg, m * D) / 2,
                 eL = fabs(loss - loss1) / (2 * bd.loss);
    free(W1), free(G1g), free(A1), free(A1t), free(Gbg);
    TH_OK(eL <= 1 && eF <= 1 && eG <= 1,
          "%s k=%lld %s m=%lld P=%d vs P=1: loss %.1e, F %.1e, grad %.1e of the round-off bound "
          "(<= 1)",
          an, (long long)k, in, (long long)m, th_size, eL, eF, eG);

    double *Fr = malloc(sizeof(double) * N * k), *Gr = malloc(sizeof(double) * m * D);
    ref_forward(act, one->gamma, m, D, k, one->W, one->A, ds.X, N, Fr);
    double lr = ref_loss_grad(act, one->gamma, m, D, k, one->W, one->A, ds.X, ds.Y, N, Gr);
    const double rF = th_bound_ratio(F1, Fr, bd.F, N * k) / 2,
                 rG = th_bound_ratio(G1, Gr, bd.grad, m * D) / 2,
                 rL = fabs(loss1 - lr) / (2 * bd.loss);
    TH_OK(isfinite(loss1) && rF <= 1 && rG <= 1 && rL <= 1,
          "%s k=%lld %s: P=1 vs plain-loop reference: loss %.1e, F %.1e, grad %.1e of the "
          "round-off bound (<= 1)%s",
          an, (long long)k, in, rL, rF, rG, wscale > 1 ? " [pre-activations ~1000]" : "");
    if (wscale == 1.0) {
      const double e = fd_ratio(one, &ds, G1, bd.grad, bd.loss);
      TH_OK(e <= 1,
            "%s k=%lld %s: gradient vs central differences: %.1e of the truncation + round-off "
            "bound (<= 1)",
            an, (long long)k, in, e);
    }
    ref_bounds_free(&bd);
    free(F1), free(G1), free(Fr), free(Gr);
    sntk_model_destroy(&one);
  }
  free(F), free(F0), free(grad), free(Wg), free(Gg), free(Ag);
  sntk_model_destroy(&md);
  sntk_data_free(&ds);
}

/* Largest |w_r . x_i| for the softmax extreme case, to show the case is real (exp would overflow).
 */
static double max_preactivation(double wscale) {
  sntk_dataset_t ds;
  sntk_model_t *one = NULL;
  sntk_model_cfg_t mc = th_model_cfg(SNTK_ACT_SOFTMAX, 37, SNTK_INIT_RANDOM);
  make_data(1, &ds);
  double mx = 0;
  if (th_rank == 0) {
    sntk_model_create(MPI_COMM_SELF, &mc, D, 1, CHUNK, N, &one);
    sntk_model_init(one, 11);
    for (int64_t i = 0; i < N; i++)
      for (int64_t r = 0; r < 37; r++) {
        double z = 0;
        for (int j = 0; j < D; j++) z += wscale * one->W[r * D + j] * ds.X[i * D + j];
        if (fabs(z) > mx) mx = fabs(z);
      }
    sntk_model_destroy(&one);
  }
  sntk_data_free(&ds);
  return mx;
}

/* Wide chunks (1024 samples, m = 1201) through the k = 1 fused passes. With `spike`, neuron 0's
 * weights are scaled to norm 800: the softmax row shift ||x_i|| max_r ||w_r|| = 800 then lies more
 * than 600 above the maximum of every row where w_0 . x_i < -200 or so, and those rows take the
 * recomputation path. Same comparisons and bounds as check_case but without finite differences
 * (with |z| up to 800 the bound grows with the shift: 2 u ||x|| max ||w|| per exponential). */
static void spike_neuron(sntk_model_t *md) { /* global neuron 0, where this rank holds it */
  for (int64_t r = 0; md->r0 == 0 && r < md->m_loc; r++)
    if (md->perm[r] == 0) {
      double *w = md->W + r * D, s = 0;
      for (int j = 0; j < D; j++) s += w[j] * w[j];
      for (int j = 0; j < D; j++) w[j] *= 800.0 / sqrt(s);
    }
}

static void check_wide(int act, int spike) {
  enum { NT = 1100, CT = 1024 };
  const int64_t m = 1201;
  const char *an = sntk_activation_names[act];
  sntk_dataset_t ds;
  sntk_model_t *md = NULL, *one = NULL;
  sntk_model_cfg_t mc = th_model_cfg(act, m, SNTK_INIT_RANDOM);
  if (th_sphere_data(NT, D, 1, 3, &ds) ||
      sntk_model_create(MPI_COMM_WORLD, &mc, D, 1, CT, NT, &md)) {
    TH_OK(0, "wide setup failed: %s", sntk_error_message());
    return;
  }
  sntk_model_init(md, 5);
  if (spike) spike_neuron(md);
  double loss, *F = malloc(sizeof(double) * NT), *grad = malloc(sizeof(double) * md->m_loc * D);
  double *Gg = malloc(sizeof(double) * m * D);
  if (sntk_model_eval(md, &ds, &loss, F, grad)) TH_OK(0, "eval: %s", sntk_error_message());
  gather_rows(md, grad, D, Gg);
  if (th_rank == 0) {
    sntk_model_create(MPI_COMM_SELF, &mc, D, 1, CT, NT, &one);
    sntk_model_init(one, 5);
    if (spike) spike_neuron(one);
    double loss1, *F1 = malloc(sizeof(double) * NT), *G1 = malloc(sizeof(double) * m * D);
    double *Fr = malloc(sizeof(double) * NT), *Gr = malloc(sizeof(double) * m * D);
    sntk_model_eval(one, &ds, &loss1, F1, G1);
    ref_forward(act, one->gamma, m, D, 1, one->W, one->A, ds.X, NT, Fr);
    double lr = ref_loss_grad(act, one->gamma, m, D, 1, one->W, one->A, ds.X, ds.Y, NT, Gr);
    int fallback = 0; /* rows whose shift lies > 600 above their maximum */
    for (int i = 0; spike && i < NT; i++) {
      double mx = -INFINITY, nx = 0;
      for (int j = 0; j < D; j++) nx += ds.X[i * D + j] * ds.X[i * D + j];
      for (int64_t r = 0; r < m; r++) {
        double z = 0;
        for (int j = 0; j < D; j++) z += one->W[r * D + j] * ds.X[i * D + j];
        mx = fmax(mx, z);
      }
      fallback += sqrt(nx) * one->wmax - mx > 600.0;
    }
    ref_bounds_t bd;
    ref_bounds(act, one->gamma, m, D, 1, one->W, one->A, ds.X, ds.Y, NT, th_size, &bd);
    double *G1g = global_order(one, G1, D), *Gbg = global_order(one, bd.grad, D);
    const double e1 =
        th_max(fabs(loss - loss1) / bd.loss,
               th_max(th_bound_ratio(F, F1, bd.F, NT), th_bound_ratio(Gg, G1g, Gbg, m * D))) /
        2;
    const double e2 =
        th_max(fabs(loss1 - lr) / bd.loss,
               th_max(th_bound_ratio(F1, Fr, bd.F, NT), th_bound_ratio(G1, Gr, bd.grad, m * D))) /
        2;
    free(G1g), free(Gbg);
    ref_bounds_free(&bd);
    int finite = isfinite(loss) && isfinite(loss1);
    TH_OK(finite && e1 <= 1 && e2 <= 1 && (!spike || act != SNTK_ACT_SOFTMAX || fallback > 0),
          "%s, chunk %d, m = %lld%s: P=%d vs P=1 %.1e, P=1 vs reference %.1e of the round-off "
          "bound (loss, F, grad; <= 1)",
          an, CT, (long long)m, spike && act == SNTK_ACT_SOFTMAX ? " with recomputed rows" : "",
          th_size, e1, e2);
    if (spike && act == SNTK_ACT_SOFTMAX)
      TH_OK(fallback > 0, "  %d of %d rows took the recomputation path", fallback, NT);
    free(F1), free(G1), free(Fr), free(Gr);
    sntk_model_destroy(&one);
  }
  free(F), free(grad), free(Gg);
  sntk_model_destroy(&md);
  sntk_data_free(&ds);
}

/* J^T v, J u and lambda_max(J J^T) against the explicit Jacobian of the plain-loop reference.
 * Bounds: an entry of J^T v is a sum of n k products J_ij v_i and the library forms each J_ij from
 * sums over m neurons (softmax normaliser) and d coordinates, so it is within
 * g = (m + n k + 2 d + 16) eps of the reference, relative to sum_i |J_ij| |v_i|; J u likewise with
 * sum_j |J_ij| |u_j|. The power iteration's ||J J^T v|| never exceeds lambda_max (up to g) and,
 * iterated to rtol 1e-12, reaches it within 1e-8 (the iteration's error is squared in the value).
 */
static void check_jacobian_products(int act, int64_t k, int init, int64_t m) {
  const char *an = sntk_activation_names[act];
  const int64_t nk = N * k, md_ = m * D;
  sntk_dataset_t ds;
  sntk_model_t *md = NULL;
  sntk_model_cfg_t mc = th_model_cfg(act, m, init);
  if (make_data(k, &ds) || sntk_model_create(MPI_COMM_WORLD, &mc, D, k, CHUNK, N, &md)) {
    TH_OK(0, "setup failed: %s", sntk_error_message());
    return;
  }
  sntk_model_init(md, 13);
  double *v = malloc(sizeof(double) * nk), *g = malloc(sizeof(double) * md->m_loc * D);
  double *Jv = malloc(sizeof(double) * md_), *u = malloc(sizeof(double) * md_);
  double *ul = malloc(sizeof(double) * (md->m_loc * D + 1)), *Ju = malloc(sizeof(double) * nk);
  for (int64_t i = 0; i < nk; i++) v[i] = sin(1.0 + 0.7 * (double)i);
  for (int64_t i = 0; i < md_; i++) u[i] = cos(0.3 + 1.1 * (double)i);
  sntk_model_rows_from_global(md, u + md->r0 * D, D, ul); /* this rank's rows, storage order */
  int e1 = sntk_model_vjp(md, ds.X, N, v, g), e2 = sntk_model_jvp(md, ds.X, N, ul, Ju);
  double lam = 0.0, lam_p1 = 0.0;
  int iters = 0;
  int e3 = sntk_model_jjt_max(md, &ds, 5, 1000, 1e-12, &lam, &iters);
  TH_OK(!e1 && !e2 && !e3, "%s k=%lld: vjp, jvp, power iteration run (%s)", an, (long long)k,
        sntk_error_message());
  gather_rows(md, g, D, Jv);
  double *Wg = malloc(sizeof(double) * md_), *Ag = malloc(sizeof(double) * m * k);
  gather_rows(md, md->W, D, Wg);
  gather_signs(md, Ag);
  if (th_rank == 0) {
    sntk_model_t *one = NULL;
    sntk_model_create(MPI_COMM_SELF, &mc, D, k, CHUNK, N, &one);
    sntk_model_init(one, 13);
    sntk_model_jjt_max(one, &ds, 5, 1000, 1e-12, &lam_p1, &iters);
    sntk_model_destroy(&one);
    double *J = malloc(sizeof(double) * nk * md_), *JJ = malloc(sizeof(double) * nk * nk);
    double *w = malloc(sizeof(double) * nk);
    ref_jacobian(act, md->gamma, m, D, k, Wg, Ag, ds.X, N, J);
    const double gbound = (double)(m + nk + 2 * D + 16) * DBL_EPSILON;
    double worst_v = 0.0, worst_u = 0.0;
    for (int64_t j = 0; j < md_; j++) {
      double ref = 0.0, mag = 0.0;
      for (int64_t i = 0; i < nk; i++)
        ref += J[i * md_ + j] * v[i], mag += fabs(J[i * md_ + j] * v[i]);
      worst_v = fmax(worst_v, fabs(Jv[j] - ref) / (gbound * mag + DBL_MIN));
    }
    for (int64_t i = 0; i < nk; i++) {
      double ref = 0.0, mag = 0.0;
      for (int64_t j = 0; j < md_; j++)
        ref += J[i * md_ + j] * u[j], mag += fabs(J[i * md_ + j] * u[j]);
      worst_u = fmax(worst_u, fabs(Ju[i] - ref) / (gbound * mag + DBL_MIN));
    }
    TH_OK(worst_v <= 1.0 && worst_u <= 1.0,
          "%s k=%lld %s P=%d: J^T v and J u vs the explicit Jacobian: %.3f and %.3f of the "
          "round-off bound (<= 1)",
          an, (long long)k, init == SNTK_INIT_COUPLED ? "coupled" : "random", th_size, worst_v,
          worst_u);
    for (int64_t a = 0; a < nk; a++)
      for (int64_t b = 0; b < nk; b++) {
        double s = 0.0;
        for (int64_t j = 0; j < md_; j++) s += J[a * md_ + j] * J[b * md_ + j];
        JJ[a * nk + b] = s;
      }
    LAPACKE_dsyev(LAPACK_ROW_MAJOR, 'N', 'U', (int)nk, JJ, (int)nk, w);
    const double lmax = w[nk - 1];
    TH_OK(lam <= lmax * (1.0 + gbound) && lam >= lmax * (1.0 - 1e-8) &&
              fabs(lam - lam_p1) <= 1e-8 * lmax,
          "%s k=%lld P=%d: power iteration lambda_max(J J^T) = %.12e, LAPACK %.12e (rel %.1e), "
          "P=1 %.1e (<= 1e-8)",
          an, (long long)k, th_size, lam, lmax, (lam - lmax) / lmax, (lam - lam_p1) / lmax);
    free(J), free(JJ), free(w);
  }
  free(v), free(g), free(Jv), free(u), free(ul), free(Ju), free(Wg), free(Ag);
  sntk_model_destroy(&md);
  sntk_data_free(&ds);
}

/* The activation table: every entry complete (a missing function would crash a pass), named as
 * model.activation's choice of the same index, and the built-in indices where SNTK_ACT_* say. */
static void check_table(void) {
  int n = 0, bad = 0;
  for (; sntk_act_table[n]; n++) {
    const sntk_act_ops_t *o = sntk_act_table[n];
    const int complete = o->name && o->gamma_paper && o->gamma_ntk && o->nu && o->forward &&
                         o->grad && o->jvp && o->feature && o->limit &&
                         (o->grad_signs || o->grad_k1);
    const int named = sntk_activation_names[n] && strcmp(o->name, sntk_activation_names[n]) == 0;
    if (!complete || !named) {
      bad++;
      if (th_rank == 0)
        printf("activation %d (%s): complete %d, named as its choice %d\n", n,
               o->name ? o->name : "?", complete, named);
    }
  }
  TH_OK(bad == 0 && !sntk_activation_names[n] &&
            strcmp(sntk_act_table[SNTK_ACT_SOFTMAX]->name, "softmax") == 0 &&
            strcmp(sntk_act_table[SNTK_ACT_EXP]->name, "exp") == 0 &&
            strcmp(sntk_act_table[SNTK_ACT_RELU]->name, "relu") == 0,
        "activation table: %d entries complete and named as model.activation's choices", n);
}

/* Reproducible mode (parallel.reproducible): loss, outputs, the gradient (gathered by global
 * neuron index), its norm, the JVP along it and lambda_max(J J^T) by power iteration on P ranks are
 * BITWISE equal to one rank. Block 3 makes units much narrower than a rank's share; the scale 300
 * puts pre-activations near 1000, where softmax rows are recomputed with their maximum (the shift
 * bound lies > 600 above it). */
static void check_repro(int act, int64_t k, int64_t m, double wscale, int64_t block) {
  const char *an = sntk_activation_names[act];
  sntk_dataset_t ds;
  sntk_model_t *md[2] = {NULL, NULL};
  sntk_model_cfg_t mc = th_model_cfg(act, m, SNTK_INIT_RANDOM);
  mc.reproducible = 1;
  mc.block = block;
  if (make_data(k, &ds) || sntk_model_create(MPI_COMM_WORLD, &mc, D, k, CHUNK, N, &md[0]) ||
      sntk_model_create(MPI_COMM_SELF, &mc, D, k, CHUNK, N, &md[1])) {
    TH_OK(0, "repro setup failed: %s", sntk_error_message());
    return;
  }
  double loss[2], g2[2], lam[2], *F[2], *J[2], *G[2];
  int it[2], err = 0;
  for (int w = 0; w < 2; w++) {
    sntk_model_t *x = md[w];
    double *grad = malloc(sizeof(double) * (size_t)(x->m_loc * D));
    F[w] = malloc(sizeof(double) * N * k);
    J[w] = malloc(sizeof(double) * N * k);
    G[w] = malloc(sizeof(double) * m * D);
    sntk_model_init(x, 11);
    for (int64_t i = 0; i < x->m_loc * D; i++) x->W[i] *= wscale;
    err |= sntk_model_eval(x, &ds, &loss[w], F[w], grad);
    err |= sntk_model_norm2(x, grad, &g2[w]);
    err |= sntk_model_jvp(x, ds.X, N, grad, J[w]);
    /* the gradient by global neuron index, on every rank */
    double *gl = global_order(x, grad, D);
    int P = x->size, *cnt = malloc(sizeof(int) * P), *dsp = malloc(sizeof(int) * P);
    int mine[2] = {(int)(x->m_loc * D), (int)(x->r0 * D)}, *both = malloc(sizeof(int) * 2 * P);
    MPI_Allgather(mine, 2, MPI_INT, both, 2, MPI_INT, x->comm);
    for (int p = 0; p < P; p++) cnt[p] = both[2 * p], dsp[p] = both[2 * p + 1];
    MPI_Allgatherv(gl, mine[0], MPI_DOUBLE, G[w], cnt, dsp, MPI_DOUBLE, x->comm);
    free(gl), free(cnt), free(dsp), free(both);
    err |= sntk_model_jjt_max(x, &ds, 5, 20, 1e-3, &lam[w], &it[w]);
    free(grad);
  }
  TH_OK(!err, "repro %s k=%lld: evaluations succeed (%s)", an, (long long)k,
        err ? sntk_error_message() : "");
  TH_OK(memcmp(&loss[0], &loss[1], sizeof(double)) == 0 &&
            memcmp(F[0], F[1], sizeof(double) * N * k) == 0,
        "repro %s k=%lld scale %g block %lld: loss and F on P ranks bitwise equal to one rank", an,
        (long long)k, wscale, (long long)block);
  TH_OK(memcmp(G[0], G[1], sizeof(double) * m * D) == 0 &&
            memcmp(&g2[0], &g2[1], sizeof(double)) == 0,
        "repro %s k=%lld scale %g block %lld: gradient and its norm bitwise equal", an,
        (long long)k, wscale, (long long)block);
  TH_OK(memcmp(J[0], J[1], sizeof(double) * N * k) == 0,
        "repro %s k=%lld scale %g block %lld: JVP along the gradient bitwise equal", an,
        (long long)k, wscale, (long long)block);
  TH_OK(memcmp(&lam[0], &lam[1], sizeof(double)) == 0 && it[0] == it[1],
        "repro %s k=%lld scale %g block %lld: lambda_max(J J^T) bitwise equal (%.17g, %d "
        "iterations; one rank %.17g)",
        an, (long long)k, wscale, (long long)block, lam[0], it[0], lam[1]);
  for (int w = 0; w < 2; w++) {
    free(F[w]);
    free(J[w]);
    free(G[w]);
    sntk_model_destroy(&md[w]);
  }
  sntk_data_free(&ds);
}

int main(int argc, char **argv) {
  th_init(&argc, &argv);
  check_table();
  for (int act = 0; act < 3; act++)
    for (int64_t k = 1; k <= 3; k += 2) {
      check_jacobian_products(act, k, SNTK_INIT_RANDOM, 37);
      check_jacobian_products(act, k, SNTK_INIT_COUPLED, 38);
    }
  for (int act = 0; act < 3; act++) check_wide(act, 0);
  check_wide(SNTK_ACT_SOFTMAX, 1);
  for (int act = 0; act < 3; act++)
    for (int64_t k = 1; k <= 3; k += 2) {
      check_case(act, k, SNTK_INIT_RANDOM, 37, 1.0);
      check_case(act, k, SNTK_INIT_COUPLED, 38, 1.0);
    }
  /* sigma = 1 gives |z| ~ 1; scaling W by 300 puts pre-activations near 1000. */
  double zmax = max_preactivation(300.0);
  if (th_rank == 0)
    TH_OK(zmax > 750, "extreme case: max |w . x| = %.0f (exp overflows past 709)", zmax);
  for (int64_t k = 1; k <= 3; k += 2) check_case(SNTK_ACT_SOFTMAX, k, SNTK_INIT_RANDOM, 37, 300.0);
  for (int act = 0; act < 3; act++)
    for (int64_t k = 1; k <= 3; k += 2) {
      check_repro(act, k, 37, 1.0, 3);
      check_repro(act, k, 37, 1.0, 0);
    }
  for (int64_t k = 1; k <= 3; k += 2) check_repro(SNTK_ACT_SOFTMAX, k, 37, 300.0, 3);
  return th_finish();
}
