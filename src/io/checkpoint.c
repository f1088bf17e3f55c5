/* Parallel HDF5 checkpoints: collective write by hyperslab, atomic rename, verified read (see
 * checkpoint.h). Every metadata operation is called by every rank with the same arguments (parallel
 * HDF5's rule); local failures are recorded and agreed on after the file is closed, so no rank
 * leaves a collective call early. */
#include "softntk/checkpoint.h"

#include "softntk/error.h"
#include "softntk/filesum.h"
#include "softntk/h5util.h"
#include "softntk/log.h"
#include "softntk/rundir.h"
#include "softntk/signals.h"
#include "softntk/version.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#define OFF(f) offsetof(sntk_ckpt_cfg_t, f)
const sntk_key_t sntk_ckpt_keys[] = {
    {"dir", SNTK_T_STRING, OFF(dir), "checkpoints", 0, 0, 0, NULL, NULL,
     "checkpoint directory (relative paths are below the run directory)"},
    {"every_steps", SNTK_T_INT, OFF(every_steps), "0", 0, 9e15, 0, NULL, NULL,
     "checkpoint every this many steps (0: off)"},
    {"every_minutes", SNTK_T_REAL, OFF(every_minutes), "0", 0, INFINITY, 0, NULL, NULL,
     "checkpoint every this many minutes of wall time (0: off)"},
    {"keep", SNTK_T_INT, OFF(keep), "2", 1, 1e6, 0, NULL, NULL, "newest checkpoints kept"},
    {"max_hours", SNTK_T_REAL, OFF(max_hours), "0", 0, INFINITY, 0, NULL, NULL,
     "wall-time budget in hours: checkpoint and stop (exit 3) before it runs out (0: off)"},
    {"final", SNTK_T_BOOL, OFF(final), "true", 0, 0, 0, NULL, NULL,
     "write a checkpoint when the run ends (a later run with more steps continues from it)"},
    {"timeout", SNTK_T_REAL, OFF(timeout), "600", 0, INFINITY, 0, NULL, NULL,
     "seconds a checkpoint write may take before the run is aborted as stuck (exit 1; the "
     "previous checkpoint stays valid); 0: no limit"},
    {NULL}};
#undef OFF

void sntk_ckpt_dir(const char *run_dir, const char *cfg_dir, char *out, size_t len) {
  if (cfg_dir[0] == '/')
    snprintf(out, len, "%s", cfg_dir);
  else
    snprintf(out, len, "%s/%s", run_dir, cfg_dir);
}

void sntk_ckpt_path(const char *dir, int64_t step, char *out, size_t len) {
  snprintf(out, len, "%s/ckpt-%lld.h5", dir, (long long)step);
}

/* ---- writing ------------------------------------------------------------------------------------
 */

typedef struct writer {
  MPI_Comm comm;
  hid_t file, dxpl;
  int err; /* first local failure; later calls still run so that collectives stay matched */
} writer_t;

static void note(writer_t *w, int err) {
  if (err && !w->err) w->err = err;
}

/* Create dataset `name` [rows, cols] (cols = 0: 1-D) with Fletcher32 and write this rank's rows
 * [r0, r0 + nr) from `local` (nr x cols, row-major) collectively. */
static hid_t write_rows(writer_t *w, const char *name, int64_t rows, int64_t cols, int64_t r0,
                        int64_t nr, const double *local, int keep_open) {
  const int rank = cols > 0 ? 2 : 1;
  const int64_t c = cols > 0 ? cols : 1;
  hsize_t dims[2] = {(hsize_t)rows, (hsize_t)c};
  hsize_t maxd[2] = {H5S_UNLIMITED, (hsize_t)c};
  /* chunks of at most about 1 MiB, all full to within a row: the file is its data plus metadata */
  hsize_t chunk[2] = {(hsize_t)sntk_h5_chunk_rows(rows, 8 * c, (int64_t)1 << 20), (hsize_t)c};
  hid_t sp = H5Screate_simple(rank, dims, maxd), pl = H5Pcreate(H5P_DATASET_CREATE), ds = -1;
  H5Pset_chunk(pl, rank, chunk);
  H5Pset_fill_time(pl, H5D_FILL_TIME_NEVER); /* every element is written: no fill pass */
  H5Pset_fletcher32(pl); /* last in the pipeline: the checksum covers the stored bytes */
  ds = H5Dcreate2(w->file, name, H5T_IEEE_F64LE, sp, H5P_DEFAULT, pl, H5P_DEFAULT);
  note(w, SNTK_H5(ds));
  if (ds >= 0) {
    hsize_t start[2] = {(hsize_t)r0, 0}, count[2] = {(hsize_t)nr, (hsize_t)c};
    hid_t fs = H5Dget_space(ds), ms = H5Screate_simple(rank, count, NULL);
    if (nr > 0) {
      H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
    } else {
      H5Sselect_none(fs);
      H5Sselect_none(ms);
    }
    /* Every rank calls H5Dwrite (collective), also with nothing selected. */
    note(w, SNTK_H5(H5Dwrite(ds, H5T_NATIVE_DOUBLE, ms, fs, w->dxpl, local)));
    H5Sclose(ms);
    H5Sclose(fs);
    if (!keep_open) note(w, SNTK_H5(H5Dclose(ds)));
  }
  H5Pclose(pl);
  H5Sclose(sp);
  return keep_open ? ds : -1;
}

