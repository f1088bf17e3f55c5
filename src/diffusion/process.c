/* The forward Ornstein-Uhlenbeck process, the network's input map and the training triples
 * (x_0, t ~ U[t0, T], xi) of denoising score matching, each a pure function of its stream key. */
#include "softntk/diffusion.h"
#include "softntk/target.h"
#include "softntk/process.h"

#include "softntk/error.h"

#include <math.h>
#include <stdlib.h>

double sntk_ou_alpha(double t) {
  return exp(-t);
}

double sntk_ou_sigma2(double t) {
  return -expm1(-2.0 * t);
}

void sntk_diff_map_init(sntk_diff_map_t *map, const sntk_diffusion_cfg_t *cfg,
                        const sntk_target_t *tg) {
  map->d = tg->d;
  map->scale = cfg->input_scale > 0 ? cfg->input_scale : sqrt(tg->msq + (double)tg->d);
  map->T = cfg->T;
  map->param = cfg->parametrisation;
  map->sdata = sqrt(tg->msq / (double)tg->d);
}

void sntk_diff_output_coeffs(const sntk_diff_map_t *map, double t, double *c_skip, double *c_out) {
  if (map->param == SNTK_PARAM_PLAIN) {
    *c_skip = 0.0;
    *c_out = 1.0;
    return;
  }
  const double a = sntk_ou_alpha(t), s2 = sntk_ou_sigma2(t) / (a * a), q = map->sdata * map->sdata;
  *c_skip = q / ((s2 + q) * a);
  *c_out = sqrt(s2 * q / (s2 + q));
}

void sntk_diff_output(const sntk_diff_map_t *map, double t, const double *x, const double *F,
                      double *f) {
  double cs, co;
  sntk_diff_output_coeffs(map, t, &cs, &co);
  for (int64_t j = 0; j < map->d; j++) f[j] = cs * x[j] + co * F[j];
}

void sntk_diff_output_target(const sntk_diff_map_t *map, double t, const double *x, const double *f,
                             double *y) {
  double cs, co;
  sntk_diff_output_coeffs(map, t, &cs, &co);
  for (int64_t j = 0; j < map->d; j++) y[j] = (f[j] - cs * x[j]) / co;
}

void sntk_diff_input(const sntk_diff_map_t *map, const double *x, double t, double *z) {
  const int64_t d = map->d;
  double n2 = 0.0;
  for (int64_t j = 0; j < d; j++) {
    z[j] = x[j] / map->scale;
    n2 += z[j] * z[j];
  }
  z[d] = t / map->T;
  n2 += z[d] * z[d];
  const double q = 1.0 / sqrt(2.0 * (1.0 + n2));
  for (int64_t j = 0; j <= d; j++) z[j] *= q;
  z[d + 1] = sqrt(0.5);
}

void sntk_diff_triple(const sntk_target_t *tg, double t0, double T, uint64_t seed, int purpose,
                      uint64_t index, double *x0, double *t, double *xt) {
  sntk_rng_t s;
  sntk_rng_init(&s, seed, (uint64_t)purpose, index);
  sntk_target_draw(tg, &s, x0);
  *t = t0 + (T - t0) * sntk_rng_uniform(&s);
  const double alpha = sntk_ou_alpha(*t), sigma = sqrt(sntk_ou_sigma2(*t));
  for (int64_t j = 0; j < tg->d; j++) xt[j] = alpha * x0[j] + sigma * sntk_rng_normal(&s);
}

int sntk_diff_dataset(const sntk_target_t *tg, const sntk_diff_map_t *map, double t0, double T,
                      uint64_t seed, int purpose, uint64_t first, int64_t n, sntk_dataset_t *ds) {
  const int64_t d = tg->d, din = d + 2;
  double *xt = NULL;
  if (ds->X == NULL) SNTK_CALL(sntk_data_alloc(n, din, d, ds));
  if (ds->n != n || ds->d != din || ds->k != d)
    return sntk_error(SNTK_ERR_RUNTIME, "diffusion data set of shape %lld x %lld / %lld, not %lld",
                      (long long)ds->n, (long long)ds->d, (long long)ds->k, (long long)n);
  SNTK_CALL(SNTK_ALLOC(xt, d));
  for (int64_t i = 0; i < n; i++) {
    double t;
    sntk_diff_triple(tg, t0, T, seed, purpose, first + (uint64_t)i, ds->Y + i * d, &t, xt);
    sntk_diff_input(map, xt, t, ds->X + i * din);
    sntk_diff_output_target(map, t, xt, ds->Y + i * d, ds->Y + i * d);
  }
  free(xt);
  return SNTK_OK;
}
