/* Rank-0 logging to stdout and the run's log file (see log.h). */
#include "softntk/log.h"

#include "softntk/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int g_root = 1;
static int g_quiet = 0;
static FILE *g_file = NULL;

void sntk_log_init(MPI_Comm comm) {
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  g_root = rank == 0;
}

void sntk_log_set_quiet(int quiet) {
  g_quiet = quiet;
}

int sntk_log_open_file(const char *path) {
  if (!g_root) return SNTK_OK;
  if (g_file) fclose(g_file);
  g_file = NULL;
  if (!path) return SNTK_OK;
  g_file = fopen(path, "a");
  if (!g_file)
    return sntk_error(SNTK_ERR_RUNTIME, "cannot open log file %s: %s", path, strerror(errno));
  return SNTK_OK;
}

static void emit(FILE *stream, const char *prefix, const char *fmt, va_list ap) {
  char line[4096];
  vsnprintf(line, sizeof line, fmt, ap);
  if (!g_quiet || stream == stderr) {
    fprintf(stream, "%s%s\n", prefix, line);
    fflush(stream);
  }
  if (g_file) {
    fprintf(g_file, "%s%s\n", prefix, line);
    fflush(g_file);
  }
}

void sntk_log(const char *fmt, ...) {
  if (!g_root) return;
  va_list ap;
  va_start(ap, fmt);
  emit(stdout, "", fmt, ap);
  va_end(ap);
}

void sntk_warn(const char *fmt, ...) {
  if (!g_root) return;
  va_list ap;
  va_start(ap, fmt);
  emit(stderr, "softntk: warning: ", fmt, ap);
  va_end(ap);
}
