/* Restart repair of results.h5 (see sntk_results_resume).
 *
 * A run killed at an arbitrary moment can leave its results file (a) with rows past the checkpoint
 * it resumes from (harmless: they are cut), (b) with rows written by processes that outlived their
 * launcher after an earlier restart had cut the file (stale and duplicated rows in the middle),
 * (c) torn: killed while HDF5 wrote its metadata, with datasets whose extent and chunks disagree,
 * failing checksums, or a file HDF5 cannot open or even crashes on. The checkpoint carries every
 * series up to its step (crash-safe: written to a .partial file and renamed), so the file is
 * checked against it in a child process (a crash inside HDF5 ends only the child):
 *  - consistent: every carried series holds exactly the checkpoint's rows before its step, every
 *    other series strictly increasing steps and readable columns, every other dataset reads back
 *    with valid checksums (Fletcher32, or the `entry_sum` attribute of a Gram matrix). The file is
 *    then cut back to the step in place, as before;
 *  - otherwise the child writes results.h5.repair: the root attributes, every group's attributes,
 *    every dataset that validates, every series the checkpoint does not carry that validates (cut
 *    back to the step), and the parent renames it into place; the caller then writes the carried
 *    series from the checkpoint. If the child cannot read the file at all (or crashes), the new
 *    file starts empty. */
#include "results_impl.h"

#include "softntk/error.h"
#include "softntk/filesum.h"
#include "softntk/h5util.h"
#include "softntk/log.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

enum { CHILD_CONSISTENT = 0, CHILD_REBUILT = 10, CHILD_UNREADABLE = 11 };

typedef struct scan {
  int64_t limit;
  const sntk_series_set_t *hist;
  int problems;
  size_t used;
  char report[3000];
} scan_t;

static void problem(scan_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(scan_t *s, const char *fmt, ...) {
  va_list ap;
  if (s->problems++ == 8 && s->used < sizeof s->report)
    s->used += (size_t)snprintf(s->report + s->used, sizeof s->report - s->used, "; ...");
  if (s->problems > 8 || s->used >= sizeof s->report - 1) return;
  if (s->used) s->used += (size_t)snprintf(s->report + s->used, sizeof s->report - s->used, "; ");
  va_start(ap, fmt);
  if (s->used < sizeof s->report)
    s->used += (size_t)vsnprintf(s->report + s->used, sizeof s->report - s->used, fmt, ap);
  va_end(ap);
  if (s->used > sizeof s->report) s->used = sizeof s->report;
}

static void join(char *out, size_t len, const char *group, const char *name) {
  snprintf(out, len, "%s/%s", strcmp(group, "/") == 0 ? "" : group, name);
}

/* Is `name` a snapshot <base>_<t> with t >= limit? */
static int late_snapshot(const char *name, int64_t limit) {
  const char *us = strrchr(name, '_');
  char *end;
  if (!us || !us[1]) return 0;
  long long t = strtoll(us + 1, &end, 10);
  return !*end && t >= limit;
}

/* A whole dataset read as doubles (1-D: n x 1); SNTK_OK or a failure (checksum, short file). */
static int read_doubles(hid_t ds, double **v, int64_t *rows, int64_t *width) {
  hid_t sp = H5Dget_space(ds);
  hsize_t dims[2] = {0, 1};
  int nd = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
  if (sp >= 0) H5Sget_simple_extent_dims(sp, dims, NULL), H5Sclose(sp);
  if (nd < 1 || nd > 2) return sntk_error(SNTK_ERR_RUNTIME, "not a series");
  *rows = (int64_t)dims[0];
  *width = nd == 2 ? (int64_t)dims[1] : 0;
  SNTK_CALL(SNTK_ALLOC(*v, *rows * (int64_t)dims[1] + 1));
  if (*rows > 0 && H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, *v) < 0) {
    free(*v);
    *v = NULL;
    return SNTK_H5(-1);
  }
  return SNTK_OK;
}