static void write_attrs(writer_t *w, int64_t step, const sntk_model_t *md,
                        const sntk_ckpt_info_t *info, const char *created) {
  note(w, sntk_h5_attr_str(w->file, "format", SNTK_CKPT_FORMAT));
  note(w, sntk_h5_attr_i64(w->file, "format_version", SNTK_CKPT_VERSION));
  note(w, sntk_h5_attr_str(w->file, "softntk_version", sntk_version()));
  note(w, sntk_h5_attr_i64(w->file, "step", step));
  note(w, sntk_h5_attr_i64(w->file, "m", md->m));
  note(w, sntk_h5_attr_i64(w->file, "d", md->d));
  note(w, sntk_h5_attr_i64(w->file, "k", md->k));
  note(w, sntk_h5_attr_i64(w->file, "mpi_size", md->size));
  note(w, sntk_h5_attr_str(w->file, "config", info->config));
  note(w, sntk_h5_attr_str(w->file, "config_hash", info->hash));
  note(w, sntk_h5_attr_str(w->file, "data_hash", info->data_hash));
  note(w, sntk_h5_attr_f64(w->file, "eta", info->eta));
  note(w, sntk_h5_attr_str(w->file, "created", created));
  note(w, sntk_h5_attr_str(w->file, "description",
                           "softntk checkpoint: W(step) [m, d] and signs a [m, k] (neuron-major), "
                           "the results series before step in /history; every dataset has a "
                           "Fletcher32 checksum, the whole file a CRC32C in <file>.sum"));
}

/* Open a file access property list for MPI-IO with the 1.10 format (checksummed metadata). */
static hid_t mpio_fapl(MPI_Comm comm) {
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL);
  H5Pset_libver_bounds(fapl, H5F_LIBVER_V110, H5F_LIBVER_V110);
  H5Pset_all_coll_metadata_ops(fapl, 1);
  H5Pset_coll_metadata_write(fapl, 1);
  return fapl;
}

/* An upper bound of the checkpoint's size: the raw data, 2 % for chunk indexes, checksums and the
 * edge chunks (each full to within a row), and 64 KiB plus the config text and the series'
 * descriptions for the metadata. */
static int64_t size_bound(const sntk_model_t *md, const sntk_ckpt_info_t *info,
                          const sntk_series_set_t *hist) {
  int64_t raw = 8 * (md->m * md->d + md->m * md->k), meta = 65536 + 2 * (int64_t)strlen(info->config);
  for (int i = 0; hist && i < hist->ncols; i++) {
    raw += 8 * hist->cols[i].rows * (hist->cols[i].width > 0 ? hist->cols[i].width : 1);
    meta += 1024;
  }
  return raw + raw / 50 + meta;
}

/* Every rank: will a file of `bytes` fit the directory's free space and this process's file-size
 * limit? Checked before writing, because parallel HDF5 cannot recover from a collective write that
 * fails on some ranks only (it hangs): a full disk must be found before the first byte is written.
 */
static int check_room(const char *dir, int64_t bytes) {
  struct statvfs vfs;
  struct rlimit rl;
  if (statvfs(dir, &vfs) == 0) {
    double avail = (double)vfs.f_bavail * (double)vfs.f_frsize;
    if (avail < (double)bytes)
      return sntk_error(SNTK_ERR_RUNTIME,
                        "not enough space in %s: the checkpoint needs up to %.2f MiB, %.2f MiB are "
                        "free",
                        dir, bytes / 1048576.0, avail / 1048576.0);
  }
  if (getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
      (double)rl.rlim_cur < (double)bytes)
    return sntk_error(SNTK_ERR_RUNTIME,
                      "the file-size limit (ulimit -f) is %.2f MiB but the checkpoint needs up to "
                      "%.2f MiB",
                      (double)rl.rlim_cur / 1048576.0, bytes / 1048576.0);
  return SNTK_OK;
}

/* All ranks: write the .partial file. Returns the agreed status. */
/* Every series column as /history/<group>/<name> (rank 0's rows; the others select none), with
 * its units, description and integer flag. */
