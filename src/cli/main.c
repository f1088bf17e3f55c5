/* The softntk command line: `softntk <command> [deck.ini] [--section.key=value ...]`.
 * A thin dispatcher over the library; every rank runs it, only rank 0 prints. The process exit
 * status is the agreed status: 0 done, 1 runtime error, 2 usage or input error, 3 stopped early
 * with a valid checkpoint. */
#include "softntk/commands.h"
#include "softntk/blasinfo.h"
#include "softntk/deck.h"
#include "softntk/diffusion.h"
#include "softntk/error.h"
#include "softntk/grid.h"
#include "softntk/h5util.h"
#include "softntk/inspect.h"
#include "softntk/log.h"
#include "softntk/ntk.h"
#include "softntk/parallel.h"
#include "softntk/rundir.h"
#include "softntk/runlock.h"
#include "softntk/signals.h"
#include "softntk/train.h"
#include "softntk/version.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct command {
  const char *name;
  const char *summary;
  const char *usage;
  const char *details;
  int (*run)(const sntk_ctx_t *ctx, const sntk_deck_t *deck, const sntk_run_opts_t *opts);
  int (*run_file)(const sntk_ctx_t *ctx, const char *path); /* commands on a file, not a deck */
  int uses_deck;
  int writes_rundir; /* holds the run directory's lock for its whole life */
  int seeds;         /* run.seeds loops over this command */
} command_t;

static int inspect_main(const sntk_ctx_t *ctx, const char *path) {
  int err = ctx->rank == 0 ? sntk_inspect_file(path, stdout) : SNTK_OK;
  return sntk_agree(ctx->comm, err);
}

