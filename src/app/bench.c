/* `softntk bench`: timed training step, NTK Gram assembly and eigen-solve against DGEMM and DSYRK
 * measured on the same shapes in the same run (see bench.h). Rates are per rank; times are the
 * maximum over ranks after a barrier. */
#include "softntk/bench.h"

#include "softntk/deck.h"
#include "softntk/blasinfo.h"
#include "softntk/error.h"
#include "softntk/log.h"
#include "softntk/ntk.h"
#include "softntk/parallel.h"
#include "softntk/perf.h"
#include "softntk/results.h"
#include "softntk/rundir.h"
#include "softntk/version.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static const char *const parts[] = {"all", "step", "gram", "eigen", NULL};
static const char *const eigen_spectra[] = {"both", "values", "pairs", NULL};

#define OFF(f) offsetof(sntk_bench_cfg_t, f)
const sntk_key_t sntk_bench_keys[] = {
    {"what", SNTK_T_CHOICE, OFF(what), "all", 0, 0, 0, parts, NULL,
     "which parts run: the training step, the NTK Gram assembly, the eigen-solve, or all"},
    {"n", SNTK_T_INT, OFF(n), "8192", 1, 1e9, 0, NULL, NULL, "samples of the timed training step"},
    {"d", SNTK_T_INT, OFF(d), "64", 2, 1e6, 0, NULL, NULL, "input dimension (step and Gram)"},
    {"k", SNTK_T_INT, OFF(k), "1", 1, 1e5, 0, NULL, NULL, "outputs of the timed training step"},
    {"m", SNTK_T_INT, OFF(m), "16384", 1, 1e12, 0, NULL, NULL, "width of the timed training step"},
    {"activation", SNTK_T_CHOICE, OFF(activation), "softmax", 0, 0, 0, sntk_activation_names, NULL,
     "activation of the timed network"},
    {"gram_n", SNTK_T_INT, OFF(gram_n), "8192", 1, 1e9, 0, NULL, NULL,
     "samples of the timed NTK Gram assembly (k = 1)"},
    {"gram_m", SNTK_T_INT, OFF(gram_m), "8192", 1, 1e12, 0, NULL, NULL,
     "width of the timed NTK Gram assembly"},
    {"eigen_n", SNTK_T_STRING, OFF(eigen_n), "4096,8192", 0, 0, 0, NULL, NULL,
     "orders of the NTKs whose Cholesky factorisation, eigenvalues and eigenpairs are timed with "
     "every eigen-solver backend of this build (comma-separated, at most 4)"},
    {"eigen_spectra", SNTK_T_CHOICE, OFF(eigen_spectra), "both", 0, 0, 0, eigen_spectra, NULL,
     "which eigen-solves are timed: eigenvalues, eigenpairs (all of them), or both"},
    {"eigen_reps", SNTK_T_INT, OFF(eigen_reps), "1", 1, 1e6, 0, NULL, NULL,
     "timed repetitions of each eigen-solve (the best is kept)"},
    {"reps", SNTK_T_INT, OFF(reps), "3", 1, 1e6, 0, NULL, NULL,
     "timed repetitions of each part, after one untimed warm-up"},
    {NULL}};
#undef OFF

#define MAXROWS 32
typedef struct row {
  char name[48];
  double seconds, gflops, ref_gflops; /* best time of the repetitions; rates per rank, GFLOP/s */
  const char *ref;                    /* name of the reference kernel */
} row_t;

typedef struct mem {
  double baseline, predicted, peak; /* bytes per rank (maximum over ranks) */
  const char *what;
} bench_mem_t;

typedef struct bench {
  MPI_Comm comm;
  int P;
  const sntk_deck_t *deck;
  const sntk_bench_cfg_t *bc;
  row_t rows[MAXROWS];
  int nrows;
  bench_mem_t mem[4];
  int nmem;
} bench_t;

/* Collective: this process's peak resident memory, maximum over ranks, bytes. */
static double peak_rss(MPI_Comm comm) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double mine = (double)ru.ru_maxrss * 1024.0, all = mine;
  MPI_Allreduce(&mine, &all, 1, MPI_DOUBLE, MPI_MAX, comm);
  return all;
}

