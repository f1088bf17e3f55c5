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
 * reductions. The module's pieces, each with its header: the [diffusion] section and the stream
 * purposes (this header, config.c), targets and their exact scores (target.h), the process, input
 * map, data sets and held-out evaluation (process.h), samplers and the sample report (sampler.h),
 * sample metrics (metrics.h). The commands `softntk score` and `softntk sample` are drivers of the
 * application layer (src/app). */
#ifndef SOFTNTK_DIFFUSION_H
#define SOFTNTK_DIFFUSION_H

#include "softntk/config.h"
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

#endif
