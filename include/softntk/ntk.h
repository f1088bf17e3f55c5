/* softntk NTK: the normalised empirical Neural Tangent Kernel H = nu J J^T / gamma^2 of the sharded
 * network and its infinite-width limit H*, assembled block-cyclically on a BLACS grid, and what the
 * theory asks of them: spectrum, positive-definiteness certificate and log-determinant, kernel
 * regression, the linearised loss curve, and distances ||H(t) - H(0)||, ||H(t) - H*|| (DESIGN.md
 * sections 2 and 3).
 *
 * Rows and columns of H are indexed (i, l) -> i k + l (sample i, output l). The Jacobian is never
 * formed: H = nu (K_X (x) 1 1^T) o (U U^T) with U (nk x m) the scale-free features, each rank's
 * neuron block redistributed by PDGEMR2D from a 1 x P layout into the 2D grid, PDSYRK in neuron
 * panels, and the Hadamard factor x_i . x_j computed locally. Every factorisation and eigen-solve
 * is followed by an HPL-style scaled residual printed with PASSED/FAILED; failures are counted and
 * make the command's exit status 1. Before anything large is allocated the per-rank memory is
 * planned and a problem that does not fit is refused (SNTK_ERR_INPUT) with the needed and available
 * bytes and a rank count that would fit. */
#ifndef SOFTNTK_NTK_H
#define SOFTNTK_NTK_H

#include "softntk/config.h"
#include "softntk/data.h"
#include "softntk/grid.h"
#include "softntk/model.h"

#include <mpi.h>
#include <stdint.h>

enum { SNTK_SPECTRUM_FULL = 0, SNTK_SPECTRUM_VALUES = 1, SNTK_SPECTRUM_EXTREMES = 2 };

/* How the Gram U U^T is formed on more than one rank (gram.c): chosen per shape, PDGEMR2D of neuron
 * panels onto the grid and PDSYRK there, or a local DSYRK of each rank's own neurons reduced into
 * the block-cyclic layout panel by panel. */
enum { SNTK_GRAM_AUTO = 0, SNTK_GRAM_PDSYRK = 1, SNTK_GRAM_REDUCE = 2 };

/* [ntk] section. Global. */
typedef struct sntk_ntk_cfg {
  int64_t every; /* `softntk train`: a snapshot every this many steps (0: off) */
  int spectrum;  /* SNTK_SPECTRUM_*: all eigenpairs, eigenvalues only, or q at each end */
  int solver;    /* backend of the spectra (src/ntk/solver.c: 0 auto, 1 scalapack, 2 elpa) */
  int64_t q;     /* extremes: q smallest and q largest eigenpairs */
  int limit;     /* also build H* and compare with it */
  int save_gram; /* write the Gram matrix /ntk/gram_<step> (collectively) */
  double ridge;  /* kernel regression solves (H + ridge I) alpha = y - F(0) */
  int gd;        /* kernel regression also by gradient descent on the kernel (the linearised net) */
  int64_t holdout;  /* `softntk ntk`: held-out points (after the n training points) to predict */
  int64_t panel;    /* neurons per PDSYRK panel (0: as many as memory allows) */
  int gram;         /* SNTK_GRAM_*: how U U^T reaches the grid on more than one rank */
  int memory;       /* SNTK_NTK_MEMORY_*: a work copy of H, or H alone and rebuilt when needed */
  double threshold; /* scaled residuals above this FAIL (HPL's 16) */
  int perturb;      /* `softntk ntk`: the perturbation analysis into /perturb (softntk/perturb.h) */
  char perturb_radii[SNTK_STR]; /* finite radii R, comma-separated */
  int64_t perturb_iters;        /* steps of the worst-direction iteration */
  int64_t perturb_gd_steps;     /* gradient-descent steps of the GD-like direction */
} sntk_ntk_cfg_t;

extern const sntk_key_t sntk_ntk_keys[];
extern const char *const sntk_spectrum_names[];
extern const char *const sntk_gram_names[];
/* ntk.memory: copy holds H and a work copy the factorisations destroy; lean holds H alone, the
 * factorisations and solvers work in H itself and H is assembled again where it is needed after one
 * (eigenvalues only, no held-out points); auto is copy where it fits, else lean where allowed. */
