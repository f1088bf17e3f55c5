/* `softntk inspect`: metadata and checksum verification of checkpoints and results files. */
#include "softntk/inspect.h"

#include "softntk/error.h"
#include "softntk/h5util.h"
#include "softntk/parallel.h"

#include <errno.h>
#include <hdf5.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct walk {
  FILE *out;
  int err;
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
    if (!w->err) w->err = sntk_error(SNTK_ERR_RUNTIME, "object /%s cannot be opened", name);
    fprintf(w->out, "  /%-28s FAILED (cannot open)\n", name);
    return 0;
  }
  if (H5Iget_type(obj) == H5I_DATASET) {
    int err = verify_dataset(obj, name, w);
    if (err && !w->err) w->err = err;
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

int sntk_inspect_file(const char *path, FILE *out) {
  struct stat st;
  if (stat(path, &st) != 0) return sntk_error(SNTK_ERR_INPUT, "%s: %s", path, strerror(errno));
  if (H5Fis_hdf5(path) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    return sntk_error(SNTK_ERR_RUNTIME, "%s is not a valid HDF5 file (truncated or corrupt?)",
                      path);
  }
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) {
    H5Eclear2(H5E_DEFAULT);
    return sntk_error(SNTK_ERR_RUNTIME, "%s cannot be opened (truncated or corrupt)", path);
  }
  char *format = NULL;
  int err = sntk_h5_attr_read_str(f, "format", &format);
  if (err) {
    H5Fclose(f);
    return sntk_error(SNTK_ERR_INPUT, "%s is not a softntk file (no format attribute)", path);
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
                                "config",
                                NULL};
  for (int i = 0; attrs[i]; i++) print_attr(f, attrs[i], out);
  walk_t w = {out, SNTK_OK, 0, 0};
  H5Lvisit(f, H5_INDEX_NAME, H5_ITER_INC, visit, &w);
  H5Eclear2(H5E_DEFAULT);
  H5Fclose(f);
  free(format);
  if (w.err) {
    fprintf(out, "INVALID: %s\n", sntk_error_message());
    return w.err;
  }
  fprintf(out, "valid: %ld datasets (%.3g MB) read and verified\n", w.datasets, w.bytes / 1e6);
  return SNTK_OK;
}
