/* The ELPA backend of the NTK's spectra (ntk_solver_ops_t, ntk_impl.h): ELPA's two-stage solver
 * (dense -> band by BLAS-3, band -> tridiagonal, divide and conquer, back-transformations) on the
 * same block-cyclic matrices as ScaLAPACK. The one-stage reduction of PDSYEV/PDSYEVD/PDSYTRD is
 * half memory-bound BLAS-2 and dominates every ScaLAPACK spectrum; the two-stage one is not.
 *
 * - values: all eigenvalues (nev = nk); ELPA allocates and fills an eigenvector-sized local array
 *   even then (it is its back-transformation's target), counted by plan().
 * - full: all eigenpairs into ntk->Z, by ELPA's one-stage solver: with the generic kernels of
 *   Debian's build the two-stage back-transformation of all nk vectors measured 3-4x slower than
 *   PDSYEVD (2 ranks, nk = 3000: 9.7-19.6 s against 2.5-6.7 s, on a loaded machine), the
 *   one-stage solver about level with it.
 * - extremes: ELPA returns the nev smallest eigenpairs only, so the q smallest come from A and the
 * q largest from -A: two reductions, against one PDSYTRD for ScaLAPACK (which then measures faster:
 * see ntk_solver_auto in solver.c). The copy of -A is the workspace plan() counts.
 * - Cholesky and its solve: ScaLAPACK's PDPOTRF/PDPOTRS (BLAS-3 already; ELPA's Cholesky returns
 *   the upper factor and no leading-minor index when the matrix is not positive definite).
 *
 * ELPA wants the whole symmetric matrix (both triangles; ntk->work is a copy of the symmetric H),
 * square blocks, the local leading dimension equal to the local row count (sntk_dmat_t's lld, which
 * is max(1, mloc)), and the process grid as its row and column coordinates over the parent
 * communicator. It is built here against Debian's ELPA 2022.11 (generic kernels, no OpenMP).
 *
 * Tuning, measured for eigenvalues on 2 ranks (otherwise idle machine): at nk = 4096 the four
 * generic band kernels (GENERIC, GENERIC_SIMPLE, GENERIC_SIMPLE_BLOCK4/6) took 4.05-4.14 s alike,
 * intermediate_bandwidth 128 4.50 s; at nk = 8192 nb 32 20.7 s, nb 64 18.8-23.4 s, nb 128 23.3 s,
 * the 2x1 grid 17.6-18.2 s against 1x2's 18.8-21.7 s, the QR band reduction 19.1 s (and a failure
 * on 2x1). Nothing beyond the run-to-run spread, so ELPA's defaults and softntk's grid are kept. */
#include "ntk_impl.h"

#include "softntk/error.h"
#include "softntk/scalapack.h"

#include <elpa/elpa.h>
#include <stdlib.h>
#include <string.h>

/* ELPA's library state: elpa_init once per process (it only checks the API version). */
static int elpa_ready(void) {
  static int ready = 0;
  if (!ready && elpa_init(ELPA_API_VERSION) != ELPA_OK)
    return sntk_error(SNTK_ERR_RUNTIME, "ELPA does not support API version %d", ELPA_API_VERSION);
  ready = 1;
  return SNTK_OK;
}

/* Collective. An ELPA handle for the matrix A (ntk's grid and blocks) with nev eigenpairs wanted,
 * set up for ELPA's solver `stage` (ELPA_SOLVER_1STAGE or ELPA_SOLVER_2STAGE). */
