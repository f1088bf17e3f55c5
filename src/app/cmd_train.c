/* `softntk train`: the training loop (train.h) on the training set of the [data] section. */
#include "softntk/commands.h"
#include "softntk/error.h"
#include "softntk/log.h"

#include <stdio.h>

/* The data line of the banner: the problem's describe hook (self is the deck). */
static void describe_data(void *self, const sntk_dataset_t *ds) {
  static const char *src[] = {"sphere", "file"}, *tgt[] = {"teacher", "random labels"};
  const sntk_data_cfg_t *dc = &((const sntk_deck_t *)self)->data;
  const int sphere = dc->source == SNTK_SOURCE_SPHERE;
  char norms[96] = "";
  if (sphere && (dc->norm_min != 1.0 || dc->norm_max != 1.0))
    snprintf(norms, sizeof norms, ", norms uniform in [%g, %g]", dc->norm_min, dc->norm_max);
  sntk_log("  data : %s, n = %lld, d = %lld, k = %lld%s%s%s", src[dc->source], (long long)ds->n,
           (long long)ds->d, (long long)ds->k, sphere ? ", " : "", sphere ? tgt[dc->target] : "",
           norms);
}

/* The problem's load hook (self is the deck): the training set of the [data] section, refused
 * before it is generated when it would not fit. */
static int load_data(void *self, MPI_Comm comm, sntk_dataset_t *ds) {
  const sntk_deck_t *deck = self;
  const sntk_data_cfg_t *dc = &deck->data;
  if (dc->source == SNTK_SOURCE_SPHERE)
    SNTK_CALL(sntk_agree(
        comm, sntk_train_check_memory(comm, &deck->model, deck->train.chunk, dc->n, dc->d, dc->k)));
  return sntk_data_load(comm, dc, sntk_data_seed(dc, deck->run.seed), sntk_deck_data_mask(deck),
                        ds);
}

int sntk_train_main(const sntk_ctx_t *ctx, const sntk_deck_t *deck, const sntk_run_opts_t *opts) {
  const sntk_problem_t pb = {
      .command = "train", .self = (void *)deck, .load = load_data, .describe = describe_data};
  const sntk_train_setup_t su = sntk_deck_train_setup(deck);
  return sntk_train_run(ctx, &su, opts, &pb);
}