static void write_history(writer_t *w, const sntk_series_set_t *hist, int rank) {
  hid_t g = H5Gcreate2(w->file, "history", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  note(w, SNTK_H5(g));
  for (int i = 0; g >= 0 && hist && i < hist->ncols; i++) {
    const sntk_series_col_t *c = &hist->cols[i];
    char group[300], name[400];
    snprintf(group, sizeof group, "history/%s", c->group[0] == '/' ? c->group + 1 : c->group);
    snprintf(name, sizeof name, "%s/%s", group, c->name);
    if (!sntk_h5_exists(w->file, group)) {
      hid_t sub = sntk_h5_group(w->file, group);
      note(w, SNTK_H5(sub));
      if (sub >= 0) H5Gclose(sub);
    }
    hid_t ds = write_rows(w, name, c->rows, c->width, 0, rank == 0 ? c->rows : 0,
                          rank == 0 ? c->data : NULL, 1);
    if (ds < 0) continue;
    note(w, sntk_h5_attr_str(ds, "units", c->units));
    note(w, sntk_h5_attr_str(ds, "description", c->description));
    note(w, sntk_h5_attr_i64(ds, "integer", c->is_int));
    note(w, SNTK_H5(H5Dclose(ds)));
  }
  if (g >= 0) H5Gclose(g);
}

static int write_partial(MPI_Comm comm, const char *partial, int64_t step, const sntk_model_t *md,
                         const sntk_ckpt_info_t *info, const sntk_series_set_t *hist) {
  writer_t w = {comm, -1, -1, SNTK_OK};
  int rank;
  MPI_Comm_rank(comm, &rank);
  char created[64] = "";
  if (rank == 0) {
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm);
  }
  MPI_Bcast(created, sizeof created, MPI_CHAR, 0,
            comm); /* attribute values must match on all ranks */
  hid_t fapl = mpio_fapl(comm);
  w.file = H5Fcreate(partial, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  H5Pclose(fapl);
  if (w.file < 0) {
    H5Eclear2(H5E_DEFAULT);
    int err = sntk_error(SNTK_ERR_RUNTIME, "cannot create checkpoint file %s (%s)", partial,
                         access(partial, F_OK) == 0 ? "exists but cannot be written"
                                                    : "directory not writable or full?");
    return sntk_agree(comm, err);
  }

  w.dxpl = H5Pcreate(H5P_DATASET_XFER);
  H5Pset_dxpl_mpio(w.dxpl, H5FD_MPIO_COLLECTIVE);
  write_attrs(&w, step, md, info, created);
  /* W and a in the neurons' global order (the model stores them sorted by sign) */
  double *Wg = malloc(sizeof(double) * (size_t)(md->m_loc * md->d + 1));
  double *At = malloc(sizeof(double) * (size_t)(md->m_loc * md->k + 1));
  note(&w, sntk_check_alloc(Wg, 1, "weights", __FILE__, __LINE__));
  note(&w, sntk_check_alloc(At, 1, "signs", __FILE__, __LINE__));
  if (Wg) sntk_model_rows_to_global(md, md->W, md->d, Wg);
  if (At)
    for (int64_t r = 0; r < md->m_loc; r++)
      for (int64_t l = 0; l < md->k; l++) At[md->perm[r] * md->k + l] = md->A[l * md->m_loc + r];
  write_rows(&w, "W", md->m, md->d, md->r0, Wg ? md->m_loc : 0, Wg, 0);
  write_rows(&w, "a", md->m, md->k, md->r0, At ? md->m_loc : 0, At, 0);
  free(Wg);
  free(At);
  sntk_fault_point("ckpt-write", (long long)step);
  write_history(&w, hist, rank);
  H5Pclose(w.dxpl);
  note(&w, SNTK_H5(H5Fflush(w.file, H5F_SCOPE_GLOBAL)));
  note(&w, SNTK_H5(H5Fclose(w.file)));
  return sntk_agree(comm, w.err);
}

static int fsync_path(const char *path, int directory) {
  int fd = open(path, directory ? O_RDONLY | O_DIRECTORY : O_RDONLY);
  if (fd < 0)
    return sntk_error(SNTK_ERR_RUNTIME, "cannot open %s to sync it: %s", path, strerror(errno));
  int rc = fsync(fd);
  int e = errno;
  close(fd);
  if (rc != 0) return sntk_error(SNTK_ERR_RUNTIME, "fsync of %s failed: %s", path, strerror(e));
  return SNTK_OK;
}

/* Rank 0: remove the oldest complete checkpoints beyond keep. */
static void prune(const char *dir, int64_t keep) {
  int64_t *steps = NULL;
  int n = 0;
  if (sntk_ckpt_list(dir, &steps, &n)) return;
  for (int i = (int)keep; i < n; i++) {
    char p[4200];
    sntk_ckpt_path(dir, steps[i], p, sizeof p);
    unlink(p);
    char sum[4300];
    sntk_filesum_sidecar(p, sum, sizeof sum);
    unlink(sum);
  }
  free(steps);
}

/* All ranks: the CRC32C of the closed .partial file; rank 0 fsyncs it and writes the sidecar of the
 * final name. */
static int seal(MPI_Comm comm, const char *partial, const char *path, int64_t *bytes) {
  uint32_t crc;
  int64_t size;
  int rank, err = SNTK_OK;
  MPI_Comm_rank(comm, &rank);
  SNTK_CALL(sntk_filesum_compute_par(comm, partial, &crc, &size));
  if (rank == 0) {
    char sum[4400];
    sntk_filesum_sidecar(path, sum, sizeof sum);
    err = fsync_path(partial, 0);
    if (!err) err = sntk_filesum_write(sum, path, crc, size);
    if (bytes) *bytes = size;
  }
  return sntk_agree(comm, err);
}

int sntk_ckpt_write(MPI_Comm comm, const char *dir, int64_t step, const sntk_model_t *md,
                    const sntk_ckpt_info_t *info, const sntk_series_set_t *hist, int64_t keep,
                    double timeout, double *seconds, int64_t *bytes) {
  char path[4200], partial[4300];
  int rank, err = SNTK_OK;
  double t0 = MPI_Wtime();
  MPI_Comm_rank(comm, &rank);
  sntk_ckpt_path(dir, step, path, sizeof path);
  snprintf(partial, sizeof partial, "%s.partial", path);
  if (rank == 0) err = sntk_mkdirs(dir);
  SNTK_CALL(sntk_agree(comm, err));
  err = getenv("SOFTNTK_SKIP_ROOM_CHECK") ? SNTK_OK : check_room(dir, size_bound(md, info, hist));
  SNTK_CALL(sntk_agree(comm, err));
  sntk_watchdog_arm(timeout, "checkpoint write", rank == 0);
  err = write_partial(comm, partial, step, md, info, hist);
  if (!err) err = seal(comm, partial, path, bytes);
  sntk_watchdog_disarm();
  if (!err && rank == 0) {
    sntk_fault_point("ckpt-rename", (long long)step);
    if (rename(partial, path) != 0)
      err = sntk_error(SNTK_ERR_RUNTIME, "cannot rename %s into place: %s", partial,
                       strerror(errno));
    if (!err) err = fsync_path(dir, 1);
    if (!err) prune(dir, keep);
  }
  err = sntk_agree(comm, err);
  if (err && rank == 0) {
    char sum[4400];
    sntk_filesum_sidecar(path, sum, sizeof sum);
    unlink(partial);
    if (access(path, F_OK) != 0) unlink(sum);
  }
  if (seconds) *seconds = MPI_Wtime() - t0;
  return err;
}

/* ---- reading ------------------------------------------------------------------------------------
 */

void sntk_ckpt_meta_free(sntk_ckpt_meta_t *meta) {
  free(meta->config);
  meta->config = NULL;
}

static int read_meta(hid_t f, sntk_ckpt_meta_t *meta) {
  char *s = NULL;
  SNTK_CALL(sntk_h5_attr_read_str(f, "format", &s));
  int ok = strcmp(s, SNTK_CKPT_FORMAT) == 0;
  free(s);
  if (!ok) return sntk_error(SNTK_ERR_INPUT, "not a softntk checkpoint (format attribute differs)");
  SNTK_CALL(sntk_h5_attr_read_i64(f, "format_version", &meta->format_version));
  if (meta->format_version < 1 || meta->format_version > SNTK_CKPT_VERSION)
    return sntk_error(SNTK_ERR_INPUT, "checkpoint format version %lld, this softntk reads 1 to %d",
                      (long long)meta->format_version, SNTK_CKPT_VERSION);
  SNTK_CALL(sntk_h5_attr_read_i64(f, "step", &meta->step));
  SNTK_CALL(sntk_h5_attr_read_i64(f, "m", &meta->m));
  SNTK_CALL(sntk_h5_attr_read_i64(f, "d", &meta->d));
  SNTK_CALL(sntk_h5_attr_read_i64(f, "k", &meta->k));
  SNTK_CALL(sntk_h5_attr_read_i64(f, "mpi_size", &meta->mpi_size));
  SNTK_CALL(sntk_h5_attr_read_str(f, "config", &meta->config));
  SNTK_CALL(sntk_h5_attr_read_str(f, "config_hash", &s));
  snprintf(meta->hash, sizeof meta->hash, "%s", s);
  free(s);
  SNTK_CALL(sntk_h5_attr_read_str(f, "data_hash", &s));
  snprintf(meta->data_hash, sizeof meta->data_hash, "%s", s);
  free(s);
  SNTK_CALL(sntk_h5_attr_read_str(f, "softntk_version", &s));
  snprintf(meta->version, sizeof meta->version, "%s", s);
  free(s);
  meta->eta = NAN; /* checkpoints before the learning rate was recorded */
  if (H5Aexists(f, "eta") > 0) SNTK_CALL(sntk_h5_attr_read_f64(f, "eta", &meta->eta));
  return SNTK_OK;
}

/* Read rows [r0, r0 + nr) of a [rows, cols] dataset (cols = 0: 1-D) into out. */
static int read_rows(hid_t f, const char *name, int64_t cols, int64_t r0, int64_t nr, double *out) {
  hid_t ds = -1, fs = -1, ms = -1;
  int err = SNTK_OK;
  const int rank = cols > 0 ? 2 : 1;
  hsize_t start[2] = {(hsize_t)r0, 0}, count[2] = {(hsize_t)nr, (hsize_t)(cols > 0 ? cols : 1)};
  hsize_t dims[2] = {0, 0};
  if (!sntk_h5_exists(f, name)) return sntk_error(SNTK_ERR_INPUT, "dataset '%s' is missing", name);
  SNTK_TRY(SNTK_H5(ds = H5Dopen2(f, name, H5P_DEFAULT)));
  SNTK_TRY(SNTK_H5(fs = H5Dget_space(ds)));
  if (H5Sget_simple_extent_ndims(fs) != rank) {
    err = sntk_error(SNTK_ERR_INPUT, "dataset '%s' has the wrong rank", name);
    goto done;
  }
  H5Sget_simple_extent_dims(fs, dims, NULL);
  if (dims[0] < (hsize_t)(r0 + nr) || (cols > 0 && dims[1] != (hsize_t)cols)) {
    err = sntk_error(SNTK_ERR_INPUT,
                     "dataset '%s' has shape %llu x %llu, expected at least %lld x %lld", name,
                     (unsigned long long)dims[0], (unsigned long long)dims[1], (long long)(r0 + nr),
                     (long long)(cols > 0 ? cols : 1));
    goto done;
  }
  if (nr == 0) goto done;
  SNTK_TRY(SNTK_H5(H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL)));
  SNTK_TRY(SNTK_H5(ms = H5Screate_simple(rank, count, NULL)));
  SNTK_TRY(SNTK_H5(H5Dread(ds, H5T_NATIVE_DOUBLE, ms, fs, H5P_DEFAULT, out)));
done:
  if (ms >= 0) H5Sclose(ms);
  if (fs >= 0) H5Sclose(fs);
  if (ds >= 0) H5Dclose(ds);
  return err;
}

