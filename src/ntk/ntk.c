/* The NTK context: the [ntk] section, creation (grids, memory plan, matrices), snapshots and the
 * /ntk series layout shared by `softntk ntk` and the training tracker (see ntk.h). */
#include "ntk_impl.h"

#include "softntk/error.h"
#include "softntk/log.h"
#include "softntk/parallel.h"
#include "softntk/perturb.h"
#include <stdio.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *const sntk_spectrum_names[] = {"full", "values", "extremes", NULL};
const char *const sntk_gram_names[] = {"auto", "pdsyrk", "reduce", NULL};
const char *const sntk_ntk_memory_names[] = {"auto", "copy", "lean", NULL};

static int check_radii(const char *text, char *why, size_t len) {
  double R[SNTK_PERTURB_MAX_RADII];
  int c;
  if (sntk_perturb_parse_radii(text, SNTK_PERTURB_MAX_RADII, R, &c) == SNTK_OK) return 0;
  snprintf(why, len, "%s", sntk_error_message());
  sntk_error_clear();
  return 1;
}

#define OFF(f) offsetof(sntk_ntk_cfg_t, f)
const sntk_key_t sntk_ntk_keys[] = {
    {"every", SNTK_T_INT, OFF(every), "0", 0, 9e15, 0, NULL, NULL,
     "softntk train: an NTK snapshot every this many steps, into results.h5 /ntk (0: off)"},
    {"spectrum", SNTK_T_CHOICE, OFF(spectrum), "values", 0, 0, 0, sntk_spectrum_names, NULL,
     "full: all eigenpairs (PDSYEVD) and the linearised loss curve; values: eigenvalues only "
     "(PDSYEV); extremes: the q smallest and q largest eigenpairs (PDSYTRD, dstevx, PDORMTR)"},
    {"solver", SNTK_T_CHOICE, OFF(solver), "auto", 0, 0, 0, sntk_ntk_solver_names, NULL,
     "backend of the spectra (one file each in src/ntk): scalapack (PDSYEV, PDSYEVD, PDSYTRD), "
     "elpa (ELPA's two-stage solver, if built with it), or auto (chosen per shape, see "
     "src/ntk/solver.c); the Cholesky factorisation is ScaLAPACK's in both"},
    {"q", SNTK_T_INT, OFF(q), "8", 1, 1e9, 0, NULL, NULL,
     "spectrum = extremes: eigenpairs taken at each end of the spectrum"},
    {"limit", SNTK_T_BOOL, OFF(limit), "true", 0, 0, 0, NULL, NULL,
     "also build the infinite-width kernel H* and measure ||H - H*|| and its spectrum"},
    {"save_gram", SNTK_T_BOOL, OFF(save_gram), "false", 0, 0, 0, NULL, NULL,
     "write H as /ntk/gram_<step> (collectively, parallel HDF5); nk^2 doubles each"},
    {"ridge", SNTK_T_REAL, OFF(ridge), "0", 0, INFINITY, 0, NULL, NULL,
     "kernel regression solves (H + ridge I) alpha = y - F(x) (H is normalised: O(1) entries)"},
    {"gd", SNTK_T_BOOL, OFF(gd), "false", 0, 0, 0, NULL, NULL,
     "kernel regression on held-out points also by gradient descent on the kernel: the linearised "
     "network's predictions after train.steps steps at train.eta (softntk score: the trained "
     "step), the infinite-width limit of the trained network"},
    {"holdout", SNTK_T_INT, OFF(holdout), "0", 0, 1e9, 0, NULL, NULL,
     "softntk ntk: held-out points (generated after the n training points, or the file's next "
     "rows) predicted by kernel regression"},
    {"panel", SNTK_T_INT, OFF(panel), "0", 0, 1e12, 0, NULL, NULL,
     "neurons per PDSYRK panel of U U^T; 0: as many as memory allows"},
    {"gram", SNTK_T_CHOICE, OFF(gram), "auto", 0, 0, 0, sntk_gram_names, NULL,
     "how U U^T is formed on more than one rank: pdsyrk (neuron panels moved onto the grid by "
     "PDGEMR2D, PDSYRK there), reduce (each rank's DSYRK of its own neurons, reduce-scattered "
     "into the grid panel by panel), or auto (chosen per shape, see gram.c)"},
    {"memory", SNTK_T_CHOICE, OFF(memory), "auto", 0, 0, 0, sntk_ntk_memory_names, NULL,
     "copy: H and a work copy of it, which the Cholesky factorisation and the eigen-solver "
     "destroy; lean: H alone, factorised and solved in place, its Gram assembled again after the "
     "Cholesky (and for ||H - H(0)||, ||H - H*|| and save_gram): one nk x nk matrix less for one "
     "or more extra Gram assemblies (spectrum = values, no holdout, not with softntk score); "
     "auto: copy when it fits the memory plan, else lean where allowed"},
    {"threshold", SNTK_T_REAL, OFF(threshold), "16", 0, INFINITY, SNTK_KEY_MIN_OPEN, NULL, NULL,
     "scaled residuals at or above this FAIL (HPL's threshold); a FAILED check exits 1"},
    {"perturb", SNTK_T_BOOL, OFF(perturb), "false", 0, 0, 0, NULL, NULL,
     "softntk ntk (k = 1): how H moves under perturbations W + R Delta with ||Delta_r|| <= 1 per "
     "neuron: first-order map dH[Delta], a worst direction by power iteration (a lower bound on "
     "the supremum), random, common-shift, GD-like, top-eigenvector and boundary directions, "
     "finite radii and the explicit bound, into ntk.h5 /perturb"},
    {"perturb_radii", SNTK_T_STRING, OFF(perturb_radii), "1e-4,1e-3,1e-2,1e-1", 0, 0, 0, NULL,
     check_radii,
     "ntk.perturb: radii R at which ||H(W + R Delta) - H(W)|| is evaluated (comma-"
     "separated, positive, at most 16)"},
    {"perturb_iters", SNTK_T_INT, OFF(perturb_iters), "30", 0, 10000, 0, NULL, NULL,
     "ntk.perturb: steps of the worst-direction power iteration from each start"},
    {"perturb_gd_steps", SNTK_T_INT, OFF(perturb_gd_steps), "100", 1, 1e9, 0, NULL, NULL,
     "ntk.perturb: gradient-descent steps (at train.eta) whose displacement is the GD-like "
     "direction and whose R and ||H(T) - H(0)|| are recorded"},
    {NULL}};
