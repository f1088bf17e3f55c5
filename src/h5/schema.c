/* The declared layout of every softntk output file (schema.h). One row per group, dataset and
 * attribute; the results writers, `softntk inspect` and the README's schema section
 * (scripts/schema_doc.py) all read this table. */
#include "softntk/schema.h"

#include "softntk/error.h"

#include <ctype.h>
#include <string.h>

static const sntk_schema_entry_t entries[] = {
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_SAMPLES, "/@activation", SNTK_SCHEMA_ATTR,
     SNTK_SCHEMA_STR, "scalar", NULL, "activation of the network", "ntk, sample, score, train", 0,
     NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_SAMPLES | SNTK_SCHEMA_REGRESSION |
         SNTK_SCHEMA_BENCH,
     "/@blas", SNTK_SCHEMA_ATTR, SNTK_SCHEMA_STR, "scalar", NULL, "BLAS library in use",
     "bench, ntk, sample, score, train", 0, NULL},
    {SNTK_SCHEMA_BENCH, "/@blas_config", SNTK_SCHEMA_ATTR, SNTK_SCHEMA_STR, "scalar", NULL,
     "BLAS build configuration", "bench", 0, NULL},
    {SNTK_SCHEMA_BENCH, "/@blas_core", SNTK_SCHEMA_ATTR, SNTK_SCHEMA_STR, "scalar", NULL,
     "CPU core type the BLAS selected", "bench", 0, NULL},
    {SNTK_SCHEMA_SAMPLES, "/@checkpoint", SNTK_SCHEMA_ATTR, SNTK_SCHEMA_STR, "scalar", NULL,
     "checkpoint the samples were drawn from", "sample", 0, NULL},
    {SNTK_SCHEMA_NTK | SNTK_SCHEMA_REGRESSION, "/@checks", SNTK_SCHEMA_ATTR, SNTK_SCHEMA_I64,
     "scalar", NULL, "built-in consistency checks run", "ntk, score", 0, NULL},
    {SNTK_SCHEMA_NTK | SNTK_SCHEMA_REGRESSION, "/@checks_failed", SNTK_SCHEMA_ATTR, SNTK_SCHEMA_I64,
     "scalar", NULL, "built-in consistency checks failed", "ntk, score", 0, NULL},
    {SNTK_SCHEMA_RESULTS, "/@chunk", SNTK_SCHEMA_ATTR, SNTK_SCHEMA_I64, "scalar", NULL,
     "samples per block of the forward/backward pass", "score, train", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_SAMPLES | SNTK_SCHEMA_REGRESSION |
         SNTK_SCHEMA_BENCH,
     "/@command", SNTK_SCHEMA_ATTR, SNTK_SCHEMA_STR, "scalar", NULL,
     "the softntk command that wrote the file", "bench, ntk, sample, score, train", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_SAMPLES | SNTK_SCHEMA_REGRESSION |
         SNTK_SCHEMA_BENCH | SNTK_SCHEMA_CHECKPOINT,
     "/@config", SNTK_SCHEMA_ATTR, SNTK_SCHEMA_STR, "scalar", NULL,
     "the resolved configuration (canonical deck text)", "bench, ntk, sample, score, train", 1,
     NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_SAMPLES | SNTK_SCHEMA_REGRESSION |
         SNTK_SCHEMA_BENCH | SNTK_SCHEMA_CHECKPOINT,
     "/@config_hash", SNTK_SCHEMA_ATTR, SNTK_SCHEMA_STR, "scalar", NULL,
     "hash of the resolved configuration", "bench, ntk, sample, score, train", 1, NULL},
    {SNTK_SCHEMA_CHECKPOINT, "/@created", SNTK_SCHEMA_ATTR, SNTK_SCHEMA_STR, "scalar", NULL,
     "time the checkpoint was written (UTC, ISO 8601)", "score, train", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_SAMPLES | SNTK_SCHEMA_CHECKPOINT, "/@d",
     SNTK_SCHEMA_ATTR, SNTK_SCHEMA_I64, "scalar", NULL, "input dimension",
     "ntk, sample, score, train", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_CHECKPOINT, "/@data_hash", SNTK_SCHEMA_ATTR, SNTK_SCHEMA_STR,
     "scalar", NULL, "hash of the training data", "score, train", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_SAMPLES, "/@data_seed", SNTK_SCHEMA_ATTR,
     SNTK_SCHEMA_I64, "scalar", NULL, "seed of the data streams", "ntk, sample, score, train", 0,
     NULL},
    {SNTK_SCHEMA_CHECKPOINT, "/@description", SNTK_SCHEMA_ATTR, SNTK_SCHEMA_STR, "scalar", NULL,
     "what the checkpoint holds", "score, train", 0, NULL},
    {SNTK_SCHEMA_RESULTS, "/@diffusion_target", SNTK_SCHEMA_ATTR, SNTK_SCHEMA_STR, "scalar", NULL,
     "target distribution of the diffusion", "score", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_REGRESSION | SNTK_SCHEMA_CHECKPOINT,
     "/@eta", SNTK_SCHEMA_ATTR, SNTK_SCHEMA_F64, "scalar", NULL, "learning rate in use",
     "ntk, score, train", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK, "/@eta_rule", SNTK_SCHEMA_ATTR, SNTK_SCHEMA_STR,
     "scalar", NULL, "how the learning rate was chosen", "ntk, score, train", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_SAMPLES, "/@neuron_block",
     SNTK_SCHEMA_ATTR, SNTK_SCHEMA_I64, "scalar", NULL,
     "neurons per canonical block of the reproducible mode (0: rank-local mode)",
     "ntk, sample, score, train", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_SAMPLES, "/@reproducible",
     SNTK_SCHEMA_ATTR, SNTK_SCHEMA_I64, "scalar", NULL,
     "1: the network's sums are bitwise independent of the rank count (parallel.reproducible)",
     "ntk, sample, score, train", 0, NULL},
    {SNTK_SCHEMA_RESULTS, "/@state_hash", SNTK_SCHEMA_ATTR, SNTK_SCHEMA_STR, "scalar", NULL,
     "verification hash of the final state: W and A by global neuron index and the /train/loss "
     "series (equal on every rank count in reproducible mode)",
     "score, train", 0, NULL},
    {SNTK_SCHEMA_RESULTS, "/@final_loss", SNTK_SCHEMA_ATTR, SNTK_SCHEMA_F64, "scalar", NULL,
     "training loss after the last step", "score, train", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_SAMPLES | SNTK_SCHEMA_REGRESSION |
         SNTK_SCHEMA_BENCH | SNTK_SCHEMA_CHECKPOINT,
     "/@format", SNTK_SCHEMA_ATTR, SNTK_SCHEMA_STR, "scalar", NULL,
     "file format: softntk-results or softntk-checkpoint", "bench, ntk, sample, score, train", 1,
     NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_SAMPLES | SNTK_SCHEMA_REGRESSION |
         SNTK_SCHEMA_BENCH | SNTK_SCHEMA_CHECKPOINT,
     "/@format_version", SNTK_SCHEMA_ATTR, SNTK_SCHEMA_I64, "scalar", NULL,
     "version of the file format", "bench, ntk, sample, score, train", 1, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_SAMPLES, "/@gamma", SNTK_SCHEMA_ATTR,
     SNTK_SCHEMA_F64, "scalar", NULL, "output normalisation gamma", "ntk, sample, score, train", 0,
     NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_SAMPLES | SNTK_SCHEMA_CHECKPOINT, "/@k",
     SNTK_SCHEMA_ATTR, SNTK_SCHEMA_I64, "scalar", NULL, "output dimension",
     "ntk, sample, score, train", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_SAMPLES | SNTK_SCHEMA_REGRESSION |
         SNTK_SCHEMA_CHECKPOINT,
     "/@m", SNTK_SCHEMA_ATTR, SNTK_SCHEMA_I64, "scalar", NULL, "network width (neurons)",
     "ntk, sample, score, train", 0, NULL},
    {SNTK_SCHEMA_NTK, "/@memory_planned_per_rank", SNTK_SCHEMA_ATTR, SNTK_SCHEMA_F64, "scalar",
     NULL, "planned peak memory per rank (bytes)", "ntk", 0, NULL},
    {SNTK_SCHEMA_RESULTS, "/@minibatch", SNTK_SCHEMA_ATTR, SNTK_SCHEMA_I64, "scalar", NULL,
     "samples per gradient step (0: full batch)", "score", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_SAMPLES | SNTK_SCHEMA_REGRESSION |
         SNTK_SCHEMA_BENCH | SNTK_SCHEMA_CHECKPOINT,
     "/@mpi_size", SNTK_SCHEMA_ATTR, SNTK_SCHEMA_I64, "scalar", NULL, "MPI ranks of the run",
     "bench, ntk, sample, score, train", 1, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_SAMPLES, "/@n", SNTK_SCHEMA_ATTR,
     SNTK_SCHEMA_I64, "scalar", NULL, "training samples", "ntk, sample, score, train", 0, NULL},
    {SNTK_SCHEMA_NTK, "/@nb", SNTK_SCHEMA_ATTR, SNTK_SCHEMA_I64, "scalar", NULL,
     "ScaLAPACK block size", "ntk", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_SAMPLES, "/@nu", SNTK_SCHEMA_ATTR,
     SNTK_SCHEMA_F64, "scalar", NULL, "NTK normalisation nu", "ntk, sample, score, train", 0, NULL},
    {SNTK_SCHEMA_BENCH, "/@openblas_coretype", SNTK_SCHEMA_ATTR, SNTK_SCHEMA_STR, "scalar", NULL,
     "OPENBLAS_CORETYPE in the environment", "bench", 0, NULL},
    {SNTK_SCHEMA_NTK, "/@panel", SNTK_SCHEMA_ATTR, SNTK_SCHEMA_I64, "scalar", NULL,
     "rows of the Gram assembly panel", "ntk", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_SAMPLES, "/@perf_wall_time",
     SNTK_SCHEMA_ATTR, SNTK_SCHEMA_F64, "scalar", NULL, "wall-clock seconds the /perf table covers",
     "ntk, sample, score, train", 0, NULL},
    {SNTK_SCHEMA_NTK, "/@process_grid", SNTK_SCHEMA_ATTR, SNTK_SCHEMA_STR, "scalar", NULL,
     "BLACS process grid (rows x cols)", "ntk", 0, NULL},
    {SNTK_SCHEMA_RESULTS, "/@resumed_at_step", SNTK_SCHEMA_ATTR, SNTK_SCHEMA_I64, "scalar", NULL,
     "step the run was resumed from a checkpoint", "score, train", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_SAMPLES, "/@seed", SNTK_SCHEMA_ATTR,
     SNTK_SCHEMA_I64, "scalar", NULL, "master seed of the run", "ntk, sample, score, train", 0,
     NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_SAMPLES, "/@sigma", SNTK_SCHEMA_ATTR,
     SNTK_SCHEMA_F64, "scalar", NULL, "scale of the first-layer weights at initialisation",
     "ntk, sample, score, train", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_SAMPLES | SNTK_SCHEMA_REGRESSION |
         SNTK_SCHEMA_BENCH | SNTK_SCHEMA_CHECKPOINT,
     "/@softntk_version", SNTK_SCHEMA_ATTR, SNTK_SCHEMA_STR, "scalar", NULL,
     "softntk version that wrote the file", "bench, ntk, sample, score, train", 1, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_SAMPLES | SNTK_SCHEMA_REGRESSION |
         SNTK_SCHEMA_BENCH,
     "/@start_time", SNTK_SCHEMA_ATTR, SNTK_SCHEMA_STR, "scalar", NULL,
     "start of the command (UTC, ISO 8601)", "bench, ntk, sample, score, train", 0, NULL},
    {SNTK_SCHEMA_NTK | SNTK_SCHEMA_SAMPLES | SNTK_SCHEMA_CHECKPOINT, "/@step", SNTK_SCHEMA_ATTR,
     SNTK_SCHEMA_I64, "scalar", NULL, "training step of the weights used",
     "ntk, sample, score, train", 0, NULL},
    {SNTK_SCHEMA_RESULTS, "/@steps_done", SNTK_SCHEMA_ATTR, SNTK_SCHEMA_I64, "scalar", NULL,
     "gradient-descent steps completed", "score, train", 0, NULL},
    {SNTK_SCHEMA_REGRESSION, "/@targets", SNTK_SCHEMA_ATTR, SNTK_SCHEMA_STR, "scalar", NULL,
     "what the regression targets are", "score", 0, NULL},
    {SNTK_SCHEMA_REGRESSION, "/@trained_step", SNTK_SCHEMA_ATTR, SNTK_SCHEMA_I64, "scalar", NULL,
     "training step of the trained network compared with the kernel predictions", "score", 0, NULL},
    {SNTK_SCHEMA_NTK | SNTK_SCHEMA_REGRESSION, "/@wall_time", SNTK_SCHEMA_ATTR, SNTK_SCHEMA_F64,
     "scalar", NULL, "wall-clock seconds of the command", "ntk, score", 0, NULL},
    {SNTK_SCHEMA_CHECKPOINT, "/W", SNTK_SCHEMA_DATASET, SNTK_SCHEMA_F64, "m x d", NULL,
     "first-layer weights, one neuron per row", "train, score", 1, NULL},
    {SNTK_SCHEMA_CHECKPOINT, "/a", SNTK_SCHEMA_DATASET, SNTK_SCHEMA_F64, "m x k", NULL,
     "second-layer weights, one neuron per row", "train, score", 1, NULL},
    {SNTK_SCHEMA_BENCH, "/bench", SNTK_SCHEMA_GROUP, SNTK_SCHEMA_NONE, "", NULL, "timed parts",
     "bench", 0, NULL},
    {SNTK_SCHEMA_BENCH, "/bench/gflops_per_rank", SNTK_SCHEMA_DATASET, SNTK_SCHEMA_F64, "parts",
     "GFLOP/s", "floating-point rate per rank", "bench", 0, NULL},
    {SNTK_SCHEMA_BENCH, "/bench/memory_baseline", SNTK_SCHEMA_DATASET, SNTK_SCHEMA_F64,
     "memory_parts", "B", "resident memory before the part's allocations", "bench", 0, NULL},
    {SNTK_SCHEMA_BENCH, "/bench/memory_part", SNTK_SCHEMA_DATASET, SNTK_SCHEMA_STR, "memory_parts",
     NULL, "measured parts", "bench", 0, NULL},
    {SNTK_SCHEMA_BENCH, "/bench/memory_peak", SNTK_SCHEMA_DATASET, SNTK_SCHEMA_F64, "memory_parts",
     "B", "peak resident memory per rank (maximum over ranks)", "bench", 0, NULL},
    {SNTK_SCHEMA_BENCH, "/bench/memory_predicted", SNTK_SCHEMA_DATASET, SNTK_SCHEMA_F64,
     "memory_parts", "B", "baseline plus predicted allocations per rank", "bench", 0, NULL},
    {SNTK_SCHEMA_BENCH, "/bench/part", SNTK_SCHEMA_DATASET, SNTK_SCHEMA_STR, "parts", NULL,
     "timed parts", "bench", 0, NULL},
    {SNTK_SCHEMA_BENCH, "/bench/reference_gflops_per_rank", SNTK_SCHEMA_DATASET, SNTK_SCHEMA_F64,
     "parts", "GFLOP/s", "DGEMM or DSYRK rate per rank on the same shape (0: none)", "bench", 0,
     NULL},
    {SNTK_SCHEMA_BENCH, "/bench/seconds", SNTK_SCHEMA_DATASET, SNTK_SCHEMA_F64, "parts", "s",
     "best time over the repetitions (each the maximum over ranks)", "bench", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK, "/data", SNTK_SCHEMA_GROUP, SNTK_SCHEMA_NONE, "", NULL,
     "training data", "ntk, score, train", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK, "/data/X", SNTK_SCHEMA_DATASET, SNTK_SCHEMA_F64,
     "n x d", "1", "training inputs, one sample per row", "ntk, score, train", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK, "/data/Y", SNTK_SCHEMA_DATASET, SNTK_SCHEMA_F64,
     "n x k", "1", "training targets, one sample per row", "ntk, score, train", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_SAMPLES, "/diffusion", SNTK_SCHEMA_GROUP, SNTK_SCHEMA_NONE,
     "", NULL, "the diffusion target and held-out evaluation set", "sample, score", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_SAMPLES, "/diffusion@dim", SNTK_SCHEMA_ATTR, SNTK_SCHEMA_F64,
     "scalar", NULL, "dimension of the target", "sample, score", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_SAMPLES, "/diffusion@input_map", SNTK_SCHEMA_ATTR,
     SNTK_SCHEMA_STR, "scalar", NULL, "how (x_t, t) becomes the network input", "sample, score", 0,
     NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_SAMPLES, "/diffusion@input_scale", SNTK_SCHEMA_ATTR,
     SNTK_SCHEMA_F64, "scalar", NULL, "scale of the input map", "sample, score", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_SAMPLES, "/diffusion@parametrisation", SNTK_SCHEMA_ATTR,
     SNTK_SCHEMA_STR, "scalar", NULL,
     "what the network's output F is: plain (x_0 itself) or edm (x_0 = c_skip x_t + c_out F)",
     "sample, score", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_SAMPLES, "/diffusion@sdata", SNTK_SCHEMA_ATTR,
     SNTK_SCHEMA_F64, "scalar", NULL, "data scale sdata of the edm parametrisation",
     "sample, score", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_SAMPLES, "/diffusion@width", SNTK_SCHEMA_ATTR,
     SNTK_SCHEMA_F64, "scalar", NULL, "width of the mixture components", "sample, score", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_SAMPLES, "/diffusion/bin_edges", SNTK_SCHEMA_DATASET,
     SNTK_SCHEMA_F64, "bins+1", "1", "edges of the time bins of /score/bin_error (log-spaced)",
     "score", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_SAMPLES, "/diffusion/eval_fstar", SNTK_SCHEMA_DATASET,
     SNTK_SCHEMA_F64, "e x k", "1",
     "held-out regression targets f* = E[x_0 | x_t] (x_0 when the score is not exact)", "score", 0,
     NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_SAMPLES, "/diffusion/eval_t", SNTK_SCHEMA_DATASET,
     SNTK_SCHEMA_F64, "e", "1", "held-out times t (point j lies in time bin j mod t_bins)", "score",
     0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_SAMPLES, "/diffusion/eval_z", SNTK_SCHEMA_DATASET,
     SNTK_SCHEMA_F64, "e x d", "1", "held-out network inputs z(x_t, t), one per row", "score", 0,
     NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_SAMPLES, "/diffusion/means", SNTK_SCHEMA_DATASET,
     SNTK_SCHEMA_F64, "c x k", "1", "mixture means mu_c, one per row", "sample, score", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_SAMPLES, "/diffusion/second_moment", SNTK_SCHEMA_DATASET,
     SNTK_SCHEMA_F64, "1", "1", "E ||x_0||^2 of the file's samples", "sample, score", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_SAMPLES, "/diffusion/weights", SNTK_SCHEMA_DATASET,
     SNTK_SCHEMA_F64, "c", "1", "mixture weights w_c", "sample, score", 0, NULL},
    {SNTK_SCHEMA_CHECKPOINT, "/history", SNTK_SCHEMA_GROUP, SNTK_SCHEMA_NONE, "", NULL,
     "the series up to the checkpoint step", "train, score", 0, NULL},
    {SNTK_SCHEMA_CHECKPOINT, "/history/<group>", SNTK_SCHEMA_GROUP, SNTK_SCHEMA_NONE, "", NULL,
     "the series group /<group> (train, ntk, score, ...) of the results file", "score, train", 0,
     NULL},
    {SNTK_SCHEMA_CHECKPOINT, "/history/<group>/<series>", SNTK_SCHEMA_DATASET, SNTK_SCHEMA_F64,
     "rows or rows x width", NULL,
     "the series /<group>/<series> of the results file up to the checkpoint step, with its units "
     "and description (rows x width for a spectrum series)",
     "score, train", 0, NULL},
    {SNTK_SCHEMA_CHECKPOINT, "/history/<group>/<series>@integer", SNTK_SCHEMA_ATTR, SNTK_SCHEMA_I64,
     "scalar", NULL, "1 when the series is stored as int64 in the results file", "train, score", 0,
     NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_REGRESSION, "/ntk", SNTK_SCHEMA_GROUP,
     SNTK_SCHEMA_NONE, "", NULL, "NTK snapshots: spectra and norms per snapshot",
     "ntk, score, train", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_REGRESSION, "/ntk@gamma", SNTK_SCHEMA_ATTR,
     SNTK_SCHEMA_F64, "scalar", NULL, "output normalisation gamma", "ntk, score, train", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_REGRESSION, "/ntk@nb", SNTK_SCHEMA_ATTR,
     SNTK_SCHEMA_F64, "scalar", NULL, "ScaLAPACK block size", "ntk, score, train", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_REGRESSION, "/ntk@nk", SNTK_SCHEMA_ATTR,
     SNTK_SCHEMA_F64, "scalar", NULL, "order of the Gram matrix, n k", "ntk, score, train", 0,
     NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_REGRESSION, "/ntk@normalisation",
     SNTK_SCHEMA_ATTR, SNTK_SCHEMA_STR, "scalar", NULL, "the normalisation of H",
     "ntk, score, train", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_REGRESSION, "/ntk@nu", SNTK_SCHEMA_ATTR,
     SNTK_SCHEMA_F64, "scalar", NULL, "NTK normalisation nu", "ntk, score, train", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_REGRESSION, "/ntk@process_grid",
     SNTK_SCHEMA_ATTR, SNTK_SCHEMA_STR, "scalar", NULL, "BLACS process grid", "ntk, score, train",
     0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_REGRESSION, "/ntk@solver",
     SNTK_SCHEMA_ATTR, SNTK_SCHEMA_STR, "scalar", NULL,
     "the eigen-solver backend of the spectra (ntk.solver resolved: scalapack or elpa); the "
     "Cholesky factorisation is ScaLAPACK's in both",
     "ntk, score, train", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_REGRESSION, "/ntk@memory",
     SNTK_SCHEMA_ATTR, SNTK_SCHEMA_STR, "scalar", NULL,
     "ntk.memory resolved: copy (H and a work copy) or lean (H alone, assembled again after its "
     "factorisations)",
     "ntk, score, train", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_REGRESSION, "/ntk@spectrum",
     SNTK_SCHEMA_ATTR, SNTK_SCHEMA_STR, "scalar", NULL,
     "spectrum kind stored (full, extremes, none)", "ntk, score, train", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_REGRESSION, "/ntk/diff_init_fro",
     SNTK_SCHEMA_DATASET, SNTK_SCHEMA_F64, "snapshots", "1", "||H(t) - H(0)||_F",
     "ntk, score, train", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_REGRESSION, "/ntk/diff_init_spec",
     SNTK_SCHEMA_DATASET, SNTK_SCHEMA_F64, "snapshots", "1", "||H(t) - H(0)||_2",
     "ntk, score, train", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_REGRESSION, "/ntk/diff_limit_fro",
     SNTK_SCHEMA_DATASET, SNTK_SCHEMA_F64, "snapshots", "1",
     "||H(t) - H*||_F (NaN when ntk.limit = false)", "ntk, score, train", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_REGRESSION, "/ntk/diff_limit_spec",
     SNTK_SCHEMA_DATASET, SNTK_SCHEMA_F64, "snapshots", "1",
     "||H(t) - H*||_2 (NaN when ntk.limit = false)", "ntk, score, train", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_REGRESSION, "/ntk/eigenvalues",
     SNTK_SCHEMA_DATASET, SNTK_SCHEMA_F64, "snapshots x neig", "1",
     "eigenvalues of H per snapshot, ascending", "ntk, score, train", 0,
     "eigenvalues of H per snapshot: the q smallest, then the q largest"},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_REGRESSION, "/ntk/gram_<step>",
     SNTK_SCHEMA_DATASET, SNTK_SCHEMA_F64, "nk x nk", "1",
     "normalised NTK H = nu J J^T / gamma^2 at this step, nk x nk", "ntk, train", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_REGRESSION, "/ntk/gram_<step>@entry_sum",
     SNTK_SCHEMA_ATTR, SNTK_SCHEMA_STR, "scalar", NULL,
     "the exactly rounded sum of the entries (hexadecimal)", "ntk, train", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_REGRESSION, "/ntk/gram_limit",
     SNTK_SCHEMA_DATASET, SNTK_SCHEMA_F64, "nk x nk", "1", "infinite-width NTK H*, nk x nk", "ntk",
     0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_REGRESSION, "/ntk/gram_limit@entry_sum",
     SNTK_SCHEMA_ATTR, SNTK_SCHEMA_STR, "scalar", NULL,
     "the exactly rounded sum of the entries (hexadecimal)", "ntk", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_REGRESSION, "/ntk/lambda_max",
     SNTK_SCHEMA_DATASET, SNTK_SCHEMA_F64, "snapshots", "1", "largest eigenvalue of H",
     "ntk, score, train", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_REGRESSION, "/ntk/lambda_min",
     SNTK_SCHEMA_DATASET, SNTK_SCHEMA_F64, "snapshots", "1",
     "smallest eigenvalue of the normalised NTK H = nu J J^T / gamma^2", "ntk, score, train", 0,
     NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_REGRESSION, "/ntk/limit",
     SNTK_SCHEMA_GROUP, SNTK_SCHEMA_NONE, "", NULL, "the infinite-width NTK H*", "ntk, score", 0,
     NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_REGRESSION, "/ntk/limit@lambda_max",
     SNTK_SCHEMA_ATTR, SNTK_SCHEMA_F64, "scalar", NULL, "largest eigenvalue of H*", "ntk, score", 0,
     NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_REGRESSION, "/ntk/limit@lambda_min",
     SNTK_SCHEMA_ATTR, SNTK_SCHEMA_F64, "scalar", NULL, "smallest eigenvalue of H*", "ntk, score",
     0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_REGRESSION, "/ntk/limit/eigenvalues",
     SNTK_SCHEMA_DATASET, SNTK_SCHEMA_F64, "nk", "1",
     "eigenvalues of the infinite-width NTK H*, ascending", "ntk, score", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_REGRESSION, "/ntk/linearised",
     SNTK_SCHEMA_GROUP, SNTK_SCHEMA_NONE, "", NULL, "the linearised loss curve", "train", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_REGRESSION, "/ntk/linearised@eta",
     SNTK_SCHEMA_ATTR, SNTK_SCHEMA_F64, "scalar", NULL,
     "learning rate of the linearised prediction", "train", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_REGRESSION, "/ntk/linearised/bound",
     SNTK_SCHEMA_DATASET, SNTK_SCHEMA_F64, "steps", "1",
     "the paper's bound L(0) (1 - eta lambda_min(J J^T) / 2)^t", "train", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_REGRESSION, "/ntk/linearised/loss",
     SNTK_SCHEMA_DATASET, SNTK_SCHEMA_F64, "steps", "1",
     "linearised prediction 1/2 sum_q (1 - eta D_q)^(2t) <q_q, r(0)>^2 of the training loss at "
     "steps t = 0..steps, D = eig(J J^T)",
     "train", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_REGRESSION, "/ntk/logdet",
     SNTK_SCHEMA_DATASET, SNTK_SCHEMA_F64, "snapshots", "1",
     "log det H from its Cholesky factor (NaN when H is not positive definite)",
     "ntk, score, train", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_REGRESSION, "/ntk/norm_fro",
     SNTK_SCHEMA_DATASET, SNTK_SCHEMA_F64, "snapshots", "1", "||H||_F", "ntk, score, train", 0,
     NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_REGRESSION, "/ntk/positive_definite",
     SNTK_SCHEMA_DATASET, SNTK_SCHEMA_I64, "snapshots", "1",
     "1 when PDPOTRF factored H, 0 when H is not positive definite", "ntk, score, train", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_REGRESSION, "/ntk/regression",
     SNTK_SCHEMA_GROUP, SNTK_SCHEMA_NONE, "", NULL, "kernel regression on held-out points",
     "ntk, score", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_REGRESSION, "/ntk/regression@gd_eta",
     SNTK_SCHEMA_ATTR, SNTK_SCHEMA_F64, "scalar", NULL, "learning rate of the linearised network",
     "score", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_REGRESSION, "/ntk/regression@gd_steps",
     SNTK_SCHEMA_ATTR, SNTK_SCHEMA_F64, "scalar", NULL,
     "gradient-descent steps of the linearised network", "score", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_REGRESSION,
     "/ntk/regression@gd_train_loss", SNTK_SCHEMA_ATTR, SNTK_SCHEMA_F64, "scalar", NULL,
     "training loss of the linearised network with H", "score", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_REGRESSION,
     "/ntk/regression@gd_train_loss_limit", SNTK_SCHEMA_ATTR, SNTK_SCHEMA_F64, "scalar", NULL,
     "the same with H*", "score", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_REGRESSION,
     "/ntk/regression@rel_diff_trained_gd", SNTK_SCHEMA_ATTR, SNTK_SCHEMA_F64, "scalar", NULL,
     "||f_trained - f_gd|| / ||f_gd||", "score", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_REGRESSION,
     "/ntk/regression@rel_diff_trained_gd_limit", SNTK_SCHEMA_ATTR, SNTK_SCHEMA_F64, "scalar", NULL,
     "the same with H*", "score", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_REGRESSION,
     "/ntk/regression@rel_diff_trained_kernel", SNTK_SCHEMA_ATTR, SNTK_SCHEMA_F64, "scalar", NULL,
     "||f_trained - f_kernel|| / ||f_kernel||", "score", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_REGRESSION, "/ntk/regression@rel_error",
     SNTK_SCHEMA_ATTR, SNTK_SCHEMA_F64, "scalar", NULL, "relative held-out error with H",
     "ntk, score", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_REGRESSION, "/ntk/regression@rel_error_gd",
     SNTK_SCHEMA_ATTR, SNTK_SCHEMA_F64, "scalar", NULL,
     "relative held-out error of the linearised network with H", "score", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_REGRESSION,
     "/ntk/regression@rel_error_gd_limit", SNTK_SCHEMA_ATTR, SNTK_SCHEMA_F64, "scalar", NULL,
     "the same with H*", "score", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_REGRESSION,
     "/ntk/regression@rel_error_limit", SNTK_SCHEMA_ATTR, SNTK_SCHEMA_F64, "scalar", NULL,
     "relative held-out error with H*", "ntk, score", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_REGRESSION,
     "/ntk/regression@rel_error_network", SNTK_SCHEMA_ATTR, SNTK_SCHEMA_F64, "scalar", NULL,
     "relative held-out error of the network", "ntk, score", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_REGRESSION, "/ntk/regression@ridge",
     SNTK_SCHEMA_ATTR, SNTK_SCHEMA_F64, "scalar", NULL, "ridge of the kernel regression",
     "ntk, score", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_REGRESSION,
     "/ntk/regression@score_error_kernel", SNTK_SCHEMA_ATTR, SNTK_SCHEMA_F64, "scalar", NULL,
     "held-out score error of the kernel regression", "score", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_REGRESSION,
     "/ntk/regression@score_error_kernel_gd", SNTK_SCHEMA_ATTR, SNTK_SCHEMA_F64, "scalar", NULL,
     "held-out score error of the linearised network", "score", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_REGRESSION,
     "/ntk/regression@score_error_kernel_gd_limit", SNTK_SCHEMA_ATTR, SNTK_SCHEMA_F64, "scalar",
     NULL, "the same with H*", "score", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_REGRESSION,
     "/ntk/regression@score_error_trained", SNTK_SCHEMA_ATTR, SNTK_SCHEMA_F64, "scalar", NULL,
     "held-out score error of the trained network", "score", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_REGRESSION, "/ntk/regression/network",
     SNTK_SCHEMA_DATASET, SNTK_SCHEMA_F64, "h x k", "1",
     "network outputs F(W, x) on the held-out points", "ntk, score", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_REGRESSION, "/ntk/regression/predictions",
     SNTK_SCHEMA_DATASET, SNTK_SCHEMA_F64, "h x k", "1",
     "F(W, x) + H(x, X) (H + ridge I)^{-1} (y - F(W, X))", "ntk, score", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_REGRESSION,
     "/ntk/regression/predictions_gd", SNTK_SCHEMA_DATASET, SNTK_SCHEMA_F64, "h x k", "1",
     "F(W, x) + H(x, X) alpha: the linearised network after gd_steps steps of gradient descent at "
     "gd_eta",
     "score", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_REGRESSION,
     "/ntk/regression/predictions_gd_limit", SNTK_SCHEMA_DATASET, SNTK_SCHEMA_F64, "h x k", "1",
     "the same with H*: the infinite-width network's prediction", "score", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_REGRESSION,
     "/ntk/regression/predictions_limit", SNTK_SCHEMA_DATASET, SNTK_SCHEMA_F64, "h x k", "1",
     "F(W, x) + H*(x, X) (H* + ridge I)^{-1} (y - F(W, X))", "ntk, score", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_REGRESSION, "/ntk/regression/targets",
     SNTK_SCHEMA_DATASET, SNTK_SCHEMA_F64, "h x k", "1", "held-out targets y", "ntk, score", 0,
     NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_REGRESSION, "/ntk/regression/trained",
     SNTK_SCHEMA_DATASET, SNTK_SCHEMA_F64, "h x k", "1",
     "the trained network's outputs F on the held-out points (x_0 predictions for "
     "diffusion.parametrisation = plain)",
     "score", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_REGRESSION, "/ntk/step",
     SNTK_SCHEMA_DATASET, SNTK_SCHEMA_I64, "snapshots", "1",
     "training step of the snapshot (W(t) before update t)", "ntk, score, train", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_SAMPLES, "/perf", SNTK_SCHEMA_GROUP,
     SNTK_SCHEMA_NONE, "", NULL, "phase timers", "ntk, sample, score, train", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_SAMPLES, "/perf/count",
     SNTK_SCHEMA_DATASET, SNTK_SCHEMA_F64, "events", "1", "times the phase ran (max over ranks)",
     "ntk, sample, score, train", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_SAMPLES, "/perf/event",
     SNTK_SCHEMA_DATASET, SNTK_SCHEMA_STR, "events", NULL,
     "phase names, one per row of the other /perf datasets", "ntk, sample, score, train", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_SAMPLES, "/perf/flops",
     SNTK_SCHEMA_DATASET, SNTK_SCHEMA_F64, "events", "1",
     "floating-point operations of the phase, summed over ranks", "ntk, sample, score, train", 0,
     NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_SAMPLES, "/perf/flops_rank",
     SNTK_SCHEMA_DATASET, SNTK_SCHEMA_F64, "P x events", "1",
     "floating-point operations of the phase on each rank (row: rank)", "ntk, sample, score, train",
     0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_SAMPLES, "/perf/time_avg",
     SNTK_SCHEMA_DATASET, SNTK_SCHEMA_F64, "events", "s", "phase time, average over ranks",
     "ntk, sample, score, train", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_SAMPLES, "/perf/time_max",
     SNTK_SCHEMA_DATASET, SNTK_SCHEMA_F64, "events", "s", "phase time, maximum over ranks",
     "ntk, sample, score, train", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK | SNTK_SCHEMA_SAMPLES, "/perf/time_min",
     SNTK_SCHEMA_DATASET, SNTK_SCHEMA_F64, "events", "s", "phase time, minimum over ranks",
     "ntk, sample, score, train", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK, "/perturb", SNTK_SCHEMA_GROUP, SNTK_SCHEMA_NONE, "",
     NULL, "perturbation of the NTK", "ntk", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK, "/perturb@B_logits", SNTK_SCHEMA_ATTR, SNTK_SCHEMA_F64,
     "scalar", NULL, "bound on the logits", "ntk", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK, "/perturb@H_fro", SNTK_SCHEMA_ATTR, SNTK_SCHEMA_F64,
     "scalar", NULL, "||H||_F", "ntk", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK, "/perturb@H_spec", SNTK_SCHEMA_ATTR, SNTK_SCHEMA_F64,
     "scalar", NULL, "||H||_2", "ntk", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK, "/perturb@bound_first_order", SNTK_SCHEMA_ATTR,
     SNTK_SCHEMA_F64, "scalar", NULL, "bound on ||dH[Delta]||_F", "ntk", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK, "/perturb@bound_rule", SNTK_SCHEMA_ATTR,
     SNTK_SCHEMA_STR, "scalar", NULL, "the bound per activation", "ntk", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK, "/perturb@directions", SNTK_SCHEMA_ATTR,
     SNTK_SCHEMA_STR, "scalar", NULL, "names of the perturbation directions (rows)", "ntk", 0,
     NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK, "/perturb@gd_R", SNTK_SCHEMA_ATTR, SNTK_SCHEMA_F64,
     "scalar", NULL, "||W(T) - W(0)|| of the gd direction", "ntk", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK, "/perturb@gd_dH_fro", SNTK_SCHEMA_ATTR, SNTK_SCHEMA_F64,
     "scalar", NULL, "||H(W(T)) - H(W(0))||_F", "ntk", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK, "/perturb@gd_dH_spec", SNTK_SCHEMA_ATTR,
     SNTK_SCHEMA_F64, "scalar", NULL, "||H(W(T)) - H(W(0))||_2", "ntk", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK, "/perturb@gd_eta", SNTK_SCHEMA_ATTR, SNTK_SCHEMA_F64,
     "scalar", NULL, "learning rate of the gd direction", "ntk", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK, "/perturb@gd_loss_ratio", SNTK_SCHEMA_ATTR,
     SNTK_SCHEMA_F64, "scalar", NULL, "L(W(T)) / L(W(0))", "ntk", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK, "/perturb@gd_steps", SNTK_SCHEMA_ATTR, SNTK_SCHEMA_F64,
     "scalar", NULL, "gradient-descent steps of the gd direction", "ntk", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK, "/perturb@note", SNTK_SCHEMA_ATTR, SNTK_SCHEMA_STR,
     "scalar", NULL, "how the worst direction is found", "ntk", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK, "/perturb@power_iters", SNTK_SCHEMA_ATTR,
     SNTK_SCHEMA_F64, "scalar", NULL, "power iterations", "ntk", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK, "/perturb@power_steps_eig", SNTK_SCHEMA_ATTR,
     SNTK_SCHEMA_F64, "scalar", NULL, "power steps from the eigenvector start", "ntk", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK, "/perturb@power_steps_random", SNTK_SCHEMA_ATTR,
     SNTK_SCHEMA_F64, "scalar", NULL, "power steps from the random start", "ntk", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK, "/perturb@power_value_eig", SNTK_SCHEMA_ATTR,
     SNTK_SCHEMA_F64, "scalar", NULL, "power-iteration value from the top-eigenvector start", "ntk",
     0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK, "/perturb@power_value_random", SNTK_SCHEMA_ATTR,
     SNTK_SCHEMA_F64, "scalar", NULL, "power-iteration value from a random start", "ntk", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK, "/perturb@w_max", SNTK_SCHEMA_ATTR, SNTK_SCHEMA_F64,
     "scalar", NULL, "largest neuron norm", "ntk", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK, "/perturb@xmax", SNTK_SCHEMA_ATTR, SNTK_SCHEMA_F64,
     "scalar", NULL, "largest input norm", "ntk", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK, "/perturb/H", SNTK_SCHEMA_DATASET, SNTK_SCHEMA_F64,
     "n x n", "1", "the normalised NTK H(W) the perturbations start from", "ntk", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK, "/perturb/H_shift", SNTK_SCHEMA_DATASET,
     SNTK_SCHEMA_F64, "n x n", "1",
     "H(W + R v 1^T): every neuron shifted by R v, R the largest radius", "ntk", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK, "/perturb/finite_fro", SNTK_SCHEMA_DATASET,
     SNTK_SCHEMA_F64, "directions x radii", "1",
     "||H(W + R Delta) - H(W)||_F per direction (row) and radius", "ntk", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK, "/perturb/finite_spec", SNTK_SCHEMA_DATASET,
     SNTK_SCHEMA_F64, "directions x radii", "1",
     "||H(W + R Delta) - H(W)||_2 per direction (row) and radius", "ntk", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK, "/perturb/first_order", SNTK_SCHEMA_DATASET,
     SNTK_SCHEMA_F64, "directions x 2", "1",
     "per direction (rows: attribute directions): ||dH[Delta]||_F and ||dH[Delta]||_2, the "
     "first-order change of H per unit R, every ||Delta_r|| <= 1",
     "ntk", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK, "/perturb/linearisation_error", SNTK_SCHEMA_DATASET,
     SNTK_SCHEMA_F64, "directions x radii", "1",
     "||H(W + R Delta) - H(W) - R dH[Delta]||_F per direction and radius (O(R^2) where H is "
     "smooth)",
     "ntk", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK, "/perturb/power_eig", SNTK_SCHEMA_DATASET,
     SNTK_SCHEMA_F64, "iters", "1", "the same from the top-eigenvector start", "ntk", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK, "/perturb/power_random", SNTK_SCHEMA_DATASET,
     SNTK_SCHEMA_F64, "iters", "1",
     "||dH[Delta]||_F along the worst-direction iteration from the random start (NaN after it "
     "stopped)",
     "ntk", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK, "/perturb/radii", SNTK_SCHEMA_DATASET, SNTK_SCHEMA_F64,
     "radii", "units of w", "radii R of the finite perturbations W + R Delta", "ntk", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK, "/perturb/relu_bound", SNTK_SCHEMA_DATASET,
     SNTK_SCHEMA_F64, "radii", "1",
     "||(1/m) |K_X| o C(R)||_F, C_ij(R) the neurons whose sign can flip on x_i or x_j within R: "
     "bounds relu's ||H(W + R Delta) - H(W)||_F",
     "ntk", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK, "/perturb/shift_prediction_error", SNTK_SCHEMA_DATASET,
     SNTK_SCHEMA_F64, "radii", "1",
     "common shift v: ||H(W + R v 1^T) - P(R)||_F with P = H (softmax) or H_ij e^{R v.(x_i + x_j)} "
     "(exp); NaN for relu",
     "ntk", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_NTK, "/perturb/shift_vector", SNTK_SCHEMA_DATASET,
     SNTK_SCHEMA_F64, "d", "units of w", "the common shift v (unit norm)", "ntk", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_SAMPLES, "/samples", SNTK_SCHEMA_GROUP, SNTK_SCHEMA_NONE, "",
     NULL, "samples of the reverse process and their metrics", "sample, score", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_SAMPLES, "/samples@T", SNTK_SCHEMA_ATTR, SNTK_SCHEMA_F64,
     "scalar", NULL, "end time of the forward process", "sample, score", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_SAMPLES, "/samples@coverage_level", SNTK_SCHEMA_ATTR,
     SNTK_SCHEMA_F64, "scalar", NULL, "probability level of the mode radius", "sample, score", 0,
     NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_SAMPLES, "/samples@coverage_radius", SNTK_SCHEMA_ATTR,
     SNTK_SCHEMA_F64, "scalar", NULL, "radius of a mode", "sample, score", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_SAMPLES, "/samples@floor_pairs", SNTK_SCHEMA_ATTR,
     SNTK_SCHEMA_F64, "scalar", NULL, "pairs of fresh target sets the noise floor averages",
     "sample, score", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_SAMPLES, "/samples@inside_<set>", SNTK_SCHEMA_ATTR,
     SNTK_SCHEMA_F64, "scalar", NULL, "share of the set within a mode radius", "sample, score", 0,
     NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_SAMPLES, "/samples@metrics", SNTK_SCHEMA_ATTR,
     SNTK_SCHEMA_STR, "scalar", NULL, "what the metrics are", "sample, score", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_SAMPLES, "/samples@mmd_<set>", SNTK_SCHEMA_ATTR,
     SNTK_SCHEMA_F64, "scalar", NULL, "MMD of the set against the reference", "sample, score", 0,
     NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_SAMPLES, "/samples@mmd_floor", SNTK_SCHEMA_ATTR,
     SNTK_SCHEMA_F64, "scalar", NULL, "MMD between two fresh target sets (mean)", "sample, score",
     0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_SAMPLES, "/samples@mmd_floor_std", SNTK_SCHEMA_ATTR,
     SNTK_SCHEMA_F64, "scalar", NULL, "its standard deviation over the pairs", "sample, score", 0,
     NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_SAMPLES, "/samples@modes_covered_<set>", SNTK_SCHEMA_ATTR,
     SNTK_SCHEMA_F64, "scalar", NULL, "modes holding at least half their share of the set",
     "sample, score", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_SAMPLES, "/samples@projections", SNTK_SCHEMA_ATTR,
     SNTK_SCHEMA_F64, "scalar", NULL, "random projections of the sliced W2", "sample, score", 0,
     NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_SAMPLES, "/samples@sample_seed", SNTK_SCHEMA_ATTR,
     SNTK_SCHEMA_F64, "scalar", NULL, "seed of the sampler streams", "sample, score", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_SAMPLES, "/samples@sample_steps", SNTK_SCHEMA_ATTR,
     SNTK_SCHEMA_F64, "scalar", NULL, "sampler steps", "sample, score", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_SAMPLES, "/samples@sampler", SNTK_SCHEMA_ATTR,
     SNTK_SCHEMA_STR, "scalar", NULL, "the reverse-time sampler", "sample, score", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_SAMPLES, "/samples@samples", SNTK_SCHEMA_ATTR,
     SNTK_SCHEMA_F64, "scalar", NULL, "samples drawn per set", "sample, score", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_SAMPLES, "/samples@step", SNTK_SCHEMA_ATTR, SNTK_SCHEMA_F64,
     "scalar", NULL, "training step of the weights sampled", "sample, score", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_SAMPLES, "/samples@sw2_<set>", SNTK_SCHEMA_ATTR,
     SNTK_SCHEMA_F64, "scalar", NULL, "sliced W2 of the set against the reference", "sample, score",
     0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_SAMPLES, "/samples@sw2_floor", SNTK_SCHEMA_ATTR,
     SNTK_SCHEMA_F64, "scalar", NULL, "sliced W2 between two fresh target sets (mean)",
     "sample, score", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_SAMPLES, "/samples@sw2_floor_std", SNTK_SCHEMA_ATTR,
     SNTK_SCHEMA_F64, "scalar", NULL, "its standard deviation over the pairs", "sample, score", 0,
     NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_SAMPLES, "/samples@t0", SNTK_SCHEMA_ATTR, SNTK_SCHEMA_F64,
     "scalar", NULL, "time the sampler stops at", "sample, score", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_SAMPLES, "/samples/<set>", SNTK_SCHEMA_DATASET,
     SNTK_SCHEMA_F64, "S x k", "1", "samples at t0, one per row", "sample, score", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_SAMPLES, "/samples/<set>@description", SNTK_SCHEMA_ATTR,
     SNTK_SCHEMA_STR, "scalar", NULL,
     "what the set is, replacing the dataset's description: learned (network score), exact (exact "
     "score), noise (N(0, I)), gaussian (moment-matched Gaussian), kernel (NTK kernel regression "
     "with H*)",
     "sample, score", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_SAMPLES, "/samples/mode_inside_<set>", SNTK_SCHEMA_DATASET,
     SNTK_SCHEMA_F64, "c", "1", "share of the samples within each mode's radius", "sample, score",
     0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_SAMPLES, "/samples/reference", SNTK_SCHEMA_DATASET,
     SNTK_SCHEMA_F64, "S x k", "1", "fresh target samples the metrics compare with",
     "sample, score", 0, NULL},
    {SNTK_SCHEMA_RESULTS | SNTK_SCHEMA_SAMPLES, "/samples/time_grid", SNTK_SCHEMA_DATASET,
     SNTK_SCHEMA_F64, "sample_steps+1", "1", "the sampler's times, from T down to t0",
     "sample, score", 0, NULL},
    {SNTK_SCHEMA_RESULTS, "/score", SNTK_SCHEMA_GROUP, SNTK_SCHEMA_NONE, "", NULL,
     "the score error series", "score", 0, NULL},
    {SNTK_SCHEMA_RESULTS, "/score@best_error", SNTK_SCHEMA_ATTR, SNTK_SCHEMA_F64, "scalar", NULL,
     "smallest held-out score error", "score", 0, NULL},
    {SNTK_SCHEMA_RESULTS, "/score@best_step", SNTK_SCHEMA_ATTR, SNTK_SCHEMA_F64, "scalar", NULL,
     "step of the smallest error", "score", 0, NULL},
    {SNTK_SCHEMA_RESULTS, "/score@eval_points", SNTK_SCHEMA_ATTR, SNTK_SCHEMA_F64, "scalar", NULL,
     "held-out points", "score", 0, NULL},
    {SNTK_SCHEMA_RESULTS, "/score@exact", SNTK_SCHEMA_ATTR, SNTK_SCHEMA_F64, "scalar", NULL,
     "1 when the exact score is known", "score", 0, NULL},
    {SNTK_SCHEMA_RESULTS, "/score@kl_T_bound", SNTK_SCHEMA_ATTR, SNTK_SCHEMA_F64, "scalar", NULL,
     "KL(p_T || N(0, I)) bound", "score", 0, NULL},
    {SNTK_SCHEMA_RESULTS, "/score@weighting", SNTK_SCHEMA_ATTR, SNTK_SCHEMA_STR, "scalar", NULL,
     "time weighting of the error", "score", 0, NULL},
    {SNTK_SCHEMA_RESULTS, "/score@zero_predictor_error", SNTK_SCHEMA_ATTR, SNTK_SCHEMA_F64,
     "scalar", NULL, "held-out error of the zero predictor", "score", 0, NULL},
    {SNTK_SCHEMA_RESULTS, "/score/bin_error", SNTK_SCHEMA_DATASET, SNTK_SCHEMA_F64, "evals x bins",
     "1", "held-out error within each time bin (edges: /diffusion/bin_edges)", "score", 0, NULL},
    {SNTK_SCHEMA_RESULTS, "/score/bin_error_unweighted", SNTK_SCHEMA_DATASET, SNTK_SCHEMA_F64,
     "evals x bins", "1", "held-out E ||s_net - s*||^2 within each time bin (unweighted)", "score",
     0, NULL},
    {SNTK_SCHEMA_RESULTS, "/score/error", SNTK_SCHEMA_DATASET, SNTK_SCHEMA_F64, "evals", "1",
     "held-out E_t E ||sigma_t^2 (s_net - s*)||^2 = E alpha_t^2 ||f_net - f*||^2, t ~ U[t0, T]",
     "score", 0, NULL},
    {SNTK_SCHEMA_RESULTS, "/score/error_unweighted", SNTK_SCHEMA_DATASET, SNTK_SCHEMA_F64, "evals",
     "1",
     "integral over [t0, T] of E ||s_net - s*||^2 dt, the score term of sampling bounds (NaN "
     "without an exact score)",
     "score", 0, NULL},
    {SNTK_SCHEMA_RESULTS, "/score/heldout_loss", SNTK_SCHEMA_DATASET, SNTK_SCHEMA_F64, "evals", "1",
     "held-out denoising loss 1/2 mean ||f_net - x_0||^2 (noisy labels)", "score", 0, NULL},
    {SNTK_SCHEMA_RESULTS, "/score/kl_bound", SNTK_SCHEMA_DATASET, SNTK_SCHEMA_F64, "evals", "nat",
     "KL(p_t0 || reverse SDE law at t0) <= KL(p_T || N(0, I)) + error_unweighted (Girsanov, exact "
     "simulation of the reverse SDE; /score attribute kl_T_bound bounds the first term)",
     "score", 0, NULL},
    {SNTK_SCHEMA_RESULTS, "/score/rel_error", SNTK_SCHEMA_DATASET, SNTK_SCHEMA_F64, "evals", "1",
     "error / E alpha_t^2 ||f*||^2 (the error of the zero predictor)", "score", 0, NULL},
    {SNTK_SCHEMA_RESULTS, "/score/step", SNTK_SCHEMA_DATASET, SNTK_SCHEMA_I64, "evals", "1",
     "training step t of the evaluation (weights W(t))", "score", 0, NULL},
    {SNTK_SCHEMA_RESULTS, "/train", SNTK_SCHEMA_GROUP, SNTK_SCHEMA_NONE, "", NULL,
     "the training series", "score, train", 0, NULL},
    {SNTK_SCHEMA_RESULTS, "/train/grad_norm", SNTK_SCHEMA_DATASET, SNTK_SCHEMA_F64, "steps", "1",
     "Frobenius norm of dL/dW at W(t)", "score, train", 0, NULL},
    {SNTK_SCHEMA_RESULTS, "/train/loss", SNTK_SCHEMA_DATASET, SNTK_SCHEMA_F64, "steps", "1",
     "L(W(t)) = 1/2 sum_i ||F(x_i) - y_i||^2", "score, train", 0, NULL},
    {SNTK_SCHEMA_RESULTS, "/train/max_drift", SNTK_SCHEMA_DATASET, SNTK_SCHEMA_F64, "steps", "1",
     "max_r ||w_r(t) - w_r(0)||", "score, train", 0, NULL},
    {SNTK_SCHEMA_RESULTS, "/train/step", SNTK_SCHEMA_DATASET, SNTK_SCHEMA_I64, "steps", "1",
     "gradient-descent step t; the row holds values at W(t), before update t", "score, train", 0,
     NULL},
    {SNTK_SCHEMA_RESULTS, "/train/wall_time", SNTK_SCHEMA_DATASET, SNTK_SCHEMA_F64, "steps", "s",
     "wall-clock seconds of training up to this row, over all invocations", "score, train", 0,
     NULL},
};

