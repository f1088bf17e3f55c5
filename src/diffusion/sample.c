/* Sampling and its evaluation: samples from the reverse process with the learned score, beside
 * the samples a model must beat and those it should match, all measured against the same fresh
 * reference sample of the target and the same noise floor:
 *   learned   the reverse process with the network's score;
 *   exact     the same sampler with the exact score (mixtures): the discretisation and start-up
 *             error alone, the best the learned score can do with this sampler;
 *   noise     N(0, I), the sampler's own start x_T (the samples of a score that does nothing);
 *   gaussian  the moment-matched Gaussian of the target at t0, N(alpha m, alpha^2 Sigma +
 *             sigma^2 I) with m, Sigma the target's mean and covariance: what a perfect sampler
 *             with the best Gaussian score gives;
 *   kernel    with diffusion.regression, the sampler with the score of NTK kernel regression with
 *             H* (the infinite-width network's predictor).
 * Metrics: sliced W2, RBF MMD, and for mixtures the coverage by radius (a sample counts for a mode
 * only within the radius holding diffusion.coverage_level of that component's samples at t0; a
 * blob between the modes covers nothing). The noise floor of each metric is its mean (and spread)
 * over diffusion.floor_pairs pairs of independent target samples of the same size: one pair is not
 * enough, for a mixture the sliced W2 of two independent samples of 2000 points ranges over a
 * factor 3 between its 5th and 95th percentiles. `softntk score` writes all this into results.h5
 * /samples at its end; `softntk sample` loads a run's checkpoint and writes it into
 * <run dir>/samples.h5. */
#include "diffusion_impl.h"
#include "softntk/target.h"
#include "softntk/process.h"
#include "softntk/sampler.h"
#include "softntk/metrics.h"
#include "softntk/results.h"

#include "softntk/error.h"
#include "softntk/log.h"

#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { SET_LEARNED, SET_EXACT, SET_NOISE, SET_GAUSSIAN, SET_KERNEL, NSETS };
static const char *const set_names[NSETS] = {"learned", "exact", "noise", "gaussian", "kernel"};
static const char *const set_help[NSETS] = {
    "the reverse process with the network's score",
    "the same sampler with the exact score of the mixture", "N(0, I), the sampler's start x_T",
    "the moment-matched Gaussian of the target at t0",
    "the sampler with the score of NTK kernel regression with H*"};

/* One set of samples and its metrics against the reference sample. */
typedef struct sample_set {
  int used;
  double *X; /* n x d */
  double sw2, mmd, bandwidth, inside;
  int64_t covered;
  double *frac; /* C shares within each mode's radius (mixtures) */
} sample_set_t;

/* Target sample i of `n` from the streams (seed, purpose, first + i). */
static void draw_reference(const sntk_target_t *tg, uint64_t seed, int purpose, int64_t first,
                           int64_t n, double *X) {
  for (int64_t i = 0; i < n; i++) {
    sntk_rng_t s;
    sntk_rng_init(&s, seed, (uint64_t)purpose, (uint64_t)(first + i));
    sntk_target_draw(tg, &s, X + i * tg->d);
  }
}

/* N(0, I) from the streams the sampler starts from: exactly its x_T. */
static void draw_noise(uint64_t seed, int64_t n, int64_t d, double *X) {
  for (int64_t i = 0; i < n; i++) {
    sntk_rng_t s;
    sntk_rng_init(&s, seed, SNTK_RNG_DIFF_SAMPLE, (uint64_t)i);
    for (int64_t j = 0; j < d; j++) X[i * d + j] = sntk_rng_normal(&s);
  }
}

/* The target's mean m (d) and covariance S (d x d): a mixture's in closed form, a file's rows'
 * empirical ones. */
static void target_moments(const sntk_target_t *tg, double *m, double *S) {
  const int64_t d = tg->d;
  memset(m, 0, (size_t)d * sizeof *m);
  memset(S, 0, (size_t)(d * d) * sizeof *S);
  const int64_t rows = tg->kind == SNTK_DIFF_GMM ? tg->C : tg->rows;
  const double *pts = tg->kind == SNTK_DIFF_GMM ? tg->mu : tg->data;
  for (int64_t r = 0; r < rows; r++) {
    const double w = tg->kind == SNTK_DIFF_GMM ? tg->w[r] : 1.0 / (double)rows;
    for (int64_t a = 0; a < d; a++) {
      m[a] += w * pts[r * d + a];
      for (int64_t b = 0; b < d; b++) S[a * d + b] += w * pts[r * d + a] * pts[r * d + b];
    }
  }
  for (int64_t a = 0; a < d; a++)
    for (int64_t b = 0; b < d; b++)
      S[a * d + b] +=
          -m[a] * m[b] + (a == b && tg->kind == SNTK_DIFF_GMM ? tg->width * tg->width : 0);
}

