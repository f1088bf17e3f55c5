/* `softntk inspect`: metadata and checksum verification of checkpoints and results files: the
 * whole file's CRC32C against its sidecar, every dataset read whole (Fletcher32 and the metadata
 * checksums), and for a results file every series against itself (strictly increasing steps,
 * aligned columns) and against the newest checkpoint of its run directory. */
#include "softntk/inspect.h"

#include "softntk/checkpoint.h"
#include "softntk/error.h"
#include "softntk/filesum.h"
#include "softntk/h5util.h"
#include "softntk/parallel.h"
#include "softntk/schema.h"

#include <errno.h>
#include <libgen.h>
#include <hdf5.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct walk {
  FILE *out;
  int err;
  char msg[2048]; /* the first failure */
  long datasets;
  double bytes;
} walk_t;

/* Read one dataset whole in its own type: the filters (Fletcher32) verify every chunk. */
static int verify_dataset(hid_t ds, const char *name, walk_t *w) {
  hid_t sp = H5Dget_space(ds), ty = H5Dget_type(ds);
  hsize_t dims[8] = {0};
  int rank = H5Sget_simple_extent_ndims(sp);
  H5Sget_simple_extent_dims(sp, dims, NULL);
  hssize_t n = H5Sget_simple_extent_npoints(sp);
  size_t size = H5Tget_size(ty);
  int64_t avail = sntk_mem_available();
  double bytes = (double)(n > 0 ? n : 1) * (double)size;
  void *buf = (avail > 0 && bytes > (double)avail) || bytes > 9.0e18 ? NULL : malloc((size_t)bytes);
  int err = SNTK_OK;
  if (!buf) {
    err = sntk_error(SNTK_ERR_RUNTIME, "out of memory reading %s", name);
  } else if (n > 0 && H5Dread(ds, ty, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
    char msg[1024];
    SNTK_H5(-1);
    snprintf(msg, sizeof msg, "%s", sntk_error_message());
    err = sntk_error(SNTK_ERR_RUNTIME, "dataset /%s fails verification: %s", name, msg);
  }
  char shape[128] = "";
  size_t used = 0;
  for (int i = 0; i < rank && used < sizeof shape; i++)
    used += (size_t)snprintf(shape + used, sizeof shape - used, "%s%llu", i ? " x " : "",
                             (unsigned long long)dims[i]);
  hid_t pl = H5Dget_create_plist(ds);
  int checksummed = 0;
  for (int i = 0; i < H5Pget_nfilters(pl); i++) {
    unsigned flags;
    size_t nelem = 0;
    char fname[64];
    if (H5Pget_filter2(pl, (unsigned)i, &flags, &nelem, NULL, sizeof fname, fname, NULL) ==
        H5Z_FILTER_FLETCHER32)
      checksummed = 1;
  }
  H5Pclose(pl);
  fprintf(w->out, "  /%-28s %-16s %s%s\n", name, rank ? shape : "scalar",
          checksummed ? "fletcher32 " : "", err ? "FAILED" : "ok");
  w->datasets++;
  w->bytes += (double)n * (double)size;
  free(buf);
  H5Tclose(ty);
  H5Sclose(sp);
  return err;
}

static herr_t visit(hid_t g, const char *name, const H5L_info_t *info, void *data) {
  walk_t *w = data;
  (void)info;
  hid_t obj = H5Oopen(g, name, H5P_DEFAULT);
  if (obj < 0) {
    H5Eclear2(H5E_DEFAULT);
    if (!w->err) {
      w->err = sntk_error(SNTK_ERR_RUNTIME, "object /%s cannot be opened", name);
      snprintf(w->msg, sizeof w->msg, "%s", sntk_error_message());
    }
    fprintf(w->out, "  /%-28s FAILED (cannot open)\n", name);
    return 0;
  }
  if (H5Iget_type(obj) == H5I_DATASET) {
    int err = verify_dataset(obj, name, w);
    if (err && !w->err) w->err = err, snprintf(w->msg, sizeof w->msg, "%s", sntk_error_message());
  }
  H5Oclose(obj);
  return 0;
}

static void print_attr(hid_t f, const char *name, FILE *out) {
  if (H5Aexists(f, name) <= 0) return;
  hid_t at = H5Aopen(f, name, H5P_DEFAULT), ty = H5Aget_type(at);
  H5T_class_t cls = H5Tget_class(ty);
  H5Tclose(ty);
  H5Aclose(at);
  if (cls == H5T_STRING) {
    char *s = NULL;
    if (sntk_h5_attr_read_str(f, name, &s) == 0) {
      size_t lines = 0;
      for (const char *c = s; *c; c++) lines += *c == '\n';
      if (lines)
        fprintf(out, "  %-16s (%zu lines)\n", name, lines);
      else
        fprintf(out, "  %-16s %s\n", name, s);
    }
    free(s);
  } else if (cls == H5T_INTEGER) {
    int64_t v;
    if (sntk_h5_attr_read_i64(f, name, &v) == 0) fprintf(out, "  %-16s %lld\n", name, (long long)v);
  } else if (cls == H5T_FLOAT) {
    double v;
    if (sntk_h5_attr_read_f64(f, name, &v) == 0) fprintf(out, "  %-16s %.10g\n", name, v);
  }
  H5Eclear2(H5E_DEFAULT);
}

/* The whole file's CRC32C against its sidecar; prints one line. SNTK_ERR_RUNTIME on a mismatch. */
static int check_filesum(const char *path, FILE *out) {
  char sum[4200];
  uint32_t want = 0, got = 0;
  int64_t want_size = 0, size = 0;
  int present = 0;
  sntk_filesum_sidecar(path, sum, sizeof sum);
  int err = sntk_filesum_read(sum, &present, &want, &want_size);
  if (err) {
    fprintf(out, "  %-28s FAILED: %s\n", "whole file (CRC32C)", sntk_error_message());
    return sntk_error(SNTK_ERR_RUNTIME, "%s", sntk_error_message());
  }
  if (!present) {
    fprintf(out, "  %-28s no checksum file %s: not verified\n", "whole file (CRC32C)", sum);
    return SNTK_OK;
  }
  SNTK_CALL(sntk_filesum_compute(path, &got, &size));
  if (got != want || size != want_size) {
    fprintf(out, "  %-28s %08x over %lld bytes, but %s records %08x over %lld bytes FAILED\n",
            "whole file (CRC32C)", got, (long long)size, sum, want, (long long)want_size);
    return sntk_error(SNTK_ERR_RUNTIME,
                      "the whole-file checksum differs from %s: bytes of %s changed after it was "
                      "written",
                      sum, path);
  }
  fprintf(out, "  %-28s %08x over %lld bytes, as %s records: ok\n", "whole file (CRC32C)", got,
          (long long)size, sum);
  return SNTK_OK;
}

/* ---- series of a results file ----------------------------------------------------------- */

/* The value of `key` in section `section` of a resolved config text ("" when absent). */
static void config_value(const char *text, const char *section, const char *key, char *out,
                         size_t len) {
  char cur[128] = "";
  out[0] = '\0';
  for (const char *line = text; line && *line;) {
    const char *end = strchr(line, '\n');
    char buf[2048], k[128], v[1600];
    size_t n = end ? (size_t)(end - line) : strlen(line);
    snprintf(buf, sizeof buf, "%.*s", (int)(n < sizeof buf ? n : sizeof buf - 1), line);
    if (sscanf(buf, "[%127[^]]]", k) == 1)
      snprintf(cur, sizeof cur, "%s", k);
    else if (!strcmp(cur, section) && sscanf(buf, " %127[^= ] = %1599[^\n]", k, v) == 2 &&
             !strcmp(k, key))
      snprintf(out, len, "%s", v);
    line = end ? end + 1 : NULL;
  }
}

typedef struct rseries {
  FILE *out;
  int problems;
  int64_t limit;                 /* the checkpoint's step (-1: none) */
  const sntk_series_set_t *hist; /* its series */
  char ckpt[4400];
  int compared;
} rseries_t;

static void bad(rseries_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bad(rseries_t *r, const char *fmt, ...) {
  va_list ap;
  char msg[1024];
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  fprintf(r->out, "  FAILED: %s\n", msg);
  if (!r->problems++) sntk_error(SNTK_ERR_RUNTIME, "%s", msg);
}

static int read_all(hid_t g, const char *name, double **v, int64_t *rows, int64_t *width) {
  hid_t ds = H5Dopen2(g, name, H5P_DEFAULT), sp = -1;
  hsize_t dims[2] = {0, 1};
  int nd = -1, ok = 0;
  if (ds >= 0) sp = H5Dget_space(ds);
  if (sp >= 0) nd = H5Sget_simple_extent_ndims(sp), H5Sget_simple_extent_dims(sp, dims, NULL);
  *v = NULL;
  if (nd == 1 || nd == 2) {
    *rows = (int64_t)dims[0];
    *width = nd == 2 ? (int64_t)dims[1] : 0;
    *v = malloc(sizeof(double) * (size_t)(dims[0] * dims[1] + 1));
    ok = *v &&
         (dims[0] == 0 || H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, *v) >= 0);
  }
  if (sp >= 0) H5Sclose(sp);
  if (ds >= 0) H5Dclose(ds);
  H5Eclear2(H5E_DEFAULT);
  if (!ok) free(*v), *v = NULL;
  return ok ? SNTK_OK : SNTK_ERR_RUNTIME;
}

/* One series group: strictly increasing steps, aligned columns, agreement with the checkpoint. */
static void check_series(hid_t g, const char *gpath, rseries_t *r) {
  double *step = NULL;
  int64_t rows = 0, width, k = 0;
  if (read_all(g, "step", &step, &rows, &width) != SNTK_OK) {
    bad(r, "%s/step cannot be read", gpath);
    return;
  }
  for (int64_t i = 1; i < rows; i++)
    if (!(step[i] > step[i - 1])) {
      bad(r,
          "%s/step is not strictly increasing: %.0f follows %.0f at row %lld (rows of two "
          "writers, or of a crash; a restart repairs it)",
          gpath, step[i], step[i - 1], (long long)i);
      break;
    }
  while (r->limit >= 0 && k < rows && step[k] < (double)r->limit) k++;
  H5G_info_t gi;
  H5Gget_info(g, &gi);
  int ncols = 0, agree = 0;
  for (hsize_t i = 0; i < gi.nlinks; i++) {
    char name[256];
    double *v = NULL;
    int64_t n, w;
    if (H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, name, sizeof name, H5P_DEFAULT) <
        0)
      continue;
    hid_t ds = H5Dopen2(g, name, H5P_DEFAULT);
    if (ds < 0) {
      H5Eclear2(H5E_DEFAULT);
      continue;
    }
    hid_t sp = H5Dget_space(ds);
    hsize_t dims[2], maxd[2] = {0, 0};
    H5Sget_simple_extent_dims(sp, dims, maxd);
    H5Sclose(sp);
    H5Dclose(ds);
    if (maxd[0] != H5S_UNLIMITED) continue; /* not a series column */
    ncols++;
    if (read_all(g, name, &v, &n, &w) != SNTK_OK) {
      bad(r, "%s/%s cannot be read", gpath, name);
      continue;
    }
    if (n != rows)
      bad(r, "%s/%s holds %lld rows, %s/step %lld", gpath, name, (long long)n, gpath,
          (long long)rows);
    const sntk_series_col_t *c = sntk_series_set_find(r->hist, gpath, name);
    if (c && n == rows) {
      const int64_t wd = w > 0 ? w : 1;
      if (w != c->width || k != c->rows)
        bad(r, "%s/%s holds %lld rows before step %lld, %s %lld", gpath, name, (long long)k,
            (long long)r->limit, r->ckpt, (long long)c->rows);
      else if (k > 0 && memcmp(v, c->data, sizeof(double) * (size_t)(k * wd)) != 0)
        bad(r, "%s/%s differs from %s before step %lld", gpath, name, r->ckpt, (long long)r->limit);
      else
        agree++;
    }
    free(v);
  }
  fprintf(r->out, "  series %-20s %lld rows x %d columns, steps %.0f..%.0f", gpath, (long long)rows,
          ncols, rows ? step[0] : 0.0, rows ? step[rows - 1] : 0.0);
  if (agree)
    fprintf(r->out, "; %d columns equal %s before step %lld", agree, r->ckpt, (long long)r->limit);
  fprintf(r->out, "\n");
  r->compared += agree;
  free(step);
}

