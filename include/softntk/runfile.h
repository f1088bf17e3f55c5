/* softntk run files: the output file a command writes into its run directory, and the header every
 * results file of a network starts with. Used by the training loop and by every command's driver,
 * so that one place decides what a results file says about its network. */
#ifndef SOFTNTK_RUNFILE_H
#define SOFTNTK_RUNFILE_H

#include "softntk/data.h"
#include "softntk/model.h"
#include "softntk/results.h"

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

/* Collective. Prepare the run directory <output_dir>/<name> (sntk_rundir_prepare) into dir and the
 * path of its output file `file` (e.g. "ntk.h5") into path. A file already there is refused
 * (SNTK_ERR_INPUT, agreed) unless `overwrite`. */
int sntk_runfile_prepare(MPI_Comm comm, const char *output_dir, const char *name, const char *file,
                         int overwrite, char *dir, size_t dlen, char *path, size_t plen);

/* Collective (as the results writers). The header of a results file about network md: attributes
 * d, k, m, activation, gamma, nu, sigma, seed; with a data set ds also n, data_seed (when >= 0)
 * and, with store, the set itself as /data/X and /data/Y. */
int sntk_runfile_header(sntk_results_t *res, const sntk_model_t *md, const sntk_dataset_t *ds,
                        int64_t seed, int64_t data_seed, int store);

#endif