const sntk_schema_entry_t *sntk_schema_entries(int *n) {
  *n = (int)(sizeof entries / sizeof entries[0]);
  return entries;
}

static const char *const file_names[SNTK_SCHEMA_NFILES] = {"results",    "ntk",   "samples",
                                                           "regression", "bench", "checkpoint"};

unsigned sntk_schema_file_bit(const char *name) {
  for (int i = 0; i < SNTK_SCHEMA_NFILES; i++)
    if (!strcmp(name, file_names[i])) return 1u << i;
  return 0;
}

const char *sntk_schema_file_name(unsigned bit) {
  for (int i = 0; i < SNTK_SCHEMA_NFILES; i++)
    if (bit == 1u << i) return file_names[i];
  return "?";
}

unsigned sntk_schema_file_of_path(const char *path) {
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  if (!strncmp(base, "ckpt-", 5)) return SNTK_SCHEMA_CHECKPOINT;
  static const char *const files[] = {"results.h5", "ntk.h5", "samples.h5", "regression.h5",
                                      "bench.h5"};
  for (int i = 0; i < 5; i++)
    if (!strcmp(base, files[i])) return 1u << i;
  return 0;
}

unsigned sntk_schema_file_of_command(const char *command) {
  if (!strcmp(command, "train") || !strcmp(command, "score")) return SNTK_SCHEMA_RESULTS;
  if (!strcmp(command, "ntk")) return SNTK_SCHEMA_NTK;
  if (!strcmp(command, "sample")) return SNTK_SCHEMA_SAMPLES;
  if (!strcmp(command, "score-regression")) return SNTK_SCHEMA_REGRESSION;
  if (!strcmp(command, "bench")) return SNTK_SCHEMA_BENCH;
  return 0;
}

