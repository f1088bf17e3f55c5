/* softntk diffusion: the forward process, the network input, training triples and held-out
 * evaluation (see diffusion.h for the process and conventions). */
#ifndef SOFTNTK_PROCESS_H
#define SOFTNTK_PROCESS_H

#include "softntk/data.h"
#include "softntk/diffusion.h"
#include "softntk/model.h"
#include "softntk/target.h"

#include <mpi.h>
#include <stdint.h>

/* alpha_t = exp(-t) and sigma_t^2 = 1 - exp(-2t) (accurate for small t). */
double sntk_ou_alpha(double t);
double sntk_ou_sigma2(double t);

/* The map from (x_t, t) to the network input z in R^{d+2}: v = (x_t / scale, t / T),
 * z = (v / sqrt(2 (1 + ||v||^2)), 1 / sqrt(2)). So ||z|| < 1 (bounded), the last coordinate is
 * constant (the limiting NTK stays positive definite) and the map is one to one. */
typedef struct sntk_diff_map {
  int64_t d;    /* data dimension; inputs have d + 2 coordinates */
  double scale; /* divisor of x_t */
  double T;     /* divisor of t */
  int param;    /* SNTK_PARAM_*: the output map below */
  double sdata; /* per-coordinate RMS of x_0, sqrt(E||x_0||^2 / d) (edm) */
} sntk_diff_map_t;

/* Not collective. The map of cfg for target tg: scale = input_scale, or when 0,
 * sqrt(E||x_0||^2 + d), the root-mean-square norm of x_t at t = 0 plus that of the noise. */
void sntk_diff_map_init(sntk_diff_map_t *map, const sntk_diffusion_cfg_t *cfg,
                        const sntk_target_t *tg);
void sntk_diff_input(const sntk_diff_map_t *map, const double *x, double t, double *z);

/* The output map: the prediction of x_0 is x0_hat = c_skip(t) x_t + c_out(t) F(z). plain: c_skip
 * = 0, c_out = 1 (the network predicts x_0 itself). edm (Karras et al. 2022, written for the OU
 * process through its noise level s = sigma_t / alpha_t of x_t / alpha_t = x_0 + s xi):
 * c_skip = sdata^2 / ((s^2 + sdata^2) alpha_t), c_out = s sdata / sqrt(s^2 + sdata^2), so the
 * network's regression target (x_0 - c_skip x_t) / c_out has unit variance per coordinate at
 * every t for a target of RMS sdata, and as t -> 0 x0_hat -> x_t: the network only supplies an
 * O(sigma_t) correction. c_skip x_t alone is the posterior mean of N(0, sdata^2 I). Not
 * collective. */
void sntk_diff_output_coeffs(const sntk_diff_map_t *map, double t, double *c_skip, double *c_out);
/* Not collective. x0_hat (d values) from the network output F at (x, t); f may alias F. */
void sntk_diff_output(const sntk_diff_map_t *map, double t, const double *x, const double *F,
                      double *f);
/* Not collective. The network's regression target F (d values) for the prediction f of x_0 at
 * (x, t): the inverse of sntk_diff_output; y may alias f. */
void sntk_diff_output_target(const sntk_diff_map_t *map, double t, const double *x, const double *f,
                             double *y);

/* One triple drawn from stream (seed, purpose, index): x_0, t ~ U[t0, T], x_t = alpha x_0 + sigma
 * xi. Not collective. */
void sntk_diff_triple(const sntk_target_t *tg, double t0, double T, uint64_t seed, int purpose,
                      uint64_t index, double *x0, double *t, double *xt);

/* Not collective. Fill ds (allocated: n x (d + 2) inputs, n x d targets x_0) with the triples of
 * indices first .. first + n - 1 of `purpose`. */
int sntk_diff_dataset(const sntk_target_t *tg, const sntk_diff_map_t *map, double t0, double T,
                      uint64_t seed, int purpose, uint64_t first, int64_t n, sntk_dataset_t *ds);

/* Held-out points: eval_points triples stratified over t_bins log-spaced bins of [t0, T] (point j
 * in bin j mod t_bins, t uniform in its bin). Global. */
typedef struct sntk_diff_eval {
  int64_t n, d, nbins;
  int exact;           /* f* known (else errors are measured against the noisy labels x_0) */
  double *edges;       /* nbins + 1 bin edges */
  double *binw;        /* nbins: probability of each bin under t ~ U[t0, T] */
  int64_t *count;      /* nbins: points in each bin */
  double *t;           /* n times */
  double *xt;          /* n x d noised points */
  double *x0;          /* n x d clean points */
  double *fstar;       /* n x d posterior means (exact) or copies of x0 */
  double *Z;           /* n x (d + 2) network inputs */
  double *F;           /* n x d network outputs (workspace) */
  double norm;         /* E[alpha_t^2 ||f*||^2]: the error of the zero predictor */
  sntk_diff_map_t map; /* the input and output maps (F -> x0_hat) */
} sntk_diff_eval_t;

/* The errors of one evaluation (global). */
typedef struct sntk_diff_errors {
  double error;     /* E_t E ||sigma_t^2 (s_net - s*)||^2 = E alpha_t^2 ||f_net - f*||^2 */
  double rel_error; /* error / norm */
  double loss;      /* held-out denoising loss 1/2 mean ||f_net - x_0||^2 */
  double *bins;     /* nbins: the error within each bin (owned by the caller) */
  /* The unweighted score error, the quantity sampling bounds use (exact scores only, else NaN):
   * the integral over [t0, T] of E ||s_net - s*||^2 dt, and per bin the mean E ||s_net - s*||^2 =
   * E alpha_t^2 ||f_net - f*||^2 / sigma_t^4 (owned by the caller, nbins values; may be NULL). */
  double error_unweighted;
  double *bins_unweighted;
} sntk_diff_errors_t;

/* Not collective. Build the held-out set of cfg from stream EVAL of `seed`. */
int sntk_diff_eval_create(const sntk_target_t *tg, const sntk_diff_map_t *map,
                          const sntk_diffusion_cfg_t *cfg, uint64_t seed, sntk_diff_eval_t **out);
void sntk_diff_eval_destroy(sntk_diff_eval_t **ev);

/* Collective (one forward pass of the network over the held-out points). */
int sntk_diff_eval_run(sntk_diff_eval_t *ev, sntk_model_t *md, sntk_diff_errors_t *out);

/* Not collective. The errors of predictions F (n x d) of x_0 on the held-out points (out->bins
 * must hold nbins values). */
void sntk_diff_eval_errors(const sntk_diff_eval_t *ev, const double *F, sntk_diff_errors_t *out);

/* Not collective. A bound on KL(p_T || N(0, I)) for a mixture target (convexity of KL over the
 * components); NaN for targets without an exact law. */
double sntk_diff_kl_T_bound(const sntk_target_t *tg, double T);

#endif