static const command_t commands[] = {
    {"train", "train a two-layer network by full-batch gradient descent",
     "softntk train [deck.ini] [--section.key=value ...] [--restart auto|none|PATH]",
     "Trains the network the deck describes (the built-in defaults when no deck is given) with "
     "its\n"
     "hidden neurons sharded across the MPI ranks, prints progress every train.log_every steps "
     "and\n"
     "writes results.h5, log.txt and checkpoints/ to <run.output_dir>/<run.name>/. Any key can be\n"
     "overridden on the command line as --section.key=value.\n"
     "\n"
     "Checkpoints: every checkpoint.every_steps steps, every checkpoint.every_minutes minutes, at\n"
     "the end of the run, on SIGUSR1 (and continue), on SIGUSR2 or SIGTERM (and stop, exit 3), "
     "and\n"
     "before checkpoint.max_hours runs out (stop, exit 3). Through mpirun or srun send SIGUSR2 to\n"
     "stop cleanly: mpirun answers SIGTERM by killing the ranks after a short grace period.\n"
     "--restart auto (default) continues from the newest checkpoint that validates (an older one\n"
     "if the newest is damaged) on any number of ranks, and starts fresh when there is none;\n"
     "--restart PATH continues from that file; --restart none starts over (run.overwrite = true\n"
     "is needed to replace an earlier run's files). A restart checks results.h5 against the\n"
     "series the checkpoint carries and rebuilds it when they disagree.\n"
     "The run directory is locked (softntk.lock) while the command runs: a second command there\n"
     "is refused, naming the first; leftover ranks of a killed launcher are waited for\n"
     "(run.lock_wait seconds).\n"
     "Exit status: 0 done, 1 runtime error (including divergence), 2 bad input, 3 stopped early\n"
     "with a valid checkpoint (run the same command again to continue).",
     sntk_train_main, NULL, 1, 1, 1},
    {"ntk", "the Neural Tangent Kernel of the network at initialisation, distributed",
     "softntk ntk [deck.ini] [--section.key=value ...] [--restart auto|PATH]",
     "Assembles the normalised NTK H = nu J J^T / gamma^2 (nk x nk) of the network the deck\n"
     "describes, block-cyclically on a BLACS process grid ([parallel] grid, nb), without forming\n"
     "the Jacobian; factors it (PDPOTRF: positive-definiteness certificate and log-determinant),\n"
     "computes its spectrum ([ntk] spectrum: full, values or extremes), compares it with the\n"
     "infinite-width H* ([ntk] limit), runs kernel regression on [ntk] holdout points and, with\n"
     "spectrum = full, predicts the loss curve of [train] steps at [train] eta. Each\n"
     "factorisation and eigen-solve prints an HPL-style scaled residual, PASSED or FAILED.\n"
     "The weights are those at initialisation; with --restart PATH they come from that\n"
     "checkpoint of the deck's run (refused when it belongs to another deck), with --restart\n"
     "auto from the run's newest valid checkpoint.\n"
     "Writes ntk.h5 and log.txt to <run.output_dir>/<run.name>/. A problem that does not fit in\n"
     "memory is refused before anything large is allocated.\n"
     "Exit status: 0 done, 1 runtime error or a FAILED check, 2 bad input (or too large).",
     sntk_ntk_main, NULL, 1, 1, 1},
    {"score", "learn a diffusion model's score function with the network (train and evaluate)",
     "softntk score [deck.ini] [--section.key=value ...] [--restart auto|none|PATH]",
     "Trains the network the deck's [model] section describes (inputs d + 2, outputs d) to\n"
     "predict x_0 from (x_t, t) under the forward Ornstein-Uhlenbeck process, for the [diffusion]\n"
     "target (a Gaussian mixture with exact score, or samples from an HDF5 file): full-batch\n"
     "gradient descent on N triples (x_0, t ~ U[t0, T], xi) drawn once, or minibatches drawn\n"
     "fresh each step from the seed. The training loop, progress lines, checkpoints, restarts,\n"
     "signals, wall-time budget and NTK tracking are those of softntk train.\n"
     "Every diffusion.eval_every steps the held-out score error E ||sigma_t^2 (s_net - s*)||^2\n"
     "(overall and per t-bin) goes to results.h5 /score, with the best step. At the end the run\n"
     "samples with the learned and the exact score (diffusion.sampler: reverse SDE or\n"
     "probability-flow ODE) and compares the samples with fresh target samples (sliced W2, MMD,\n"
     "mode coverage) in /samples; with diffusion.regression = true it also fits NTK kernel\n"
     "regression of x_0 (regression.h5).\n"
     "Exit status as softntk train: 0 done, 1 runtime error, 2 bad input, 3 stopped early.",
     sntk_score_main, NULL, 1, 1, 1},
    {"sample", "generate samples from a trained score network and evaluate them",
     "softntk sample [deck.ini] [--section.key=value ...] [--restart auto|PATH]",
     "Loads the network of a score run's checkpoint (--restart auto, the default: the newest\n"
     "valid one; or a path; a checkpoint of another deck is refused), generates\n"
     "diffusion.samples samples with diffusion.sampler in diffusion.sample_steps steps, with\n"
     "the learned score and (for a mixture) the exact score, and writes the samples, sliced W2,\n"
     "MMD and mode coverage against fresh target samples, and the metrics' noise floor to\n"
     "<run.output_dir>/<run.name>/samples.h5 (replaced only with run.overwrite = true).\n"
     "Exit status: 0 done, 1 runtime error, 2 bad input or no usable checkpoint.",
     sntk_sample_main, NULL, 1, 1, 1},
    {"bench", "time the training step, NTK Gram and eigen-solve against DGEMM and DSYRK",
     "softntk bench [deck.ini] [--bench.key=value ...]",
     "Times the training step ([bench] n, d, k, m, activation), the NTK Gram assembly (gram_n,\n"
     "gram_m) and a Cholesky factorisation and eigenvalue solve (eigen_n), each repeated\n"
     "[bench] reps times after a warm-up, and measures DGEMM and DSYRK on the same shapes in the\n"
     "same run: prints GFLOP/s per rank, the ratio to the BLAS rate, the BLAS library, core type\n"
     "and OPENBLAS_* settings in use, and the peak memory per rank against the prediction.\n"
     "Writes <run.output_dir>/<run.name>/bench.h5 (replaced on every run). The defaults are the\n"
     "shapes the README quotes; run on 1 and 2 ranks to measure the parallel speed-up.",
     sntk_bench_main, NULL, 1, 1, 0},
    {"inspect", "print and verify a checkpoint or results file", "softntk inspect FILE",
     "Prints the metadata of a softntk checkpoint or results file and reads every dataset whole,\n"
     "verifying its Fletcher32 checksum and the file's metadata checksums, and the whole file's\n"
     "CRC32C against its sidecar FILE.sum (checkpoints), which covers every byte. For a results\n"
     "file it checks that each series' steps increase strictly and that the series agree with\n"
     "the newest checkpoint of the run directory (a restart repairs a file that does not).\n"
     "Exit status: 0 valid, 1 invalid (damaged, truncated, inconsistent), 2 missing or not a\n"
     "softntk file.",
     NULL, inspect_main, 0, 0, 0},
    {NULL, NULL, NULL, NULL, NULL, NULL, 0, 0, 0}};

