/* The sharded two-layer network: configuration, creation, initialisation, forward, loss, gradient. */
#include "softntk/model.h"

#include "kernels.h"
#include "softntk/error.h"
#include "softntk/parallel.h"
#include "softntk/perf.h"
#include "softntk/rng.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *const sntk_activation_names[] = {"softmax", "exp", "relu", NULL};
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
    {"activation", SNTK_T_CHOICE, OFF(activation), "softmax", 0, 0, 0, sntk_activation_names, NULL,
     "hidden activation: softmax over the m neurons, exp, or relu"},
    {"width", SNTK_T_INT, OFF(width), "1024", 1, 1e12, 0, NULL, NULL,
     "hidden width m (at least the number of MPI ranks)"},
    {"sigma", SNTK_T_REAL, OFF(sigma), "1", 0, INFINITY, SNTK_KEY_MIN_OPEN, NULL, NULL,
     "initial weights w_r(0) ~ N(0, sigma^2 I)"},
    {"output_scale", SNTK_T_STRING, OFF(output_scale), "paper", 0, 0, 0, NULL, check_scale,
     "paper (softmax m, exp 1, relu 1/sqrt(m)), ntk (softmax sqrt(m), exp and relu 1/sqrt(m)), or "
     "a number"},
    {"init", SNTK_T_CHOICE, OFF(init), "coupled", 0, 0, 0, inits, NULL,
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
    return sntk_error(SNTK_ERR_INPUT,
                      "model.width = %lld is odd but model.init = coupled pairs the neurons: use an "
                      "even width",
                      (long long)cfg->width);
  return SNTK_OK;
}

int sntk_model_scale(int act, const char *text, int64_t m, double *gamma, double *nu) {
  const double mm = (double)m;
  if (strcmp(text, "paper") == 0)
    *gamma = act == SNTK_ACT_SOFTMAX ? mm : act == SNTK_ACT_EXP ? 1.0 : 1.0 / sqrt(mm);
  else if (strcmp(text, "ntk") == 0)
    *gamma = act == SNTK_ACT_SOFTMAX ? sqrt(mm) : 1.0 / sqrt(mm);
  else {
    char why[128];
    if (check_scale(text, why, sizeof why))
      return sntk_error(SNTK_ERR_INPUT, "model.output_scale = '%s' %s", text, why);
    *gamma = strtod(text, NULL);
  }
  *nu = act == SNTK_ACT_SOFTMAX ? mm : 1.0 / mm;
  return SNTK_OK;
}

int64_t sntk_model_bytes(int64_t m_loc, int64_t d, int64_t k, int64_t chunk) {
  int64_t doubles = 3 * m_loc * d + k * m_loc + (k > 1 ? 2 : 1) * chunk * m_loc + chunk * (3 * k + 4);
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
  SNTK_TRY(SNTK_ALLOC(md->T, c * (k + 2)));
  SNTK_TRY(SNTK_ALLOC(md->rowf, c));
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
  free(md->T);
  free(md->rowf);
  free(md->rowq);
  free(md->E);
  free(md->Fc);
  free(md);
  *model = NULL;
}

void sntk_model_init(sntk_model_t *md, uint64_t seed) {
  const int coupled = md->init == SNTK_INIT_COUPLED;
  for (int64_t r = 0; r < md->m_loc; r++) {
    const int64_t g = md->r0 + r, key = coupled ? g / 2 : g;
    const double flip = coupled && (g % 2) ? -1.0 : 1.0;
    sntk_rng_t s;
    sntk_rng_init(&s, seed, SNTK_RNG_WEIGHT, (uint64_t)key);
    for (int64_t j = 0; j < md->d; j++) md->W[r * md->d + j] = md->sigma * sntk_rng_normal(&s);
    sntk_rng_init(&s, seed, SNTK_RNG_SIGN, (uint64_t)key);
    for (int64_t l = 0; l < md->k; l++) md->A[l * md->m_loc + r] = flip * sntk_rng_sign(&s);
  }
  memcpy(md->W0, md->W, (size_t)(md->m_loc * md->d) * sizeof *md->W);
}

/* Forward on one chunk of c <= chunk samples: leaves activations in Z (softmax: exp(z - M_local) with
 * the row factors in rowf, so S = Z * rowf) and writes F (c x k, identical on every rank). */
