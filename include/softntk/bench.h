/* softntk bench: the speed of the training step, the NTK Gram assembly and the eigen-solve, each
 * against a BLAS-3 rate (DGEMM, DSYRK) measured on the same shapes in the same run and environment,
 * with the BLAS library and core type in use and the peak memory per rank against the prediction.
 */
#ifndef SOFTNTK_BENCH_H
#define SOFTNTK_BENCH_H

#include "softntk/config.h"

#include <stdint.h>

enum { SNTK_BENCH_ALL = 0, SNTK_BENCH_STEP = 1, SNTK_BENCH_GRAM = 2, SNTK_BENCH_EIGEN = 3 };

/* [bench] section. Global. */
typedef struct sntk_bench_cfg {
  int what;               /* SNTK_BENCH_*: which parts run */
  int64_t n, d, k, m;     /* training-step shape: samples, inputs, outputs, width */
  int activation;         /* SNTK_ACT_* of the timed network */
  int64_t gram_n, gram_m; /* NTK Gram shape: samples (k = 1, inputs d) and width */
  char eigen_n[SNTK_STR]; /* orders of the timed eigen-solves and Cholesky, comma-separated */
  int eigen_spectra;      /* 0 both, 1 eigenvalues only, 2 eigenpairs only */
  int64_t eigen_reps;     /* timed repetitions of each eigen-solve */
  int64_t reps;           /* timed repetitions of each part (after one untimed warm-up) */
} sntk_bench_cfg_t;

extern const sntk_key_t sntk_bench_keys[];

#endif