/* Samples of the moment-matched Gaussian at t0: alpha m + L xi, L L^T = alpha^2 S + sigma^2 I
 * (positive definite for t0 > 0), xi from stream (seed, BASELINE, i). */
static int draw_gaussian(const sntk_target_t *tg, double t0, uint64_t seed, int64_t n, double *X) {
  const int64_t d = tg->d;
  const double a = sntk_ou_alpha(t0), s2 = sntk_ou_sigma2(t0);
  double *m = NULL, *L = NULL, *xi = NULL;
  int err = SNTK_OK;
  SNTK_TRY(SNTK_ALLOC(m, d));
  SNTK_TRY(SNTK_ALLOC(L, d * d));
  SNTK_TRY(SNTK_ALLOC(xi, d));
  target_moments(tg, m, L);
  for (int64_t i = 0; i < d * d; i++) L[i] *= a * a;
  for (int64_t i = 0; i < d; i++) L[i * d + i] += s2;
  if (LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', (int)d, L, (int)d) != 0)
    SNTK_TRY(sntk_error(SNTK_ERR_RUNTIME,
                        "the moment-matched Gaussian's covariance at t0 = %g is "
                        "not positive definite",
                        t0));
  for (int64_t i = 0; i < n; i++) {
    sntk_rng_t s;
    sntk_rng_init(&s, seed, SNTK_RNG_DIFF_BASELINE, (uint64_t)i);
    for (int64_t j = 0; j < d; j++) xi[j] = sntk_rng_normal(&s);
    for (int64_t r = 0; r < d; r++) {
      double v = a * m[r];
      for (int64_t c = 0; c <= r; c++) v += L[r * d + c] * xi[c];
      X[i * d + r] = v;
    }
  }
done:
  free(m), free(L), free(xi);
  return err;
}

/* The metrics' noise floor: mean and standard deviation of sliced W2 and MMD over `pairs` pairs of
 * independent target samples of n points (pair p: indices [2p n, (2p + 2) n) of stream REF2).
 * floor = {sw2 mean, sw2 sd, mmd mean, mmd sd}. */
static int noise_floor(MPI_Comm comm, const sntk_diffusion_cfg_t *cfg, uint64_t seed,
                       const sntk_target_t *tg, int64_t n, double *floor) {
  double *A = NULL, *B = NULL, s1[2] = {0, 0}, s2[2] = {0, 0};
  const int64_t pairs = cfg->floor_pairs;
  int err = SNTK_ALLOC(A, n * tg->d);
  if (!err) err = SNTK_ALLOC(B, n * tg->d);
  SNTK_TRY(sntk_agree(comm, err));
  for (int64_t p = 0; p < pairs; p++) {
    double v[2], h;
    draw_reference(tg, seed, SNTK_RNG_DIFF_REF2, 2 * p * n, n, A);
    draw_reference(tg, seed, SNTK_RNG_DIFF_REF2, (2 * p + 1) * n, n, B);
    SNTK_TRY(sntk_sliced_w2(comm, n, A, n, B, tg->d, cfg->projections, seed, &v[0]));
    SNTK_TRY(sntk_mmd_rbf(comm, n, A, n, B, tg->d, &v[1], &h));
    for (int k = 0; k < 2; k++) s1[k] += v[k], s2[k] += v[k] * v[k];
  }
  for (int k = 0; k < 2; k++) {
    const double mean = s1[k] / (double)pairs, var = s2[k] / (double)pairs - mean * mean;
    floor[2 * k] = mean;
    floor[2 * k + 1] = pairs > 1 && var > 0 ? sqrt(var * (double)pairs / (double)(pairs - 1)) : 0;
  }
done:
  free(A), free(B);
  return err;
}

static int write_floor(sntk_results_t *res, const double *floor, int64_t pairs) {
  static const char *const names[4] = {"sw2_floor", "sw2_floor_std", "mmd_floor", "mmd_floor_std"};
  for (int k = 0; k < 4; k++)
    SNTK_CALL(sntk_results_attr_at_f64(res, "/samples", names[k], floor[k]));
  return sntk_results_attr_at_f64(res, "/samples", "floor_pairs", (double)pairs);
}

static int measure(MPI_Comm comm, const sntk_diffusion_cfg_t *cfg, uint64_t seed,
                   const sntk_target_t *tg, double radius, int64_t n, const double *ref,
                   sample_set_t *set) {
  SNTK_CALL(sntk_sliced_w2(comm, n, set->X, n, ref, tg->d, cfg->projections, seed, &set->sw2));
  SNTK_CALL(sntk_mmd_rbf(comm, n, set->X, n, ref, tg->d, &set->mmd, &set->bandwidth));
  set->inside = NAN;
  set->covered = -1;
  if (sntk_target_exact(tg))
    sntk_mode_coverage(tg, cfg->t0, radius, n, set->X, set->frac, &set->inside, &set->covered);
  return SNTK_OK;
}

static int write_set(sntk_results_t *res, const sntk_diffusion_cfg_t *cfg, const sntk_target_t *tg,
                     int which, const sample_set_t *set) {
  char path[128], name[64];
  const char *nm = set_names[which];
  snprintf(name, sizeof name, "sw2_%s", nm);
  SNTK_CALL(sntk_results_attr_at_f64(res, "/samples", name, set->sw2));
  snprintf(name, sizeof name, "mmd_%s", nm);
  SNTK_CALL(sntk_results_attr_at_f64(res, "/samples", name, set->mmd));
  if (sntk_target_exact(tg)) {
    snprintf(path, sizeof path, "/samples/mode_inside_%s", nm);
    SNTK_CALL(sntk_results_matrix(res, path, tg->C, 0, set->frac, "1",
                                  "share of the samples within each mode's radius"));
    snprintf(name, sizeof name, "modes_covered_%s", nm);
    SNTK_CALL(sntk_results_attr_at_f64(res, "/samples", name, (double)set->covered));
    snprintf(name, sizeof name, "inside_%s", nm);
    SNTK_CALL(sntk_results_attr_at_f64(res, "/samples", name, set->inside));
  }
  if (cfg->samples > cfg->store_samples) return SNTK_OK;
  snprintf(path, sizeof path, "/samples/%s", nm);
  SNTK_CALL(sntk_results_matrix(res, path, cfg->samples, tg->d, set->X, "1",
                                "samples at t0, one per row"));
  return sntk_results_attr_at_str(res, path, "description", set_help[which]);
}

static int write_settings(sntk_results_t *res, const sntk_diffusion_cfg_t *cfg, uint64_t seed,
                          int64_t step, const double *times, int64_t d, const double *ref,
                          double radius) {
  SNTK_CALL(sntk_results_matrix(res, "/samples/time_grid", cfg->sample_steps + 1, 0, times, "1",
                                "the sampler's times, from T down to t0"));
  if (cfg->samples <= cfg->store_samples)
    SNTK_CALL(sntk_results_matrix(res, "/samples/reference", cfg->samples, d, ref, "1",
                                  "fresh target samples the metrics compare with"));
  SNTK_CALL(sntk_results_attr_at_str(res, "/samples", "sampler",
                                     cfg->sampler == SNTK_SAMPLER_SDE
                                         ? "sde: reverse SDE, Euler-Maruyama"
                                         : "ode: probability-flow ODE, Heun"));
  SNTK_CALL(sntk_results_attr_at_f64(res, "/samples", "samples", (double)cfg->samples));
  SNTK_CALL(sntk_results_attr_at_f64(res, "/samples", "sample_steps", (double)cfg->sample_steps));
  SNTK_CALL(sntk_results_attr_at_f64(res, "/samples", "t0", cfg->t0));
  SNTK_CALL(sntk_results_attr_at_f64(res, "/samples", "T", cfg->T));
  SNTK_CALL(sntk_results_attr_at_f64(res, "/samples", "sample_seed", (double)seed));
  SNTK_CALL(sntk_results_attr_at_f64(res, "/samples", "projections", (double)cfg->projections));
  SNTK_CALL(sntk_results_attr_at_f64(res, "/samples", "step", (double)step));
  SNTK_CALL(sntk_results_attr_at_f64(res, "/samples", "coverage_level", cfg->coverage_level));
  SNTK_CALL(sntk_results_attr_at_f64(res, "/samples", "coverage_radius", radius));
  return sntk_results_attr_at_str(
      res, "/samples", "metrics",
      "sets: learned (network score), exact (exact score), noise (N(0, I)), gaussian (moment-"
      "matched Gaussian at t0), kernel (kernel regression with H*); sw2: sliced Wasserstein-2 "
      "against the reference sample; mmd: RBF MMD (median bandwidth, V-statistic); inside: share "
      "of the samples within coverage_radius of alpha_t0 mu_c for some mode c, the radius holding "
      "coverage_level of a component's samples at t0; modes_covered: modes holding at least half "
      "their weight within it; floor: mean (and standard deviation) over floor_pairs pairs of "
      "independent target samples of the same size");
}

static void log_table(const sntk_target_t *tg, const sample_set_t *sets, const double *floor) {
  const int mix = sntk_target_exact(tg);
  sntk_log("samples %-9s %12s %12s %8s %14s", "set", "sliced W2", "MMD", mix ? "inside" : "",
           mix ? "modes covered" : "");
  for (int k = 0; k < NSETS; k++) {
    const sample_set_t *s = &sets[k];
    if (!s->used) continue;
    if (mix)
      sntk_log("samples %-9s %12.4e %12.4e %7.1f%% %9lld of %lld", set_names[k], s->sw2, s->mmd,
               100.0 * s->inside, (long long)s->covered, (long long)tg->C);
    else
      sntk_log("samples %-9s %12.4e %12.4e", set_names[k], s->sw2, s->mmd);
  }
  sntk_log("samples %-9s %12.4e %12.4e   (mean over pairs of target samples; standard deviation "
           "%.1e and %.1e)",
           "floor", floor[0], floor[2], floor[1], floor[3]);
}

int sntk_diffusion_sample_report(MPI_Comm comm, const sntk_diffusion_cfg_t *cfg, uint64_t seed,
                                 const sntk_target_t *tg, const sntk_diff_map_t *map,
                                 sntk_model_t *md, sntk_score_fn kernel, void *kernel_ctx,
                                 int64_t step, sntk_results_t *res) {
  const int64_t n = cfg->samples, d = tg->d;
  const int exact = sntk_target_exact(tg);
  sample_set_t sets[NSETS];
  sntk_learned_t ln = {0};
  double *ref = NULL, *times = NULL, floor[4];
  const double radius = exact ? sntk_mode_radius(tg, cfg->t0, cfg->coverage_level) : NAN;
  const sntk_sampler_t sp = {cfg->sampler, cfg->time_grid, cfg->sample_steps,
                             cfg->t0,      cfg->T,         seed};
  int err = SNTK_OK;
  memset(sets, 0, sizeof sets);
  sets[SET_LEARNED].used = sets[SET_NOISE].used = sets[SET_GAUSSIAN].used = 1;
  sets[SET_EXACT].used = exact;
  sets[SET_KERNEL].used = kernel != NULL;
  for (int k = 0; k < NSETS && !err; k++) {
    if (!sets[k].used) continue;
    err = SNTK_ALLOC(sets[k].X, n * d);
    if (!err) err = SNTK_ALLOC(sets[k].frac, tg->C > 0 ? tg->C : 1);
  }
  if (!err) err = SNTK_ALLOC(ref, n * d);
  if (!err) err = SNTK_ALLOC(times, cfg->sample_steps + 1);
  if (!err) err = sntk_learned_create(md, map, n, &ln);
  SNTK_TRY(sntk_agree(comm, err));
  sntk_log(
      "sampling: %lld samples, %s with %lld steps (%s grid) from T = %g to t0 = %g, weights of "
      "step %lld; modes covered within %.4g of their means (%g of a component's samples)",
      (long long)n, sntk_sampler_names[cfg->sampler], (long long)cfg->sample_steps,
      cfg->time_grid == SNTK_TGRID_GEOMETRIC ? "geometric" : "uniform", cfg->T, cfg->t0,
      (long long)step, radius, cfg->coverage_level);
  SNTK_TRY(sntk_results_remove(res, "/samples")); /* of an earlier end of this run */
  draw_reference(tg, seed, SNTK_RNG_DIFF_REF, 0, n, ref);
  sntk_sampler_times(&sp, times);
  SNTK_TRY(sntk_sampler_run(&sp, sntk_score_learned, &ln, n, d, sets[SET_LEARNED].X));
  if (exact) SNTK_TRY(sntk_sampler_run(&sp, sntk_score_exact, (void *)tg, n, d, sets[SET_EXACT].X));
  if (kernel) SNTK_TRY(sntk_sampler_run(&sp, kernel, kernel_ctx, n, d, sets[SET_KERNEL].X));
  draw_noise(seed, n, d, sets[SET_NOISE].X);
  SNTK_TRY(sntk_agree(comm, draw_gaussian(tg, cfg->t0, seed, n, sets[SET_GAUSSIAN].X)));
  SNTK_TRY(write_settings(res, cfg, seed, step, times, d, ref, radius));
  for (int k = 0; k < NSETS; k++) {
    if (!sets[k].used) continue;
    SNTK_TRY(measure(comm, cfg, seed, tg, radius, n, ref, &sets[k]));
    SNTK_TRY(write_set(res, cfg, tg, k, &sets[k]));
  }
  SNTK_TRY(noise_floor(comm, cfg, seed, tg, n, floor));
  SNTK_TRY(write_floor(res, floor, cfg->floor_pairs));
  log_table(tg, sets, floor);
done:
  sntk_learned_free(&ln);
  for (int k = 0; k < NSETS; k++) free(sets[k].X), free(sets[k].frac);
  free(ref), free(times);
  return err;
}
