/* Training data: sphere generator with teacher or random targets, or X and Y from an HDF5 file. */
#include "softntk/data.h"

#include "softntk/error.h"
#include "softntk/h5util.h"
#include "softntk/parallel.h"
#include "softntk/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const sources[] = {"sphere", "file", NULL};
static const char *const targets[] = {"teacher", "random", NULL};

#define OFF(f) offsetof(sntk_data_cfg_t, f)
const sntk_key_t sntk_data_keys[] = {
    {"source", SNTK_T_CHOICE, OFF(source), "sphere", 0, 0, SNTK_KEY_TRAJECTORY, sources, NULL,
     "sphere: points on the unit sphere; file: X and Y read from an HDF5 file"},
    {"target", SNTK_T_CHOICE, OFF(target), "teacher", 0, 0, SNTK_KEY_TRAJECTORY, targets, NULL,
     "teacher: outputs of a random tanh teacher network; random: labels +-1 (generated data)"},
    {"n", SNTK_T_INT, OFF(n), "32", 1, 1e12, SNTK_KEY_TRAJECTORY, NULL, NULL,
     "number of training samples"},
    {"d", SNTK_T_INT, OFF(d), "16", 1, 1e6, SNTK_KEY_TRAJECTORY, NULL, NULL,
     "input dimension, counting the constant coordinate"},
    {"k", SNTK_T_INT, OFF(k), "1", 1, 1e5, SNTK_KEY_TRAJECTORY, NULL, NULL, "output dimension"},
    {"constant_coord", SNTK_T_BOOL, OFF(constant_coord), "true", 0, 0, SNTK_KEY_TRAJECTORY, NULL,
     NULL, "make the last input coordinate constant (keeps the limiting NTK positive definite)"},
    {"norm_min", SNTK_T_REAL, OFF(norm_min), "1", 0, 1e6, SNTK_KEY_MIN_OPEN, NULL, NULL,
     "generated inputs: each point is scaled to a norm drawn uniformly in [norm_min, norm_max] "
     "(1, 1: the unit sphere)"},
    {"norm_max", SNTK_T_REAL, OFF(norm_max), "1", 0, 1e6, SNTK_KEY_MIN_OPEN, NULL, NULL,
     "upper end of the input norms of generated points (>= norm_min)"},
    {"noise", SNTK_T_REAL, OFF(noise), "0", 0, INFINITY, SNTK_KEY_TRAJECTORY, NULL, NULL,
     "standard deviation of Gaussian noise added to teacher targets"},
    {"teacher_width", SNTK_T_INT, OFF(teacher_width), "8", 1, 1e6, SNTK_KEY_TRAJECTORY, NULL, NULL,
     "hidden width of the teacher network"},
    {"file", SNTK_T_STRING, OFF(file), "", 0, 0, SNTK_KEY_TRAJECTORY, NULL, NULL,
     "HDF5 file holding X [n, d] and Y [n, k] (source = file)"},
    {"x_dataset", SNTK_T_STRING, OFF(x_dataset), "X", 0, 0, SNTK_KEY_TRAJECTORY, NULL, NULL,
     "path of the input dataset inside the file"},
    {"y_dataset", SNTK_T_STRING, OFF(y_dataset), "Y", 0, 0, SNTK_KEY_TRAJECTORY, NULL, NULL,
     "path of the target dataset inside the file (1-D means k = 1)"},
    {"store", SNTK_T_BOOL, OFF(store), "true", 0, 0, 0, NULL, NULL,
     "copy X and Y into results.h5 /data"},
    {"seed", SNTK_T_INT, OFF(seed), "-1", -1, 9e15, SNTK_KEY_TRAJECTORY, NULL, NULL,
     "seed of the data: generated inputs and targets, a diffusion target's random means, its "
     "training triples and held-out points (-1: run.seed, which then draws data and weights alike; "
     "set it to keep the data fixed while run.seed varies the weights)"},
    {NULL}};
#undef OFF

uint64_t sntk_data_seed(const sntk_data_cfg_t *cfg, int64_t run_seed) {
  return (uint64_t)(cfg->seed >= 0 ? cfg->seed : run_seed);
}

int sntk_data_cfg_check(const sntk_data_cfg_t *cfg) {
  if (cfg->source == SNTK_SOURCE_FILE && !cfg->file[0])
    return sntk_error(SNTK_ERR_INPUT, "data.source = file needs data.file (the HDF5 file to read)");
  if (cfg->source == SNTK_SOURCE_SPHERE && cfg->constant_coord && cfg->d < 2)
    return sntk_error(SNTK_ERR_INPUT,
                      "data.d = %lld with data.constant_coord = true: d counts the constant "
                      "coordinate and must be >= 2",
                      (long long)cfg->d);
  if (cfg->norm_max < cfg->norm_min)
    return sntk_error(SNTK_ERR_INPUT, "data.norm_max = %g is below data.norm_min = %g",
                      cfg->norm_max, cfg->norm_min);
  return SNTK_OK;
}

