/* softntk results file: results.h5 of a run (DESIGN.md section 4).
 *
 * Rank 0 does the I/O; every function is collective only in that the ranks agree on its status
 * afterwards, so an I/O failure ends every rank cleanly. The file stays closed between calls.
 * Time series are appended to extendible datasets by sntk_results_flush; rank 0 also keeps every
 * row of every series in memory, so that a checkpoint can carry the series up to its step
 * (sntk_results_history) and a restart can check the file against them and repair it
 * (sntk_results_resume): whatever a crash, a killed launcher or a torn write did to results.h5, a
 * resumed run's series equal an uninterrupted run's row for row. */
#ifndef SOFTNTK_RESULTS_H
#define SOFTNTK_RESULTS_H

#include <mpi.h>
#include <stdint.h>

#define SNTK_RESULTS_FORMAT  "softntk-results"
#define SNTK_RESULTS_VERSION 1

/* One column of a series as a checkpoint carries it. Global except `data`. */
typedef struct sntk_series_col {
  char group[256];       /* "/train" */
  char name[64];         /* "loss" */
  int is_int;            /* stored as int64 in results.h5 */
  int64_t width;         /* 0: one value per row (a 1-D dataset); > 0: rows of `width` values */
  int64_t rows;          /* number of rows */
  double *data;          /* rows x max(width, 1) values, row-major; rank 0 only (NULL elsewhere) */
  char units[32];        /* units attribute ("" unknown) */
  char description[512]; /* description attribute ("" unknown) */
} sntk_series_col_t;

/* The series of a run up to some step: every column of every series group. */
typedef struct sntk_series_set {
  int ncols;
  sntk_series_col_t *cols;
  int owned; /* the set owns cols[i].data (sntk_series_set_free frees them) */
} sntk_series_set_t;

/* Not collective. Free a set (its data only when owned); safe on an empty set. */
void sntk_series_set_free(sntk_series_set_t *set);

/* Not collective. The column group/name of a set (group with its leading '/'), or NULL. */
const sntk_series_col_t *sntk_series_set_find(const sntk_series_set_t *set, const char *group,
                                              const char *name);

typedef struct sntk_results sntk_results_t;

/* One column of a series: an extendible 1-D dataset /<group>/<name>. */
typedef struct sntk_column {
  const char *name;
  int is_int; /* stored as int64 (values must be whole numbers) */
  const char *units;
  const char *description;
} sntk_column_t;

/* Collective. Create (truncating) the results file at `path` with the root attributes every softntk
 * file carries: format and version, softntk version, command, the resolved config and its hash, MPI
 * size and the start time (UTC, ISO 8601). */
int sntk_results_create(MPI_Comm comm, const char *path, const char *command,
                        const char *config_text, const char *config_hash, sntk_results_t **out);

/* Collective. Reopen the results file of a run resumed at step `step` from a checkpoint whose
 * series are `hist` (metadata on every rank, data on rank 0), and make it read as if the run had
 * just reached `step`: in every series group (a group holding a `step` dataset) the rows with step
 * >= `step` are dropped, and so are snapshot datasets <name>_<t> with t >= step.
 * Before that the file is checked, in a child process (HDF5 can crash on a damaged file): every
 * series the checkpoint carries must hold exactly its rows before `step`, every other series
 * strictly increasing steps, and every other dataset must read back with valid checksums. A file
 * that fails (rows of a writer that outlived its launcher, a torn flush, a damaged or missing file)
 * is rebuilt: a new file with the root attributes, every other dataset that validates, and the
 * checkpoint's series; a warning names what was wrong. *rebuilt = 1 then (the caller writes its
 * header again). Every series of the file is held in memory afterwards, as if appended. `command`,
 * `config_text` and `config_hash` are those of sntk_results_create, for a rebuilt file. */
int sntk_results_resume(MPI_Comm comm, const char *path, const char *command,
                        const char *config_text, const char *config_hash, int64_t step,
                        const sntk_series_set_t *hist, int *rebuilt, sntk_results_t **out);

/* Collective. The rows of every series with step < `step` (in each group, the rows before the
 * first whose `step` column reaches it), as a set that borrows the results' buffers (valid until
 * the next append; do not free the data). */
int sntk_results_history(sntk_results_t *res, int64_t step, sntk_series_set_t *set);

/* Collective. Root attributes (rank 0 writes; the value given on rank 0 counts). */
int sntk_results_attr_f64(sntk_results_t *res, const char *name, double value);
int sntk_results_attr_i64(sntk_results_t *res, const char *name, int64_t value);
int sntk_results_attr_str(sntk_results_t *res, const char *name, const char *value);

/* Collective. Write a matrix (cols = 0: a vector) at `path` ("/group/name"), creating groups. */
int sntk_results_matrix(sntk_results_t *res, const char *path, int64_t rows, int64_t cols,
                        const double *data, const char *units, const char *description);

/* Collective. Write n strings at `path` as a string dataset (rank 0's values count). */
int sntk_results_strings(sntk_results_t *res, const char *path, int64_t n,
                         const char *const *strings, const char *description);

/* Collective. Remove the object (dataset or group, with everything below it) at `path` when it
 * exists (a later write starts afresh). */
int sntk_results_remove(sntk_results_t *res, const char *path);

/* Collective. Declare a series: the columns under `group`. Returns its id (>= 0) in *id. */
int sntk_results_series(sntk_results_t *res, const char *group, int ncols,
                        const sntk_column_t *cols, int *id);

/* Collective. Declare a 2-D series: one extendible dataset /<group>/<name> whose rows hold `width`
 * values each (for example one spectrum per snapshot). Rows are appended with sntk_results_append
 * (width values) and written by sntk_results_flush. Returns its id in *id. */
int sntk_results_rows(sntk_results_t *res, const char *group, const char *name, int64_t width,
                      const char *units, const char *description, int *id);

/* Collective. Attributes of the object (group or dataset) at `path`, which must exist. */
int sntk_results_attr_at_f64(sntk_results_t *res, const char *path, const char *name, double value);
int sntk_results_attr_at_str(sntk_results_t *res, const char *path, const char *name,
                             const char *value);

/* Collective (every rank calls it for every row; the ranks agree only when the buffer grows).
 * Buffer one row (ncols values) of series `id`. Only rank 0's values are used; others may pass any
 * row. */
int sntk_results_append(sntk_results_t *res, int id, const double *row);

/* Collective. Append every buffered row to the file. */
int sntk_results_flush(sntk_results_t *res);

/* Collective. Flush and free (safe on NULL). */
int sntk_results_close(sntk_results_t **res);

/* Not collective. Free without writing (on an error path, after the ranks agreed to stop). */
void sntk_results_free(sntk_results_t **res);

/* Path of the file. */
const char *sntk_results_path(const sntk_results_t *res);

/* Collective. sntk_perf_summary over comm (the summary table is printed) and, when res is given,
 * /perf: event names, count, time_min/avg/max over ranks (s), flops summed over ranks and per rank,
 * and the run's wall time as the attribute perf_wall_time. */
int sntk_perf_report(MPI_Comm comm, double wall_seconds, sntk_results_t *res);

#endif
