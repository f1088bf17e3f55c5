/* Held-out evaluation of a learned score (DESIGN.md section 5).
 *
 * Weighting: the error reported is E_t E_x ||sigma_t^2 (s_net(t, x) - s*(t, x))||^2 with
 * t ~ U[t0, T], which equals E alpha_t^2 ||f_net - f*||^2 for the x_0-predicting network. The
 * weight sigma_t^4 is the one that makes the score error at every t exactly the (alpha_t-scaled)
 * regression error the network is trained on and the theory of Han, Razaviyayn and Xu bounds: it is
 * finite as t -> 0, where the unweighted score error sigma_t^-4 alpha_t^2 ||f - f*||^2 blows up and
 * would let the smallest times dominate every average. Per-bin values show where in t the error
 * lives.
 *
 * The t-bins are log-spaced in [t0, T] (the score changes fastest at small t) and the held-out
 * points are stratified: point j lies in bin j mod t_bins, t uniform within the bin. The overall
 * error is sum_b P(bin b) mean_b, an unbiased estimate of the expectation under t ~ U[t0, T] with
 * every bin equally well resolved. Without an exact score (file targets) the errors are measured
 * against the noisy labels x_0 instead of f* = E[x_0 | x_t]: the same minimiser, plus a constant.
 */
#include "diffusion_impl.h"
#include "softntk/target.h"
#include "softntk/process.h"

#include "softntk/error.h"
#include "softntk/perf.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void sntk_diff_eval_destroy(sntk_diff_eval_t **ev) {
  sntk_diff_eval_t *e = *ev;
  if (!e) return;
  free(e->edges), free(e->binw), free(e->count), free(e->t), free(e->xt), free(e->x0);
  free(e->fstar), free(e->Z), free(e->F);
  free(e);
  *ev = NULL;
}

static int alloc_eval(int64_t n, int64_t d, int64_t nb, sntk_diff_eval_t *e) {
  e->n = n, e->d = d, e->nbins = nb;
  SNTK_CALL(SNTK_ALLOC(e->edges, nb + 1));
  SNTK_CALL(SNTK_ALLOC(e->binw, nb));
  SNTK_CALL(SNTK_ALLOC(e->count, nb));
  SNTK_CALL(SNTK_ALLOC(e->t, n));
  SNTK_CALL(SNTK_ALLOC(e->xt, n * d));
  SNTK_CALL(SNTK_ALLOC(e->x0, n * d));
  SNTK_CALL(SNTK_ALLOC(e->fstar, n * d));
  SNTK_CALL(SNTK_ALLOC(e->Z, n * (d + 2)));
  SNTK_CALL(SNTK_ALLOC(e->F, n * d));
  return SNTK_OK;
}

/* The points, their targets f* and the zero predictor's error. */
static int fill_points(sntk_diff_eval_t *e, const sntk_target_t *tg, const sntk_diff_map_t *map,
                       uint64_t seed) {
  const int64_t d = e->d, nb = e->nbins;
  double *part = NULL;
  SNTK_CALL(SNTK_ALLOC(part, nb));
  for (int64_t j = 0; j < e->n; j++) {
    const int64_t b = j % nb;
    double *x0 = e->x0 + j * d, *xt = e->xt + j * d, *f = e->fstar + j * d;
    sntk_diff_triple(tg, e->edges[b], e->edges[b + 1], seed, SNTK_RNG_DIFF_EVAL, (uint64_t)j, x0,
                     e->t + j, xt);
    sntk_diff_input(map, xt, e->t[j], e->Z + j * (d + 2));
    if (e->exact)
      sntk_target_posterior_mean(tg, e->t[j], xt, f, NULL);
    else
      memcpy(f, x0, (size_t)d * sizeof *f);
    const double a = sntk_ou_alpha(e->t[j]);
    double q = 0.0;
    for (int64_t l = 0; l < d; l++) q += a * a * f[l] * f[l];
    part[b] += q;
    e->count[b]++;
  }
  e->norm = 0.0;
  for (int64_t b = 0; b < nb; b++) e->norm += e->binw[b] * part[b] / (double)e->count[b];
  free(part);
  return SNTK_OK;
}