/* Collective: this process's current resident memory, maximum over ranks, bytes. */
static double current_rss(MPI_Comm comm) {
  long pages = 0, resident = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (f) {
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    fclose(f);
  }
  double mine = (double)resident * 4096.0, all = mine;
  MPI_Allreduce(&mine, &all, 1, MPI_DOUBLE, MPI_MAX, comm);
  return all;
}

static void add_row(bench_t *b, const char *name, double seconds, double flops_per_rank,
                    double ref_rate, const char *ref) {
  row_t *r = &b->rows[b->nrows++];
  snprintf(r->name, sizeof r->name, "%s", name);
  r->seconds = seconds;
  r->gflops = seconds > 0 ? flops_per_rank / seconds / 1e9 : 0.0;
  r->ref_gflops = ref_rate;
  r->ref = ref;
}

/* Collective: the training set and a network of the benchmark's shape (random init, NTK scale, so
 * that repeated small steps stay finite). */
static int make_problem(bench_t *b, int64_t n, int64_t k, int64_t m, int act, int repro,
                        sntk_dataset_t *ds, sntk_model_t **md) {
  sntk_data_cfg_t dc = b->deck->data;
  dc.source = SNTK_SOURCE_SPHERE;
  dc.target = SNTK_TARGET_TEACHER;
  dc.n = n, dc.d = b->bc->d, dc.k = k;
  dc.constant_coord = 1;
  sntk_model_cfg_t mc = b->deck->model;
  mc.activation = act;
  mc.width = m;
  mc.init = SNTK_INIT_RANDOM;
  if (repro >= 0) mc.reproducible = repro;
  snprintf(mc.output_scale, sizeof mc.output_scale, "ntk");
  SNTK_CALL(sntk_data_load(b->comm, &dc, 1, 0, ds));
  return sntk_model_create(b->comm, &mc, dc.d, k, b->deck->train.chunk, n, md);
}

/* Collective: DGEMM on the step's shapes, C (n x m_loc) = X W^T and X^T C (d x m_loc) whole,
 * without chunks; GFLOP/s per rank, best of reps. */
static int dgemm_rate(bench_t *b, const sntk_model_t *md, const sntk_dataset_t *ds, double *rate) {
  const int n = (int)ds->n, ml = (int)md->m_loc, d = (int)md->d;
  double *C = NULL, *G = NULL, best = INFINITY;
  int err = SNTK_ALLOC(C, (int64_t)n * ml);
  if (!err) err = SNTK_ALLOC(G, (int64_t)ml * d);
  SNTK_CALL(sntk_agree(b->comm, err));
  for (int64_t r = 0; r <= b->bc->reps; r++) {
    double t0 = sntk_wtime_sync(b->comm);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, ml, d, 1.0, ds->X, d, md->W, d, 0.0, C,
                ml);
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, d, ml, n, 1.0, ds->X, d, C, ml, 0.0, G,
                ml);
    double t = sntk_wtime_sync(b->comm) - t0;
    if (r > 0 && t < best) best = t;
  }
  *rate = 4.0 * n * (double)ml * d / best / 1e9;
  free(C);
  free(G);
  return SNTK_OK;
}

/* Collective: the training step in one mode (repro 0: rank-local, 1: reproducible); with_mem:
 * record its peak memory (getrusage's peak is the process's, so only the first step measured can).
 */
