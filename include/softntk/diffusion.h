/* softntk diffusion: score estimation with the sharded network (DESIGN.md section 5, after Han,
 * Razaviyayn and Xu 2024).
 *
 * Forward Ornstein-Uhlenbeck process x_t = alpha_t x_0 + sigma_t xi, alpha_t = exp(-t),
 * sigma_t^2 = 1 - exp(-2t). The network f(t, x) predicts x_0 from the input z(x_t, t) (below) and
 * is trained by the regression 1/2 sum_i ||f(t_i, x_i) - x0_i||^2 on triples (x0, t ~ U[t0, T],
 * xi); its score is s = (alpha_t f - x) / sigma_t^2. For Gaussian-mixture targets the exact score
 * and posterior mean f* = E[x_0 | x_t] are known in closed form, so the learned score is measured
 * against the truth on held-out points and by sampling (reverse SDE, probability-flow ODE) with the
 * learned and with the exact score.
 *
 * Randomness comes only from the rng streams of purposes 16..31, keyed by (seed, purpose, global
 * index), so every result is the same for any rank count up to round-off in the network's
 * reductions. The module's pieces: the [diffusion] section (config.c), targets and their exact
 * scores (target.c), the process, input map and data sets (process.c), held-out evaluation
 * (evaluate.c), samplers (sampler.c), sample metrics (metrics.c), and the commands `softntk score`
 * (score.c, a problem of the training loop in train.h), `softntk sample` (sample.c) and the kernel
 * regression comparison (regress.c). */
#ifndef SOFTNTK_DIFFUSION_H
#define SOFTNTK_DIFFUSION_H

#include "softntk/config.h"
#include "softntk/data.h"
#include "softntk/model.h"
#include "softntk/rng.h"

#include <mpi.h>
#include <stdint.h>

enum { SNTK_DIFF_GMM = 0, SNTK_DIFF_FILE = 1 };
enum { SNTK_LAYOUT_RING = 0, SNTK_LAYOUT_RANDOM = 1 };
enum { SNTK_SAMPLER_SDE = 0, SNTK_SAMPLER_ODE = 1 };
enum { SNTK_TGRID_GEOMETRIC = 0, SNTK_TGRID_UNIFORM = 1 };
enum { SNTK_PARAM_PLAIN = 0, SNTK_PARAM_EDM = 1 };

/* Random-stream purposes (rng.h reserves 16..31 for this module). Never renumber. */
enum {
  SNTK_RNG_DIFF_MEANS = SNTK_RNG_DIFFUSION, /* component means (layout = random), index = c */
  SNTK_RNG_DIFF_TRAIN = 17,                 /* full-batch training triple, index = sample */
  SNTK_RNG_DIFF_BATCH = 18,                 /* minibatch triple, index = step * minibatch + i */
  SNTK_RNG_DIFF_EVAL = 19,                  /* held-out triple, index = point */
  SNTK_RNG_DIFF_SAMPLE = 20,                /* sampler: x_T and its noise, index = sample */
  SNTK_RNG_DIFF_REF = 21,                   /* reference target sample, index = sample */
  SNTK_RNG_DIFF_REF2 = 22,                  /* noise-floor samples, index = 2 p n + i */
  SNTK_RNG_DIFF_PROJ = 23,                  /* sliced-W2 directions, index = projection */
  SNTK_RNG_DIFF_BASELINE = 24               /* moment-matched Gaussian samples, index = sample */
};

/* [diffusion] section. Global. */
typedef struct sntk_diffusion_cfg {
  int target;             /* SNTK_DIFF_*: Gaussian mixture or rows of an HDF5 file */
  int64_t dim;            /* data dimension d (gmm; checked against a file when set) */
  int64_t components;     /* mixture components C */
  int layout;             /* SNTK_LAYOUT_*: where the means lie on the sphere of `radius` */
  double radius;          /* ||mu_c|| */
  double width;           /* shared isotropic standard deviation s (0: point masses) */
  char means[SNTK_STR];   /* "" (layout) or C x dim comma-separated numbers, component-major */
  char weights[SNTK_STR]; /* "" (equal) or C comma-separated positive numbers (normalised) */
  char file[SNTK_STR];    /* target = file: HDF5 file */
  char dataset[SNTK_STR]; /* its dataset [rows, d] of samples x_0 */
  double t0, T;           /* diffusion times t in [t0, T], 0 < t0 < T */
  int64_t samples_train;  /* N triples of the full-batch training set */
  int64_t minibatch;      /* 0: full batch; else triples drawn fresh each step */
  double input_scale;     /* x_t is divided by this before the squashing map (0: automatic) */
  int64_t eval_points;    /* held-out triples */
  int64_t eval_every;     /* evaluation every this many steps (0: first and last step only) */
  int64_t t_bins;         /* time bins of the held-out error (log-spaced in [t0, T]) */
  int sampler;            /* SNTK_SAMPLER_* */
  int64_t sample_steps;   /* K steps from T down to t0 */
  int64_t samples;        /* samples generated (0: `softntk score` does not sample) */
  int time_grid;          /* SNTK_TGRID_*: spacing of the sampler's time points */
  int64_t projections;    /* sliced-W2 directions */
  int64_t floor_pairs;    /* pairs of independent target samples behind the metrics' floor */
  double coverage_level;  /* share of a component's samples at t0 inside its coverage radius */
  int64_t store_samples;  /* write the samples themselves when there are at most this many */
  int64_t sample_seed;    /* seed of sampling and metrics (0: run.seed) */
  int regression;         /* `softntk score`: NTK kernel regression of x_0 on held-out points */
  int parametrisation;    /* SNTK_PARAM_*: what the network's output F means (sntk_diff_map_t) */
} sntk_diffusion_cfg_t;

