/* results.h5 writer: root attributes, matrices and buffered time series (see results.h). */
#include "softntk/results.h"

#include "softntk/error.h"
#include "softntk/h5util.h"
#include "softntk/version.h"

#include <hdf5.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_SERIES 16
#define MAX_COLS 16

typedef struct series {
  char group[256];
  int ncols;  /* values per row */
  int matrix; /* one 2-D dataset names[0] with ncols columns, instead of ncols 1-D datasets */
  char names[MAX_COLS][64];
  double *rows;     /* buffered rows, ncols values each */
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

static int create_file(sntk_results_t *res, const char *command, const char *text,
                       const char *hash, int size) {
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

int sntk_results_matrix(sntk_results_t *res, const char *path, int64_t rows, int64_t cols,
                        const double *data, const char *units, const char *description) {
  int err = SNTK_OK;
  if (res->rank == 0) {
    hid_t file = -1, g = -1;
    const char *leaf;
    SNTK_TRY(open_rw(res, &file));
    SNTK_TRY(parent_group(file, path, &g, &leaf));
    if (sntk_h5_exists(g, leaf)) SNTK_TRY(SNTK_H5(H5Ldelete(g, leaf, H5P_DEFAULT)));
    SNTK_TRY(sntk_h5_write_matrix(g, leaf, rows, cols, data, units, description));
  done:
    if (g >= 0) H5Gclose(g);
    if (file >= 0 && H5Fclose(file) < 0 && !err) err = SNTK_H5(-1);
  }
  return sntk_agree(res->comm, err);
}

int sntk_results_series(sntk_results_t *res, const char *group, int ncols, const sntk_column_t *cols,
                        int *id) {
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
  if (res->rank != 0) return SNTK_OK;
  if (s->nrows == s->cap) {
    int64_t cap = s->cap ? 2 * s->cap : s->ncols > 256 ? 4 : 256; /* wide rows: spectra */
    double *grown = realloc(s->rows, (size_t)(cap * s->ncols) * sizeof *grown);
    if (!grown) return sntk_error(SNTK_ERR_RUNTIME, "out of memory buffering results");
    s->rows = grown;
    s->cap = cap;
  }
  memcpy(s->rows + s->nrows * s->ncols, row, (size_t)s->ncols * sizeof *row);
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
  s->nrows = 0;
done:
  free(col);
  if (g >= 0) H5Gclose(g);
  return err;
}

int sntk_results_flush(sntk_results_t *res) {
  int err = SNTK_OK;
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