enum { SNTK_NTK_MEMORY_AUTO = 0, SNTK_NTK_MEMORY_COPY = 1, SNTK_NTK_MEMORY_LEAN = 2 };
extern const char *const sntk_ntk_memory_names[];
/* ntk.solver's choices: auto, then the backends (src/ntk/solver.c), NULL-terminated. */
extern const char *const sntk_ntk_solver_names[];

/* One snapshot of the NTK (global values, identical on every rank). NaN marks what was not
 * computed. */
typedef struct sntk_ntk_snap {
  int64_t step;
  int positive_definite;         /* PDPOTRF succeeded */
  double logdet;                 /* log det H (NaN unless positive definite) */
  double lambda_min, lambda_max; /* of H */
  int64_t neig;                  /* eigenvalues in eig: nk, or 2q for extremes */
  const double *eig;             /* ascending; extremes: q smallest then q largest (owned by ntk) */
  double diff_init_fro, diff_init_spec;   /* ||H - H(0)||_F, ||H - H(0)||_2 */
  double diff_limit_fro, diff_limit_spec; /* ||H - H*||_F, ||H - H*||_2 */
  double norm_fro;                        /* ||H||_F */
} sntk_ntk_snap_t;

/* The NTK context: grids, the planned matrices and the check tally. Matrices are allocated once. */
typedef struct sntk_ntk {
  /* global */
  MPI_Comm comm;
  int rank, size;
  sntk_ntk_cfg_t cfg;
  sntk_model_t *model; /* borrowed: its current W defines H */
  const double *X;     /* borrowed: n x d training inputs */
  int64_t n, d, k, nk;
  int64_t mb;              /* neurons per rank in the padded 1 x P layout of U (ceil(m / P)) */
  int64_t panel;           /* neurons per PDSYRK panel (pdsyrk), columns of H per reduction */
  int gram;                /* SNTK_GRAM_PDSYRK or SNTK_GRAM_REDUCE: the method in use */
  int64_t nb;              /* block size */
  int keep_init;           /* H0 = H(W0) is kept for ||H - H(0)|| */
  int lean;                /* ntk.memory resolved to lean: work is H itself (not a copy) */
  sntk_grid_t *grid, *row; /* the 2D grid of H; the 1 x P grid of U */
  /* distributed matrices (nk x nk unless noted) */
  sntk_dmat_t H;     /* H(W) */
  sntk_dmat_t H0;    /* H(W0) when keep_init */
  sntk_dmat_t Hstar; /* H* when cfg.limit */
  sntk_dmat_t work;  /* factorisations and solver input (destroyed by them); lean: H */
  sntk_dmat_t Z;     /* eigenvectors (full and extremes) */
  sntk_dmat_t U1;    /* nk x P mb on the 1 x P grid: this rank's features, zero padded */
  sntk_dmat_t U2;    /* nk x panel on the 2D grid (pdsyrk only) */
  double *w;         /* nk eigenvalues of the last spectrum (global) */
  double *w2;        /* nk eigenvalues of the last distance (global) */
  double *tbuf;      /* lean, P > 1: the Gram transpose's buffer (tbuf_len doubles) */
  int64_t tbuf_len;
  int64_t mem_need, mem_avail; /* planned bytes per rank (largest rank), available (-1 unknown) */
  /* check tally */
  int checks, failures;
  double worst; /* largest scaled residual checked so far */
  /* time of the phases of the last assembly and solves, seconds (max over ranks) */
  double t_features, t_redist, t_syrk, t_hadamard, t_chol, t_eig;
} sntk_ntk_t;

/* What an sntk_ntk_t must hold beyond H and its work matrix. */
enum {
  SNTK_NTK_KEEP_INIT = 1u << 0, /* H0 = H(W0) for ||H(t) - H(0)|| */
  SNTK_NTK_LEAN_OK = 1u << 1    /* the caller only takes snapshots and the analysis of
                                 * sntk_ntk_analyse: ntk.memory = lean is allowed */
};

