/* The [diffusion] section: keys, defaults, ranges, help, and the cross-key checks that need more
 * than one key (see diffusion.h). */
#include "softntk/diffusion.h"

#include "softntk/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const targets[] = {"gmm", "file", NULL};
static const char *const layouts[] = {"ring", "random", NULL};
const char *const sntk_sampler_names[] = {"sde", "ode", NULL};
static const char *const grids[] = {"geometric", "uniform", NULL};
static const char *const params[] = {"plain", "edm", NULL};

/* Parse a list of finite numbers separated by commas (positive ones when `positive`), storing up
 * to `max` of them. Returns the count, or -1 with the reason in why. */
static int parse_list(const char *text, int positive, double *out, int max, char *why, size_t len) {
  int count = 0;
  const char *p = text;
  while (*p) {
    char *end;
    double v = strtod(p, &end);
    if (end == p || !isfinite(v) || (positive && v <= 0)) {
      snprintf(why, len, "expected %snumbers separated by commas", positive ? "positive " : "");
      return -1;
    }
    if (count < max) out[count] = v;
    count++;
    while (*end == ' ' || *end == '\t') end++;
    if (*end == ',')
      end++;
    else if (*end) {
      snprintf(why, len, "unexpected '%c': the numbers are separated by commas", *end);
      return -1;
    }
    p = end;
  }
  return count;
}

static int check_weights(const char *text, char *why, size_t len) {
  return parse_list(text, 1, NULL, 0, why, len) < 0;
}

static int check_means(const char *text, char *why, size_t len) {
  return parse_list(text, 0, NULL, 0, why, len) < 0;
}

#define OFF(f) offsetof(sntk_diffusion_cfg_t, f)
const sntk_key_t sntk_diffusion_keys[] = {
    {"target", SNTK_T_CHOICE, OFF(target), "gmm", 0, 0, SNTK_KEY_TRAJECTORY, targets, NULL,
     "gmm: Gaussian mixture with exact score; file: samples x_0 from an HDF5 file (score unknown)"},
    {"dim", SNTK_T_INT, OFF(dim), "2", 1, 1e5, SNTK_KEY_TRAJECTORY, NULL, NULL,
     "data dimension d (the network has d + 2 inputs and d outputs)"},
    {"components", SNTK_T_INT, OFF(components), "4", 1, 1e5, SNTK_KEY_TRAJECTORY, NULL, NULL,
     "mixture components C"},
    {"layout", SNTK_T_CHOICE, OFF(layout), "ring", 0, 0, SNTK_KEY_TRAJECTORY, layouts, NULL,
     "means: ring (evenly spaced on a circle in the first two coordinates) or random (uniform on "
     "the sphere)"},
    {"radius", SNTK_T_REAL, OFF(radius), "1", 0, 1e6, SNTK_KEY_TRAJECTORY, NULL, NULL,
     "norm of every mean"},
    {"width", SNTK_T_REAL, OFF(width), "0.1", 0, 1e6, SNTK_KEY_TRAJECTORY, NULL, NULL,
     "shared isotropic standard deviation of the components (0: point masses)"},
    {"means", SNTK_T_STRING, OFF(means), "", 0, 0, SNTK_KEY_TRAJECTORY, NULL, check_means,
     "explicit means, C times dim comma-separated numbers (component-major); empty: layout and "
     "radius place them"},
    {"weights", SNTK_T_STRING, OFF(weights), "", 0, 0, SNTK_KEY_TRAJECTORY, NULL, check_weights,
     "component weights, C comma-separated positive numbers (normalised); empty: equal"},
    {"file", SNTK_T_STRING, OFF(file), "", 0, 0, SNTK_KEY_TRAJECTORY, NULL, NULL,
     "HDF5 file of samples x_0 (target = file)"},
    {"dataset", SNTK_T_STRING, OFF(dataset), "X", 0, 0, SNTK_KEY_TRAJECTORY, NULL, NULL,
     "dataset [rows, d] inside the file"},
    {"t0", SNTK_T_REAL, OFF(t0), "1e-3", 0, 1e3, SNTK_KEY_MIN_OPEN | SNTK_KEY_TRAJECTORY, NULL,
     NULL, "smallest diffusion time (training, evaluation and the sampler's end)"},
    {"T", SNTK_T_REAL, OFF(T), "5", 0, 1e3, SNTK_KEY_MIN_OPEN | SNTK_KEY_TRAJECTORY, NULL, NULL,
     "largest diffusion time (the sampler starts from N(0, I) there)"},
    {"samples_train", SNTK_T_INT, OFF(samples_train), "256", 1, 1e10, SNTK_KEY_TRAJECTORY, NULL,
     NULL, "N triples (x0, t, xi) of the full-batch training set"},
    {"minibatch", SNTK_T_INT, OFF(minibatch), "0", 0, 1e10, SNTK_KEY_TRAJECTORY, NULL, NULL,
     "0: full batch on the N triples drawn once; B > 0: B fresh triples each step (from seed and "
     "step)"},
    {"input_scale", SNTK_T_REAL, OFF(input_scale), "0", 0, 1e12, SNTK_KEY_TRAJECTORY, NULL, NULL,
     "x_t is divided by this in the network input; 0: sqrt(E||x0||^2 + d)"},
    {"eval_points", SNTK_T_INT, OFF(eval_points), "1024", 1, 1e9, 0, NULL, NULL,
     "held-out triples of the score error (stratified over the t bins)"},
    {"eval_every", SNTK_T_INT, OFF(eval_every), "100", 0, 9e15, 0, NULL, NULL,
     "held-out evaluation every this many steps into results.h5 /score (0: first and last step)"},
    {"t_bins", SNTK_T_INT, OFF(t_bins), "4", 1, 1000, 0, NULL, NULL,
     "log-spaced time bins of the held-out error"},
    {"sampler", SNTK_T_CHOICE, OFF(sampler), "sde", 0, 0, 0, sntk_sampler_names, NULL,
     "sde: reverse SDE by Euler-Maruyama; ode: probability-flow ODE by Heun"},
    {"sample_steps", SNTK_T_INT, OFF(sample_steps), "200", 1, 1e8, 0, NULL, NULL,
     "K sampler steps from T down to t0"},
    {"samples", SNTK_T_INT, OFF(samples), "1000", 0, 1e9, 0, NULL, NULL,
     "samples generated (softntk score samples at its end unless 0)"},
    {"time_grid", SNTK_T_CHOICE, OFF(time_grid), "geometric", 0, 0, 0, grids, NULL,
     "sampler time points: geometric (t_k = T (t0/T)^(k/K), fine near t0) or uniform"},
    {"projections", SNTK_T_INT, OFF(projections), "64", 1, 1e6, 0, NULL, NULL,
     "directions of the sliced Wasserstein-2 distance"},
    {"floor_pairs", SNTK_T_INT, OFF(floor_pairs), "8", 1, 1e4, 0, NULL, NULL,
     "pairs of independent target samples whose mean metrics are the noise floor"},
    {"coverage_level", SNTK_T_REAL, OFF(coverage_level), "0.99", 0, 1,
     SNTK_KEY_MIN_OPEN | SNTK_KEY_MAX_OPEN, NULL, NULL,
     "a sample covers a mode when it lies within the radius that holds this share of the mode's "
     "samples at t0 (sqrt(alpha^2 width^2 + sigma^2) times the chi_d quantile)"},
    {"store_samples", SNTK_T_INT, OFF(store_samples), "5000", 0, 1e9, 0, NULL, NULL,
     "write the samples themselves to /samples when there are at most this many"},
    {"sample_seed", SNTK_T_INT, OFF(sample_seed), "0", 0, 9e15, 0, NULL, NULL,
     "seed of the sampler, the reference samples and the projections (0: run.seed)"},
    {"regression", SNTK_T_BOOL, OFF(regression), "false", 0, 0, 0, NULL, NULL,
     "softntk score: NTK kernel regression of x0 on the held-out points (regression.h5)"},
    {"parametrisation", SNTK_T_CHOICE, OFF(parametrisation), "plain", 0, 0, SNTK_KEY_TRAJECTORY,
     params, NULL,
     "the prediction of x_0 from the network output F: plain (x0_hat = F) or edm (x0_hat = "
     "c_skip(t) x_t + c_out(t) F, the network learns a unit-variance residual; README)"},
    {NULL}};