#undef OFF

static int make_grids(sntk_ntk_t *ntk, const sntk_parallel_cfg_t *par) {
  int pr, pc;
  SNTK_CALL(sntk_grid_shape(par->grid, ntk->size, &pr, &pc));
  SNTK_CALL(sntk_grid_create(ntk->comm, pr, pc, &ntk->grid));
  return sntk_grid_create(ntk->comm, 1, ntk->size, &ntk->row);
}

/* Describe every matrix of the plan. */
static int describe(sntk_ntk_t *ntk) {
  const int64_t nk = ntk->nk, nb = ntk->nb;
  SNTK_CALL(sntk_dmat_init(&ntk->H, ntk->grid, nk, nk, nb, nb));
  if (!ntk->lean) SNTK_CALL(sntk_dmat_init(&ntk->work, ntk->grid, nk, nk, nb, nb));
  if (ntk->keep_init) SNTK_CALL(sntk_dmat_init(&ntk->H0, ntk->grid, nk, nk, nb, nb));
  if (ntk->cfg.limit) SNTK_CALL(sntk_dmat_init(&ntk->Hstar, ntk->grid, nk, nk, nb, nb));
  if (ntk->cfg.spectrum != SNTK_SPECTRUM_VALUES)
    SNTK_CALL(sntk_dmat_init(&ntk->Z, ntk->grid, nk, nk, nb, nb));
  SNTK_CALL(sntk_dmat_init(&ntk->U1, ntk->row, nk, ntk->mb * ntk->size, nb, ntk->mb));
  if (ntk->gram == SNTK_GRAM_REDUCE) return SNTK_OK; /* no 2D copy of U: U2 stays unallocated */
  return sntk_dmat_init(&ntk->U2, ntk->grid, nk, ntk->panel, nb, nb);
}

