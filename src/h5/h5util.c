/* HDF5 helpers (see h5util.h). */
#include "softntk/h5util.h"

#include "softntk/error.h"
#include "softntk/parallel.h"

#if defined(__SANITIZE_ADDRESS__)
#define SNTK_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SNTK_ASAN 1
#endif
#endif
#ifdef SNTK_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int sntk_h5_exists(hid_t loc, const char *path) {
  char buf[2048];
  if (strlen(path) >= sizeof buf) return 0;
  snprintf(buf, sizeof buf, "%s", path);
  /* Check each prefix: H5Lexists fails on a path whose intermediate group is missing. */
  for (char *p = buf + (buf[0] == '/');; p++) {
    if (*p == '/' || *p == '\0') {
      char saved = *p;
      *p = '\0';
      if (buf[0] && strcmp(buf, "/") != 0 && H5Lexists(loc, buf, H5P_DEFAULT) <= 0) return 0;
      *p = saved;
      if (saved == '\0') break;
    }
  }
  return 1;
}

/* IEEE binary32/64 or a plain 8/16/32/64-bit integer, either byte order. HDF5 converts other
 * layouts bit by bit, and a damaged type description crashes that path inside the library (found by
 * fuzzing), so anything else is refused before any data are read. */
static int standard_number(hid_t ty) {
  static const hid_t *floats[] = {&H5T_IEEE_F64LE_g, &H5T_IEEE_F64BE_g, &H5T_IEEE_F32LE_g,
                                  &H5T_IEEE_F32BE_g};
  if (H5Tget_class(ty) == H5T_FLOAT) {
    for (int i = 0; i < 4; i++)
      if (H5Tequal(ty, *floats[i]) > 0) return 1;
    return 0;
  }
  size_t size = H5Tget_size(ty);
  H5T_order_t order = H5Tget_order(ty);
  return (size == 1 || size == 2 || size == 4 || size == 8) && H5Tget_precision(ty) == 8 * size &&
         H5Tget_offset(ty) == 0 && (order == H5T_ORDER_LE || order == H5T_ORDER_BE);
}

int sntk_h5_read_matrix(const char *path, const char *dataset, int64_t *rows, int64_t *cols,
                        double **data) {
  struct stat st;
  hid_t f = -1, ds = -1, sp = -1, ty = -1;
  int err = SNTK_OK;
  *data = NULL;
  if (stat(path, &st) != 0)
    return sntk_error(SNTK_ERR_INPUT, "data file %s: %s", path, strerror(errno));
  if (access(path, R_OK) != 0)
    return sntk_error(SNTK_ERR_INPUT, "data file %s is not readable: %s", path, strerror(errno));
  if (!S_ISREG(st.st_mode))
    return sntk_error(SNTK_ERR_INPUT, "data file %s is not a regular file", path);
  if (H5Fis_hdf5(path) <= 0)
    return sntk_error(SNTK_ERR_INPUT, "data file %s is not an HDF5 file", path);
  f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) {
    err = sntk_error(SNTK_ERR_INPUT,
                     "data file %s cannot be opened as HDF5 (truncated or corrupt?)", path);
    goto done;
  }
  if (!sntk_h5_exists(f, dataset)) {
    err = sntk_error(SNTK_ERR_INPUT, "data file %s has no dataset '%s'", path, dataset);
    goto done;
  }
  ds = H5Dopen2(f, dataset, H5P_DEFAULT);
  if (ds < 0) {
    err = sntk_error(SNTK_ERR_INPUT, "data file %s: '%s' is not a dataset", path, dataset);
    goto done;
  }
  ty = H5Dget_type(ds);
  H5T_class_t cls = H5Tget_class(ty);
  if (cls != H5T_FLOAT && cls != H5T_INTEGER) {
    err = sntk_error(SNTK_ERR_INPUT, "data file %s: dataset '%s' is not numeric", path, dataset);
    goto done;
  }
  if (!standard_number(ty)) {
    err = sntk_error(SNTK_ERR_INPUT,
                     "data file %s: dataset '%s' has a non-standard numeric type (%zu bytes): "
                     "store it as IEEE float64, float32 or a plain integer",
                     path, dataset, H5Tget_size(ty));
    goto done;
  }
  sp = H5Dget_space(ds);
  int nd = H5Sget_simple_extent_ndims(sp);
  hsize_t dims[2] = {0, 1};
  if (nd < 1 || nd > 2) {
    err =
        sntk_error(SNTK_ERR_INPUT, "data file %s: dataset '%s' has %d dimensions; expected 1 or 2",
                   path, dataset, nd);
    goto done;
  }
  H5Sget_simple_extent_dims(sp, dims, NULL);
  if (dims[0] == 0 || dims[1] == 0) {
    err = sntk_error(SNTK_ERR_INPUT, "data file %s: dataset '%s' is empty", path, dataset);
    goto done;
  }
  *rows = (int64_t)dims[0];
  *cols = (int64_t)dims[1];
  double bytes = 8.0 * (double)dims[0] * (double)dims[1];
  double stored = (double)H5Dget_storage_size(ds), declared = bytes / 8.0 * (double)H5Tget_size(ty);
  if (stored > (double)st.st_size)
    stored = (double)st.st_size;                /* a damaged header can claim more */
  if (declared > 1100.0 * stored + 1048576.0) { /* deflate, the strongest filter, stops at 1032:1 */
    err =
        sntk_error(SNTK_ERR_INPUT,
                   "data file %s: dataset '%s' declares %.3g bytes but stores %.3g (never written, "
                   "or damaged)",
                   path, dataset, declared, stored);
    goto done;
  }
  int64_t avail = sntk_mem_available();
  if ((avail > 0 && bytes > (double)avail) || bytes > 9.0e18) {
    err = sntk_error(SNTK_ERR_INPUT,
                     "data file %s: dataset '%s' is %llu x %llu (%.3g GiB as doubles), more than "
                     "the %.3g GiB of memory available",
                     path, dataset, (unsigned long long)dims[0], (unsigned long long)dims[1],
                     bytes / 1073741824.0, (double)avail / 1073741824.0);
    goto done;
  }
  SNTK_TRY(SNTK_ALLOC(*data, *rows * *cols));
  if (H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, *data) < 0) {
    H5Eclear2(H5E_DEFAULT);
    err = sntk_error(SNTK_ERR_INPUT, "data file %s: reading dataset '%s' failed (corrupt file?)",
                     path, dataset);
  }