int sntk_data_alloc(int64_t n, int64_t d, int64_t k, sntk_dataset_t *ds) {
  memset(ds, 0, sizeof *ds);
  ds->n = n, ds->d = d, ds->k = k;
  int err = SNTK_OK;
  SNTK_TRY(SNTK_ALLOC(ds->X, n * d));
  SNTK_TRY(SNTK_ALLOC(ds->Y, n * k));
done:
  if (err) sntk_data_free(ds);
  return err;
}

void sntk_data_free(sntk_dataset_t *ds) {
  free(ds->X);
  free(ds->Y);
  ds->X = ds->Y = NULL;
}

void sntk_sphere_point(uint64_t seed, int64_t i, int64_t d, int constant_coord, double *x) {
  sntk_rng_t s;
  sntk_rng_init(&s, seed, SNTK_RNG_DATA_X, (uint64_t)i);
  int64_t dd = constant_coord ? d - 1 : d;
  double norm2 = 0.0;
  do {
    norm2 = 0.0;
    for (int64_t j = 0; j < dd; j++) {
      x[j] = sntk_rng_normal(&s);
      norm2 += x[j] * x[j];
    }
  } while (norm2 == 0.0);
  double scale = (constant_coord ? sqrt(0.5) : 1.0) / sqrt(norm2);
  for (int64_t j = 0; j < dd; j++) x[j] *= scale;
  if (constant_coord) x[d - 1] = sqrt(0.5);
}

int sntk_check_finite(const double *v, int64_t rows, int64_t cols, const char *what) {
  for (int64_t i = 0; i < rows * cols; i++)
    if (!isfinite(v[i]))
      return sntk_error(SNTK_ERR_INPUT, "%s[%lld, %lld] = %g: data must be finite", what,
                        (long long)(i / cols), (long long)(i % cols), v[i]);
  return SNTK_OK;
}

/* Teacher y_l(x) = teacher_width^{-1/2} sum_j b_{l,j} tanh(v_j . x), v_j ~ N(0, I), b ~ N(0, 1). */
static int make_teacher_targets(const sntk_data_cfg_t *cfg, uint64_t seed, sntk_dataset_t *ds) {
  const int64_t mt = cfg->teacher_width, d = ds->d, k = ds->k;
  double *V = NULL, *Bt = NULL;
  int err = SNTK_OK;
  SNTK_TRY(SNTK_ALLOC(V, mt * d));
  SNTK_TRY(SNTK_ALLOC(Bt, mt * k));
  for (int64_t j = 0; j < mt; j++) {
    sntk_rng_t s;
    sntk_rng_init(&s, seed, SNTK_RNG_TEACHER, (uint64_t)j);
    for (int64_t c = 0; c < d; c++) V[j * d + c] = sntk_rng_normal(&s);
    for (int64_t l = 0; l < k; l++) Bt[j * k + l] = sntk_rng_normal(&s);
  }
  const double inv = 1.0 / sqrt((double)mt);
  for (int64_t i = 0; i < ds->n; i++) {
    const double *x = ds->X + i * d;
    double *y = ds->Y + i * k;
    for (int64_t j = 0; j < mt; j++) {
      double z = 0.0;
      for (int64_t c = 0; c < d; c++) z += V[j * d + c] * x[c];
      double h = tanh(z) * inv;
      for (int64_t l = 0; l < k; l++) y[l] += Bt[j * k + l] * h;
    }
    if (cfg->noise > 0.0) {
      sntk_rng_t s;
      sntk_rng_init(&s, seed, SNTK_RNG_LABEL, (uint64_t)i);
      for (int64_t l = 0; l < k; l++) y[l] += cfg->noise * sntk_rng_normal(&s);
    }
  }
done:
  free(V);
  free(Bt);
  return err;
}

/* Scale the unit-norm point i to a norm uniform in [norm_min, norm_max] (its own stream, so the
 * directions are those of the unit-sphere set with the same seed). */
static void scale_norm(const sntk_data_cfg_t *cfg, uint64_t seed, int64_t i, int64_t d, double *x) {
  double r = cfg->norm_min;
  if (cfg->norm_max > cfg->norm_min) {
    sntk_rng_t s;
    sntk_rng_init(&s, seed, SNTK_RNG_DATA_NORM, (uint64_t)i);
    r += (cfg->norm_max - cfg->norm_min) * sntk_rng_uniform(&s);
  }
  if (r != 1.0)
    for (int64_t j = 0; j < d; j++) x[j] *= r;
}