static int handle_for(const sntk_ntk_t *ntk, const sntk_dmat_t *A, int64_t nev, int stage,
                      elpa_t *out) {
  int e = ELPA_OK, err = SNTK_OK;
  *out = NULL;
  err = elpa_ready();
  elpa_t h = err ? NULL : elpa_allocate(&e);
  if (!err && (h == NULL || e != ELPA_OK))
    err = sntk_error(SNTK_ERR_RUNTIME, "elpa_allocate failed: %s", elpa_strerr(e));
  SNTK_CALL(sntk_agree(ntk->comm, err));
  const struct {
    const char *key;
    int value;
  } keys[] = {{"na", (int)A->m},
              {"nev", (int)nev},
              {"local_nrows", (int)A->mloc},
              {"local_ncols", (int)A->nloc},
              {"nblk", (int)A->mb},
              {"mpi_comm_parent", (int)MPI_Comm_c2f(ntk->comm)},
              {"process_row", A->grid->myrow},
              {"process_col", A->grid->mycol}};
  for (size_t i = 0; i < sizeof keys / sizeof keys[0] && !err; i++) {
    elpa_set_integer(h, keys[i].key, keys[i].value, &e);
    if (e != ELPA_OK)
      err = sntk_error(SNTK_ERR_RUNTIME, "ELPA refused %s = %d: %s", keys[i].key, keys[i].value,
                       elpa_strerr(e));
  }
  if (!err && (e = elpa_setup(h)) != ELPA_OK)
    err = sntk_error(SNTK_ERR_RUNTIME, "elpa_setup failed: %s", elpa_strerr(e));
  if (!err) {
    elpa_set_integer(h, "solver", stage, &e);
    if (e != ELPA_OK)
      err = sntk_error(SNTK_ERR_RUNTIME, "ELPA refused its solver %d: %s", stage, elpa_strerr(e));
  }
  err = sntk_agree(ntk->comm, err);
  if (err && h) elpa_deallocate(h, &e);
  if (!err) *out = h;
  return err;
}

/* Collective. The nev smallest eigenvalues of A (destroyed) into w and, when Q is not NULL, their
 * eigenvectors into Q's first nev columns; Q NULL: eigenvalues only. w has nk entries whatever nev
 * (ELPA writes all the tridiagonal's eigenvalues there). */
static int elpa_solve(sntk_ntk_t *ntk, sntk_dmat_t *A, int64_t nev, double *w, sntk_dmat_t *Q,
                      const char *what) {
  elpa_t h = NULL;
  int e = ELPA_OK, err = SNTK_OK;
  /* all eigenpairs: one stage (see the file's comment); else two */
  const int stage = Q && nev == A->m ? ELPA_SOLVER_1STAGE : ELPA_SOLVER_2STAGE;
  SNTK_CALL(handle_for(ntk, A, nev, stage, &h));
  if (A->mb != A->nb || (A->mloc > 0 && A->lld != A->mloc))
    err = sntk_error(SNTK_ERR_RUNTIME, "ELPA needs square blocks and lld = local rows");
  else if (Q)
    elpa_eigenvectors_a_h_a_d(h, A->a, w, Q->a, &e);
  else
    elpa_eigenvalues_a_h_a_d(h, A->a, w, &e);
  if (!err && e != ELPA_OK)
    err = sntk_error(SNTK_ERR_RUNTIME, "ELPA's %s solver failed on %s: %s",
                     stage == ELPA_SOLVER_1STAGE ? "one-stage" : "two-stage", what, elpa_strerr(e));
  elpa_deallocate(h, &e);
  return sntk_agree(ntk->comm, err);
}

/* Doubles of workspace beyond H, ntk->work and ntk->Z, from ELPA's measured peaks (maximum resident
 * memory per rank of `softntk ntk`, 2 ranks, grid 1x2, nb 64): for eigenvalues, nk = 12288 (local
 * matrices of 0.56 GiB) peaks at 2.81 GiB with ntk.memory = lean and 3.30 GiB with copy, ELPA's
 * part 2.0 GiB = 3.6 local matrices; at nk = 26368 (2.59 GiB) a lean run planned with 3 local
 * matrices + 512 MiB was killed for want of memory in ELPA's last stage at 11.8 GiB (ELPA >= 3.4
 * local matrices). ELPA allocates the eigenvector-sized q_dummy even for eigenvalues (its divide
 * and conquer computes the tridiagonal's vectors) and the merge steps' column buffers beside it.
 * Bounded here by 3.75 local matrices + 256 MiB. All eigenpairs (one stage) add 0.43 GiB at 8192,
 * bounded by 2 local matrices + 64 MiB; the extremes run the two-stage solver with the copy of -A
 * beside it: 4 local matrices + 64 MiB. */
