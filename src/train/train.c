/* `softntk train`: full-batch gradient descent on the sharded network, progress lines, results.h5,
 * checkpoints on steps, minutes, signals and a wall-time budget. The loop serves any training
 * problem (sntk_problem_t, train.h); `softntk train` itself fits the [data] section. */
#include "softntk/train.h"

#include "softntk/runfile.h"
#include "softntk/error.h"
#include "softntk/log.h"
#include "softntk/ntk.h"
#include "softntk/parallel.h"
#include "softntk/perf.h"
#include "softntk/runlock.h"
#include "softntk/signals.h"
#include "softntk/version.h"
#include "trainer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int check_seeds(const char *text, char *why, size_t len) {
  int64_t count;
  return sntk_int_list(text, 0, 9000000000000000LL, SNTK_MAX_SEEDS, NULL, &count, why, len);
}

#define OFF(f) offsetof(sntk_run_cfg_t, f)
const sntk_key_t sntk_run_keys[] = {
    {"name", SNTK_T_STRING, OFF(name), "default", 0, 0, 0, NULL, NULL,
     "run directory name (below output_dir)"},
    {"output_dir", SNTK_T_STRING, OFF(output_dir), "runs", 0, 0, 0, NULL, NULL,
     "directory holding run directories"},
    {"seed", SNTK_T_INT, OFF(seed), "1", 0, 9e15, SNTK_KEY_TRAJECTORY, NULL, NULL,
     "master seed of every random stream (data, weights, signs)"},
    {"overwrite", SNTK_T_BOOL, OFF(overwrite), "false", 0, 0, 0, NULL, NULL,
     "replace results.h5 and checkpoints of an earlier run with the same name"},
    {"lock", SNTK_T_CHOICE, OFF(lock), "auto", 0, 0, 0, sntk_lock_mode_names, NULL,
     "how a command holds its run directory (one writer at a time): flock, file (an exclusive "
     "lock file with a heartbeat, for file systems without a reliable flock), auto (file on NFS, "
     "Lustre, CIFS, BeeGFS and FUSE, else flock)"},
    {"lock_wait", SNTK_T_REAL, OFF(lock_wait), "30", 0, 3600, 0, NULL, NULL,
     "seconds to wait for leftover processes of a killed run of the same deck still holding the "
     "run directory (mpirun killed: its ranks live on briefly)"},
    {"seeds", SNTK_T_STRING, OFF(seeds), "", 0, 0, 0, NULL, check_seeds,
     "many runs in one launch: a list of seeds such as 1-32 or 1,5,9-12; the command runs once "
     "per seed s with run.seed = s in the run directory <name>-s<s> (\"\": one run, run.seed)"},
    {NULL}};
#undef OFF

/* "auto", or a finite number > 0. */
static int parse_eta(const char *text, double *eta) {
  char *end;
  *eta = strtod(text, &end);
  return end != text && !*end && isfinite(*eta) && *eta > 0;
}

static int check_eta(const char *text, char *why, size_t len) {
  double eta;
  if (strcmp(text, "auto") == 0 || parse_eta(text, &eta)) return 0;
  snprintf(why, len, "must be 'auto' or a finite number > 0");
  return 1;
}

int sntk_train_eta_fixed(const sntk_train_cfg_t *cfg, double *eta) {
  return strcmp(cfg->eta, "auto") != 0 && parse_eta(cfg->eta, eta);
}

/* x rounded down to two significant digits, as the decimal number it prints as. */
static double round_down_2(double x) {
  const double p = pow(10.0, floor(log10(x)) - 1.0);
  char txt[32];
  snprintf(txt, sizeof txt, "%.1e", floor(x / p * (1.0 + 1e-12)) * p);
  return strtod(txt, NULL);
}

