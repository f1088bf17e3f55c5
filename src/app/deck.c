/* The deck: every module's section in one struct, loaded collectively and checked (see deck.h). */
#include "softntk/deck.h"

#include "softntk/error.h"
#include "softntk/log.h"
#include "softntk/parallel.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

const sntk_section_t sntk_deck_sections[] = {
    {"run", sntk_run_keys, offsetof(sntk_deck_t, run), "the run: name, output directory, seed"},
    {"data", sntk_data_keys, offsetof(sntk_deck_t, data), "training data"},
    {"model", sntk_model_keys, offsetof(sntk_deck_t, model), "the two-layer network"},
    {"train", sntk_train_keys, offsetof(sntk_deck_t, train), "full-batch gradient descent"},
    {"checkpoint", sntk_ckpt_keys, offsetof(sntk_deck_t, ckpt),
     "checkpoints: when to write them, how many to keep, wall-time budget"},
    {"ntk", sntk_ntk_keys, offsetof(sntk_deck_t, ntk), "the Neural Tangent Kernel"},
    {"parallel", sntk_parallel_keys, offsetof(sntk_deck_t, parallel),
     "process grid and memory of the distributed NTK"},
    {"diffusion", sntk_diffusion_keys, offsetof(sntk_deck_t, diffusion),
     "diffusion score estimation (softntk score, softntk sample)"},
    {"bench", sntk_bench_keys, offsetof(sntk_deck_t, bench), "shapes timed by softntk bench"},
    {NULL, NULL, 0, NULL}};

/* Rank 0: read the whole deck file into a NUL-terminated buffer. */
static int read_text(const char *path, char **text, int64_t *len) {
  struct stat st;
  *text = NULL;
  if (stat(path, &st) != 0)
    return sntk_error(SNTK_ERR_INPUT, "deck file %s: %s", path, strerror(errno));
  if (!S_ISREG(st.st_mode))
    return sntk_error(SNTK_ERR_INPUT, "deck file %s is not a regular file", path);
  if (st.st_size > (1 << 24))
    return sntk_error(SNTK_ERR_INPUT, "deck file %s is %lld bytes: too large for a deck", path,
                      (long long)st.st_size);
  FILE *f = fopen(path, "rb");
  if (!f) return sntk_error(SNTK_ERR_INPUT, "deck file %s: %s", path, strerror(errno));
  int err = SNTK_ALLOC(*text, st.st_size + 1);
  if (!err && (int64_t)fread(*text, 1, (size_t)st.st_size, f) != (int64_t)st.st_size)
    err = sntk_error(SNTK_ERR_INPUT, "deck file %s: read failed", path);
  fclose(f);
  if (!err && memchr(*text, '\0', (size_t)st.st_size))
    err = sntk_error(SNTK_ERR_INPUT, "deck file %s contains NUL bytes: not a text deck", path);
  if (err) free(*text), *text = NULL;
  *len = st.st_size;
  return err;
}

/* Rank 0 reads, everyone receives the same text. */
static int share_text(MPI_Comm comm, const char *path, char **text) {
  int rank, err = SNTK_OK;
  int64_t len = 0;
  MPI_Comm_rank(comm, &rank);
  if (rank == 0) err = read_text(path, text, &len);
  SNTK_CALL(sntk_agree(comm, err));
  SNTK_CALL(SNTK_MPI(MPI_Bcast(&len, 1, MPI_INT64_T, 0, comm)));
  if (rank != 0) err = SNTK_ALLOC(*text, len + 1);
  SNTK_CALL(sntk_agree(comm, err));
  SNTK_CALL(sntk_bcast_bytes(*text, len, 0, comm));
  (*text)[len] = '\0';
  return SNTK_OK;
}

static int parse_all(sntk_deck_t *deck, const char *text, int nover, char *const *over,
                     int nranks) {
  SNTK_CALL(sntk_config_init(&deck->cfg, sntk_deck_sections, deck));
  if (text) SNTK_CALL(sntk_config_parse(&deck->cfg, text, deck->origin));
  for (int i = 0; i < nover; i++) SNTK_CALL(sntk_config_override(&deck->cfg, over[i]));
  SNTK_CALL(sntk_data_cfg_check(&deck->data));
  deck->model.reproducible = deck->parallel.reproducible; /* the model reads them from its cfg */
  deck->model.block = deck->parallel.block;
  SNTK_CALL(sntk_model_cfg_check(&deck->model, nranks));
  SNTK_CALL(sntk_parallel_cfg_check(&deck->parallel, nranks));
  double gamma, nu;
  SNTK_CALL(sntk_model_scale(deck->model.activation, deck->model.output_scale, deck->model.width,
                             &gamma, &nu));
  deck->text = sntk_config_format(&deck->cfg);
  if (!deck->text) return sntk_error(SNTK_ERR_RUNTIME, "out of memory formatting the config");
  sntk_hash_hex(deck->text, deck->hash);
  return SNTK_OK;
}

