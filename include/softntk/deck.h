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

/* Not collective. Do two resolved configs describe the same trajectory (run.seed, every [data] key
 * that defines the data, every [model] key, every [diffusion] key that defines the target or the
 * training triples)? Returns 1 when they do; else 0 with the differences listed in diff
 * ("model.width = 1024 there, 2048 here; ..."), `a` being "there" and `b` "here". A section that
 * one of the texts lacks entirely (written before the section existed) is not compared. */
int sntk_deck_same_trajectory(const char *a, const char *b, char *diff, size_t len);

/* Not collective. A hash (16 hex digits) of the trajectory-defining values of a resolved config:
 * equal for two configs that sntk_deck_same_trajectory accepts (all sections present). */
void sntk_deck_trajectory_hash(const char *text, char out[17]);

/* Not collective. The value of section.key in a resolved config text; 0 when absent. */
int sntk_deck_value(const char *text, const char *section, const char *key, char *out, size_t len);

/* Not collective. Print every section and key (the body of `softntk help train`). */
void sntk_deck_help(FILE *out);

#endif
