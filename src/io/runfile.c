/* A command's output file in its run directory, and the network header of results files (see
 * runfile.h). */
#include "softntk/runfile.h"

#include "softntk/error.h"
#include "softntk/rundir.h"

#include <stdio.h>
#include <unistd.h>

int sntk_runfile_prepare(MPI_Comm comm, const char *output_dir, const char *name, const char *file,
                         int overwrite, char *dir, size_t dlen, char *path, size_t plen) {
  int rank, err = SNTK_OK;
  MPI_Comm_rank(comm, &rank);
  SNTK_CALL(sntk_rundir_prepare(comm, output_dir, name, dir, dlen));
  snprintf(path, plen, "%s/%s", dir, file);
  if (rank == 0 && !overwrite && access(path, F_OK) == 0)
    err = sntk_error(SNTK_ERR_INPUT,
                     "%s already exists: choose another run.name, or set run.overwrite = true to "
                     "replace it",
                     path);
  return sntk_agree(comm, err);
}

int sntk_runfile_header(sntk_results_t *res, const sntk_model_t *md, const sntk_dataset_t *ds,
                        int64_t seed, int64_t data_seed, int store) {
  if (ds) SNTK_CALL(sntk_results_attr_i64(res, "n", ds->n));
  SNTK_CALL(sntk_results_attr_i64(res, "d", md->d));
  SNTK_CALL(sntk_results_attr_i64(res, "k", md->k));
  SNTK_CALL(sntk_results_attr_i64(res, "m", md->m));
  SNTK_CALL(sntk_results_attr_str(res, "activation", sntk_activation_names[md->act]));
  SNTK_CALL(sntk_results_attr_f64(res, "gamma", md->gamma));
  SNTK_CALL(sntk_results_attr_f64(res, "nu", md->nu));
  SNTK_CALL(sntk_results_attr_f64(res, "sigma", md->sigma));
  SNTK_CALL(sntk_results_attr_i64(res, "seed", seed));
  SNTK_CALL(sntk_results_attr_i64(res, "reproducible", md->repro));
  SNTK_CALL(sntk_results_attr_i64(res, "neuron_block", md->repro ? md->block : 0));
  if (!ds) return SNTK_OK;
  if (data_seed >= 0) SNTK_CALL(sntk_results_attr_i64(res, "data_seed", data_seed));
  if (!store) return SNTK_OK;
  SNTK_CALL(sntk_results_matrix(res, "/data/X", ds->n, ds->d, ds->X, NULL, NULL));
  return sntk_results_matrix(res, "/data/Y", ds->n, ds->k, ds->Y, NULL, NULL);
}