int sntk_deck_load(MPI_Comm comm, const char *path, int noverrides, char *const *overrides,
                   sntk_deck_t *deck) {
  char *text = NULL;
  int size, err = SNTK_OK;
  MPI_Comm_size(comm, &size);
  memset(deck, 0, sizeof *deck);
  snprintf(deck->origin, sizeof deck->origin, "%s", path ? path : "built-in default");
  if (path) SNTK_CALL(share_text(comm, path, &text));
  /* Every rank parses the same text and overrides, so every rank reaches the same verdict; the
   * agreement is a safety net, not a message exchange. */
  err = sntk_agree(comm, parse_all(deck, text, noverrides, overrides, size));
  free(text);
  if (err) sntk_deck_free(deck);
  return err;
}

void sntk_deck_free(sntk_deck_t *deck) {
  free(deck->text);
  deck->text = NULL;
}

unsigned sntk_deck_data_mask(const sntk_deck_t *deck) {
  unsigned mask = 0;
  if (sntk_config_is_set(&deck->cfg, "data", "n")) mask |= SNTK_DATA_SET_N;
  if (sntk_config_is_set(&deck->cfg, "data", "d")) mask |= SNTK_DATA_SET_D;
  if (sntk_config_is_set(&deck->cfg, "data", "k")) mask |= SNTK_DATA_SET_K;
  return mask;
}

void sntk_deck_help(FILE *out) {
  sntk_config_help(sntk_deck_sections, out);
}

int sntk_deck_same_trajectory(const char *a, const char *b, char *diff, size_t len) {
  return sntk_config_same_trajectory(sntk_deck_sections, a, b, diff, len);
}

sntk_resolved_t sntk_deck_resolved(const sntk_deck_t *deck) {
  sntk_resolved_t r = {deck->text, deck->hash, deck->origin, sntk_deck_sections};
  return r;
}

sntk_train_setup_t sntk_deck_train_setup(const sntk_deck_t *deck) {
  sntk_train_setup_t su = {sntk_deck_resolved(deck),
                           &deck->run,
                           &deck->train,
                           &deck->ckpt,
                           &deck->model,
                           &deck->ntk,
                           &deck->parallel,
                           (int64_t)sntk_data_seed(&deck->data, deck->run.seed),
                           deck->data.store};
  return su;
}

typedef struct deck_accept {
  const sntk_deck_t *deck;
  const char *data_hash;
} deck_accept_t;

/* sntk_ckpt_read's accept hook: the checkpoint belongs to the deck's trajectory and data. */
static int accept_checkpoint(const char *path, const sntk_ckpt_meta_t *meta, void *ctx) {
  const deck_accept_t *ac = ctx;
  char diff[2048];
  if (!sntk_deck_same_trajectory(meta->config, ac->deck->text, diff, sizeof diff))
    return sntk_error(SNTK_ERR_INPUT, "checkpoint %s belongs to a different run: %s", path, diff);
  if (strcmp(meta->data_hash, ac->data_hash) != 0)
    return sntk_error(SNTK_ERR_INPUT,
                      "checkpoint %s was trained on other data (data hash %s, here %s): it is not "
                      "a checkpoint of this deck",
                      path, meta->data_hash, ac->data_hash);
  return SNTK_OK;
}

/* Collective: does dir hold at least one complete checkpoint? */
static int any_checkpoint(MPI_Comm comm, const char *dir, int *any) {
  int rank, err = SNTK_OK, n = 0;
  int64_t *steps = NULL;
  MPI_Comm_rank(comm, &rank);
  if (rank == 0) err = sntk_ckpt_list(dir, &steps, &n);
  free(steps);
  SNTK_CALL(sntk_agree(comm, err));
  SNTK_CALL(SNTK_MPI(MPI_Bcast(&n, 1, MPI_INT, 0, comm)));
  *any = n > 0;
  return SNTK_OK;
}

int sntk_deck_load_checkpoint(MPI_Comm comm, const sntk_deck_t *deck, const char *which,
                              const sntk_dataset_t *train, const char *need, sntk_model_t *md,
                              int64_t *step, char *path, size_t len) {
  char run_dir[4096], ckdir[5200], hash[17];
  int any = 1;
  sntk_data_hash(train, hash);
  deck_accept_t ac = {deck, hash};
  snprintf(run_dir, sizeof run_dir, "%s/%s", deck->run.output_dir[0] ? deck->run.output_dir : ".",
           deck->run.name);
  sntk_ckpt_dir(run_dir, deck->ckpt.dir, ckdir, sizeof ckdir);
  if (need && strcmp(which, "auto") == 0) SNTK_CALL(any_checkpoint(comm, ckdir, &any));
  if (!any) return sntk_error(SNTK_ERR_INPUT, "%s but %s holds no checkpoint", need, ckdir);
  SNTK_CALL(sntk_ckpt_load(comm, ckdir, which, accept_checkpoint, &ac, md, step, path, len));
  sntk_log("weights from %s (step %lld)", path, (long long)*step);
  return SNTK_OK;
}