/* Collective. *same = 1 when the model's W equals W0 on every rank (weights at initialisation). */
int sntk_ntk_at_init(const sntk_model_t *model, int *same);

/* Collective. Plan and allocate the NTK of `model` on the training inputs X (n x d): grids from
 * par, memory plan (refused with SNTK_ERR_INPUT naming needed and available bytes per rank and a
 * rank count that fits), matrices; H* is assembled here when cfg->limit, H0 when flags has
 * KEEP_INIT. `holdout` held-out points are counted in the plan. The model and X must outlive the
 * context. */
int sntk_ntk_create(const sntk_ntk_cfg_t *cfg, const sntk_parallel_cfg_t *par, sntk_model_t *model,
                    const double *X, int64_t n, int64_t holdout, unsigned flags, sntk_ntk_t **out);
void sntk_ntk_destroy(sntk_ntk_t **ntk);

/* Collective. Assemble H(W) for the weights W (m_loc x d on each rank, e.g. model->W or model->W0)
 * into the nk x nk matrix H (both triangles). */
int sntk_ntk_assemble(sntk_ntk_t *ntk, const double *W, sntk_dmat_t *H);

/* Collective (no communication). The infinite-width H* of the model's activation and sigma into H.
 */
int sntk_ntk_assemble_limit(sntk_ntk_t *ntk, sntk_dmat_t *H);

/* Collective. Cholesky of A + shift I into ntk->work: *pd = 1 and *logdet on success; *pd = 0 and a
 * message when A + shift I is not positive definite (not an error). On success a solve with a
 * random right-hand side is checked (HPL scaled residual). */
int sntk_ntk_cholesky(sntk_ntk_t *ntk, const sntk_dmat_t *A, double shift, int *pd, double *logdet);

/* Collective. After a successful sntk_ntk_cholesky of A + shift I: x = (A + shift I)^{-1} b for a
 * vector b of nk values every rank holds; x on every rank; the solve's scaled residual is checked.
 */
int sntk_ntk_solve(sntk_ntk_t *ntk, const sntk_dmat_t *A, double shift, const double *b, double *x,
                   const char *what);

/* Not collective. 1 when eigen-solver backend `solver` (an index of sntk_ntk_solver_names, not
 * auto) is built and can run ntk's matrix (ELPA needs a block on every process row and column):
 * setting ntk->cfg.solver to it then switches backends between calls. */
int sntk_ntk_solver_usable(const sntk_ntk_t *ntk, int solver);

/* Collective. Spectrum of A as configured (kind SNTK_SPECTRUM_*, q for extremes): eigenvalues into
 * ntk->w (ascending; extremes: q smallest then q largest), eigenvectors into ntk->Z for full and
 * extremes; scaled residuals checked. *neig receives the number of eigenvalues. */
int sntk_ntk_eigen(sntk_ntk_t *ntk, const sntk_dmat_t *A, int kind, int64_t q, int64_t *neig,
                   const char *what);

/* Collective. ||A - B||_F and ||A - B||_2 (the latter from the eigenvalues of A - B; checked). */
int sntk_ntk_distance(sntk_ntk_t *ntk, const sntk_dmat_t *A, const sntk_dmat_t *B, double *fro,
                      double *spec, const char *what);

/* Collective. Snapshot of H at the model's current W: assemble, Cholesky, spectrum, distances to H0
 * (when kept) and H* (when built). */
int sntk_ntk_snapshot(sntk_ntk_t *ntk, int64_t step, sntk_ntk_snap_t *snap);

/* Collective. Linearised loss curve from the full spectrum of the last snapshot (ntk->w, ntk->Z):
 * loss[t] = 1/2 sum_q (1 - eta D_q)^{2t} <q_q, r0>^2, t = 0..steps, with D = (gamma^2 / nu)
 * lambda(H) the eigenvalues of J J^T and r0 = F(W) - Y (nk values on every rank). */
int sntk_ntk_linearised(sntk_ntk_t *ntk, const double *r0, double eta, int64_t steps, double *loss);

