/* softntk profiling: cheap named events around every phase, with flop counts, summarised at the end
 * of a run as min/avg/max over ranks (in the manner of PETSc's -log_view); results.h stores the
 * summary as /perf. Events are per process, never nested in themselves; the clock is MPI_Wtime. Not
 * collective, except where said. */
#ifndef SOFTNTK_PERF_H
#define SOFTNTK_PERF_H

#include <mpi.h>
#include <stdint.h>

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

/* The end-of-run summary of every event over the ranks of a communicator. */
typedef struct sntk_perf_summary {
  int nranks;
  double wall;                    /* the run's wall time (s) */
  double count[SNTK_EV_COUNT];    /* times the phase ran, maximum over ranks */
  double time_min[SNTK_EV_COUNT]; /* phase time (s): minimum, average and maximum over ranks */
  double time_avg[SNTK_EV_COUNT];
  double time_max[SNTK_EV_COUNT];
  double flops[SNTK_EV_COUNT]; /* floating-point operations, summed over ranks */
  double *flops_rank;          /* nranks x SNTK_EV_COUNT: each rank's own count (owned) */
} sntk_perf_summary_t;

/* Collective. Reduce this process's events over comm into *s and print the summary table (rank 0,
 * through the log) for the events that ran; free with sntk_perf_summary_free. (results.h's
 * sntk_perf_report also stores it as /perf.) */
int sntk_perf_summary(MPI_Comm comm, double wall_seconds, sntk_perf_summary_t *s);
void sntk_perf_summary_free(sntk_perf_summary_t *s);

/* Collective: MPI_Wtime after every rank of comm arrived (the start or end of a timed phase). */
double sntk_wtime_sync(MPI_Comm comm);
/* Collective: the maximum of t over the ranks of comm (a phase's time is its slowest rank's). */
double sntk_tmax(MPI_Comm comm, double t);

#endif