/* Rows [r0, r0 + n) of a 1-D or 2-D dataset as doubles. */
static int read_block(hid_t ds, hid_t fs, int nd, hsize_t r0, hsize_t n, hsize_t cols, double *v) {
  hsize_t start[2] = {r0, 0}, count[2] = {n, cols};
  hid_t ms = H5Screate_simple(nd, count, NULL);
  int ok = ms >= 0 && H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) >= 0 &&
           H5Dread(ds, H5T_NATIVE_DOUBLE, ms, fs, H5P_DEFAULT, v) >= 0;
  if (ms >= 0) H5Sclose(ms);
  return ok;
}

/* A numeric 1-D or 2-D dataset read in blocks of about 64 MiB (a Gram matrix may not fit in
 * memory twice), with its entry_sum checked when it has one. */
static int validates_numeric(hid_t ds, hid_t fs, int nd) {
  hsize_t dims[2] = {0, 1};
  H5Sget_simple_extent_dims(fs, dims, NULL);
  const hsize_t cols = nd == 2 ? dims[1] : 1;
  hsize_t block = cols ? ((hsize_t)1 << 23) / cols : 1;
  if (block < 1) block = 1;
  double *v = malloc(sizeof(double) * (size_t)(block * cols + 1));
  uint64_t sum = 0;
  int ok = v != NULL;
  for (hsize_t r0 = 0; ok && r0 < dims[0] && cols > 0; r0 += block) {
    const hsize_t n = dims[0] - r0 < block ? dims[0] - r0 : block;
    ok = read_block(ds, fs, nd, r0, n, cols, v);
    for (hsize_t i = 0; ok && i < n * cols; i++) sum += sntk_entry_hash(r0 * cols + i, v[i]);
  }
  free(v);
  if (ok && H5Aexists(ds, "entry_sum") > 0) {
    char *want = NULL, got[32];
    snprintf(got, sizeof got, "%016llx", (unsigned long long)sum);
    ok = sntk_h5_attr_read_str(ds, "entry_sum", &want) == SNTK_OK && strcmp(want, got) == 0;
    free(want);
  }
  return ok;
}