#undef OFF

int sntk_diffusion_cfg_check(const sntk_diffusion_cfg_t *cfg) {
  char why[256];
  if (cfg->target == SNTK_DIFF_FILE && !cfg->file[0])
    return sntk_error(SNTK_ERR_INPUT,
                      "diffusion.target = file needs diffusion.file (the HDF5 file of samples)");
  if (cfg->t0 >= cfg->T)
    return sntk_error(SNTK_ERR_INPUT, "diffusion.t0 = %g must be smaller than diffusion.T = %g",
                      cfg->t0, cfg->T);
  if (cfg->target == SNTK_DIFF_GMM && !cfg->means[0] && cfg->layout == SNTK_LAYOUT_RING &&
      cfg->dim < 2 && cfg->components > 2)
    return sntk_error(SNTK_ERR_INPUT,
                      "diffusion.layout = ring with diffusion.dim = 1 holds at most 2 means (now "
                      "components = %lld): use dim >= 2",
                      (long long)cfg->components);
  if (cfg->target == SNTK_DIFF_GMM && cfg->weights[0]) {
    int n = parse_list(cfg->weights, 1, NULL, 0, why, sizeof why);
    if (n != cfg->components)
      return sntk_error(SNTK_ERR_INPUT,
                        "diffusion.weights lists %d weights but diffusion.components = %lld", n,
                        (long long)cfg->components);
  }
  if (cfg->target == SNTK_DIFF_GMM && cfg->means[0]) {
    int n = parse_list(cfg->means, 0, NULL, 0, why, sizeof why);
    if (n != cfg->components * cfg->dim)
      return sntk_error(SNTK_ERR_INPUT,
                        "diffusion.means lists %d numbers but diffusion.components x diffusion.dim "
                        "= %lld",
                        n, (long long)(cfg->components * cfg->dim));
  }
  return SNTK_OK;
}

/* Used by target.c: the normalised weights of cfg (equal when none are given). */
int sntk_diffusion_weights(const sntk_diffusion_cfg_t *cfg, double *w) {
  char why[256];
  const int C = (int)cfg->components;
  if (!cfg->weights[0]) {
    for (int c = 0; c < C; c++) w[c] = 1.0 / C;
    return SNTK_OK;
  }
  if (parse_list(cfg->weights, 1, w, C, why, sizeof why) != C)
    return sntk_error(SNTK_ERR_INPUT, "diffusion.weights: %s", why);
  double sum = 0.0;
  for (int c = 0; c < C; c++) sum += w[c];
  for (int c = 0; c < C; c++) w[c] /= sum;
  return SNTK_OK;
}

/* Used by target.c: the explicit means of cfg (C x dim values), when diffusion.means is set. */
int sntk_diffusion_means(const sntk_diffusion_cfg_t *cfg, double *mu) {
  char why[256];
  const int n = (int)(cfg->components * cfg->dim);
  if (parse_list(cfg->means, 0, mu, n, why, sizeof why) != n)
    return sntk_error(SNTK_ERR_INPUT, "diffusion.means: expected %d numbers", n);
  return SNTK_OK;
}
