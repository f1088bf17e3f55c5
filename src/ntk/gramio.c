/* Collective write of a distributed symmetric matrix into an HDF5 file through MPI-IO.
 *
 * Every rank writes its own blocks, no gathering: the local part is column-major (lld x nloc),
 * which HDF5 sees as a C array [nloc][lld]; its row lj is global column gcol(lj), its column li
 * global row grow(li). Selecting in the file the rows {gcol} and columns {grow} therefore stores
 * H^T, which is H since H is symmetric (both triangles are kept, see gram.c). Both index sets are
 * block-cyclic: a regular hyperslab of full blocks plus possibly one partial last block per
 * dimension, so the file selection is at most four regular hyperslabs, and HDF5 walks it in the
 * same row-major order as the memory selection. Transfers are collective (H5FD_MPIO_COLLECTIVE); a
 * rank without data selects nothing but still takes part. The dataset carries no filter (parallel
 * HDF5 writes it by hyperslabs), so it gets the attribute `entry_sum`, the sum over its entries of
 * sntk_entry_hash (each rank adds its own), written after the data: a restart keeps a Gram matrix
 * of an interrupted run only when it still matches. */
#include "ntk_impl.h"

#include "softntk/error.h"
#include "softntk/filesum.h"
#include "softntk/h5util.h"
#include "softntk/schema.h"

#include <hdf5.h>
#include <stdio.h>
#include <string.h>

/* The indices process p of P owns in a dimension of n in blocks of nb: `count` full blocks at
 * start + i stride, and a partial block [pstart, pstart + plen) when plen > 0. */
typedef struct dimsel {
  hsize_t start, stride, count, block, pstart, plen;
} dimsel_t;

static dimsel_t dim_selection(int64_t n, int64_t nb, int p, int P) {
  const int64_t nfull = n / nb, rem = n % nb;
  dimsel_t s = {(hsize_t)(p * nb), (hsize_t)(P * nb), 0, (hsize_t)nb, (hsize_t)(nfull * nb), 0};
  s.count = nfull > p ? (hsize_t)((nfull - p + P - 1) / P) : 0;
  if (rem && nfull % P == p) s.plen = (hsize_t)rem;
  return s;
}

/* OR one product of a row piece and a column piece into the file selection. */
static int select_piece(hid_t space, int *first, hsize_t r0, hsize_t rstride, hsize_t rcount,
                        hsize_t rblock, hsize_t c0, hsize_t cstride, hsize_t ccount,
                        hsize_t cblock) {
  if (rcount == 0 || ccount == 0 || rblock == 0 || cblock == 0) return SNTK_OK;
  hsize_t start[2] = {r0, c0}, stride[2] = {rstride, cstride}, count[2] = {rcount, ccount},
          block[2] = {rblock, cblock};
  H5S_seloper_t op = *first ? H5S_SELECT_SET : H5S_SELECT_OR;
  *first = 0;
  return SNTK_H5(H5Sselect_hyperslab(space, op, start, stride, count, block));
}

/* File selection of this rank's entries (rows: its global columns; columns: its global rows). */
static int select_file(const sntk_dmat_t *H, hid_t space) {
  const sntk_grid_t *g = H->grid;
  dimsel_t r = dim_selection(H->n, H->nb, g->mycol, g->npcol);
  dimsel_t c = dim_selection(H->m, H->mb, g->myrow, g->nprow);
  int first = 1;
  SNTK_CALL(select_piece(space, &first, r.start, r.stride, r.count, r.block, c.start, c.stride,
                         c.count, c.block));
  SNTK_CALL(
      select_piece(space, &first, r.start, r.stride, r.count, r.block, c.pstart, 1, 1, c.plen));
  SNTK_CALL(
      select_piece(space, &first, r.pstart, 1, 1, r.plen, c.start, c.stride, c.count, c.block));
  SNTK_CALL(select_piece(space, &first, r.pstart, 1, 1, r.plen, c.pstart, 1, 1, c.plen));
  if (first) SNTK_CALL(SNTK_H5(H5Sselect_none(space)));
  return SNTK_OK;
}