/* Does `s` match pattern `p` (placeholders: <step> one or more digits, <other> one or more of
 * [A-Za-z0-9_])? */
static int match(const char *p, const char *s) {
  while (*p) {
    if (*p == '<') {
      const char *close = strchr(p, '>');
      if (!close) return 0;
      int digits = !strncmp(p, "<step>", 6);
      p = close + 1;
      int k = 0;
      while (s[k] &&
             (digits ? isdigit((unsigned char)s[k]) : isalnum((unsigned char)s[k]) || s[k] == '_'))
        k++;
      for (; k >= 1; k--) /* the longest match that lets the rest match */
        if (match(p, s + k)) return 1;
      return 0;
    }
    if (*p++ != *s++) return 0;
  }
  return *s == '\0';
}

const sntk_schema_entry_t *sntk_schema_find(unsigned files, const char *path) {
  const int n = (int)(sizeof entries / sizeof entries[0]);
  for (int i = 0; i < n; i++)
    if ((entries[i].files & files) && !strcmp(entries[i].path, path)) return &entries[i];
  const sntk_schema_entry_t *best = NULL; /* the most specific pattern: most literal text */
  size_t best_len = 0;
  for (int i = 0; i < n; i++) {
    if (!(entries[i].files & files) || !strchr(entries[i].path, '<')) continue;
    if (!match(entries[i].path, path)) continue;
    size_t lit = 0;
    for (const char *c = entries[i].path; *c; c++) {
      if (*c == '<')
        c = strchr(c, '>');
      else
        lit++;
    }
    if (!best || lit > best_len) best = &entries[i], best_len = lit;
  }
  return best;
}

