/* Fresh start or restart of `softntk train`: choose the checkpoint (--restart auto|PATH|none),
 * refuse one from an incompatible deck, restore the model, and bring results.h5 back to the
 * checkpoint's step, checked and if need be repaired against the series the checkpoint carries. */
#include "softntk/error.h"
#include "softntk/filesum.h"
#include "softntk/h5util.h"
#include "softntk/log.h"
#include "softntk/rundir.h"
#include "trainer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* SNTK_ERR_INPUT naming every trajectory-defining key that differs; notes other differences. */
static int check_compatible(const char *path, const sntk_ckpt_meta_t *meta, void *ctx) {
  const trainer_t *tr = ctx;
  char diff[2048] = "", a[SNTK_STR], b[SNTK_STR];
  int same = sntk_config_same_trajectory(tr->setup->config.sections, meta->config,
                                         tr->setup->config.text, diff, sizeof diff);
  if (same && strcmp(meta->data_hash, tr->data_hash) != 0) {
    same = 0;
    snprintf(diff, sizeof diff, "the training data differ (data hash %s there, %s here)",
             meta->data_hash, tr->data_hash);
  }
  if (!same)
    return sntk_error(SNTK_ERR_INPUT,
                      "checkpoint %s belongs to a different run: %s. Use the deck it was written "
                      "with, another run.name, or --restart none with run.overwrite = true",
                      path, diff);
  static const char *const notable[][2] = {{"train", "eta"}, {"train", "chunk"}, {NULL, NULL}};
  for (int i = 0; notable[i][0]; i++) {
    sntk_config_text_value(meta->config, notable[i][0], notable[i][1], a, sizeof a);
    sntk_config_text_value(tr->setup->config.text, notable[i][0], notable[i][1], b, sizeof b);
    if (strcmp(a, b) != 0)
      sntk_warn("%s.%s = %s differs from the checkpoint's deck (%s): the continuation will not "
                "match an uninterrupted run",
                notable[i][0], notable[i][1], b, a);
  }
  return SNTK_OK;
}

static int exists(const char *path) {
  return access(path, F_OK) == 0;
}

/* Collective: a fresh results file with header and the /train series. */
static int new_results(trainer_t *tr) {
  SNTK_CALL(sntk_results_create(tr->ctx->comm, tr->results_path, tr->pb->command,
                                tr->setup->config.text, tr->setup->config.hash, &tr->res));
  SNTK_CALL(sntk_trainer_results_header(tr));
  return sntk_results_series(tr->res, "/train", NCOLS, sntk_train_cols, &tr->series);
}

/* Collective: the NTK tracker's and the problem's own series, in a new or resumed file. */
static int open_problem(trainer_t *tr, int64_t start_step) {
  SNTK_CALL(sntk_ntk_tracker_open(tr->trk, tr->res));
  return tr->pb->open ? tr->pb->open(tr->pb->self, tr->res, start_step) : SNTK_OK;
}

/* Collective: start from step 0 in a directory that holds no earlier run (or may be overwritten).
 */
/* Rank 0: a results file torn while it was being created: empty, or an HDF5 signature that HDF5
 * cannot open (nothing in it can be recovered). */
static int torn_at_creation(const char *path) {
  static const unsigned char sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
  unsigned char head[8] = {0};
  FILE *fp = fopen(path, "rb");
  if (!fp) return 0;
  size_t n = fread(head, 1, sizeof head, fp);
  fclose(fp);
  if (n == 0) return 1;
  if (n < sizeof head || memcmp(head, sig, sizeof sig) != 0) return 0;
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f >= 0) H5Fclose(f);
  H5Eclear2(H5E_DEFAULT);
  return f < 0;
}

/* Rank 0: is the results file one that an earlier attempt of this very run (same resolved config,
 * not finished) wrote before it was killed, ahead of its first checkpoint, or one torn while it was
 * created? Starting over loses nothing. */
static int same_run_without_checkpoint(const trainer_t *tr) {
  int same = 0;
  if (torn_at_creation(tr->results_path)) return 1;
  hid_t f = H5Fopen(tr->results_path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f >= 0) {
    char *hash = NULL;
    if (sntk_h5_attr_read_str(f, "config_hash", &hash) == 0)
      same = !strcmp(hash, tr->setup->config.hash);
    free(hash);
    if (H5Aexists(f, "steps_done") > 0) same = 0; /* that run finished: its results stay */
    H5Fclose(f);
  }
  H5Eclear2(H5E_DEFAULT);
  return same;
}

