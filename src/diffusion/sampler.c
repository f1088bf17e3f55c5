/* Samplers of the reverse process from T down to t0 with a score field: the reverse SDE by
 * Euler-Maruyama and the probability-flow ODE by Heun's method (DESIGN.md section 5).
 *
 * In reverse time tau = T - t the forward process dx = -x dt + sqrt(2) dW becomes
 *   SDE: dx = (x + 2 s(t, x)) dtau + sqrt(2) dW,    ODE: dx/dtau = x + s(t, x),
 * started from the stationary law N(0, I) (which differs from p_T by O(exp(-T))). Every rank holds
 * all samples and updates them identically; the learned score evaluates the whole batch through the
 * sharded network once per score evaluation (one allreduce per chunk), so the samples stay
 * identical on every rank. Sample i draws x_T and its noise from its own stream (seed, SAMPLE, i):
 * samplers with different score fields see the same randomness, which separates score error from
 * sampling noise. */
#include "softntk/diffusion.h"
#include "softntk/target.h"
#include "softntk/process.h"
#include "softntk/sampler.h"

#include "softntk/error.h"
#include "softntk/perf.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int sntk_learned_create(sntk_model_t *md, const sntk_diff_map_t *map, int64_t n,
                        sntk_learned_t *out) {
  memset(out, 0, sizeof *out);
  out->md = md;
  out->map = map;
  out->n = n;
  int err = SNTK_ALLOC(out->Z, n * (map->d + 2));
  if (!err) err = SNTK_ALLOC(out->F, n * map->d);
  if (err) sntk_learned_free(out);
  return err;
}

void sntk_learned_free(sntk_learned_t *ln) {
  free(ln->Z);
  free(ln->F);
  ln->Z = ln->F = NULL;
}

int sntk_score_learned(void *ctx, double t, int64_t n, const double *X, double *S) {
  sntk_learned_t *ln = ctx;
  const int64_t d = ln->map->d;
  if (n > ln->n)
    return sntk_error(SNTK_ERR_RUNTIME, "learned score: %lld points, workspace for %lld",
                      (long long)n, (long long)ln->n);
  for (int64_t i = 0; i < n; i++) sntk_diff_input(ln->map, X + i * d, t, ln->Z + i * (d + 2));
  SNTK_CALL(sntk_model_forward(ln->md, ln->Z, n, ln->F));
  for (int64_t i = 0; i < n; i++)
    sntk_diff_output(ln->map, t, X + i * d, ln->F + i * d, ln->F + i * d);
  const double alpha = sntk_ou_alpha(t), inv = 1.0 / sntk_ou_sigma2(t);
  for (int64_t i = 0; i < n * d; i++) S[i] = (alpha * ln->F[i] - X[i]) * inv;
  return SNTK_OK;
}

int sntk_score_exact(void *ctx, double t, int64_t n, const double *X, double *S) {
  const sntk_target_t *tg = ctx;
  for (int64_t i = 0; i < n; i++) sntk_target_score(tg, t, X + i * tg->d, S + i * tg->d);
  return SNTK_OK;
}

void sntk_sampler_times(const sntk_sampler_t *sp, double *times) {
  const double K = (double)sp->steps;
  for (int64_t k = 0; k <= sp->steps; k++) {
    const double f = (double)k / K;
    times[k] = sp->grid == SNTK_TGRID_GEOMETRIC ? sp->T * pow(sp->t0 / sp->T, f)
                                                : sp->T + (sp->t0 - sp->T) * f;
  }
  times[0] = sp->T;
  times[sp->steps] = sp->t0;
}

/* One Euler-Maruyama step from t to t - h: x += h (x + 2 s) + sqrt(2 h) xi. */
static int sde_step(sntk_score_fn fn, void *ctx, double t, double h, int64_t n, int64_t d,
                    double *X, double *S, sntk_rng_t *streams) {
  SNTK_CALL(fn(ctx, t, n, X, S));
  const double noise = sqrt(2.0 * h);
  for (int64_t i = 0; i < n; i++)
    for (int64_t j = 0; j < d; j++) {
      double *x = X + i * d + j;
      *x += h * (*x + 2.0 * S[i * d + j]) + noise * sntk_rng_normal(streams + i);
    }
  return SNTK_OK;
}

/* One Heun step of the ODE from t to t - h: predictor x + h g(t, x), corrector with the mean slope.
 */
static int ode_step(sntk_score_fn fn, void *ctx, double t, double h, int64_t n, int64_t d,
                    double *X, double *S, double *Xp) {
  SNTK_CALL(fn(ctx, t, n, X, S));
  for (int64_t i = 0; i < n * d; i++) {
    S[i] += X[i]; /* slope g1 = x + s */
    Xp[i] = X[i] + h * S[i];
  }
  for (int64_t i = 0; i < n * d; i++) X[i] += 0.5 * h * S[i];
  SNTK_CALL(fn(ctx, t - h, n, Xp, S));
  for (int64_t i = 0; i < n * d; i++) X[i] += 0.5 * h * (S[i] + Xp[i]);
  return SNTK_OK;
}

int sntk_sampler_run(const sntk_sampler_t *sp, sntk_score_fn fn, void *ctx, int64_t n, int64_t d,
                     double *X) {
  double *times = NULL, *S = NULL, *Xp = NULL;
  sntk_rng_t *streams = NULL;
  int err = SNTK_OK;
  SNTK_TRY(SNTK_ALLOC(times, sp->steps + 1));
  SNTK_TRY(SNTK_ALLOC(S, n * d));
  SNTK_TRY(SNTK_ALLOC(Xp, sp->kind == SNTK_SAMPLER_ODE ? n * d : 1));
  SNTK_TRY(SNTK_ALLOC(streams, n));
  sntk_sampler_times(sp, times);
  for (int64_t i = 0; i < n; i++) {
    sntk_rng_init(streams + i, sp->seed, SNTK_RNG_DIFF_SAMPLE, (uint64_t)i);
    for (int64_t j = 0; j < d; j++) X[i * d + j] = sntk_rng_normal(streams + i);
  }
  sntk_perf_start(SNTK_EV_SAMPLER);
  for (int64_t k = 0; k < sp->steps && !err; k++) {
    const double t = times[k], h = times[k] - times[k + 1];
    err = sp->kind == SNTK_SAMPLER_SDE ? sde_step(fn, ctx, t, h, n, d, X, S, streams)
                                       : ode_step(fn, ctx, t, h, n, d, X, S, Xp);
  }
  sntk_perf_stop(SNTK_EV_SAMPLER, 0.0);
done:
  free(times), free(S), free(Xp), free(streams);
  return err;
}
