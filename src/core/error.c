/* Error message, trace and collective agreement (see include/softntk/error.h). */
#include "softntk/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MSG_MAX   2048
#define TRACE_MAX 4096

static char g_msg[MSG_MAX];
static char g_trace[TRACE_MAX];

int sntk_error(int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(g_msg, sizeof g_msg, fmt, ap);
  va_end(ap);
  g_trace[0] = '\0';
  return code;
}

void sntk_error_trace(const char *func, const char *file, int line) {
  size_t used = strlen(g_trace);
  if (used + 1 < sizeof g_trace)
    snprintf(g_trace + used, sizeof g_trace - used, "  at %s (%s:%d)\n", func, file, line);
}

const char *sntk_error_message(void) {
  return g_msg;
}

const char *sntk_error_trace_text(void) {
  return g_trace;
}

void sntk_error_clear(void) {
  g_msg[0] = '\0';
  g_trace[0] = '\0';
}

int sntk_agree(MPI_Comm comm, int err) {
  int rank;
  MPI_Comm_rank(comm, &rank);
  /* MAXLOC picks the highest code; ties go to the lowest index, so the index is -rank negated back.
   */
  int in[2] = {err, -rank}, out[2];
  if (MPI_Allreduce(in, out, 1, MPI_2INT, MPI_MAXLOC, comm) != MPI_SUCCESS) {
    sntk_error(SNTK_ERR_RUNTIME, "MPI_Allreduce failed while agreeing on an error");
    return SNTK_ERR_RUNTIME;
  }
  if (out[0] == SNTK_OK) return SNTK_OK;
  int root = -out[1];
  static char buf[MSG_MAX + TRACE_MAX];
  if (rank == root) {
    memcpy(buf, g_msg, MSG_MAX);
    memcpy(buf + MSG_MAX, g_trace, TRACE_MAX);
  }
  MPI_Bcast(buf, (int)sizeof buf, MPI_CHAR, root, comm);
  if (rank != root) {
    memcpy(g_msg, buf, MSG_MAX);
    memcpy(g_trace, buf + MSG_MAX, TRACE_MAX);
  }
  g_msg[MSG_MAX - 1] = g_trace[TRACE_MAX - 1] = '\0';
  return out[0];
}

int sntk_check_mpi(int rc, const char *call, const char *file, int line) {
  if (rc == MPI_SUCCESS) return SNTK_OK;
  char s[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, s, &len);
  sntk_error(SNTK_ERR_RUNTIME, "MPI call failed: %s: %s", call, s);
  sntk_error_trace("MPI", file, line);
  return SNTK_ERR_RUNTIME;
}

int sntk_check_alloc(const void *p, size_t bytes, const char *what, const char *file, int line) {
  if (p) return SNTK_OK;
  sntk_error(SNTK_ERR_RUNTIME, "out of memory allocating %s (%.3g MiB)", what,
             (double)bytes / (1024.0 * 1024.0));
  sntk_error_trace("alloc", file, line);
  return SNTK_ERR_RUNTIME;
}