extern const sntk_key_t sntk_diffusion_keys[];
extern const char *const sntk_sampler_names[];

/* Not collective. Cross-key checks of [diffusion] (SNTK_ERR_INPUT naming the key). */
int sntk_diffusion_cfg_check(const sntk_diffusion_cfg_t *cfg);

/* ---- targets --------------------------------------------------------------------------------- */

/* The data distribution p_0. Global: identical on every rank. */
typedef struct sntk_target {
  int kind;        /* SNTK_DIFF_* */
  int64_t d;       /* dimension */
  int64_t C;       /* components (gmm) */
  double *mu;      /* C x d means */
  double *w;       /* C weights, summing to 1 */
  double *logw;    /* their logarithms */
  double width;    /* shared standard deviation s */
  int64_t rows;    /* file: samples held */
  double *data;    /* file: rows x d */
  double msq;      /* E ||x_0||^2 */
  double *scratch; /* C values of workspace for the functions below (so they are not reentrant) */
} sntk_target_t;

/* Collective. The target of cfg: mixture means from the layout (ring: evenly spaced on a circle in
 * the first two coordinates; random: uniform on the sphere, stream MEANS of `seed`), or the file's
 * samples read by rank 0 and broadcast. `dim_given`: diffusion.dim was set explicitly (a file must
 * then have that many columns). SNTK_ERR_INPUT naming the key or file on bad input. */
int sntk_target_create(MPI_Comm comm, const sntk_diffusion_cfg_t *cfg, uint64_t seed, int dim_given,
                       sntk_target_t **out);
void sntk_target_destroy(sntk_target_t **tg);

/* Not collective. Is the score known in closed form (a mixture)? */
int sntk_target_exact(const sntk_target_t *tg);

/* Not collective. Draw x_0 from the stream s (a mixture: a component by its weight, then the mean
 * plus width times d normals; a file: a row uniformly). */
void sntk_target_draw(const sntk_target_t *tg, sntk_rng_t *s, double *x0);

/* Not collective, not reentrant (they share tg->scratch); mixtures only, t > 0 (or width > 0).
 * The noised law p_t is the mixture of N(alpha_t mu_c, v_t I), v_t = alpha_t^2 s^2 + sigma_t^2:
 * its log-density at x, its score grad log p_t(x) and the posterior mean E[x_0 | x_t = x]. `resp`
 * (C values, may be NULL) receives the posterior component weights. */
double sntk_target_log_density(const sntk_target_t *tg, double t, const double *x);
void sntk_target_score(const sntk_target_t *tg, double t, const double *x, double *score);
void sntk_target_posterior_mean(const sntk_target_t *tg, double t, const double *x, double *f,
                                double *resp);

/* Not collective. Index of the mean nearest to x and its distance (mixtures). */
int64_t sntk_target_nearest(const sntk_target_t *tg, const double *x, double *dist);

/* ---- forward process, network input, data sets ----------------------------------------------- */

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
 * O(sigma_t) correction. Not collective. */
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

/* ---- held-out evaluation --------------------------------------------------------------------- */

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

/* ---- samplers -------------------------------------------------------------------------------- */

/* A score field: s (n x d) at time t for the n points X (n x d). Collective when it evaluates the
 * network. */
typedef int (*sntk_score_fn)(void *ctx, double t, int64_t n, const double *X, double *S);

/* The learned score s = (alpha_t f(z(x, t)) - x) / sigma_t^2 of a network (ctx for
 * sntk_score_learned: workspace for `n` points, made by sntk_learned_create). */
typedef struct sntk_learned {
  sntk_model_t *md;
  const sntk_diff_map_t *map;
  int64_t n;
  double *Z, *F;
} sntk_learned_t;
int sntk_learned_create(sntk_model_t *md, const sntk_diff_map_t *map, int64_t n,
                        sntk_learned_t *out);
void sntk_learned_free(sntk_learned_t *ln);
int sntk_score_learned(void *ctx, double t, int64_t n, const double *X, double *S);
/* The exact score of a mixture (ctx is the sntk_target_t). Not collective. */
int sntk_score_exact(void *ctx, double t, int64_t n, const double *X, double *S);

