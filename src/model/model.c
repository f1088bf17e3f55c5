/* The sharded two-layer network: configuration, creation, initialisation, forward, loss, gradient.
 */
#include "softntk/model.h"

#include "model_impl.h"
#include "softntk/error.h"
#include "softntk/parallel.h"
#include "softntk/perf.h"
#include "softntk/rng.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const inits[] = {"random", "coupled", NULL};

static int check_scale(const char *text, char *why, size_t len) {
  if (strcmp(text, "paper") == 0 || strcmp(text, "ntk") == 0) return 0;
  char *end;
  double v = strtod(text, &end);
  if (end != text && !*end && isfinite(v) && v > 0) return 0;
  snprintf(why, len, "must be 'paper', 'ntk' or a positive number");
  return 1;
}

#define OFF(f) offsetof(sntk_model_cfg_t, f)
const sntk_key_t sntk_model_keys[] = {
    {"activation", SNTK_T_CHOICE, OFF(activation), "softmax", 0, 0, SNTK_KEY_TRAJECTORY,
     sntk_activation_names, NULL, "hidden activation: softmax over the m neurons, exp, or relu"},
    {"width", SNTK_T_INT, OFF(width), "1024", 1, 1e12, SNTK_KEY_TRAJECTORY, NULL, NULL,
     "hidden width m (at least the number of MPI ranks)"},
    {"sigma", SNTK_T_REAL, OFF(sigma), "1", 0, INFINITY, SNTK_KEY_MIN_OPEN | SNTK_KEY_TRAJECTORY,
     NULL, NULL, "initial weights w_r(0) ~ N(0, sigma^2 I)"},
    {"output_scale", SNTK_T_STRING, OFF(output_scale), "paper", 0, 0, SNTK_KEY_TRAJECTORY, NULL,
     check_scale,
     "paper (softmax m, exp 1, relu 1/sqrt(m)), ntk (softmax sqrt(m), exp and relu 1/sqrt(m)), or "
     "a number"},
    {"init", SNTK_T_CHOICE, OFF(init), "coupled", 0, 0, SNTK_KEY_TRAJECTORY, inits, NULL,
     "random: independent neurons; coupled: pairs with equal w and opposite a (F(0) = 0)"},
    {NULL}};
#undef OFF

int sntk_model_cfg_check(const sntk_model_cfg_t *cfg, int nranks) {
  if (cfg->width < nranks)
    return sntk_error(SNTK_ERR_INPUT,
                      "model.width = %lld is less than the number of MPI ranks (%d): every rank "
                      "needs at least one neuron",
                      (long long)cfg->width, nranks);
  if (cfg->init == SNTK_INIT_COUPLED && cfg->width % 2)
    return sntk_error(
        SNTK_ERR_INPUT,
        "model.width = %lld is odd but model.init = coupled pairs the neurons: use an "
        "even width",
        (long long)cfg->width);
  return SNTK_OK;
}

int sntk_model_scale(int act, const char *text, int64_t m, double *gamma, double *nu) {
  const double mm = (double)m;
  const sntk_act_ops_t *ops = sntk_act_table[act];
  if (strcmp(text, "paper") == 0)
    *gamma = ops->gamma_paper(mm);
  else if (strcmp(text, "ntk") == 0)
    *gamma = ops->gamma_ntk(mm);
  else {
    char why[128];
    if (check_scale(text, why, sizeof why))
      return sntk_error(SNTK_ERR_INPUT, "model.output_scale = '%s' %s", text, why);
    *gamma = strtod(text, NULL);
  }
  *nu = ops->nu(mm);
  return SNTK_OK;
}

int64_t sntk_model_bytes(int64_t m_loc, int64_t d, int64_t k, int64_t chunk) {
  int64_t doubles = 3 * m_loc * d + (k + 1) * m_loc + (k > 1 ? 2 : 1) * chunk * m_loc +
                    chunk * (3 * k + 4 + 2 * d);
  return doubles * (int64_t)sizeof(double);
}

int64_t sntk_model_chunk_size(int64_t n, int64_t m, int64_t k, int P, int64_t chunk) {
  if (chunk > 0) return chunk < n ? chunk : n;
  const int64_t budget = (int64_t)64 << 20; /* bytes for Z (and B when k > 1) */
  int64_t m_loc_max = (m + P - 1) / P;
  int64_t c = budget / ((k > 1 ? 2 : 1) * (int64_t)sizeof(double) * m_loc_max);
  if (c < 32) c = 32;
  return c < n ? c : n;
}

