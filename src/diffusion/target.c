/* Targets of score estimation: Gaussian mixtures sum_c w_c N(mu_c, s^2 I) (point masses when s = 0)
 * with their exact noised densities, scores and posterior means, and samples read from an HDF5 file
 * (score unknown). Under the forward process a mixture stays a mixture: p_t is
 * sum_c w_c N(alpha_t mu_c, v_t I) with v_t = alpha_t^2 s^2 + sigma_t^2, so with the posterior
 * component weights r_c(x) = softmax_c(log w_c - ||x - alpha_t mu_c||^2 / (2 v_t)):
 *   grad log p_t(x) = sum_c r_c (alpha_t mu_c - x) / v_t,
 *   E[x_0 | x_t = x] = sum_c r_c (mu_c + (alpha_t s^2 / v_t)(x - alpha_t mu_c)),
 * and Tweedie's formula (alpha_t E[x_0 | x] - x) / sigma_t^2 = grad log p_t(x) holds exactly. */
#include "diffusion_impl.h"
#include "softntk/target.h"
#include "softntk/process.h"

#include "softntk/error.h"
#include "softntk/h5util.h"
#include "softntk/parallel.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const double two_pi = 6.283185307179586476925286766559;

void sntk_target_destroy(sntk_target_t **tg) {
  if (!*tg) return;
  free((*tg)->mu);
  free((*tg)->w);
  free((*tg)->logw);
  free((*tg)->data);
  free((*tg)->scratch);
  free(*tg);
  *tg = NULL;
}

int sntk_target_exact(const sntk_target_t *tg) {
  return tg->kind == SNTK_DIFF_GMM;
}

/* Means on the sphere of radius R: evenly spaced on a circle in the first two coordinates (ring; in
 * one dimension +-R), or uniform directions from the MEANS stream (random). */
static void place_means(const sntk_diffusion_cfg_t *cfg, uint64_t seed, sntk_target_t *tg) {
  const int64_t d = tg->d;
  for (int64_t c = 0; c < tg->C; c++) {
    double *mu = tg->mu + c * d;
    if (cfg->layout == SNTK_LAYOUT_RING && d == 1) {
      mu[0] = c % 2 ? -cfg->radius : cfg->radius;
    } else if (cfg->layout == SNTK_LAYOUT_RING) {
      const double a = two_pi * (double)c / (double)tg->C;
      mu[0] = cfg->radius * cos(a);
      mu[1] = cfg->radius * sin(a);
    } else {
      sntk_rng_t s;
      double n2 = 0.0;
      sntk_rng_init(&s, seed, SNTK_RNG_DIFF_MEANS, (uint64_t)c);
      do {
        n2 = 0.0;
        for (int64_t j = 0; j < d; j++) mu[j] = sntk_rng_normal(&s), n2 += mu[j] * mu[j];
      } while (n2 == 0.0);
      for (int64_t j = 0; j < d; j++) mu[j] *= cfg->radius / sqrt(n2);
    }
  }
}

static int make_gmm(const sntk_diffusion_cfg_t *cfg, uint64_t seed, sntk_target_t *tg) {
  const int64_t C = cfg->components, d = cfg->dim;
  tg->d = d;
  tg->C = C;
  tg->width = cfg->width;
  SNTK_CALL(SNTK_ALLOC(tg->mu, C * d));
  SNTK_CALL(SNTK_ALLOC(tg->w, C));
  SNTK_CALL(SNTK_ALLOC(tg->logw, C));
  SNTK_CALL(SNTK_ALLOC(tg->scratch, C));
  SNTK_CALL(sntk_diffusion_weights(cfg, tg->w));
  if (cfg->means[0])
    SNTK_CALL(sntk_diffusion_means(cfg, tg->mu));
  else
    place_means(cfg, seed, tg);
  tg->msq = (double)d * tg->width * tg->width;
  for (int64_t c = 0; c < C; c++) {
    double n2 = 0.0;
    for (int64_t j = 0; j < d; j++) n2 += tg->mu[c * d + j] * tg->mu[c * d + j];
    tg->msq += tg->w[c] * n2;
    tg->logw[c] = log(tg->w[c]);
  }
  return SNTK_OK;
}

/* Rank 0: read and check the file's samples. */
static int read_samples(const sntk_diffusion_cfg_t *cfg, int dim_given, sntk_target_t *tg) {
  int64_t rows, cols;
  int err = sntk_h5_read_matrix(cfg->file, cfg->dataset, &rows, &cols, &tg->data);
  if (err) {
    char msg[2048];
    snprintf(msg, sizeof msg, "%s", sntk_error_message());
    return sntk_error(err, "diffusion.file: %s", msg);
  }
  char what[2 * SNTK_STR + 8];
  snprintf(what, sizeof what, "%s:%s", cfg->file, cfg->dataset);
  if (rows < 2)
    return sntk_error(SNTK_ERR_INPUT, "diffusion.file %s holds %lld sample(s): at least 2 needed",
                      what, (long long)rows);
  if (dim_given && cols != cfg->dim)
    return sntk_error(SNTK_ERR_INPUT, "diffusion.dim = %lld but %s has %lld columns",
                      (long long)cfg->dim, what, (long long)cols);
  SNTK_CALL(sntk_check_finite(tg->data, rows, cols, what));
  tg->rows = rows;
  tg->d = cols;
  return SNTK_OK;
}

