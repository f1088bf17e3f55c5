/* softntk checkpoints: parallel HDF5 files from which a run continues bit for bit (DESIGN.md
 * section 4).
 *
 * ckpt-<step>.h5 holds W(step) as one global dataset [m, d] (neuron-major: each rank writes and
 * reads its own contiguous hyperslab, collectively, so a checkpoint written on P ranks resumes on
 * any other P), the signs a as [m, k], every series of the run's results file up to the step
 * (/history/<group>/<column>: /train, /ntk with its eigenvalue rows, /score, ..., with their units
 * and descriptions; a restart checks and repairs results.h5 against them), the resolved config and
 * its hash, a hash of the training data, sizes, the rank count and a format version. Every dataset
 * carries HDF5's Fletcher32 checksum (last in the filter pipeline), chunked so that no chunk is
 * mostly empty, and the file uses the 1.10 format, whose metadata is checksummed too; reads verify
 * both. The whole file's CRC32C is kept in the sidecar ckpt-<step>.h5.sum (filesum.h), so a byte
 * changed anywhere, inside a dataset or not, is found too. Protocol: write ckpt-<step>.h5.partial,
 * flush and close, compute its CRC32C (every rank a share), fsync it, write and fsync the sidecar,
 * rank 0 renames the file into place and fsyncs the directory, then removes the oldest beyond
 * `keep`. A crash at any instant leaves the previous checkpoint intact. */
#ifndef SOFTNTK_CHECKPOINT_H
#define SOFTNTK_CHECKPOINT_H

#include "softntk/config.h"
#include "softntk/model.h"
#include "softntk/results.h"

#include <mpi.h>
#include <stdint.h>

#define SNTK_CKPT_FORMAT  "softntk-checkpoint"
#define SNTK_CKPT_VERSION 2 /* 1: /history/<column> of /train only (still read) */

/* [checkpoint] section. Global. */
typedef struct sntk_ckpt_cfg {
  char dir[SNTK_STR];   /* checkpoint directory; relative paths are below the run directory */
  int64_t every_steps;  /* checkpoint every this many steps (0: off) */
  double every_minutes; /* checkpoint every this many minutes of wall time (0: off) */
  int64_t keep;         /* newest checkpoints kept */
  double max_hours; /* wall-time budget: checkpoint and stop (exit 3) before it runs out (0: off) */
  int final;        /* write a checkpoint when the run ends */
  double timeout;   /* seconds before a stuck write aborts the run (0: no limit) */
} sntk_ckpt_cfg_t;

extern const sntk_key_t sntk_ckpt_keys[];

/* Identity of the run a checkpoint belongs to. Global. */
typedef struct sntk_ckpt_info {
  const char *config;    /* resolved config text */
  const char *hash;      /* its hash */
  const char *data_hash; /* hash of the training data (X, Y) */
  double eta;            /* the learning rate the run uses (train.eta resolved) */
} sntk_ckpt_info_t;

/* What a checkpoint file says about itself. Global after sntk_ckpt_read. */
typedef struct sntk_ckpt_meta {
  int64_t step, m, d, k, mpi_size, format_version;
  char *config; /* resolved config text (free with sntk_ckpt_meta_free) */
  char hash[17], data_hash[17];
  char version[128]; /* softntk version that wrote it */
  double eta;        /* the run's learning rate (NaN: not recorded) */
} sntk_ckpt_meta_t;

/* Collective. Write the checkpoint of step `step` into dir (created if missing) by the protocol
 * above, with the series `hist` (metadata on every rank, data on rank 0; NULL: none), then keep
 * only the newest `keep`. Free space and the file-size limit are checked on every
 * rank before the first byte (parallel HDF5 hangs when a collective write fails on some ranks
 * only); a write still stuck after `timeout` seconds (0: never) ends the process with exit status 1
 * and a message. On failure nothing but the .partial file is touched (and it is removed), so the
 * previous checkpoint stays valid. *seconds receives the wall time taken and *bytes the file size
 * (rank 0's view; either may be NULL). */
int sntk_ckpt_write(MPI_Comm comm, const char *dir, int64_t step, const sntk_model_t *md,
                    const sntk_ckpt_info_t *info, const sntk_series_set_t *hist, int64_t keep,
                    double timeout, double *seconds, int64_t *bytes);

/* Decides whether a checkpoint's metadata fits the run (0) or not (an error naming the difference).
 * Called on every rank with the same metadata, before any data are read. */
typedef int (*sntk_ckpt_accept_fn)(const char *path, const sntk_ckpt_meta_t *meta, void *ctx);

/* Collective. Read checkpoint `path`: its whole-file CRC32C against the sidecar (when there is
 * one), the metadata, then (if `accept` agrees; NULL accepts all) the model's rows of W and a on
 * each rank (the model's m, d, k must match) and, unless hist is NULL, the series (metadata on
 * every rank, data on rank 0; an owned set, free with sntk_series_set_free). Every checksum is
 * verified and the ranks agree. A damaged, truncated or foreign file (or one whose CRC32C differs
 * from its sidecar's) is SNTK_ERR_INPUT with *damaged = 1 and a message naming the file and the
 * problem; a refusal by `accept` returns its error with *damaged = 0. */
int sntk_ckpt_read(MPI_Comm comm, const char *path, sntk_ckpt_accept_fn accept, void *ctx,
                   sntk_model_t *md, sntk_ckpt_meta_t *meta, sntk_series_set_t *hist, int *damaged);

/* Not collective. The series of checkpoint `path` (data included), read by this process alone
 * (for `softntk inspect`); *step receives its step. SNTK_ERR_INPUT when it cannot be read. */
int sntk_ckpt_history(const char *path, int64_t *step, sntk_series_set_t *hist);

void sntk_ckpt_meta_free(sntk_ckpt_meta_t *meta);

/* Collective. Load the model's W and a from checkpoint `which` of a run: a path, or "auto" for the
 * newest checkpoint in `dir` that validates (a damaged one is reported and an older one tried; a
 * refusal by `accept` is final). *step receives the checkpoint's step and `used` (len bytes) its
 * path. SNTK_ERR_INPUT when the file is damaged or refused, or when `dir` holds no valid
 * checkpoint. */
int sntk_ckpt_load(MPI_Comm comm, const char *dir, const char *which, sntk_ckpt_accept_fn accept,
                   void *ctx, sntk_model_t *md, int64_t *step, char *used, size_t len);

/* Not collective. Steps of the complete checkpoints (ckpt-<step>.h5) in dir, newest first. *steps
 * is allocated (caller frees); a missing directory gives zero checkpoints. */
int sntk_ckpt_list(const char *dir, int64_t **steps, int *count);

/* Not collective. The checkpoint directory of a run: cfg_dir if absolute, else run_dir/cfg_dir. */
void sntk_ckpt_dir(const char *run_dir, const char *cfg_dir, char *out, size_t len);

/* Not collective. Path of the checkpoint of `step` in dir. */
void sntk_ckpt_path(const char *dir, int64_t step, char *out, size_t len);

/* Not collective. Remove leftover ckpt-*.h5.partial files (from a crash during a write) and
 * sidecars without their checkpoint; with `all`, also every complete checkpoint and its sidecar.
 * Returns the number of checkpoint files removed. */
int sntk_ckpt_clean(const char *dir, int all);

#endif