/* The sampler's settings. */
typedef struct sntk_sampler {
  int kind;      /* SNTK_SAMPLER_SDE (Euler-Maruyama) or SNTK_SAMPLER_ODE (Heun) */
  int grid;      /* SNTK_TGRID_* */
  int64_t steps; /* K */
  double t0, T;
  uint64_t seed; /* stream SAMPLE: x_T ~ N(0, I) and the noise of sample i */
} sntk_sampler_t;

/* Not collective. The K + 1 time points t_0 = T > t_1 > ... > t_K = t0. */
void sntk_sampler_times(const sntk_sampler_t *sp, double *times);

/* Collective when fn is. Generate n samples into X (n x d) from x_T ~ N(0, I) by K steps of the
 * reverse SDE dx = (x + 2 s) dtau + sqrt(2) dW (Euler-Maruyama) or the probability-flow ODE
 * dx/dtau = x + s (Heun), tau = T - t. Sample i uses its own stream, so two runs with different
 * score fields see the same x_T and noise. */
int sntk_sampler_run(const sntk_sampler_t *sp, sntk_score_fn fn, void *ctx, int64_t n, int64_t d,
                     double *X);

/* ---- sample metrics -------------------------------------------------------------------------- */

/* Collective over comm (work split by rank, sums reduced). Sliced Wasserstein-2 distance
 * sqrt(mean_j W2^2(<theta_j, A>, <theta_j, B>)) over L directions theta_j uniform on the sphere
 * (stream PROJ of seed); the 1-D distances are exact for the empirical laws (any sizes). */
int sntk_sliced_w2(MPI_Comm comm, int64_t na, const double *A, int64_t nb, const double *B,
                   int64_t d, int64_t L, uint64_t seed, double *sw2);

/* Collective over comm. Maximum mean discrepancy sqrt(MMD^2) (biased V-statistic, so zero for
 * identical samples) with the RBF kernel exp(-||x - y||^2 / (2 h^2)), h the median distance between
 * the pooled points (of at most 1000 from each sample); h is returned in *bandwidth. */
int sntk_mmd_rbf(MPI_Comm comm, int64_t na, const double *A, int64_t nb, const double *B, int64_t d,
                 double *mmd, double *bandwidth);

/* Not collective. sqrt of the p-quantile of the chi-square law with d degrees of freedom: the
 * radius holding a share p of a standard normal in d dimensions. */
double sntk_chi_quantile(int64_t d, double p);

/* Not collective. The radius around alpha_t0 mu_c within which a share p of the samples of
 * component c at the sampler's end time t0 lie: sqrt(alpha^2 s^2 + sigma^2) times the chi_d
 * p-quantile (s the mixture width; alpha, sigma of t0). */
double sntk_mode_radius(const sntk_target_t *tg, double t0, double p);

/* Not collective. Coverage of a mixture by radius: frac[c] = share of the n samples X (at time t0)
 * within `radius` of alpha_t0 mu_c; *inside = share within the radius of any mode; *covered =
 * modes whose share is at least half their weight. A Gaussian blob between the modes covers none.
 */
void sntk_mode_coverage(const sntk_target_t *tg, double t0, double radius, int64_t n,
                        const double *X, double *frac, double *inside, int64_t *covered);

/* ---- commands -------------------------------------------------------------------------------- */

struct sntk_deck;
struct sntk_ctx;
struct sntk_run_opts;
struct sntk_results;

/* Collective. `softntk score`: train the network on the denoising regression of the [diffusion]
 * target with the training loop of `softntk train` (checkpoints, restarts, signals, NTK tracker),
 * evaluate the held-out score error into results.h5 /score every eval_every steps, and at the end
 * sample with the learned and the exact score into /samples (and with diffusion.regression the NTK
 * kernel regression into regression.h5). Exit status as `softntk train`. */
int sntk_score_main(const struct sntk_ctx *ctx, const struct sntk_deck *deck,
                    const struct sntk_run_opts *opts);

/* Collective. `softntk sample`: the network of the run's checkpoint (--restart PATH, or the newest
 * valid one), samples with the configured sampler, metrics, into <run dir>/samples.h5. */
int sntk_sample_main(const struct sntk_ctx *ctx, const struct sntk_deck *deck,
                     const struct sntk_run_opts *opts);

/* Collective. Sample with the learned score of md, and beside it the baselines: the exact score
 * (mixtures), N(0, I), the moment-matched Gaussian and, when `kernel` is given (a score field with
 * ctx kernel_ctx, e.g. kernel regression with H*), that field; compute the metrics of every set
 * against the same fresh target samples and noise floor and write the group /samples of res.
 * `step` is the training step of the weights. */
int sntk_diffusion_sample_report(MPI_Comm comm, const sntk_diffusion_cfg_t *cfg, uint64_t seed,
                                 const sntk_target_t *tg, const sntk_diff_map_t *map,
                                 sntk_model_t *md, sntk_score_fn kernel, void *kernel_ctx,
                                 int64_t step, struct sntk_results *res);

#endif
