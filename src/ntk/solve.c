/* Factorisations and eigen-solves of the distributed NTK, each followed by an HPL-style scaled
 * residual (DESIGN.md section 3), and the linearised loss curve (section 2). The factorisations and
 * solves themselves are the backend's of ntk.solver (ntk_solver_table, e.g. solver_scalapack.c);
 * the checks, timings and the certificate are here, the same for every backend.
 *
 * eps is the unit round-off 2^-53 (LAPACK's dlamch('E'), HPL's eps). The residuals:
 *   solve       ||A x - b||_oo / (eps (||A||_oo ||x||_oo + ||b||_oo) n)       (HPL)
 *   eigenpairs  ||A Q - Q D||_1 / (eps ||A||_1 n),  ||Q^T Q - I||_1 / (eps n) (ScaLAPACK's tests)
 *   eigenvalues |sum lambda - tr A| / (eps n ||A||_F),
 *               |sum lambda^2 - ||A||_F^2| / (eps n ||A||_F^2)
 * A backward-stable solver keeps each of them O(1); a value above cfg.threshold (16, as HPL) FAILS.
 * For the eigenvalue identities: the computed values are exact for A + E with ||E||_2 <= p(n) eps
 * ||A||_2, so |tr E| <= n ||E||_2 and |2 tr(A E) + tr(E^2)| <= 2 sqrt(n) ||A||_F ||E||_2 + ...:
 * both ratios stay below p(n), a small multiple of 1 for Householder tridiagonalisation. */
#include "ntk_impl.h"
#include "softntk/perf.h"

#include "softntk/error.h"
#include "softntk/log.h"
#include "softntk/parallel.h"
#include "softntk/rng.h"

#include <cblas.h>
#include <lapacke.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define EPS (DBL_EPSILON / 2)

int sntk_ntk_check(sntk_ntk_t *ntk, const char *what, const char *formula, double value) {
  const int ok = isfinite(value) && value < ntk->cfg.threshold;
  ntk->checks++;
  if (!ok) ntk->failures++;
  if (!(value <= ntk->worst)) ntk->worst = isnan(value) ? INFINITY : value;
  sntk_log("check  %-26s %-44s = %11.4e ...... %s", what, formula, value, ok ? "PASSED" : "FAILED");
  return ok;
}

/* pdlange of the leading m x n block of A; norm is "F", "1" or "I". */
static int norm_of(const sntk_dmat_t *A, const char *norm, int64_t m, int64_t n, double *out) {
  const int im = (int)m, in = (int)n, one = 1;
  double *work = NULL;
  SNTK_CALL(SNTK_ALLOC(work, A->mloc + A->nloc + 2 * A->nb));
  *out = pdlange_(norm, &im, &in, A->a, &one, &one, A->desc, work, 1);
  free(work);
  return SNTK_OK;
}

/* Sum of the diagonal of a distributed square matrix (global). */
static int trace_of(const sntk_dmat_t *A, double *tr) {
  long double s = 0.0L;
  for (int64_t lj = 0; lj < A->nloc; lj++) {
    const int64_t li = sntk_dmat_diag_row(A, lj);
    if (li >= 0) s += A->a[lj * A->lld + li];
  }
  double local = (double)s;
  return SNTK_MPI(MPI_Allreduce(&local, tr, 1, MPI_DOUBLE, MPI_SUM, A->grid->comm));
}

