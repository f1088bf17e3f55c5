/* softntk process grids: the [parallel] section, BLACS process grids on an MPI communicator and
 * block-cyclically distributed matrices (DESIGN.md section 3).
 *
 * A grid is nprow x npcol processes of a communicator in row-major order (rank = row * npcol +
 * col). A distributed matrix (sntk_dmat_t) is the ScaLAPACK 2D block-cyclic layout with mb x nb
 * blocks, the first block on process (0, 0); its local part is column-major with leading dimension
 * lld. Global sizes are int64_t; they are narrowed (checked) to the int ScaLAPACK takes when a
 * descriptor is made. */
#ifndef SOFTNTK_GRID_H
#define SOFTNTK_GRID_H

#include "softntk/config.h"
#include "softntk/scalapack.h"

#include <mpi.h>
#include <stdint.h>

/* [parallel] section. Global. */
typedef struct sntk_parallel_cfg {
  char grid[SNTK_STR]; /* "auto" or "PxQ" (P process rows, Q process columns, P Q = ranks) */
  int64_t nb;          /* block size of the distributed matrices, rows and columns */
  double memory_limit; /* MiB a rank may use; 0: MemAvailable shared by the node's ranks */
  int reproducible;    /* 1: the network's sums do not depend on the rank count (see model.h) */
  int64_t block;       /* neurons per canonical block in reproducible mode; 0: auto */
} sntk_parallel_cfg_t;

extern const sntk_key_t sntk_parallel_keys[];

/* Not collective. Cross-key checks for `nranks` ranks (PxQ must multiply to nranks). */
int sntk_parallel_cfg_check(const sntk_parallel_cfg_t *cfg, int nranks);

/* Not collective. Grid shape for `nranks` ranks from "auto" (the most square P x Q with P <= Q) or
 * "PxQ". SNTK_ERR_INPUT when the text is malformed or P Q != nranks. */
int sntk_grid_shape(const char *spec, int nranks, int *nprow, int *npcol);

/* Collective. Bytes each rank may use: memory_limit when set, else sntk_mem_per_rank (-1 unknown).
 */
int sntk_parallel_memory(MPI_Comm comm, const sntk_parallel_cfg_t *cfg, int64_t *bytes);

typedef struct sntk_grid {
  MPI_Comm comm;    /* the communicator the grid was built on (not owned) */
  int handle, ctxt; /* BLACS system handle (shared by every grid on comm) and context */
  int nprow, npcol; /* global */
  int myrow, mycol; /* local */
} sntk_grid_t;

/* Collective over comm. Build an nprow x npcol grid (nprow npcol = size of comm). */
int sntk_grid_create(MPI_Comm comm, int nprow, int npcol, sntk_grid_t **out);
void sntk_grid_destroy(sntk_grid_t **grid);

/* Not collective. Release BLACS' global state (Cblacs_exit(1), leaving MPI to the caller). Call
 * once, after every grid is destroyed and before MPI_Finalize; harmless when no grid was ever made.
 */
void sntk_grid_finalize(void);

/* Number of rows (or columns) of an n-long dimension in blocks of nb that process p of P owns when
 * block 0 is on process 0 (ScaLAPACK's NUMROC, in 64-bit arithmetic). nb, P >= 1. */
int64_t sntk_numroc(int64_t n, int64_t nb, int p, int P);

/* Global index (0-based) of local index l on process p of P, blocks of nb. */
static inline int64_t sntk_l2g(int64_t l, int64_t nb, int p, int P) {
  return ((l / nb) * P + p) * nb + l % nb;
}

typedef struct sntk_dmat {
  const sntk_grid_t *grid;
  int desc[SNTK_DESC_LEN]; /* ScaLAPACK descriptor */
  int64_t m, n;            /* global rows and columns */
  int64_t mb, nb;          /* block sizes */
  int64_t mloc, nloc, lld; /* local rows, columns, leading dimension (>= max(1, mloc)) */
  double *a;               /* local part, lld x nloc column-major; NULL until sntk_dmat_alloc */
} sntk_dmat_t;

/* Not collective. Describe an m x n matrix in mb x nb blocks on `grid` (no allocation). Runtime
 * error when a size does not fit ScaLAPACK's int or descinit refuses it. */
int sntk_dmat_init(sntk_dmat_t *A, const sntk_grid_t *grid, int64_t m, int64_t n, int64_t mb,
                   int64_t nb);
/* Not collective. Allocate (zeroed, every page touched) / free the local part. */
int sntk_dmat_alloc(sntk_dmat_t *A);
void sntk_dmat_free(sntk_dmat_t *A);
/* Bytes of the local part. */
int64_t sntk_dmat_bytes(const sntk_dmat_t *A);

/* Global row / column of local row li / local column lj. */
static inline int64_t sntk_dmat_grow(const sntk_dmat_t *A, int64_t li) {
  return sntk_l2g(li, A->mb, A->grid->myrow, A->grid->nprow);
}
static inline int64_t sntk_dmat_gcol(const sntk_dmat_t *A, int64_t lj) {
  return sntk_l2g(lj, A->nb, A->grid->mycol, A->grid->npcol);
}

/* Collective. The whole matrix, column-major m x n, on every rank (small matrices: tests, vectors).
 */
int sntk_dmat_gather(const sntk_dmat_t *A, double *global);

/* Not collective. Fill the local part from a column-major m x n array every rank holds. */
void sntk_dmat_scatter(sntk_dmat_t *A, const double *global);

/* Not collective. Copy the local part of B into A (same descriptor shape). */
void sntk_dmat_copy(sntk_dmat_t *A, const sntk_dmat_t *B);

/* Local row of the diagonal entry in local column lj, or -1 when another process row holds it. */
static inline int64_t sntk_dmat_diag_row(const sntk_dmat_t *A, int64_t lj) {
  const int64_t gj = sntk_dmat_gcol(A, lj), blk = gj / A->mb;
  if (gj >= A->m || blk % A->grid->nprow != A->grid->myrow) return -1;
  return (blk / A->grid->nprow) * A->mb + gj % A->mb;
}

/* Not collective. A(i, i) += alpha for i < count, for the diagonal entries this rank holds. */
void sntk_dmat_shift_diag(sntk_dmat_t *A, double alpha, int64_t count);

#endif