static int begin_fresh(trainer_t *tr, int n_ckpt) {
  int err = SNTK_OK;
  if (tr->ctx->rank == 0) {
    int has_results = exists(tr->results_path);
    if (has_results && !n_ckpt && !tr->setup->run->overwrite && same_run_without_checkpoint(tr)) {
      sntk_log("%s was written (or torn) by an earlier attempt of this run that stopped before its "
               "first checkpoint: starting over",
               tr->results_path);
    } else if ((has_results || n_ckpt) && !tr->setup->run->overwrite)
      err =
          sntk_error(SNTK_ERR_INPUT,
                     "%s already holds %s%s%s: continue it with --restart auto%s, or set "
                     "run.overwrite = true to start over, or choose another run.name",
                     tr->dir, has_results ? "results.h5" : "", has_results && n_ckpt ? " and " : "",
                     n_ckpt ? "checkpoints" : "", n_ckpt ? "" : " (it has no checkpoint)");
    else if (n_ckpt)
      sntk_log("removed %d checkpoint(s) of the earlier run (run.overwrite = true)",
               sntk_ckpt_clean(tr->ckpt_dir, 1));
  }
  SNTK_CALL(sntk_agree(tr->ctx->comm, err));
  SNTK_CALL(new_results(tr));
  return open_problem(tr, 0);
}

/* Collective: results.h5 brought back to the checkpoint's step (repaired or rebuilt from the
 * checkpoint's series when it disagrees with them). */
static int restore_results(trainer_t *tr, int64_t step, const sntk_series_set_t *hist) {
  int rebuilt = 0;
  SNTK_CALL(sntk_results_resume(tr->ctx->comm, tr->results_path, tr->pb->command,
                                tr->setup->config.text, tr->setup->config.hash, step, hist,
                                &rebuilt, &tr->res));
  if (rebuilt) SNTK_CALL(sntk_trainer_results_header(tr));
  SNTK_CALL(sntk_results_series(tr->res, "/train", NCOLS, sntk_train_cols, &tr->series));
  SNTK_CALL(sntk_results_flush(tr->res)); /* a rebuilt file receives the series here */
  SNTK_CALL(sntk_results_attr_str(tr->res, "config", tr->setup->config.text));
  SNTK_CALL(sntk_results_attr_str(tr->res, "config_hash", tr->setup->config.hash));
  SNTK_CALL(sntk_results_attr_i64(tr->res, "mpi_size", tr->ctx->size));
  SNTK_CALL(sntk_results_attr_i64(tr->res, "resumed_at_step", step));
  SNTK_CALL(open_problem(tr, step));
  return sntk_results_flush(tr->res);
}

/* Rank 0: value `row` of /train/<name> in the checkpoint's series (row < 0: the last), or NaN. */
static double train_value(const sntk_series_set_t *h, const char *name, int64_t row) {
  const sntk_series_col_t *c = sntk_series_set_find(h, "/train", name);
  if (!c || c->width != 0 || c->rows == 0 || !c->data) return NAN;
  return c->data[row < 0 ? c->rows - 1 : row];
}

/* Collective: try one checkpoint. *usable = 0 when the file is damaged (message set). */
static int try_checkpoint(trainer_t *tr, const char *path, int *usable) {
  sntk_ckpt_meta_t meta;
  sntk_series_set_t h;
  int damaged;
  *usable = 0;
  int err = sntk_ckpt_read(tr->ctx->comm, path, check_compatible, tr, tr->md, &meta, &h, &damaged);
  if (err == SNTK_ERR_INPUT && damaged) return SNTK_OK;
  SNTK_CALL(err);
  *usable = 1;
  tr->start_step = meta.step;
  /* the run's learning rate: a number in the deck wins (a change is warned about above); auto keeps
   * the checkpoint's (NaN when the checkpoint predates the record: resolved again) */
  if (!sntk_train_eta_fixed(tr->setup->train, &tr->eta)) tr->eta = meta.eta;
  double known[2] = {train_value(&h, "loss", 0),
                     meta.step > 0 ? train_value(&h, "wall_time", -1) : 0.0};
  err = SNTK_MPI(MPI_Bcast(known, 2, MPI_DOUBLE, 0, tr->ctx->comm));
  tr->loss0 = known[0];
  tr->wall_offset = isfinite(known[1]) ? known[1] : 0.0;
  if (!err)
    sntk_log("resuming from %s: step %lld, written by softntk %s on %lld rank(s)", path,
             (long long)meta.step, meta.version, (long long)meta.mpi_size);
  sntk_ckpt_meta_free(&meta);
  if (!err) err = restore_results(tr, tr->start_step, &h);
  sntk_series_set_free(&h);
  return err;
}

