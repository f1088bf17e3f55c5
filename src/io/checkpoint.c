/* Parallel HDF5 checkpoints: collective write by hyperslab, atomic rename, verified read (see
 * checkpoint.h). Every metadata operation is called by every rank with the same arguments (parallel
 * HDF5's rule); local failures are recorded and agreed on after the file is closed, so no rank
 * leaves a collective call early. */
#include "softntk/checkpoint.h"

#include "softntk/error.h"
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
static void write_rows(writer_t *w, const char *name, int64_t rows, int64_t cols, int64_t r0,
                       int64_t nr, const double *local) {
  const int rank = cols > 0 ? 2 : 1;
  const int64_t c = cols > 0 ? cols : 1;
  hsize_t dims[2] = {(hsize_t)rows, (hsize_t)c};
  hsize_t maxd[2] = {H5S_UNLIMITED, (hsize_t)c};
  int64_t crow = ((int64_t)1 << 17) / c; /* chunks of about 1 MiB */
  if (crow < 1) crow = 1;
  if (crow > rows && rows > 0) crow = rows;
  hsize_t chunk[2] = {(hsize_t)crow, (hsize_t)c};
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
    note(w, SNTK_H5(H5Dclose(ds)));
  }
  H5Pclose(pl);
  H5Sclose(sp);
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
                           "history rows [0, step); every dataset has a Fletcher32 checksum"));
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

/* An upper bound of the checkpoint's size: the raw data, 2 % for chunk indexes and checksums, and
 * 64 KiB plus the config text for the metadata (seen: 9 KiB over the raw data for a 150 KiB file).
 */
static int64_t size_bound(const sntk_model_t *md, const sntk_ckpt_info_t *info,
                          const sntk_history_t *hist) {
  int64_t raw = 8 * (md->m * md->d + md->m * md->k + hist->rows * hist->ncols);
  return raw + raw / 50 + 65536 + 2 * (int64_t)strlen(info->config);
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
static int write_partial(MPI_Comm comm, const char *partial, int64_t step, const sntk_model_t *md,
                         const sntk_ckpt_info_t *info, const sntk_history_t *hist) {
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
  write_rows(&w, "W", md->m, md->d, md->r0, Wg ? md->m_loc : 0, Wg);
  write_rows(&w, "a", md->m, md->k, md->r0, At ? md->m_loc : 0, At);
  free(Wg);
  free(At);
  sntk_fault_point("ckpt-write", (long long)step);
  hid_t g = H5Gcreate2(w.file, "history", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  note(&w, SNTK_H5(g));
  double *col = NULL;
  if (rank == 0) col = malloc(sizeof(double) * (size_t)(hist->rows + 1));
  if (rank == 0) note(&w, sntk_check_alloc(col, 1, "history", __FILE__, __LINE__));
  for (int c = 0; c < hist->ncols && g >= 0; c++) {
    char name[256];
    snprintf(name, sizeof name, "history/%s", hist->names[c]);
    if (col)
      for (int64_t r = 0; r < hist->rows; r++) col[r] = hist->data[r * hist->ncols + c];
    write_rows(&w, name, hist->rows, 0, 0, rank == 0 && col ? hist->rows : 0, col);
  }
  free(col);
  if (g >= 0) H5Gclose(g);
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
  }
  free(steps);
}

int sntk_ckpt_write(MPI_Comm comm, const char *dir, int64_t step, const sntk_model_t *md,
                    const sntk_ckpt_info_t *info, const sntk_history_t *hist, int64_t keep,
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
  sntk_watchdog_disarm();
  if (!err && rank == 0) {
    err = fsync_path(partial, 0);
    if (!err) {
      struct stat st;
      if (bytes) *bytes = stat(partial, &st) == 0 ? (int64_t)st.st_size : -1;
      sntk_fault_point("ckpt-rename", (long long)step);
      if (rename(partial, path) != 0)
        err = sntk_error(SNTK_ERR_RUNTIME, "cannot rename %s into place: %s", partial,
                         strerror(errno));
    }
    if (!err) err = fsync_path(dir, 1);
    if (!err) prune(dir, keep);
  }
  err = sntk_agree(comm, err);
  if (err && rank == 0) unlink(partial);
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
  if (meta->format_version != SNTK_CKPT_VERSION)
    return sntk_error(SNTK_ERR_INPUT, "checkpoint format version %lld, this softntk reads %d",
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

/* This rank's rows of W and a, and on rank 0 the history. */
static int read_data(hid_t f, sntk_model_t *md, const sntk_ckpt_meta_t *meta, sntk_history_t *hist,
                     int rank) {
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
  hist->rows = meta->step;
  if (rank != 0 || hist->ncols == 0) return SNTK_OK;
  SNTK_CALL(SNTK_ALLOC(hist->data, hist->rows * hist->ncols + 1));
  double *col = NULL;
  SNTK_CALL(SNTK_ALLOC(col, hist->rows + 1));
  for (int c = 0; c < hist->ncols && !err; c++) {
    char name[256];
    snprintf(name, sizeof name, "history/%s", hist->names[c]);
    err = read_rows(f, name, 0, 0, hist->rows, col);
    for (int64_t r = 0; !err && r < hist->rows; r++) hist->data[r * hist->ncols + c] = col[r];
  }
  free(col);
  return err;
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
                   sntk_model_t *md, sntk_ckpt_meta_t *meta, sntk_history_t *hist, int *damaged) {
  int rank, err = SNTK_OK;
  MPI_Comm_rank(comm, &rank);
  memset(meta, 0, sizeof *meta);
  hist->data = NULL;
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
  if (!err) err = agree_damage(comm, path, read_data(f, md, meta, hist, rank));
  H5Fclose(f);
  H5Eclear2(H5E_DEFAULT);
  if (err) {
    sntk_ckpt_meta_free(meta);
    free(hist->data);
    hist->data = NULL;
  }
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
  sntk_history_t hist = {0, NULL, 0, NULL};
  int64_t *steps = NULL;
  int n = 0, damaged = 0, err = SNTK_OK;
  if (strcmp(which, "auto") != 0) {
    SNTK_CALL(sntk_ckpt_read(comm, which, accept, ctx, md, &meta, &hist, &damaged));
    snprintf(used, len, "%s", which);
    *step = meta.step;
    sntk_ckpt_meta_free(&meta);
    return SNTK_OK;
  }
  err = list_all(comm, dir, &steps, &n);
  for (int i = 0; !err && i < n; i++) {
    sntk_ckpt_path(dir, steps[i], used, len);
    err = sntk_ckpt_read(comm, used, accept, ctx, md, &meta, &hist, &damaged);
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

int sntk_ckpt_clean(const char *dir, int all) {
  DIR *d = opendir(dir);
  int removed = 0;
  if (!d) return 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    size_t len = strlen(e->d_name);
    int partial = strncmp(e->d_name, "ckpt-", 5) == 0 && len > 11 &&
                  strcmp(e->d_name + len - 11, ".h5.partial") == 0;
    int complete =
        strncmp(e->d_name, "ckpt-", 5) == 0 && len > 3 && strcmp(e->d_name + len - 3, ".h5") == 0;
    if (partial || (all && complete)) {
      char p[4400];
      snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
      if (unlink(p) == 0) removed++;
    }
  }
  closedir(d);
  return removed;
}