static int forward_chunk(sntk_model_t *md, const double *X, int64_t c, double *F) {
  const int64_t ml = md->m_loc, d = md->d, k = md->k;
  const int ci = (int)c, mli = (int)ml, di = (int)d, ki = (int)k;
  const double zflops = 2.0 * (double)c * (double)ml * (double)d;
  const double oflops = 2.0 * (double)c * (double)ml * (double)k;
  sntk_perf_start(SNTK_EV_FORWARD_GEMM);
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, ci, mli, di, 1.0, X, di, md->W, di, 0.0,
              md->Z, mli);
  sntk_perf_stop(SNTK_EV_FORWARD_GEMM, zflops);
  if (md->act == SNTK_ACT_SOFTMAX) {
    const int64_t w = k + 2;
    sntk_perf_start(SNTK_EV_ACTIVATION);
    if (k == 1) {
      sntk_kern_softmax_rows_k1(c, ml, md->Z, md->A, md->T, w);
    } else {
      sntk_kern_softmax_rows(c, ml, md->Z, md->T, md->T + 1, w);
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, ci, ki, mli, 1.0, md->Z, mli, md->A,
                  mli, 0.0, md->T + 2, (int)w);
    }
    sntk_perf_stop(SNTK_EV_ACTIVATION, oflops);
    for (int64_t i = 0; i < c; i++) md->rowf[i] = md->T[i * w]; /* local max, kept for rescaling */
    sntk_perf_start(SNTK_EV_ALLREDUCE);
    int rc = MPI_Allreduce(MPI_IN_PLACE, md->T, ci, md->tuple_type, md->tuple_op, md->comm);
    sntk_perf_stop(SNTK_EV_ALLREDUCE, 0.0);
    SNTK_CALL(SNTK_MPI(rc));
    for (int64_t i = 0; i < c; i++) {
      const double *t = md->T + i * w;
      const double inv_s = 1.0 / t[1];
      for (int64_t l = 0; l < k; l++) F[i * k + l] = md->gamma * t[2 + l] * inv_s;
      md->rowf[i] = exp(md->rowf[i] - t[0]) * inv_s;
    }
    return SNTK_OK;
  }
  sntk_perf_start(SNTK_EV_ACTIVATION);
  if (k == 1) {
    sntk_kern_act_k1(md->act == SNTK_ACT_RELU, c, ml, md->Z, md->A, F);
    for (int64_t i = 0; i < c; i++) F[i] *= md->gamma;
  } else {
    if (md->act == SNTK_ACT_EXP)
      sntk_kern_exp(c * ml, md->Z);
    else
      sntk_kern_relu(c * ml, md->Z);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, ci, ki, mli, md->gamma, md->Z, mli, md->A,
                mli, 0.0, F, ki);
  }
  sntk_perf_stop(SNTK_EV_ACTIVATION, oflops);
  sntk_perf_start(SNTK_EV_ALLREDUCE);
  int rc = MPI_Allreduce(MPI_IN_PLACE, F, ci * ki, MPI_DOUBLE, MPI_SUM, md->comm);
  sntk_perf_stop(SNTK_EV_ALLREDUCE, 0.0);
  SNTK_CALL(SNTK_MPI(rc));
  return SNTK_OK;
}

/* The gradient factors G (c x m_loc) of the chunk just forwarded, with E = F - Y in md->E: in place
 * of the activations in Z for k = 1, else in B. Returns G. */
static double *grad_factors(sntk_model_t *md, int64_t c, const double *F) {
  const int64_t ml = md->m_loc, k = md->k;
  double *G = md->Z;
  if (md->act == SNTK_ACT_SOFTMAX)
    for (int64_t i = 0; i < c; i++) {
      double q = 0.0;
      for (int64_t l = 0; l < k; l++) q += md->E[i * k + l] * F[i * k + l];
      md->rowq[i] = q;
    }
  if (k == 1) {
    if (md->act == SNTK_ACT_SOFTMAX)
      sntk_kern_softmax_grad_k1(c, ml, md->Z, md->A, md->E, md->rowf, md->rowq, md->gamma);
    else
      sntk_kern_exp_grad_k1(md->act == SNTK_ACT_RELU, c, ml, md->Z, md->A, md->E, md->gamma);
    return G;
  }
  const int ci = (int)c, mli = (int)ml, ki = (int)k;
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, ci, mli, ki, 1.0, md->E, ki, md->A, mli,
              0.0, md->B, mli);
  if (md->act == SNTK_ACT_SOFTMAX)
    sntk_kern_softmax_grad(c, ml, md->Z, md->B, md->rowf, md->rowq, md->gamma);
  else if (md->act == SNTK_ACT_EXP)
    sntk_kern_exp_grad(c * ml, md->Z, md->B, md->gamma);
  else
    sntk_kern_relu_grad(c * ml, md->Z, md->B, md->gamma);
  return md->B;
}

/* Backward on the chunk just forwarded: gT (d x m_loc) = beta gT + X^T G. (X^T G runs at about twice
 * the rate of the equivalent G^T X in OpenBLAS for these shapes; the step transposes gT once.) */
