/* softntk logging: only rank 0 prints. Lines go to stdout and, once a run directory exists, are
 * also appended to its plain-text log. Not collective (ranks other than 0 return at once). */
#ifndef SOFTNTK_LOG_H
#define SOFTNTK_LOG_H

#include <mpi.h>

/* Remember whether this process is rank 0 of `comm`. Call once after MPI_Init. */
void sntk_log_init(MPI_Comm comm);

/* Also append every later line to `path` (rank 0; NULL closes). Returns 0 or SNTK_ERR_RUNTIME. */
int sntk_log_open_file(const char *path);

/* printf-style line (a newline is added). */
void sntk_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Same, to stderr, prefixed "softntk: warning: ". */
void sntk_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Suppress stdout progress (the log file still receives it). */
void sntk_log_set_quiet(int quiet);

#endif
