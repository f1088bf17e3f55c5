/* Minimal MPI-aware test harness: checks count failures on every rank; th_finish combines them,
 * rank 0 prints a summary, and the exit status is non-zero if any rank failed. Each passing check
 * of a number prints the measured value (rank 0), so test logs carry the numbers the tests exist
 * for. */
#ifndef SOFTNTK_TEST_HARNESS_H
#define SOFTNTK_TEST_HARNESS_H

#include "softntk/data.h"
#include "softntk/error.h"
#include "softntk/h5util.h"
#include "softntk/model.h"

#include <float.h>
#include <math.h>
#include <mpi.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int th_rank = 0, th_size = 1, th_checks = 0, th_failures = 0;

static inline void th_init(int *argc, char ***argv) {
  MPI_Init(argc, argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &th_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &th_size);
  sntk_h5_quiet();
}

static inline void th_vreport(int ok, const char *file, int line, const char *fmt, va_list ap) {
  char msg[1024];
  vsnprintf(msg, sizeof msg, fmt, ap);
  th_checks++;
  if (!ok) {
    th_failures++;
    fprintf(stderr, "FAIL [rank %d/%d] %s:%d: %s\n", th_rank, th_size, file, line, msg);
  } else if (th_rank == 0) {
    printf("ok   %s\n", msg);
  }
  fflush(stdout);
}

static inline int th_ok_(int ok, const char *file, int line, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  th_vreport(ok, file, line, fmt, ap);
  va_end(ap);
  return ok;
}
#define TH_OK(cond, ...) th_ok_(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

static inline double th_rel(double a, double b) {
  return b != 0 ? fabs(a - b) / fabs(b) : fabs(a);
}

/* Round-off bounds (Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed., section 3.1):
 * the unit roundoff u = eps / 2, and gamma_n = n u / (1 - n u), so that a sum or dot product of n
 * terms computed in any order is within gamma_n sum |terms| of the exact value. */
#define TH_U (DBL_EPSILON / 2)
static inline double th_gamma(double n) {
  return n * TH_U / (1.0 - n * TH_U);
}

/* The larger of two error ratios, NaN if either is (fmax would drop a NaN and pass the check). */
static inline double th_max(double worst, double r) {
  return isnan(worst) || isnan(r) ? NAN : fmax(worst, r);
}

/* max_i |a_i - b_i| / bound_i: at most 1 when a and b agree within the entrywise bound (equal
 * entries count 0, so a zero bound asks for equality; NaN anywhere gives NaN, which fails every
 * `<= 1` check). */
static inline double th_bound_ratio(const double *a, const double *b, const double *bound, long n) {
  double worst = 0.0;
  for (long i = 0; i < n; i++) {
    const double e = fabs(a[i] - b[i]);
    const double r = e == 0.0 ? 0.0 : e / bound[i];
    if (isnan(r)) return NAN;
    if (r > worst) worst = r;
  }
  return worst;
}

/* A model configuration of the tests: activation, width and init, sigma 1, the paper's output
 * scale, everything else zero. */
static inline sntk_model_cfg_t th_model_cfg(int act, int64_t m, int init) {
  sntk_model_cfg_t c;
  memset(&c, 0, sizeof c);
  c.activation = act;
  c.width = m;
  c.sigma = 1.0;
  c.init = init;
  strcpy(c.output_scale, "paper");
  return c;
}

/* Generated test data, the same on every rank: n points on the unit sphere in d dimensions (the
 * last coordinate constant) with targets from a width-8 tanh teacher. */
static inline int th_sphere_data(int64_t n, int64_t d, int64_t k, uint64_t seed,
                                 sntk_dataset_t *ds) {
  sntk_data_cfg_t c;
  memset(&c, 0, sizeof c);
  c.source = SNTK_SOURCE_SPHERE;
  c.target = SNTK_TARGET_TEACHER;
  c.n = n, c.d = d, c.k = k;
  c.constant_coord = 1;
  c.norm_min = c.norm_max = 1;
  c.teacher_width = 8;
  return sntk_data_load(MPI_COMM_WORLD, &c, seed, 0, ds);
}

/* Combine failures over all ranks, print the summary, finalize MPI; returns the exit status. */
static inline int th_finish(void) {
  int all = 0, checks = 0;
  MPI_Allreduce(&th_failures, &all, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  MPI_Allreduce(&th_checks, &checks, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  if (th_rank == 0) printf("%d checks, %d failures (%d ranks)\n", checks, all, th_size);
  MPI_Finalize();
  return all ? 1 : 0;
}

/* Abort the test after a failed precondition: every rank reaches this together in our tests. */
static inline int th_finish_now(void) {
  th_finish();
  return 1;
}

/* A library call that must succeed: on failure report its message. */
#define TH_CALL(expr)                                                                              \
  do {                                                                                             \
    int th_e_ = (expr);                                                                            \
    TH_OK(th_e_ == 0, "%s -> %d %s", #expr, th_e_, th_e_ ? sntk_error_message() : "");             \
    if (th_e_) return th_finish_now();                                                             \
  } while (0)

#endif
