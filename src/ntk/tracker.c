/* The NTK tracker of `softntk train` ([ntk] every = N): a snapshot of H(t) every N steps appended
 * to results.h5 /ntk, distances to H(0) and H*, the optional Gram matrices, and at t = 0 with
 * spectrum = full the linearised loss curve. Checks that FAIL do not stop training; they make the
 * run's exit status 1 at the end (sntk_ntk_tracker_finish). */
#include "ntk_impl.h"

#include "softntk/error.h"
#include "softntk/log.h"

#include <math.h>
#include <stdlib.h>

struct sntk_ntk_tracker {
  sntk_ntk_t *ntk;
  const sntk_dataset_t *ds;
  int64_t every; /* ntk.every */
  int64_t steps; /* train.steps: length of the linearised loss curve */
  double eta;    /* the learning rate of the run (NaN until set) */
  ntk_series_t series;
  int64_t snapshots;
};

int sntk_ntk_tracker_create(const sntk_ntk_cfg_t *cfg, const sntk_parallel_cfg_t *par,
                            int64_t steps, sntk_model_t *md, const sntk_dataset_t *ds,
                            sntk_ntk_tracker_t **out) {
  sntk_ntk_tracker_t *trk = NULL;
  int err = SNTK_OK;
  *out = NULL;
  if (cfg->every == 0) return SNTK_OK;
  SNTK_TRY(sntk_agree(md->comm, SNTK_ALLOC(trk, 1)));
  trk->ds = ds;
  trk->every = cfg->every;
  trk->steps = steps;
  trk->eta = NAN;
  SNTK_TRY(sntk_ntk_create(cfg, par, md, ds->X, ds->n, 0, SNTK_NTK_KEEP_INIT | SNTK_NTK_LEAN_OK,
                           &trk->ntk));
done:
  if (err) sntk_ntk_tracker_destroy(&trk);
  *out = trk;
  return err;
}

int sntk_ntk_tracker_open(sntk_ntk_tracker_t *trk, sntk_results_t *res) {
  if (!trk) return SNTK_OK;
  const sntk_ntk_t *ntk = trk->ntk;
  const int64_t q = ntk->cfg.q;
  const int64_t neig =
      ntk->cfg.spectrum == SNTK_SPECTRUM_EXTREMES && 2 * q < ntk->nk ? 2 * q : ntk->nk;
  return ntk_series_declare(trk->ntk, res, neig, &trk->series);
}

void sntk_ntk_tracker_set_eta(sntk_ntk_tracker_t *trk, double eta) {
  if (trk) trk->eta = eta;
}

int sntk_ntk_tracker_step(sntk_ntk_tracker_t *trk, sntk_results_t *res, int64_t t) {
  if (!trk || t % trk->every != 0) return SNTK_OK;
  sntk_ntk_t *ntk = trk->ntk;
  if (!trk->snapshots)
    sntk_log("ntk: every %lld steps, spectrum %s, limit %s; grid %dx%d, nb %lld, %.2f GiB planned "
             "per rank (memory %s)",
             (long long)trk->every, sntk_spectrum_names[ntk->cfg.spectrum],
             ntk->cfg.limit ? "on" : "off", ntk->grid->nprow, ntk->grid->npcol, (long long)ntk->nb,
             ntk->mem_need / 1073741824.0, sntk_ntk_memory_names[ntk->cfg.memory]);
  SNTK_CALL(ntk_snapshot_record(ntk, res, &trk->series, t));
  if (t == 0 && ntk->cfg.spectrum == SNTK_SPECTRUM_FULL)
    SNTK_CALL(ntk_linearised_write(ntk, trk->ds, trk->eta, trk->steps, res));
  trk->snapshots++;
  return SNTK_OK;
}

int sntk_ntk_tracker_finish(sntk_ntk_tracker_t *trk) {
  if (!trk) return SNTK_OK;
  const sntk_ntk_t *ntk = trk->ntk;
  sntk_log("ntk: %lld snapshots, %d checks, %d FAILED", (long long)trk->snapshots, ntk->checks,
           ntk->failures);
  if (ntk->failures)
    return sntk_error(SNTK_ERR_RUNTIME,
                      "%d of %d NTK numerical checks FAILED during training "
                      "(threshold %g)",
                      ntk->failures, ntk->checks, ntk->cfg.threshold);
  return SNTK_OK;
}

void sntk_ntk_tracker_destroy(sntk_ntk_tracker_t **trk) {
  if (!*trk) return;
  sntk_ntk_destroy(&(*trk)->ntk);
  free(*trk);
  *trk = NULL;
}
