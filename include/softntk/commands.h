/* softntk commands: one driver per command of the CLI (src/app), each taking the loaded deck and
 * the invocation's options. Collective over ctx's communicator; they return 0, SNTK_STOPPED (3)
 * after a requested stop with a valid checkpoint, or an agreed error code (message on every rank).
 */
#ifndef SOFTNTK_COMMANDS_H
#define SOFTNTK_COMMANDS_H

#include "softntk/deck.h"
#include "softntk/parallel.h"
#include "softntk/train.h"

/* `softntk train`: gradient descent (sntk_train_run) on the training set of the [data] section. */
int sntk_train_main(const sntk_ctx_t *ctx, const sntk_deck_t *deck, const sntk_run_opts_t *opts);

/* `softntk ntk`: the NTK of the network the deck describes, at initialisation or at a checkpoint's
 * weights (--restart); writes <run dir>/ntk.h5. Exit status 1 when a check FAILED. */
int sntk_ntk_main(const sntk_ctx_t *ctx, const sntk_deck_t *deck, const sntk_run_opts_t *opts);

/* `softntk score`: train the network on the denoising regression of the [diffusion] target with
 * the training loop of `softntk train` (checkpoints, restarts, signals, NTK tracker), evaluate the
 * held-out score error into results.h5 /score every eval_every steps, and at the end sample with
 * the learned and the exact score into /samples (and with diffusion.regression the NTK kernel
 * regression into regression.h5). Exit status as `softntk train`. */
int sntk_score_main(const sntk_ctx_t *ctx, const sntk_deck_t *deck, const sntk_run_opts_t *opts);

/* `softntk sample`: the network of the run's checkpoint (--restart PATH, or the newest valid one),
 * samples with the configured sampler, metrics, into <run dir>/samples.h5. */
int sntk_sample_main(const sntk_ctx_t *ctx, const sntk_deck_t *deck, const sntk_run_opts_t *opts);

/* `softntk bench`: the benchmark the deck's [bench] section describes; prints the table (rank 0)
 * and writes <run dir>/bench.h5 (replaced on every run). */
int sntk_bench_main(const sntk_ctx_t *ctx, const sntk_deck_t *deck, const sntk_run_opts_t *opts);

#endif
