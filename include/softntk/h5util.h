/* softntk HDF5 helpers: reading a numeric matrix with input-error diagnosis, attributes, matrices
 * and extendible 1-D series. Not collective unless the file was opened with the MPI-IO driver, in
 * which case the caller follows HDF5's rules (metadata calls on every rank with the same
 * arguments). */
#ifndef SOFTNTK_H5UTIL_H
#define SOFTNTK_H5UTIL_H

#include <hdf5.h>
#include <stdint.h>

/* Read a 1-D or 2-D numeric dataset as doubles (row-major; 1-D gives cols = 1). Missing file,
 * unreadable file, non-HDF5 file, missing dataset, non-numeric type or rank > 2 give SNTK_ERR_INPUT
 * with a message naming file and dataset. Caller frees *data. */
int sntk_h5_read_matrix(const char *path, const char *dataset, int64_t *rows, int64_t *cols,
                        double **data);

/* Not collective. Read the datasets of `path` once in a forked child process. HDF5 1.10 can crash
 * on some damaged files (fuzzing found reads that dereference NULL inside the library); a crash in
 * the child becomes SNTK_ERR_INPUT naming the file, instead of ending the MPI job with a core dump.
 * Returns 0 when the child finished (its clean errors, if any, are for the caller's own read to
 * report). */
int sntk_h5_probe(const char *path, const char *const *datasets, int n);

/* Does the (possibly nested) link path exist below loc? */
int sntk_h5_exists(hid_t loc, const char *path);

/* Scalar attributes on an object (replaced if present). */
int sntk_h5_attr_str(hid_t obj, const char *name, const char *value);
int sntk_h5_attr_i64(hid_t obj, const char *name, int64_t value);
int sntk_h5_attr_f64(hid_t obj, const char *name, double value);

/* Read attributes; a missing attribute is SNTK_ERR_INPUT naming it. Caller frees *value for
 * strings. */
int sntk_h5_attr_read_str(hid_t obj, const char *name, char **value);
int sntk_h5_attr_read_i64(hid_t obj, const char *name, int64_t *value);
int sntk_h5_attr_read_f64(hid_t obj, const char *name, double *value);

/* Write a rows x cols double matrix (cols = 0 writes a 1-D dataset of length rows) with a units
 * attribute and a description. */
int sntk_h5_write_matrix(hid_t loc, const char *name, int64_t rows, int64_t cols,
                         const double *data, const char *units, const char *description);

/* Write n strings as a 1-D fixed-length string dataset with a description. */
int sntk_h5_write_strings(hid_t loc, const char *name, int64_t n, const char *const *strings,
                          const char *description);

/* Create an empty dataset extendible along its first dimension: 1-D when cols = 0, else rows of
 * `cols` values. Doubles, or int64 when is_int. Carries units and description attributes. */
int sntk_h5_series_create(hid_t loc, const char *name, int is_int, int64_t cols, const char *units,
                          const char *description);

/* Append `rows` rows (values converted to the dataset's type) to an extendible dataset. */
int sntk_h5_series_append(hid_t loc, const char *name, int64_t rows, const double *values);

/* Shrink an extendible dataset to its first `length` rows (first dimension). */
int sntk_h5_series_truncate(hid_t loc, const char *name, int64_t length);

/* Rows per chunk for a dataset of `rows` rows of `row_bytes` bytes: chunks of at most about
 * `target` bytes, all the same size, so that the last chunk is full to within one row per chunk
 * (a fixed chunk size would leave the last chunk almost empty: 8194 rows in chunks of 8192 waste
 * half the file). At least 1. */
int64_t sntk_h5_chunk_rows(int64_t rows, int64_t row_bytes, int64_t target);

/* Create the group (and missing parents) if absent; returns an open group id or negative. */
hid_t sntk_h5_group(hid_t loc, const char *path);

/* Record a failed HDF5 call as the current error, with HDF5's innermost error description, and
 * return SNTK_ERR_RUNTIME (0 when !failed). Not collective. */
int sntk_check_h5(int failed, const char *call, const char *file, int line);
#define SNTK_H5(expr) sntk_check_h5((expr) < 0, #expr, __FILE__, __LINE__)

/* Silence HDF5's automatic error printing (errors are reported through sntk_check_h5 instead). */
void sntk_h5_quiet(void);

#endif