/* Any dataset: does it read back whole (checksums verified), and match its entry_sum if any? */
static int validates(hid_t ds) {
  hid_t ty = H5Dget_type(ds), sp = H5Dget_space(ds);
  hssize_t n = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
  int nd = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
  size_t size = ty >= 0 ? H5Tget_size(ty) : 0;
  H5T_class_t cls = ty >= 0 ? H5Tget_class(ty) : H5T_NO_CLASS;
  int ok = 0;
  if ((cls == H5T_FLOAT || cls == H5T_INTEGER) && (nd == 1 || nd == 2)) {
    ok = validates_numeric(ds, sp, nd);
  } else if (n >= 0 && size > 0 && H5Tis_variable_str(ty) <= 0 && cls != H5T_VLEN) {
    void *buf = malloc((size_t)(n > 0 ? n : 1) * size);
    ok = buf && (n == 0 || H5Dread(ds, ty, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
    free(buf);
  }
  if (ty >= 0) H5Tclose(ty);
  if (sp >= 0) H5Sclose(sp);
  H5Eclear2(H5E_DEFAULT);
  return ok;
}

/* A series group: its step column, the rows before limit (k), and whether those increase. */
typedef struct stepinfo {
  int is_series;
  int64_t rows, k;
  int increasing;
} stepinfo_t;

static stepinfo_t step_info(hid_t g, const char *gpath, scan_t *s) {
  stepinfo_t si = {0, 0, 0, 1};
  if (H5Lexists(g, "step", H5P_DEFAULT) <= 0) return si;
  hid_t ds = H5Dopen2(g, "step", H5P_DEFAULT);
  double *v = NULL;
  int64_t width;
  if (ds < 0 || !results_is_column(ds)) {
    if (ds >= 0) H5Dclose(ds);
    H5Eclear2(H5E_DEFAULT);
    return si;
  }
  si.is_series = 1;
  if (read_doubles(ds, &v, &si.rows, &width) != SNTK_OK) {
    problem(s, "%s/step cannot be read", gpath);
    si.increasing = 0;
  }
  while (v && si.k < si.rows && v[si.k] < (double)s->limit) si.k++;
  for (int64_t r = 1; v && r < si.k; r++)
    if (!(v[r] > v[r - 1])) {
      problem(s, "%s/step is not increasing (%.0f after %.0f at row %lld)", gpath, v[r], v[r - 1],
              (long long)r);
      si.increasing = 0;
      break;
    }
  free(v);
  H5Dclose(ds);
  H5Eclear2(H5E_DEFAULT);
  return si;
}

/* A carried column: do its rows before the limit equal the checkpoint's? */
static void compare_column(hid_t ds, const char *path, const stepinfo_t *si,
                           const sntk_series_col_t *c, scan_t *s) {
  double *v = NULL;
  int64_t rows, width;
  if (read_doubles(ds, &v, &rows, &width) != SNTK_OK) {
    problem(s, "%s cannot be read", path);
    return;
  }
  const int64_t w = width > 0 ? width : 1;
  if (width != c->width || rows < si->k || si->k != c->rows) {
    problem(s, "%s holds %lld rows before step %lld, the checkpoint %lld", path, (long long)si->k,
            (long long)s->limit, (long long)c->rows);
  } else if (c->rows > 0 && memcmp(v, c->data, (size_t)(c->rows * w) * sizeof(double)) != 0) {
    int64_t r = 0;
    while (r < c->rows && !memcmp(v + r * w, c->data + r * w, (size_t)w * sizeof(double))) r++;
    problem(s, "%s row %lld differs from the checkpoint's", path, (long long)r);
  }
  free(v);
}

/* Check one group and everything below it. */
static void check_group(hid_t g, const char *gpath, scan_t *s) {
  stepinfo_t si = step_info(g, gpath, s);
  H5G_info_t gi;
  if (H5Gget_info(g, &gi) < 0) {
    problem(s, "group %s cannot be read", gpath);
    return;
  }
  for (hsize_t i = 0; i < gi.nlinks; i++) {
    char name[256], path[600];
    H5O_info_t oi;
    if (H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, name, sizeof name, H5P_DEFAULT) <
            0 ||
        H5Oget_info_by_name(g, name, &oi, H5P_DEFAULT) < 0) {
      problem(s, "an object of %s cannot be read", gpath);
      continue;
    }
    join(path, sizeof path, gpath, name);
    hid_t obj = H5Oopen(g, name, H5P_DEFAULT);
    if (obj < 0) {
      problem(s, "%s cannot be opened", path);
    } else if (oi.type == H5O_TYPE_GROUP) {
      check_group(obj, path, s);
    } else if (oi.type == H5O_TYPE_DATASET) {
      const sntk_series_col_t *c = si.is_series ? sntk_series_set_find(s->hist, gpath, name) : 0;
      if (si.is_series && results_is_column(obj) && c)
        compare_column(obj, path, &si, c, s);
      else if (!(si.is_series && late_snapshot(name, s->limit)) && !validates(obj))
        problem(s, "%s fails verification", path);
    }
    if (obj >= 0) H5Oclose(obj);
    H5Eclear2(H5E_DEFAULT);
  }
}

/* Every carried column must be in the file. */
static void check_carried(hid_t f, scan_t *s) {
  for (int i = 0; i < s->hist->ncols; i++) {
    char path[600];
    join(path, sizeof path, s->hist->cols[i].group, s->hist->cols[i].name);
    if (!sntk_h5_exists(f, path)) problem(s, "%s is missing", path);
  }
  H5Eclear2(H5E_DEFAULT);
}

/* ---- the rebuilt file --------------------------------------------------------------------- */

static void copy_attrs(hid_t src, hid_t dst) {
  int n = H5Aget_num_attrs(src);
  for (int i = 0; i < n; i++) {
    char name[256];
    hid_t a = H5Aopen_by_idx(src, ".", H5_INDEX_CRT_ORDER, H5_ITER_INC, (hsize_t)i, H5P_DEFAULT,
                             H5P_DEFAULT);
    if (a < 0)
      a = H5Aopen_by_idx(src, ".", H5_INDEX_NAME, H5_ITER_INC, (hsize_t)i, H5P_DEFAULT,
                         H5P_DEFAULT);
    if (a < 0) continue;
    hid_t ty = H5Aget_type(a), sp = H5Aget_space(a), b = -1;
    hssize_t np = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
    size_t size = ty >= 0 ? H5Tget_size(ty) : 0;
    void *buf = np >= 0 && size && H5Tis_variable_str(ty) <= 0 && H5Tget_class(ty) != H5T_VLEN
                    ? calloc((size_t)(np > 0 ? np : 1), size)
                    : NULL;
    if (buf && H5Aget_name(a, sizeof name, name) >= 0 && H5Aread(a, ty, buf) >= 0) {
      if (H5Aexists(dst, name) > 0) H5Adelete(dst, name);
      b = H5Acreate2(dst, name, ty, sp, H5P_DEFAULT, H5P_DEFAULT);
      if (b >= 0) H5Awrite(b, ty, buf);
    }
    free(buf);
    if (b >= 0) H5Aclose(b);
    if (sp >= 0) H5Sclose(sp);
    if (ty >= 0) H5Tclose(ty);
    H5Aclose(a);
    H5Eclear2(H5E_DEFAULT);
  }
}

/* Copy what validates of group src into dst (see the file comment). */
static void salvage_group(hid_t src, hid_t dst, const char *gpath, scan_t *s) {
  stepinfo_t si = step_info(src, gpath, s);
  H5G_info_t gi;
  copy_attrs(src, dst);
  if (H5Gget_info(src, &gi) < 0) return;
  for (hsize_t i = 0; i < gi.nlinks; i++) {
    char name[256], path[600];
    H5O_info_t oi;
    if (H5Lget_name_by_idx(src, ".", H5_INDEX_NAME, H5_ITER_INC, i, name, sizeof name,
                           H5P_DEFAULT) < 0 ||
        H5Oget_info_by_name(src, name, &oi, H5P_DEFAULT) < 0) {
      H5Eclear2(H5E_DEFAULT);
      continue;
    }
    join(path, sizeof path, gpath, name);
    hid_t obj = H5Oopen(src, name, H5P_DEFAULT);
    if (obj >= 0 && oi.type == H5O_TYPE_GROUP) {
      hid_t sub = sntk_h5_group(dst, name);
      if (sub >= 0) salvage_group(obj, sub, path, s), H5Gclose(sub);
    } else if (obj >= 0 && oi.type == H5O_TYPE_DATASET) {
      int column = si.is_series && results_is_column(obj);
      int carried = column && sntk_series_set_find(s->hist, gpath, name);
      if (!carried && !(si.is_series && late_snapshot(name, s->limit))) {
        if ((!column || si.increasing) && validates(obj) &&
            H5Ocopy(src, name, dst, name, H5P_DEFAULT, H5P_DEFAULT) >= 0) {
          if (column) sntk_h5_series_truncate(dst, name, si.k);
        } else {
          problem(s, "%s dropped (does not validate)", path);
        }
      }
    }
    if (obj >= 0) H5Oclose(obj);
    H5Eclear2(H5E_DEFAULT);
  }
}

static int fsync_file(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  int ok = fd >= 0 && fsync(fd) == 0;
  if (fd >= 0) close(fd);
  return ok ? SNTK_OK : sntk_error(SNTK_ERR_RUNTIME, "cannot sync %s", path);
}

typedef struct job {
  const char *path, *command, *text, *hash;
  int size;
} job_t;

/* The child: check the file; when it is not consistent, write path.repair. Returns the exit code.
 */
static int child(const job_t *j, scan_t *s) {
  char repair[4200];
  hid_t f = H5Fopen(j->path, H5F_ACC_RDONLY, H5P_DEFAULT), root = -1, out = -1;
  char *format = NULL;
  if (f < 0 || sntk_h5_attr_read_str(f, "format", &format) != SNTK_OK ||
      strcmp(format, SNTK_RESULTS_FORMAT) != 0) {
    problem(s, f < 0 ? "the file cannot be opened (damaged by a crash?)"
                     : "it is not a softntk results file");
    return CHILD_UNREADABLE;
  }
  free(format);
  root = H5Gopen2(f, "/", H5P_DEFAULT);
  check_group(root, "/", s);
  check_carried(f, s);
  if (!s->problems) return CHILD_CONSISTENT;
  snprintf(repair, sizeof repair, "%s.repair", j->path);
  if (results_create_file(repair, j->command, j->text, j->hash, j->size) != SNTK_OK)
    return CHILD_UNREADABLE;
  out = H5Fopen(repair, H5F_ACC_RDWR, H5P_DEFAULT);
  if (out < 0) return CHILD_UNREADABLE;
  int quiet = s->problems;
  salvage_group(root, out, "/", s);
  s->problems = quiet; /* what was dropped is reported, not a reason for another pass */
  if (H5Fclose(out) < 0 || fsync_file(repair) != SNTK_OK) return CHILD_UNREADABLE;
  return CHILD_REBUILT;
}

/* Rank 0: run the child; its report comes back through a pipe. Returns its exit code, or
 * CHILD_UNREADABLE when it crashed or could not run. */
static int run_child(const job_t *j, scan_t *s) {
  int fds[2];
  fflush(stdout);
  fflush(stderr);
  if (pipe(fds) != 0) return CHILD_UNREADABLE;
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]), close(fds[1]);
    return CHILD_UNREADABLE;
  }
  if (pid == 0) { /* quiet default handlers, no core file; never MPI */
    static const int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
    for (int i = 0; i < 5; i++) signal(sigs[i], SIG_DFL);
    struct rlimit nocore = {0, 0};
    setrlimit(RLIMIT_CORE, &nocore);
    close(fds[0]);
    int code = child(j, s);
    ssize_t w = write(fds[1], s->report, s->used);
    (void)w;
    close(fds[1]);
    _exit(code);
  }
  close(fds[1]);
  s->used = 0;
  ssize_t got;
  while (s->used < sizeof s->report - 1 &&
         (got = read(fds[0], s->report + s->used, sizeof s->report - 1 - s->used)) != 0) {
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) break;
    s->used += (size_t)got;
  }
  s->report[s->used] = '\0';
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return CHILD_UNREADABLE;
  if (WIFSIGNALED(status)) {
    snprintf(s->report, sizeof s->report, "reading it crashed the HDF5 library (signal %d)",
             WTERMSIG(status));
    return CHILD_UNREADABLE;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : CHILD_UNREADABLE;
}

