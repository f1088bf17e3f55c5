/* Internals shared by the results writer (results.c) and its restart repair (results_repair.c).
 * Not part of the public API. */
#ifndef SOFTNTK_IO_RESULTS_IMPL_H
#define SOFTNTK_IO_RESULTS_IMPL_H

#include "softntk/results.h"

#include <hdf5.h>

/* Rank 0: create (truncating) a results file with the root attributes every softntk file carries.
 */
int results_create_file(const char *path, const char *command, const char *text, const char *hash,
                        int size);

/* Rank 0: bring the results file at `path` back to step `limit`, checked against `hist` (see
 * sntk_results_resume). *rebuilt = 1 when the file was replaced; the carried series are then not
 * in it yet. Problems found are reported with sntk_warn. */
int results_repair(const char *path, const char *command, const char *text, const char *hash,
                   int size, int64_t limit, const sntk_series_set_t *hist, int *rebuilt);

/* Rank 0: the series columns of the file at `path` that `hist` does not carry (every row), as an
 * owned set (empty when there are none). */
int results_extra_columns(const char *path, const sntk_series_set_t *hist, sntk_series_set_t *out);

/* Is the dataset a series column (extendible along its first dimension)? */
int results_is_column(hid_t ds);

/* Append `rows` rows of `width` values (width 0: 1-D) to the extendible dataset `name` in loc,
 * converted to its type; the fault point `results-extend@<step>` sits between the extension and
 * the write. */
int results_append_rows(hid_t loc, const char *name, int64_t rows, int64_t width,
                        const double *values, long long fault_step);

#endif