int sntk_train_resolve_eta(const sntk_train_cfg_t *cfg, sntk_model_t *md, const sntk_dataset_t *ds,
                           uint64_t seed, double *eta, char *rule, size_t len) {
  if (sntk_train_eta_fixed(cfg, eta)) {
    snprintf(rule, len, "train.eta = %s", cfg->eta);
    return SNTK_OK;
  }
  double lambda;
  int iters;
  const double t0 = MPI_Wtime();
  SNTK_CALL(
      sntk_model_jjt_max(md, ds, seed, SNTK_ETA_POWER_ITERS, SNTK_ETA_POWER_RTOL, &lambda, &iters));
  *eta = round_down_2(cfg->eta_factor / lambda);
  snprintf(rule, len,
           "train.eta = auto: eta_factor / lambda_max(J J^T) = %g / %.6e rounded down to two "
           "digits; lambda_max at initialisation by %d power iterations (rtol %g)",
           cfg->eta_factor, lambda, iters, SNTK_ETA_POWER_RTOL);
  sntk_log("eta = auto: lambda_max(J J^T) = %.6e at initialisation (%d power iterations, %.2f s); "
           "eta = %g / lambda_max = %.6e -> %g",
           lambda, iters, MPI_Wtime() - t0, cfg->eta_factor, cfg->eta_factor / lambda, *eta);
  return SNTK_OK;
}

#define OFF(f) offsetof(sntk_train_cfg_t, f)
const sntk_key_t sntk_train_keys[] = {
    {"steps", SNTK_T_INT, OFF(steps), "1000", 0, 9e15, 0, NULL, NULL, "gradient-descent steps"},
    {"eta", SNTK_T_STRING, OFF(eta), "auto", 0, 0, 0, NULL, check_eta,
     "learning rate: auto (eta_factor / lambda_max(J J^T) at initialisation, by power iteration) "
     "or a number > 0; the stable range is eta < 2 / lambda_max(J J^T)"},
    {"eta_factor", SNTK_T_REAL, OFF(eta_factor), "1", 0, 2, SNTK_KEY_MIN_OPEN | SNTK_KEY_MAX_OPEN,
     NULL, NULL, "c in eta = c / lambda_max(J J^T) when eta = auto (0 < c < 2)"},
    {"target_loss", SNTK_T_REAL, OFF(target_loss), "0", 0, INFINITY, 0, NULL, NULL,
     "stop once the loss is at or below this value (0: run all steps)"},
    {"log_every", SNTK_T_INT, OFF(log_every), "100", 1, 9e15, 0, NULL, NULL,
     "print a progress line (and flush results.h5) every this many steps"},
    {"chunk", SNTK_T_INT, OFF(chunk), "0", 0, 1e9, 0, NULL, NULL,
     "samples per chunk; 0 sizes chunks so the chunk buffers take about 64 MiB per rank"},
    {NULL}};
#undef OFF

const sntk_column_t sntk_train_cols[NCOLS] = {
    {"step", 1, NULL, NULL},      {"loss", 0, NULL, NULL},      {"grad_norm", 0, NULL, NULL},
    {"max_drift", 0, NULL, NULL}, {"wall_time", 0, NULL, NULL},
};

/* Requests agreed at a step boundary. */
enum { REQ_CKPT = 1, REQ_STOP = 2, REQ_TIME = 4, REQ_BUDGET = 8 };

typedef struct loop_clock {
  double start;      /* MPI_Wtime when this invocation began training */
  double last_ckpt;  /* MPI_Wtime of the last checkpoint (or start) */
  double max_step;   /* longest step seen, s */
  double ckpt_est;   /* expected checkpoint time, s */
  double job_start;  /* MPI_Wtime when the command began (max_hours counts from here) */
  int64_t last_step; /* step of the last checkpoint written by this invocation (-1: none) */
} loop_clock_t;