static const command_t *find_command(const char *name) {
  for (const command_t *c = commands; c->name; c++)
    if (strcmp(c->name, name) == 0) return c;
  return NULL;
}

static void usage(FILE *out) {
  fprintf(out, "softntk %s: over-parameterized softmax networks and their NTK, on MPI\n\n",
          sntk_version());
  fprintf(out, "usage: softntk <command> [deck.ini] [--section.key=value ...]\n"
               "       softntk help <command>\n       softntk --version\n\ncommands:\n");
  for (const command_t *c = commands; c->name; c++)
    fprintf(out, "  %-10s %s\n", c->name, c->summary);
  fprintf(out, "\nRun under MPI as: mpirun -np <ranks> softntk <command> ...\n");
}

static void command_help(const command_t *c, FILE *out) {
  fprintf(out, "usage: %s\n\n%s\n", c->usage, c->details);
  if (c->uses_deck) {
    fprintf(out, "\nDeck keys ([section] key  type (default)  help):\n");
    sntk_deck_help(out);
  }
}

static int unknown_command(const char *name) {
  int best = 1 << 30;
  const char *hint = NULL;
  for (const command_t *c = commands; c->name; c++) {
    int dist = sntk_edit_distance(name, c->name);
    if (dist < best && dist <= 3) best = dist, hint = c->name;
  }
  if (hint)
    return sntk_error(SNTK_ERR_INPUT, "unknown command '%s'; did you mean '%s'? (softntk --help)",
                      name, hint);
  return sntk_error(SNTK_ERR_INPUT, "unknown command '%s' (softntk --help lists them)", name);
}

static int is_override(const char *a) {
  const char *dot = strchr(a, '.'), *eq = strchr(a, '=');
  return strncmp(a, "--", 2) == 0 && dot && eq && dot < eq;
}

/* Split a command's arguments into one optional deck (or file) path, the overrides and options. */
static int parse_args(const command_t *c, int argc, char **argv, const char **deck, int *nover,
                      char **over, sntk_run_opts_t *opts) {
  *deck = NULL;
  *nover = 0;
  opts->restart = "auto";
  opts->restart_given = 0;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (c->uses_deck && strncmp(a, "--restart", 9) == 0 && (a[9] == '=' || a[9] == '\0')) {
      opts->restart_given = 1;
      if (a[9] == '=') {
        opts->restart = a + 10;
      } else if (i + 1 < argc) {
        opts->restart = argv[++i];
      } else {
        return sntk_error(SNTK_ERR_INPUT,
                          "--restart needs a value: auto, none or a checkpoint path");
      }
      if (!opts->restart[0])
        return sntk_error(SNTK_ERR_INPUT,
                          "--restart needs a value: auto, none or a checkpoint path");
    } else if (c->uses_deck && is_override(a)) {
      over[(*nover)++] = argv[i] + 2;
    } else if (a[0] == '-') {
      return sntk_error(SNTK_ERR_INPUT,
                        "%s: unknown option '%s' (overrides look like --section.key=value; see "
                        "softntk help %s)",
                        c->name, a, c->name);
    } else if (*deck) {
      return sntk_error(SNTK_ERR_INPUT, "%s: more than one deck given ('%s' and '%s')", c->name,
                        *deck, a);
    } else {
      *deck = a;
    }
  }
  return SNTK_OK;
}