/* This rank's rows of W and a. */
static int read_data(hid_t f, sntk_model_t *md, const sntk_ckpt_meta_t *meta) {
  if (meta->m != md->m || meta->d != md->d || meta->k != md->k)
    return sntk_error(SNTK_ERR_INPUT,
                      "checkpoint holds m = %lld, d = %lld, k = %lld but the run has m = %lld, d = "
                      "%lld, k = %lld",
                      (long long)meta->m, (long long)meta->d, (long long)meta->k, (long long)md->m,
                      (long long)md->d, (long long)md->k);
  /* The file holds global order; the model's storage order (by sign) comes from its initialisation,
   * whose signs the checkpoint's must equal. */
  double *Wg = NULL, *At = NULL;
  int err = SNTK_ALLOC(Wg, md->m_loc * md->d);
  if (!err) err = SNTK_ALLOC(At, md->m_loc * md->k);
  if (!err) err = read_rows(f, "W", md->d, md->r0, md->m_loc, Wg);
  if (!err) err = read_rows(f, "a", md->k, md->r0, md->m_loc, At);
  for (int64_t r = 0; !err && r < md->m_loc; r++)
    for (int64_t l = 0; l < md->k; l++)
      if (md->A[l * md->m_loc + r] != At[md->perm[r] * md->k + l])
        err = sntk_error(SNTK_ERR_INPUT,
                         "its signs a differ from those of the deck's seed (neuron "
                         "%lld)",
                         (long long)(md->r0 + md->perm[r]));
  if (!err) sntk_model_rows_from_global(md, Wg, md->d, md->W);
  free(Wg);
  free(At);
  SNTK_CALL(err);
  return SNTK_OK;
}