int sntk_model_create(MPI_Comm comm, const sntk_model_cfg_t *cfg, int64_t d, int64_t k,
                      int64_t chunk, int64_t n, sntk_model_t **out) {
  sntk_model_t *md = NULL;
  int err = SNTK_OK, rank, size;
  *out = NULL;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  SNTK_TRY(sntk_model_cfg_check(cfg, size));
  SNTK_TRY(SNTK_ALLOC(md, 1));
  md->comm = comm;
  md->rank = rank;
  md->size = size;
  md->act = cfg->activation;
  md->m = cfg->width;
  md->d = d;
  md->k = k;
  md->sigma = cfg->sigma;
  md->init = cfg->init;
  md->tuple_type = MPI_DATATYPE_NULL;
  md->tuple_op = MPI_OP_NULL;
  SNTK_TRY(sntk_model_scale(md->act, cfg->output_scale, md->m, &md->gamma, &md->nu));
  int64_t r1;
  sntk_partition(md->m, size, rank, &md->r0, &r1);
  md->m_loc = r1 - md->r0;
  md->chunk = sntk_model_chunk_size(n, md->m, k, size, chunk);
  const int64_t c = md->chunk, ml = md->m_loc;
  SNTK_TRY(SNTK_ALLOC(md->W, ml * d));
  SNTK_TRY(SNTK_ALLOC(md->W0, ml * d));
  SNTK_TRY(SNTK_ALLOC(md->A, k * ml));
  SNTK_TRY(SNTK_ALLOC(md->Z, c * ml));
  if (k > 1) SNTK_TRY(SNTK_ALLOC(md->B, c * ml)); /* k = 1 forms the gradient factors in Z */
  SNTK_TRY(SNTK_ALLOC(md->gT, ml * d));
  SNTK_TRY(SNTK_ALLOC(md->Xs, 2 * c * d));
  SNTK_TRY(SNTK_ALLOC(md->perm, ml));
  for (int64_t r = 0; r < ml; r++) md->perm[r] = r; /* until sntk_model_init sorts by sign */
  md->npos = ml;
  SNTK_TRY(SNTK_ALLOC(md->T, c * (k + 2)));
  SNTK_TRY(SNTK_ALLOC(md->ft, c));
  SNTK_TRY(SNTK_ALLOC(md->rowq, c));
  SNTK_TRY(SNTK_ALLOC(md->E, c * k));
  SNTK_TRY(SNTK_ALLOC(md->Fc, c * k));
  SNTK_TRY(sntk_tuple_op_create(k, &md->tuple_type, &md->tuple_op));
done:
  err = sntk_agree(comm, err);
  if (err) sntk_model_destroy(&md);
  *out = md;
  return err;
}

void sntk_model_destroy(sntk_model_t **model) {
  sntk_model_t *md = *model;
  if (!md) return;
  sntk_tuple_op_free(&md->tuple_type, &md->tuple_op);
  free(md->W);
  free(md->W0);
  free(md->A);
  free(md->Z);
  free(md->B);
  free(md->gT);
  free(md->Xs);
  free(md->perm);
  free(md->T);
  free(md->ft);
  free(md->rowq);
  free(md->E);
  free(md->Fc);
  free(md);
  *model = NULL;
}

/* Sign a_{0,g} of global neuron g (the first of its k signs). */
static double first_sign(const sntk_model_t *md, uint64_t seed, int64_t g) {
  const int coupled = md->init == SNTK_INIT_COUPLED;
  sntk_rng_t s;
  sntk_rng_init(&s, seed, SNTK_RNG_SIGN, (uint64_t)(coupled ? g / 2 : g));
  return (coupled && (g % 2) ? -1.0 : 1.0) * sntk_rng_sign(&s);
}