done:
  if (err) {
    free(*data);
    *data = NULL;
  }
  if (ty >= 0) H5Tclose(ty);
  if (sp >= 0) H5Sclose(sp);
  if (ds >= 0) H5Dclose(ds);
  if (f >= 0) H5Fclose(f);
  H5Eclear2(H5E_DEFAULT);
  return err;
}

static int attr_write(hid_t obj, const char *name, hid_t type, const void *value) {
  hid_t sp = -1, at = -1;
  int err = SNTK_OK;
  if (H5Aexists(obj, name) > 0) SNTK_TRY(SNTK_H5(H5Adelete(obj, name)));
  SNTK_TRY(SNTK_H5(sp = H5Screate(H5S_SCALAR)));
  SNTK_TRY(SNTK_H5(at = H5Acreate2(obj, name, type, sp, H5P_DEFAULT, H5P_DEFAULT)));
  SNTK_TRY(SNTK_H5(H5Awrite(at, type, value)));
done:
  if (at >= 0) H5Aclose(at);
  if (sp >= 0) H5Sclose(sp);
  return err;
}

int sntk_h5_attr_str(hid_t obj, const char *name, const char *value) {
  hid_t ty = H5Tcopy(H5T_C_S1);
  H5Tset_size(ty, strlen(value) + 1);
  H5Tset_strpad(ty, H5T_STR_NULLTERM);
  H5Tset_cset(ty, H5T_CSET_UTF8);
  int err = attr_write(obj, name, ty, value);
  H5Tclose(ty);
  return err;
}

int sntk_h5_attr_i64(hid_t obj, const char *name, int64_t value) {
  return attr_write(obj, name, H5T_NATIVE_INT64, &value);
}

int sntk_h5_attr_f64(hid_t obj, const char *name, double value) {
  return attr_write(obj, name, H5T_NATIVE_DOUBLE, &value);
}

static int attr_open(hid_t obj, const char *name, hid_t *at) {
  if (H5Aexists(obj, name) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    return sntk_error(SNTK_ERR_INPUT, "attribute '%s' is missing", name);
  }
  return SNTK_H5(*at = H5Aopen(obj, name, H5P_DEFAULT));
}