static int allocate(sntk_ntk_t *ntk) {
  sntk_dmat_t *mats[] = {&ntk->H, &ntk->work, &ntk->H0, &ntk->Hstar, &ntk->Z, &ntk->U1, &ntk->U2};
  for (size_t i = 0; i < sizeof mats / sizeof *mats; i++)
    if (mats[i]->grid) SNTK_CALL(sntk_dmat_alloc(mats[i]));
  if (ntk->lean) ntk->work = ntk->H; /* the same storage: freed once, as H */
  if (ntk->lean && ntk->size > 1) {
    /* the same on every rank (the largest local matrix's): the rounds depend on it */
    ntk->tbuf_len =
        ntk_transpose_buffer(sntk_numroc(ntk->nk, ntk->nb, 0, ntk->grid->nprow),
                             sntk_numroc(ntk->nk, ntk->nb, 0, ntk->grid->npcol), ntk->nb);
    SNTK_CALL(SNTK_ALLOC(ntk->tbuf, ntk->tbuf_len));
  }
  SNTK_CALL(SNTK_ALLOC(ntk->w, ntk->nk));
  return SNTK_ALLOC(ntk->w2, ntk->nk);
}

/* Why ntk.memory = lean cannot serve this NTK (NULL: it can). */
static const char *lean_barrier(const sntk_ntk_t *ntk, int64_t holdout, unsigned flags) {
  if (!(flags & SNTK_NTK_LEAN_OK))
    return "this command needs H intact after its factorisations (softntk score, bench)";
  if (ntk->cfg.spectrum != SNTK_SPECTRUM_VALUES)
    return "ntk.spectrum = full and extremes check their eigenvectors against H";
  if (holdout > 0) return "kernel regression on held-out points needs H beside its factor";
  return NULL;
}

/* The panel and plan for s (copy or lean as s->lean says); a refusal is an input error. */
static int fit(sntk_ntk_t *ntk, ntk_shape_t *s, ntk_need_t *need) {
  s->gram = ntk_gram_method(s, ntk->cfg.gram);
  /* auto: the reduce method's buffers are the larger at small widths; fall back when they do not
   * fit */
  if (s->gram == SNTK_GRAM_REDUCE && ntk->cfg.gram == SNTK_GRAM_AUTO &&
      ntk_choose_panel(s, ntk->cfg.panel, ntk->mem_avail, &ntk->panel, need) != SNTK_OK) {
    sntk_error_clear();
    s->gram = SNTK_GRAM_PDSYRK;
  }
  return ntk_choose_panel(s, ntk->cfg.panel, ntk->mem_avail, &ntk->panel, need);
}