/* Not collective. The infinite-width kernel h(x, y) of H* (DESIGN.md section 2) for activation act
 * (SNTK_ACT_*) and initialisation scale sigma, at inputs x, y of dimension d: H*_{(i,l1),(j,l2)} =
 * delta_{l1 l2} h(x_i, x_j). */
double sntk_ntk_limit_kernel(int act, double sigma, const double *x, const double *y, int64_t d);

/* Not collective. Record one scaled residual against cfg.threshold: prints the HPL-style line
 * (rank 0) and counts a failure. Returns 1 when it passed. */
int sntk_ntk_check(sntk_ntk_t *ntk, const char *what, const char *formula, double value);

struct sntk_results;

/* Collective. The perturbation analysis of ntk.perturb (softntk/perturb.h) at the model's current
 * weights W on the n training points `train` (k = 1): H(W); the worst direction (a lower bound on
 * the supremum) from two starts, and the random, common-shift, GD-like (the displacement of
 * ntk.perturb_gd_steps gradient-descent steps at eta, with its R and ||H(T) - H(0)||),
 * top-eigenvector-aligned and boundary directions; ||dH[Delta]|| to first order and ||H(W + R
 * Delta)
 * - H(W)|| at every radius of ntk.perturb_radii; the explicit bound; the common shift's prediction
 * (softmax: H unchanged; exp: H_ij e^{R v.(x_i + x_j)}). Everything into res /perturb; the model's
 * W is restored. */
int sntk_ntk_perturb(const sntk_ntk_cfg_t *cfg, sntk_model_t *model, const sntk_dataset_t *train,
                     double eta, uint64_t seed, struct sntk_results *res);
struct sntk_results;

/* Collective. The analysis behind `softntk ntk` for an NTK context whose model already holds its
 * weights: W, and W0 for ||H - H(0)|| (create the context with SNTK_NTK_KEEP_INIT when W != W0; a
 * checkpoint loader fills both). `train` are the n training points the context was made for, `hold`
 * the held-out points (n = 0: none), `step` the training step of W. Snapshot, kernel regression
 * (with cfg.gd also the kernel gradient-descent predictor after `gd_steps` steps at learning rate
 * eta), linearised loss curve of lin_steps steps at eta (spectrum = full), spectrum of H*, Gram
 * matrices; everything into res /ntk.
 * SNTK_ERR_RUNTIME when a check FAILED. */
int sntk_ntk_analyse(sntk_ntk_t *ntk, double eta, int64_t lin_steps, const sntk_dataset_t *train,
                     const sntk_dataset_t *hold, int64_t step, int64_t gd_steps,
                     struct sntk_results *res);

/* The NTK tracker of `softntk train` ([ntk] every = N). */
typedef struct sntk_ntk_tracker sntk_ntk_tracker_t;

/* Collective. NULL in *out when cfg->every = 0. Plans (and may refuse) before training starts;
 * `steps` is the length of the run (the linearised loss curve's). */
int sntk_ntk_tracker_create(const sntk_ntk_cfg_t *cfg, const sntk_parallel_cfg_t *par,
                            int64_t steps, sntk_model_t *model, const sntk_dataset_t *ds,
                            sntk_ntk_tracker_t **out);
/* Not collective. The run's learning rate, for the linearised loss curve (before the first step).
 * Safe on NULL. */
void sntk_ntk_tracker_set_eta(sntk_ntk_tracker_t *trk, double eta);
/* Collective. At step t (a no-op unless t % every == 0): snapshot, rows appended to res /ntk, and
 * at t = 0 with spectrum = full the linearised loss prediction /ntk/linearised. */
int sntk_ntk_tracker_step(sntk_ntk_tracker_t *trk, struct sntk_results *res, int64_t t);
/* Collective. Declare the /ntk series in a new or resumed results file (safe on NULL). */
int sntk_ntk_tracker_open(sntk_ntk_tracker_t *trk, struct sntk_results *res);
/* Collective. Summary line; SNTK_ERR_RUNTIME when any check FAILED during training. Safe on NULL.
 */
int sntk_ntk_tracker_finish(sntk_ntk_tracker_t *trk);
void sntk_ntk_tracker_destroy(sntk_ntk_tracker_t **trk);

#endif