static const char *const kind_names[] = {"group", "dataset", "attribute"};

int sntk_schema_check_write(unsigned file, const char *path, sntk_schema_kind_t kind,
                            const char **units, const char **description) {
  if (!file) return SNTK_OK;
  const sntk_schema_entry_t *e = sntk_schema_find(file, path);
  if (!e || e->kind != kind)
    return sntk_error(SNTK_ERR_RUNTIME,
                      "%s %s is not declared in the schema of %s files (src/h5/schema.c)",
                      kind_names[kind], path, sntk_schema_file_name(file));
  if (units && *units && (!e->units || strcmp(*units, e->units)))
    return sntk_error(SNTK_ERR_RUNTIME, "units \"%s\" of %s differ from the schema's \"%s\"",
                      *units, path, e->units ? e->units : "");
  const int alt = description && *description && e->description_alt &&
                  !strcmp(*description, e->description_alt);
  if (description && *description && !alt && strcmp(*description, e->description))
    return sntk_error(SNTK_ERR_RUNTIME, "the description of %s differs from the schema's: \"%s\"",
                      path, e->description);
  if (units) *units = e->units;
  if (description && !alt) *description = e->description[0] ? e->description : NULL;
  return SNTK_OK;
}

void sntk_schema_print(FILE *out, unsigned files) {
  static const char *const type_names[] = {"-", "f64", "i64", "str"};
  int n;
  const sntk_schema_entry_t *t = sntk_schema_entries(&n);
  for (int f = 0; f < SNTK_SCHEMA_NFILES; f++) {
    if (!(files & (1u << f))) continue;
    fprintf(out, "# %s\n", file_names[f]);
    fprintf(out, "# path | kind | type | shape | units | required | writers\n");
    for (int i = 0; i < n; i++) {
      if (!(t[i].files & (1u << f))) continue;
      fprintf(out, "%s | %s | %s | %s | %s | %s | %s\n", t[i].path, kind_names[t[i].kind],
              type_names[t[i].type], t[i].shape[0] ? t[i].shape : "-",
              t[i].units ? t[i].units : "-", t[i].required ? "yes" : "no", t[i].writers);
      fprintf(out, "    %s%s%s\n", t[i].description[0] ? t[i].description : "-",
              t[i].description_alt ? "; or: " : "",
              t[i].description_alt ? t[i].description_alt : "");
    }
    fprintf(out, "\n");
  }
}
