/* The distributed NTK at any rank count (run with 1, 2, 3 and 4 ranks):
 * - H assembled on the BLACS grid equals nu/gamma^2 J J^T with J the explicit Jacobian from the
 *   plain-loop reference (DESIGN.md section 1), for softmax, exp and relu, k = 1 and 3, random (m =
 * 37) and coupled (m = 38) initialisation, every grid shape the rank count allows, nb = 1, 4, 64
 * and neuron panels of 5 (several PDSYRK passes) or all of U;
 * - ScaLAPACK eigenvalues (values: PDSYEV, full: PDSYEVD, extremes: PDSYTRD + dstevx + PDORMTR)
 * equal LAPACK's dsyev on the gathered matrix; the extremes' eigenvectors of a nearly singular H
 * (nb = 64, every grid) have small residuals and are orthonormal; the Cholesky log-determinant
 * equals LAPACK's dpotrf; the solve's scaled residual passes; a matrix that is not positive
 * definite is reported, not fatal;
 * - ||H(0) - H*||_F / ||H*||_F falls at least 3x from m = 256 to m = 16384 (theory: 8x) per
 * activation;
 * - on the unit sphere lambda_min(H*_exp) / lambda_min(H*_softmax) = e^{sigma^2} to 1e-10;
 * - a problem that does not fit the memory limit is refused with needed/available bytes and a rank
 *   count that fits.
 * Tolerances: H and J J^T are both sums of the same m d products in different orders (GEMM/PDSYRK
 * blocking, the softmax tuple merge), so they differ by a few ulp per entry amplified by at most
 * the m = 38 terms: 1e-12 relative is about 1e3 above what is seen (~1e-15). Eigenvalues of a
 * symmetric matrix move by at most ||E||_2 under a perturbation E, and both solvers are backward
 * stable with
 * ||E|| ~ n eps ||H||, so they agree to ~n eps lambda_max = 1e-14 lambda_max: 1e-12 lambda_max. The
 * log-determinant is a sum of 39 logs of pivots, each accurate to ~cond eps: 1e-10 relative. The
 * exp/softmax ratio: the two H* differ entrywise by a few ulp (exp of equal arguments computed two
 * ways), so lambda_min moves by ~eps ||H*|| and the ratio by ~eps cond(H*) ~ 1e-13 here: 1e-10. */
#include "harness.h"
#include "reference.h"
#include "softntk/data.h"
#include "softntk/log.h"
#include "softntk/model.h"
#include "softntk/ntk.h"
#include "softntk/parallel.h"

#include <float.h>
#include <lapacke.h>
#include <string.h>

enum { N = 13, D = 5 };

static sntk_model_cfg_t model_cfg(int act, int64_t m, int init, double sigma) {
  sntk_model_cfg_t c;
  memset(&c, 0, sizeof c);
  c.activation = act;
  c.width = m;
  c.sigma = sigma;
  c.init = init;
  strcpy(c.output_scale, "paper");
  return c;
}

static sntk_ntk_cfg_t ntk_cfg(int spectrum, int64_t q, int limit, int64_t panel) {
  sntk_ntk_cfg_t c;
  memset(&c, 0, sizeof c);
  c.spectrum = spectrum;
  c.q = q;
  c.limit = limit;
  c.panel = panel;
  c.threshold = 16.0;
  return c;
}

static sntk_parallel_cfg_t par_cfg(const char *grid, int64_t nb) {
  sntk_parallel_cfg_t c;
  memset(&c, 0, sizeof c);
  snprintf(c.grid, sizeof c.grid, "%s", grid);
  c.nb = nb;
  c.memory_limit = 0;
  return c;
}

static int make_data(int64_t n, int64_t d, int64_t k, sntk_dataset_t *ds) {
  return th_sphere_data(n, d, k, 7, ds);
}