/* Sizes, grids, plan (refusal) and descriptors; nothing large allocated yet. */
static int plan(sntk_ntk_t *ntk, const sntk_parallel_cfg_t *par, int64_t holdout, unsigned flags) {
  const sntk_model_t *md = ntk->model;
  int nk;
  SNTK_CALL(sntk_narrow(ntk->nk, "n k (the NTK's order)", &nk));
  if (ntk->cfg.spectrum == SNTK_SPECTRUM_EXTREMES && ntk->cfg.q > ntk->nk)
    return sntk_error(SNTK_ERR_INPUT, "ntk.q = %lld exceeds n k = %lld", (long long)ntk->cfg.q,
                      (long long)ntk->nk);
  const char *barrier = lean_barrier(ntk, holdout, flags);
  if (ntk->cfg.memory == SNTK_NTK_MEMORY_LEAN && barrier)
    return sntk_error(SNTK_ERR_INPUT,
                      "ntk.memory = lean is not possible here: %s; use copy or auto", barrier);
  SNTK_CALL(make_grids(ntk, par));
  ntk_shape_t s = {ntk->n,
                   ntk->d,
                   ntk->k,
                   md->m,
                   md->chunk,
                   holdout,
                   ntk->size,
                   ntk->grid->nprow,
                   ntk->grid->npcol,
                   ntk->nb,
                   ntk->cfg.spectrum,
                   ntk->cfg.q,
                   ntk->cfg.limit,
                   ntk->keep_init,
                   ntk->cfg.memory == SNTK_NTK_MEMORY_LEAN,
                   ntk->cfg.solver,
                   SNTK_GRAM_PDSYRK};
  ntk_need_t need;
  SNTK_CALL(ntk_solver_resolve(&s, ntk->cfg.solver, &ntk->cfg.solver));
  s.solver = ntk->cfg.solver;
  SNTK_CALL(sntk_parallel_memory(ntk->comm, par, &ntk->mem_avail));
  int err = fit(ntk, &s, &need);
  if (err == SNTK_ERR_INPUT && ntk->cfg.memory == SNTK_NTK_MEMORY_AUTO && !barrier) {
    const double copy_gib = need.total / 1073741824.0;
    sntk_error_clear();
    s.lean = 1;
    err = fit(ntk, &s, &need);
    if (!err)
      sntk_log("ntk: memory lean (H held once and assembled again after its Cholesky): %.2f GiB "
               "per rank, against %.2f GiB with a work copy",
               need.total / 1073741824.0, copy_gib);
  }
  SNTK_CALL(err);
  ntk->gram = s.gram;
  ntk->lean = s.lean;
  ntk->cfg.memory = s.lean ? SNTK_NTK_MEMORY_LEAN : SNTK_NTK_MEMORY_COPY;
  ntk->mem_need = need.total;
  return describe(ntk);
}

int sntk_ntk_create(const sntk_ntk_cfg_t *cfg, const sntk_parallel_cfg_t *par, sntk_model_t *md,
                    const double *X, int64_t n, int64_t holdout, unsigned flags, sntk_ntk_t **out) {
  sntk_ntk_t *ntk = NULL;
  int err = SNTK_OK;
  *out = NULL;
  SNTK_TRY(SNTK_ALLOC(ntk, 1));
  ntk->comm = md->comm;
  ntk->rank = md->rank;
  ntk->size = md->size;
  ntk->cfg = *cfg;
  ntk->model = md;
  ntk->X = X;
  ntk->n = n, ntk->d = md->d, ntk->k = md->k, ntk->nk = n * md->k;
  ntk->mb = sntk_model_max_local(md); /* reproducible mode's whole blocks may exceed ceil(m / P) */
  ntk->nb = par->nb;
  ntk->keep_init = (flags & SNTK_NTK_KEEP_INIT) != 0;
  SNTK_TRY(plan(ntk, par, holdout, flags));
  SNTK_TRY(allocate(ntk));
done:
  err = sntk_agree(md->comm, err);
  if (!err && cfg->limit) err = sntk_ntk_assemble_limit(ntk, &ntk->Hstar);
  if (!err && ntk->keep_init) err = sntk_ntk_assemble(ntk, md->W0, &ntk->H0);
  if (err) sntk_ntk_destroy(&ntk);
  *out = ntk;
  return err;
}

void sntk_ntk_destroy(sntk_ntk_t **pntk) {
  sntk_ntk_t *ntk = *pntk;
  if (!ntk) return;
  if (ntk->work.a == ntk->H.a) ntk->work.a = NULL; /* lean: one matrix under two names */
  sntk_dmat_t *mats[] = {&ntk->H, &ntk->work, &ntk->H0, &ntk->Hstar, &ntk->Z, &ntk->U1, &ntk->U2};
  for (size_t i = 0; i < sizeof mats / sizeof *mats; i++) sntk_dmat_free(mats[i]);
  free(ntk->w);
  free(ntk->w2);
  free(ntk->tbuf);
  sntk_grid_destroy(&ntk->grid);
  sntk_grid_destroy(&ntk->row);
  free(ntk);
  *pntk = NULL;
}