int sntk_ntk_cholesky(sntk_ntk_t *ntk, const sntk_dmat_t *A, double shift, int *pd,
                      double *logdet) {
  const int nk = (int)ntk->nk;
  sntk_dmat_t *L = &ntk->work;
  int info = 0, err = SNTK_OK;
  double *b = NULL, *x = NULL;
  *pd = 0;
  *logdet = NAN;
  sntk_dmat_copy(L, A);
  if (shift != 0.0) sntk_dmat_shift_diag(L, shift, ntk->nk);
  double t0 = sntk_wtime_sync(ntk->comm);
  sntk_perf_start(SNTK_EV_NTK_CHOLESKY);
  int ferr = ntk_solver(ntk)->cholesky(ntk, L, &info);
  sntk_perf_stop(SNTK_EV_NTK_CHOLESKY, (double)nk * nk * nk / 3.0 / ntk->size);
  ntk->t_chol = sntk_tmax(ntk->comm, MPI_Wtime() - t0);
  SNTK_CALL(sntk_agree(ntk->comm, ferr));
  SNTK_CALL(SNTK_MPI(MPI_Allreduce(MPI_IN_PLACE, &info, 1, MPI_INT, MPI_MAX, ntk->comm)));
  if (info < 0) return sntk_error(SNTK_ERR_RUNTIME, "PDPOTRF rejected argument %d", -info);
  if (info > 0) {
    char txt[64] = "";
    if (shift != 0.0) snprintf(txt, sizeof txt, " shifted by %g I", shift);
    sntk_log("cholesky: the matrix%s is NOT positive definite (PDPOTRF: leading minor of order %d "
             "is not positive); no log-determinant or solve",
             txt, info);
    return L->a == A->a ? ntk_fresh_H(ntk) : SNTK_OK; /* lean: H again for what follows */
  }
  *pd = 1;
  long double s = 0.0L;
  for (int64_t lj = 0; lj < L->nloc; lj++) {
    const int64_t li = sntk_dmat_diag_row(L, lj);
    if (li >= 0) s += 2.0L * logl((long double)L->a[lj * L->lld + li]);
  }
  double local = (double)s;
  SNTK_CALL(SNTK_MPI(MPI_Allreduce(&local, logdet, 1, MPI_DOUBLE, MPI_SUM, ntk->comm)));
  /* Certificate: a solve with a right-hand side uniform in (-1, 1), the same for every rank count.
   */
  SNTK_TRY(SNTK_ALLOC(b, ntk->nk));
  SNTK_TRY(SNTK_ALLOC(x, ntk->nk));
  sntk_rng_t r;
  sntk_rng_init(&r, 0, SNTK_RNG_NTK_CHECK, 0);
  for (int64_t i = 0; i < ntk->nk; i++) b[i] = 2.0 * sntk_rng_uniform(&r) - 1.0;
  SNTK_TRY(sntk_ntk_solve(ntk, A, shift, b, x, "cholesky solve"));
done:
  free(b);
  free(x);
  return err;
}

/* y = (A + shift I) x and the row sums of |A + shift I| (global, on every rank). */
static int matvec(const sntk_dmat_t *A, double shift, const double *x, double *y, double *rows) {
  const int64_t n = A->m;
  int64_t *gr = NULL;
  SNTK_CALL(SNTK_ALLOC(gr, A->mloc));
  for (int64_t li = 0; li < A->mloc; li++) gr[li] = sntk_dmat_grow(A, li);
  memset(y, 0, (size_t)n * sizeof *y);
  memset(rows, 0, (size_t)n * sizeof *rows);
  for (int64_t lj = 0; lj < A->nloc; lj++) {
    const int64_t gj = sntk_dmat_gcol(A, lj), ld = sntk_dmat_diag_row(A, lj);
    const double *col = A->a + lj * A->lld, xj = x[gj];
    for (int64_t li = 0; li < A->mloc; li++) {
      const double a = li == ld ? col[li] + shift : col[li];
      y[gr[li]] += a * xj;
      rows[gr[li]] += fabs(a);
    }
  }
  free(gr);
  SNTK_CALL(sntk_allreduce_sum(y, n, A->grid->comm));
  return sntk_allreduce_sum(rows, n, A->grid->comm);
}

int ntk_symv(const sntk_dmat_t *A, const double *x, double *y) {
  const int64_t n = A->m;
  double *xl = NULL, *yl = NULL;
  int err = SNTK_OK;
  SNTK_TRY(SNTK_ALLOC(xl, A->nloc > 0 ? A->nloc : 1));
  SNTK_TRY(SNTK_ALLOC(yl, A->mloc > 0 ? A->mloc : 1));
  memset(y, 0, (size_t)n * sizeof *y);
  if (A->mloc > 0 && A->nloc > 0) {
    for (int64_t lj = 0; lj < A->nloc; lj++) xl[lj] = x[sntk_dmat_gcol(A, lj)];
    cblas_dgemv(CblasColMajor, CblasNoTrans, (int)A->mloc, (int)A->nloc, 1.0, A->a, (int)A->lld, xl,
                1, 0.0, yl, 1);
    for (int64_t li = 0; li < A->mloc; li++) y[sntk_dmat_grow(A, li)] = yl[li];
  }
done:
  free(xl), free(yl);
  SNTK_CALL(sntk_agree(A->grid->comm, err));
  return sntk_allreduce_sum(y, n, A->grid->comm);
}

static double max_abs(const double *v, int64_t n) {
  double m = 0.0;
  for (int64_t i = 0; i < n; i++)
    if (fabs(v[i]) > m) m = fabs(v[i]);
  return m;
}

