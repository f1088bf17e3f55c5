/* softntk's declarations of the BLACS, PBLAS and ScaLAPACK routines it calls.
 *
 * Debian ships libscalapack-openmpi without a C header, so the prototypes live here, in one place.
 * Conventions of the library as built on Debian (ScaLAPACK 2.2, gfortran):
 * - BLACS has a C interface (Cblacs_*); process grids are built on an MPI communicator through
 *   Csys2blacs_handle.
 * - PBLAS (pd{gemm,symm,syrk,tran,geadd,gemv}) and the redistribution routine pdgemr2d are written
 * in C with a Fortran calling convention: every argument by address, character arguments as char *
 *   without hidden lengths.
 * - The ScaLAPACK drivers and auxiliaries (pdpotrf, pdsyev*, pdlan*, pdlaset, ...) are Fortran:
 * every argument by address, plus one hidden length (size_t, value 1) per character argument,
 * appended after the regular arguments. Passing them keeps the calls correct under gfortran's ABI.
 * - Descriptors are int[9] filled by descinit_; indices are 1-based. numroc_ with a block size of 0
 *   divides by zero: sizes are validated before any call (see grid.h). */
#ifndef SOFTNTK_SCALAPACK_H
#define SOFTNTK_SCALAPACK_H

#include <mpi.h>
#include <stddef.h>

/* Descriptor entries (0-based positions of the Fortran DESC(1..9)). */
enum {
  SNTK_DESC_DTYPE,
  SNTK_DESC_CTXT,
  SNTK_DESC_M,
  SNTK_DESC_N,
  SNTK_DESC_MB,
  SNTK_DESC_NB,
  SNTK_DESC_RSRC,
  SNTK_DESC_CSRC,
  SNTK_DESC_LLD,
  SNTK_DESC_LEN
};

/* BLACS (C interface) */
void Cblacs_pinfo(int *mypnum, int *nprocs);
int Csys2blacs_handle(MPI_Comm comm);
void Cfree_blacs_system_handle(int handle);
void Cblacs_gridinit(int *ctxt, const char *order, int nprow, int npcol);
void Cblacs_gridinfo(int ctxt, int *nprow, int *npcol, int *myrow, int *mycol);
void Cblacs_gridexit(int ctxt);
void Cblacs_exit(int not_done);

/* Tools */
int numroc_(const int *n, const int *nb, const int *iproc, const int *isrcproc, const int *nprocs);
void descinit_(int *desc, const int *m, const int *n, const int *mb, const int *nb,
               const int *irsrc, const int *icsrc, const int *ctxt, const int *lld, int *info);

/* Redistribution between any two block-cyclic layouts (ctxt spans both grids). */
void pdgemr2d_(const int *m, const int *n, const double *a, const int *ia, const int *ja,
               const int *desca, double *b, const int *ib, const int *jb, const int *descb,
               const int *ctxt);

/* PBLAS */
void pdsyrk_(const char *uplo, const char *trans, const int *n, const int *k, const double *alpha,
             const double *a, const int *ia, const int *ja, const int *desca, const double *beta,
             double *c, const int *ic, const int *jc, const int *descc);
void pdgemm_(const char *transa, const char *transb, const int *m, const int *n, const int *k,
             const double *alpha, const double *a, const int *ia, const int *ja, const int *desca,
             const double *b, const int *ib, const int *jb, const int *descb, const double *beta,
             double *c, const int *ic, const int *jc, const int *descc);
void pdsymm_(const char *side, const char *uplo, const int *m, const int *n, const double *alpha,
             const double *a, const int *ia, const int *ja, const int *desca, const double *b,
             const int *ib, const int *jb, const int *descb, const double *beta, double *c,
             const int *ic, const int *jc, const int *descc);
void pdtran_(const int *m, const int *n, const double *alpha, const double *a, const int *ia,
             const int *ja, const int *desca, const double *beta, double *c, const int *ic,
             const int *jc, const int *descc);
void pdgeadd_(const char *trans, const int *m, const int *n, const double *alpha, const double *a,
              const int *ia, const int *ja, const int *desca, const double *beta, double *c,
              const int *ic, const int *jc, const int *descc);

/* ScaLAPACK (Fortran: hidden character lengths last) */
void pdpotrf_(const char *uplo, const int *n, double *a, const int *ia, const int *ja,
              const int *desca, int *info, size_t uplo_len);
void pdpotrs_(const char *uplo, const int *n, const int *nrhs, const double *a, const int *ia,
              const int *ja, const int *desca, double *b, const int *ib, const int *jb,
              const int *descb, int *info, size_t uplo_len);
void pdsyev_(const char *jobz, const char *uplo, const int *n, double *a, const int *ia,
             const int *ja, const int *desca, double *w, double *z, const int *iz, const int *jz,
             const int *descz, double *work, const int *lwork, int *info, size_t jobz_len,
             size_t uplo_len);
void pdsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *ia,
              const int *ja, const int *desca, double *w, double *z, const int *iz, const int *jz,
              const int *descz, double *work, const int *lwork, int *iwork, const int *liwork,
              int *info, size_t jobz_len, size_t uplo_len);
void pdsyevr_(const char *jobz, const char *range, const char *uplo, const int *n, double *a,
              const int *ia, const int *ja, const int *desca, const double *vl, const double *vu,
              const int *il, const int *iu, int *m, int *nz, double *w, double *z, const int *iz,
              const int *jz, const int *descz, double *work, const int *lwork, int *iwork,
              const int *liwork, int *info, size_t jobz_len, size_t range_len, size_t uplo_len);
void pdsytrd_(const char *uplo, const int *n, double *a, const int *ia, const int *ja,
              const int *desca, double *d, double *e, double *tau, double *work, const int *lwork,
              int *info, size_t uplo_len);
void pdormtr_(const char *side, const char *uplo, const char *trans, const int *m, const int *n,
              const double *a, const int *ia, const int *ja, const int *desca, const double *tau,
              double *c, const int *ic, const int *jc, const int *descc, double *work,
              const int *lwork, int *info, size_t side_len, size_t uplo_len, size_t trans_len);
double pdlange_(const char *norm, const int *m, const int *n, const double *a, const int *ia,
                const int *ja, const int *desca, double *work, size_t norm_len);
void pdlaset_(const char *uplo, const int *m, const int *n, const double *alpha, const double *beta,
              double *a, const int *ia, const int *ja, const int *desca, size_t uplo_len);

#endif
