/* softntk random streams: counter-based (Random123 Philox-4x64-10), keyed by (seed, purpose,
 * index).
 *
 * A stream is a pure function of its key: the draws for neuron r, sample i or projection j are the
 * same whichever rank computes them and however many ranks there are. Each purpose has its own key
 * so that adding a new use of randomness never shifts an existing one. Not collective; no global
 * state. */
#ifndef SOFTNTK_RNG_H
#define SOFTNTK_RNG_H

#include <stdint.h>

/* Purposes. Never renumber: the numbers are part of every result's reproducibility. */
typedef enum {
  SNTK_RNG_WEIGHT = 1,    /* first-layer weights w_r, index = neuron (or pair) */
  SNTK_RNG_SIGN = 2,      /* second-layer signs a_{l,r}, index = neuron (or pair) */
  SNTK_RNG_DATA_X = 3,    /* input points, index = sample */
  SNTK_RNG_TEACHER = 4,   /* teacher network, index = teacher neuron */
  SNTK_RNG_LABEL = 5,     /* random labels and label noise, index = sample */
  SNTK_RNG_NTK_CHECK = 6, /* right-hand sides of the NTK solver checks, index = check */
  SNTK_RNG_DATA_NORM = 7, /* norms of generated inputs (data.norm_min < norm_max), index = sample */
  SNTK_RNG_POWER = 8,     /* start vector of the power iteration on J J^T, index = output row */
  SNTK_RNG_PERTURB = 9,   /* random perturbation directions Delta_r, index = neuron */
  SNTK_RNG_PERTURB_SHIFT = 10, /* the common shift v of every neuron, index = 0 */
  SNTK_RNG_DIFFUSION = 16      /* reserved for the diffusion module (16..31) */
} sntk_rng_purpose_t;

typedef struct sntk_rng {
  uint64_t key[2]; /* (seed, purpose) */
  uint64_t ctr[4]; /* (index, 0, 0, block) */
  uint64_t buf[4]; /* current block of output */
  int used;        /* words of buf consumed (4 = empty) */
  int have_spare;  /* Box-Muller spare normal available */
  double spare;
} sntk_rng_t;

/* Start the stream keyed by (seed, purpose, index). */
void sntk_rng_init(sntk_rng_t *s, uint64_t seed, uint64_t purpose, uint64_t index);

uint64_t sntk_rng_u64(sntk_rng_t *s);
/* Uniform on the open interval (0, 1), 53 random bits. */
double sntk_rng_uniform(sntk_rng_t *s);
/* Standard normal (Box-Muller). */
double sntk_rng_normal(sntk_rng_t *s);
/* +1 or -1 with equal probability. */
double sntk_rng_sign(sntk_rng_t *s);

#endif