int sntk_h5_attr_read_str(hid_t obj, const char *name, char **value) {
  hid_t at = -1, ty = -1, mem = -1;
  int err = SNTK_OK;
  *value = NULL;
  SNTK_TRY(attr_open(obj, name, &at));
  SNTK_TRY(SNTK_H5(ty = H5Aget_type(at)));
  if (H5Tget_class(ty) != H5T_STRING || H5Tis_variable_str(ty) > 0) {
    err = sntk_error(SNTK_ERR_INPUT, "attribute '%s' is not a fixed-length string", name);
    goto done;
  }
  size_t len = H5Tget_size(ty);
  SNTK_TRY(SNTK_ALLOC(*value, len + 1));
  mem = H5Tcopy(H5T_C_S1);
  H5Tset_size(mem, len + 1);
  H5Tset_cset(mem, H5Tget_cset(ty));
  SNTK_TRY(SNTK_H5(H5Aread(at, mem, *value)));
done:
  if (err) free(*value), *value = NULL;
  if (mem >= 0) H5Tclose(mem);
  if (ty >= 0) H5Tclose(ty);
  if (at >= 0) H5Aclose(at);
  return err;
}

/* A scalar attribute read as the native type `mem`. */
static int attr_read_scalar(hid_t obj, const char *name, hid_t mem, void *value) {
  hid_t at = -1;
  int err = SNTK_OK;
  SNTK_TRY(attr_open(obj, name, &at));
  SNTK_TRY(SNTK_H5(H5Aread(at, mem, value)));
done:
  if (at >= 0) H5Aclose(at);
  return err;
}

int sntk_h5_attr_read_i64(hid_t obj, const char *name, int64_t *value) {
  return attr_read_scalar(obj, name, H5T_NATIVE_INT64, value);
}

int sntk_h5_attr_read_f64(hid_t obj, const char *name, double *value) {
  return attr_read_scalar(obj, name, H5T_NATIVE_DOUBLE, value);
}

static int describe(hid_t obj, const char *units, const char *description) {
  if (units) SNTK_CALL(sntk_h5_attr_str(obj, "units", units));
  if (description) SNTK_CALL(sntk_h5_attr_str(obj, "description", description));
  return SNTK_OK;
}

int64_t sntk_h5_chunk_rows(int64_t rows, int64_t row_bytes, int64_t target) {
  if (rows < 1 || row_bytes < 1) return 1;
  int64_t per = target / row_bytes; /* rows that fit the target */
  if (per < 1) return 1;
  int64_t nchunks = (rows + per - 1) / per;
  return (rows + nchunks - 1) / nchunks;
}

/* Chunked layout with Fletcher32 (last in the pipeline) for a dataset whose first dimension is
 * `rows` (0 for an extendible dataset still empty) and rows of `cols` values. */
static hid_t checksummed_dcpl(int rank, int64_t rows, int64_t cols, int extendible) {
  int64_t c = cols > 0 ? cols : 1;
  /* fixed data: chunks of about 1 MiB; series grow a few rows at a time: 8 KiB (1-D) or 64 KiB */
  int64_t crow = extendible ? ((int64_t)(cols == 0 ? 1 << 13 : 1 << 16) / (8 * c))
                            : sntk_h5_chunk_rows(rows, 8 * c, (int64_t)1 << 20);
  if (crow < 1) crow = 1;
  hsize_t chunk[2] = {(hsize_t)crow, (hsize_t)c};
  hid_t pl = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_chunk(pl, rank, chunk);
  H5Pset_fletcher32(pl);
  return pl;
}

int sntk_h5_write_matrix(hid_t loc, const char *name, int64_t rows, int64_t cols,
                         const double *data, const char *units, const char *description) {
  hsize_t dims[2] = {(hsize_t)rows, (hsize_t)cols};
  const int rank = cols > 0 ? 2 : 1;
  hid_t sp = -1, ds = -1, pl = -1;
  int err = SNTK_OK;
  SNTK_TRY(SNTK_H5(sp = H5Screate_simple(rank, dims, NULL)));
  SNTK_TRY(SNTK_H5(pl = rows > 0 ? checksummed_dcpl(rank, rows, cols, 0)
                                 : H5Pcreate(H5P_DATASET_CREATE)));
  SNTK_TRY(SNTK_H5(ds = H5Dcreate2(loc, name, H5T_IEEE_F64LE, sp, H5P_DEFAULT, pl, H5P_DEFAULT)));
  if (rows > 0)
    SNTK_TRY(SNTK_H5(H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, data)));
  SNTK_TRY(describe(ds, units, description));