/* Collective: the newest valid checkpoint, falling back to older ones. */
static int begin_auto(trainer_t *tr, const int64_t *steps, int n) {
  char path[4400], why[2048] = "";
  for (int i = 0; i < n; i++) {
    int usable;
    sntk_ckpt_path(tr->ckpt_dir, steps[i], path, sizeof path);
    SNTK_CALL(try_checkpoint(tr, path, &usable));
    if (usable) return SNTK_OK;
    snprintf(why, sizeof why, "%s", sntk_error_message());
    /* Keep the damaged file for inspection, out of the way of later restarts. */
    char aside[4500], sum[4600], sum_aside[4700];
    snprintf(aside, sizeof aside, "%s.invalid", path);
    sntk_filesum_sidecar(path, sum, sizeof sum);
    sntk_filesum_sidecar(aside, sum_aside, sizeof sum_aside);
    if (tr->ctx->rank == 0) rename(sum, sum_aside); /* its sidecar goes along, if any */
    if (tr->ctx->rank == 0 && rename(path, aside) == 0)
      sntk_warn("%s; kept as %s; %s", why, aside,
                i + 1 < n ? "trying the previous checkpoint" : "no older checkpoint");
    else
      sntk_warn("%s; %s", why,
                i + 1 < n ? "trying the previous checkpoint" : "no older checkpoint");
  }
  return sntk_error(SNTK_ERR_INPUT,
                    "none of the %d checkpoint(s) in %s validates (newest problem: %s); remove "
                    "them or run with --restart none and run.overwrite = true to start over",
                    n, tr->ckpt_dir, why);
}

int sntk_trainer_begin(trainer_t *tr, const char *restart) {
  const sntk_train_setup_t *su = tr->setup;
  MPI_Comm comm = tr->ctx->comm;
  char logp[4300];
  SNTK_CALL(sntk_rundir_prepare(comm, su->run->output_dir, su->run->name, tr->dir, sizeof tr->dir));
  sntk_ckpt_dir(tr->dir, su->ckpt->dir, tr->ckpt_dir, sizeof tr->ckpt_dir);
  snprintf(tr->results_path, sizeof tr->results_path, "%s/results.h5", tr->dir);
  snprintf(logp, sizeof logp, "%s/log.txt", tr->dir);
  SNTK_CALL(sntk_agree(comm, sntk_log_open_file(logp)));
  int64_t *steps = NULL;
  int n = 0, err = SNTK_OK;
  if (tr->ctx->rank == 0) {
    int removed = sntk_ckpt_clean(tr->ckpt_dir, 0);
    if (removed) sntk_log("removed %d incomplete checkpoint file(s) left by a crash", removed);
    err = sntk_ckpt_list(tr->ckpt_dir, &steps, &n);
  }
  SNTK_CALL(sntk_agree(comm, err));
  SNTK_CALL(SNTK_MPI(MPI_Bcast(&n, 1, MPI_INT, 0, comm)));
  if (tr->ctx->rank != 0) err = SNTK_ALLOC(steps, n);
  SNTK_CALL(sntk_agree(comm, err));
  err = SNTK_MPI(MPI_Bcast(steps, n, MPI_INT64_T, 0, comm));
  if (!err) {
    if (strcmp(restart, "none") == 0) {
      err = begin_fresh(tr, n);
    } else if (strcmp(restart, "auto") == 0) {
      err = n ? begin_auto(tr, steps, n) : begin_fresh(tr, 0);
    } else {
      int usable;
      err = try_checkpoint(tr, restart, &usable);
      if (!err && !usable) err = SNTK_ERR_INPUT; /* message already names the file and problem */
    }
  }
  free(steps);
  return err;
}