/* A command that writes a run directory holds the directory's lock for its whole life, taken before
 * anything else runs (runlock.h). A run directory created here and left empty (the command failed
 * before writing anything) is removed again. */
static int run_locked(const sntk_ctx_t *ctx, const command_t *c, const sntk_deck_t *deck,
                      const sntk_run_opts_t *opts) {
  const sntk_run_cfg_t *rc = &deck->run;
  char trajectory[17];
  sntk_config_trajectory_hash(sntk_deck_sections, deck->text, trajectory);
  const sntk_runlock_opts_t lo = {c->name, deck->hash, trajectory, rc->lock, rc->lock_wait};
  sntk_runlock_t *lock = NULL;
  char dir[4096];
  struct stat st;
  snprintf(dir, sizeof dir, "%s/%s", rc->output_dir[0] ? rc->output_dir : ".", rc->name);
  const int existed = stat(dir, &st) == 0;
  int err = sntk_rundir_prepare(ctx->comm, rc->output_dir, rc->name, dir, sizeof dir);
  if (!err) err = sntk_runlock_acquire(ctx->comm, dir, &lo, &lock);
  if (!err) err = c->run(ctx, deck, opts);
  sntk_runlock_release(&lock);
  if (ctx->rank == 0 && !existed) rmdir(dir); /* fails, as it should, unless empty */
  return err;
}

/* The command, under the run directory's lock when it writes one. */
static int run_one(const sntk_ctx_t *ctx, const command_t *c, const sntk_deck_t *deck,
                   const sntk_run_opts_t *opts) {
  return c->writes_rundir ? run_locked(ctx, c, deck, opts) : c->run(ctx, deck, opts);
}

/* run.seeds: the command once per seed s, with run.seed = s in the run directory <name>-s<s>, in
 * this one launch (hundreds of small runs pay one MPI start-up). Stops at the first seed whose run
 * does not succeed and returns its status. `over` has room for three more overrides. */
static int run_seeds(const sntk_ctx_t *ctx, const command_t *c, const sntk_deck_t *deck,
                     const char *path, int nover, char **over, const sntk_run_opts_t *opts) {
  int64_t *seeds = NULL, count = 0;
  char why[256], seed_ov[64], name_ov[SNTK_STR + 32];
  if (!c->seeds)
    return sntk_error(SNTK_ERR_INPUT, "run.seeds is not supported by softntk %s", c->name);
  if (sntk_int_list(deck->run.seeds, 0, 9000000000000000LL, SNTK_MAX_SEEDS, &seeds, &count, why,
                    sizeof why))
    return sntk_error(SNTK_ERR_INPUT, "run.seeds = '%s': %s", deck->run.seeds, why);
  int err = SNTK_OK;
  for (int64_t i = 0; i < count && !err; i++) {
    snprintf(seed_ov, sizeof seed_ov, "run.seed=%lld", (long long)seeds[i]);
    snprintf(name_ov, sizeof name_ov, "run.name=%s-s%lld", deck->run.name, (long long)seeds[i]);
    over[nover] = seed_ov;
    over[nover + 1] = name_ov;
    over[nover + 2] = "run.seeds=";
    sntk_deck_t one;
    err = sntk_deck_load(ctx->comm, path, nover + 3, over, &one);
    if (!err) {
      sntk_log("softntk %s: seed %lld of %lld (run.seed = %lld, run.name = %s)", c->name,
               (long long)(i + 1), (long long)count, (long long)seeds[i], one.run.name);
      err = run_one(ctx, c, &one, opts);
      if (err && err != SNTK_STOPPED)
        sntk_log("softntk %s: run.seed = %lld failed; the seeds after it were not run", c->name,
                 (long long)seeds[i]);
    }
    sntk_deck_free(&one);
  }
  free(seeds);
  return err;
}