static void backward_chunk(sntk_model_t *md, const double *X, int64_t c, const double *F,
                           double beta) {
  const int64_t ml = md->m_loc, d = md->d, k = md->k;
  sntk_perf_start(SNTK_EV_BACKWARD_ELEM);
  const double *G = grad_factors(md, c, F);
  sntk_perf_stop(SNTK_EV_BACKWARD_ELEM, k > 1 ? 2.0 * (double)c * (double)ml * (double)k : 0.0);
  sntk_perf_start(SNTK_EV_BACKWARD_GEMM);
  cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)d, (int)ml, (int)c, 1.0, X, (int)d, G,
              (int)ml, beta, md->gT, (int)ml);
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

int sntk_model_eval(sntk_model_t *md, const sntk_dataset_t *ds, double *loss, double *F,
                    double *grad) {
  const int64_t k = md->k, n = ds->n;
  double total = 0.0;
  SNTK_CALL(check_int_sizes(md));
  for (int64_t i0 = 0; i0 < n; i0 += md->chunk) {
    const int64_t c = n - i0 < md->chunk ? n - i0 : md->chunk;
    const double *Xc = ds->X + i0 * md->d, *Yc = ds->Y + i0 * k;
    double *Fc = F ? F + i0 * k : md->Fc;
    SNTK_CALL(forward_chunk(md, Xc, c, Fc));
    double part = 0.0;
    for (int64_t j = 0; j < c * k; j++) {
      md->E[j] = Fc[j] - Yc[j];
      part += md->E[j] * md->E[j];
    }
    total += 0.5 * part;
    if (grad) backward_chunk(md, Xc, c, Fc, i0 == 0 ? 0.0 : 1.0);
  }
  if (grad) /* gT is d x m_loc; the gradient block is m_loc x d like W */
    for (int64_t r = 0; r < md->m_loc; r++)
      for (int64_t j = 0; j < md->d; j++) grad[r * md->d + j] = md->gT[j * md->m_loc + r];
  *loss = total;
  return SNTK_OK;
}

int sntk_model_forward(sntk_model_t *md, const double *X, int64_t n, double *F) {
  SNTK_CALL(check_int_sizes(md));
  for (int64_t i0 = 0; i0 < n; i0 += md->chunk) {
    const int64_t c = n - i0 < md->chunk ? n - i0 : md->chunk;
    SNTK_CALL(forward_chunk(md, X + i0 * md->d, c, F + i0 * md->k));
  }
  return SNTK_OK;
}

/* Features of the c samples just forwarded: Z holds the activations; for softmax rowf holds the
 * factors turning Z into S, and T the merged tuples (numerator l over the sum is <a_l, S(x_i)>). */
/* Features of the c samples just forwarded: Z holds the activations and, for softmax, rowf the factors
 * turning Z into S and T the merged tuples, whose numerators over the sum are <a_l, S(x_i)>. U is
 * column-major (one column per neuron) while Z is row-major (one row per sample): the loops run over
 * tiles of 32 samples x 256 neurons so that both sides stay in cache. */
static void features_chunk(const sntk_model_t *md, int64_t c, double *U, int64_t ldu) {
  const int64_t ml = md->m_loc, k = md->k, w = k + 2, TI = 32, TR = 256;
  for (int64_t i0 = 0; i0 < c; i0 += TI) {
    const int64_t i1 = i0 + TI < c ? i0 + TI : c;
    for (int64_t r0 = 0; r0 < ml; r0 += TR) {
      const int64_t r1 = r0 + TR < ml ? r0 + TR : ml;
      for (int64_t r = r0; r < r1; r++)
        for (int64_t l = 0; l < k; l++) {
          const double a = md->A[l * ml + r];
          double *u = U + r * ldu + l;
          for (int64_t i = i0; i < i1; i++) {
            const double z = md->Z[i * ml + r];
            if (md->act == SNTK_ACT_SOFTMAX) {
              const double *t = md->T + i * w;
              u[i * k] = z * md->rowf[i] * (a - t[2 + l] / t[1]);
            } else if (md->act == SNTK_ACT_EXP) {
              u[i * k] = a * z;
            } else {
              u[i * k] = z > 0.0 ? a : 0.0;
            }
          }
        }
    }
  }
}

int sntk_model_features(sntk_model_t *md, const double *X, int64_t n, double *U, int64_t ldu) {
  if (ldu < n * md->k)
    return sntk_error(SNTK_ERR_RUNTIME, "features: leading dimension %lld < n k = %lld",
                      (long long)ldu, (long long)(n * md->k));
  SNTK_CALL(check_int_sizes(md));
  for (int64_t i0 = 0; i0 < n; i0 += md->chunk) {
    const int64_t c = n - i0 < md->chunk ? n - i0 : md->chunk;
    SNTK_CALL(forward_chunk(md, X + i0 * md->d, c, md->Fc));
    features_chunk(md, c, U + i0 * md->k, ldu);
  }
  return SNTK_OK;
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
