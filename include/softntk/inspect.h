/* softntk inspect: print what a softntk HDF5 file (checkpoint or results) says about itself and
 * verify it: every dataset is read whole, so every Fletcher32 checksum and the file's metadata
 * checksums are checked. Not collective (rank 0 calls it). */
#ifndef SOFTNTK_INSPECT_H
#define SOFTNTK_INSPECT_H

#include <stdio.h>

/* Returns 0 when the file is valid, SNTK_ERR_RUNTIME (with a message naming the dataset and the
 * failure) when it is not, SNTK_ERR_INPUT when it is missing or not a softntk file. */
int sntk_inspect_file(const char *path, FILE *out);

#endif
