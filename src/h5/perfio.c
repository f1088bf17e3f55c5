/* The phase summary of a run stored in its results file as /perf (see results.h). */
#include "softntk/error.h"
#include "softntk/perf.h"
#include "softntk/results.h"

static int write_perf(sntk_results_t *res, const sntk_perf_summary_t *s) {
  enum { N = SNTK_EV_COUNT };
  SNTK_CALL(sntk_results_strings(res, "/perf/event", N, sntk_event_names,
                                 "phase names, one per row of the other /perf datasets"));
  SNTK_CALL(sntk_results_matrix(res, "/perf/count", N, 0, s->count, "1",
                                "times the phase ran (max over ranks)"));
  SNTK_CALL(sntk_results_matrix(res, "/perf/time_min", N, 0, s->time_min, "s",
                                "phase time, minimum over ranks"));
  SNTK_CALL(sntk_results_matrix(res, "/perf/time_avg", N, 0, s->time_avg, "s",
                                "phase time, average over ranks"));
  SNTK_CALL(sntk_results_matrix(res, "/perf/time_max", N, 0, s->time_max, "s",
                                "phase time, maximum over ranks"));
  SNTK_CALL(sntk_results_matrix(res, "/perf/flops", N, 0, s->flops, "1",
                                "floating-point operations of the phase, summed over ranks"));
  SNTK_CALL(sntk_results_matrix(res, "/perf/flops_rank", s->nranks, N, s->flops_rank, "1",
                                "floating-point operations of the phase on each rank (row: rank)"));
  return sntk_results_attr_f64(res, "perf_wall_time", s->wall);
}

int sntk_perf_report(MPI_Comm comm, double wall, sntk_results_t *res) {
  sntk_perf_summary_t s;
  SNTK_CALL(sntk_perf_summary(comm, wall, &s));
  int err = res ? write_perf(res, &s) : SNTK_OK;
  sntk_perf_summary_free(&s);
  return err;
}
