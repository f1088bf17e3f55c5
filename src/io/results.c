/* results.h5 writer: root attributes, matrices and buffered time series (see results.h). */
#include "softntk/results.h"

#include "softntk/blasinfo.h"
#include "softntk/error.h"
#include "softntk/h5util.h"
#include "softntk/perf.h"
#include "softntk/version.h"

#include <hdf5.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define MAX_SERIES 16
#define MAX_COLS   16

typedef struct series {
  char group[256];
  int ncols;  /* values per row */
  int matrix; /* one 2-D dataset names[0] with ncols columns, instead of ncols 1-D datasets */
  char names[MAX_COLS][64];
  double *rows; /* buffered rows, ncols values each */
  int64_t nrows, cap;
} series_t;

struct sntk_results {
  MPI_Comm comm;
  int rank;
  char path[4096];
  int nseries;
  series_t series[MAX_SERIES];
};

const char *sntk_results_path(const sntk_results_t *res) {
  return res->path;
}

/* Rank 0: open the file read-write. */
static int open_rw(const sntk_results_t *res, hid_t *f) {
  *f = H5Fopen(res->path, H5F_ACC_RDWR, H5P_DEFAULT);
  if (*f < 0) {
    H5Eclear2(H5E_DEFAULT);
    return sntk_error(SNTK_ERR_RUNTIME, "cannot open results file %s for writing", res->path);
  }
  return SNTK_OK;
}