static herr_t series_visit(hid_t f, const char *name, const H5O_info_t *info, void *data) {
  rseries_t *r = data;
  if (info->type != H5O_TYPE_GROUP || !strcmp(name, ".")) return 0;
  hid_t g = H5Gopen2(f, name, H5P_DEFAULT);
  if (g >= 0 && H5Lexists(g, "step", H5P_DEFAULT) > 0) {
    char gpath[300];
    snprintf(gpath, sizeof gpath, "/%s", name);
    check_series(g, gpath, r);
  }
  if (g >= 0) H5Gclose(g);
  H5Eclear2(H5E_DEFAULT);
  return 0;
}

/* The series of a results file; the newest checkpoint of its run directory, if any, in r. */
static int check_results(hid_t f, const char *path, int compare, FILE *out) {
  rseries_t r = {out, 0, -1, NULL, "", 0};
  sntk_series_set_t hist = {0};
  char *config = NULL, cdir[2048] = "checkpoints", run[4096], dir[8192];
  int64_t *steps = NULL;
  int n = 0;
  char copy[4096];
  snprintf(copy, sizeof copy, "%s", path);
  snprintf(run, sizeof run, "%s", dirname(copy));
  if (sntk_h5_attr_read_str(f, "config", &config) == SNTK_OK) {
    config_value(config, "checkpoint", "dir", cdir, sizeof cdir);
    if (!cdir[0]) snprintf(cdir, sizeof cdir, "checkpoints");
  }
  free(config);
  sntk_ckpt_dir(run, cdir, dir, sizeof dir);
  if (compare) sntk_ckpt_list(dir, &steps, &n);
  for (int i = 0; i < n && r.limit < 0; i++) { /* the newest checkpoint that reads */
    int64_t step;
    sntk_ckpt_path(dir, steps[i], r.ckpt, sizeof r.ckpt);
    if (sntk_ckpt_history(r.ckpt, &step, &hist) == SNTK_OK) {
      r.limit = step;
      r.hist = &hist;
    } else {
      fprintf(out, "  note: %s cannot be read (%s); trying an older checkpoint\n", r.ckpt,
              sntk_error_message());
    }
  }
  free(steps);
  if (r.limit < 0 && compare)
    fprintf(out, "  (no checkpoint in %s to compare the series with)\n", dir);
  H5Ovisit(f, H5_INDEX_NAME, H5_ITER_INC, series_visit, &r);
  H5Eclear2(H5E_DEFAULT);
  for (int i = 0; r.hist && i < hist.ncols; i++) {
    char p[400];
    snprintf(p, sizeof p, "%s/%s", hist.cols[i].group, hist.cols[i].name);
    if (!sntk_h5_exists(f, p)) bad(&r, "%s, which %s carries, is missing", p, r.ckpt);
  }
  sntk_series_set_free(&hist);
  return r.problems ? SNTK_ERR_RUNTIME : SNTK_OK;
}