static int bench_step(bench_t *b, int repro, int with_mem) {
  const sntk_bench_cfg_t *bc = b->bc;
  sntk_dataset_t ds = {0};
  sntk_model_t *md = NULL;
  double *grad = NULL, loss, ref = 0.0;
  int err = SNTK_OK;
  double base = current_rss(b->comm);
  SNTK_TRY(make_problem(b, bc->n, bc->k, bc->m, bc->activation, repro, &ds, &md));
  SNTK_TRY(sntk_agree(b->comm, SNTK_ALLOC(grad, md->m_loc * md->d)));
  sntk_model_init(md, 1);
  SNTK_TRY(sntk_model_eval(md, &ds, &loss, NULL, grad)); /* warm-up */
  sntk_model_update(md, grad, 1e-12);
  sntk_perf_reset();
  double t = INFINITY, total = 0.0; /* best of reps, as for the BLAS references */
  for (int64_t r = 0; r < bc->reps; r++) {
    double t0 = sntk_wtime_sync(b->comm);
    SNTK_TRY(sntk_model_eval(md, &ds, &loss, NULL, grad));
    sntk_model_update(md, grad, 1e-12);
    double tr = sntk_wtime_sync(b->comm) - t0;
    total += tr;
    if (tr < t) t = tr;
  }
  bench_mem_t scratch, *mm = with_mem ? &b->mem[b->nmem++] : &scratch;
  /* the deck's mode keeps the plain name (scripts read it); the other mode says which it is */
  mm->what = repro == b->deck->parallel.reproducible
                 ? "training step"
                 : (repro ? "training step (reproducible)" : "training step (rank-local)");
  mm->baseline = base;
  mm->peak = peak_rss(b->comm);
  mm->predicted =
      base + (double)(sntk_model_bytes(md->m_loc, md->d, md->k, md->chunk) +
                      sntk_model_repro_bytes(md) + (ds.n * (ds.d + ds.k) + md->m_loc * md->d) * 8);
  const double flops = 4.0 * (double)ds.n * (double)md->m * (double)(ds.d + ds.k);
  SNTK_TRY(dgemm_rate(b, md, &ds, &ref));
  add_row(b, mm->what, t, flops / b->P, ref, "DGEMM");
  sntk_log("step (%s): n = %lld, d = %lld, k = %lld, m = %lld (%lld per rank), chunk %lld, %s: "
           "loss %.17g",
           repro ? "reproducible" : "rank-local", (long long)ds.n, (long long)ds.d, (long long)ds.k,
           (long long)md->m, (long long)md->m_loc, (long long)md->chunk,
           sntk_activation_names[md->act], loss);
  SNTK_TRY(sntk_perf_report(b->comm, total, NULL));
done:
  free(grad);
  sntk_model_destroy(&md);
  sntk_data_free(&ds);
  return err;
}

/* Collective: DSYRK of U (nk x m_loc, this rank's neurons) on every rank; GFLOP/s per rank. */
static int dsyrk_rate(bench_t *b, int64_t nk, int64_t m_loc, double *rate) {
  double *U = NULL, *H = NULL, best = INFINITY;
  int err = SNTK_ALLOC(U, nk * m_loc);
  if (!err) err = SNTK_ALLOC(H, nk * nk);
  SNTK_CALL(sntk_agree(b->comm, err));
  for (int64_t i = 0; i < nk * m_loc; i++) U[i] = sin((double)i);
  for (int64_t r = 0; r <= b->bc->reps; r++) {
    double t0 = sntk_wtime_sync(b->comm);
    cblas_dsyrk(CblasColMajor, CblasLower, CblasNoTrans, (int)nk, (int)m_loc, 1.0, U, (int)nk, 0.0,
                H, (int)nk);
    double t = sntk_wtime_sync(b->comm) - t0;
    if (r > 0 && t < best) best = t;
  }
  *rate = (double)nk * (double)nk * (double)m_loc / best / 1e9;
  free(U);
  free(H);
  return SNTK_OK;
}

/* Collective: an NTK context (the given spectrum, no H*) for n points and width m. */
static int make_ntk(bench_t *b, int64_t n, int64_t m, int spectrum, sntk_dataset_t *ds,
                    sntk_model_t **md, sntk_ntk_t **ntk) {
  sntk_ntk_cfg_t nc = b->deck->ntk;
  nc.spectrum = spectrum;
  nc.limit = 0;
  nc.save_gram = 0;
  SNTK_CALL(make_problem(b, n, 1, m, SNTK_ACT_SOFTMAX, -1, ds, md));
  sntk_model_init(*md, 1);
  return sntk_ntk_create(&nc, &b->deck->parallel, *md, ds->X, ds->n, 0, 0, ntk);
}

