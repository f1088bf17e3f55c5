/* softntk training: the [run] and [train] sections and the full-batch gradient-descent driver
 * behind `softntk train` (DESIGN.md sections 1, 3, 4). */
#ifndef SOFTNTK_TRAIN_H
#define SOFTNTK_TRAIN_H

#include "softntk/checkpoint.h"
#include "softntk/config.h"
#include "softntk/data.h"
#include "softntk/grid.h"
#include "softntk/model.h"
#include "softntk/ntk.h"

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

/* [run] section. Global. */
typedef struct sntk_run_cfg {
  char name[SNTK_STR];       /* run directory name below output_dir */
  char output_dir[SNTK_STR]; /* parent of run directories */
  int64_t seed;              /* master seed of every random stream */
  int overwrite;             /* replace an existing run directory's results */
  int lock;                  /* how the run directory is locked (sntk_lock_mode_t, runlock.h) */
  double lock_wait;          /* seconds to wait for leftover processes of a killed run */
  char seeds[SNTK_STR];      /* list of seeds run one after the other in one launch ("": none) */
} sntk_run_cfg_t;

#define SNTK_MAX_SEEDS 100000 /* values in run.seeds */

/* eta = auto: the power iteration stops when lambda_max moves by less than SNTK_ETA_POWER_RTOL
 * (the step is rounded to two digits anyway) or after SNTK_ETA_POWER_ITERS iterations. */
#define SNTK_ETA_POWER_ITERS 50
#define SNTK_ETA_POWER_RTOL  1e-3

/* [train] section. Global. */
typedef struct sntk_train_cfg {
  int64_t steps;      /* gradient-descent steps */
  char eta[SNTK_STR]; /* learning rate: "auto" or a positive number (see sntk_train_eta) */
  double eta_factor;  /* auto: eta = eta_factor / lambda_max(J J^T) at initialisation */
  double target_loss; /* stop once the loss is at or below this (0: never) */
  int64_t log_every;  /* progress line every this many steps */
  int64_t chunk;      /* samples per chunk (0: from memory) */
} sntk_train_cfg_t;

struct sntk_model;

/* Not collective. Is train.eta a number? Returns 1 and *eta when it is, 0 for "auto". */
int sntk_train_eta_fixed(const sntk_train_cfg_t *cfg, double *eta);

/* Collective. The learning rate of a run: train.eta when it is a number; for "auto",
 * eta_factor / lambda_max(J J^T) of the model at its current weights on ds (matrix-free power
 * iteration from the stream of `seed`), rounded down to two significant digits so that the
 * round-off of the rank count's sums does not show, and logged with lambda_max. `rule` (len bytes)
 * receives a description for results files. */
int sntk_train_resolve_eta(const sntk_train_cfg_t *cfg, struct sntk_model *model,
                           const sntk_dataset_t *ds, uint64_t seed, double *eta, char *rule,
                           size_t len);

extern const sntk_key_t sntk_run_keys[];
extern const sntk_key_t sntk_train_keys[];

struct sntk_ctx;
struct sntk_model;
struct sntk_results;

/* Per-invocation options of a run (command-line options that are not deck keys). */
typedef struct sntk_run_opts {
  const char *restart; /* "auto" (default): newest valid checkpoint if any; "none"; or a path */
  int restart_given;   /* --restart appeared on the command line */
} sntk_run_opts_t;

/* A training problem: where the gradient-descent loop takes its data from and what it adds to a
 * run. The loop itself (progress lines, checkpoints on steps, minutes, signals and budget, restarts
 * with their compatibility check and results truncation, the NTK tracker, /perf) is the same for
 * every problem: `softntk train` fits the [data] section, `softntk score` a diffusion model's
 * denoising regression. Every hook is collective and returns a status; NULL hooks are skipped. */
typedef struct sntk_problem {
  const char *command; /* `command` attribute of results.h5 and the banner: "train", "score" */
  void *self;          /* the problem's state, passed to every hook */
  /* Required. The training set of step 0 (the loop owns it afterwards): it fixes d and k, the NTK
   * tracker works on it, and its hash identifies the run's data in checkpoints. */
  int (*load)(void *self, MPI_Comm comm, sntk_dataset_t *ds);
  /* Banner line(s) describing the data (rank 0 prints; not collective). */
  void (*describe)(void *self, const sntk_dataset_t *ds);
  /* The set whose loss step t descends (NULL hook, or *batch = NULL: the step-0 set, full batch).
   * A minibatch problem regenerates its set from (seed, t): restarts stay bit-identical. */
  int (*batch)(void *self, int64_t step, const sntk_dataset_t **batch);
  /* Extra attributes and datasets of a new results file. */
  int (*header)(void *self, struct sntk_results *res);
  /* Declare the problem's series in a new or resumed results file; `start_step` is the first step
   * of this invocation (a resumed file holds the rows of the steps before it). */
  int (*open)(void *self, struct sntk_results *res, int64_t start_step);
  /* At W(t), after the loss row of step t is recorded (last = 1 at the final step). */
  int (*evaluate)(void *self, struct sntk_model *md, struct sntk_results *res, int64_t step,
                  int last);
  /* After the final step and checkpoint (not after an early stop); eta is the run's learning rate.
   */
  int (*finish)(void *self, struct sntk_model *md, struct sntk_results *res, double eta);
} sntk_problem_t;

/* What the training loop takes from a run's configuration: its own sections and the resolved text
 * (kept by results files and checkpoints, compared on restart by its trajectory keys). */
typedef struct sntk_train_setup {
  sntk_resolved_t config;
  const sntk_run_cfg_t *run;
  const sntk_train_cfg_t *train;
  const sntk_ckpt_cfg_t *ckpt;
  const sntk_model_cfg_t *model;
  const sntk_ntk_cfg_t *ntk;
  const sntk_parallel_cfg_t *parallel;
  int64_t data_seed; /* recorded as results.h5's data_seed */
  int store_data;    /* write the training set as /data/X and /data/Y */
} sntk_train_setup_t;

/* Collective. Refuse (SNTK_ERR_INPUT, agreed by the caller) a run whose n x d inputs and n x k
 * targets (replicated on every rank), model and gradient (chunk: train.chunk) need more memory per
 * rank than the node offers, before anything large is allocated. */
int sntk_train_check_memory(MPI_Comm comm, const sntk_model_cfg_t *mc, int64_t chunk, int64_t n,
                            int64_t d, int64_t k);

/* Collective. Run gradient descent on `problem`: model, loop with checkpoints, progress lines,
 * results.h5 in the run directory. Returns 0, SNTK_STOPPED (3) after a requested stop with a valid
 * checkpoint, or an agreed error code (message on every rank). */
int sntk_train_run(const struct sntk_ctx *ctx, const sntk_train_setup_t *setup,
                   const sntk_run_opts_t *opts, const sntk_problem_t *problem);

#endif