static int64_t plan(const ntk_shape_t *s, int64_t nk) {
  const int64_t np = sntk_numroc(nk, s->nb, 0, s->nprow), nq = sntk_numroc(nk, s->nb, 0, s->npcol);
  const int64_t mib = ((int64_t)1 << 20) / (int64_t)sizeof(double);
  if (s->spectrum == SNTK_SPECTRUM_FULL) return 2 * np * nq + 64 * mib;
  if (s->spectrum == SNTK_SPECTRUM_EXTREMES) return 4 * np * nq + 64 * mib;
  return 15 * np * nq / 4 + 256 * mib;
}

static int values(sntk_ntk_t *ntk, double *w, const char *what) {
  return elpa_solve(ntk, &ntk->work, ntk->nk, w, NULL, what);
}

static int solve_full(sntk_ntk_t *ntk) {
  return elpa_solve(ntk, &ntk->work, ntk->nk, ntk->w, &ntk->Z, "the full spectrum");
}

/* The q smallest eigenpairs of A into w[0..q) and Z's first q columns; the q largest, from the q
 * smallest of -A (a copy), into w[q..2q) and columns q..2q-1, ascending like ScaLAPACK's. */
static int extremes(sntk_ntk_t *ntk, int64_t q, int64_t *neig) {
  sntk_dmat_t *A = &ntk->work, *Z = &ntk->Z, N = *A;
  const int nk = (int)ntk->nk, one = 1;
  double *ev = NULL;
  int err = SNTK_OK;
  if (2 * q >= ntk->nk) {
    *neig = ntk->nk;
    return solve_full(ntk);
  }
  *neig = 2 * q;
  N.a = NULL;
  err = sntk_dmat_alloc(&N);
  if (!err) err = SNTK_ALLOC(ev, ntk->nk);
  SNTK_TRY(sntk_agree(ntk->comm, err));
  const int64_t len = A->lld * A->nloc;
  for (int64_t i = 0; i < len; i++) N.a[i] = -A->a[i];
  SNTK_TRY(elpa_solve(ntk, A, q, ntk->w, Z, "the smallest eigenpairs"));
  SNTK_TRY(elpa_solve(ntk, &N, q, ev, A, "the largest eigenpairs"));
  /* -A's j-th smallest is A's j-th largest: reversed and negated into ascending order */
  for (int64_t j = 0; j < q; j++) ntk->w[q + j] = -ev[q - 1 - j];
  for (int64_t j = 0; j < q; j++) {
    const int src = (int)(j + 1), dst = (int)(2 * q - j);
    pdgemr2d_(&nk, &one, A->a, &one, &src, A->desc, Z->a, &one, &dst, Z->desc, &ntk->grid->ctxt);
  }
done:
  sntk_dmat_free(&N);
  free(ev);
  return sntk_agree(ntk->comm, err);
}

static int cholesky(sntk_ntk_t *ntk, sntk_dmat_t *L, int *info) {
  return ntk_solver_scalapack.cholesky(ntk, L, info);
}

static int cholesky_solve(sntk_ntk_t *ntk, const sntk_dmat_t *L, sntk_dmat_t *B, int *info) {
  return ntk_solver_scalapack.cholesky_solve(ntk, L, B, info);
}

const ntk_solver_ops_t ntk_solver_elpa = {
    .name = "elpa",
    .plan = plan,
    .cholesky = cholesky,
    .cholesky_solve = cholesky_solve,
    .values = values,
    .full = solve_full,
    .extremes = extremes,
};