static int bench_gram(bench_t *b) {
  const sntk_bench_cfg_t *bc = b->bc;
  sntk_dataset_t ds = {0};
  sntk_model_t *md = NULL;
  sntk_ntk_t *ntk = NULL;
  double ref = 0.0;
  int err = SNTK_OK;
  double base = current_rss(b->comm);
  SNTK_TRY(make_ntk(b, bc->gram_n, bc->gram_m, SNTK_SPECTRUM_VALUES, &ds, &md, &ntk));
  SNTK_TRY(sntk_ntk_assemble(ntk, md->W, &ntk->H)); /* warm-up */
  double t = INFINITY;                              /* best of reps, as for the BLAS reference */
  for (int64_t r = 0; r < bc->reps; r++) {
    double t0 = sntk_wtime_sync(b->comm);
    SNTK_TRY(sntk_ntk_assemble(ntk, md->W, &ntk->H));
    double tr = sntk_wtime_sync(b->comm) - t0;
    if (tr < t) t = tr;
  }
  bench_mem_t *mm = &b->mem[b->nmem++];
  mm->what = "NTK Gram";
  mm->baseline = base;
  mm->peak = peak_rss(b->comm);
  mm->predicted = base + (double)ntk->mem_need;
  const double nk = (double)ntk->nk;
  SNTK_TRY(dsyrk_rate(b, ntk->nk, md->m_loc, &ref));
  add_row(b, "NTK Gram assembly", t, nk * nk * (double)md->m / b->P, ref, "DSYRK");
  const int reduce = b->P > 1 && ntk->gram == SNTK_GRAM_REDUCE;
  sntk_log("gram: nk = %lld, m = %lld, grid %dx%d, nb %lld, method %s, panel %lld: features %.3f "
           "s, %s %.3f s, %s %.3f s, Hadamard and symmetry %.3f s",
           (long long)ntk->nk, (long long)md->m, ntk->grid->nprow, ntk->grid->npcol,
           (long long)ntk->nb, b->P == 1 ? "direct DSYRK" : sntk_gram_names[ntk->gram],
           (long long)ntk->panel, ntk->t_features, reduce ? "reduce-scatter" : "PDGEMR2D",
           ntk->t_redist,
           reduce      ? "local DSYRK/DGEMM"
           : b->P == 1 ? "DSYRK"
                       : "PDSYRK",
           ntk->t_syrk, ntk->t_hadamard);
done:
  sntk_ntk_destroy(&ntk);
  sntk_model_destroy(&md);
  sntk_data_free(&ds);
  return err;
}

/* Collective: square DGEMM of order n on every rank at once; GFLOP/s per rank, best of reps. */
static int square_dgemm_rate(bench_t *b, int64_t n, double *rate) {
  double *A = NULL, *B = NULL, *C = NULL, best = INFINITY;
  int err = SNTK_ALLOC(A, n * n);
  if (!err) err = SNTK_ALLOC(B, n * n);
  if (!err) err = SNTK_ALLOC(C, n * n);
  SNTK_TRY(sntk_agree(b->comm, err));
  for (int64_t i = 0; i < n * n; i++) A[i] = sin((double)i), B[i] = cos((double)i);
  for (int64_t r = 0; r <= b->bc->reps; r++) {
    double t0 = sntk_wtime_sync(b->comm);
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)n, (int)n, 1.0, A, (int)n,
                B, (int)n, 0.0, C, (int)n);
    double t = sntk_wtime_sync(b->comm) - t0;
    if (r > 0 && t < best) best = t;
  }
  *rate = 2.0 * (double)n * n * n / best / 1e9;
done:
  free(A), free(B), free(C);
  return err;
}

/* Not collective. The orders of bench.eigen_n (comma-separated) into n[0..*count). */
static int eigen_orders(const char *text, int64_t n[4], int *count) {
  const char *p = text;
  *count = 0;
  while (*p) {
    char *end = NULL;
    long long v = strtoll(p, &end, 10);
    if (end == p || v < 2 || v > 1000000000 || *count == 4 || (*end && *end != ','))
      return sntk_error(SNTK_ERR_INPUT,
                        "bench.eigen_n = '%s': expected up to 4 orders >= 2, comma-separated",
                        text);
    n[(*count)++] = v;
    p = *end ? end + 1 : end;
  }
  if (*count == 0) return sntk_error(SNTK_ERR_INPUT, "bench.eigen_n is empty");
  return SNTK_OK;
}