/* The dataset paths below /history, in name order (the same on every rank). */
typedef struct names {
  int n, cap;
  char (*v)[320];
} names_t;

static herr_t collect(hid_t g, const char *name, const H5O_info_t *info, void *data) {
  names_t *ns = data;
  (void)g;
  if (info->type != H5O_TYPE_DATASET) return 0;
  if (ns->n == ns->cap) {
    int cap = ns->cap ? 2 * ns->cap : 32;
    void *grown = realloc(ns->v, sizeof *ns->v * (size_t)cap);
    if (!grown) return -1;
    ns->v = grown, ns->cap = cap;
  }
  snprintf(ns->v[ns->n++], sizeof ns->v[0], "%s", name);
  return 0;
}

/* One history dataset into column c: shape and attributes everywhere, values where `reader`. */
static int read_column(hid_t f, const char *rel, int64_t version, hid_t dxpl, int reader,
                       sntk_series_col_t *c) {
  char path[400], *txt = NULL;
  hid_t ds = -1, fs = -1, ms = -1;
  int err = SNTK_OK;
  const char *slash = strrchr(rel, '/');
  snprintf(path, sizeof path, "history/%s", rel);
  if (version < 2 || !slash) {
    snprintf(c->group, sizeof c->group, "/train");
    snprintf(c->name, sizeof c->name, "%.63s", rel);
  } else {
    snprintf(c->group, sizeof c->group, "/%.*s", (int)(slash - rel), rel);
    snprintf(c->name, sizeof c->name, "%.63s", slash + 1);
  }
  SNTK_TRY(SNTK_H5(ds = H5Dopen2(f, path, H5P_DEFAULT)));
  SNTK_TRY(SNTK_H5(fs = H5Dget_space(ds)));
  hsize_t dims[2] = {0, 1};
  int nd = H5Sget_simple_extent_ndims(fs);
  if (nd < 1 || nd > 2) {
    err = sntk_error(SNTK_ERR_INPUT, "dataset '%s' has %d dimensions", path, nd);
    goto done;
  }
  H5Sget_simple_extent_dims(fs, dims, NULL);
  c->rows = (int64_t)dims[0];
  c->width = nd == 2 ? (int64_t)dims[1] : 0;
  c->is_int = strcmp(c->name, "step") == 0;
  if (H5Aexists(ds, "integer") > 0) {
    int64_t flag = 0;
    SNTK_TRY(sntk_h5_attr_read_i64(ds, "integer", &flag));
    c->is_int = flag != 0;
  }
  if (H5Aexists(ds, "units") > 0 && sntk_h5_attr_read_str(ds, "units", &txt) == SNTK_OK)
    snprintf(c->units, sizeof c->units, "%s", txt);
  free(txt), txt = NULL;
  if (H5Aexists(ds, "description") > 0 && sntk_h5_attr_read_str(ds, "description", &txt) == 0)
    snprintf(c->description, sizeof c->description, "%s", txt);
  free(txt);
  const int64_t n = c->rows * (int64_t)dims[1];
  if (reader) SNTK_TRY(SNTK_ALLOC(c->data, n + 1));
  hsize_t mdims[1] = {(hsize_t)(n > 0 ? n : 1)};
  SNTK_TRY(SNTK_H5(ms = H5Screate_simple(1, mdims, NULL)));
  if (!reader || n == 0) {
    H5Sselect_none(ms);
    H5Sselect_none(fs);
  }
  double dummy = 0.0;
  SNTK_TRY(SNTK_H5(H5Dread(ds, H5T_NATIVE_DOUBLE, ms, fs, dxpl, c->data ? c->data : &dummy)));
done:
  if (ms >= 0) H5Sclose(ms);
  if (fs >= 0) H5Sclose(fs);
  if (ds >= 0) H5Dclose(ds);
  return err;
}

