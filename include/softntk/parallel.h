/* softntk parallel layer: the MPI context, the contiguous neuron partition, checked narrowing to
 * int at the MPI boundary, and the softmax-tuple reduction (DESIGN.md section 3).
 *
 * The softmax tuple of one sample over a set of neurons R is (M, s, num_1..num_k) with
 * M = max_{r in R} z_r, s = sum_{r in R} exp(z_r - M), num_l = sum_{r in R} a_{l,r} exp(z_r - M).
 * Two tuples merge by rescaling both to the larger max and adding; the merge is commutative bit for
 * bit and associative up to round-off, so one MPI_Allreduce of (k + 2) doubles per sample combines
 * the ranks' partial normalisers into the global softmax. An empty set is the tuple with s = 0. */
#ifndef SOFTNTK_PARALLEL_H
#define SOFTNTK_PARALLEL_H

#include <mpi.h>
#include <stdint.h>

typedef struct sntk_ctx {
  MPI_Comm comm; /* private duplicate with MPI_ERRORS_RETURN */
  int rank, size;
} sntk_ctx_t;

/* Collective. Duplicate `comm` into ctx (errors return instead of aborting). */
int sntk_ctx_create(MPI_Comm comm, sntk_ctx_t *ctx);
void sntk_ctx_destroy(sntk_ctx_t *ctx);

/* Not collective. Rank p of P owns neurons [r0, r1): contiguous blocks, the first (m mod P) ranks
 * one neuron more. */
void sntk_partition(int64_t m, int P, int p, int64_t *r0, int64_t *r1);

/* Not collective. Narrow a global size to int for an MPI/ScaLAPACK argument; a value beyond INT_MAX
 * is a runtime error naming `what`. */
int sntk_narrow(int64_t v, const char *what, int *out);

/* Not collective. The datatype (k + 2 contiguous doubles) and commutative merge operation for
 * softmax tuples with k numerators. Free both with sntk_tuple_op_free. */
int sntk_tuple_op_create(int64_t k, MPI_Datatype *type, MPI_Op *op);
void sntk_tuple_op_free(MPI_Datatype *type, MPI_Op *op);

/* Not collective. Merge tuple array `in` into `inout` (count tuples of width k + 2), as the MPI op
 * does. */
void sntk_tuple_merge(const double *in, double *inout, int64_t count, int64_t k);

/* Collective. Sum `count` doubles in place over comm in pieces small enough for an int count. */
int sntk_allreduce_sum(double *buf, int64_t count, MPI_Comm comm);

/* Collective. Broadcast `bytes` bytes from root in pieces small enough for an int count. */
int sntk_bcast_bytes(void *buf, int64_t bytes, int root, MPI_Comm comm);

/* Not collective. MemAvailable of this node, bytes (-1 if unknown). */
int64_t sntk_mem_available(void);

/* Collective. Memory available to each rank on this rank's node: MemAvailable divided by the number
 * of ranks sharing the node; the minimum over all ranks, bytes (-1 if unknown). */
int sntk_mem_per_rank(MPI_Comm comm, int64_t *bytes);

#endif
