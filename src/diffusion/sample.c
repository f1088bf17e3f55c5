/* Sampling and its evaluation: samples from the reverse process with the learned score (and with
 * the exact score, which isolates the discretisation and start-up error from the score error),
 * metrics against a fresh reference sample of the target, and the noise floor of each metric: its
 * mean (and spread) over diffusion.floor_pairs pairs of independent target samples of the same
 * size. One pair is not enough: for a mixture the sliced W2 of two independent samples of 2000
 * points ranges over a factor 3 between its 5th and 95th percentiles (mode proportions fluctuate).
 * `softntk score` writes all this into results.h5 /samples at its end; `softntk sample` loads a
 * run's checkpoint and writes it into <run dir>/samples.h5. */
#include "diffusion_impl.h"

#include "softntk/error.h"
#include "softntk/log.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* One set of samples and its metrics against the reference sample. */
typedef struct sample_set {
  const char *name; /* "learned" or "exact" */
  double *X;        /* n x d */
  double sw2, mmd, bandwidth, mean_dist;
  int64_t covered;
  double *frac; /* C mode fractions (mixtures) */
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
  sntk_log("samples floor    sliced W2 %.4e +- %.1e  MMD %.4e +- %.1e (mean and standard deviation "
           "over %lld pairs of independent target samples)",
           floor[0], floor[1], floor[2], floor[3], (long long)pairs);
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
                   const sntk_target_t *tg, int64_t n, const double *ref, sample_set_t *set) {
  SNTK_CALL(sntk_sliced_w2(comm, n, set->X, n, ref, tg->d, cfg->projections, seed, &set->sw2));
  SNTK_CALL(sntk_mmd_rbf(comm, n, set->X, n, ref, tg->d, &set->mmd, &set->bandwidth));
  if (sntk_target_exact(tg))
    sntk_mode_coverage(tg, n, set->X, set->frac, &set->covered, &set->mean_dist);
  if (sntk_target_exact(tg))
    sntk_log("samples %-8s sliced W2 %.4e  MMD %.4e  modes covered %lld of %lld  mean distance to "
             "the nearest mean %.4e",
             set->name, set->sw2, set->mmd, (long long)set->covered, (long long)tg->C,
             set->mean_dist);
  else
    sntk_log("samples %-8s sliced W2 %.4e  MMD %.4e", set->name, set->sw2, set->mmd);
  return SNTK_OK;
}

static int write_set(sntk_results_t *res, const sntk_diffusion_cfg_t *cfg, const sntk_target_t *tg,
                     const sample_set_t *set) {
  char path[128], name[64];
  snprintf(name, sizeof name, "sw2_%s", set->name);
  SNTK_CALL(sntk_results_attr_at_f64(res, "/samples", name, set->sw2));
  snprintf(name, sizeof name, "mmd_%s", set->name);
  SNTK_CALL(sntk_results_attr_at_f64(res, "/samples", name, set->mmd));
  if (sntk_target_exact(tg)) {
    snprintf(path, sizeof path, "/samples/mode_fraction_%s", set->name);
    SNTK_CALL(sntk_results_matrix(res, path, tg->C, 0, set->frac, "1",
                                  "share of the samples nearest to each mixture mean"));
    snprintf(name, sizeof name, "modes_covered_%s", set->name);
    SNTK_CALL(sntk_results_attr_at_f64(res, "/samples", name, (double)set->covered));
    snprintf(name, sizeof name, "mean_distance_%s", set->name);
    SNTK_CALL(sntk_results_attr_at_f64(res, "/samples", name, set->mean_dist));
  }
  if (cfg->samples > cfg->store_samples) return SNTK_OK;
  snprintf(path, sizeof path, "/samples/%s", set->name);
  return sntk_results_matrix(res, path, cfg->samples, tg->d, set->X, "1",
                             "generated samples at t0, one per row");
}

static int write_settings(sntk_results_t *res, const sntk_diffusion_cfg_t *cfg, uint64_t seed,
                          int64_t step, const double *times, int64_t d, const double *ref) {
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
  return sntk_results_attr_at_str(
      res, "/samples", "metrics",
      "sw2: sliced Wasserstein-2 against the reference sample; mmd: "
      "RBF MMD (median bandwidth, V-statistic); floor: mean (and "
      "standard deviation) over floor_pairs pairs of independent target "
      "samples of the same size");
}

/* The sets: learned, exact (mixtures); X and frac of each allocated here. */
static int alloc_sets(const sntk_target_t *tg, int64_t n, sample_set_t *sets, int nsets) {
  static const char *const names[] = {"learned", "exact"};
  for (int s = 0; s < nsets; s++) {
    sets[s].name = names[s];
    SNTK_CALL(SNTK_ALLOC(sets[s].X, n * tg->d));
    SNTK_CALL(SNTK_ALLOC(sets[s].frac, tg->C > 0 ? tg->C : 1));
  }
  return SNTK_OK;
}

int sntk_diffusion_sample_report(MPI_Comm comm, const sntk_diffusion_cfg_t *cfg, uint64_t seed,
                                 const sntk_target_t *tg, const sntk_diff_map_t *map,
                                 sntk_model_t *md, int64_t step, sntk_results_t *res) {
  const int64_t n = cfg->samples, d = tg->d;
  const int exact = sntk_target_exact(tg), nsets = 2;
  sample_set_t sets[2];
  sntk_learned_t ln = {0};
  double *ref = NULL, *times = NULL, floor[4];
  const sntk_sampler_t sp = {cfg->sampler, cfg->time_grid, cfg->sample_steps,
                             cfg->t0,      cfg->T,         seed};
  int err = SNTK_OK;
  memset(sets, 0, sizeof sets);
  err = alloc_sets(tg, n, sets, nsets);
  if (!err) err = SNTK_ALLOC(ref, n * d);
  if (!err) err = SNTK_ALLOC(times, cfg->sample_steps + 1);
  if (!err) err = sntk_learned_create(md, map, n, &ln);
  SNTK_TRY(sntk_agree(comm, err));
  sntk_log(
      "sampling: %lld samples, %s with %lld steps (%s grid) from T = %g to t0 = %g, weights of "
      "step %lld",
      (long long)n, sntk_sampler_names[cfg->sampler], (long long)cfg->sample_steps,
      cfg->time_grid == SNTK_TGRID_GEOMETRIC ? "geometric" : "uniform", cfg->T, cfg->t0,
      (long long)step);
  SNTK_TRY(sntk_results_remove(res, "/samples")); /* of an earlier end of this run */
  draw_reference(tg, seed, SNTK_RNG_DIFF_REF, 0, n, ref);
  sntk_sampler_times(&sp, times);
  SNTK_TRY(sntk_sampler_run(&sp, sntk_score_learned, &ln, n, d, sets[0].X));
  if (exact) SNTK_TRY(sntk_sampler_run(&sp, sntk_score_exact, (void *)tg, n, d, sets[1].X));
  SNTK_TRY(write_settings(res, cfg, seed, step, times, d, ref));
  for (int s = 0; s < nsets; s++) {
    if (s == 1 && !exact) continue;
    SNTK_TRY(measure(comm, cfg, seed, tg, n, ref, &sets[s]));
    SNTK_TRY(write_set(res, cfg, tg, &sets[s]));
  }
  SNTK_TRY(noise_floor(comm, cfg, seed, tg, n, floor));
  SNTK_TRY(write_floor(res, floor, cfg->floor_pairs));
done:
  sntk_learned_free(&ln);
  for (int s = 0; s < nsets; s++) free(sets[s].X), free(sets[s].frac);
  free(ref), free(times);
  return err;
}