/* ---- cutting a consistent file back in place ---------------------------------------------- */

static int cut_group(hid_t g, const char *gpath, scan_t *s) {
  stepinfo_t si = step_info(g, gpath, s);
  H5G_info_t gi;
  int err = SNTK_OK;
  SNTK_CALL(SNTK_H5(H5Gget_info(g, &gi)));
  for (hsize_t i = gi.nlinks; !err && i-- > 0;) {
    char name[256], path[600];
    H5O_info_t oi;
    if (H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, name, sizeof name, H5P_DEFAULT) <
            0 ||
        H5Oget_info_by_name(g, name, &oi, H5P_DEFAULT) < 0)
      return SNTK_H5(-1);
    join(path, sizeof path, gpath, name);
    if (oi.type == H5O_TYPE_GROUP) {
      hid_t sub = H5Gopen2(g, name, H5P_DEFAULT);
      err = sub >= 0 ? cut_group(sub, path, s) : SNTK_H5(-1);
      if (sub >= 0) H5Gclose(sub);
    } else if (si.is_series && late_snapshot(name, s->limit)) {
      err = SNTK_H5(H5Ldelete(g, name, H5P_DEFAULT));
    } else if (si.is_series && oi.type == H5O_TYPE_DATASET) {
      hid_t ds = H5Dopen2(g, name, H5P_DEFAULT);
      int column = ds >= 0 && results_is_column(ds);
      if (ds >= 0) H5Dclose(ds);
      if (column) err = sntk_h5_series_truncate(g, name, si.k);
    }
  }
  return err;
}

