/* softntk deck: the whole configuration of a run, gathered from every module's section, loaded from
 * an INI file plus `--section.key=value` overrides, checked, and resolved to canonical text and a
 * hash. */
#ifndef SOFTNTK_DECK_H
#define SOFTNTK_DECK_H

#include "softntk/bench.h"
#include "softntk/checkpoint.h"
#include "softntk/config.h"
#include "softntk/data.h"
#include "softntk/diffusion.h"
#include "softntk/grid.h"
#include "softntk/model.h"
#include "softntk/ntk.h"
#include "softntk/train.h"

#include <mpi.h>
#include <stdio.h>

typedef struct sntk_deck {
  sntk_run_cfg_t run;
  sntk_data_cfg_t data;
  sntk_model_cfg_t model;
  sntk_train_cfg_t train;
  sntk_ckpt_cfg_t ckpt;
  sntk_ntk_cfg_t ntk;
  sntk_parallel_cfg_t parallel;
  sntk_diffusion_cfg_t diffusion;
  sntk_bench_cfg_t bench;
  sntk_config_t cfg;     /* the machinery bound to this struct (do not copy a deck) */
  char origin[SNTK_STR]; /* deck file, or "built-in default" */
  char *text;            /* resolved configuration text */
  char hash[17];         /* FNV-1a 64 of text, hex */
} sntk_deck_t;

extern const sntk_section_t sntk_deck_sections[];

/* Collective. Load the deck at `path` (NULL: built-in defaults) read by rank 0 and broadcast, apply
 * the overrides ("section.key=value", without the leading "--"), and run every module's checks for
 * `comm`'s size. SNTK_ERR_INPUT with a message naming the file, line, key or value on any problem.
 */
int sntk_deck_load(MPI_Comm comm, const char *path, int noverrides, char *const *overrides,
                   sntk_deck_t *deck);
void sntk_deck_free(sntk_deck_t *deck);

/* Not collective. Which of data.n, d, k the deck set explicitly (SNTK_DATA_SET_* mask). */
unsigned sntk_deck_data_mask(const sntk_deck_t *deck);

/* Not collective. sntk_config_same_trajectory over the deck's sections (the keys flagged
 * SNTK_KEY_TRAJECTORY in the tables: run.seed, the data, the model, the diffusion target and its
 * training triples). */
int sntk_deck_same_trajectory(const char *a, const char *b, char *diff, size_t len);

/* Not collective. The deck's resolved configuration (text, hash, origin, sections) as the services
 * below the application take it. */
sntk_resolved_t sntk_deck_resolved(const sntk_deck_t *deck);

/* Not collective. The sections of the deck the training loop takes (sntk_train_run). */
sntk_train_setup_t sntk_deck_train_setup(const sntk_deck_t *deck);

/* Collective. W of md from checkpoint `which` of the deck's run ("auto": the newest valid one; else
 * a path), refused unless it belongs to the deck's trajectory and to the training set `train`;
 * *step and path receive its step and file. With `need` (a sentence saying why a checkpoint is
 * required) a run without any checkpoint is an input error that says so. */
int sntk_deck_load_checkpoint(MPI_Comm comm, const sntk_deck_t *deck, const char *which,
                              const sntk_dataset_t *train, const char *need, sntk_model_t *md,
                              int64_t *step, char *path, size_t len);

/* Not collective. Print every section and key (the body of `softntk help train`). */
void sntk_deck_help(FILE *out);

#endif