/* A file that cannot be read as a softntk file: damaged (exit 1) when its checksum says so, else
 * `code` with the message given. */
static int unreadable(int sum_err, const char *sum_msg, FILE *out, int code, const char *msg) {
  if (sum_err) {
    sntk_error(SNTK_ERR_RUNTIME, "%s; %s", sum_msg, msg);
    fprintf(out, "INVALID: %s\n", sntk_error_message());
    return SNTK_ERR_RUNTIME;
  }
  return sntk_error(code, "%s", msg);
}

int sntk_inspect_file(const char *path, FILE *out) {
  struct stat st;
  char msg[4400];
  if (stat(path, &st) != 0) return sntk_error(SNTK_ERR_INPUT, "%s: %s", path, strerror(errno));
  char sum_msg[2048] = "";
  int sum_err = check_filesum(path, out); /* first: it needs nothing of HDF5 */
  if (sum_err) snprintf(sum_msg, sizeof sum_msg, "%s", sntk_error_message());
  if (H5Fis_hdf5(path) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    snprintf(msg, sizeof msg, "%s is not a valid HDF5 file (truncated or corrupt?)", path);
    return unreadable(sum_err, sum_msg, out, SNTK_ERR_RUNTIME, msg);
  }
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) {
    H5Eclear2(H5E_DEFAULT);
    snprintf(msg, sizeof msg, "%s cannot be opened (truncated or corrupt)", path);
    return unreadable(sum_err, sum_msg, out, SNTK_ERR_RUNTIME, msg);
  }
  char *format = NULL;
  int err = sntk_h5_attr_read_str(f, "format", &format);
  if (err) {
    H5Fclose(f);
    H5Eclear2(H5E_DEFAULT);
    snprintf(msg, sizeof msg, "%s is not a softntk file (no format attribute)", path);
    return unreadable(sum_err, sum_msg, out, SNTK_ERR_INPUT, msg);
  }
  fprintf(out, "%s: %s, %lld bytes\n", path, format, (long long)st.st_size);
  static const char *attrs[] = {"format_version",
                                "softntk_version",
                                "command",
                                "step",
                                "n",
                                "d",
                                "k",
                                "m",
                                "activation",
                                "gamma",
                                "nu",
                                "mpi_size",
                                "config_hash",
                                "data_hash",
                                "start_time",
                                "created",
                                "steps_done",
                                "final_loss",
                                "resumed_at_step",
                                "config",
                                NULL};
  for (int i = 0; attrs[i]; i++) print_attr(f, attrs[i], out);
  walk_t w = {out, SNTK_OK, "", 0, 0};
  H5Lvisit(f, H5_INDEX_NAME, H5_ITER_INC, visit, &w);
  H5Eclear2(H5E_DEFAULT);
  /* the file against its declared schema */
  unsigned kind = 0;
  char *command = NULL;
  if (!strcmp(format, SNTK_CKPT_FORMAT))
    kind = SNTK_SCHEMA_CHECKPOINT;
  else if (sntk_h5_attr_read_str(f, "command", &command) == SNTK_OK)
    kind = sntk_schema_file_of_command(command);
  H5Eclear2(H5E_DEFAULT);
  free(command);
  if (!kind) kind = sntk_schema_file_of_path(path);
  int series_err = SNTK_OK;
  char series_msg[2048] = "";
  if (!strcmp(format, "softntk-results")) {
    /* only the results.h5 of train and score holds the series a checkpoint carries */
    series_err = check_results(f, path, kind == SNTK_SCHEMA_RESULTS, out);
    if (series_err) snprintf(series_msg, sizeof series_msg, "%s", sntk_error_message());
  }
  /* the file against its declared schema */
  if (kind) {
    int schema_err = sntk_inspect_check_schema(f, kind, out);
    if (schema_err && !series_err) {
      series_err = schema_err;
      snprintf(series_msg, sizeof series_msg, "%s", sntk_error_message());
    }
  } else {
    fprintf(out, "  (not a file kind of the schema: its layout is not checked)\n");
  }
  H5Fclose(f);
  free(format);
  if (sum_err || w.err || series_err) {
    char data_msg[2048] = "";
    if (w.err) snprintf(data_msg, sizeof data_msg, "%s", w.msg);
    sntk_error(SNTK_ERR_RUNTIME, "%s%s%s%s%s", sum_msg, sum_msg[0] && data_msg[0] ? "; " : "",
               data_msg, (sum_msg[0] || data_msg[0]) && series_msg[0] ? "; " : "", series_msg);
    fprintf(out, "INVALID: %s\n", sntk_error_message());
    return SNTK_ERR_RUNTIME;
  }
  fprintf(out, "valid: %ld datasets (%.3g MB) read and verified\n", w.datasets, w.bytes / 1e6);
  return SNTK_OK;
}