static int cut(const char *path, scan_t *s) {
  hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT), root = -1;
  if (f < 0) return sntk_error(SNTK_ERR_RUNTIME, "cannot open %s to cut it back", path);
  int err = SNTK_H5(root = H5Gopen2(f, "/", H5P_DEFAULT));
  if (!err) err = cut_group(root, "/", s);
  if (root >= 0) H5Gclose(root);
  if (H5Fclose(f) < 0 && !err) err = SNTK_H5(-1);
  H5Eclear2(H5E_DEFAULT);
  return err;
}

int results_repair(const char *path, const char *command, const char *text, const char *hash,
                   int size, int64_t limit, const sntk_series_set_t *hist, int *rebuilt) {
  static scan_t s; /* large: not on the stack */
  const job_t j = {path, command, text, hash, size};
  char repair[4200];
  struct stat st;
  memset(&s, 0, sizeof s);
  s.limit = limit;
  s.hist = hist;
  *rebuilt = 1;
  snprintf(repair, sizeof repair, "%s.repair", path);
  unlink(repair);
  int code = CHILD_UNREADABLE;
  if (stat(path, &st) != 0)
    snprintf(s.report, sizeof s.report, "it is missing");
  else
    code = run_child(&j, &s);
  if (code == CHILD_CONSISTENT) {
    *rebuilt = 0;
    return cut(path, &s);
  }
  if (code == CHILD_REBUILT) {
    sntk_warn("%s does not match the checkpoint of step %lld (%s): rebuilt from the checkpoint's "
              "series and every other dataset that validates",
              path, (long long)limit, s.report);
    if (rename(repair, path) != 0)
      return sntk_error(SNTK_ERR_RUNTIME, "cannot rename %s into place: %s", repair,
                        strerror(errno));
    return SNTK_OK;
  }
  unlink(repair);
  sntk_warn("%s cannot be used (%s): rebuilt from the checkpoint's series", path, s.report);
  return results_create_file(path, command, text, hash, size);
}