/* H_ref = nu / gamma^2 J J^T from the explicit Jacobian of the single-rank model (rank 0 only). */
static void reference_ntk(const sntk_model_cfg_t *mc, int64_t k, const sntk_dataset_t *ds,
                          double *Href) {
  sntk_model_t *one = NULL;
  const int64_t nk = ds->n * k, md = mc->width * D;
  sntk_model_create(MPI_COMM_SELF, mc, D, k, 0, ds->n, &one);
  sntk_model_init(one, 11);
  double *J = malloc(sizeof(double) * nk * md);
  ref_jacobian(one->act, one->gamma, one->m, D, k, one->W, one->A, ds->X, ds->n, J);
  const double s = one->nu / (one->gamma * one->gamma);
  for (int64_t a = 0; a < nk; a++)
    for (int64_t b = 0; b < nk; b++) {
      double v = 0;
      for (int64_t c = 0; c < md; c++) v += J[a * md + c] * J[b * md + c];
      Href[b * nk + a] = s * v;
    }
  free(J);
  sntk_model_destroy(&one);
}

static int asymmetric(const double *H, int64_t n) {
  for (int64_t i = 0; i < n; i++)
    for (int64_t j = 0; j < i; j++)
      if (H[j * n + i] != H[i * n + j]) return 1;
  return 0;
}

/* Every grid shape of the rank count, auto first. */
static int grid_shapes(char shapes[][32]) {
  int count = 0;
  snprintf(shapes[count++], 32, "auto");
  for (int p = 1; p <= th_size; p++)
    if (th_size % p == 0) snprintf(shapes[count++], 32, "%dx%d", p, th_size / p);
  return count;
}

static void check_assembly(int act, int64_t k, int init, int64_t m) {
  const char *an = sntk_activation_names[act];
  char shapes[8][32];
  const int nshapes = grid_shapes(shapes);
  const int64_t nbs[3] = {1, 4, 64}, panels[2] = {0, 5};
  sntk_dataset_t ds;
  sntk_model_t *md = NULL;
  sntk_model_cfg_t mc = model_cfg(act, m, init, 1.0);
  if (make_data(N, D, k, &ds) || sntk_model_create(MPI_COMM_WORLD, &mc, D, k, 4, N, &md)) {
    TH_OK(0, "setup: %s", sntk_error_message());
    return;
  }
  sntk_model_init(md, 11);
  const int64_t nk = N * k;
  double *H = malloc(sizeof(double) * nk * nk), *Href = malloc(sizeof(double) * nk * nk);
  if (th_rank == 0) reference_ntk(&mc, k, &ds, Href);
  double worst = 0.0;
  int cases = 0, asym = 0;
  for (int g = 0; g < nshapes; g++)
    for (int b = 0; b < 3; b++)
      for (int p = 0; p < 2; p++) {
        sntk_ntk_cfg_t nc = ntk_cfg(SNTK_SPECTRUM_VALUES, 1, 0, panels[p]);
        sntk_parallel_cfg_t pc = par_cfg(shapes[g], nbs[b]);
        sntk_ntk_t *ntk = NULL;
        if (sntk_ntk_create(&nc, &pc, md, ds.X, N, 0, 0, &ntk) ||
            sntk_ntk_assemble(ntk, md->W, &ntk->H) || sntk_dmat_gather(&ntk->H, H)) {
          TH_OK(0, "%s k=%lld grid %s nb %lld: %s", an, (long long)k, shapes[g], (long long)nbs[b],
                sntk_error_message());
          sntk_ntk_destroy(&ntk);
          continue;
        }
        if (th_rank == 0) {
          double e = th_relerr(H, Href, nk * nk);
          if (!(e <= worst)) worst = e;
          asym |= asymmetric(H, nk);
        }
        cases++;
        sntk_ntk_destroy(&ntk);
      }
  if (th_rank == 0)
    TH_OK(worst < 1e-12 && !asym,
          "%s k=%lld %s m=%lld P=%d: H = nu/gamma^2 J J^T (explicit Jacobian) over %d grids/nb/"
          "panels: max rel err %.1e (< 1e-12), exactly symmetric",
          an, (long long)k, init == SNTK_INIT_COUPLED ? "coupled" : "random", (long long)m, th_size,
          cases, worst);
  free(H), free(Href);
  sntk_model_destroy(&md);
  sntk_data_free(&ds);
}