/* Collective: for each order of bench.eigen_n, the Cholesky factorisation (PDPOTRF) and, with every
 * eigen-solver backend built, all eigenvalues and all eigenpairs of the same matrix, best of
 * bench.eigen_reps; rates against a same-run square DGEMM, the backends' ratio and how far apart
 * their eigenvalues are. Nominal flops: eigenvalues 4/3 n^3 (the reduction to tridiagonal form),
 * eigenpairs 4/3 n^3 + 2 n^3 (plus the back-transformation of n vectors), the same for both
 * backends, so their rates compare as their times. */
static int bench_eigen(bench_t *b) {
  const sntk_bench_cfg_t *bc = b->bc;
  static const char *const kinds[2] = {"eigenvalues", "eigenpairs"};
  static const int spectra[2] = {SNTK_SPECTRUM_VALUES, SNTK_SPECTRUM_FULL};
  int64_t orders[4];
  int norders = 0, err = SNTK_OK;
  double ref = 0.0;
  SNTK_CALL(eigen_orders(bc->eigen_n, orders, &norders));
  SNTK_CALL(square_dgemm_rate(b, 2048, &ref));
  for (int o = 0; o < norders && b->nrows + 6 < MAXROWS; o++) {
    sntk_dataset_t ds = {0};
    sntk_model_t *md = NULL;
    sntk_ntk_t *ntk = NULL;
    double *w0 = NULL;
    int pd = 0, nsolvers = 0, solvers[4];
    int64_t neig = 0;
    double logdet;
    SNTK_TRY(make_ntk(b, orders[o], bc->gram_m, SNTK_SPECTRUM_FULL, &ds, &md, &ntk));
    for (int v = 1; sntk_ntk_solver_names[v]; v++)
      if (sntk_ntk_solver_usable(ntk, v)) solvers[nsolvers++] = v;
    SNTK_TRY(SNTK_ALLOC(w0, ntk->nk));
    SNTK_TRY(sntk_ntk_assemble(ntk, md->W, &ntk->H));
    const double n = (double)ntk->nk;
    char name[48];
    SNTK_TRY(sntk_ntk_cholesky(ntk, &ntk->H, 0.0, &pd, &logdet));
    snprintf(name, sizeof name, "Cholesky %lld (PDPOTRF)", (long long)ntk->nk);
    add_row(b, name, ntk->t_chol, n * n * n / 3.0 / b->P, ref, "DGEMM");
    for (int c = 0; c < 2; c++) {
      double t[4], dmax = 0.0;
      if (bc->eigen_spectra != 0 && bc->eigen_spectra != c + 1) continue;
      for (int v = 0; v < nsolvers; v++) {
        ntk->cfg.solver = solvers[v];
        t[v] = INFINITY;
        for (int64_t r = 0; r < bc->eigen_reps; r++) {
          SNTK_TRY(sntk_ntk_eigen(ntk, &ntk->H, spectra[c], 0, &neig, "H"));
          if (ntk->t_eig < t[v]) t[v] = ntk->t_eig;
        }
        for (int64_t i = 0; i < neig; i++) {
          if (v == 0) w0[i] = ntk->w[i];
          const double dv = fabs(ntk->w[i] - w0[i]);
          dmax = dv > dmax ? dv : dmax;
        }
        snprintf(name, sizeof name, "%s %lld (%s)", kinds[c], (long long)ntk->nk,
                 sntk_ntk_solver_names[solvers[v]]);
        add_row(b, name, t[v], (c ? 10.0 / 3.0 : 4.0 / 3.0) * n * n * n / b->P, ref, "DGEMM");
      }
      if (nsolvers > 1)
        sntk_log("eigen: order %lld, %s: %s %.2f s, %s %.2f s: %s %.2fx faster; eigenvalues "
                 "differ by at most %.2e lambda_max",
                 (long long)ntk->nk, kinds[c], sntk_ntk_solver_names[solvers[1]], t[1],
                 sntk_ntk_solver_names[solvers[0]], t[0], sntk_ntk_solver_names[solvers[1]],
                 t[0] / t[1], dmax / ntk->w[neig - 1]);
    }
    sntk_log("eigen: order %lld, %s, lambda_min %.3e, lambda_max %.3e, failed checks %lld",
             (long long)ntk->nk, pd ? "positive definite" : "NOT positive definite", ntk->w[0],
             ntk->w[neig - 1], (long long)ntk->failures);
  done:
    free(w0);
    sntk_ntk_destroy(&ntk);
    sntk_model_destroy(&md);
    sntk_data_free(&ds);
    SNTK_CALL(err);
  }
  return err;
}