/* ---- series the checkpoint does not carry ------------------------------------------------- */

static herr_t extra_visit(hid_t f, const char *name, const H5O_info_t *info, void *data) {
  void **ctx = data;
  const sntk_series_set_t *hist = ctx[0];
  sntk_series_set_t *out = ctx[1];
  if (info->type != H5O_TYPE_DATASET) return 0;
  char group[256] = "/", leaf[256];
  const char *slash = strrchr(name, '/');
  snprintf(leaf, sizeof leaf, "%s", slash ? slash + 1 : name);
  if (slash) snprintf(group, sizeof group, "/%.*s", (int)(slash - name), name);
  hid_t g = H5Gopen2(f, group, H5P_DEFAULT), ds = H5Dopen2(f, name, H5P_DEFAULT);
  int take = g >= 0 && ds >= 0 && H5Lexists(g, "step", H5P_DEFAULT) > 0 && results_is_column(ds) &&
             !sntk_series_set_find(hist, group, leaf);
  if (take) {
    sntk_series_col_t *grown = realloc(out->cols, sizeof *grown * (size_t)(out->ncols + 1));
    if (grown) {
      out->cols = grown;
      sntk_series_col_t *c = &out->cols[out->ncols];
      memset(c, 0, sizeof *c);
      snprintf(c->group, sizeof c->group, "%s", group);
      snprintf(c->name, sizeof c->name, "%.63s", leaf);
      hid_t ty = H5Dget_type(ds);
      c->is_int = H5Tget_class(ty) == H5T_INTEGER;
      H5Tclose(ty);
      char *txt = NULL;
      if (sntk_h5_attr_read_str(ds, "units", &txt) == SNTK_OK)
        snprintf(c->units, sizeof c->units, "%s", txt);
      free(txt), txt = NULL;
      if (sntk_h5_attr_read_str(ds, "description", &txt) == SNTK_OK)
        snprintf(c->description, sizeof c->description, "%s", txt);
      free(txt);
      if (read_doubles(ds, &c->data, &c->rows, &c->width) == SNTK_OK) out->ncols++;
    }
  }
  if (ds >= 0) H5Dclose(ds);
  if (g >= 0) H5Gclose(g);
  H5Eclear2(H5E_DEFAULT);
  return 0;
}

int results_extra_columns(const char *path, const sntk_series_set_t *hist, sntk_series_set_t *out) {
  memset(out, 0, sizeof *out);
  out->owned = 1;
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) {
    H5Eclear2(H5E_DEFAULT);
    return sntk_error(SNTK_ERR_RUNTIME, "cannot open %s", path);
  }
  const void *ctx[2] = {hist, out};
  H5Ovisit(f, H5_INDEX_NAME, H5_ITER_INC, extra_visit, (void *)ctx);
  H5Fclose(f);
  H5Eclear2(H5E_DEFAULT);
  return SNTK_OK;
}
