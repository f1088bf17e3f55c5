/* results.h5 writer: root attributes, matrices and time series kept in memory and appended to the
 * file by flushes (see results.h). The restart repair is in results_repair.c. */
#include "results_impl.h"

#include "softntk/blasinfo.h"
#include "softntk/error.h"
#include "softntk/h5util.h"
#include "softntk/parallel.h"
#include "softntk/perf.h"
#include "softntk/signals.h"
#include "softntk/version.h"

#include <hdf5.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define MAX_SERIES  24
#define MAX_COLS    16 /* columns of one series */
#define MAX_COLUMNS 64

/* One extendible dataset /<group>/<name>. Counts are global; values live on rank 0. */
typedef struct column {
  sntk_series_col_t meta; /* group, name, type, width, units, description (rows, data unused) */
  double *rows;           /* rank 0: every row so far, max(width, 1) values each */
  int64_t nrows, cap;     /* rows held, rows allocated */
  int64_t flushed;        /* rows already in the file */
} column_t;

/* A declaration: the columns one append fills, in order (a matrix series is one 2-D column). */
typedef struct series {
  int ncols;
  int col[MAX_COLS];
} series_t;

struct sntk_results {
  MPI_Comm comm;
  int rank;
  char path[4096];
  int ncolumns, nseries;
  column_t columns[MAX_COLUMNS];
  series_t series[MAX_SERIES];
};

const char *sntk_results_path(const sntk_results_t *res) {
  return res->path;
}

void sntk_series_set_free(sntk_series_set_t *set) {
  if (set->owned)
    for (int i = 0; i < set->ncols; i++) free(set->cols[i].data);
  free(set->cols);
  memset(set, 0, sizeof *set);
}