int sntk_ntk_at_init(const sntk_model_t *md, int *same) {
  int local = memcmp(md->W, md->W0, (size_t)(md->m_loc * md->d) * sizeof *md->W) == 0;
  return SNTK_MPI(MPI_Allreduce(&local, same, 1, MPI_INT, MPI_LAND, md->comm));
}

int ntk_fresh_H(sntk_ntk_t *ntk) {
  return ntk->lean ? sntk_ntk_assemble(ntk, ntk->model->W, &ntk->H) : SNTK_OK;
}

int sntk_ntk_snapshot(sntk_ntk_t *ntk, int64_t step, sntk_ntk_snap_t *sn) {
  const double nan = NAN;
  const int one = 1, nk = (int)ntk->nk;
  double work_fro = 0.0;
  *sn = (sntk_ntk_snap_t){step, 0, nan, nan, nan, 0, NULL, nan, nan, nan, nan, nan};
  SNTK_CALL(sntk_ntk_assemble(ntk, ntk->model->W, &ntk->H));
  sn->norm_fro = pdlange_("F", &nk, &nk, ntk->H.a, &one, &one, ntk->H.desc, &work_fro, 1);
  /* lean: the Cholesky factorises H in place and assembles it again for its certificate */
  SNTK_CALL(sntk_ntk_cholesky(ntk, &ntk->H, 0.0, &sn->positive_definite, &sn->logdet));
  SNTK_CALL(sntk_ntk_eigen(ntk, &ntk->H, ntk->cfg.spectrum, ntk->cfg.q, &sn->neig, "H"));
  sn->eig = ntk->w;
  sn->lambda_min = ntk->w[0];
  sn->lambda_max = ntk->w[sn->neig - 1];
  int same;
  SNTK_CALL(sntk_ntk_at_init(ntk->model, &same));
  if (same)
    sn->diff_init_fro = sn->diff_init_spec = 0.0;
  else if (ntk->keep_init) {
    SNTK_CALL(ntk_fresh_H(ntk)); /* lean: the eigen-solve destroyed H */
    SNTK_CALL(sntk_ntk_distance(ntk, &ntk->H, &ntk->H0, &sn->diff_init_fro, &sn->diff_init_spec,
                                "H - H(0)"));
  }
  if (ntk->cfg.limit) {
    SNTK_CALL(ntk_fresh_H(ntk));
    SNTK_CALL(sntk_ntk_distance(ntk, &ntk->H, &ntk->Hstar, &sn->diff_limit_fro,
                                &sn->diff_limit_spec, "H - H*"));
  }
  return SNTK_OK;
}

enum { C_STEP, C_LMIN, C_LMAX, C_LOGDET, C_PD, C_FRO, C_DIF, C_DIS, C_DLF, C_DLS, NC };

static const sntk_column_t ntk_cols[NC] = {
    {"step", 1, NULL, NULL},
    {"lambda_min", 0, NULL, NULL},
    {"lambda_max", 0, NULL, NULL},
    {"logdet", 0, NULL, NULL},
    {"positive_definite", 1, NULL, NULL},
    {"norm_fro", 0, NULL, NULL},
    {"diff_init_fro", 0, NULL, NULL},
    {"diff_init_spec", 0, NULL, NULL},
    {"diff_limit_fro", 0, NULL, NULL},
    {"diff_limit_spec", 0, NULL, NULL},
};

