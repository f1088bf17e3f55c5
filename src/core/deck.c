/* The deck: every module's section in one struct, loaded collectively and checked (see deck.h). */
#include "softntk/deck.h"

#include "softntk/error.h"
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

/* Keys whose values define the trajectory: a checkpoint written under other values is refused. */
static const char *const critical[][2] = {{"run", "seed"},
                                          {"data", "source"},
                                          {"data", "target"},
                                          {"data", "n"},
                                          {"data", "d"},
                                          {"data", "k"},
                                          {"data", "constant_coord"},
                                          {"data", "noise"},
                                          {"data", "teacher_width"},
                                          {"data", "file"},
                                          {"data", "x_dataset"},
                                          {"data", "y_dataset"},
                                          {"data", "seed"},
                                          {"model", "activation"},
                                          {"model", "width"},
                                          {"model", "sigma"},
                                          {"model", "output_scale"},
                                          {"model", "init"},
                                          {"diffusion", "target"},
                                          {"diffusion", "dim"},
                                          {"diffusion", "components"},
                                          {"diffusion", "layout"},
                                          {"diffusion", "radius"},
                                          {"diffusion", "width"},
                                          {"diffusion", "means"},
                                          {"diffusion", "weights"},
                                          {"diffusion", "file"},
                                          {"diffusion", "dataset"},
                                          {"diffusion", "t0"},
                                          {"diffusion", "T"},
                                          {"diffusion", "samples_train"},
                                          {"diffusion", "minibatch"},
                                          {"diffusion", "input_scale"},
                                          {"diffusion", "parametrisation"},
                                          {NULL, NULL}};

/* Value of section.key in a resolved config text; returns 0 (and "") when absent. */
static int config_value(const char *text, const char *section, const char *key, char *out,
                        size_t len) {
  char head[128], want[128];
  snprintf(head, sizeof head, "[%s]\n", section);
  snprintf(want, sizeof want, "\n%s = ", key);
  out[0] = '\0';
  const char *sec = strstr(text, head);
  if (!sec) return 0;
  const char *end = strstr(sec + 1, "\n[");
  const char *p = strstr(sec + strlen(head) - 1, want);
  if (!p || (end && p > end)) return 0;
  p += strlen(want);
  size_t n = strcspn(p, "\n");
  if (n >= len) n = len - 1;
  memcpy(out, p, n);
  out[n] = '\0';
  return 1;
}

/* section.key's value in text, or the key's default when the text predates the key. */
static void value_or_default(const char *text, const char *section, const char *key, char *out,
                             size_t len) {
  if (config_value(text, section, key, out, len)) return;
  for (const sntk_section_t *s = sntk_deck_sections; s->name; s++)
    for (const sntk_key_t *k = s->keys; strcmp(s->name, section) == 0 && k->name; k++)
      if (strcmp(k->name, key) == 0) snprintf(out, len, "%s", k->def);
}

/* Does a resolved config text hold section [name] (a line of its own)? */
static int has_section(const char *text, const char *name) {
  char head[128];
  snprintf(head, sizeof head, "\n[%s]\n", name);
  return strncmp(text, head + 1, strlen(head + 1)) == 0 || strstr(text, head) != NULL;
}

int sntk_deck_same_trajectory(const char *a, const char *b, char *diff, size_t len) {
  char va[SNTK_STR], vb[SNTK_STR];
  size_t used = 0;
  diff[0] = '\0';
  for (int i = 0; critical[i][0]; i++) {
    if (!has_section(a, critical[i][0]) || !has_section(b, critical[i][0])) continue;
    value_or_default(a, critical[i][0], critical[i][1], va, sizeof va);
    value_or_default(b, critical[i][0], critical[i][1], vb, sizeof vb);
    if (strcmp(va, vb) != 0 && used < len)
      used += (size_t)snprintf(diff + used, len - used, "%s%s.%s = %s there, %s here",
                               used ? "; " : "", critical[i][0], critical[i][1], va, vb);
  }
  return used == 0;
}

void sntk_deck_trajectory_hash(const char *text, char out[17]) {
  char buf[16384], v[SNTK_STR];
  size_t used = 0;
  buf[0] = '\0';
  for (int i = 0; critical[i][0] && used < sizeof buf; i++) {
    config_value(text, critical[i][0], critical[i][1], v, sizeof v);
    used += (size_t)snprintf(buf + used, sizeof buf - used, "%s.%s=%s\n", critical[i][0],
                             critical[i][1], v);
  }
  sntk_hash_hex(buf, out);
}

int sntk_deck_value(const char *text, const char *section, const char *key, char *out, size_t len) {
  config_value(text, section, key, out, len);
  return out[0] != '\0';
}
