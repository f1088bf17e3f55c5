/* The sharded two-layer network: configuration, creation, initialisation, forward, loss, gradient.
 */
#include "softntk/model.h"

#include "kernels.h"
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

/* The GEMM call sites of reproducible mode (rgemm's probe keys). */
enum { GEMM_FORWARD, GEMM_BACKWARD_POS, GEMM_BACKWARD_NEG, GEMM_BACKWARD, GEMM_EA, GEMM_JVP };

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
  if (cfg->reproducible) {
    const int64_t B = sntk_model_block_size(cfg->width, cfg->block);
    const int64_t nblk = (cfg->width + B - 1) / B;
    if (nblk < nranks)
      return sntk_error(SNTK_ERR_INPUT,
                        "parallel.reproducible = true splits model.width = %lld into %lld blocks "
                        "of %lld neurons, fewer than the %d MPI ranks (each rank owns whole "
                        "blocks): set a smaller parallel.block, or parallel.reproducible = false",
                        (long long)cfg->width, (long long)nblk, (long long)B, nranks);
  }
  if (cfg->init == SNTK_INIT_COUPLED && cfg->width % 2)
    return sntk_error(
        SNTK_ERR_INPUT,
        "model.width = %lld is odd but model.init = coupled pairs the neurons: use an "
        "even width",
        (long long)cfg->width);
  return SNTK_OK;
}