static void log_environment(const bench_t *b) {
  const char *ct = getenv("OPENBLAS_CORETYPE"), *nt = getenv("OPENBLAS_NUM_THREADS");
  const char *l2 = getenv("OPENBLAS_L2_SIZE");
  sntk_log("softntk %s bench on %d rank(s)", sntk_version(), b->P);
  const char *ba = getenv("BLIS_ARCH_TYPE");
  sntk_blas_info_t bi;
  sntk_blas_probe(&bi);
  sntk_log("  BLAS: %s", sntk_blas_summary());
  if (bi.version[0]) sntk_log("  BLAS configuration: %s", bi.version);
  int fpc = 0;
  double ghz = 0.0, peak = sntk_blas_peak(&bi, &fpc, &ghz);
  if (fpc > 0)
    sntk_log("  BLAS kernel family %s: %d double flops/cycle/core; at the %.2f GHz /proc/cpuinfo "
             "reports, a peak of %.1f GFLOP/s per core (cores that boost run above it)",
             bi.kernel, fpc, ghz, peak);
  else
    sntk_log("  BLAS kernel family %s: flops per cycle unknown, no implied peak",
             bi.kernel[0] ? bi.kernel : "(unknown)");
  if (sntk_blas_arch_note()[0]) sntk_log("  %s", sntk_blas_arch_note());
  sntk_log("  environment: OPENBLAS_CORETYPE=%s OPENBLAS_NUM_THREADS=%s OPENBLAS_L2_SIZE=%s "
           "BLIS_ARCH_TYPE=%s",
           ct ? ct : "(unset)", nt ? nt : "(unset)", l2 ? l2 : "(unset)", ba ? ba : "(unset)");
  sntk_log("  elementwise kernels: %s", __builtin_cpu_supports("avx512f") ? "x86-64-v4 (AVX-512)"
                                        : __builtin_cpu_supports("avx2")  ? "x86-64-v3 (AVX2)"
                                                                          : "x86-64 (SSE2)");
}

static void log_table(const bench_t *b) {
  sntk_log("%-30s %10s %14s %16s %8s", "part", "best s", "GFLOP/s/rank", "reference", "ratio");
  for (int i = 0; i < b->nrows; i++) {
    const row_t *r = &b->rows[i];
    char ref[64] = "-", ratio[32] = "-";
    if (r->ref_gflops > 0) {
      snprintf(ref, sizeof ref, "%s %.2f", r->ref, r->ref_gflops);
      snprintf(ratio, sizeof ratio, "%.3f", r->gflops / r->ref_gflops);
    }
    sntk_log("%-30s %10.4f %14.2f %16s %8s", r->name, r->seconds, r->gflops, ref, ratio);
  }
  for (int i = 0; i < b->nmem; i++) {
    const bench_mem_t *m = &b->mem[i];
    sntk_log("memory (%s): peak %.1f MiB per rank, predicted %.1f MiB (baseline %.1f MiB + "
             "allocations): ratio %.3f",
             m->what, m->peak / 1048576.0, m->predicted / 1048576.0, m->baseline / 1048576.0,
             m->peak / m->predicted);
  }
}