static void hms(double seconds, char *out, size_t len) {
  if (!isfinite(seconds) || seconds < 0) seconds = 0;
  long s = (long)(seconds + 0.5);
  snprintf(out, len, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
}

/* Collective. Memory one rank needs for n x d inputs and n x k targets (replicated on every rank),
 * the model and its gradient, checked against what the node offers before anything large is
 * allocated. */
int sntk_train_check_memory(MPI_Comm comm, const sntk_model_cfg_t *mc, int64_t cfg_chunk, int64_t n,
                            int64_t d, int64_t k) {
  int P;
  MPI_Comm_size(comm, &P);
  const int64_t m = mc->width, B = mc->reproducible ? sntk_model_block_size(m, mc->block) : 1;
  const int64_t m_loc = ((m + B - 1) / B + P - 1) / P * B; /* reproducible: whole blocks */
  const int64_t chunk = sntk_model_chunk_size(n, m, k, mc->reproducible ? 1 : P, cfg_chunk);
  const double data = (double)n * (double)(d + k) * 8.0;
  double model = (double)sntk_model_bytes(m_loc, d, k, chunk) + (double)(m_loc * d) * 8.0;
  if (mc->reproducible) { /* as sntk_model_repro_bytes: unit partials, GEMM scratch, a probe */
    const double nu = (double)((m + B - 1) / B) * (k == 1 ? 2 : 1), dk = (double)(d > k ? d : k);
    const double big = (double)chunk > dk ? (double)chunk : dk;
    model += 8.0 * (2.0 * nu * (double)chunk * (double)(k + 2) + 2.0 * big * (double)B +
                    2.0 * (double)chunk * dk + 2.0 * (double)(d * m_loc));
  }
  int64_t avail;
  SNTK_CALL(sntk_mem_per_rank(comm, &avail));
  if (avail > 0 && data + model > (double)avail)
    return sntk_error(
        SNTK_ERR_INPUT,
        "the run needs %.2f GiB per rank (data, replicated on every rank: %.2f GiB; "
        "model and workspace: %.2f GiB) but %.2f GiB are available per rank: use more "
        "nodes, a smaller train.chunk, or a smaller problem",
        (data + model) / 1073741824.0, data / 1073741824.0, model / 1073741824.0,
        avail / 1073741824.0);
  return SNTK_OK;
}

int sntk_trainer_results_header(trainer_t *tr) {
  const sntk_train_setup_t *su = tr->setup;
  sntk_results_t *res = tr->res;
  SNTK_CALL(
      sntk_runfile_header(res, tr->md, &tr->ds, su->run->seed, su->data_seed, su->store_data));
  SNTK_CALL(sntk_results_attr_i64(res, "chunk", tr->md->chunk));
  SNTK_CALL(sntk_results_attr_str(res, "data_hash", tr->data_hash));
  return tr->pb->header ? tr->pb->header(tr->pb->self, res) : SNTK_OK;
}

int sntk_trainer_record(trainer_t *tr, const double *row) {
  return sntk_results_append(tr->res, tr->series, row);
}

static void log_banner(const trainer_t *tr) {
  const sntk_train_setup_t *su = tr->setup;
  const sntk_model_t *md = tr->md;
  const int P = tr->ctx->size;
  int64_t lo = md->m / P, hi = lo + (md->m % P != 0);
  if (md->repro) { /* whole blocks per rank */
    lo = md->nblk / P * md->block;
    hi = (md->nblk / P + (md->nblk % P != 0)) * md->block;
    hi = hi < md->m ? hi : md->m;
    lo = lo < hi ? lo : hi;
  }
  sntk_log("softntk %s %s: deck %s (config hash %s)", sntk_version(), tr->pb->command,
           su->config.origin, su->config.hash);
  if (tr->pb->describe) tr->pb->describe(tr->pb->self, &tr->ds);
  sntk_log("  model: %s, m = %lld, %s init, sigma = %g, gamma = %.6g, nu = %.6g",
           sntk_activation_names[md->act], (long long)md->m,
           md->init == SNTK_INIT_COUPLED ? "coupled" : "random", md->sigma, md->gamma, md->nu);
  sntk_log("  ranks: %d, neurons per rank %lld..%lld, chunk %lld samples, %.1f MiB per rank", P,
           (long long)lo, (long long)hi, (long long)md->chunk,
           sntk_model_bytes(hi, md->d, md->k, md->chunk) / 1048576.0);
  if (md->repro)
    sntk_log("  reproducible: %lld canonical blocks of %lld neurons, sums in block order (the same "
             "bits on any number of ranks)",
             (long long)md->nblk, (long long)md->block);
  else
    sntk_log("  rank-local sums (parallel.reproducible = false): results depend on the rank count "
             "in the last bits");
  sntk_log("  train: steps %lld..%lld, eta = %g%s%s, output in %s", (long long)tr->start_step,
           (long long)su->train->steps, tr->eta, strcmp(su->train->eta, "auto") ? "" : " (auto)",
           su->train->target_loss > 0 ? " (until target_loss)" : "", tr->dir);
  sntk_log("%8s %14s %14s %14s %10s %10s", "step", "loss", "grad_norm", "max_drift", "s/step",
           "ETA");
}

/* A non-finite loss, or one grown a million-fold over the initial loss, ends the run with advice.
 */
static int diverged(const sntk_train_setup_t *su, const sntk_model_t *md, double eta, int64_t t,
                    double loss, double loss0) {
  char txt[32];
  snprintf(txt, sizeof txt, isnan(loss) ? "NaN" : isinf(loss) ? "infinite" : "%.6e", loss);
  if (t == 0)
    return sntk_error(SNTK_ERR_RUNTIME,
                      "loss is %s at initialisation: the outputs overflow; lower "
                      "model.output_scale (now %s) or model.sigma (now %g)",
                      txt, su->model->output_scale, md->sigma);
  if (sntk_act_table[md->act]->overflow && isinf(loss))
    return sntk_error(SNTK_ERR_RUNTIME,
                      "loss is infinite at step %lld: %s (weights grew too large); lower "
                      "train.eta (now %g%s) or model.sigma (now %g)",
                      (long long)t, sntk_act_table[md->act]->overflow, eta,
                      strcmp(su->train->eta, "auto") ? "" : ", from auto", md->sigma);
  return sntk_error(SNTK_ERR_RUNTIME,
                    "loss is %s at step %lld (initial loss %.6e): gradient descent diverged; lower "
                    "train.eta (now %g%s)",
                    txt, (long long)t, loss0, eta,
                    strcmp(su->train->eta, "auto") ? "" : ", from auto: or train.eta_factor");
}

static int is_divergent(double loss, double loss0) {
  return !isfinite(loss) || (loss0 > 0 && loss > 1e6 * loss0);
}

/* Rank 0's clock-based requests: checkpoint interval and wall-time budget. */
static int clock_requests(const sntk_ckpt_cfg_t *cc, const loop_clock_t *clk, double now) {
  int req = 0;
  if (cc->every_minutes > 0 && now - clk->last_ckpt >= 60.0 * cc->every_minutes) req |= REQ_TIME;
  if (cc->max_hours > 0) {
    double margin = 2.0 * clk->max_step + 2.0 * clk->ckpt_est + 10.0;
    if (now - clk->job_start + margin >= 3600.0 * cc->max_hours) req |= REQ_BUDGET;
  }
  return req;
}

/* Collective: gradient norm, drift and the requests, agreed by every rank. */
static int measures(const trainer_t *tr, const loop_clock_t *clk, double *gnorm, double *drift,
                    int *req) {
  const sntk_model_t *md = tr->md;
  double g2 = 0.0;
  int sig = sntk_signals_take(), local = 0;
  if (sig & SNTK_SIG_CHECKPOINT) local |= REQ_CKPT;
  if (sig & SNTK_SIG_STOP) local |= REQ_STOP;
  if (tr->ctx->rank == 0) local |= clock_requests(tr->setup->ckpt, clk, MPI_Wtime());
  double mx[5] = {sntk_model_local_drift(md), local & REQ_CKPT, (local & REQ_STOP) != 0,
                  (local & REQ_TIME) != 0, (local & REQ_BUDGET) != 0};
  SNTK_CALL(sntk_model_norm2(md, tr->grad, &g2)); /* bitwise independent of P if reproducible */
  SNTK_CALL(SNTK_MPI(MPI_Allreduce(MPI_IN_PLACE, mx, 5, MPI_DOUBLE, MPI_MAX, md->comm)));
  *gnorm = sqrt(g2);
  *drift = mx[0];
  *req = (mx[1] > 0 ? REQ_CKPT : 0) | (mx[2] > 0 ? REQ_STOP : 0) | (mx[3] > 0 ? REQ_TIME : 0) |
         (mx[4] > 0 ? REQ_BUDGET : 0);
  return SNTK_OK;
}

/* Collective: flush results, then write the checkpoint of `step` holding the series rows before it.
 */
static int checkpoint(trainer_t *tr, int64_t step, loop_clock_t *clk, const char *why) {
  sntk_ckpt_info_t info = {tr->setup->config.text, tr->setup->config.hash, tr->data_hash, tr->eta};
  sntk_series_set_t h;
  double secs;
  int64_t bytes = 0;
  char path[4400];
  SNTK_CALL(sntk_results_flush(tr->res));
  SNTK_CALL(sntk_results_history(tr->res, step, &h)); /* every series, rows before step */
  sntk_perf_start(SNTK_EV_CHECKPOINT);
  int err = sntk_ckpt_write(tr->md->comm, tr->ckpt_dir, step, tr->md, &info, &h,
                            tr->setup->ckpt->keep, tr->setup->ckpt->timeout, &secs, &bytes);
  sntk_perf_stop(SNTK_EV_CHECKPOINT, 0.0);
  sntk_series_set_free(&h);
  if (err) {
    char msg[2048];
    snprintf(msg, sizeof msg, "%s", sntk_error_message());
    return sntk_error(err,
                      "checkpoint of step %lld failed: %s (the previous checkpoint, if any, is "
                      "intact)",
                      (long long)step, msg);
  }
  sntk_ckpt_path(tr->ckpt_dir, step, path, sizeof path);
  sntk_log("checkpoint: step %lld -> %s (%.2f MiB, %.3f s; %s)", (long long)step, path,
           bytes / 1048576.0, secs, why);
  clk->last_ckpt = MPI_Wtime();
  clk->last_step = step;
  clk->ckpt_est = secs > clk->ckpt_est ? secs : clk->ckpt_est;
  return SNTK_OK;
}

static const char *ckpt_reason(int req, int every_due) {
  if (req & REQ_STOP) return sntk_signals_stop_name()[0] ? sntk_signals_stop_name() : "stop signal";
  if (req & REQ_BUDGET) return "wall-time budget";
  if (req & REQ_CKPT) return "SIGUSR1";
  if (req & REQ_TIME) return "every_minutes";
  return every_due ? "every_steps" : "end of run";
}

/* Collective. The verification hash of the final state at step t: the sum (mod 2^64, so in any
 * order) of one 64-bit hash per neuron of (global index, w_r, a_r), then hashed with the
 * /train/loss series of steps 0..t. Bitwise equal states give equal hashes whatever the rank count.
 * Rank 0's value counts. */
static int state_hash(trainer_t *tr, int64_t t, char out[17]) {
  const sntk_model_t *md = tr->md;
  const int64_t d = md->d, k = md->k, w = 1 + d + k;
  double *buf = NULL;
  uint64_t sum = 0;
  sntk_series_set_t h;
  int err = SNTK_OK;
  SNTK_TRY(SNTK_ALLOC(buf, w));
  for (int64_t r = 0; r < md->m_loc; r++) {
    const int64_t g = md->r0 + md->perm[r];
    memcpy(buf, &g, sizeof g);
    memcpy(buf + 1, md->W + r * d, (size_t)d * sizeof *buf);
    for (int64_t l = 0; l < k; l++) buf[1 + d + l] = md->A[l * md->m_loc + r];
    sum += sntk_hash64(buf, (size_t)w * sizeof *buf);
  }
done:
  free(buf);
  SNTK_CALL(sntk_agree(md->comm, err));
  SNTK_CALL(SNTK_MPI(MPI_Allreduce(MPI_IN_PLACE, &sum, 1, MPI_UINT64_T, MPI_SUM, md->comm)));
  SNTK_CALL(sntk_results_history(tr->res, t + 1, &h));
  const sntk_series_col_t *loss = sntk_series_set_find(&h, "/train", "loss");
  uint64_t pair[2] = {sum, 0};
  if (loss && loss->data) pair[1] = sntk_hash64(loss->data, (size_t)loss->rows * sizeof(double));
  snprintf(out, 17, "%016llx", (unsigned long long)sntk_hash64(pair, sizeof pair));
  sntk_series_set_free(&h);
  return SNTK_OK;
}

/* The gradient-descent loop from tr->start_step. */
static int descend(trainer_t *tr, loop_clock_t *clk) {
  const sntk_train_setup_t *su = tr->setup;
  const sntk_train_cfg_t *tc = su->train;
  const sntk_ckpt_cfg_t *cc = su->ckpt;
  sntk_model_t *md = tr->md;
  double t_mark = MPI_Wtime(), t_prev = t_mark, loss0 = tr->loss0, loss = NAN;
  int64_t s_mark = tr->start_step, t;
  for (t = tr->start_step;; t++) {
    const sntk_dataset_t *batch = NULL;
    double gnorm, drift;
    int req;
    if (tr->pb->batch) SNTK_CALL(tr->pb->batch(tr->pb->self, t, &batch));
    sntk_perf_start(SNTK_EV_STEP);
    SNTK_CALL(sntk_model_eval(md, batch ? batch : &tr->ds, &loss, NULL, tr->grad));
    SNTK_CALL(measures(tr, clk, &gnorm, &drift, &req));
    sntk_perf_stop(SNTK_EV_STEP, 0.0);
    if (t == 0) loss0 = loss;
    double now = MPI_Wtime();
    if (t > tr->start_step && now - t_prev > clk->max_step) clk->max_step = now - t_prev;
    t_prev = now;
    double row[NCOLS] = {(double)t, loss, gnorm, drift, tr->wall_offset + now - clk->start};
    SNTK_CALL(sntk_trainer_record(tr, row));
    int last = t >= tc->steps || (tc->target_loss > 0 && loss <= tc->target_loss);
    if (is_divergent(loss, loss0)) {
      SNTK_CALL(sntk_results_flush(tr->res));
      return diverged(su, md, tr->eta, t, loss, loss0);
    }
    SNTK_CALL(sntk_ntk_tracker_step(tr->trk, tr->res, t)); /* [ntk] every: NTK of W(t) */
    if (tr->pb->evaluate) SNTK_CALL(tr->pb->evaluate(tr->pb->self, md, tr->res, t, last));
    if (t % tc->log_every == 0 || last || (req & (REQ_STOP | REQ_BUDGET))) {
      double per = t > s_mark ? (now - t_mark) / (double)(t - s_mark) : 0.0;
      char eta_txt[32];
      hms(per * (double)(tc->steps - t), eta_txt, sizeof eta_txt);
      sntk_log("%8lld %14.6e %14.6e %14.6e %10.3e %10s", (long long)t, loss, gnorm, drift, per,
               eta_txt);
      t_mark = now;
      s_mark = t;
      SNTK_CALL(sntk_results_flush(tr->res));
    }
    if (last) break;
    sntk_fault_point("step", (long long)t);
    sntk_model_update(md, tr->grad, tr->eta);
    int every_due = cc->every_steps > 0 && (t + 1) % cc->every_steps == 0;
    const char *why = ckpt_reason(req, every_due); /* once: a later signal must not change it */
    if (every_due || req) SNTK_CALL(checkpoint(tr, t + 1, clk, why));
    if (req & (REQ_STOP | REQ_BUDGET)) {
      sntk_log("stopped at step %lld on %s: the checkpoint is valid; run the same command again "
               "(--restart auto) to continue (exit status 3)",
               (long long)(t + 1), why);
      return SNTK_STOPPED;
    }
  }
  double wall = MPI_Wtime() - clk->start;
  int64_t done = t - tr->start_step;
  const char *why = t >= tc->steps ? "all steps done" : "target_loss reached";
  sntk_log("done: %s at step %lld, %lld steps in %.3f s (%.3e s/step); loss %.6e -> %.6e "
           "(%.3g x lower)",
           why, (long long)t, (long long)done, wall, done > 0 ? wall / (double)done : 0.0, loss0,
           loss, loss > 0 ? loss0 / loss : INFINITY);
  SNTK_CALL(sntk_results_attr_i64(tr->res, "steps_done", t));
  SNTK_CALL(sntk_results_attr_f64(tr->res, "final_loss", loss));
  char hash[17];
  SNTK_CALL(state_hash(tr, t, hash));
  SNTK_CALL(sntk_results_attr_str(tr->res, "state_hash", hash));
  int whole = 0, unit = 0;
  for (int i = 0; i < md->ngemm_probe; i++) md->gemm_probe[i][SNTK_GEMM_KEY] ? whole++ : unit++;
  sntk_log("verification: %s state hash 0x%s (W, A and the loss series of steps 0..%lld; %s)",
           md->repro ? "reproducible" : "rank-local", hash, (long long)t,
           md->repro ? "the same on any number of ranks" : "depends on the rank count");
  if (md->repro)
    sntk_log("  GEMM shapes on rank 0: %d as one call (probed bitwise equal to per-unit calls), %d "
             "per unit%s",
             whole, unit, md->gemm_per_unit ? " (SOFTNTK_GEMM_PER_UNIT)" : "");
  if (cc->final && clk->last_step != t) SNTK_CALL(checkpoint(tr, t, clk, "end of run"));
  return SNTK_OK;
}

/* Collective. tr->eta for this invocation: a resumed run keeps its checkpoint's (set by the restart
 * when the checkpoint records one); otherwise train.eta, or for auto the power iteration at the
 * initial weights W0 on the step-0 training set (a resumed run whose checkpoint predates the
 * record computes it at W0 again). Recorded in results.h5 with the rule that chose it. */
static int settle_eta(trainer_t *tr) {
  char rule[512] = "the checkpoint's";
  if (isnan(tr->eta)) {
    sntk_model_t *md = tr->md;
    double *saved = md->W, loss0;
    md->W = md->W0;
    /* outputs that overflow at initialisation are reported as such, not as a failed iteration */
    int err = sntk_model_eval(md, &tr->ds, &loss0, NULL, NULL);
    if (!err && !isfinite(loss0)) err = diverged(tr->setup, md, NAN, 0, loss0, loss0);
    if (!err)
      err = sntk_train_resolve_eta(tr->setup->train, md, &tr->ds, (uint64_t)tr->setup->run->seed,
                                   &tr->eta, rule, sizeof rule);
    md->W = saved;
    SNTK_CALL(err);
  }
  sntk_ntk_tracker_set_eta(tr->trk, tr->eta);
  SNTK_CALL(sntk_results_attr_f64(tr->res, "eta", tr->eta));
  if (tr->start_step == 0) SNTK_CALL(sntk_results_attr_str(tr->res, "eta_rule", rule));
  return SNTK_OK;
}

int sntk_train_run(const sntk_ctx_t *ctx, const sntk_train_setup_t *su, const sntk_run_opts_t *opts,
                   const sntk_problem_t *problem) {
  MPI_Comm comm = ctx->comm;
  trainer_t tr;
  loop_clock_t clk = {0};
  int err = SNTK_OK;
  memset(&tr, 0, sizeof tr);
  tr.ctx = ctx;
  tr.setup = su;
  tr.pb = problem;
  tr.loss0 = NAN;
  clk.job_start = MPI_Wtime();
  clk.last_step = -1;
  const uint64_t seed = (uint64_t)su->run->seed;
  SNTK_TRY(problem->load(problem->self, comm, &tr.ds));
  sntk_data_hash(&tr.ds, tr.data_hash);
  SNTK_TRY(sntk_agree(
      comm, sntk_train_check_memory(comm, su->model, su->train->chunk, tr.ds.n, tr.ds.d, tr.ds.k)));
  SNTK_TRY(sntk_model_create(comm, su->model, tr.ds.d, tr.ds.k, su->train->chunk, tr.ds.n, &tr.md));
  SNTK_TRY(sntk_agree(comm, SNTK_ALLOC(tr.grad, tr.md->m_loc * tr.md->d)));
  sntk_model_init(tr.md, seed);
  /* Before a checkpoint replaces W: the tracker keeps H(0) of the initial weights. */
  SNTK_TRY(
      sntk_ntk_tracker_create(su->ntk, su->parallel, su->train->steps, tr.md, &tr.ds, &tr.trk));
  tr.eta = NAN;
  SNTK_TRY(sntk_trainer_begin(&tr, opts && opts->restart ? opts->restart : "auto"));
  SNTK_TRY(settle_eta(&tr));
  log_banner(&tr);
  clk.start = clk.last_ckpt = MPI_Wtime();
  clk.ckpt_est = 1.0 + (double)(tr.md->m * tr.md->d * 8) / 2e8; /* until one is measured */
  sntk_perf_reset();
  err = descend(&tr, &clk);
  if (err && err != SNTK_STOPPED) goto done;
  int stopped = err;
  if (!stopped && problem->finish) SNTK_TRY(problem->finish(problem->self, tr.md, tr.res, tr.eta));
  SNTK_TRY(sntk_ntk_tracker_finish(tr.trk));
  SNTK_TRY(sntk_perf_report(comm, MPI_Wtime() - clk.start, tr.res));
  SNTK_TRY(sntk_results_close(&tr.res));
  if (!stopped) sntk_log("results: %s", tr.results_path);
  err = stopped;
done:
  sntk_results_free(&tr.res);
  sntk_log_open_file(NULL);
  sntk_ntk_tracker_destroy(&tr.trk);
  free(tr.grad);
  sntk_model_destroy(&tr.md);
  sntk_data_free(&tr.ds);
  return err;
}