void sntk_model_init(sntk_model_t *md, uint64_t seed) {
  const int coupled = md->init == SNTK_INIT_COUPLED;
  /* storage order: for k = 1 the a = +1 neurons first, each group in increasing index */
  int64_t np = 0;
  for (int64_t r = 0; r < md->m_loc; r++)
    if (md->k > 1 || first_sign(md, seed, md->r0 + r) > 0) md->perm[np++] = r;
  md->npos = np;
  for (int64_t r = 0; md->k == 1 && r < md->m_loc; r++)
    if (first_sign(md, seed, md->r0 + r) < 0) md->perm[np++] = r;
  for (int64_t r = 0; r < md->m_loc; r++) {
    const int64_t g = md->r0 + md->perm[r], key = coupled ? g / 2 : g;
    const double flip = coupled && (g % 2) ? -1.0 : 1.0;
    sntk_rng_t s;
    sntk_rng_init(&s, seed, SNTK_RNG_WEIGHT, (uint64_t)key);
    for (int64_t j = 0; j < md->d; j++) md->W[r * md->d + j] = md->sigma * sntk_rng_normal(&s);
    sntk_rng_init(&s, seed, SNTK_RNG_SIGN, (uint64_t)key);
    for (int64_t l = 0; l < md->k; l++) md->A[l * md->m_loc + r] = flip * sntk_rng_sign(&s);
  }
  memcpy(md->W0, md->W, (size_t)(md->m_loc * md->d) * sizeof *md->W);
}

void sntk_model_rows_to_global(const sntk_model_t *md, const double *src, int64_t width,
                               double *dst) {
  for (int64_t r = 0; r < md->m_loc; r++)
    memcpy(dst + md->perm[r] * width, src + r * width, (size_t)width * sizeof *src);
}

void sntk_model_rows_from_global(const sntk_model_t *md, const double *src, int64_t width,
                                 double *dst) {
  for (int64_t r = 0; r < md->m_loc; r++)
    memcpy(dst + r * width, src + md->perm[r] * width, (size_t)width * sizeof *src);
}

/* Not collective: wmax = max_r ||w_r|| over this rank's neurons (before any forward pass). */
static void update_wmax(sntk_model_t *md) {
  double w2 = 0.0;
  for (int64_t r = 0; r < md->m_loc; r++) {
    double s = 0.0;
    for (int64_t j = 0; j < md->d; j++) s += md->W[r * md->d + j] * md->W[r * md->d + j];
    if (s > w2) w2 = s;
  }
  md->wmax = sqrt(w2);
}

/* Forward on one chunk of c <= chunk samples: Z = X W^T, then the activation leaves its values in
 * Z (softmax: exp(z - shift), with the factors turning them into S in ft) and writes F (c x k,
 * identical on every rank). */
static int forward_chunk(sntk_model_t *md, const double *X, int64_t c, double *F) {
  const int64_t ml = md->m_loc, d = md->d;
  sntk_perf_start(SNTK_EV_FORWARD_GEMM);
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)c, (int)ml, (int)d, 1.0, X, (int)d,
              md->W, (int)d, 0.0, md->Z, (int)ml);
  sntk_perf_stop(SNTK_EV_FORWARD_GEMM, 2.0 * (double)c * (double)ml * (double)d);
  return sntk_act_table[md->act]->forward(md, X, c, F);
}

int model_forward_sum(sntk_model_t *md, int64_t c, double *F,
                      void (*act_k1)(int64_t c, int64_t n, double *Z, int64_t ldz, const double *a,
                                     double *out, int64_t stride),
                      void (*act)(int64_t len, double *Z)) {
  const int64_t ml = md->m_loc, k = md->k;
  const int ci = (int)c, mli = (int)ml, ki = (int)k;
  sntk_perf_start(SNTK_EV_ACTIVATION);
  if (k == 1) {
    act_k1(c, ml, md->Z, ml, md->A, F, 1);
    for (int64_t i = 0; i < c; i++) F[i] *= md->gamma;
  } else {
    act(c * ml, md->Z);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, ci, ki, mli, md->gamma, md->Z, mli, md->A,
                mli, 0.0, F, ki);
  }
  sntk_perf_stop(SNTK_EV_ACTIVATION, 2.0 * (double)c * (double)ml * (double)k);
  sntk_perf_start(SNTK_EV_ALLREDUCE);
  int rc = MPI_Allreduce(MPI_IN_PLACE, F, ci * ki, MPI_DOUBLE, MPI_SUM, md->comm);
  sntk_perf_stop(SNTK_EV_ALLREDUCE, 0.0);
  SNTK_CALL(SNTK_MPI(rc));
  return SNTK_OK;
}

/* X^T G for k = 1 without a pass over the activations P, for the activations with grad_signs: with
 * the a = +1 neurons in storage rows [0, npos) and a = -1 after them, G_ir = P_ir (u_i or v_i) by
 * sign, so X^T G = [(diag(u) X)^T P_+, (diag(v) X)^T P_-]: the factors scale the c x d sample rows
 * instead of the c x m_loc activations. Softmax: u, v = f_i (+-gamma e_i - q_i); exp: u, v =
 * +-gamma e_i. */