static void iso_now(char *out, size_t len) {
  time_t t = time(NULL);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int create_file(sntk_results_t *res, const char *command, const char *text, const char *hash,
                       int size) {
  hid_t f = H5Fcreate(res->path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (f < 0) {
    H5Eclear2(H5E_DEFAULT);
    return sntk_error(SNTK_ERR_RUNTIME, "cannot create results file %s", res->path);
  }
  char now[64];
  iso_now(now, sizeof now);
  int err = SNTK_OK;
  SNTK_TRY(sntk_h5_attr_str(f, "format", SNTK_RESULTS_FORMAT));
  SNTK_TRY(sntk_h5_attr_i64(f, "format_version", SNTK_RESULTS_VERSION));
  SNTK_TRY(sntk_h5_attr_str(f, "softntk_version", sntk_version()));
  SNTK_TRY(sntk_h5_attr_str(f, "blas", sntk_blas_summary()));
  SNTK_TRY(sntk_h5_attr_str(f, "command", command));
  SNTK_TRY(sntk_h5_attr_str(f, "config", text));
  SNTK_TRY(sntk_h5_attr_str(f, "config_hash", hash));
  SNTK_TRY(sntk_h5_attr_i64(f, "mpi_size", size));
  SNTK_TRY(sntk_h5_attr_str(f, "start_time", now));
done:
  if (H5Fclose(f) < 0 && !err) err = SNTK_H5(-1);
  return err;
}

int sntk_results_create(MPI_Comm comm, const char *path, const char *command,
                        const char *config_text, const char *config_hash, sntk_results_t **out) {
  sntk_results_t *res = NULL;
  int err = SNTK_ALLOC(res, 1), size;
  MPI_Comm_size(comm, &size);
  if (!err) {
    res->comm = comm;
    MPI_Comm_rank(comm, &res->rank);
    snprintf(res->path, sizeof res->path, "%s", path);
    if (res->rank == 0) err = create_file(res, command, config_text, config_hash, size);
  }
  err = sntk_agree(comm, err);
  if (err) {
    free(res);
    res = NULL;
  }
  *out = res;
  return err;
}

/* Rank 0: number of leading rows of the group's `step` dataset with step < limit. */
static int rows_before(hid_t g, int64_t limit, int64_t *rows, int64_t *kept) {
  hid_t ds = -1, sp = -1;
  int64_t *v = NULL;
  int err = SNTK_OK;
  SNTK_TRY(SNTK_H5(ds = H5Dopen2(g, "step", H5P_DEFAULT)));
  SNTK_TRY(SNTK_H5(sp = H5Dget_space(ds)));
  hsize_t n = 0;
  H5Sget_simple_extent_dims(sp, &n, NULL);
  *rows = (int64_t)n;
  SNTK_TRY(SNTK_ALLOC(v, n));
  if (n > 0) SNTK_TRY(SNTK_H5(H5Dread(ds, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, v)));
  *kept = 0;
  while (*kept < (int64_t)n && v[*kept] < limit) (*kept)++;
done:
  free(v);
  if (sp >= 0) H5Sclose(sp);
  if (ds >= 0) H5Dclose(ds);
  return err;
}

typedef struct trunc_ctx {
  int64_t limit;
  int err;
} trunc_ctx_t;

/* Truncate one series group: datasets whose first dimension equals the step count are cut to the
 * kept rows; snapshots <name>_<t> with t >= limit are unlinked. */
static herr_t truncate_group(hid_t file, const char *name, const H5L_info_t *info, void *data) {
  trunc_ctx_t *ctx = data;
  (void)info;
  hid_t g = H5Oopen(file, name, H5P_DEFAULT);
  if (g < 0 || H5Iget_type(g) != H5I_GROUP || !sntk_h5_exists(g, "step")) {
    if (g >= 0) H5Oclose(g);
    H5Eclear2(H5E_DEFAULT);
    return 0;
  }
  int64_t rows, kept;
  int err = rows_before(g, ctx->limit, &rows, &kept);
  H5G_info_t gi;
  H5Gget_info(g, &gi);
  char member[256];
  for (hsize_t i = gi.nlinks; !err && i-- > 0;) {
    if (H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, member, sizeof member,
                           H5P_DEFAULT) < 0)
      continue;
    const char *us = strrchr(member, '_');
    char *end;
    long long t = us ? strtoll(us + 1, &end, 10) : -1;
    if (us && us[1] && !*end && t >= ctx->limit) {
      err = SNTK_H5(H5Ldelete(g, member, H5P_DEFAULT));
      continue;
    }
    hid_t ds = H5Dopen2(g, member, H5P_DEFAULT);
    if (ds < 0) {
      H5Eclear2(H5E_DEFAULT);
      continue;
    }
    hid_t sp = H5Dget_space(ds);
    hsize_t dims[2] = {0, 0};
    H5Sget_simple_extent_dims(sp, dims, NULL);
    H5Sclose(sp);
    H5Dclose(ds);
    if ((int64_t)dims[0] == rows && rows > kept) err = sntk_h5_series_truncate(g, member, kept);
  }
  H5Oclose(g);
  if (err && !ctx->err) ctx->err = err;
  return 0;
}

static int resume_file(sntk_results_t *res, int64_t step, int64_t *kept) {
  struct stat st;
  if (stat(res->path, &st) != 0 || H5Fis_hdf5(res->path) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    return sntk_error(SNTK_ERR_INPUT, "%s is missing or not an HDF5 file", res->path);
  }
  hid_t f = H5Fopen(res->path, H5F_ACC_RDWR, H5P_DEFAULT);
  if (f < 0) {
    H5Eclear2(H5E_DEFAULT);
    return sntk_error(SNTK_ERR_INPUT, "%s cannot be opened (damaged by a crash?)", res->path);
  }
  char *format = NULL;
  int err = sntk_h5_attr_read_str(f, "format", &format);
  if (!err && strcmp(format, SNTK_RESULTS_FORMAT) != 0)
    err = sntk_error(SNTK_ERR_INPUT, "%s is not a softntk results file", res->path);
  free(format);
  trunc_ctx_t ctx = {step, SNTK_OK};
  if (!err) H5Literate(f, H5_INDEX_NAME, H5_ITER_INC, NULL, truncate_group, &ctx);
  if (!err) err = ctx.err;
  *kept = 0;
  if (!err && sntk_h5_exists(f, "train/step")) {
    hid_t g = H5Gopen2(f, "train", H5P_DEFAULT);
    int64_t rows;
    err = rows_before(g, step, &rows, kept);
    H5Gclose(g);
  }
  if (H5Fclose(f) < 0 && !err) err = sntk_error(SNTK_ERR_INPUT, "%s: closing failed", res->path);
  H5Eclear2(H5E_DEFAULT);
  if (err && err != SNTK_ERR_INPUT) {
    char msg[2048];
    snprintf(msg, sizeof msg, "%s", sntk_error_message());
    err = sntk_error(SNTK_ERR_INPUT, "%s cannot be truncated: %s", res->path, msg);
  }
  return err;
}

int sntk_results_resume(MPI_Comm comm, const char *path, int64_t step, int64_t *kept,
                        sntk_results_t **out) {
  sntk_results_t *res = NULL;
  int err = SNTK_ALLOC(res, 1);
  if (!err) {
    res->comm = comm;
    MPI_Comm_rank(comm, &res->rank);
    snprintf(res->path, sizeof res->path, "%s", path);
    if (res->rank == 0) err = resume_file(res, step, kept);
  }
  err = sntk_agree(comm, err);
  if (!err) err = SNTK_MPI(MPI_Bcast(kept, 1, MPI_INT64_T, 0, comm));
  if (err) {
    free(res);
    res = NULL;
  }
  *out = res;
  return err;
}

typedef enum { ATTR_F64, ATTR_I64, ATTR_STR } attr_kind_t;

static int attr(sntk_results_t *res, const char *path, const char *name, attr_kind_t kind, double f,
                int64_t i, const char *s) {
  int err = SNTK_OK;
  if (res->rank == 0) {
    hid_t file = -1, obj = -1;
    SNTK_TRY(open_rw(res, &file));
    SNTK_TRY(SNTK_H5(obj = H5Oopen(file, path, H5P_DEFAULT)));
    err = kind == ATTR_F64   ? sntk_h5_attr_f64(obj, name, f)
          : kind == ATTR_I64 ? sntk_h5_attr_i64(obj, name, i)
                             : sntk_h5_attr_str(obj, name, s);
  done:
    if (obj >= 0) H5Oclose(obj);
    if (file >= 0 && H5Fclose(file) < 0 && !err) err = SNTK_H5(-1);
  }
  return sntk_agree(res->comm, err);
}

int sntk_results_attr_f64(sntk_results_t *res, const char *name, double value) {
  return attr(res, "/", name, ATTR_F64, value, 0, NULL);
}

int sntk_results_attr_i64(sntk_results_t *res, const char *name, int64_t value) {
  return attr(res, "/", name, ATTR_I64, 0, value, NULL);
}

int sntk_results_attr_str(sntk_results_t *res, const char *name, const char *value) {
  return attr(res, "/", name, ATTR_STR, 0, 0, value);
}

int sntk_results_attr_at_f64(sntk_results_t *res, const char *path, const char *name,
                             double value) {
  return attr(res, path, name, ATTR_F64, value, 0, NULL);
}

int sntk_results_attr_at_str(sntk_results_t *res, const char *path, const char *name,
                             const char *value) {
  return attr(res, path, name, ATTR_STR, 0, 0, value);
}

/* Split "/a/b/name" into the group "/a/b" (or "/") and open it, creating it if needed. */
static int parent_group(hid_t file, const char *path, hid_t *g, const char **leaf) {
  const char *slash = strrchr(path, '/');
  char parent[1024] = "/";
  *leaf = slash ? slash + 1 : path;
  if (slash && slash != path) {
    size_t len = (size_t)(slash - path);
    if (len >= sizeof parent) return sntk_error(SNTK_ERR_RUNTIME, "path too long: %s", path);
    memcpy(parent, path, len);
    parent[len] = '\0';
  }
  return SNTK_H5(*g = sntk_h5_group(file, parent));
}

/* What a dataset write at a path needs: a matrix of doubles or a list of strings. */
typedef struct payload {
  int64_t rows, cols;
  const double *data;
  const char *const *strings; /* when set: rows strings, no data */
  const char *units, *description;
} payload_t;

/* Collective: rank 0 (re)writes the dataset at `path`, creating the groups on the way. */
static int write_at(sntk_results_t *res, const char *path, const payload_t *p) {
  int err = SNTK_OK;
  if (res->rank == 0) {
    hid_t file = -1, g = -1;
    const char *leaf;
    SNTK_TRY(open_rw(res, &file));
    SNTK_TRY(parent_group(file, path, &g, &leaf));
    if (sntk_h5_exists(g, leaf)) SNTK_TRY(SNTK_H5(H5Ldelete(g, leaf, H5P_DEFAULT)));
    if (p->strings)
      SNTK_TRY(sntk_h5_write_strings(g, leaf, p->rows, p->strings, p->description));
    else
      SNTK_TRY(sntk_h5_write_matrix(g, leaf, p->rows, p->cols, p->data, p->units, p->description));
  done:
    if (g >= 0) H5Gclose(g);
    if (file >= 0 && H5Fclose(file) < 0 && !err) err = SNTK_H5(-1);
  }
  return sntk_agree(res->comm, err);
}

int sntk_results_matrix(sntk_results_t *res, const char *path, int64_t rows, int64_t cols,
                        const double *data, const char *units, const char *description) {
  payload_t p = {rows, cols, data, NULL, units, description};
  return write_at(res, path, &p);
}

int sntk_results_strings(sntk_results_t *res, const char *path, int64_t n,
                         const char *const *strings, const char *description) {
  payload_t p = {n, 0, NULL, strings, NULL, description};
  return write_at(res, path, &p);
}

int sntk_results_remove(sntk_results_t *res, const char *path) {
  int err = SNTK_OK;
  if (res->rank == 0) {
    hid_t file = -1;
    SNTK_TRY(open_rw(res, &file));
    if (sntk_h5_exists(file, path)) SNTK_TRY(SNTK_H5(H5Ldelete(file, path, H5P_DEFAULT)));
  done:
    if (file >= 0 && H5Fclose(file) < 0 && !err) err = SNTK_H5(-1);
  }
  return sntk_agree(res->comm, err);
}

int sntk_results_series(sntk_results_t *res, const char *group, int ncols,
                        const sntk_column_t *cols, int *id) {
  int err = SNTK_OK;
  if (res->nseries >= MAX_SERIES || ncols > MAX_COLS)
    return sntk_error(SNTK_ERR_RUNTIME, "too many series or columns in results file");
  series_t *s = &res->series[res->nseries];
  memset(s, 0, sizeof *s);
  snprintf(s->group, sizeof s->group, "%s", group);
  s->ncols = ncols;
  for (int c = 0; c < ncols; c++) snprintf(s->names[c], sizeof s->names[c], "%s", cols[c].name);
  if (res->rank == 0) {
    hid_t file = -1, g = -1;
    SNTK_TRY(open_rw(res, &file));
    SNTK_TRY(SNTK_H5(g = sntk_h5_group(file, group)));
    for (int c = 0; c < ncols; c++)
      if (!sntk_h5_exists(g, cols[c].name))
        SNTK_TRY(sntk_h5_series_create(g, cols[c].name, cols[c].is_int, 0, cols[c].units,
                                       cols[c].description));
  done:
    if (g >= 0) H5Gclose(g);
    if (file >= 0 && H5Fclose(file) < 0 && !err) err = SNTK_H5(-1);
  }
  err = sntk_agree(res->comm, err);
  if (!err) *id = res->nseries++;
  return err;
}

int sntk_results_rows(sntk_results_t *res, const char *group, const char *name, int64_t width,
                      const char *units, const char *description, int *id) {
  int err = SNTK_OK;
  if (res->nseries >= MAX_SERIES || width < 1 || width > (1 << 30))
    return sntk_error(SNTK_ERR_RUNTIME, "too many series, or a row width of %lld",
                      (long long)width);
  series_t *s = &res->series[res->nseries];
  memset(s, 0, sizeof *s);
  snprintf(s->group, sizeof s->group, "%s", group);
  snprintf(s->names[0], sizeof s->names[0], "%s", name);
  s->ncols = (int)width;
  s->matrix = 1;
  if (res->rank == 0) {
    hid_t file = -1, g = -1;
    SNTK_TRY(open_rw(res, &file));
    SNTK_TRY(SNTK_H5(g = sntk_h5_group(file, group)));
    if (!sntk_h5_exists(g, name))
      SNTK_TRY(sntk_h5_series_create(g, name, 0, width, units, description));
  done:
    if (g >= 0) H5Gclose(g);
    if (file >= 0 && H5Fclose(file) < 0 && !err) err = SNTK_H5(-1);
  }
  err = sntk_agree(res->comm, err);
  if (!err) *id = res->nseries++;
  return err;
}

int sntk_results_append(sntk_results_t *res, int id, const double *row) {
  series_t *s = &res->series[id];
  if (s->nrows == s->cap) {
    /* Every rank tracks the row count, so all reach this growth point together and agree. */
    int64_t cap = s->cap ? 2 * s->cap : s->ncols > 256 ? 4 : 256; /* wide rows: spectra */
    int err = SNTK_OK;
    if (res->rank == 0) {
      double *grown = realloc(s->rows, (size_t)(cap * s->ncols) * sizeof *grown);
      if (grown)
        s->rows = grown;
      else
        err = sntk_error(SNTK_ERR_RUNTIME, "out of memory buffering results");
    }
    SNTK_CALL(sntk_agree(res->comm, err));
    s->cap = cap;
  }
  if (res->rank == 0) memcpy(s->rows + s->nrows * s->ncols, row, (size_t)s->ncols * sizeof *row);
  s->nrows++;
  return SNTK_OK;
}

/* Rank 0: write one series' buffered rows column by column. */
static int flush_series(hid_t file, series_t *s) {
  hid_t g = -1;
  double *col = NULL;
  int err = SNTK_OK;
  if (s->nrows == 0) return SNTK_OK;
  SNTK_TRY(SNTK_H5(g = H5Gopen2(file, s->group, H5P_DEFAULT)));
  if (s->matrix) {
    SNTK_TRY(sntk_h5_series_append(g, s->names[0], s->nrows, s->rows));
    s->nrows = 0;
    goto done;
  }
  SNTK_TRY(SNTK_ALLOC(col, s->nrows));
  for (int c = 0; c < s->ncols; c++) {
    for (int64_t r = 0; r < s->nrows; r++) col[r] = s->rows[r * s->ncols + c];
    SNTK_TRY(sntk_h5_series_append(g, s->names[c], s->nrows, col));
  }
done:
  free(col);
  if (g >= 0) H5Gclose(g);
  return err;
}

int sntk_results_flush(sntk_results_t *res) {
  int err = SNTK_OK;
  sntk_perf_start(SNTK_EV_RESULTS_IO);
  if (res->rank == 0) {
    int pending = 0;
    for (int i = 0; i < res->nseries; i++) pending |= res->series[i].nrows > 0;
    if (pending) {
      hid_t file = -1;
      SNTK_TRY(open_rw(res, &file));
      for (int i = 0; i < res->nseries; i++) SNTK_TRY(flush_series(file, &res->series[i]));
    done:
      if (file >= 0 && H5Fclose(file) < 0 && !err) err = SNTK_H5(-1);
    }
  }
  for (int i = 0; i < res->nseries; i++) res->series[i].nrows = 0;
  sntk_perf_stop(SNTK_EV_RESULTS_IO, 0.0);
  return sntk_agree(res->comm, err);
}

void sntk_results_free(sntk_results_t **res) {
  if (!*res) return;
  for (int i = 0; i < (*res)->nseries; i++) free((*res)->series[i].rows);
  free(*res);
  *res = NULL;
}

int sntk_results_close(sntk_results_t **res) {
  if (!*res) return SNTK_OK;
  int err = sntk_results_flush(*res);
  sntk_results_free(res);
  return err;
}
