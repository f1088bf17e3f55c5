/* softntk data: the training set (X, Y) every rank holds, from a generator or an HDF5 file.
 *
 * Generated data are a pure function of the seed (rng purposes DATA_X, DATA_NORM, TEACHER, LABEL),
 * so every rank builds the same set without communication. File data are read by rank 0 and
 * broadcast. Either way the dataset is checked (shapes, finite values) before anything uses it. */
#ifndef SOFTNTK_DATA_H
#define SOFTNTK_DATA_H

#include "softntk/config.h"

#include <mpi.h>
#include <stdint.h>

enum { SNTK_SOURCE_SPHERE = 0, SNTK_SOURCE_FILE = 1 };
enum { SNTK_TARGET_TEACHER = 0, SNTK_TARGET_RANDOM = 1 };

/* [data] section. Global. */
typedef struct sntk_data_cfg {
  int source;                /* SNTK_SOURCE_* */
  int target;                /* SNTK_TARGET_* (generated data only) */
  int64_t n, d, k;           /* samples, input dimension (all coordinates), output dimension */
  int constant_coord;        /* last coordinate constant (generated data only) */
  double norm_min, norm_max; /* generated points scaled to norms uniform in [norm_min, norm_max] */
  double noise;              /* standard deviation of label noise added to teacher targets */
  int64_t teacher_width;     /* hidden width of the teacher network */
  char file[SNTK_STR];       /* HDF5 file for source = file */
  char x_dataset[SNTK_STR];
  char y_dataset[SNTK_STR];
  int store;    /* copy X and Y into results.h5 /data */
  int64_t seed; /* seed of the data; -1: run.seed */
} sntk_data_cfg_t;

extern const sntk_key_t sntk_data_keys[];

/* Which of n, d, k the deck set explicitly (checked against a data file's shape). */
enum { SNTK_DATA_SET_N = 1, SNTK_DATA_SET_D = 2, SNTK_DATA_SET_K = 4 };

/* Not collective. The seed the data are drawn from: data.seed, or run_seed when it is -1. */
uint64_t sntk_data_seed(const sntk_data_cfg_t *cfg, int64_t run_seed);

/* Not collective. Cross-key checks of the [data] section (SNTK_ERR_INPUT naming the keys). */
int sntk_data_cfg_check(const sntk_data_cfg_t *cfg);

/* The training set. Global: identical on every rank. */
typedef struct sntk_dataset {
  int64_t n, d, k;
  double *X; /* n x d, row-major: sample i is X[i*d .. i*d + d) */
  double *Y; /* n x k, row-major */
} sntk_dataset_t;

/* Collective. Build or read the dataset described by cfg. `explicit_mask` (SNTK_DATA_SET_*) says
 * which of n, d, k the deck gave explicitly: for a file, those must match its shape (a file's n may
 * also be smaller: the first n rows are used). Errors: SNTK_ERR_INPUT for a missing, unreadable,
 * non-HDF5 or wrong-shape file and for non-finite values; the message names the file and dataset.
 */
int sntk_data_load(MPI_Comm comm, const sntk_data_cfg_t *cfg, uint64_t seed, unsigned explicit_mask,
                   sntk_dataset_t *ds);

/* Not collective. Allocate an n x d / n x k dataset (zeroed). */
int sntk_data_alloc(int64_t n, int64_t d, int64_t k, sntk_dataset_t *ds);
void sntk_data_free(sntk_dataset_t *ds);

/* Not collective. Point i of the sphere generator: a uniform direction in R^d; with constant_coord
 * the first d-1 coordinates are a uniform direction scaled by 1/sqrt(2) and the last is 1/sqrt(2),
 * so the point still has unit norm. */
void sntk_sphere_point(uint64_t seed, int64_t i, int64_t d, int constant_coord, double *x);

/* Not collective. 64-bit hash of the bytes of X and Y as 16 hex digits (identifies a training set).
 */
void sntk_data_hash(const sntk_dataset_t *ds, char out[17]);

/* Not collective. SNTK_ERR_INPUT naming the first non-finite entry of a matrix. */
int sntk_check_finite(const double *v, int64_t rows, int64_t cols, const char *what);

#endif
