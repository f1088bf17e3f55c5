/* Internals shared by the files of the NTK module (src/ntk): the memory plan, timers, the
 * collective Gram writer and the per-snapshot output layout. Not part of the public API. */
#ifndef SOFTNTK_NTK_IMPL_H
#define SOFTNTK_NTK_IMPL_H

#include "softntk/ntk.h"
#include "softntk/results.h"

#include <stdint.h>

/* Sizes that determine the per-rank memory of an NTK computation. Global. */
typedef struct ntk_shape {
  int64_t n, d, k, m, chunk, holdout;
  int P, nprow, npcol;
  int64_t nb;
  int spectrum;
  int64_t q;
  int limit, keep_init;
  int lean;   /* ntk.memory = lean: no work copy of H */
  int solver; /* ntk.solver: index into ntk_solver_table */
  int gram;   /* SNTK_GRAM_PDSYRK or SNTK_GRAM_REDUCE (ntk_gram_method) */
} ntk_shape_t;

/* Doubles of the lean plan's transpose buffer (the Gram's upper triangle, block columns in rounds)
 * for local matrices of np x nq in blocks of nb: four block columns' largest traffic, at most a
 * local matrix (then 4 or more columns per exchange). */
int64_t ntk_transpose_buffer(int64_t np, int64_t nq, int64_t nb);

/* Collective. ntk.memory = lean: assemble H(W) again after the solvers used it as their work
 * matrix (nothing to do with a work copy). */
int ntk_fresh_H(sntk_ntk_t *ntk);

/* A backend of the NTK's factorisations and spectra (ntk.solver): one file each (solver_<name>.c),
 * registered by one line of solver.c. Each routine is collective over the NTK's grid; the checks,
 * timings and certificates around them are solve.c's. */
typedef struct ntk_solver_ops {
  const char *name;
  /* Not collective. Doubles of workspace the largest rank needs for `shape` (its spectrum, q and
   * grid) with nk = n k: the solver's part of the memory plan (plan.c). */
  int64_t (*plan)(const struct ntk_shape *shape, int64_t nk);
  /* Cholesky factor of L in place (lower triangle); *info as LAPACK's (> 0: not positive
   * definite), the same on every rank after the caller's reduction. */
  int (*cholesky)(sntk_ntk_t *ntk, sntk_dmat_t *L, int *info);
  /* B <- (L L^T)^{-1} B for the factor `cholesky` left in L; *info as LAPACK's. */
  int (*cholesky_solve)(sntk_ntk_t *ntk, const sntk_dmat_t *L, sntk_dmat_t *B, int *info);
  /* ntk.spectrum = values: the eigenvalues of ntk->work (destroyed) into w, ascending. */
  int (*values)(sntk_ntk_t *ntk, double *w, const char *what);
  /* full: all eigenpairs of ntk->work (destroyed) into ntk->w and ntk->Z. */
  int (*full)(sntk_ntk_t *ntk);
  /* extremes: the q smallest and q largest eigenpairs of ntk->work (destroyed) into ntk->w[0..2q)
   * and the first 2q columns of ntk->Z, or all nk of them when 2q >= nk; *neig = how many. */
  int (*extremes)(sntk_ntk_t *ntk, int64_t q, int64_t *neig);
} ntk_solver_ops_t;

/* The backends, indexed by ntk.solver (NULL: auto, or a backend this build lacks); their names
 * (the key's choices) are sntk_ntk_solver_names (ntk.h). */
enum { NTK_SOLVER_AUTO, NTK_SOLVER_SCALAPACK, NTK_SOLVER_ELPA };
extern const ntk_solver_ops_t *const ntk_solver_table[];
extern const ntk_solver_ops_t ntk_solver_scalapack;

/* Not collective. The backend for `shape` (s->solver ignored) and the configured choice cfg: cfg
 * unless auto (solver.c says what auto picks and why); SNTK_ERR_INPUT for a backend not built. */
int ntk_solver_resolve(const struct ntk_shape *shape, int cfg, int *out);
#define ntk_solver(ntk) (ntk_solver_table[(ntk)->cfg.solver])

/* Not collective. The Gram method for `shape` (s->gram ignored) and the configured choice cfg
 * (SNTK_GRAM_*): cfg unless auto; auto picks by the measured crossover in gram.c. One rank: always
 * SNTK_GRAM_PDSYRK (which is then a direct DSYRK). */
int ntk_gram_method(const ntk_shape_t *shape, int cfg);

/* Columns of H per reduction of the reduce method when none is configured (gram.c). */
int64_t ntk_reduce_width(const ntk_shape_t *shape);