/* Eigenvalues, Cholesky and solve of the distributed H against LAPACK on the gathered matrix. */
static void check_solvers(void) {
  const int64_t k = 3, nk = N * k, q = 4;
  sntk_dataset_t ds;
  sntk_model_t *md = NULL;
  sntk_model_cfg_t mc = model_cfg(SNTK_ACT_SOFTMAX, 37, SNTK_INIT_RANDOM, 1.0);
  if (make_data(N, D, k, &ds) || sntk_model_create(MPI_COMM_WORLD, &mc, D, k, 0, N, &md)) {
    TH_OK(0, "setup: %s", sntk_error_message());
    return;
  }
  sntk_model_init(md, 11);
  double *H = malloc(sizeof(double) * nk * nk), *wref = malloc(sizeof(double) * nk);
  const int kinds[3] = {SNTK_SPECTRUM_VALUES, SNTK_SPECTRUM_FULL, SNTK_SPECTRUM_EXTREMES};
  const char *names[3] = {"values (PDSYEV)", "full (PDSYEVD)", "extremes q=4 (PDSYTRD)"};
  for (int c = 0; c < 3; c++) {
    sntk_ntk_cfg_t nc = ntk_cfg(kinds[c], q, 0, 0);
    sntk_parallel_cfg_t pc = par_cfg("auto", 4);
    sntk_ntk_t *ntk = NULL;
    int64_t neig = 0;
    if (sntk_ntk_create(&nc, &pc, md, ds.X, N, 0, 0, &ntk) ||
        sntk_ntk_assemble(ntk, md->W, &ntk->H) || sntk_dmat_gather(&ntk->H, H) ||
        sntk_ntk_eigen(ntk, &ntk->H, kinds[c], q, &neig, "H")) {
      TH_OK(0, "%s: %s", names[c], sntk_error_message());
      sntk_ntk_destroy(&ntk);
      continue;
    }
    if (th_rank == 0) {
      LAPACKE_dsyev(LAPACK_COL_MAJOR, 'N', 'L', (int)nk, H, (int)nk, wref);
      double e = 0.0;
      for (int64_t i = 0; i < neig; i++) {
        const int64_t r = kinds[c] == SNTK_SPECTRUM_EXTREMES && i >= q ? nk - 2 * q + i : i;
        e = fmax(e, fabs(ntk->w[i] - wref[r]) / wref[nk - 1]);
      }
      TH_OK(e < 1e-12 && ntk->failures == 0 && neig == (c == 2 ? 2 * q : nk),
            "%s P=%d: %lld eigenvalues vs LAPACK dsyev: max |dlambda| / lambda_max %.1e (< 1e-12); "
            "largest scaled residual %.2e (< 16)",
            names[c], th_size, (long long)neig, e, ntk->worst);
    }
    if (c == 0) {
      int pd = 0;
      double logdet = NAN, ref = NAN;
      const double lmax = ntk->w[nk - 1];
      sntk_dmat_gather(&ntk->H, H);
      if (sntk_ntk_cholesky(ntk, &ntk->H, 0.0, &pd, &logdet)) TH_OK(0, "%s", sntk_error_message());
      if (th_rank == 0) {
        int info = LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'L', (int)nk, H, (int)nk);
        ref = 0.0;
        for (int64_t i = 0; i < nk; i++) ref += 2.0 * log(H[i * nk + i]);
        TH_OK(info == 0 && pd && th_rel(logdet, ref) < 1e-10 && ntk->failures == 0,
              "cholesky P=%d: positive definite, log det %.10e vs LAPACK %.1e rel (< 1e-10); "
              "solve scaled residual %.2e (< 16)",
              th_size, logdet, th_rel(logdet, ref), ntk->worst);
      }
      if (sntk_ntk_cholesky(ntk, &ntk->H, -2.0 * lmax, &pd, &logdet))
        TH_OK(0, "%s", sntk_error_message());
      if (th_rank == 0)
        TH_OK(!pd && isnan(logdet), "H - 2 lambda_max I is reported not positive definite (a "
                                    "result, not an error)");
    }
    sntk_ntk_destroy(&ntk);
  }
  free(H), free(wref);
  sntk_model_destroy(&md);
  sntk_data_free(&ds);
}

/* Residual ||H V - V L||_1 / (eps ||H||_1 n) and orthogonality ||V^T V - I||_1 / (eps n) of the
 * ncols eigenpairs (w, V) of the n x n column-major H, computed here on the gathered matrices. */