static void backward_signs(sntk_model_t *md, const double *X, int64_t c, double beta) {
  const int64_t ml = md->m_loc, d = md->d, np = md->npos;
  const sntk_act_ops_t *ops = sntk_act_table[md->act];
  double *Xu = md->Xs, *Xv = md->Xs + c * d;
  for (int64_t i = 0; i < c; i++) {
    double u, v;
    ops->grad_signs(md, i, md->gamma * md->E[i], &u, &v);
    for (int64_t j = 0; j < d; j++) {
      Xu[i * d + j] = u * X[i * d + j];
      Xv[i * d + j] = v * X[i * d + j];
    }
  }
  sntk_perf_start(SNTK_EV_BACKWARD_GEMM);
  if (np > 0)
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)d, (int)np, (int)c, 1.0, Xu, (int)d,
                md->Z, (int)ml, beta, md->gT, (int)ml);
  if (ml - np > 0)
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)d, (int)(ml - np), (int)c, 1.0, Xv,
                (int)d, md->Z + np, (int)ml, beta, md->gT + np, (int)ml);
  sntk_perf_stop(SNTK_EV_BACKWARD_GEMM, 2.0 * (double)c * (double)ml * (double)d);
}

/* Backward on the chunk just forwarded, with E = F - Y in md->E: gT (d x m_loc) = beta gT + X^T G.
 * k = 1 with the activation's grad_signs (softmax, exp): see backward_signs; else (relu) grad_k1
 * puts G in place of the activations in Z; k > 1: G goes through B = E A. (X^T G runs at about
 * twice the rate of the equivalent G^T X in OpenBLAS for these shapes; the step transposes gT
 * once.) */
static void backward_chunk(sntk_model_t *md, const double *X, int64_t c, const double *F,
                           double beta) {
  const int64_t ml = md->m_loc, d = md->d, k = md->k;
  const int ci = (int)c, mli = (int)ml, ki = (int)k;
  const sntk_act_ops_t *ops = sntk_act_table[md->act];
  double *G = md->Z;
  if (ops->grad_prepare) ops->grad_prepare(md, c, F);
  if (k == 1 && ops->grad_signs) {
    backward_signs(md, X, c, beta);
    return;
  }
  sntk_perf_start(SNTK_EV_BACKWARD_ELEM);
  if (k == 1) {
    ops->grad_k1(md, c);
  } else {
    G = md->B;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, ci, mli, ki, 1.0, md->E, ki, md->A, mli,
                0.0, md->B, mli);
    ops->grad(md, c);
  }
  sntk_perf_stop(SNTK_EV_BACKWARD_ELEM, k > 1 ? 2.0 * (double)c * (double)ml * (double)k : 0.0);
  sntk_perf_start(SNTK_EV_BACKWARD_GEMM);
  cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)d, mli, ci, 1.0, X, (int)d, G, mli,
              beta, md->gT, mli);
  sntk_perf_stop(SNTK_EV_BACKWARD_GEMM, 2.0 * (double)c * (double)ml * (double)d);
}

/* Sizes the int-based BLAS and MPI calls see must fit an int. */
static int check_int_sizes(const sntk_model_t *md) {
  int tmp;
  SNTK_CALL(sntk_narrow(md->chunk * md->m_loc, "chunk * local width", &tmp));
  SNTK_CALL(sntk_narrow(md->chunk * (md->k + 2), "chunk * (k + 2)", &tmp));
  SNTK_CALL(sntk_narrow(md->m_loc * md->d, "local width * d", &tmp));
  return SNTK_OK;
}

/* Forward and backward over n samples X, with the residuals E = F - Y (Y given) or E = v (v given,
 * the vector-Jacobian product): *loss = 1/2 ||E||^2, F (optional) and grad = J^T E (optional). */
