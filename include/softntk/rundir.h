/* softntk run directory: <output_dir>/<name>/ holding results.h5, checkpoints/ and log.txt. */
#ifndef SOFTNTK_RUNDIR_H
#define SOFTNTK_RUNDIR_H

#include <mpi.h>
#include <stddef.h>

/* Collective. Create <output_dir>/<name> (and parents) on rank 0 and check it is writable. Writes
 * the directory path into dir (identical on every rank). */
int sntk_rundir_prepare(MPI_Comm comm, const char *output_dir, const char *name, char *dir,
                        size_t len);

/* Not collective. mkdir -p; SNTK_ERR_RUNTIME naming the path and reason on failure. */
int sntk_mkdirs(const char *path);

#endif