static int write_file(const bench_t *b, const char *path) {
  sntk_results_t *res = NULL;
  const char *names[MAXROWS], *mnames[4];
  double sec[MAXROWS], rate[MAXROWS], ref[MAXROWS], peak[4], pred[4], base[4];
  for (int i = 0; i < b->nrows; i++) {
    names[i] = b->rows[i].name;
    sec[i] = b->rows[i].seconds;
    rate[i] = b->rows[i].gflops;
    ref[i] = b->rows[i].ref_gflops;
  }
  for (int i = 0; i < b->nmem; i++) {
    mnames[i] = b->mem[i].what;
    peak[i] = b->mem[i].peak;
    pred[i] = b->mem[i].predicted;
    base[i] = b->mem[i].baseline;
  }
  SNTK_CALL(sntk_results_create(b->comm, path, "bench", b->deck->text, b->deck->hash, &res));
  int err = SNTK_OK;
  sntk_blas_info_t bi;
  sntk_blas_probe(&bi);
  SNTK_TRY(sntk_results_attr_str(res, "blas_config", bi.version));
  SNTK_TRY(sntk_results_attr_str(res, "blas_core", bi.kernel));
  const char *ct = getenv("OPENBLAS_CORETYPE");
  SNTK_TRY(sntk_results_attr_str(res, "openblas_coretype", ct ? ct : "(unset)"));
  SNTK_TRY(sntk_results_strings(res, "/bench/part", b->nrows, names, NULL));
  SNTK_TRY(sntk_results_matrix(res, "/bench/seconds", b->nrows, 0, sec, NULL, NULL));
  SNTK_TRY(sntk_results_matrix(res, "/bench/gflops_per_rank", b->nrows, 0, rate, NULL, NULL));
  SNTK_TRY(
      sntk_results_matrix(res, "/bench/reference_gflops_per_rank", b->nrows, 0, ref, NULL, NULL));
  if (b->nmem > 0) {
    SNTK_TRY(sntk_results_strings(res, "/bench/memory_part", b->nmem, mnames, NULL));
    SNTK_TRY(sntk_results_matrix(res, "/bench/memory_peak", b->nmem, 0, peak, NULL, NULL));
    SNTK_TRY(sntk_results_matrix(res, "/bench/memory_predicted", b->nmem, 0, pred, NULL, NULL));
    SNTK_TRY(sntk_results_matrix(res, "/bench/memory_baseline", b->nmem, 0, base, NULL, NULL));
  }
  err = sntk_results_close(&res);
done:
  sntk_results_free(&res);
  return err;
}

int sntk_bench_main(const sntk_ctx_t *ctx, const sntk_deck_t *deck, const sntk_run_opts_t *opts) {
  bench_t b;
  char dir[4096], path[4200];
  (void)opts;
  memset(&b, 0, sizeof b);
  b.comm = ctx->comm;
  b.P = ctx->size;
  b.deck = deck;
  b.bc = &deck->bench;
  if (b.bc->m < b.P || b.bc->gram_m < b.P)
    return sntk_error(SNTK_ERR_INPUT,
                      "bench.m and bench.gram_m must be at least the rank count (%d)", b.P);
  SNTK_CALL(sntk_rundir_prepare(b.comm, deck->run.output_dir, deck->run.name, dir, sizeof dir));
  log_environment(&b);
  const int w = b.bc->what;
  if (w == SNTK_BENCH_ALL || w == SNTK_BENCH_STEP) {   /* both modes: the cost of reproducibility */
    const int mode = deck->parallel.reproducible != 0; /* the deck's mode first, with memory */
    SNTK_CALL(bench_step(&b, mode, 1));
    SNTK_CALL(bench_step(&b, !mode, 0));
    const double tm = b.rows[b.nrows - 2].seconds, to = b.rows[b.nrows - 1].seconds;
    const double t0 = mode ? to : tm, t1 = mode ? tm : to;
    sntk_log("reproducible mode: step %.4f s against %.4f s rank-local, overhead %+.1f %% of the "
             "step",
             t1, t0, 100.0 * (t1 - t0) / t0);
  }
  if (w == SNTK_BENCH_ALL || w == SNTK_BENCH_GRAM) SNTK_CALL(bench_gram(&b));
  if (w == SNTK_BENCH_ALL || w == SNTK_BENCH_EIGEN) SNTK_CALL(bench_eigen(&b));
  log_table(&b);
  snprintf(path, sizeof path, "%s/bench.h5", dir);
  SNTK_CALL(write_file(&b, path));
  sntk_log("results: %s", path);
  return SNTK_OK;
}