static int write_local(const sntk_dmat_t *H, hid_t ds) {
  hsize_t fdims[2] = {(hsize_t)H->n, (hsize_t)H->m}, mdims[2] = {(hsize_t)H->nloc, (hsize_t)H->lld};
  hsize_t zero[2] = {0, 0}, count[2] = {(hsize_t)H->nloc, (hsize_t)H->mloc};
  hid_t fs = -1, ms = -1, dx = -1;
  int err = SNTK_OK;
  const int empty = H->mloc == 0 || H->nloc == 0;
  if (mdims[0] == 0) mdims[0] = 1;
  SNTK_TRY(SNTK_H5(fs = H5Screate_simple(2, fdims, NULL)));
  SNTK_TRY(SNTK_H5(ms = H5Screate_simple(2, mdims, NULL)));
  if (empty) {
    SNTK_TRY(SNTK_H5(H5Sselect_none(fs)));
    SNTK_TRY(SNTK_H5(H5Sselect_none(ms)));
  } else {
    SNTK_TRY(select_file(H, fs));
    SNTK_TRY(SNTK_H5(H5Sselect_hyperslab(ms, H5S_SELECT_SET, zero, NULL, count, NULL)));
  }
  SNTK_TRY(SNTK_H5(dx = H5Pcreate(H5P_DATASET_XFER)));
  SNTK_TRY(SNTK_H5(H5Pset_dxpl_mpio(dx, H5FD_MPIO_COLLECTIVE)));
  SNTK_TRY(SNTK_H5(H5Dwrite(ds, H5T_NATIVE_DOUBLE, ms, fs, dx, H->a)));
done:
  if (dx >= 0) H5Pclose(dx);
  if (ms >= 0) H5Sclose(ms);
  if (fs >= 0) H5Sclose(fs);
  return err;
}

/* Collective: the entry_sum of H as stored (entry (gcol, grow) of the [n, m] dataset), hex. */
static int entry_sum(const sntk_dmat_t *H, char out[32]) {
  uint64_t sum = 0;
  for (int64_t lj = 0; lj < H->nloc; lj++)
    for (int64_t li = 0; li < H->mloc; li++) {
      const uint64_t index = (uint64_t)(sntk_dmat_gcol(H, lj) * H->n + sntk_dmat_grow(H, li));
      sum += sntk_entry_hash(index, H->a[lj * H->lld + li]);
    }
  SNTK_CALL(SNTK_MPI(MPI_Allreduce(MPI_IN_PLACE, &sum, 1, MPI_UINT64_T, MPI_SUM, H->grid->comm)));
  snprintf(out, 32, "%016llx", (unsigned long long)sum);
  return SNTK_OK;
}

int ntk_write_gram(const sntk_dmat_t *H, const char *path, const char *group, const char *name,
                   const char *description) {
  MPI_Comm comm = H->grid->comm;
  hsize_t dims[2] = {(hsize_t)H->m, (hsize_t)H->n};
  hid_t fa = -1, f = -1, g = -1, sp = -1, ds = -1;
  char sum[32], full[512];
  const char *units = NULL;
  int err = SNTK_OK;
  /* the dataset and its entry_sum as the schema declares them (units and description from there) */
  const unsigned file = sntk_schema_file_of_path(path);
  snprintf(full, sizeof full, "%s%s/%s", group[0] == '/' ? "" : "/", group, name);
  err = sntk_schema_check_write(file, full, SNTK_SCHEMA_DATASET, &units, &description);
  snprintf(full + strlen(full), sizeof full - strlen(full), "@entry_sum");
  if (!err) err = sntk_schema_check_write(file, full, SNTK_SCHEMA_ATTR, NULL, NULL);
  SNTK_CALL(sntk_agree(comm, err));
  SNTK_CALL(entry_sum(H, sum));
  SNTK_TRY(SNTK_H5(fa = H5Pcreate(H5P_FILE_ACCESS)));
  SNTK_TRY(SNTK_H5(H5Pset_fapl_mpio(fa, comm, MPI_INFO_NULL)));
  f = H5Fopen(path, H5F_ACC_RDWR, fa);
  if (f < 0) {
    err = sntk_error(SNTK_ERR_RUNTIME, "cannot open %s with the MPI-IO driver", path);
    goto done;
  }
  SNTK_TRY(SNTK_H5(g = sntk_h5_group(f, group)));
  if (sntk_h5_exists(g, name)) SNTK_TRY(SNTK_H5(H5Ldelete(g, name, H5P_DEFAULT)));
  SNTK_TRY(SNTK_H5(sp = H5Screate_simple(2, dims, NULL)));
  SNTK_TRY(
      SNTK_H5(ds = H5Dcreate2(g, name, H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)));
  SNTK_TRY(write_local(H, ds));
  SNTK_TRY(sntk_h5_attr_str(ds, "entry_sum", sum));
  SNTK_TRY(sntk_h5_attr_str(ds, "units", units ? units : "1"));
  SNTK_TRY(sntk_h5_attr_str(ds, "description", description));
done:
  if (ds >= 0) H5Dclose(ds);
  if (sp >= 0) H5Sclose(sp);
  if (g >= 0) H5Gclose(g);
  if (f >= 0 && H5Fclose(f) < 0 && !err) err = SNTK_H5(-1);
  if (fa >= 0) H5Pclose(fa);
  return sntk_agree(comm, err);
}
