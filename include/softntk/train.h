/* softntk training: the [run] and [train] sections and the full-batch gradient-descent driver behind
 * `softntk train` (DESIGN.md sections 1, 3, 4). */
#ifndef SOFTNTK_TRAIN_H
#define SOFTNTK_TRAIN_H

#include "softntk/config.h"

#include <stdint.h>

/* [run] section. Global. */
typedef struct sntk_run_cfg {
  char name[SNTK_STR];       /* run directory name below output_dir */
  char output_dir[SNTK_STR]; /* parent of run directories */
  int64_t seed;              /* master seed of every random stream */
  int overwrite;             /* replace an existing run directory's results */
} sntk_run_cfg_t;

/* [train] section. Global. */
typedef struct sntk_train_cfg {
  int64_t steps;      /* gradient-descent steps */
  double eta;         /* learning rate */
  double target_loss; /* stop once the loss is at or below this (0: never) */
  int64_t log_every;  /* progress line every this many steps */
  int64_t chunk;      /* samples per chunk (0: from memory) */
} sntk_train_cfg_t;

extern const sntk_key_t sntk_run_keys[];
extern const sntk_key_t sntk_train_keys[];

struct sntk_deck;
struct sntk_ctx;

/* Per-invocation options of a run (command-line options that are not deck keys). */
typedef struct sntk_run_opts {
  const char *restart; /* "auto" (default): newest valid checkpoint if any; "none"; or a path */
  int restart_given;   /* --restart appeared on the command line */
} sntk_run_opts_t;

/* Collective. Run `softntk train` for a loaded deck: data, model, gradient descent with checkpoints,
 * progress lines, results.h5 in the run directory. Returns 0, SNTK_STOPPED (3) after a requested stop
 * with a valid checkpoint, or an agreed error code (message on every rank). */
int sntk_train_main(const struct sntk_ctx *ctx, const struct sntk_deck *deck,
                    const sntk_run_opts_t *opts);

#endif
