/* softntk inspect: print what a softntk HDF5 file (checkpoint or results) says about itself and
 * verify it: every dataset is read whole, so every Fletcher32 checksum and the file's metadata
 * checksums are checked. Not collective (rank 0 calls it). */
#ifndef SOFTNTK_INSPECT_H
#define SOFTNTK_INSPECT_H

#include <hdf5.h>
#include <stdio.h>

/* Returns 0 when the file is valid, SNTK_ERR_RUNTIME (with a message naming the dataset and the
 * failure) when it is not, SNTK_ERR_INPUT when it is missing or not a softntk file. */
int sntk_inspect_file(const char *path, FILE *out);

/* Print the declared schema (schema.h) of the file kind `which` ("results", "ntk", "samples",
 * "regression", "bench", "checkpoint"; NULL: all of them). SNTK_ERR_INPUT naming the kinds when
 * `which` is none of them. */
int sntk_inspect_schema(const char *which, FILE *out);

/* Check an open softntk file of kind `file` (a SNTK_SCHEMA_* bit) against the schema: every group,
 * dataset and attribute declared for that kind, with the declared type, rank and sizes (the
 * symbols n, d, k, m, nk and P against the file's own attributes), units and description; every
 * required one present. Prints one line per problem; SNTK_ERR_RUNTIME naming the first. */
int sntk_inspect_check_schema(hid_t file, unsigned kind, FILE *out);

#endif