int64_t sntk_model_block_size(int64_t m, int64_t block) {
  if (block > 0) return block < m ? block : m;
  int64_t B = (m + 63) / 64;
  return B < 1 ? 1 : (B > 1024 ? 1024 : B);
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

int64_t sntk_model_repro_bytes(const sntk_model_t *md) {
  if (!md->repro) return 0;
  const int64_t c = md->chunk, d = md->d, k = md->k, ml = md->m_loc, dk = d > k ? d : k;
  const int64_t nu = md->nblk * md->units, big = c > dk ? c : dk;
  const int64_t kept = (md->nu_loc + (md->size > 1 ? nu : 0)) * c * (k + 2) + 2 * big * md->block +
                       c * dk + 2 * c + 4 * md->nu_loc;
  /* a probe's temporaries, at most: A's layout and the forward's W-like B, or the backward's C
   * (d x m_loc) and its prior content */
  const int64_t probe = c * dk + (ml * d > 2 * d * ml ? ml * d : 2 * d * ml) + 64;
  return (kept + probe) * (int64_t)sizeof(double);
}

int64_t sntk_model_max_local(const sntk_model_t *md) {
  if (!md->repro) return (md->m + md->size - 1) / md->size;
  const int64_t most = (md->nblk + md->size - 1) / md->size * md->block;
  return most < md->m ? most : md->m;
}

int64_t sntk_model_chunk_size(int64_t n, int64_t m, int64_t k, int P, int64_t chunk) {
  if (chunk > 0) return chunk < n ? chunk : n;
  const int64_t budget = (int64_t)64 << 20; /* bytes for Z (and B when k > 1) */
  int64_t m_loc_max = (m + P - 1) / P;
  int64_t c = budget / ((k > 1 ? 2 : 1) * (int64_t)sizeof(double) * m_loc_max);
  if (c < 32) c = 32;
  return c < n ? c : n;
}

/* Reproducible mode: the storage runs of this rank's units. Storage is ordered as in the rank-local
 * mode (for k = 1 the a = +1 neurons first, each group in increasing index), so the a = +1 neurons
 * of a block form one run inside the first group (unit 2b) and its a = -1 neurons one run inside
 * the second (unit 2b + 1, possibly empty); for k > 1 a unit is a block. Blocks are aligned with
 * the rank boundaries, so local neuron index / block is the local block. */
static void set_units(sntk_model_t *md) {
  for (int64_t u = 0; u < md->nu_loc; u++) md->ustart[u] = md->ulen[u] = 0;
  for (int64_t r = 0; r < md->m_loc; r++) {
    const int64_t lb = md->perm[r] / md->block;
    const int64_t u = lb * md->units + (md->units == 2 && md->A[r] < 0 ? 1 : 0);
    if (md->ulen[u]++ == 0) md->ustart[u] = r;
  }
  for (int64_t u = 0; u < md->nu_loc; u++) /* an empty unit sits where its run would */
    if (md->ulen[u] == 0) md->ustart[u] = u > 0 ? md->ustart[u - 1] + md->ulen[u - 1] : 0;
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
  md->repro = cfg->reproducible != 0;
  int64_t r1;
  if (md->repro) { /* whole canonical blocks per rank */
    md->block = sntk_model_block_size(md->m, cfg->block);
    md->nblk = (md->m + md->block - 1) / md->block;
    md->units = k == 1 ? 2 : 1;
    int64_t b0, b1;
    sntk_partition(md->nblk, size, rank, &b0, &b1);
    md->r0 = b0 * md->block;
    r1 = b1 * md->block < md->m ? b1 * md->block : md->m;
    md->u0 = b0 * md->units;
    md->nu_loc = (b1 - b0) * md->units;
  } else {
    sntk_partition(md->m, size, rank, &md->r0, &r1);
  }
  md->m_loc = r1 - md->r0;
  /* reproducible: the chunk P = 1 would use, so that the sums over samples do not depend on P */
  md->chunk = sntk_model_chunk_size(n, md->m, k, md->repro ? 1 : size, chunk);
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
  if (md->repro) {
    const int64_t w = k + 2, nu = md->nblk * md->units;
    int tmp;
    SNTK_TRY(sntk_narrow(nu * c * w, "units * chunk * (k + 2)", &tmp));
    SNTK_TRY(SNTK_ALLOC(md->ustart, md->nu_loc));
    SNTK_TRY(SNTK_ALLOC(md->ulen, md->nu_loc));
    SNTK_TRY(SNTK_ALLOC(md->ucount, size));
    SNTK_TRY(SNTK_ALLOC(md->udispl, size));
    SNTK_TRY(SNTK_ALLOC(md->rcount, size));
    SNTK_TRY(SNTK_ALLOC(md->rdispl, size));
    SNTK_TRY(SNTK_ALLOC(md->upart, md->nu_loc * c * w));
    if (size > 1) SNTK_TRY(SNTK_ALLOC(md->ugath, nu * c * w));
    SNTK_TRY(SNTK_ALLOC(md->umax, c));
    SNTK_TRY(SNTK_ALLOC(md->ubad, c));
    /* per-unit GEMM scratch, 64-byte aligned: C and B slices (rows, inner <= max(chunk, d, k),
     * width <= block), and A (chunk x max(d, k)) */
    const int64_t big = c > d ? (c > k ? c : k) : (d > k ? d : k);
    md->gscr_half = (big * md->block + 7) / 8 * 8;
    if (posix_memalign((void **)&md->gscr, 64, (size_t)(2 * md->gscr_half) * sizeof(double)) ||
        posix_memalign((void **)&md->gascr, 64, (size_t)(c * (d > k ? d : k)) * sizeof(double)))
      SNTK_TRY(sntk_error(SNTK_ERR_RUNTIME, "out of memory for the per-unit GEMM scratch"));
    for (int p = 0; p < size; p++) {
      int64_t b0, b1;
      sntk_partition(md->nblk, size, p, &b0, &b1);
      md->ucount[p] = (int)((b1 - b0) * md->units);
      md->udispl[p] = (int)(b0 * md->units);
    }
    set_units(md);
    /* testing hook: every GEMM per unit (tests/test_reproducible.py compares the two paths) */
    md->gemm_per_unit = getenv("SOFTNTK_GEMM_PER_UNIT") != NULL;
  }
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
  free(md->ustart);
  free(md->ulen);
  free(md->ucount);
  free(md->udispl);
  free(md->rcount);
  free(md->rdispl);
  free(md->upart);
  free(md->ugath);
  free(md->umax);
  free(md->ubad);
  free(md->gscr);
  free(md->gascr);
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
  if (md->repro) set_units(md);
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

/* wmax = max_r ||w_r|| over this rank's neurons (before any forward pass); collective in
 * reproducible mode, where it is the maximum over all neurons (a maximum is exact in any order). */
static int update_wmax(sntk_model_t *md) {
  double w2 = 0.0;
  for (int64_t r = 0; r < md->m_loc; r++) {
    double s = 0.0;
    for (int64_t j = 0; j < md->d; j++) s += md->W[r * md->d + j] * md->W[r * md->d + j];
    if (s > w2) w2 = s;
  }
  md->wmax = sqrt(w2);
  if (md->repro)
    SNTK_CALL(SNTK_MPI(MPI_Allreduce(MPI_IN_PLACE, &md->wmax, 1, MPI_DOUBLE, MPI_MAX, md->comm)));
  return SNTK_OK;
}

/* Reproducible mode: every unit's partials (this rank's in md->upart, nu_loc x c x w) in global
 * unit order, nblk units x c x w, identical on every rank. */
static int gather_units(sntk_model_t *md, int64_t c, int64_t w, const double **all) {
  if (md->size == 1) {
    *all = md->upart;
    return SNTK_OK;
  }
  for (int p = 0; p < md->size; p++) {
    md->rcount[p] = (int)(md->ucount[p] * c * w);
    md->rdispl[p] = (int)(md->udispl[p] * c * w);
  }
  sntk_perf_start(SNTK_EV_ALLREDUCE);
  int rc = MPI_Allgatherv(md->upart, md->rcount[md->rank], MPI_DOUBLE, md->ugath, md->rcount,
                          md->rdispl, MPI_DOUBLE, md->comm);
  sntk_perf_stop(SNTK_EV_ALLREDUCE, 0.0);
  SNTK_CALL(SNTK_MPI(rc));
  *all = md->ugath;
  return SNTK_OK;
}

/* Reproducible mode: one unit's columns of C = alpha op(A) op(B) + beta C in the canonical form:
 * every operand copied to a contiguous, 64-byte aligned block (OpenBLAS's small-matrix kernels take
 * paths that depend on the operands' alignment and leading dimensions, which differ from rank to
 * rank): A (given already copied, As, leading dimension ldas), the unit's slice of B (Bw: B at the
 * call's first column; the unit starts o columns or rows later), and C from Cin (the unit's first
 * column, leading dimension ldin; read only when beta != 0). The call's shapes, layouts and
 * alignments are then the same on every rank count. Returns the result (rows x len, leading
 * dimension len). */
static const double *unit_call(const sntk_model_t *md, int64_t len, int64_t o,
                               enum CBLAS_TRANSPOSE ta, int64_t rows, int64_t inner, double alpha,
                               const double *As, int64_t ldas, const double *Bw, int64_t ldb,
                               int b_rows, double beta, const double *Cin, int64_t ldin) {
  double *Cs = md->gscr, *Bs = md->gscr + md->gscr_half;
  if (b_rows) /* len rows of `inner` values */
    for (int64_t r = 0; r < len; r++)
      memcpy(Bs + r * inner, Bw + (o + r) * ldb, (size_t)inner * sizeof *Bs);
  else /* inner rows of len values */
    for (int64_t i = 0; i < inner; i++)
      memcpy(Bs + i * len, Bw + i * ldb + o, (size_t)len * sizeof *Bs);
  if (beta != 0.0)
    for (int64_t i = 0; i < rows; i++)
      memcpy(Cs + i * len, Cin + i * ldin, (size_t)len * sizeof *Cs);
  cblas_dgemm(CblasRowMajor, ta, b_rows ? CblasTrans : CblasNoTrans, (int)rows, (int)len,
              (int)inner, alpha, As, (int)ldas, Bs, (int)(b_rows ? inner : len), beta, Cs,
              (int)len);
  return Cs;
}

/* One reproducible-mode GEMM: C = alpha op(A) op(B) + beta C on the storage columns [c0, c1) of the
 * units ufirst, ufirst + ustep, ...; op(B) = the units' rows of B transposed (b_rows: W-like, one
 * row of `inner` values per neuron) or the units' columns of B. */
typedef struct gemm_call {
  int site;
  int64_t ufirst, ustep, c0, c1;
  enum CBLAS_TRANSPOSE ta;
  int64_t rows, inner, lda, ldb, ldc;
  int b_rows;
  double alpha, beta;
} gemm_call_t;

/* The canonical result of g, unit by unit, with Bw and Cw at column c0 (Cin: C's prior content,
 * rows x (c1 - c0), leading dimension ldin, if not C itself). cmp: only compare, 1 if Cw already
 * holds the canonical bits. */
static int canonical(sntk_model_t *md, const gemm_call_t *g, const double *A, const double *Bw,
                     double *Cw, const double *Cin, int64_t ldin, int cmp) {
  const int64_t ar = g->ta == CblasNoTrans ? g->rows : g->inner;
  const int64_t ac = g->ta == CblasNoTrans ? g->inner : g->rows;
  for (int64_t i = 0; i < ar; i++)
    memcpy(md->gascr + i * ac, A + i * g->lda, (size_t)ac * sizeof *A);
  for (int64_t u = g->ufirst; u < md->nu_loc; u += g->ustep) {
    const int64_t len = md->ulen[u], o = md->ustart[u] - g->c0;
    if (len == 0) continue;
    const double *Cs =
        unit_call(md, len, o, g->ta, g->rows, g->inner, g->alpha, md->gascr, ac, Bw, g->ldb,
                  g->b_rows, g->beta, Cin ? Cin + o : Cw + o, Cin ? ldin : g->ldc);
    for (int64_t i = 0; i < g->rows; i++) {
      double *dst = Cw + i * g->ldc + o;
      if (!cmp)
        memcpy(dst, Cs + i * len, (size_t)len * sizeof *dst);
      else if (memcmp(dst, Cs + i * len, (size_t)len * sizeof *dst))
        return 0;
    }
  }
  return 1;
}

/* Random doubles of either sign in [1, 2) times 1/2, 1 or 2: terms of similar size, so that any two
 * different orders of summation round differently in a good share of the sums (terms spread over
 * many binades would be absorbed alike in either order). */
static void fill_random(double *x, int64_t rows, int64_t cols, int64_t ld, uint64_t *state) {
  for (int64_t i = 0; i < rows; i++)
    for (int64_t j = 0; j < cols; j++) {
      *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
      const uint64_t r = *state >> 11;
      const double mant = 1.0 + (double)(r & 0xFFFFFFFFFULL) / 68719476736.0;
      x[i * ld + j] = ((r >> 40) & 1 ? -1.0 : 1.0) * ldexp(mant, (int)((r >> 41) % 3) - 1);
    }
}

/* A buffer of n doubles whose address lies `off` bytes (a multiple of 8) past a multiple of 64. */
static double *aligned_like(int64_t n, uintptr_t off, void **base) {
  if (posix_memalign(base, 64, (size_t)(n + 8) * sizeof(double))) return NULL;
  return (double *)*base + (off % 64) / 8;
}

/* Does one call over all of g's units give every column the canonical bits for operands laid out
 * like A, Bw, Cw (same leading dimensions, same addresses mod 64)? Tried on random operands: a copy
 * of A's layout, and B and C either in place (their columns [c0, c1) are dead: overwritten) or in
 * copies of their layout. 0 also when memory runs out. */
static int probe(sntk_model_t *md, const gemm_call_t *g, const double *A, double *Bw, int b_place,
                 double *Cw, int c_place) {
  const int64_t w = g->c1 - g->c0, ar = g->ta == CblasNoTrans ? g->rows : g->inner;
  const int64_t ac = g->ta == CblasNoTrans ? g->inner : g->rows;
  const int64_t br = g->b_rows ? w : g->inner, bc = g->b_rows ? g->inner : w;
  void *ab = NULL, *bb = NULL, *cb = NULL, *sb = NULL;
  uint64_t st = 0x9E3779B97F4A7C15ULL ^ (uint64_t)g->site;
  int same = 0;
  double *At = aligned_like(ar * g->lda, (uintptr_t)A, &ab);
  double *Bt = b_place ? Bw : aligned_like(br * g->ldb, (uintptr_t)Bw, &bb);
  double *Ct = c_place ? Cw : aligned_like(g->rows * g->ldc, (uintptr_t)Cw, &cb);
  /* C's prior content, needed when beta != 0 only (then rows = d: small) */
  double *Sv = g->beta != 0.0 ? aligned_like(g->rows * w, 0, &sb) : NULL;
  if (At && Bt && Ct && (Sv || g->beta == 0.0)) {
    fill_random(At, ar, ac, g->lda, &st);
    fill_random(Bt, br, bc, g->ldb, &st);
    fill_random(Ct, g->rows, w, g->ldc, &st);
    for (int64_t i = 0; Sv && i < g->rows; i++)
      memcpy(Sv + i * w, Ct + i * g->ldc, (size_t)w * sizeof *Sv);
    cblas_dgemm(CblasRowMajor, g->ta, g->b_rows ? CblasTrans : CblasNoTrans, (int)g->rows, (int)w,
                (int)g->inner, g->alpha, At, (int)g->lda, Bt, (int)g->ldb, g->beta, Ct,
                (int)g->ldc);
    same = canonical(md, g, At, Bt, Ct, Sv, w, 1);
  }
  free(ab), free(bb), free(cb), free(sb);
  return same;
}

/* Reproducible mode: C = alpha op(A) op(B) + beta C on the columns of the units ufirst, ufirst +
 * ustep, ... (contiguous in storage; see gemm_call_t). The canonical result is one unit_call per
 * unit, the same on every rank count. One call over all the units is faster, and a BLAS may give
 * each of its columns the canonical bits (OpenBLAS's packed GEMM does: its microkernels run the
 * inner loop in the same order whatever the width; BLIS does not): for each key (site, rows, inner,
 * beta, the operands' addresses mod 64) a probe on random operands of the same layout decides,
 * before the first call (forward, EA, JVP: C is dead then) or after it (backward: G is dead then;
 * that first call is canonical). A probe on the run's own data could be fooled: two orders of a
 * few sums can round alike by chance. */
static void rgemm(sntk_model_t *md, int site, int64_t ufirst, int64_t ustep,
                  enum CBLAS_TRANSPOSE ta, int64_t rows, int64_t inner, double alpha,
                  const double *A, int64_t lda, const double *Bm, int64_t ldb, int b_rows,
                  double beta, double *C, int64_t ldc) {
  gemm_call_t g = {site,  ufirst, ustep, INT64_MAX, 0,      ta,    rows,
                   inner, lda,    ldb,   ldc,       b_rows, alpha, beta};
  for (int64_t u = ufirst; u < md->nu_loc; u += ustep)
    if (md->ulen[u] > 0) {
      g.c0 = md->ustart[u] < g.c0 ? md->ustart[u] : g.c0;
      g.c1 = md->ustart[u] + md->ulen[u] > g.c1 ? md->ustart[u] + md->ulen[u] : g.c1;
    }
  if (g.c1 <= g.c0) return;
  const double *Bw = b_rows ? Bm + g.c0 * ldb : Bm + g.c0;
  double *Cw = C + g.c0;
  const int64_t key[SNTK_GEMM_KEY] = {site,
                                      rows,
                                      inner,
                                      beta != 0.0,
                                      (int64_t)((uintptr_t)A % 64),
                                      (int64_t)((uintptr_t)Bw % 64),
                                      (int64_t)((uintptr_t)Cw % 64)};
  const int after = site == GEMM_BACKWARD || site == GEMM_BACKWARD_POS || site == GEMM_BACKWARD_NEG;
  /* Tiny shapes run per unit (it costs nothing there): with BLIS, single calls of 5 x 4..7 x 16
   * passed the random probe yet differed from the per-unit calls on the run's data (test_model on 4
   * ranks), for a reason not understood; the large GEMMs of real runs are what the single call is
   * for. */
  const int tiny = rows < 16 || inner < 16 || g.c1 - g.c0 < 64;
  int verdict = md->gemm_per_unit || tiny || md->ngemm_probe >= SNTK_GEMM_PROBES ? 0 : -1;
  for (int i = 0; i < md->ngemm_probe; i++)
    if (!memcmp(md->gemm_probe[i], key, sizeof key))
      verdict = (int)md->gemm_probe[i][SNTK_GEMM_KEY];
  int slot = -1;
  if (verdict < 0) {
    slot = md->ngemm_probe++;
    memcpy(md->gemm_probe[slot], key, sizeof key);
    md->gemm_probe[slot][SNTK_GEMM_KEY] = 0;
    if (!after)
      verdict = md->gemm_probe[slot][SNTK_GEMM_KEY] = probe(md, &g, A, (double *)Bw, 0, Cw, 1);
  }
  if (verdict == 1) {
    cblas_dgemm(CblasRowMajor, ta, b_rows ? CblasTrans : CblasNoTrans, (int)rows,
                (int)(g.c1 - g.c0), (int)inner, alpha, A, (int)lda, Bw, (int)ldb, beta, Cw,
                (int)ldc);
    return;
  }
  canonical(md, &g, A, Bw, Cw, NULL, 0, 0);
  if (slot >= 0 && after)
    md->gemm_probe[slot][SNTK_GEMM_KEY] = probe(md, &g, A, (double *)Bw, 1, Cw, 0);
}

/* Forward on one chunk of c <= chunk samples: Z = X W^T, then the activation leaves its values in
 * Z (softmax: exp(z - shift), with the factors turning them into S in ft) and writes F (c x k,
 * identical on every rank). */
static int forward_chunk(sntk_model_t *md, const double *X, int64_t c, double *F) {
  const int64_t ml = md->m_loc, d = md->d;
  sntk_perf_start(SNTK_EV_FORWARD_GEMM);
  if (md->repro) /* block by block: W's rows of a block */
    rgemm(md, GEMM_FORWARD, 0, 1, CblasNoTrans, c, d, 1.0, X, d, md->W, d, 1, 0.0, md->Z, ml);
  else
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
  if (md->repro) {
    sntk_perf_start(SNTK_EV_ACTIVATION);
    act(c * ml, md->Z);
    sntk_kern_dots_units(c, md->nu_loc, md->ustart, md->ulen, md->Z, ml, md->A, ml, k, 0, md->upart,
                         k);
    sntk_perf_stop(SNTK_EV_ACTIVATION, 2.0 * (double)c * (double)ml * (double)k);
    const double *all;
    SNTK_CALL(gather_units(md, c, k, &all));
    const int64_t nu = md->nblk * md->units;
    for (int64_t j = 0; j < c * k; j++) F[j] = 0.0;
    for (int64_t u = 0; u < nu; u++)
      for (int64_t j = 0; j < c * k; j++) F[j] += all[u * c * k + j];
    for (int64_t j = 0; j < c * k; j++) F[j] *= md->gamma;
    return SNTK_OK;
  }
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

int model_softmax_units(sntk_model_t *md, const double *X, int64_t c, double *F) {
  const int64_t ml = md->m_loc, d = md->d, k = md->k, w = k + 2, nu = md->nblk * md->units;
  double *sh = md->ft; /* the row shifts, until ft is formed */
  sntk_perf_start(SNTK_EV_ACTIVATION);
  for (int64_t i = 0; i < c; i++) sh[i] = cblas_dnrm2((int)d, X + i * d, 1) * md->wmax;
  sntk_kern_softmax_units(c, md->nu_loc, md->ustart, md->ulen, md->Z, ml, sh, md->A, ml, k,
                          md->upart, w);
  sntk_perf_stop(SNTK_EV_ACTIVATION, 2.0 * (double)c * (double)ml * (double)k);
  const double *all;
  SNTK_CALL(gather_units(md, c, w, &all));
  for (int64_t i = 0; i < c; i++) { /* unit by unit, each sum in unit order */
    double *t = md->T + i * w;
    t[0] = sh[i];
    for (int64_t j = 1; j < w; j++) t[j] = 0.0;
    md->umax[i] = -INFINITY;
  }
  for (int64_t u = 0; u < nu; u++)
    for (int64_t i = 0; i < c; i++) {
      const double *p = all + (u * c + i) * w;
      double *t = md->T + i * w;
      md->umax[i] = p[0] > md->umax[i] ? p[0] : md->umax[i];
      for (int64_t j = 1; j < w; j++) t[j] += p[j];
    }
  int64_t nbad = 0;
  for (int64_t i = 0; i < c; i++) /* as softmax_k1: a bound more than 600 above the row's maximum
                                     loses the row to underflow */
    if ((sh[i] - md->umax[i] > 600.0 || !(md->T[i * w + 1] > 0.0)) && isfinite(md->umax[i]))
      md->ubad[nbad++] = i;
  if (nbad > 0) { /* the same rows on every rank: recompute them shifted by their maximum */
    double *sh2 = md->rowq; /* free until the backward */
    for (int64_t b = 0; b < nbad; b++) {
      const int64_t i = md->ubad[b];
      double *z = md->Z + i * ml;
      for (int64_t r = 0; r < ml; r++) z[r] = sntk_kern_fdot8(md->W + r * d, X + i * d, d);
      sh2[b] = md->umax[i];
    }
    for (int64_t b = 0; b < nbad; b++) /* one row at a time: unit u, bad row b at (u nbad + b) */
      for (int64_t u = 0; u < md->nu_loc; u++)
        sntk_kern_softmax_units(1, 1, md->ustart + u, md->ulen + u, md->Z + md->ubad[b] * ml, ml,
                                sh2 + b, md->A, ml, k, md->upart + (u * nbad + b) * w, w);
    SNTK_CALL(gather_units(md, nbad, w, &all));
    for (int64_t b = 0; b < nbad; b++) {
      double *t = md->T + md->ubad[b] * w;
      t[0] = sh2[b];
      for (int64_t j = 1; j < w; j++) t[j] = 0.0;
      for (int64_t u = 0; u < nu; u++)
        for (int64_t j = 1; j < w; j++) t[j] += all[(u * nbad + b) * w + j];
    }
  }
  for (int64_t i = 0; i < c; i++) { /* Z holds exp(z - t[0]): S = Z / s */
    const double *t = md->T + i * w;
    const double inv_s = 1.0 / t[1];
    for (int64_t l = 0; l < k; l++) F[i * k + l] = md->gamma * t[2 + l] * inv_s;
    md->ft[i] = inv_s;
  }
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
  if (md->repro) { /* units 2b: block b's a = +1 run (in [0, npos)); 2b + 1: its a = -1 run */
    rgemm(md, GEMM_BACKWARD_POS, 0, 2, CblasTrans, d, c, 1.0, Xu, d, md->Z, ml, 0, beta, md->gT,
          ml);
    rgemm(md, GEMM_BACKWARD_NEG, 1, 2, CblasTrans, d, c, 1.0, Xv, d, md->Z, ml, 0, beta, md->gT,
          ml);
  } else if (np > 0)
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)d, (int)np, (int)c, 1.0, Xu, (int)d,
                md->Z, (int)ml, beta, md->gT, (int)ml);
  if (!md->repro && ml - np > 0)
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
    if (md->repro)
      rgemm(md, GEMM_EA, 0, 1, CblasNoTrans, c, k, 1.0, md->E, k, md->A, ml, 0, 0.0, md->B, ml);
    else
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, ci, mli, ki, 1.0, md->E, ki, md->A,
                  mli, 0.0, md->B, mli);
    ops->grad(md, c);
  }
  sntk_perf_stop(SNTK_EV_BACKWARD_ELEM, k > 1 ? 2.0 * (double)c * (double)ml * (double)k : 0.0);
  sntk_perf_start(SNTK_EV_BACKWARD_GEMM);
  if (md->repro)
    rgemm(md, GEMM_BACKWARD, 0, 1, CblasTrans, d, c, 1.0, X, d, G, ml, 0, beta, md->gT, ml);
  else
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
  SNTK_CALL(update_wmax(md));
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
  SNTK_CALL(update_wmax(md));
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
  SNTK_CALL(update_wmax(md));
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
  const int64_t ml = md->m_loc, d = md->d, k = md->k, w = k + 1;
  const int64_t rows = md->chunk < JVP_ROWS ? md->chunk : JVP_ROWS;
  const sntk_act_ops_t *ops = sntk_act_table[md->act];
  double *Zp = NULL, *sums = NULL;
  int err = SNTK_OK;
  SNTK_TRY(check_int_sizes(md));
  SNTK_TRY(SNTK_ALLOC(Zp, rows * ml));
  SNTK_TRY(SNTK_ALLOC(sums, rows * w));
  SNTK_TRY(update_wmax(md));
  for (int64_t i0 = 0; i0 < n; i0 += md->chunk) {
    const int64_t c = n - i0 < md->chunk ? n - i0 : md->chunk;
    SNTK_TRY(forward_chunk(md, X + i0 * d, c, md->Fc));
    for (int64_t j0 = 0; j0 < c; j0 += rows) {
      const int64_t cr = c - j0 < rows ? c - j0 : rows;
      const double *Xr = X + (i0 + j0) * d;
      /* Zp = X dW^T: the directional derivative of every pre-activation of these rows */
      if (!md->repro) {
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)cr, (int)ml, (int)d, 1.0, Xr,
                    (int)d, dW, (int)d, 0.0, Zp, (int)ml);
        ops->jvp(md, j0, cr, Zp, out + (i0 + j0) * k);
        continue;
      }
      /* reproducible: per-unit sums of P and a_l P, gathered and added in unit order */
      rgemm(md, GEMM_JVP, 0, 1, CblasNoTrans, cr, d, 1.0, Xr, d, dW, d, 1, 0.0, Zp, ml);
      ops->jvp_prod(md, j0, cr, Zp);
      sntk_kern_dots_units(cr, md->nu_loc, md->ustart, md->ulen, Zp, ml, md->A, ml, k, 1, md->upart,
                           w);
      const double *all;
      SNTK_TRY(gather_units(md, cr, w, &all));
      for (int64_t j = 0; j < cr * w; j++) sums[j] = 0.0;
      for (int64_t u = 0; u < md->nblk * md->units; u++)
        for (int64_t j = 0; j < cr * w; j++) sums[j] += all[u * cr * w + j];
      ops->jvp_finish(md, j0, cr, sums, out + (i0 + j0) * k);
    }
  }
  if (!md->repro) SNTK_TRY(sntk_allreduce_sum(out, n * k, md->comm));