int sntk_diff_eval_create(const sntk_target_t *tg, const sntk_diff_map_t *map,
                          const sntk_diffusion_cfg_t *cfg, uint64_t seed, sntk_diff_eval_t **out) {
  sntk_diff_eval_t *e = NULL;
  int err = SNTK_OK;
  *out = NULL;
  if (cfg->eval_points < cfg->t_bins)
    return sntk_error(SNTK_ERR_INPUT,
                      "diffusion.eval_points = %lld is less than diffusion.t_bins "
                      "= %lld: every bin needs held-out points",
                      (long long)cfg->eval_points, (long long)cfg->t_bins);
  SNTK_TRY(SNTK_ALLOC(e, 1));
  SNTK_TRY(alloc_eval(cfg->eval_points, tg->d, cfg->t_bins, e));
  e->exact = sntk_target_exact(tg);
  const double ratio = cfg->T / cfg->t0;
  for (int64_t b = 0; b <= e->nbins; b++)
    e->edges[b] = cfg->t0 * pow(ratio, (double)b / (double)e->nbins);
  e->edges[0] = cfg->t0;
  e->edges[e->nbins] = cfg->T;
  for (int64_t b = 0; b < e->nbins; b++)
    e->binw[b] = (e->edges[b + 1] - e->edges[b]) / (cfg->T - cfg->t0);
  e->map = *map;
  SNTK_TRY(fill_points(e, tg, map, seed));
done:
  if (err) sntk_diff_eval_destroy(&e);
  *out = e;
  return err;
}

void sntk_diff_eval_errors(const sntk_diff_eval_t *e, const double *F, sntk_diff_errors_t *out) {
  const int64_t d = e->d, nb = e->nbins;
  double loss = 0.0, error = 0.0, unweighted = 0.0;
  double *ub = out->bins_unweighted;
  for (int64_t b = 0; b < nb; b++) out->bins[b] = 0.0;
  for (int64_t b = 0; ub && b < nb; b++) ub[b] = 0.0;
  for (int64_t j = 0; j < e->n; j++) {
    const double a = sntk_ou_alpha(e->t[j]), s2 = sntk_ou_sigma2(e->t[j]);
    double q = 0.0, r = 0.0;
    for (int64_t l = 0; l < d; l++) {
      const double f = F[j * d + l];
      q += (f - e->fstar[j * d + l]) * (f - e->fstar[j * d + l]);
      r += (f - e->x0[j * d + l]) * (f - e->x0[j * d + l]);
    }
    out->bins[j % nb] += a * a * q;
    if (ub) ub[j % nb] += a * a * q / (s2 * s2);
    loss += 0.5 * r;
  }
  for (int64_t b = 0; b < nb; b++) {
    out->bins[b] /= (double)e->count[b];
    error += e->binw[b] * out->bins[b];
    if (!ub) continue;
    ub[b] = e->exact ? ub[b] / (double)e->count[b] : NAN;
    unweighted += (e->edges[b + 1] - e->edges[b]) * ub[b];
  }
  out->error = error;
  out->rel_error = e->norm > 0 ? error / e->norm : NAN;
  out->loss = loss / (double)e->n;
  out->error_unweighted = ub && e->exact ? unweighted : NAN;
}

double sntk_diff_kl_T_bound(const sntk_target_t *tg, double T) {
  if (!sntk_target_exact(tg)) return NAN;
  /* p_T = sum_c w_c N(alpha mu_c, v I): KL is convex, so KL(p_T || N(0, I)) <= sum_c w_c
   * KL(N(alpha mu_c, v I) || N(0, I)) = sum_c w_c (d v + alpha^2 |mu_c|^2 - d - d ln v) / 2 */
  const double a = sntk_ou_alpha(T), v = a * a * tg->width * tg->width + sntk_ou_sigma2(T);
  const double dd = (double)tg->d;
  double kl = 0.0;
  for (int64_t c = 0; c < tg->C; c++) {
    double m2 = 0.0;
    for (int64_t l = 0; l < tg->d; l++) m2 += tg->mu[c * tg->d + l] * tg->mu[c * tg->d + l];
    kl += tg->w[c] * 0.5 * (dd * v + a * a * m2 - dd - dd * log(v));
  }
  return kl;
}

int sntk_diff_eval_run(sntk_diff_eval_t *e, sntk_model_t *md, sntk_diff_errors_t *out) {
  sntk_perf_start(SNTK_EV_SCORE_EVAL);
  int err = sntk_model_forward(md, e->Z, e->n, e->F);
  sntk_perf_stop(SNTK_EV_SCORE_EVAL, 0.0);
  SNTK_CALL(err);
  for (int64_t j = 0; j < e->n; j++)
    sntk_diff_output(&e->map, e->t[j], e->xt + j * e->d, e->F + j * e->d, e->F + j * e->d);
  sntk_diff_eval_errors(e, e->F, out);
  return SNTK_OK;
}