done:
  if (ds >= 0) H5Dclose(ds);
  if (pl >= 0) H5Pclose(pl);
  if (sp >= 0) H5Sclose(sp);
  return err;
}

int sntk_h5_write_strings(hid_t loc, const char *name, int64_t n, const char *const *strings,
                          const char *description) {
  size_t width = 1;
  for (int64_t i = 0; i < n; i++)
    if (strlen(strings[i]) + 1 > width) width = strlen(strings[i]) + 1;
  hid_t ty = -1, sp = -1, ds = -1;
  hsize_t dims[1] = {(hsize_t)n};
  int err = SNTK_OK;
  char *buf = calloc((size_t)(n > 0 ? n : 1), width);
  if (!buf) return sntk_error(SNTK_ERR_RUNTIME, "out of memory writing %s", name);
  for (int64_t i = 0; i < n; i++) memcpy(buf + (size_t)i * width, strings[i], strlen(strings[i]));
  SNTK_TRY(SNTK_H5(ty = H5Tcopy(H5T_C_S1)));
  H5Tset_size(ty, width);
  H5Tset_strpad(ty, H5T_STR_NULLTERM);
  SNTK_TRY(SNTK_H5(sp = H5Screate_simple(1, dims, NULL)));
  SNTK_TRY(SNTK_H5(ds = H5Dcreate2(loc, name, ty, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)));
  SNTK_TRY(SNTK_H5(H5Dwrite(ds, ty, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf)));
  SNTK_TRY(describe(ds, NULL, description));
done:
  if (ds >= 0) H5Dclose(ds);
  if (sp >= 0) H5Sclose(sp);
  if (ty >= 0) H5Tclose(ty);
  free(buf);
  return err;
}

int sntk_h5_series_create(hid_t loc, const char *name, int is_int, int64_t cols, const char *units,
                          const char *description) {
  int rank = cols > 0 ? 2 : 1;
  hsize_t dims[2] = {0, (hsize_t)cols}, maxd[2] = {H5S_UNLIMITED, (hsize_t)cols};
  hid_t sp = -1, pl = -1, ds = -1;
  int err = SNTK_OK;
  SNTK_TRY(SNTK_H5(sp = H5Screate_simple(rank, dims, maxd)));
  SNTK_TRY(SNTK_H5(pl = checksummed_dcpl(rank, 0, cols, 1)));
  SNTK_TRY(SNTK_H5(ds = H5Dcreate2(loc, name, is_int ? H5T_STD_I64LE : H5T_IEEE_F64LE, sp,
                                   H5P_DEFAULT, pl, H5P_DEFAULT)));
  SNTK_TRY(describe(ds, units, description));
done:
  if (ds >= 0) H5Dclose(ds);
  if (pl >= 0) H5Pclose(pl);
  if (sp >= 0) H5Sclose(sp);
  return err;
}

int sntk_h5_series_append(hid_t loc, const char *name, int64_t rows, const double *values) {
  hid_t ds = -1, fs = -1, ms = -1, ty = -1;
  int err = SNTK_OK;
  if (rows <= 0) return SNTK_OK;
  SNTK_TRY(SNTK_H5(ds = H5Dopen2(loc, name, H5P_DEFAULT)));
  SNTK_TRY(SNTK_H5(fs = H5Dget_space(ds)));
  int rank = H5Sget_simple_extent_ndims(fs);
  hsize_t dims[2] = {0, 1};
  H5Sget_simple_extent_dims(fs, dims, NULL);
  H5Sclose(fs);
  fs = -1;
  hsize_t start[2] = {dims[0], 0}, count[2] = {(hsize_t)rows, dims[1]};
  hsize_t grown[2] = {dims[0] + (hsize_t)rows, dims[1]};
  SNTK_TRY(SNTK_H5(H5Dset_extent(ds, grown)));
  SNTK_TRY(SNTK_H5(fs = H5Dget_space(ds)));
  SNTK_TRY(SNTK_H5(H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL)));
  SNTK_TRY(SNTK_H5(ms = H5Screate_simple(rank, count, NULL)));
  SNTK_TRY(SNTK_H5(ty = H5Dget_type(ds)));
  if (H5Tget_class(ty) == H5T_INTEGER) {
    int64_t *iv = NULL;
    SNTK_TRY(SNTK_ALLOC(iv, rows * (int64_t)dims[1]));
    for (int64_t i = 0; i < rows * (int64_t)dims[1]; i++) iv[i] = (int64_t)values[i];
    err = SNTK_H5(H5Dwrite(ds, H5T_NATIVE_INT64, ms, fs, H5P_DEFAULT, iv));
    free(iv);
    SNTK_TRY(err);
  } else {
    SNTK_TRY(SNTK_H5(H5Dwrite(ds, H5T_NATIVE_DOUBLE, ms, fs, H5P_DEFAULT, values)));
  }