static int eval_chunks(sntk_model_t *md, const double *X, const double *Y, const double *v,
                       int64_t n, double *loss, double *F, double *grad) {
  const int64_t k = md->k;
  double total = 0.0;
  SNTK_CALL(check_int_sizes(md));
  update_wmax(md);
  for (int64_t i0 = 0; i0 < n; i0 += md->chunk) {
    const int64_t c = n - i0 < md->chunk ? n - i0 : md->chunk;
    const double *Xc = X + i0 * md->d;
    double *Fc = F ? F + i0 * k : md->Fc;
    SNTK_CALL(forward_chunk(md, Xc, c, Fc));
    double part = 0.0;
    for (int64_t j = 0; j < c * k; j++) {
      md->E[j] = Y ? Fc[j] - Y[i0 * k + j] : v[i0 * k + j];
      part += md->E[j] * md->E[j];
    }
    total += 0.5 * part;
    if (grad) backward_chunk(md, Xc, c, Fc, i0 == 0 ? 0.0 : 1.0);
  }
  if (grad) /* gT is d x m_loc; the gradient block is m_loc x d like W */
    for (int64_t r = 0; r < md->m_loc; r++)
      for (int64_t j = 0; j < md->d; j++) grad[r * md->d + j] = md->gT[j * md->m_loc + r];
  if (loss) *loss = total;
  return SNTK_OK;
}

int sntk_model_eval(sntk_model_t *md, const sntk_dataset_t *ds, double *loss, double *F,
                    double *grad) {
  return eval_chunks(md, ds->X, ds->Y, NULL, ds->n, loss, F, grad);
}

int sntk_model_vjp(sntk_model_t *md, const double *X, int64_t n, const double *v, double *grad) {
  return eval_chunks(md, X, NULL, v, n, NULL, NULL, grad);
}

int sntk_model_forward(sntk_model_t *md, const double *X, int64_t n, double *F) {
  SNTK_CALL(check_int_sizes(md));
  update_wmax(md);
  for (int64_t i0 = 0; i0 < n; i0 += md->chunk) {
    const int64_t c = n - i0 < md->chunk ? n - i0 : md->chunk;
    SNTK_CALL(forward_chunk(md, X + i0 * md->d, c, F + i0 * md->k));
  }
  return SNTK_OK;
}

/* Features of the c samples just forwarded (the activation's feature, which reads Z and, for
 * softmax, ft and the merged tuples T). U is column-major (one column per neuron) while Z is
 * row-major (one row per sample): the loops run over tiles of 32 samples x 256 neurons so that both
 * sides stay in cache. */
static void features_chunk(const sntk_model_t *md, int64_t c, double *U, int64_t ldu) {
  const int64_t ml = md->m_loc, k = md->k, TI = 32, TR = 256;
  const sntk_act_ops_t *ops = sntk_act_table[md->act];
  for (int64_t i0 = 0; i0 < c; i0 += TI) {
    const int64_t i1 = i0 + TI < c ? i0 + TI : c;
    for (int64_t r0 = 0; r0 < ml; r0 += TR) {
      const int64_t r1 = r0 + TR < ml ? r0 + TR : ml;
      for (int64_t r = r0; r < r1; r++)
        for (int64_t l = 0; l < k; l++)
          ops->feature(md, i0, i1, r, l, md->A[l * ml + r], U + r * ldu + l);
    }
  }
}

int sntk_model_features(sntk_model_t *md, const double *X, int64_t n, double *U, int64_t ldu) {
  if (ldu < n * md->k)
    return sntk_error(SNTK_ERR_RUNTIME, "features: leading dimension %lld < n k = %lld",
                      (long long)ldu, (long long)(n * md->k));
  SNTK_CALL(check_int_sizes(md));
  update_wmax(md);
  for (int64_t i0 = 0; i0 < n; i0 += md->chunk) {
    const int64_t c = n - i0 < md->chunk ? n - i0 : md->chunk;
    SNTK_CALL(forward_chunk(md, X + i0 * md->d, c, md->Fc));
    features_chunk(md, c, U + i0 * md->k, ldu);
  }
  return SNTK_OK;
}

enum {
  JVP_ROWS = 256
}; /* rows of X dW^T formed at a time: a small scratch, reused while in cache */

void model_jvp_gemm(const sntk_model_t *md, int64_t c, const double *P, double *out) {
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)c, (int)md->k, (int)md->m_loc,
              md->gamma, P, (int)md->m_loc, md->A, (int)md->m_loc, 0.0, out, (int)md->k);
}