/* Every series of /history (see checkpoint.h); values where `reader`. */
static int read_history(hid_t f, int64_t version, hid_t dxpl, int reader, sntk_series_set_t *set) {
  names_t ns = {0, 0, NULL};
  int err = SNTK_OK;
  memset(set, 0, sizeof *set);
  set->owned = 1;
  if (!sntk_h5_exists(f, "history")) return sntk_error(SNTK_ERR_INPUT, "group /history is missing");
  hid_t g = H5Gopen2(f, "history", H5P_DEFAULT);
  if (g < 0 || H5Ovisit(g, H5_INDEX_NAME, H5_ITER_INC, collect, &ns) < 0)
    err = sntk_error(SNTK_ERR_INPUT, "group /history cannot be read");
  if (g >= 0) H5Gclose(g);
  if (!err) err = SNTK_ALLOC(set->cols, ns.n + 1);
  for (int i = 0; !err && i < ns.n; i++) {
    err = read_column(f, ns.v[i], version, dxpl, reader, &set->cols[i]);
    set->ncols = i + 1;
  }
  free(ns.v);
  if (err) sntk_series_set_free(set);
  return err;
}

/* All ranks: the whole file's CRC32C against its sidecar, if it has one. */
static int check_sidecar(MPI_Comm comm, const char *path) {
  char sum[4400];
  uint32_t want = 0, got = 0;
  int64_t want_size = 0, size = 0;
  int rank, present = 0, err = SNTK_OK;
  MPI_Comm_rank(comm, &rank);
  sntk_filesum_sidecar(path, sum, sizeof sum);
  if (rank == 0) err = sntk_filesum_read(sum, &present, &want, &want_size);
  SNTK_CALL(sntk_agree(comm, err));
  SNTK_CALL(SNTK_MPI(MPI_Bcast(&present, 1, MPI_INT, 0, comm)));
  if (!present) return SNTK_OK;
  SNTK_CALL(sntk_filesum_compute_par(comm, path, &got, &size));
  if (rank == 0 && (got != want || size != want_size))
    err = sntk_error(SNTK_ERR_INPUT,
                     "checkpoint %s is damaged: its CRC32C is %08x over %lld bytes but %s records "
                     "%08x over %lld bytes (the file changed after it was written)",
                     path, got, (long long)size, sum, want, (long long)want_size);
  return sntk_agree(comm, err);
}