static int generate(const sntk_data_cfg_t *cfg, uint64_t seed, sntk_dataset_t *ds) {
  SNTK_CALL(sntk_data_alloc(cfg->n, cfg->d, cfg->k, ds));
  for (int64_t i = 0; i < ds->n; i++) {
    sntk_sphere_point(seed, i, ds->d, cfg->constant_coord, ds->X + i * ds->d);
    scale_norm(cfg, seed, i, ds->d, ds->X + i * ds->d);
  }
  if (cfg->target == SNTK_TARGET_TEACHER) return make_teacher_targets(cfg, seed, ds);
  for (int64_t i = 0; i < ds->n; i++) {
    sntk_rng_t s;
    sntk_rng_init(&s, seed, SNTK_RNG_LABEL, (uint64_t)i);
    for (int64_t l = 0; l < ds->k; l++) ds->Y[i * ds->k + l] = sntk_rng_sign(&s);
  }
  return SNTK_OK;
}

/* Rank 0: read, check shapes against the deck, check values. */
static int read_file(const sntk_data_cfg_t *cfg, unsigned mask, sntk_dataset_t *ds) {
  int64_t nx, dx, ny, ky;
  double *X = NULL, *Y = NULL;
  int err = SNTK_OK;
  memset(ds, 0, sizeof *ds);
  const char *sets[2] = {cfg->x_dataset, cfg->y_dataset};
  SNTK_TRY(sntk_h5_probe(cfg->file, sets, 2));
  SNTK_TRY(sntk_h5_read_matrix(cfg->file, cfg->x_dataset, &nx, &dx, &X));
  SNTK_TRY(sntk_h5_read_matrix(cfg->file, cfg->y_dataset, &ny, &ky, &Y));
  if (nx != ny) {
    err = sntk_error(SNTK_ERR_INPUT, "%s: %s has %lld rows but %s has %lld: one target per sample",
                     cfg->file, cfg->x_dataset, (long long)nx, cfg->y_dataset, (long long)ny);
    goto done;
  }
  int64_t n = nx;
  if ((mask & SNTK_DATA_SET_N) && cfg->n > nx) {
    err = sntk_error(SNTK_ERR_INPUT, "data.n = %lld but %s holds only %lld samples",
                     (long long)cfg->n, cfg->file, (long long)nx);
    goto done;
  }
  if (mask & SNTK_DATA_SET_N) n = cfg->n;
  if ((mask & SNTK_DATA_SET_D) && cfg->d != dx) {
    err = sntk_error(SNTK_ERR_INPUT, "data.d = %lld but %s:%s has %lld columns", (long long)cfg->d,
                     cfg->file, cfg->x_dataset, (long long)dx);
    goto done;
  }
  if ((mask & SNTK_DATA_SET_K) && cfg->k != ky) {
    err = sntk_error(SNTK_ERR_INPUT, "data.k = %lld but %s:%s has %lld columns", (long long)cfg->k,
                     cfg->file, cfg->y_dataset, (long long)ky);
    goto done;
  }
  char what[2 * SNTK_STR + 8];
  snprintf(what, sizeof what, "%s:%s", cfg->file, cfg->x_dataset);
  SNTK_TRY(sntk_check_finite(X, n, dx, what));
  snprintf(what, sizeof what, "%s:%s", cfg->file, cfg->y_dataset);
  SNTK_TRY(sntk_check_finite(Y, n, ky, what));
  *ds = (sntk_dataset_t){n, dx, ky, X, Y};
  X = Y = NULL;
done:
  free(X);
  free(Y);
  return err;
}

int sntk_data_load(MPI_Comm comm, const sntk_data_cfg_t *cfg, uint64_t seed, unsigned explicit_mask,
                   sntk_dataset_t *ds) {
  int rank, err = SNTK_OK;
  MPI_Comm_rank(comm, &rank);
  memset(ds, 0, sizeof *ds);
  if (cfg->source == SNTK_SOURCE_SPHERE) {
    err = sntk_agree(comm, generate(cfg, seed, ds));
    if (err) sntk_data_free(ds);
    return err;
  }
  if (rank == 0) err = read_file(cfg, explicit_mask, ds);
  SNTK_TRY(sntk_agree(comm, err));
  int64_t shape[3] = {ds->n, ds->d, ds->k};
  SNTK_TRY(SNTK_MPI(MPI_Bcast(shape, 3, MPI_INT64_T, 0, comm)));
  if (rank != 0) err = sntk_data_alloc(shape[0], shape[1], shape[2], ds);
  SNTK_TRY(sntk_agree(comm, err));
  SNTK_TRY(sntk_bcast_bytes(ds->X, ds->n * ds->d * (int64_t)sizeof(double), 0, comm));
  SNTK_TRY(sntk_bcast_bytes(ds->Y, ds->n * ds->k * (int64_t)sizeof(double), 0, comm));
done:
  if (err) sntk_data_free(ds);
  return err;
}

void sntk_data_hash(const sntk_dataset_t *ds, char out[17]) {
  uint64_t both[2] = {sntk_hash64(ds->X, sizeof(double) * (size_t)(ds->n * ds->d)),
                      sntk_hash64(ds->Y, sizeof(double) * (size_t)(ds->n * ds->k))};
  snprintf(out, 17, "%016llx", (unsigned long long)sntk_hash64(both, sizeof both));
}