/* Bytes the largest rank needs, by item. */
typedef struct ntk_need {
  int64_t nmat;     /* nk x nk matrices */
  int64_t mat;      /* bytes of one nk x nk local part */
  int64_t features; /* U in the 1 x P layout, training and held-out points */
  int64_t panel;    /* pdsyrk: the 2D copy of one neuron panel of U; reduce: the panel buffers */
  int64_t solver;   /* ScaLAPACK workspaces */
  int64_t other;    /* data, model, vectors, scratch, library buffers */
  int64_t total;
} ntk_need_t;

/* Not collective. Bytes for `shape` with neuron panels of `panel` columns (method pdsyrk) or
 * reductions of `panel` columns of H (method reduce). */
void ntk_plan(const ntk_shape_t *shape, int64_t panel, ntk_need_t *need);

/* Not collective. Pick the panel width for `avail` bytes per rank (avail < 0: unknown, take all of
 * U): the configured panel when > 0, else the widest that fits. SNTK_ERR_INPUT naming needed and
 * available bytes and the rank count that would fit when nothing fits. */
int ntk_choose_panel(const ntk_shape_t *shape, int64_t cfg_panel, int64_t avail, int64_t *panel,
                     ntk_need_t *need);

/* h(x_i, x_j) of H* for activation act (DESIGN.md section 2) for the inputs xi, xj of dimension d,
 * given kx = x_i . x_j and the squared norms ni = ||x_i||^2, nj = ||x_j||^2: the activation's
 * `limit` (sntk_act_table; the ReLU entry takes its angle from the vectors themselves, see
 * src/model/act_relu.c: within a few eps of the exact value for every pair, and exactly kx / 2 on
 * the diagonal). */
double ntk_limit_entry(int act, double sigma, const double *xi, const double *xj, int64_t d,
                       double kx, double ni, double nj);

/* Collective. The linearised loss curve of the last full spectrum for the n training points (X, Y),
 * learning rate eta and `steps` steps, written to res /ntk/linearised with the paper's bound. */
int ntk_linearised_write(sntk_ntk_t *ntk, const sntk_dataset_t *train, double eta, int64_t steps,
                         sntk_results_t *res);

/* Collective. Kernel regression on the held-out points `ho` with H (and H* when built); results in
 * res /ntk/regression. With gd_steps > 0 also the kernel gradient-descent predictor: the linearised
 * network after gd_steps steps at learning rate eta. Uses ntk->work; leaves H, Z and the spectrum
 * in ntk->w intact. */
int ntk_regression(sntk_ntk_t *ntk, const sntk_dataset_t *tr, const sntk_dataset_t *ho, double eta,
                   int64_t gd_steps, sntk_results_t *res);

/* Collective. y = A x for the symmetric nk x nk block-cyclic A and a vector x every rank holds; y
 * (nk values) on every rank. */
int ntk_symv(const sntk_dmat_t *A, const double *x, double *y);

/* Collective. Write the symmetric nk x nk matrix H as dataset `name` in group `group` of the HDF5
 * file `path`, which no process may hold open: every rank writes its local blocks through MPI-IO
 * with collective transfers. */
int ntk_write_gram(const sntk_dmat_t *H, const char *path, const char *group, const char *name,
                   const char *description);

/* The /ntk series of a results file. */
typedef struct ntk_series {
  int rows, eig;
  int declared; /* set by ntk_series_declare */
  int64_t neig; /* eigenvalues per snapshot */
} ntk_series_t;

/* Collective. Declare the /ntk series (one row per snapshot, neig eigenvalues) and its attributes.
 */
int ntk_series_declare(sntk_ntk_t *ntk, sntk_results_t *res, int64_t neig, ntk_series_t *s);

/* Not collective. Buffer one snapshot's rows. */
int ntk_series_append(sntk_results_t *res, const ntk_series_t *s, const sntk_ntk_snap_t *snap);

/* Collective. One snapshot of H at `step` (sntk_ntk_snapshot) logged and appended to the /ntk
 * series (declared on first use from the snapshot's size), flushed, and with ntk.save_gram the Gram
 * matrix as /ntk/gram_<step>: the one pipeline of `softntk ntk` and the training tracker. */
int ntk_snapshot_record(sntk_ntk_t *ntk, sntk_results_t *res, ntk_series_t *series, int64_t step);

/* Rank 0 prints one snapshot's summary line. */
void ntk_log_snapshot(const sntk_ntk_t *ntk, const sntk_ntk_snap_t *snap);

#endif