/* Agree on a local read status; a failure becomes "checkpoint <path> is damaged: <why>". */
static int agree_damage(MPI_Comm comm, const char *path, int err) {
  if (err) {
    char msg[2048];
    snprintf(msg, sizeof msg, "%s", sntk_error_message());
    err = sntk_error(SNTK_ERR_INPUT, "checkpoint %s is damaged or not a softntk checkpoint: %s",
                     path, msg);
  }
  return sntk_agree(comm, err);
}

int sntk_ckpt_read(MPI_Comm comm, const char *path, sntk_ckpt_accept_fn accept, void *ctx,
                   sntk_model_t *md, sntk_ckpt_meta_t *meta, sntk_series_set_t *hist,
                   int *damaged) {
  int rank, err = SNTK_OK;
  MPI_Comm_rank(comm, &rank);
  memset(meta, 0, sizeof *meta);
  if (hist) memset(hist, 0, sizeof *hist);
  *damaged = 1;
  if (rank == 0) {
    struct stat st;
    if (stat(path, &st) != 0)
      err = sntk_error(SNTK_ERR_INPUT, "checkpoint %s: %s", path, strerror(errno));
    else if (H5Fis_hdf5(path) <= 0)
      err = sntk_error(SNTK_ERR_INPUT, "checkpoint %s is not an HDF5 file (truncated?)", path);
    H5Eclear2(H5E_DEFAULT);
  }
  SNTK_CALL(sntk_agree(comm, err));
  SNTK_CALL(check_sidecar(comm, path));
  hid_t fapl = mpio_fapl(comm);
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
  H5Pclose(fapl);
  if (f < 0) {
    H5Eclear2(H5E_DEFAULT);
    err = sntk_error(SNTK_ERR_INPUT, "checkpoint %s cannot be opened (truncated or damaged)", path);
    return sntk_agree(comm, err);
  }
  err = agree_damage(comm, path, read_meta(f, meta));
  if (!err && accept) {
    err = sntk_agree(comm, accept(path, meta, ctx));
    if (err) *damaged = 0;
  }
  if (!err) err = agree_damage(comm, path, read_data(f, md, meta));
  if (!err && hist) {
    hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
    H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE);
    err = agree_damage(comm, path, read_history(f, meta->format_version, dxpl, rank == 0, hist));
    H5Pclose(dxpl);
  }
  H5Fclose(f);
  H5Eclear2(H5E_DEFAULT);
  if (err) {
    sntk_ckpt_meta_free(meta);
    if (hist) sntk_series_set_free(hist);
  }
  return err;
}

int sntk_ckpt_history(const char *path, int64_t *step, sntk_series_set_t *hist) {
  sntk_ckpt_meta_t meta;
  memset(&meta, 0, sizeof meta);
  memset(hist, 0, sizeof *hist);
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) {
    H5Eclear2(H5E_DEFAULT);
    return sntk_error(SNTK_ERR_INPUT, "checkpoint %s cannot be opened", path);
  }
  int err = read_meta(f, &meta);
  if (!err) err = read_history(f, meta.format_version, H5P_DEFAULT, 1, hist);
  *step = meta.step;
  sntk_ckpt_meta_free(&meta);
  H5Fclose(f);
  H5Eclear2(H5E_DEFAULT);
  return err;
}