static void pair_residuals(const double *H, const double *V, const double *w, int64_t n,
                           int64_t ncols, double *res, double *orth) {
  const double eps = DBL_EPSILON / 2;
  double hn = 0.0, rn = 0.0, on = 0.0;
  for (int64_t j = 0; j < n; j++) {
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) s += fabs(H[j * n + i]);
    hn = fmax(hn, s);
  }
  for (int64_t c = 0; c < ncols; c++) {
    double s = 0.0, so = 0.0;
    for (int64_t i = 0; i < n; i++) {
      double r = -w[c] * V[c * n + i];
      for (int64_t j = 0; j < n; j++) r += H[j * n + i] * V[c * n + j];
      s += fabs(r);
    }
    for (int64_t b = 0; b < ncols; b++) {
      double g = b == c ? -1.0 : 0.0;
      for (int64_t i = 0; i < n; i++) g += V[b * n + i] * V[c * n + i];
      so += fabs(g);
    }
    rn = fmax(rn, s), on = fmax(on, so);
  }
  *res = rn / (eps * hn * (double)n);
  *orth = on / (eps * (double)n);
}

/* spectrum = extremes on a nearly singular H (coupled init, m = 8, d = 5: rank <= 20 of nk = 300,
 * so the q smallest eigenvalues lie in a cluster of 280 at ~1e-14 lambda_max) with nb = 64 on
 * every grid: the eigenvectors themselves, not only the eigenvalues. PDSYEVR with RANGE = 'I'
 * gave PDORMTR too little workspace when nb was large against the q vectors asked for, and
 * returned the vectors of the tridiagonal matrix with info = 0 (residual ~1e13). */
static void check_extremes_vectors(void) {
  const int64_t n = 100, k = 3, nk = n * k, q = 4;
  char shapes[8][32];
  const int nshapes = grid_shapes(shapes);
  sntk_dataset_t ds;
  sntk_model_t *md = NULL;
  sntk_model_cfg_t mc = model_cfg(SNTK_ACT_SOFTMAX, 8, SNTK_INIT_COUPLED, 1.0);
  if (make_data(n, D, k, &ds) || sntk_model_create(MPI_COMM_WORLD, &mc, D, k, 0, n, &md)) {
    TH_OK(0, "setup: %s", sntk_error_message());
    return;
  }
  sntk_model_init(md, 11);
  double *H = malloc(sizeof(double) * nk * nk), *Z = malloc(sizeof(double) * nk * nk),
         *wref = malloc(sizeof(double) * nk), *A = malloc(sizeof(double) * nk * nk);
  for (int g = 0; g < nshapes; g++) {
    sntk_ntk_cfg_t nc = ntk_cfg(SNTK_SPECTRUM_EXTREMES, q, 0, 0);
    sntk_parallel_cfg_t pc = par_cfg(shapes[g], 64);
    sntk_ntk_t *ntk = NULL;
    int64_t neig = 0;
    if (sntk_ntk_create(&nc, &pc, md, ds.X, n, 0, 0, &ntk) ||
        sntk_ntk_assemble(ntk, md->W, &ntk->H) || sntk_dmat_gather(&ntk->H, H) ||
        sntk_ntk_eigen(ntk, &ntk->H, SNTK_SPECTRUM_EXTREMES, q, &neig, "H") ||
        sntk_dmat_gather(&ntk->Z, Z)) {
      TH_OK(0, "extremes grid %s: %s", shapes[g], sntk_error_message());
      sntk_ntk_destroy(&ntk);
      continue;
    }
    if (th_rank == 0) {
      lapack_int m = 0;
      memcpy(A, H, sizeof(double) * nk * nk);
      LAPACKE_dsyevr(LAPACK_COL_MAJOR, 'N', 'A', 'L', (int)nk, A, (int)nk, 0, 0, 0, 0, 0.0, &m,
                     wref, NULL, 1, NULL);
      double e = 0.0, res, orth;
      for (int64_t i = 0; i < neig; i++)
        e = fmax(e, fabs(ntk->w[i] - wref[i < q ? i : nk - 2 * q + i]) / wref[nk - 1]);
      pair_residuals(H, Z, ntk->w, nk, neig, &res, &orth);
      TH_OK(neig == 2 * q && e < 1e-12 && res < 16 && orth < 16 && ntk->failures == 0,
            "extremes q=%lld nb=64 grid %s P=%d, nearly singular H (lambda_min %.1e, lambda_max "
            "%.1e): eigenvalues vs LAPACK dsyevr %.1e lambda_max (< 1e-12); on the gathered "
            "matrices ||HV-VL||_1/(eps ||H||_1 n) = %.2e, ||V^TV-I||_1/(eps n) = %.2e (< 16)",
            (long long)q, shapes[g], th_size, wref[0], wref[nk - 1], e, res, orth);
    }
    sntk_ntk_destroy(&ntk);
  }
  free(H), free(Z), free(wref), free(A);
  sntk_model_destroy(&md);
  sntk_data_free(&ds);
}