done:
  if (ty >= 0) H5Tclose(ty);
  if (ms >= 0) H5Sclose(ms);
  if (fs >= 0) H5Sclose(fs);
  if (ds >= 0) H5Dclose(ds);
  return err;
}

int sntk_h5_series_truncate(hid_t loc, const char *name, int64_t length) {
  hid_t ds = -1, fs = -1;
  int err = SNTK_OK;
  SNTK_TRY(SNTK_H5(ds = H5Dopen2(loc, name, H5P_DEFAULT)));
  SNTK_TRY(SNTK_H5(fs = H5Dget_space(ds)));
  hsize_t dims[2] = {0, 0};
  H5Sget_simple_extent_dims(fs, dims, NULL);
  if (dims[0] > (hsize_t)length) {
    dims[0] = (hsize_t)length;
    SNTK_TRY(SNTK_H5(H5Dset_extent(ds, dims)));
  }
done:
  if (fs >= 0) H5Sclose(fs);
  if (ds >= 0) H5Dclose(ds);
  return err;
}

hid_t sntk_h5_group(hid_t loc, const char *path) {
  if (sntk_h5_exists(loc, path)) return H5Gopen2(loc, path, H5P_DEFAULT);
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  hid_t g = H5Gcreate2(loc, path, lcpl, H5P_DEFAULT, H5P_DEFAULT);
  H5Pclose(lcpl);
  return g;
}

int sntk_h5_probe(const char *path, const char *const *datasets, int n) {
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) return SNTK_OK; /* no isolation available: the caller's read goes ahead unguarded */
  if (pid == 0) {
    /* The child dies quietly: default handlers (not Open MPI's backtrace printer, not a fuzzer's
     * crash handler), no core file, no output. */
    static const int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
    for (int i = 0; i < 5; i++) signal(sigs[i], SIG_DFL);
    struct rlimit nocore = {0, 0};
    setrlimit(RLIMIT_CORE, &nocore);
    if (!freopen("/dev/null", "w", stderr)) _exit(SNTK_ERR_RUNTIME);
#ifdef SNTK_ASAN
    __sanitizer_set_death_callback(NULL);
#endif
    int err = SNTK_OK;
    for (int i = 0; i < n && !err; i++) {
      int64_t rows, cols;
      double *v = NULL;
      err = sntk_h5_read_matrix(path, datasets[i], &rows, &cols, &v);
      free(v);
    }
    _exit(err);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return SNTK_OK;
  if (WIFSIGNALED(status))
    return sntk_error(SNTK_ERR_INPUT,
                      "data file %s is damaged: reading it crashed the HDF5 library (signal %d, "
                      "%s)",
                      path, WTERMSIG(status), strsignal(WTERMSIG(status)));
  if (WIFEXITED(status) && WEXITSTATUS(status) > SNTK_ERR_INPUT)
    return sntk_error(SNTK_ERR_INPUT,
                      "data file %s is damaged: reading it failed inside the HDF5 library (status "
                      "%d)",
                      path, WEXITSTATUS(status));
  return SNTK_OK;
}

/* H5Ewalk callback (upward walk): keep the innermost description, the root cause. */
static herr_t h5_walk(unsigned n, const H5E_error2_t *e, void *data) {
  char *out = data;
  if (n == 0 && e->desc) snprintf(out, 512, "%s", e->desc);
  return 0;
}

int sntk_check_h5(int failed, const char *call, const char *file, int line) {
  if (!failed) return SNTK_OK;
  char desc[512] = "";
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, h5_walk, desc);
  H5Eclear2(H5E_DEFAULT);
  sntk_error(SNTK_ERR_RUNTIME, "HDF5 call failed: %s%s%s", call, desc[0] ? ": " : "", desc);
  sntk_error_trace("HDF5", file, line);
  return SNTK_ERR_RUNTIME;
}

void sntk_h5_quiet(void) {
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}
