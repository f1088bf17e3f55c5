/* softntk error handling: status codes, an error message with a call trace, check macros for MPI
 * and HDF5, and the collective agreement that turns one rank's failure into every rank's orderly
 * return.
 *
 * Convention: functions return int status (SNTK_OK = 0). A failing function records a message with
 * sntk_error() and returns its code; callers propagate it through SNTK_CALL (return at once) or
 * SNTK_TRY (jump to the function's single `done:` cleanup label, which needs an `int err` in
 * scope). Each hop adds "function (file:line)" to the trace. The state is per process; each rank
 * has its own. */
#ifndef SOFTNTK_ERROR_H
#define SOFTNTK_ERROR_H

#include <mpi.h>
#include <stddef.h>

/* Status codes double as the process exit status. */
enum {
  SNTK_OK = 0,
  SNTK_ERR_RUNTIME = 1, /* runtime failure: I/O, numerics, MPI, memory */
  SNTK_ERR_INPUT = 2,   /* usage or input error: bad deck, bad data file, bad arguments */
  SNTK_STOPPED = 3 /* stopped early with a valid checkpoint (not an error: resubmit to continue) */
};

/* Record an error message (printf-style) and return `code`. Replaces any earlier message and clears
 * the trace. Not collective. */
int sntk_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Append "func (file:line)" to the trace of the current error. Not collective. */
void sntk_error_trace(const char *func, const char *file, int line);

/* The current message / trace text ("" when none). */
const char *sntk_error_message(void);
const char *sntk_error_trace_text(void);
void sntk_error_clear(void);

/* Collective. Combine the local status `err` over `comm`: returns the highest code any rank holds
 * (0 when all succeeded), and copies the message and trace of the lowest rank holding that code to
 * every rank, so that rank 0 can print the one message that explains the failure. */
int sntk_agree(MPI_Comm comm, int err);

/* Check helpers behind the macros below: return 0, or record a message naming the call and return
 * SNTK_ERR_RUNTIME (HDF5 calls: sntk_check_h5 and SNTK_H5 in h5util.h). */
int sntk_check_mpi(int rc, const char *call, const char *file, int line);
int sntk_check_alloc(const void *p, size_t bytes, const char *what, const char *file, int line);

#define SNTK_CALL(expr)                                                                            \
  do {                                                                                             \
    int sntk_e_ = (expr);                                                                          \
    if (sntk_e_) {                                                                                 \
      sntk_error_trace(__func__, __FILE__, __LINE__);                                              \
      return sntk_e_;                                                                              \
    }                                                                                              \
  } while (0)

#define SNTK_TRY(expr)                                                                             \
  do {                                                                                             \
    err = (expr);                                                                                  \
    if (err) {                                                                                     \
      sntk_error_trace(__func__, __FILE__, __LINE__);                                              \
      goto done;                                                                                   \
    }                                                                                              \
  } while (0)

/* Status of an MPI call (communicators must use MPI_ERRORS_RETURN). */
#define SNTK_MPI(expr) sntk_check_mpi((expr), #expr, __FILE__, __LINE__)
/* Status of an HDF5 call returning herr_t/hid_t (negative = failure). */
/* Allocate `count` elements into `ptr` (zeroed); status 0 or a runtime error naming the size. */
#define SNTK_ALLOC(ptr, count)                                                                     \
  sntk_check_alloc(((ptr) = calloc((size_t)(count) > 0 ? (size_t)(count) : 1, sizeof *(ptr))),     \
                   (size_t)(count) * sizeof *(ptr), #ptr, __FILE__, __LINE__)

#endif
