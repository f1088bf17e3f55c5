/* The ScaLAPACK backend of the NTK's factorisations and spectra (ntk_solver_ops_t, ntk_impl.h):
 * PDPOTRF/PDPOTRS, eigenvalues by PDSYEV, all eigenpairs by PDSYEVD, the q smallest and q largest
 * by PDSYTRD + dstevx + PDORMTR (PDSYEVR when 2q >= nk), and the workspace they need for the
 * memory plan (plan.c). Every routine works on ntk->work (destroyed) and writes ntk->w and ntk->Z.
 */
#include "ntk_impl.h"

#include "softntk/error.h"
#include "softntk/parallel.h"

#include <float.h>
#include <lapacke.h>
#include <stdlib.h>
#include <string.h>

static int64_t imax(int64_t a, int64_t b) {
  return a > b ? a : b;
}

static int64_t ceil_div(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

/* Doubles of the ScaLAPACK workspace of the configured spectrum (documented minima; the solves
 * below add their queries' margins). */
static int64_t plan(const ntk_shape_t *s, int64_t nk) {
  const int64_t nb = s->nb, np = sntk_numroc(nk, nb, 0, s->nprow),
                nq = sntk_numroc(nk, nb, 0, s->npcol);
  const int64_t nn = imax(imax(nk, nb), 2), values = 5 * nk + imax(nb * (np + 1), 3 * nb) + 1;
  if (s->spectrum == SNTK_SPECTRUM_VALUES) return values + 1024;
  if (s->spectrum == SNTK_SPECTRUM_FULL) /* PDSYEVD, plus PDORMTR's share its query omits */
    return imax(1 + 6 * nk + 2 * np * nq, 3 * nk + imax(nb * (np + 1), 3 * nb)) + 2 * nk +
           imax(nb * (nb - 1) / 2, (np + nq) * nb) + nb * nb + 4 * nk +
           (7 * nk + 8 * s->npcol + 2) / 2 + 2048;
  if (2 * s->q < nk) { /* PDSYTRD, then dstevx on rank 0 and PDORMTR of 2q vectors */
    const int64_t nq2 = sntk_numroc(2 * s->q, nb, 0, s->npcol);
    const int64_t ormtr = imax(nb * (nb - 1) / 2, (np + nq2) * nb) + nb * nb;
    return imax(values, ormtr) + 2 * s->q * nk + 3 * nq + 16 * nk + 2048;
  }
  const int64_t np0 = sntk_numroc(nn, nb, 0, s->nprow), mq0 = sntk_numroc(nn, nb, 0, s->npcol);
  const int64_t evr = 2 + 5 * nk + imax(18 * nn, np0 * mq0 + 2 * nb * nb) +
                      (2 + ceil_div(nk, (int64_t)s->P)) * nn +
                      (12 * imax(nk, s->P + 1) + 2 * nk) / 2;
  return imax(evr, values) + 2048;
}

static int cholesky(sntk_ntk_t *ntk, sntk_dmat_t *L, int *info) {
  const int nk = (int)ntk->nk, one = 1;
  pdpotrf_("L", &nk, L->a, &one, &one, L->desc, info, 1);
  return SNTK_OK;
}

static int cholesky_solve(sntk_ntk_t *ntk, const sntk_dmat_t *L, sntk_dmat_t *B, int *info) {
  const int nk = (int)ntk->nk, one = 1;
  pdpotrs_("L", &nk, &one, L->a, &one, &one, L->desc, B->a, &one, &one, B->desc, info, 1);
  return SNTK_OK;
}

/* PDSYEV: eigenvalues only of ntk->work (destroyed) into w. */
static int values(sntk_ntk_t *ntk, double *w, const char *what) {
  const int nk = (int)ntk->nk, one = 1, query = -1;
  sntk_dmat_t *A = &ntk->work;
  double wq = 0.0, *work = NULL;
  int info = 0, err = SNTK_OK, lwork;
  pdsyev_("N", "L", &nk, A->a, &one, &one, A->desc, w, NULL, &one, &one, A->desc, &wq, &query,
          &info, 1, 1);
  lwork = (int)wq + 16 * (int)ntk->nb + 1024;
  SNTK_TRY(SNTK_ALLOC(work, lwork));
  pdsyev_("N", "L", &nk, A->a, &one, &one, A->desc, w, NULL, &one, &one, A->desc, work, &lwork,
          &info, 1, 1);
  if (info != 0) err = sntk_error(SNTK_ERR_RUNTIME, "PDSYEV failed on %s (info %d)", what, info);
done:
  free(work);
  return sntk_agree(ntk->comm, err);
}

/* PDSYEVD: all eigenpairs of ntk->work into w and Z. */
static int solve_full(sntk_ntk_t *ntk) {
  const int nk = (int)ntk->nk, one = 1, query = -1;
  sntk_dmat_t *A = &ntk->work, *Z = &ntk->Z;
  double wq = 0.0, *work = NULL;
  int iq = 0, info = 0, lwork, liwork, *iwork = NULL, err = SNTK_OK;
  pdsyevd_("V", "L", &nk, A->a, &one, &one, A->desc, ntk->w, Z->a, &one, &one, Z->desc, &wq, &query,
           &iq, &query, &info, 1, 1);
  /* PDSYEVD's query omits PDORMTR's need, which dominates when nb is large against n. */
  const int64_t nb = ntk->nb,
                ormtr = (nb * (nb - 1) / 2 > (A->mloc + A->nloc) * nb ? nb * (nb - 1) / 2
                                                                      : (A->mloc + A->nloc) * nb) +
                        nb * nb + 4 * ntk->nk;
  lwork = (int)wq + (int)ormtr + 1024;
  liwork = iq > 7 * nk + 8 * ntk->grid->npcol + 2 ? iq : 7 * nk + 8 * ntk->grid->npcol + 2;
  SNTK_TRY(SNTK_ALLOC(work, lwork));
  SNTK_TRY(SNTK_ALLOC(iwork, liwork));
  pdsyevd_("V", "L", &nk, A->a, &one, &one, A->desc, ntk->w, Z->a, &one, &one, Z->desc, work,
           &lwork, iwork, &liwork, &info, 1, 1);
  if (info != 0) err = sntk_error(SNTK_ERR_RUNTIME, "PDSYEVD failed (info %d)", info);
done:
  free(work);
  free(iwork);
  return sntk_agree(ntk->comm, err);
}

/* PDSYEVR: eigenpairs il..iu (1-based) of ntk->work into w and the first columns of Z. */
static int solve_range(sntk_ntk_t *ntk, int il, int iu, double *w) {
  const int nk = (int)ntk->nk, one = 1, query = -1;
  const double vl = 0.0, vu = 0.0;
  sntk_dmat_t *A = &ntk->work, *Z = &ntk->Z;
  double wq = 0.0, *work = NULL;
  int iq = 0, info = 0, m = 0, nz = 0, lwork, liwork, *iwork = NULL, err = SNTK_OK;
  const char *range = il == 1 && iu == nk ? "A" : "I";
  pdsyevr_("V", range, "L", &nk, A->a, &one, &one, A->desc, &vl, &vu, &il, &iu, &m, &nz, w, Z->a,
           &one, &one, Z->desc, &wq, &query, &iq, &query, &info, 1, 1, 1);
  lwork = (int)wq + 1024;
  liwork = iq + 1024;
  SNTK_TRY(SNTK_ALLOC(work, lwork));
  SNTK_TRY(SNTK_ALLOC(iwork, liwork));
  pdsyevr_("V", range, "L", &nk, A->a, &one, &one, A->desc, &vl, &vu, &il, &iu, &m, &nz, w, Z->a,
           &one, &one, Z->desc, work, &lwork, iwork, &liwork, &info, 1, 1, 1);
  if (info != 0 || m != iu - il + 1)
    err = sntk_error(SNTK_ERR_RUNTIME, "PDSYEVR failed (info %d, %d of %d eigenpairs)", info, m,
                     iu - il + 1);
done:
  free(work);
  free(iwork);
  return sntk_agree(ntk->comm, err);
}

/* The tridiagonal T = Q^T A Q that PDSYTRD left on the diagonal and first subdiagonal of A:
 * d[0..n) and e[0..n-1) (e[n-1] = 0), global, on every rank. */
static int tridiagonal_of(const sntk_dmat_t *A, double *d, double *e) {
  const int64_t n = A->m;
  memset(d, 0, (size_t)n * sizeof *d);
  memset(e, 0, (size_t)n * sizeof *e);
  for (int64_t lj = 0; lj < A->nloc; lj++) {
    const int64_t gj = sntk_dmat_gcol(A, lj);
    for (int64_t li = 0; li < A->mloc; li++) {
      const int64_t gi = sntk_dmat_grow(A, li);
      if (gi == gj) d[gj] = A->a[lj * A->lld + li];
      if (gi == gj + 1) e[gj] = A->a[lj * A->lld + li];
    }
  }
  SNTK_CALL(sntk_allreduce_sum(d, n, A->grid->comm));
  return sntk_allreduce_sum(e, n, A->grid->comm);
}

/* Not collective. The q smallest and q largest eigenpairs of the tridiagonal (d, e) of order n by
 * bisection and inverse iteration (LAPACK dstevx, two index ranges; vectors of close eigenvalues
 * are reorthogonalised, which keeps a cluster near 0 orthogonal): values into w[0..2q), vectors
 * into the n x 2q column-major V, in the same order. d and e are left unchanged. */
static int tridiagonal_ends(int64_t n, const double *d, const double *e, int64_t q, double *w,
                            double *V) {
  double *dd = NULL, *ee = NULL, *ww = NULL;
  lapack_int *ifail = NULL, m = 0, info = 0;
  int err = SNTK_OK;
  const lapack_int ranges[2][2] = {{1, (lapack_int)q}, {(lapack_int)(n - q + 1), (lapack_int)n}};
  SNTK_TRY(SNTK_ALLOC(dd, n));
  SNTK_TRY(SNTK_ALLOC(ee, n));
  SNTK_TRY(SNTK_ALLOC(ww, n)); /* W is n long whatever the range */
  SNTK_TRY(SNTK_ALLOC(ifail, n));
  for (int r = 0; r < 2 && err == SNTK_OK; r++) {
    memcpy(dd, d, (size_t)n * sizeof *dd);
    memcpy(ee, e, (size_t)n * sizeof *ee);
    info = LAPACKE_dstevx(LAPACK_COL_MAJOR, 'V', 'I', (lapack_int)n, dd, ee, 0.0, 0.0, ranges[r][0],
                          ranges[r][1], 2 * DBL_MIN, &m, ww, V + r * q * n, (lapack_int)n, ifail);
    if (info != 0 || m != q)
      err = sntk_error(SNTK_ERR_RUNTIME, "dstevx failed (info %d, %d of %lld eigenpairs)",
                       (int)info, (int)m, (long long)q);
    memcpy(w + r * q, ww, (size_t)q * sizeof *w);
  }
done:
  free(dd), free(ee), free(ww), free(ifail);
  return err;
}

/* Z(:, 1:nc) = Q Z(:, 1:nc) with Q the orthogonal factor PDSYTRD left in A and tau (PDORMTR). */
static int back_transform(sntk_dmat_t *A, const double *tau, sntk_dmat_t *Z, int nc) {
  const int n = (int)A->m, one = 1, query = -1;
  double wq = 0.0, *work = NULL;
  int info = 0, lwork, err = SNTK_OK;
  pdormtr_("L", "L", "N", &n, &nc, A->a, &one, &one, A->desc, tau, Z->a, &one, &one, Z->desc, &wq,
           &query, &info, 1, 1, 1);
  lwork = (int)wq + 1024;
  SNTK_TRY(SNTK_ALLOC(work, lwork));
  pdormtr_("L", "L", "N", &n, &nc, A->a, &one, &one, A->desc, tau, Z->a, &one, &one, Z->desc, work,
           &lwork, &info, 1, 1, 1);
  if (info != 0) err = sntk_error(SNTK_ERR_RUNTIME, "PDORMTR failed (info %d)", info);
done:
  free(work);
  return sntk_agree(A->grid->comm, err);
}

/* The q smallest and q largest eigenpairs of ntk->work (destroyed) into w[0..2q) and the first 2q
 * columns of Z: one reduction to tridiagonal form (PDSYTRD), the tridiagonal's eigenpairs at both
 * ends (rank 0, broadcast: O(nk q)), one back-transformation of the 2q vectors (PDORMTR).
 * Not PDSYEVR: with RANGE = 'I' it hands PDORMTR a workspace sized from the number of vectors
 * wanted, not from the caller's LWORK; when nb is large against it PDORMTR rejects its LWORK and
 * PDSYEVR still returns info = 0 with the vectors of T, not of A. And two PDSYEVR calls reduce A
 * twice. */
static int solve_extremes(sntk_ntk_t *ntk, int64_t q) {
  const int nk = (int)ntk->nk, one = 1, query = -1;
  const int64_t n = ntk->nk, nloc = ntk->work.nloc > 0 ? ntk->work.nloc : 1;
  sntk_dmat_t *A = &ntk->work, *Z = &ntk->Z;
  double *dl = NULL, *el = NULL, *tau = NULL, *work = NULL, *d = NULL, *e = NULL, *V = NULL, wq = 0;
  int info = 0, lwork, err = SNTK_OK;
  SNTK_TRY(SNTK_ALLOC(dl, nloc));
  SNTK_TRY(SNTK_ALLOC(el, nloc));
  SNTK_TRY(SNTK_ALLOC(tau, nloc));
  SNTK_TRY(SNTK_ALLOC(d, n));
  SNTK_TRY(SNTK_ALLOC(e, n));
  SNTK_TRY(SNTK_ALLOC(V, 2 * q * n));
  pdsytrd_("L", &nk, A->a, &one, &one, A->desc, dl, el, tau, &wq, &query, &info, 1);
  lwork = (int)wq + 1024;
  SNTK_TRY(SNTK_ALLOC(work, lwork));
  pdsytrd_("L", &nk, A->a, &one, &one, A->desc, dl, el, tau, work, &lwork, &info, 1);
  if (info != 0) SNTK_TRY(sntk_error(SNTK_ERR_RUNTIME, "PDSYTRD failed (info %d)", info));
  SNTK_TRY(tridiagonal_of(A, d, e));
  if (ntk->rank == 0) err = tridiagonal_ends(n, d, e, q, ntk->w, V);
done:
  free(work), free(dl), free(el), free(d), free(e);
  work = dl = el = d = e = NULL;
  err = sntk_agree(ntk->comm, err);
  if (err == SNTK_OK) err = SNTK_MPI(MPI_Bcast(ntk->w, (int)(2 * q), MPI_DOUBLE, 0, ntk->comm));
  if (err == SNTK_OK) err = SNTK_MPI(MPI_Bcast(V, (int)(2 * q * n), MPI_DOUBLE, 0, ntk->comm));
  if (err == SNTK_OK) {
    for (int64_t lj = 0; lj < Z->nloc; lj++) {
      const int64_t c = sntk_dmat_gcol(Z, lj);
      if (c >= 2 * q) break;
      for (int64_t li = 0; li < Z->mloc; li++)
        Z->a[lj * Z->lld + li] = V[c * n + sntk_dmat_grow(Z, li)];
    }
    err = back_transform(A, tau, Z, (int)(2 * q));
  }
  free(tau), free(V);
  return err;
}

/* The q smallest and q largest eigenpairs, or all of them (PDSYEVR) when 2q >= nk. */
static int extremes(sntk_ntk_t *ntk, int64_t q, int64_t *neig) {
  if (2 * q >= ntk->nk) {
    *neig = ntk->nk;
    return solve_range(ntk, 1, (int)ntk->nk, ntk->w);
  }
  *neig = 2 * q;
  return solve_extremes(ntk, q);
}

const ntk_solver_ops_t ntk_solver_scalapack = {
    .name = "scalapack",
    .plan = plan,
    .cholesky = cholesky,
    .cholesky_solve = cholesky_solve,
    .values = values,
    .full = solve_full,
    .extremes = extremes,
};