const sntk_series_col_t *sntk_series_set_find(const sntk_series_set_t *set, const char *group,
                                              const char *name) {
  const char *g = group[0] == '/' ? group + 1 : group;
  for (int i = 0; set && i < set->ncols; i++) {
    const char *h = set->cols[i].group[0] == '/' ? set->cols[i].group + 1 : set->cols[i].group;
    if (strcmp(h, g) == 0 && strcmp(set->cols[i].name, name) == 0) return &set->cols[i];
  }
  return NULL;
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

int results_create_file(const char *path, const char *command, const char *text, const char *hash,
                        int size) {
  hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (f < 0) {
    H5Eclear2(H5E_DEFAULT);
    return sntk_error(SNTK_ERR_RUNTIME, "cannot create results file %s", path);
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

static int new_results(MPI_Comm comm, const char *path, sntk_results_t **out) {
  sntk_results_t *res = NULL;
  *out = NULL;
  SNTK_CALL(SNTK_ALLOC(res, 1));
  res->comm = comm;
  MPI_Comm_rank(comm, &res->rank);
  snprintf(res->path, sizeof res->path, "%s", path);
  *out = res;
  return SNTK_OK;
}

int sntk_results_create(MPI_Comm comm, const char *path, const char *command,
                        const char *config_text, const char *config_hash, sntk_results_t **out) {
  sntk_results_t *res = NULL;
  int size, err = new_results(comm, path, &res);
  MPI_Comm_size(comm, &size);
  if (!err && res->rank == 0)
    err = results_create_file(path, command, config_text, config_hash, size);
  err = sntk_agree(comm, err);
  if (err) sntk_results_free(&res);
  *out = res;
  return err;
}

/* ---- columns in memory -------------------------------------------------------------------- */

static int64_t row_width(const column_t *c) {
  return c->meta.width > 0 ? c->meta.width : 1;
}

static int find_column(const sntk_results_t *res, const char *group, const char *name) {
  const char *g = group[0] == '/' ? group + 1 : group;
  for (int i = 0; i < res->ncolumns; i++) {
    const sntk_series_col_t *m = &res->columns[i].meta;
    if (strcmp(m->group[0] == '/' ? m->group + 1 : m->group, g) == 0 && !strcmp(m->name, name))
      return i;
  }
  return -1;
}

/* Collective (every rank calls it at the same row counts): room for `more` further rows. */
static int reserve(sntk_results_t *res, column_t *c, int64_t more) {
  if (c->nrows + more <= c->cap) return SNTK_OK;
  int64_t cap = c->cap ? 2 * c->cap : c->meta.width > 256 ? 4 : 256; /* wide rows: spectra */
  while (cap < c->nrows + more) cap *= 2;
  int err = SNTK_OK;
  if (res->rank == 0) {
    double *grown = realloc(c->rows, (size_t)(cap * row_width(c)) * sizeof *grown);
    if (grown)
      c->rows = grown;
    else
      err = sntk_error(SNTK_ERR_RUNTIME, "out of memory holding the results series");
  }
  SNTK_CALL(sntk_agree(res->comm, err));
  c->cap = cap;
  return SNTK_OK;
}

/* Collective: add a column (no rows) described by meta. */
static int add_column(sntk_results_t *res, const sntk_series_col_t *meta, int *index) {
  if (res->ncolumns >= MAX_COLUMNS)
    return sntk_error(SNTK_ERR_RUNTIME, "too many series columns in a results file");
  column_t *c = &res->columns[res->ncolumns];
  memset(c, 0, sizeof *c);
  c->meta = *meta;
  c->meta.rows = 0;
  c->meta.data = NULL;
  *index = res->ncolumns++;
  return SNTK_OK;
}

/* Collective: rows of the columns of one group (the longest, 0 when it has none yet). */
static int64_t group_rows(const sntk_results_t *res, const char *group) {
  int64_t n = 0;
  for (int i = 0; i < res->ncolumns; i++)
    if (!strcmp(res->columns[i].meta.group, group) && res->columns[i].nrows > n)
      n = res->columns[i].nrows;
  return n;
}

/* Rank 0: make sure the dataset of column c exists in the open file. */
static int ensure_dataset(hid_t file, const column_t *c) {
  hid_t g = -1;
  int err = SNTK_OK;
  SNTK_TRY(SNTK_H5(g = sntk_h5_group(file, c->meta.group)));
  if (!sntk_h5_exists(g, c->meta.name))
    SNTK_TRY(sntk_h5_series_create(g, c->meta.name, c->meta.is_int, c->meta.width,
                                   c->meta.units[0] ? c->meta.units : NULL,
                                   c->meta.description[0] ? c->meta.description : NULL));
done:
  if (g >= 0) H5Gclose(g);
  return err;
}

/* Collective: declare a series of columns (matrix: one column of `width` values per row). Columns
 * already held (a resumed file) are reused; new columns of a group that already holds rows start
 * with as many rows of NaN, so the group's rows stay aligned. */
static int declare(sntk_results_t *res, const char *group, int ncols, const sntk_series_col_t *metas,
                   int *id) {
  if (res->nseries >= MAX_SERIES || ncols > MAX_COLS || ncols < 1)
    return sntk_error(SNTK_ERR_RUNTIME, "too many series or columns in results file");
  series_t *s = &res->series[res->nseries];
  const int64_t existing = group_rows(res, group);
  int err = SNTK_OK;
  s->ncols = ncols;
  for (int k = 0; k < ncols; k++) {
    int i = find_column(res, group, metas[k].name);
    if (i >= 0) {
      column_t *c = &res->columns[i];
      if (c->meta.width != metas[k].width)
        return sntk_error(SNTK_ERR_INPUT,
                          "%s/%s in %s holds rows of %lld values but this run writes %lld",
                          group, metas[k].name, res->path, (long long)row_width(c),
                          (long long)(metas[k].width > 0 ? metas[k].width : 1));
      if (!c->meta.description[0]) { /* carried by an old checkpoint without attributes */
        snprintf(c->meta.units, sizeof c->meta.units, "%s", metas[k].units);
        snprintf(c->meta.description, sizeof c->meta.description, "%s", metas[k].description);
      }
      c->meta.is_int = metas[k].is_int;
    } else {
      SNTK_CALL(add_column(res, &metas[k], &i));
      column_t *c = &res->columns[i];
      SNTK_CALL(reserve(res, c, existing));
      if (res->rank == 0)
        for (int64_t v = 0; v < existing * row_width(c); v++) c->rows[v] = NAN;
      c->nrows = existing;
    }
    s->col[k] = i;
  }
  if (res->rank == 0) {
    hid_t file = -1;
    SNTK_TRY(open_rw(res, &file));
    for (int k = 0; k < ncols && !err; k++) err = ensure_dataset(file, &res->columns[s->col[k]]);
  done:
    if (file >= 0 && H5Fclose(file) < 0 && !err) err = SNTK_H5(-1);
  }
  SNTK_CALL(sntk_agree(res->comm, err));
  *id = res->nseries++;
  return SNTK_OK;
}

static void fill_meta(sntk_series_col_t *m, const char *group, const char *name, int is_int,
                      int64_t width, const char *units, const char *description) {
  memset(m, 0, sizeof *m);
  snprintf(m->group, sizeof m->group, "%s", group);
  snprintf(m->name, sizeof m->name, "%s", name);
  m->is_int = is_int;
  m->width = width;
  snprintf(m->units, sizeof m->units, "%s", units ? units : "");
  snprintf(m->description, sizeof m->description, "%s", description ? description : "");
}

int sntk_results_series(sntk_results_t *res, const char *group, int ncols,
                        const sntk_column_t *cols, int *id) {
  sntk_series_col_t metas[MAX_COLS];
  if (ncols > MAX_COLS) return sntk_error(SNTK_ERR_RUNTIME, "too many columns in a series");
  for (int k = 0; k < ncols; k++)
    fill_meta(&metas[k], group, cols[k].name, cols[k].is_int, 0, cols[k].units,
              cols[k].description);
  return declare(res, group, ncols, metas, id);
}

int sntk_results_rows(sntk_results_t *res, const char *group, const char *name, int64_t width,
                      const char *units, const char *description, int *id) {
  sntk_series_col_t meta;
  if (width < 1 || width > (1 << 30))
    return sntk_error(SNTK_ERR_RUNTIME, "a row width of %lld", (long long)width);
  fill_meta(&meta, group, name, 0, width, units, description);
  return declare(res, group, 1, &meta, id);
}

int sntk_results_append(sntk_results_t *res, int id, const double *row) {
  const series_t *s = &res->series[id];
  int64_t off = 0;
  for (int k = 0; k < s->ncols; k++) {
    column_t *c = &res->columns[s->col[k]];
    const int64_t w = row_width(c);
    SNTK_CALL(reserve(res, c, 1));
    if (res->rank == 0) memcpy(c->rows + c->nrows * w, row + off, (size_t)w * sizeof *row);
    c->nrows++;
    off += w;
  }
  return SNTK_OK;
}

int sntk_results_history(sntk_results_t *res, int64_t step, sntk_series_set_t *set) {
  int64_t *keep = NULL;
  int err = SNTK_ALLOC(keep, res->ncolumns + 1);
  memset(set, 0, sizeof *set);
  if (!err) err = SNTK_ALLOC(set->cols, res->ncolumns + 1);
  SNTK_CALL(sntk_agree(res->comm, err));
  if (res->rank == 0)
    for (int i = 0; i < res->ncolumns; i++) { /* the rows before the group's first step >= step */
      const column_t *c = &res->columns[i];
      int st = find_column(res, c->meta.group, "step");
      const column_t *sc = st >= 0 && res->columns[st].meta.width == 0 ? &res->columns[st] : NULL;
      int64_t k = 0;
      while (k < c->nrows && (!sc || (k < sc->nrows && sc->rows[k] < (double)step))) k++;
      keep[i] = k;
    }
  err = SNTK_MPI(MPI_Bcast(keep, res->ncolumns, MPI_INT64_T, 0, res->comm));
  for (int i = 0; !err && i < res->ncolumns; i++) {
    set->cols[i] = res->columns[i].meta;
    set->cols[i].rows = keep[i];
    set->cols[i].data = res->rank == 0 ? res->columns[i].rows : NULL;
  }
  set->ncols = res->ncolumns;
  free(keep);
  if (err) sntk_series_set_free(set);
  return err;
}

/* Collective: hold the columns of `set` (rows already in the file when in_file). */
static int hold_set(sntk_results_t *res, const sntk_series_set_t *set, int in_file) {
  for (int i = 0; i < set->ncols; i++) {
    const sntk_series_col_t *m = &set->cols[i];
    int k = find_column(res, m->group, m->name);
    if (k < 0) SNTK_CALL(add_column(res, m, &k));
    column_t *c = &res->columns[k];
    SNTK_CALL(reserve(res, c, m->rows));
    if (res->rank == 0 && m->rows > 0)
      memcpy(c->rows, m->data, (size_t)(m->rows * row_width(c)) * sizeof(double));
    c->nrows = m->rows;
    c->flushed = in_file ? m->rows : 0;
  }
  return SNTK_OK;
}

/* Collective: the metadata of a set, from rank 0 to every rank (data stay on rank 0). */
static int share_meta(MPI_Comm comm, sntk_series_set_t *set) {
  int rank, n = set->ncols, err = SNTK_OK;
  MPI_Comm_rank(comm, &rank);
  SNTK_CALL(SNTK_MPI(MPI_Bcast(&n, 1, MPI_INT, 0, comm)));
  if (rank != 0) {
    set->ncols = n;
    set->owned = 1;
    err = SNTK_ALLOC(set->cols, n + 1);
  }
  SNTK_CALL(sntk_agree(comm, err));
  for (int i = 0; i < n; i++) {
    double *keep = set->cols[i].data;
    SNTK_CALL(sntk_bcast_bytes(&set->cols[i], (int64_t)sizeof set->cols[i], 0, comm));
    set->cols[i].data = rank == 0 ? keep : NULL;
  }
  return SNTK_OK;
}

int sntk_results_resume(MPI_Comm comm, const char *path, const char *command,
                        const char *config_text, const char *config_hash, int64_t step,
                        const sntk_series_set_t *hist, int *rebuilt, sntk_results_t **out) {
  sntk_results_t *res = NULL;
  sntk_series_set_t extra = {0};
  int size, flag = 0, err = new_results(comm, path, &res);
  MPI_Comm_size(comm, &size);
  if (!err && res->rank == 0)
    err = results_repair(path, command, config_text, config_hash, size, step, hist, &flag);
  if (!err && res->rank == 0) err = results_extra_columns(path, hist, &extra);
  err = sntk_agree(comm, err);
  if (!err) err = SNTK_MPI(MPI_Bcast(&flag, 1, MPI_INT, 0, comm));
  if (!err) err = share_meta(comm, &extra);
  if (!err) err = hold_set(res, hist, !flag);
  if (!err) err = hold_set(res, &extra, 1);
  sntk_series_set_free(&extra);
  if (!err && flag && res->rank == 0) { /* a rebuilt file: the carried series are written anew */
    hid_t file = -1;
    err = open_rw(res, &file);
    for (int i = 0; !err && i < res->ncolumns; i++) err = ensure_dataset(file, &res->columns[i]);
    if (file >= 0 && H5Fclose(file) < 0 && !err) err = SNTK_H5(-1);
  }
  err = sntk_agree(comm, err);
  if (err) sntk_results_free(&res);
  *rebuilt = flag;
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

/* ---- flushing ----------------------------------------------------------------------------- */

int results_is_column(hid_t ds) {
  hid_t sp = H5Dget_space(ds);
  hsize_t dims[2] = {0, 0}, maxd[2] = {0, 0};
  int ok = sp >= 0 && H5Sget_simple_extent_ndims(sp) >= 1 &&
           H5Sget_simple_extent_dims(sp, dims, maxd) >= 1 && maxd[0] == H5S_UNLIMITED;
  if (sp >= 0) H5Sclose(sp);
  return ok;
}

int results_append_rows(hid_t loc, const char *name, int64_t rows, int64_t width,
                        const double *values, long long fault_step) {
  hid_t ds = -1, fs = -1, ms = -1, ty = -1;
  int64_t *iv = NULL;
  int err = SNTK_OK;
  const int rank = width > 0 ? 2 : 1;
  const int64_t w = width > 0 ? width : 1;
  if (rows <= 0) return SNTK_OK;
  SNTK_TRY(SNTK_H5(ds = H5Dopen2(loc, name, H5P_DEFAULT)));
  SNTK_TRY(SNTK_H5(fs = H5Dget_space(ds)));
  hsize_t dims[2] = {0, (hsize_t)w};
  H5Sget_simple_extent_dims(fs, dims, NULL);
  H5Sclose(fs);
  fs = -1;
  hsize_t start[2] = {dims[0], 0}, count[2] = {(hsize_t)rows, (hsize_t)w};
  hsize_t grown[2] = {dims[0] + (hsize_t)rows, (hsize_t)w};
  SNTK_TRY(SNTK_H5(H5Dset_extent(ds, grown)));
  /* A kill inside H5Fclose can leave the new extent on disk without the rows: write the metadata
   * out before the fault kills the process, as such a crash would. */
  if (sntk_fault_armed("results-extend", fault_step)) H5Fflush(ds, H5F_SCOPE_LOCAL);
  sntk_fault_point("results-extend", fault_step);
  SNTK_TRY(SNTK_H5(fs = H5Dget_space(ds)));
  SNTK_TRY(SNTK_H5(H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL)));
  SNTK_TRY(SNTK_H5(ms = H5Screate_simple(rank, count, NULL)));
  SNTK_TRY(SNTK_H5(ty = H5Dget_type(ds)));
  if (H5Tget_class(ty) == H5T_INTEGER) {
    SNTK_TRY(SNTK_ALLOC(iv, rows * w));
    for (int64_t i = 0; i < rows * w; i++) iv[i] = (int64_t)values[i];
    SNTK_TRY(SNTK_H5(H5Dwrite(ds, H5T_NATIVE_INT64, ms, fs, H5P_DEFAULT, iv)));
  } else {
    SNTK_TRY(SNTK_H5(H5Dwrite(ds, H5T_NATIVE_DOUBLE, ms, fs, H5P_DEFAULT, values)));
  }
done:
  free(iv);
  if (ty >= 0) H5Tclose(ty);
  if (ms >= 0) H5Sclose(ms);
  if (fs >= 0) H5Sclose(fs);
  if (ds >= 0) H5Dclose(ds);
  return err;
}

/* Rank 0: the step of the newest row waiting to be written (the fault points' step). */
static long long pending_step(const sntk_results_t *res) {
  long long step = -1;
  for (int i = 0; i < res->ncolumns; i++) {
    const column_t *c = &res->columns[i];
    if (!strcmp(c->meta.name, "step") && c->nrows > c->flushed && c->rows[c->nrows - 1] > step)
      step = (long long)c->rows[c->nrows - 1];
  }
  return step;
}

/* Rank 0: write every column's rows that are not in the file yet. */
static int flush_rank0(sntk_results_t *res) {
  hid_t file = -1, g = -1;
  int err = SNTK_OK, written = 0;
  const long long step = pending_step(res);
  for (int i = 0; i < res->ncolumns; i++) {
    column_t *c = &res->columns[i];
    if (c->nrows == c->flushed) continue;
    if (file < 0) SNTK_TRY(open_rw(res, &file));
    if (written++ == 1) { /* some columns written, on disk as a kill inside H5Fclose can leave */
      if (sntk_fault_armed("results-flush", step)) H5Fflush(file, H5F_SCOPE_LOCAL);
      sntk_fault_point("results-flush", step);
    }
    SNTK_TRY(SNTK_H5(g = H5Gopen2(file, c->meta.group, H5P_DEFAULT)));
    SNTK_TRY(results_append_rows(g, c->meta.name, c->nrows - c->flushed, c->meta.width,
                                 c->rows + c->flushed * row_width(c), step));
    H5Gclose(g);
    g = -1;
    c->flushed = c->nrows;
  }
done:
  if (g >= 0) H5Gclose(g);
  if (file >= 0 && H5Fclose(file) < 0 && !err) err = SNTK_H5(-1);
  return err;
}

int sntk_results_flush(sntk_results_t *res) {
  int err = SNTK_OK;
  sntk_perf_start(SNTK_EV_RESULTS_IO);
  if (res->rank == 0) err = flush_rank0(res);
  for (int i = 0; i < res->ncolumns; i++) res->columns[i].flushed = res->columns[i].nrows;
  sntk_perf_stop(SNTK_EV_RESULTS_IO, 0.0);
  return sntk_agree(res->comm, err);
}

void sntk_results_free(sntk_results_t **res) {
  if (!*res) return;
  for (int i = 0; i < (*res)->ncolumns; i++) free((*res)->columns[i].rows);
  free(*res);
  *res = NULL;
}

int sntk_results_close(sntk_results_t **res) {
  if (!*res) return SNTK_OK;
  int err = sntk_results_flush(*res);
  sntk_results_free(res);
  return err;
}