int ntk_series_declare(sntk_ntk_t *ntk, sntk_results_t *res, int64_t neig, ntk_series_t *s) {
  char grid[64];
  s->declared = 1;
  s->neig = neig;
  SNTK_CALL(sntk_results_series(res, "/ntk", NC, ntk_cols, &s->rows));
  SNTK_CALL(
      sntk_results_rows(res, "/ntk", "eigenvalues", neig, NULL,
                        ntk->cfg.spectrum == SNTK_SPECTRUM_EXTREMES && neig < ntk->nk
                            ? "eigenvalues of H per snapshot: the q smallest, then the q largest"
                            : "eigenvalues of H per snapshot, ascending",
                        &s->eig));
  snprintf(grid, sizeof grid, "%dx%d", ntk->grid->nprow, ntk->grid->npcol);
  SNTK_CALL(sntk_results_attr_at_f64(res, "/ntk", "gamma", ntk->model->gamma));
  SNTK_CALL(sntk_results_attr_at_f64(res, "/ntk", "nu", ntk->model->nu));
  SNTK_CALL(sntk_results_attr_at_str(res, "/ntk", "normalisation",
                                     "H = nu J J^T / gamma^2, so J J^T = (gamma^2 / nu) H"));
  SNTK_CALL(sntk_results_attr_at_str(res, "/ntk", "process_grid", grid));
  SNTK_CALL(sntk_results_attr_at_f64(res, "/ntk", "nb", (double)ntk->nb));
  SNTK_CALL(sntk_results_attr_at_f64(res, "/ntk", "nk", (double)ntk->nk));
  SNTK_CALL(
      sntk_results_attr_at_str(res, "/ntk", "solver", sntk_ntk_solver_names[ntk->cfg.solver]));
  SNTK_CALL(
      sntk_results_attr_at_str(res, "/ntk", "memory", sntk_ntk_memory_names[ntk->cfg.memory]));
  return sntk_results_attr_at_str(res, "/ntk", "spectrum", sntk_spectrum_names[ntk->cfg.spectrum]);
}

int ntk_series_append(sntk_results_t *res, const ntk_series_t *s, const sntk_ntk_snap_t *sn) {
  const double row[NC] = {(double)sn->step,   sn->lambda_min,        sn->lambda_max,
                          sn->logdet,         sn->positive_definite, sn->norm_fro,
                          sn->diff_init_fro,  sn->diff_init_spec,    sn->diff_limit_fro,
                          sn->diff_limit_spec};
  SNTK_CALL(sntk_results_append(res, s->rows, row));
  return sntk_results_append(res, s->eig, sn->eig);
}

void ntk_log_snapshot(const sntk_ntk_t *ntk, const sntk_ntk_snap_t *sn) {
  const double flops = (double)ntk->nk * (double)ntk->nk * (double)ntk->U1.n;
  sntk_log("ntk step %lld: lambda_min %.6e  lambda_max %.6e  log det %s%.6e  ||H||_F %.6e",
           (long long)sn->step, sn->lambda_min, sn->lambda_max,
           sn->positive_definite ? "" : "(not PD) ", sn->logdet, sn->norm_fro);
  sntk_log("ntk step %lld: ||H - H(0)||_F %.6e  _2 %.6e   ||H - H*||_F %.6e  _2 %.6e",
           (long long)sn->step, sn->diff_init_fro, sn->diff_init_spec, sn->diff_limit_fro,
           sn->diff_limit_spec);
  sntk_log("ntk step %lld: gram %.3f s (features %.3f, PDGEMR2D %.3f, PDSYRK %.3f s = %.1f "
           "GFLOP/s, symmetrize + Hadamard %.3f), cholesky %.3f s, eigen %.3f s",
           (long long)sn->step, ntk->t_features + ntk->t_redist + ntk->t_syrk + ntk->t_hadamard,
           ntk->t_features, ntk->t_redist, ntk->t_syrk,
           ntk->t_syrk > 0 ? flops / ntk->t_syrk * 1e-9 : 0.0, ntk->t_hadamard, ntk->t_chol,
           ntk->t_eig);
}
