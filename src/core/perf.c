/* Named phase timers and their end-of-run summary (see perf.h). */
#include "softntk/perf.h"

#include "softntk/error.h"
#include "softntk/log.h"
#include "softntk/results.h"

#include <stdlib.h>
#include <string.h>

const char *const sntk_event_names[SNTK_EV_COUNT] = {
    "step",          "forward_gemm", "activation",   "allreduce",  "backward_gemm",
    "backward_elem", "update",       "ntk_features", "ntk_redist", "ntk_syrk",
    "ntk_hadamard",  "ntk_cholesky", "ntk_eigen",    "checkpoint", "results_io",
    "batch",         "score_eval",   "sampler",      "metrics"};

static struct {
  double started, seconds, flops;
  int64_t count;
} g_ev[SNTK_EV_COUNT];

void sntk_perf_start(sntk_event_t ev) {
  g_ev[ev].started = MPI_Wtime();
}

void sntk_perf_stop(sntk_event_t ev, double flops) {
  g_ev[ev].seconds += MPI_Wtime() - g_ev[ev].started;
  g_ev[ev].flops += flops;
  g_ev[ev].count++;
}

void sntk_perf_reset(void) {
  memset(g_ev, 0, sizeof g_ev);
}

sntk_perf_total_t sntk_perf_get(sntk_event_t ev) {
  sntk_perf_total_t t = {g_ev[ev].seconds, g_ev[ev].flops, g_ev[ev].count};
  return t;
}

int sntk_perf_report(MPI_Comm comm, double wall, struct sntk_results *res) {
  enum { N = SNTK_EV_COUNT };
  double t[N], tmin[N], tmax[N], tsum[N], f[N], fsum[N], cnt[N], cmax[N];
  int size;
  MPI_Comm_size(comm, &size);
  for (int e = 0; e < N; e++) {
    t[e] = g_ev[e].seconds;
    f[e] = g_ev[e].flops;
    cnt[e] = (double)g_ev[e].count;
  }
  SNTK_CALL(SNTK_MPI(MPI_Allreduce(t, tmin, N, MPI_DOUBLE, MPI_MIN, comm)));
  SNTK_CALL(SNTK_MPI(MPI_Allreduce(t, tmax, N, MPI_DOUBLE, MPI_MAX, comm)));
  SNTK_CALL(SNTK_MPI(MPI_Allreduce(t, tsum, N, MPI_DOUBLE, MPI_SUM, comm)));
  SNTK_CALL(SNTK_MPI(MPI_Allreduce(f, fsum, N, MPI_DOUBLE, MPI_SUM, comm)));
  SNTK_CALL(SNTK_MPI(MPI_Allreduce(cnt, cmax, N, MPI_DOUBLE, MPI_MAX, comm)));
  sntk_log("phase summary over %d rank(s), wall %.3f s (times: min / avg / max over ranks)", size,
           wall);
  sntk_log("  %-14s %9s %10s %10s %10s %7s %6s %10s", "event", "count", "min (s)", "avg (s)",
           "max (s)", "max/min", "%wall", "GFlop/s");
  double avg[N];
  for (int e = 0; e < N; e++) {
    avg[e] = tsum[e] / size;
    if (cmax[e] == 0) continue;
    double rate = tmax[e] > 0 ? fsum[e] / tmax[e] / 1e9 : 0.0;
    sntk_log("  %-14s %9.0f %10.4f %10.4f %10.4f %7.2f %6.1f %10.2f", sntk_event_names[e], cmax[e],
             tmin[e], avg[e], tmax[e], tmin[e] > 0 ? tmax[e] / tmin[e] : 1.0,
             wall > 0 ? 100.0 * tmax[e] / wall : 0.0, rate);
  }
  if (!res) return SNTK_OK;
  SNTK_CALL(sntk_results_strings(res, "/perf/event", N, sntk_event_names,
                                 "phase names, one per row of the other /perf datasets"));
  SNTK_CALL(sntk_results_matrix(res, "/perf/count", N, 0, cmax, "1",
                                "times the phase ran (max over ranks)"));
  SNTK_CALL(sntk_results_matrix(res, "/perf/time_min", N, 0, tmin, "s",
                                "phase time, minimum over ranks"));
  SNTK_CALL(
      sntk_results_matrix(res, "/perf/time_avg", N, 0, avg, "s", "phase time, average over ranks"));
  SNTK_CALL(sntk_results_matrix(res, "/perf/time_max", N, 0, tmax, "s",
                                "phase time, maximum over ranks"));
  SNTK_CALL(sntk_results_matrix(res, "/perf/flops", N, 0, fsum, "1",
                                "floating-point operations of the phase, summed over ranks"));
  /* every rank's own count beside the sum: equal totals across P say little if one rank's share
   * is wrong (experiments/scaling checks each rank's share against its neuron block) */
  double *frank = malloc((size_t)size * N * sizeof *frank);
  if (!frank)
    return sntk_error(SNTK_ERR_RUNTIME, "perf: no memory for a %d x %d flop table", size, (int)N);
  int rc = SNTK_MPI(MPI_Allgather(f, N, MPI_DOUBLE, frank, N, MPI_DOUBLE, comm));
  if (rc == SNTK_OK)
    rc = sntk_results_matrix(res, "/perf/flops_rank", size, N, frank, "1",
                             "floating-point operations of the phase on each rank (row: rank)");
  free(frank);
  SNTK_CALL(rc);
  SNTK_CALL(sntk_results_attr_f64(res, "perf_wall_time", wall));
  return SNTK_OK;
}