done:
  free(Zp);
  free(sums);
  return err;
}

int sntk_model_norm2(const sntk_model_t *md, const double *g, double *out) {
  if (!md->repro) {
    double s = 0.0;
    for (int64_t i = 0; i < md->m_loc * md->d; i++) s += g[i] * g[i];
    *out = s;
    return sntk_allreduce_sum(out, 1, md->comm);
  }
  sntk_model_t *mw = (sntk_model_t *)md; /* the unit buffers are scratch */
  for (int64_t u = 0; u < md->nu_loc; u++) {
    double s = 0.0;
    for (int64_t r = md->ustart[u]; r < md->ustart[u] + md->ulen[u]; r++)
      s += sntk_kern_fdot8(g + r * md->d, g + r * md->d, md->d);
    mw->upart[u] = s;
  }
  const double *all;
  SNTK_CALL(gather_units(mw, 1, 1, &all));
  double s = 0.0;
  for (int64_t u = 0; u < md->nblk * md->units; u++) s += all[u];
  *out = s;
  return SNTK_OK;
}

/* Global squared norm of this rank's m_loc x d block. */
static int block_norm2(const sntk_model_t *md, const double *g, double *out) {
  return sntk_model_norm2(md, g, out);
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
  if (md->repro) { /* BLAS daxpy rounds its tail (n mod 16 here) without FMA and the rest with: an
                    * element's bits would depend on the rank's width. A plain loop (no
                    * contraction in this file) rounds every element alike. */
    const int64_t len = md->m_loc * md->d;
    for (int64_t i = 0; i < len; i++) md->W[i] -= eta * grad[i];
  } else
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

/* jvp_prod of the activations whose derivative factor is their value (exp, softmax): Zp *= Z on
 * rows i0..i0+c. */
void model_jvp_prod_value(const sntk_model_t *md, int64_t i0, int64_t c, double *Zp) {
  const int64_t ml = md->m_loc;
  for (int64_t i = 0; i < c; i++) {
    const double *z = md->Z + (i0 + i) * ml;
    double *p = Zp + i * ml;
    for (int64_t r = 0; r < ml; r++) p[r] *= z[r];
  }
}

/* jvp_finish of the unnormalised activations (exp, relu): gamma sum_r a_{l,r} P_ir. */
void model_jvp_finish_linear(const sntk_model_t *md, int64_t i0, int64_t c, const double *sums,
                             double *out) {
  (void)i0;
  for (int64_t i = 0; i < c; i++)
    for (int64_t l = 0; l < md->k; l++)
      out[i * md->k + l] = md->gamma * sums[i * (md->k + 1) + 1 + l];
}
