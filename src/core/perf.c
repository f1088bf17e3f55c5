/* Named phase timers and their end-of-run summary (see perf.h). */
#include "softntk/perf.h"

#include "softntk/error.h"
#include "softntk/log.h"

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

double sntk_wtime_sync(MPI_Comm comm) {
  MPI_Barrier(comm);
  return MPI_Wtime();
}

double sntk_tmax(MPI_Comm comm, double t) {
  double m = t;
  MPI_Allreduce(&t, &m, 1, MPI_DOUBLE, MPI_MAX, comm);
  return m;
}

void sntk_perf_summary_free(sntk_perf_summary_t *s) {
  free(s->flops_rank);
  s->flops_rank = NULL;
}

int sntk_perf_summary(MPI_Comm comm, double wall, sntk_perf_summary_t *s) {
  enum { N = SNTK_EV_COUNT };
  double t[N], tsum[N], f[N], cnt[N];
  int size;
  MPI_Comm_size(comm, &size);
  memset(s, 0, sizeof *s);
  s->nranks = size;
  s->wall = wall;
  for (int e = 0; e < N; e++) {
    t[e] = g_ev[e].seconds;
    f[e] = g_ev[e].flops;
    cnt[e] = (double)g_ev[e].count;
  }
  SNTK_CALL(SNTK_MPI(MPI_Allreduce(t, s->time_min, N, MPI_DOUBLE, MPI_MIN, comm)));
  SNTK_CALL(SNTK_MPI(MPI_Allreduce(t, s->time_max, N, MPI_DOUBLE, MPI_MAX, comm)));
  SNTK_CALL(SNTK_MPI(MPI_Allreduce(t, tsum, N, MPI_DOUBLE, MPI_SUM, comm)));
  SNTK_CALL(SNTK_MPI(MPI_Allreduce(f, s->flops, N, MPI_DOUBLE, MPI_SUM, comm)));
  SNTK_CALL(SNTK_MPI(MPI_Allreduce(cnt, s->count, N, MPI_DOUBLE, MPI_MAX, comm)));
  /* every rank's own count beside the sum: equal totals across P say little if one rank's share
   * is wrong (experiments/scaling checks each rank's share against its neuron block) */
  int err = SNTK_ALLOC(s->flops_rank, (size_t)size * N);
  err = sntk_agree(comm, err);
  if (err) return err;
  SNTK_CALL(SNTK_MPI(MPI_Allgather(f, N, MPI_DOUBLE, s->flops_rank, N, MPI_DOUBLE, comm)));
  sntk_log("phase summary over %d rank(s), wall %.3f s (times: min / avg / max over ranks)", size,
           wall);
  sntk_log("  %-14s %9s %10s %10s %10s %7s %6s %10s", "event", "count", "min (s)", "avg (s)",
           "max (s)", "max/min", "%wall", "GFlop/s");
  for (int e = 0; e < N; e++) {
    s->time_avg[e] = tsum[e] / size;
    if (s->count[e] == 0) continue;
    double rate = s->time_max[e] > 0 ? s->flops[e] / s->time_max[e] / 1e9 : 0.0;
    sntk_log("  %-14s %9.0f %10.4f %10.4f %10.4f %7.2f %6.1f %10.2f", sntk_event_names[e],
             s->count[e], s->time_min[e], s->time_avg[e], s->time_max[e],
             s->time_min[e] > 0 ? s->time_max[e] / s->time_min[e] : 1.0,
             wall > 0 ? 100.0 * s->time_max[e] / wall : 0.0, rate);
  }
  return SNTK_OK;
}
