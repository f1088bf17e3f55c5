/* BLACS process grids, the [parallel] section and block-cyclic matrices (see grid.h). */
#include "softntk/grid.h"

#include "softntk/error.h"
#include "softntk/parallel.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "PxQ" with positive integers; returns 1 and the factors when well formed. */
static int parse_pxq(const char *text, int *p, int *q) {
  char tail;
  long a, b;
  if (sscanf(text, "%ldx%ld%c", &a, &b, &tail) != 2 || a < 1 || b < 1 || a > 1000000 || b > 1000000)
    return 0;
  *p = (int)a;
  *q = (int)b;
  return 1;
}

static int check_grid(const char *text, char *why, size_t len) {
  int p, q;
  if (strcmp(text, "auto") == 0 || parse_pxq(text, &p, &q)) return 0;
  snprintf(why, len, "must be 'auto' or PxQ with positive integers (for example 2x4)");
  return 1;
}

#define OFF(f) offsetof(sntk_parallel_cfg_t, f)
const sntk_key_t sntk_parallel_keys[] = {
    {"grid", SNTK_T_STRING, OFF(grid), "auto", 0, 0, 0, NULL, check_grid,
     "BLACS process grid of the NTK Gram matrix: auto (as square as the rank count allows) or PxQ"},
    {"nb", SNTK_T_INT, OFF(nb), "64", 1, 4096, 0, NULL, NULL,
     "block size of the block-cyclic distribution (rows and columns)"},
    {"memory_limit", SNTK_T_REAL, OFF(memory_limit), "0", 0, INFINITY, 0, NULL, NULL,
     "MiB each rank may use for the NTK; 0: the node's available memory shared by its ranks"},
    {"reproducible", SNTK_T_BOOL, OFF(reproducible), "false", 0, 0, 0, NULL, NULL,
     "true: train, score, eta = auto and the samplers give the same bits on any number of ranks "
     "(canonical neuron blocks, sums in block order; about 2-8 % of the step on the bench shape); "
     "false: rank-local order, results round-off close across rank counts"},
    {"block", SNTK_T_INT, OFF(block), "0", 0, 1e9, 0, NULL, NULL,
     "neurons per canonical block when reproducible; 0: auto (ceil(m / 64), at most 1024)"},
    {NULL}};
#undef OFF

int sntk_grid_shape(const char *spec, int nranks, int *nprow, int *npcol) {
  if (strcmp(spec, "auto") == 0) {
    int p = (int)floor(sqrt((double)nranks));
    while (p > 1 && nranks % p) p--;
    *nprow = p < 1 ? 1 : p;
    *npcol = nranks / *nprow;
    return SNTK_OK;
  }
  int p, q;
  if (!parse_pxq(spec, &p, &q))
    return sntk_error(SNTK_ERR_INPUT,
                      "parallel.grid = '%s' must be 'auto' or PxQ (for example 2x4)", spec);
  if ((int64_t)p * q != nranks)
    return sntk_error(SNTK_ERR_INPUT,
                      "parallel.grid = %s has %lld processes but the run has %d MPI ranks: P x Q "
                      "must equal the rank count (or use auto)",
                      spec, (long long)p * q, nranks);
  *nprow = p;
  *npcol = q;
  return SNTK_OK;
}

int sntk_parallel_cfg_check(const sntk_parallel_cfg_t *cfg, int nranks) {
  int p, q;
  return sntk_grid_shape(cfg->grid, nranks, &p, &q);
}

int sntk_parallel_memory(MPI_Comm comm, const sntk_parallel_cfg_t *cfg, int64_t *bytes) {
  if (cfg->memory_limit > 0) {
    *bytes = (int64_t)(cfg->memory_limit * 1048576.0);
    return SNTK_OK;
  }
  return sntk_mem_per_rank(comm, bytes);
}

static int g_blacs_used = 0;

int sntk_grid_create(MPI_Comm comm, int nprow, int npcol, sntk_grid_t **out) {
  sntk_grid_t *g = NULL;
  int size, err = SNTK_OK;
  *out = NULL;
  MPI_Comm_size(comm, &size);
  if (nprow < 1 || npcol < 1 || (int64_t)nprow * npcol != size)
    return sntk_error(SNTK_ERR_RUNTIME,
                      "grid %dx%d does not match the %d ranks of its communicator", nprow, npcol,
                      size);
  SNTK_TRY(SNTK_ALLOC(g, 1));
  g->comm = comm;
  g_blacs_used = 1;
  g->handle = Csys2blacs_handle(comm);
  g->ctxt = g->handle;
  Cblacs_gridinit(&g->ctxt, "Row", nprow, npcol);
  Cblacs_gridinfo(g->ctxt, &g->nprow, &g->npcol, &g->myrow, &g->mycol);
  if (g->nprow != nprow || g->npcol != npcol || g->myrow < 0 || g->mycol < 0)
    err =
        sntk_error(SNTK_ERR_RUNTIME, "BLACS could not build the %dx%d process grid", nprow, npcol);
done:
  err = sntk_agree(comm, err);
  if (err && g) {
    free(g);
    g = NULL;
  }
  *out = g;
  return err;
}