/* ||H(0) - H*||_F / ||H*||_F at width m for the weights of `seed`. */
static double limit_distance(int act, int64_t m, uint64_t seed, const sntk_dataset_t *ds) {
  sntk_model_t *md = NULL;
  sntk_ntk_t *ntk = NULL;
  sntk_model_cfg_t mc = model_cfg(act, m, SNTK_INIT_RANDOM, 1.0);
  sntk_ntk_cfg_t nc = ntk_cfg(SNTK_SPECTRUM_VALUES, 1, 1, 0);
  sntk_parallel_cfg_t pc = par_cfg("auto", 8);
  double fro = NAN, spec = NAN, ref = NAN, tmp;
  const int one = 1, nk = (int)(ds->n * ds->k);
  if (sntk_model_create(MPI_COMM_WORLD, &mc, ds->d, ds->k, 0, ds->n, &md) == 0) {
    sntk_model_init(md, seed);
    if (sntk_ntk_create(&nc, &pc, md, ds->X, ds->n, 0, 0, &ntk) == 0 &&
        sntk_ntk_assemble(ntk, md->W, &ntk->H) == 0 &&
        sntk_ntk_distance(ntk, &ntk->H, &ntk->Hstar, &fro, &spec, "H - H*") == 0)
      ref = pdlange_("F", &nk, &nk, ntk->Hstar.a, &one, &one, ntk->Hstar.desc, &tmp, 1);
  }
  sntk_ntk_destroy(&ntk);
  sntk_model_destroy(&md);
  return fro / ref;
}

/* One draw of the weights fluctuates around the m^-1/2 law (n = 8 points give few independent
 * entries); the RMS over a few seeds is compared. The weights depend only on (seed, neuron), so the
 * numbers are the same for every rank count. */
enum { SEEDS = 4 };

static void check_convergence(void) {
  sntk_dataset_t ds;
  if (make_data(8, 4, 1, &ds)) {
    TH_OK(0, "setup: %s", sntk_error_message());
    return;
  }
  sntk_log_set_quiet(1);
  for (int act = 0; act < 3; act++) {
    double a = 0.0, b = 0.0;
    for (uint64_t seed = 1; seed <= SEEDS; seed++) {
      const double ea = limit_distance(act, 256, seed, &ds),
                   eb = limit_distance(act, 16384, seed, &ds);
      a += ea * ea / SEEDS;
      b += eb * eb / SEEDS;
    }
    a = sqrt(a), b = sqrt(b);
    if (th_rank == 0)
      TH_OK(a / b >= 3.0,
            "%s P=%d: ||H(0) - H*||_F / ||H*||_F (RMS over %d seeds) = %.3e at m = "
            "256, %.3e at m = 16384: %.2fx lower (>= 3; m^-1/2 predicts 8)",
            sntk_activation_names[act], th_size, SEEDS, a, b, a / b);
  }
  sntk_log_set_quiet(0);
  sntk_data_free(&ds);
}

/* lambda_min and lambda_max of H* for one activation on the unit sphere. */
static void limit_extremes(int act, double sigma, const sntk_dataset_t *ds, double *lmin,
                           double *lmax) {
  sntk_model_t *md = NULL;
  sntk_ntk_t *ntk = NULL;
  sntk_model_cfg_t mc = model_cfg(act, 64, SNTK_INIT_RANDOM, sigma);
  sntk_ntk_cfg_t nc = ntk_cfg(SNTK_SPECTRUM_VALUES, 1, 1, 0);
  sntk_parallel_cfg_t pc = par_cfg("auto", 3);
  int64_t neig = 0;
  *lmin = *lmax = NAN;
  if (sntk_model_create(MPI_COMM_WORLD, &mc, ds->d, ds->k, 0, ds->n, &md) == 0 &&
      sntk_ntk_create(&nc, &pc, md, ds->X, ds->n, 0, 0, &ntk) == 0 &&
      sntk_ntk_eigen(ntk, &ntk->Hstar, SNTK_SPECTRUM_VALUES, 0, &neig, "H*") == 0) {
    *lmin = ntk->w[0];
    *lmax = ntk->w[neig - 1];
  }
  sntk_ntk_destroy(&ntk);
  sntk_model_destroy(&md);
}