int sntk_ntk_solve(sntk_ntk_t *ntk, const sntk_dmat_t *A, double shift, const double *b, double *x,
                   const char *what) {
  sntk_dmat_t B = {0};
  double *y = NULL, *rows = NULL;
  int info = 0, err = SNTK_OK;
  SNTK_TRY(sntk_dmat_init(&B, ntk->grid, ntk->nk, 1, ntk->nb, ntk->nb));
  SNTK_TRY(sntk_dmat_alloc(&B));
  SNTK_TRY(SNTK_ALLOC(y, ntk->nk));
  SNTK_TRY(SNTK_ALLOC(rows, ntk->nk));
  sntk_dmat_scatter(&B, b);
  SNTK_TRY(ntk_solver(ntk)->cholesky_solve(ntk, &ntk->work, &B, &info));
  if (info != 0) {
    err = sntk_error(SNTK_ERR_RUNTIME, "PDPOTRS failed (info %d)", info);
    goto done;
  }
  SNTK_TRY(sntk_dmat_gather(&B, x));
  if (A->a == ntk->work.a) { /* lean: the factor is in H itself; H again for the residual */
    if (A != &ntk->H) {
      err = sntk_error(SNTK_ERR_RUNTIME, "lean NTK: a solve with a matrix other than H");
      goto done;
    }
    SNTK_TRY(ntk_fresh_H(ntk));
  }
  SNTK_TRY(matvec(A, shift, x, y, rows));
  for (int64_t i = 0; i < ntk->nk; i++) y[i] -= b[i];
  const double den =
      EPS * (max_abs(rows, ntk->nk) * max_abs(x, ntk->nk) + max_abs(b, ntk->nk)) * (double)ntk->nk;
  sntk_ntk_check(ntk, what, "||Ax-b||_oo/(eps(||A||_oo||x||_oo+||b||_oo)n)",
                 den > 0 ? max_abs(y, ntk->nk) / den : 0.0);
done:
  err = sntk_agree(ntk->comm, err);
  sntk_dmat_free(&B);
  free(y);
  free(rows);
  return err;
}

/* Eigenvalues only of ntk->work (destroyed) into w (the backend's values); checked against the
 * trace and the Frobenius norm of the matrix, given as tr and fro. */
static int values_inplace(sntk_ntk_t *ntk, double tr, double fro, double *w, const char *what) {
  SNTK_CALL(ntk_solver(ntk)->values(ntk, w, what));
  long double s1 = 0.0L, s2 = 0.0L;
  for (int64_t i = 0; i < ntk->nk; i++) s1 += w[i], s2 += (long double)w[i] * w[i];
  const double n = (double)ntk->nk;
  char label[64];
  snprintf(label, sizeof label, "%s: trace", what);
  sntk_ntk_check(ntk, label, "|sum lambda - tr A|/(eps n ||A||_F)",
                 fro > 0 ? fabs((double)s1 - tr) / (EPS * n * fro) : 0.0);
  snprintf(label, sizeof label, "%s: Frobenius", what);
  sntk_ntk_check(ntk, label, "|sum lambda^2 - ||A||_F^2|/(eps n ||A||_F^2)",
                 fro > 0 ? fabs((double)s2 - fro * fro) / (EPS * n * fro * fro) : 0.0);
  return SNTK_OK;
}

/* Residuals of the eigenpairs (w, first ncols columns of Z) of A; ntk->work is used as scratch. */
static int check_pairs(sntk_ntk_t *ntk, const sntk_dmat_t *A, int64_t ncols, const char *what) {
  const int nk = (int)ntk->nk, nc = (int)ncols, one = 1;
  const double d1 = 1.0, d0 = 0.0;
  sntk_dmat_t *R = &ntk->work, *Z = &ntk->Z;
  double anorm, rnorm, onorm;
  pdgemm_("N", "N", &nk, &nc, &nk, &d1, A->a, &one, &one, A->desc, Z->a, &one, &one, Z->desc, &d0,
          R->a, &one, &one, R->desc);
  for (int64_t lj = 0; lj < R->nloc; lj++) {
    const int64_t q = sntk_dmat_gcol(R, lj);
    if (q >= ncols) break;
    for (int64_t li = 0; li < R->mloc; li++)
      R->a[lj * R->lld + li] -= ntk->w[q] * Z->a[lj * Z->lld + li];
  }
  SNTK_CALL(norm_of(R, "1", ntk->nk, ncols, &rnorm));
  SNTK_CALL(norm_of(A, "1", ntk->nk, ntk->nk, &anorm));
  pdgemm_("T", "N", &nc, &nc, &nk, &d1, Z->a, &one, &one, Z->desc, Z->a, &one, &one, Z->desc, &d0,
          R->a, &one, &one, R->desc);
  sntk_dmat_shift_diag(R, -1.0, ncols);
  SNTK_CALL(norm_of(R, "1", ncols, ncols, &onorm));
  const double n = (double)ntk->nk;
  char label[64];
  snprintf(label, sizeof label, "%s: eigenpairs", what);
  sntk_ntk_check(ntk, label, "||AQ-QD||_1/(eps ||A||_1 n)",
                 anorm > 0 ? rnorm / (EPS * anorm * n) : 0);
  snprintf(label, sizeof label, "%s: orthogonality", what);
  sntk_ntk_check(ntk, label, "||Q^TQ-I||_1/(eps n)", onorm / (EPS * n));
  return SNTK_OK;
}