/* Collective: the steps of dir's checkpoints, newest first, on every rank. */
static int list_all(MPI_Comm comm, const char *dir, int64_t **steps, int *n) {
  int rank, err = SNTK_OK;
  MPI_Comm_rank(comm, &rank);
  *steps = NULL;
  *n = 0;
  if (rank == 0) err = sntk_ckpt_list(dir, steps, n);
  SNTK_CALL(sntk_agree(comm, err));
  SNTK_CALL(SNTK_MPI(MPI_Bcast(n, 1, MPI_INT, 0, comm)));
  if (rank != 0) err = SNTK_ALLOC(*steps, *n);
  SNTK_CALL(sntk_agree(comm, err));
  return SNTK_MPI(MPI_Bcast(*steps, *n, MPI_INT64_T, 0, comm));
}

int sntk_ckpt_load(MPI_Comm comm, const char *dir, const char *which, sntk_ckpt_accept_fn accept,
                   void *ctx, sntk_model_t *md, int64_t *step, char *used, size_t len) {
  sntk_ckpt_meta_t meta;
  int64_t *steps = NULL;
  int n = 0, damaged = 0, err = SNTK_OK;
  if (strcmp(which, "auto") != 0) {
    SNTK_CALL(sntk_ckpt_read(comm, which, accept, ctx, md, &meta, NULL, &damaged));
    snprintf(used, len, "%s", which);
    *step = meta.step;
    sntk_ckpt_meta_free(&meta);
    return SNTK_OK;
  }
  err = list_all(comm, dir, &steps, &n);
  for (int i = 0; !err && i < n; i++) {
    sntk_ckpt_path(dir, steps[i], used, len);
    err = sntk_ckpt_read(comm, used, accept, ctx, md, &meta, NULL, &damaged);
    if (err == SNTK_ERR_INPUT && damaged) {
      sntk_warn("%s; trying an older checkpoint", sntk_error_message());
      err = SNTK_OK;
      continue;
    }
    if (!err) {
      *step = meta.step;
      sntk_ckpt_meta_free(&meta);
      free(steps);
      return SNTK_OK;
    }
  }
  free(steps);
  SNTK_CALL(err);
  return sntk_error(SNTK_ERR_INPUT, "no valid checkpoint in %s for --restart auto", dir);
}

/* ---- directory ----------------------------------------------------------------------------------
 */

static int cmp_desc(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? 1 : x > y ? -1 : 0;
}

int sntk_ckpt_list(const char *dir, int64_t **steps, int *count) {
  *steps = NULL;
  *count = 0;
  DIR *d = opendir(dir);
  if (!d)
    return errno == ENOENT
               ? SNTK_OK
               : sntk_error(SNTK_ERR_RUNTIME, "cannot read %s: %s", dir, strerror(errno));
  int cap = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    long long s;
    char tail[8];
    if (sscanf(e->d_name, "ckpt-%lld.h%2s", &s, tail) != 2 || strcmp(tail, "5") != 0) continue;
    char expect[64];
    snprintf(expect, sizeof expect, "ckpt-%lld.h5", s);
    if (strcmp(expect, e->d_name) != 0) continue;
    if (*count == cap) {
      cap = cap ? 2 * cap : 16;
      int64_t *grown = realloc(*steps, sizeof(int64_t) * (size_t)cap);
      if (!grown) {
        closedir(d);
        return sntk_error(SNTK_ERR_RUNTIME, "out of memory listing checkpoints");
      }
      *steps = grown;
    }
    (*steps)[(*count)++] = s;
  }
  closedir(d);
  if (*count) qsort(*steps, (size_t)*count, sizeof(int64_t), cmp_desc);
  return SNTK_OK;
}

/* Is `name` ckpt-<digits>.h5 followed by exactly `suffix`? */
static int ckpt_name(const char *name, const char *suffix) {
  size_t len = strlen(name), sl = strlen(suffix);
  if (strncmp(name, "ckpt-", 5) != 0 || len < 5 + 1 + 3 + sl) return 0;
  if (strcmp(name + len - sl, suffix) != 0 || strncmp(name + len - sl - 3, ".h5", 3) != 0) return 0;
  for (size_t i = 5; i < len - sl - 3; i++)
    if (name[i] < '0' || name[i] > '9') return 0;
  return 1;
}

int sntk_ckpt_clean(const char *dir, int all) {
  DIR *d = opendir(dir);
  int removed = 0;
  if (!d) return 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    char p[4400];
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    if (ckpt_name(e->d_name, ".partial") || (all && ckpt_name(e->d_name, ""))) {
      if (unlink(p) == 0) removed++;
    } else if (ckpt_name(e->d_name, ".sum")) {
      p[strlen(p) - 4] = '\0'; /* the checkpoint it belongs to */
      if (all || access(p, F_OK) != 0) {
        p[strlen(p)] = '.';
        unlink(p);
      }
    }
  }
  closedir(d);
  return removed;
}