static int run_command(const sntk_ctx_t *ctx, const command_t *c, int argc, char **argv) {
  const char *path;
  int nover, err;
  sntk_run_opts_t opts;
  char **over = calloc((size_t)argc + 4, sizeof *over);
  if (!over) return sntk_error(SNTK_ERR_RUNTIME, "out of memory");
  err = sntk_agree(ctx->comm, parse_args(c, argc, argv, &path, &nover, over, &opts));
  if (!err && c->run_file) {
    err = path ? c->run_file(ctx, path)
               : sntk_error(SNTK_ERR_INPUT, "%s needs a file (usage: %s)", c->name, c->usage);
  } else if (!err) {
    sntk_deck_t deck;
    err = sntk_deck_load(ctx->comm, path, nover, over, &deck);
    if (!err && deck.run.seeds[0])
      err = run_seeds(ctx, c, &deck, path, nover, over, &opts);
    else if (!err)
      err = run_one(ctx, c, &deck, &opts);
    sntk_deck_free(&deck);
  }
  free(over);
  return err;
}

static int dispatch(const sntk_ctx_t *ctx, int argc, char **argv) {
  const int root = ctx->rank == 0;
  if (argc < 2) return sntk_error(SNTK_ERR_INPUT, "no command given");
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    if (root) usage(stdout);
    return SNTK_OK;
  }
  if (strcmp(argv[1], "--version") == 0) {
    if (root) printf("softntk %s\nBLAS: %s\n", sntk_version(), sntk_blas_summary());
    return SNTK_OK;
  }
  if (strcmp(argv[1], "help") == 0) {
    if (argc < 3) {
      if (root) usage(stdout);
      return SNTK_OK;
    }
    const command_t *c = find_command(argv[2]);
    if (!c) return unknown_command(argv[2]);
    if (root) command_help(c, stdout);
    return SNTK_OK;
  }
  const command_t *c = find_command(argv[1]);
  if (!c) return unknown_command(argv[1]);
  for (int i = 2; i < argc; i++)
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      if (root) command_help(c, stdout);
      return SNTK_OK;
    }
  return run_command(ctx, c, argc - 2, argv + 2);
}

/* Keep freed memory in the process: with glibc's defaults every buffer of more than a few MiB is
 * mapped fresh and returned on free, so each run of a run.seeds loop pays its page faults and the
 * kernel's zeroing again (measured: 16 seeds of `softntk ntk` at m = 2^17, n = 32 on 2 ranks took
 * 71 s with the defaults and 23 s with these settings on a loaded 2-core machine). Buffers above
 * 32 MiB (the largest threshold glibc accepts) are still mapped per use. */
static void keep_freed_memory(void) {
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
}

int main(int argc, char **argv) {
  sntk_signals_install(); /* first: a stop request during start-up must not kill the rank */
  keep_freed_memory();
  MPI_Init(&argc, &argv);
  sntk_h5_quiet();
  sntk_ctx_t ctx;
  int err = sntk_ctx_create(MPI_COMM_WORLD, &ctx);
  sntk_log_init(MPI_COMM_WORLD);
  if (!err) err = dispatch(&ctx, argc, argv);
  if (err && err != SNTK_STOPPED && ctx.rank == 0) {
    fprintf(stderr, "softntk: error: %s\n", sntk_error_message());
    if (err == SNTK_ERR_RUNTIME && getenv("SOFTNTK_TRACE")) fputs(sntk_error_trace_text(), stderr);
    if (argc < 2) usage(stderr);
  }
  sntk_grid_finalize();
  sntk_ctx_destroy(&ctx);
  MPI_Finalize();
  return err;
}
