/* MPI context, neuron partition, checked narrowing and the softmax-tuple reduction (see
 * parallel.h). */
#include "softntk/parallel.h"

#include "softntk/error.h"

#include <limits.h>
#include <stdio.h>
#include <math.h>
#include <string.h>

int sntk_ctx_create(MPI_Comm comm, sntk_ctx_t *ctx) {
  memset(ctx, 0, sizeof *ctx);
  ctx->comm = MPI_COMM_NULL;
  SNTK_CALL(SNTK_MPI(MPI_Comm_dup(comm, &ctx->comm)));
  MPI_Comm_set_errhandler(ctx->comm, MPI_ERRORS_RETURN);
  MPI_Comm_rank(ctx->comm, &ctx->rank);
  MPI_Comm_size(ctx->comm, &ctx->size);
  return SNTK_OK;
}

void sntk_ctx_destroy(sntk_ctx_t *ctx) {
  if (ctx->comm != MPI_COMM_NULL) MPI_Comm_free(&ctx->comm);
  ctx->comm = MPI_COMM_NULL;
}

void sntk_partition(int64_t m, int P, int p, int64_t *r0, int64_t *r1) {
  int64_t base = m / P, rem = m % P;
  *r0 = p * base + (p < rem ? p : rem);
  *r1 = *r0 + base + (p < rem ? 1 : 0);
}

int sntk_narrow(int64_t v, const char *what, int *out) {
  if (v > INT_MAX || v < INT_MIN)
    return sntk_error(SNTK_ERR_RUNTIME,
                      "%s = %lld does not fit the 32-bit integer an MPI/ScaLAPACK call takes", what,
                      (long long)v);
  *out = (int)v;
  return SNTK_OK;
}

void sntk_tuple_merge(const double *in, double *inout, int64_t count, int64_t k) {
  const int64_t w = k + 2;
  for (int64_t t = 0; t < count; t++, in += w, inout += w) {
    if (in[1] == 0.0) continue; /* in is the empty tuple */
    if (inout[1] == 0.0) {
      memcpy(inout, in, (size_t)w * sizeof *in);
      continue;
    }
    /* Written symmetrically in (in, inout): the result does not depend on the operand order. */
    double M = in[0] > inout[0] ? in[0] : inout[0];
    double fa = exp(in[0] - M), fb = exp(inout[0] - M);
    inout[0] = M;
    for (int64_t j = 1; j < w; j++) inout[j] = in[j] * fa + inout[j] * fb;
  }
}

static void tuple_merge_op(void *in, void *inout, int *len, MPI_Datatype *type) {
  int bytes = 0;
  MPI_Type_size(*type, &bytes);
  sntk_tuple_merge(in, inout, *len, bytes / (int)sizeof(double) - 2);
}

int sntk_tuple_op_create(int64_t k, MPI_Datatype *type, MPI_Op *op) {
  int w;
  SNTK_CALL(sntk_narrow(k + 2, "k + 2", &w));
  SNTK_CALL(SNTK_MPI(MPI_Type_contiguous(w, MPI_DOUBLE, type)));
  SNTK_CALL(SNTK_MPI(MPI_Type_commit(type)));
  SNTK_CALL(SNTK_MPI(MPI_Op_create(tuple_merge_op, 1, op)));
  return SNTK_OK;
}

void sntk_tuple_op_free(MPI_Datatype *type, MPI_Op *op) {
  if (*type != MPI_DATATYPE_NULL) MPI_Type_free(type);
  if (*op != MPI_OP_NULL) MPI_Op_free(op);
  *type = MPI_DATATYPE_NULL;
  *op = MPI_OP_NULL;
}

#define PIECE ((int64_t)1 << 28)

int sntk_allreduce_sum(double *buf, int64_t count, MPI_Comm comm) {
  for (int64_t off = 0; off < count; off += PIECE) {
    int64_t len = count - off < PIECE ? count - off : PIECE;
    SNTK_CALL(
        SNTK_MPI(MPI_Allreduce(MPI_IN_PLACE, buf + off, (int)len, MPI_DOUBLE, MPI_SUM, comm)));
  }
  return SNTK_OK;
}

int sntk_bcast_bytes(void *buf, int64_t bytes, int root, MPI_Comm comm) {
  char *p = buf;
  for (int64_t off = 0; off < bytes; off += PIECE) {
    int64_t len = bytes - off < PIECE ? bytes - off : PIECE;
    SNTK_CALL(SNTK_MPI(MPI_Bcast(p + off, (int)len, MPI_BYTE, root, comm)));
  }
  return SNTK_OK;
}

int64_t sntk_mem_available(void) {
  FILE *f = fopen("/proc/meminfo", "r");
  char line[256];
  long long kb = -1;
  if (!f) return -1;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "MemAvailable: %lld kB", &kb) == 1) break;
  fclose(f);
  return kb < 0 ? -1 : (int64_t)kb * 1024;
}

int sntk_mem_per_rank(MPI_Comm comm, int64_t *bytes) {
  MPI_Comm node;
  int local = 1;
  SNTK_CALL(SNTK_MPI(MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node)));
  MPI_Comm_size(node, &local);
  MPI_Comm_free(&node);
  int64_t avail = sntk_mem_available();
  int64_t mine = avail < 0 ? INT64_MAX : avail / local;
  SNTK_CALL(SNTK_MPI(MPI_Allreduce(&mine, bytes, 1, MPI_INT64_T, MPI_MIN, comm)));
  if (*bytes == INT64_MAX) *bytes = -1;
  return SNTK_OK;
}