static int make_file(MPI_Comm comm, const sntk_diffusion_cfg_t *cfg, int dim_given,
                     sntk_target_t *tg) {
  int rank, err = SNTK_OK;
  MPI_Comm_rank(comm, &rank);
  if (rank == 0) err = read_samples(cfg, dim_given, tg);
  SNTK_CALL(sntk_agree(comm, err));
  int64_t shape[2] = {tg->rows, tg->d};
  SNTK_CALL(SNTK_MPI(MPI_Bcast(shape, 2, MPI_INT64_T, 0, comm)));
  tg->rows = shape[0];
  tg->d = shape[1];
  if (rank != 0) err = SNTK_ALLOC(tg->data, tg->rows * tg->d);
  SNTK_CALL(sntk_agree(comm, err));
  SNTK_CALL(sntk_bcast_bytes(tg->data, tg->rows * tg->d * (int64_t)sizeof(double), 0, comm));
  tg->msq = 0.0;
  for (int64_t i = 0; i < tg->rows * tg->d; i++) tg->msq += tg->data[i] * tg->data[i];
  tg->msq /= (double)tg->rows;
  return SNTK_OK;
}

int sntk_target_create(MPI_Comm comm, const sntk_diffusion_cfg_t *cfg, uint64_t seed, int dim_given,
                       sntk_target_t **out) {
  sntk_target_t *tg = NULL;
  int err = SNTK_ALLOC(tg, 1);
  *out = NULL;
  SNTK_CALL(sntk_agree(comm, err));
  tg->kind = cfg->target;
  if (cfg->target == SNTK_DIFF_GMM)
    err = sntk_agree(comm, make_gmm(cfg, seed, tg));
  else
    err = make_file(comm, cfg, dim_given, tg);
  if (err) sntk_target_destroy(&tg);
  *out = tg;
  return err;
}

void sntk_target_draw(const sntk_target_t *tg, sntk_rng_t *s, double *x0) {
  const int64_t d = tg->d;
  const double u = sntk_rng_uniform(s);
  if (tg->kind == SNTK_DIFF_FILE) {
    int64_t row = (int64_t)(u * (double)tg->rows);
    if (row >= tg->rows) row = tg->rows - 1;
    memcpy(x0, tg->data + row * d, (size_t)d * sizeof *x0);
    return;
  }
  int64_t c = 0;
  double acc = tg->w[0];
  while (c + 1 < tg->C && u >= acc) acc += tg->w[++c];
  for (int64_t j = 0; j < d; j++) x0[j] = tg->mu[c * d + j];
  if (tg->width > 0)
    for (int64_t j = 0; j < d; j++) x0[j] += tg->width * sntk_rng_normal(s);
}

/* The log-weights l_c = log w_c - ||x - alpha mu_c||^2 / (2 v) into r, their log-sum-exp returned,
 * and r turned into the posterior weights softmax(l) when `normalise`. */
static double responsibilities(const sntk_target_t *tg, double alpha, double v, const double *x,
                               double *r, int normalise) {
  const int64_t d = tg->d;
  double top = -INFINITY, sum = 0.0;
  for (int64_t c = 0; c < tg->C; c++) {
    double q = 0.0;
    for (int64_t j = 0; j < d; j++) {
      double e = x[j] - alpha * tg->mu[c * d + j];
      q += e * e;
    }
    r[c] = tg->logw[c] - 0.5 * q / v;
    if (r[c] > top) top = r[c];
  }
  for (int64_t c = 0; c < tg->C; c++) sum += exp(r[c] - top);
  if (normalise)
    for (int64_t c = 0; c < tg->C; c++) r[c] = exp(r[c] - top) / sum;
  return top + log(sum);
}

/* Variance v_t of each noised component and alpha_t. */
static void noised(const sntk_target_t *tg, double t, double *alpha, double *v) {
  *alpha = sntk_ou_alpha(t);
  *v = *alpha * *alpha * tg->width * tg->width + sntk_ou_sigma2(t);
}

double sntk_target_log_density(const sntk_target_t *tg, double t, const double *x) {
  double alpha, v;
  noised(tg, t, &alpha, &v);
  const double lse = responsibilities(tg, alpha, v, x, tg->scratch, 0);
  return lse - 0.5 * (double)tg->d * log(two_pi * v);
}

void sntk_target_score(const sntk_target_t *tg, double t, const double *x, double *score) {
  const int64_t d = tg->d;
  double alpha, v, *r = tg->scratch;
  noised(tg, t, &alpha, &v);
  responsibilities(tg, alpha, v, x, r, 1);
  for (int64_t j = 0; j < d; j++) score[j] = -x[j] / v;
  for (int64_t c = 0; c < tg->C; c++)
    for (int64_t j = 0; j < d; j++) score[j] += r[c] * alpha * tg->mu[c * d + j] / v;
}

void sntk_target_posterior_mean(const sntk_target_t *tg, double t, const double *x, double *f,
                                double *resp) {
  const int64_t d = tg->d;
  double alpha, v, *r = resp ? resp : tg->scratch;
  noised(tg, t, &alpha, &v);
  const double shrink =
      alpha * tg->width * tg->width / v; /* E[x0|x_t, c] = mu + shrink (x - a mu) */
  responsibilities(tg, alpha, v, x, r, 1);
  for (int64_t j = 0; j < d; j++) f[j] = shrink * x[j];
  for (int64_t c = 0; c < tg->C; c++)
    for (int64_t j = 0; j < d; j++) f[j] += r[c] * (1.0 - shrink * alpha) * tg->mu[c * d + j];
}

int64_t sntk_target_nearest(const sntk_target_t *tg, const double *x, double *dist) {
  int64_t best = 0;
  double best2 = INFINITY;
  for (int64_t c = 0; c < tg->C; c++) {
    double q = 0.0;
    for (int64_t j = 0; j < tg->d; j++) {
      double e = x[j] - tg->mu[c * tg->d + j];
      q += e * e;
    }
    if (q < best2) best2 = q, best = c;
  }
  if (dist) *dist = sqrt(best2);
  return best;
}