void sntk_grid_destroy(sntk_grid_t **grid) {
  sntk_grid_t *g = *grid;
  if (!g) return;
  Cblacs_gridexit(g->ctxt);
  free(g);
  *grid = NULL;
}

void sntk_grid_finalize(void) {
  if (g_blacs_used) Cblacs_exit(1);
  g_blacs_used = 0;
}

int64_t sntk_numroc(int64_t n, int64_t nb, int p, int P) {
  int64_t nblocks = n / nb, loc = (nblocks / P) * nb, extra = nblocks % P;
  if (p < extra)
    loc += nb;
  else if (p == extra)
    loc += n % nb;
  return loc;
}

int sntk_dmat_init(sntk_dmat_t *A, const sntk_grid_t *g, int64_t m, int64_t n, int64_t mb,
                   int64_t nb) {
  int im, in, imb, inb, illd, zero = 0, info = 0;
  memset(A, 0, sizeof *A);
  if (m < 0 || n < 0 || mb < 1 || nb < 1)
    return sntk_error(SNTK_ERR_RUNTIME, "distributed matrix %lld x %lld with blocks %lld x %lld",
                      (long long)m, (long long)n, (long long)mb, (long long)nb);
  A->grid = g;
  A->m = m, A->n = n, A->mb = mb, A->nb = nb;
  A->mloc = sntk_numroc(m, mb, g->myrow, g->nprow);
  A->nloc = sntk_numroc(n, nb, g->mycol, g->npcol);
  A->lld = A->mloc > 1 ? A->mloc : 1;
  SNTK_CALL(sntk_narrow(m, "distributed matrix rows", &im));
  SNTK_CALL(sntk_narrow(n, "distributed matrix columns", &in));
  SNTK_CALL(sntk_narrow(mb, "row block size", &imb));
  SNTK_CALL(sntk_narrow(nb, "column block size", &inb));
  SNTK_CALL(sntk_narrow(A->lld, "local leading dimension", &illd));
  descinit_(A->desc, &im, &in, &imb, &inb, &zero, &zero, &g->ctxt, &illd, &info);
  if (info != 0)
    return sntk_error(SNTK_ERR_RUNTIME, "descinit refused a %lld x %lld matrix (info %d)",
                      (long long)m, (long long)n, info);
  return SNTK_OK;
}

int64_t sntk_dmat_bytes(const sntk_dmat_t *A) {
  return A->lld * A->nloc * (int64_t)sizeof(double);
}

int sntk_dmat_alloc(sntk_dmat_t *A) {
  SNTK_CALL(SNTK_ALLOC(A->a, A->lld * A->nloc));
  /* Touch every page now: the memory is committed at allocation (an overcommitted node fails here,
   * not mid-run) and first-touch faults are not charged to the first computation. */
  memset(A->a, 0, (size_t)sntk_dmat_bytes(A));
  return SNTK_OK;
}

void sntk_dmat_free(sntk_dmat_t *A) {
  free(A->a);
  A->a = NULL;
}

void sntk_dmat_scatter(sntk_dmat_t *A, const double *global) {
  for (int64_t lj = 0; lj < A->nloc; lj++) {
    const int64_t gj = sntk_dmat_gcol(A, lj);
    for (int64_t li = 0; li < A->mloc; li++)
      A->a[lj * A->lld + li] = global[gj * A->m + sntk_dmat_grow(A, li)];
  }
}

int sntk_dmat_gather(const sntk_dmat_t *A, double *global) {
  memset(global, 0, (size_t)(A->m * A->n) * sizeof *global);
  for (int64_t lj = 0; lj < A->nloc; lj++) {
    const int64_t gj = sntk_dmat_gcol(A, lj);
    for (int64_t li = 0; li < A->mloc; li++)
      global[gj * A->m + sntk_dmat_grow(A, li)] = A->a[lj * A->lld + li];
  }
  return sntk_allreduce_sum(global, A->m * A->n, A->grid->comm);
}

void sntk_dmat_copy(sntk_dmat_t *A, const sntk_dmat_t *B) {
  if (A->a == B->a) return; /* one matrix under two names (the NTK's lean plan) */
  memcpy(A->a, B->a, (size_t)(A->lld * A->nloc) * sizeof *A->a);
}

void sntk_dmat_shift_diag(sntk_dmat_t *A, double alpha, int64_t count) {
  for (int64_t lj = 0; lj < A->nloc; lj++) {
    const int64_t li = sntk_dmat_diag_row(A, lj);
    if (li >= 0 && sntk_dmat_gcol(A, lj) < count) A->a[lj * A->lld + li] += alpha;
  }
}