int sntk_model_jvp(sntk_model_t *md, const double *X, int64_t n, const double *dW, double *out) {
  const int64_t ml = md->m_loc, d = md->d, k = md->k;
  const int64_t rows = md->chunk < JVP_ROWS ? md->chunk : JVP_ROWS;
  double *Zp = NULL;
  int err = SNTK_OK;
  SNTK_TRY(check_int_sizes(md));
  SNTK_TRY(SNTK_ALLOC(Zp, rows * ml));
  update_wmax(md);
  for (int64_t i0 = 0; i0 < n; i0 += md->chunk) {
    const int64_t c = n - i0 < md->chunk ? n - i0 : md->chunk;
    SNTK_TRY(forward_chunk(md, X + i0 * d, c, md->Fc));
    for (int64_t j0 = 0; j0 < c; j0 += rows) {
      const int64_t cr = c - j0 < rows ? c - j0 : rows;
      /* Zp = X dW^T: the directional derivative of every pre-activation of these rows */
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)cr, (int)ml, (int)d, 1.0,
                  X + (i0 + j0) * d, (int)d, dW, (int)d, 0.0, Zp, (int)ml);
      sntk_act_table[md->act]->jvp(md, j0, cr, Zp, out + (i0 + j0) * k);
    }
  }
  SNTK_TRY(sntk_allreduce_sum(out, n * k, md->comm));
done:
  free(Zp);
  return err;
}

/* Global squared norm of this rank's m_loc x d block. */
static int block_norm2(const sntk_model_t *md, const double *g, double *out) {
  double s = 0.0;
  for (int64_t i = 0; i < md->m_loc * md->d; i++) s += g[i] * g[i];
  *out = s;
  return sntk_allreduce_sum(out, 1, md->comm);
}

int sntk_model_jjt_max(sntk_model_t *md, const sntk_dataset_t *ds, uint64_t seed, int max_iter,
                       double rtol, double *lambda, int *iters) {
  const int64_t nk = ds->n * md->k;
  double *v = NULL, *g = NULL, lam = 0.0;
  int err = SNTK_OK, it = 0;
  SNTK_TRY(SNTK_ALLOC(v, nk));
  SNTK_TRY(SNTK_ALLOC(g, md->m_loc * md->d));
  double v2 = 0.0;
  for (int64_t i = 0; i < nk; i++) {
    sntk_rng_t s;
    sntk_rng_init(&s, seed, SNTK_RNG_POWER, (uint64_t)i);
    v[i] = sntk_rng_normal(&s);
    v2 += v[i] * v[i];
  }
  for (int64_t i = 0; i < nk; i++) v[i] /= sqrt(v2);
  /* v <- J J^T v / ||J J^T v|| with ||v|| = 1: ||J J^T v|| rises to lambda_max from below */
  for (it = 1; it <= max_iter; it++) {
    double w2 = 0.0, g2;
    SNTK_TRY(sntk_model_vjp(md, ds->X, ds->n, v, g));
    SNTK_TRY(block_norm2(md, g, &g2));
    SNTK_TRY(sntk_model_jvp(md, ds->X, ds->n, g, v));
    for (int64_t i = 0; i < nk; i++) w2 += v[i] * v[i];
    const double prev = lam;
    lam = sqrt(w2);
    if (!(lam > 0.0) || !isfinite(lam))
      SNTK_TRY(sntk_error(SNTK_ERR_RUNTIME,
                          "power iteration on J J^T: ||J J^T v|| = %g at iteration %d (the "
                          "Jacobian vanishes or overflows at these weights)",
                          lam, it));
    for (int64_t i = 0; i < nk; i++) v[i] /= lam;
    if (fabs(lam - prev) <= rtol * lam) break;
  }
  *lambda = lam;
  *iters = it > max_iter ? max_iter : it;
done:
  free(v);
  free(g);
  return err;
}

void sntk_model_update(sntk_model_t *md, const double *grad, double eta) {
  sntk_perf_start(SNTK_EV_UPDATE);
  cblas_daxpy((int)(md->m_loc * md->d), -eta, grad, 1, md->W, 1);
  sntk_perf_stop(SNTK_EV_UPDATE, 2.0 * (double)(md->m_loc * md->d));
}

double sntk_model_local_drift(const sntk_model_t *md) {
  double worst = 0.0;
  for (int64_t r = 0; r < md->m_loc; r++) {
    double s = 0.0;
    for (int64_t j = 0; j < md->d; j++) {
      double t = md->W[r * md->d + j] - md->W0[r * md->d + j];
      s += t * t;
    }
    if (s > worst) worst = s;
  }
  return sqrt(worst);
}