/* The eigen-solve proper of sntk_ntk_eigen (timed as one event). */
static int eigen_solve(sntk_ntk_t *ntk, const sntk_dmat_t *A, int kind, int64_t q, int64_t *neig,
                       const char *what) {
  if (kind == SNTK_SPECTRUM_VALUES) {
    double tr, fro;
    SNTK_CALL(trace_of(A, &tr));
    SNTK_CALL(norm_of(A, "F", ntk->nk, ntk->nk, &fro));
    *neig = ntk->nk;
    return values_inplace(ntk, tr, fro, ntk->w, what);
  }
  if (kind == SNTK_SPECTRUM_FULL) {
    *neig = ntk->nk;
    return ntk_solver(ntk)->full(ntk);
  }
  return ntk_solver(ntk)->extremes(ntk, q, neig);
}

int sntk_ntk_eigen(sntk_ntk_t *ntk, const sntk_dmat_t *A, int kind, int64_t q, int64_t *neig,
                   const char *what) {
  sntk_dmat_copy(&ntk->work, A);
  double t0 = sntk_wtime_sync(ntk->comm);
  sntk_perf_start(SNTK_EV_NTK_EIGEN);
  int err = eigen_solve(ntk, A, kind, q, neig, what);
  sntk_perf_stop(SNTK_EV_NTK_EIGEN, 0.0);
  ntk->t_eig = sntk_tmax(ntk->comm, MPI_Wtime() - t0);
  SNTK_CALL(err);
  if (kind == SNTK_SPECTRUM_VALUES) return SNTK_OK;
  return check_pairs(ntk, A, *neig, what);
}

int sntk_ntk_distance(sntk_ntk_t *ntk, const sntk_dmat_t *A, const sntk_dmat_t *B, double *fro,
                      double *spec, const char *what) {
  sntk_dmat_t *D = &ntk->work;
  const int64_t len = D->lld * D->nloc;
  double tr;
  for (int64_t i = 0; i < len; i++) D->a[i] = A->a[i] - B->a[i];
  SNTK_CALL(norm_of(D, "F", ntk->nk, ntk->nk, fro));
  SNTK_CALL(trace_of(D, &tr));
  SNTK_CALL(values_inplace(ntk, tr, *fro, ntk->w2, what));
  *spec =
      fabs(ntk->w2[0]) > fabs(ntk->w2[ntk->nk - 1]) ? fabs(ntk->w2[0]) : fabs(ntk->w2[ntk->nk - 1]);
  return SNTK_OK;
}

int sntk_ntk_linearised(sntk_ntk_t *ntk, const double *r0, double eta, int64_t steps,
                        double *loss) {
  const sntk_dmat_t *Z = &ntk->Z;
  const double scale = ntk->model->gamma * ntk->model->gamma / ntk->model->nu;
  double *c = NULL, *f = NULL;
  int err = SNTK_OK;
  if (!Z->a)
    return sntk_error(SNTK_ERR_RUNTIME, "the linearised prediction needs the eigenvectors");
  SNTK_TRY(SNTK_ALLOC(c, ntk->nk));
  SNTK_TRY(SNTK_ALLOC(f, ntk->nk));
  for (int64_t lj = 0; lj < Z->nloc; lj++) {
    const int64_t q = sntk_dmat_gcol(Z, lj);
    double s = 0.0;
    for (int64_t li = 0; li < Z->mloc; li++)
      s += Z->a[lj * Z->lld + li] * r0[sntk_dmat_grow(Z, li)];
    c[q] = s;
  }
  SNTK_TRY(sntk_allreduce_sum(c, ntk->nk, ntk->comm));
  for (int64_t q = 0; q < ntk->nk; q++) {
    const double g = 1.0 - eta * scale * ntk->w[q];
    f[q] = g * g;
    c[q] = 0.5 * c[q] * c[q];
  }
  for (int64_t t = 0; t <= steps; t++) {
    long double s = 0.0L;
    for (int64_t q = 0; q < ntk->nk; q++) {
      s += c[q];
      c[q] *= f[q];
    }
    loss[t] = (double)s;
  }
done:
  free(c);
  free(f);
  return sntk_agree(ntk->comm, err);
}