static void check_sphere_ratio(void) {
  sntk_dataset_t ds;
  if (make_data(20, 8, 1, &ds)) {
    TH_OK(0, "setup: %s", sntk_error_message());
    return;
  }
  double maxdev = 0.0;
  for (int64_t i = 0; i < ds.n; i++) {
    double s = 0;
    for (int64_t j = 0; j < ds.d; j++) s += ds.X[i * ds.d + j] * ds.X[i * ds.d + j];
    maxdev = fmax(maxdev, fabs(s - 1.0));
  }
  const double sigmas[2] = {1.0, 0.6};
  for (int s = 0; s < 2; s++) {
    double emin, emax, smin, smax;
    limit_extremes(SNTK_ACT_EXP, sigmas[s], &ds, &emin, &emax);
    limit_extremes(SNTK_ACT_SOFTMAX, sigmas[s], &ds, &smin, &smax);
    const double want = exp(sigmas[s] * sigmas[s]), e = th_rel(emin / smin, want);
    if (th_rank == 0)
      TH_OK(e < 1e-10 && maxdev < 1e-15,
            "unit sphere (| ||x||^2 - 1 | <= %.0e), sigma = %.1f, P=%d: lambda_min(H*_exp) / "
            "lambda_min(H*_softmax) = %.15f, e^{sigma^2} = %.15f, rel err %.1e (< 1e-10); "
            "cond(H*_softmax) = %.0f",
            maxdev, sigmas[s], th_size, emin / smin, want, e, smax / smin);
  }
  sntk_data_free(&ds);
}

static void check_refusal(void) {
  sntk_dataset_t ds;
  sntk_model_t *md = NULL;
  sntk_ntk_t *ntk = NULL;
  sntk_model_cfg_t mc = model_cfg(SNTK_ACT_SOFTMAX, 64, SNTK_INIT_RANDOM, 1.0);
  sntk_ntk_cfg_t nc = ntk_cfg(SNTK_SPECTRUM_FULL, 1, 1, 0);
  sntk_parallel_cfg_t pc = par_cfg("auto", 64);
  pc.memory_limit = 200; /* MiB; nk = 4000 needs ~6 matrices of 122 MiB / P plus ~100 MiB */
  if (make_data(4000, D, 1, &ds) || sntk_model_create(MPI_COMM_WORLD, &mc, D, 1, 0, 4000, &md)) {
    TH_OK(0, "setup: %s", sntk_error_message());
    return;
  }
  int err = sntk_ntk_create(&nc, &pc, md, ds.X, ds.n, 0, 0, &ntk);
  const char *msg = sntk_error_message();
  int fits_more = 0;
  const char *at = strstr(msg, "would fit on ");
  if (at) fits_more = atoi(at + strlen("would fit on ")) > th_size;
  TH_OK(err == SNTK_ERR_INPUT && ntk == NULL && strstr(msg, "needs") &&
            strstr(msg, "available per rank") && fits_more,
        "nk = 4000 with 200 MiB per rank on P=%d refused before allocating: %s", th_size, msg);
  sntk_ntk_destroy(&ntk);
  sntk_model_destroy(&md);
  sntk_data_free(&ds);
}

int main(int argc, char **argv) {
  th_init(&argc, &argv);
  sntk_log_init(MPI_COMM_WORLD);
  for (int act = 0; act < 3; act++)
    for (int64_t k = 1; k <= 3; k += 2) {
      check_assembly(act, k, SNTK_INIT_RANDOM, 37);
      check_assembly(act, k, SNTK_INIT_COUPLED, 38);
    }
  check_solvers();
  check_extremes_vectors();
  check_convergence();
  check_sphere_ratio();
  check_refusal();
  sntk_grid_finalize();
  return th_finish();
}
