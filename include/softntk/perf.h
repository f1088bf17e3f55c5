/* softntk profiling: cheap named events around every phase, with flop counts, summarised at the end
 * of a run as min/avg/max over ranks (in the manner of PETSc's -log_view) and stored in results.h5
 * /perf. Events are per process, never nested in themselves; the clock is MPI_Wtime. Not
 * collective, except sntk_perf_report. */
#ifndef SOFTNTK_PERF_H
#define SOFTNTK_PERF_H

#include <mpi.h>
#include <stdint.h>

struct sntk_results;

typedef enum {
  SNTK_EV_STEP,          /* loss and gradient of one step (contains forward, activation, allreduce,
                            backward), with the gradient norm and drift reductions */
  SNTK_EV_FORWARD_GEMM,  /* Z = X W^T and the k outputs / softmax numerators */
  SNTK_EV_ACTIVATION,    /* exp / relu / softmax normaliser over the chunk */
  SNTK_EV_ALLREDUCE,     /* the per-chunk reduction of tuples or partial outputs */
  SNTK_EV_BACKWARD_GEMM, /* E A and G^T X */
  SNTK_EV_BACKWARD_ELEM, /* the elementwise gradient factor */
  SNTK_EV_UPDATE,        /* W <- W - eta grad */
  SNTK_EV_NTK_FEATURES,  /* the features U of this rank's neurons */
  SNTK_EV_NTK_REDIST,    /* PDGEMR2D of U to the 2-D grid */
  SNTK_EV_NTK_SYRK,      /* PDSYRK U U^T */
  SNTK_EV_NTK_HADAMARD,  /* the elementwise product with X X^T */
  SNTK_EV_NTK_CHOLESKY,  /* PDPOTRF (and PDPOTRS) */
  SNTK_EV_NTK_EIGEN,     /* PDSYEV / PDSYEVD / PDSYTRD + PDORMTR */
  SNTK_EV_CHECKPOINT,    /* checkpoint write */
  SNTK_EV_RESULTS_IO,    /* results.h5 writes */
  SNTK_EV_BATCH,         /* diffusion: a minibatch of fresh triples */
  SNTK_EV_SCORE_EVAL,    /* diffusion: the network over the held-out points */
  SNTK_EV_SAMPLER,       /* diffusion: sampler steps (score evaluations and updates) */
  SNTK_EV_METRICS,       /* diffusion: sliced W2, MMD and mode coverage */
  SNTK_EV_COUNT
} sntk_event_t;

/* Event names as stored in /perf/event and printed in the summary. */
extern const char *const sntk_event_names[SNTK_EV_COUNT];

void sntk_perf_start(sntk_event_t ev);
/* Stop the event and add `flops` floating-point operations to it. */
void sntk_perf_stop(sntk_event_t ev, double flops);
/* Forget every measurement (before a timed region). */
void sntk_perf_reset(void);

/* This process's totals for one event. */
typedef struct sntk_perf_total {
  double seconds, flops;
  int64_t count;
} sntk_perf_total_t;
sntk_perf_total_t sntk_perf_get(sntk_event_t ev);

/* Collective. Print the summary table (rank 0, through the log) for the events that ran and, when
 * res is given, write /perf: event names, count, time_min/avg/max over ranks (s), flops (summed
 * over ranks), and the run's wall time. */
int sntk_perf_report(MPI_Comm comm, double wall_seconds, struct sntk_results *res);

#endif
