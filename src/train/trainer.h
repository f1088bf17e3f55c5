/* Internal state of `softntk train` shared by the loop (train.c) and the restart logic (restart.c).
 */
#ifndef SOFTNTK_TRAIN_TRAINER_H
#define SOFTNTK_TRAIN_TRAINER_H

#include "softntk/checkpoint.h"
#include "softntk/data.h"
#include "softntk/train.h"
#include "softntk/model.h"
#include "softntk/ntk.h"
#include "softntk/parallel.h"
#include "softntk/results.h"

enum { COL_STEP, COL_LOSS, COL_GRAD, COL_DRIFT, COL_TIME, NCOLS };

typedef struct trainer {
  const sntk_ctx_t *ctx;
  const sntk_train_setup_t *setup;
  const sntk_problem_t *pb; /* what is fitted: the [data] set, a diffusion model, ... */
  sntk_dataset_t ds;        /* the training set of step 0 */
  sntk_model_t *md;
  double *grad; /* local gradient block, m_loc x d */
  sntk_results_t *res;
  int series;              /* id of /train in res */
  sntk_ntk_tracker_t *trk; /* [ntk] every: NTK snapshots during training (NULL: off) */
  char dir[4096];          /* run directory */
  char ckpt_dir[5200];     /* checkpoint directory */
  char results_path[4200];
  char data_hash[17]; /* hash of X and Y */
  double loss0;       /* loss at step 0 (NaN until known; from the checkpoint when resumed) */
  int64_t start_step; /* first step of this invocation (0, or the checkpoint's step) */
  double wall_offset; /* wall_time already spent before this invocation (resumed runs) */
  double eta;         /* the learning rate: train.eta, resolved once and kept by checkpoints */
} trainer_t;

extern const sntk_column_t sntk_train_cols[NCOLS];

/* Collective. Decide fresh start or restart per opts->restart and prepare the run directory, model
 * state, history and results file accordingly. */
int sntk_trainer_begin(trainer_t *tr, const char *restart);

/* Collective (as sntk_results_append). Append one /train row (rank 0's values count). */
int sntk_trainer_record(trainer_t *tr, const double *row);

/* Collective. Write results.h5's header (attributes, /data, the problem's header) into a new
 * results file. */
int sntk_trainer_results_header(trainer_t *tr);

#endif
