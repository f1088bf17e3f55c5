/* The NTK's memory plan: bytes the largest rank needs before anything large is allocated, the
 * neuron panel width that fits, and the refusal that names needed and available memory and a rank
 * count that would fit. The plan counts the distributed matrices exactly (NUMROC of the largest
 * process, (0, 0)), the solver backend's workspace (its plan: for ScaLAPACK the documented
 * workspace formulas), and a margin for PBLAS/BLACS/MPI buffers. */
#include "ntk_impl.h"

#include "softntk/error.h"

#include <stdio.h>

#define GIB    1073741824.0
#define MARGIN ((int64_t)96 << 20) /* MPI, BLACS and PBLAS buffers, the libraries themselves */

static int64_t imax(int64_t a, int64_t b) {
  return a > b ? a : b;
}

static int64_t ceil_div(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

int64_t ntk_transpose_buffer(int64_t np, int64_t nq, int64_t nb) {
  const int64_t cols = 4 * nb * (np + nq);
  return cols < np * nq ? cols : np * nq;
}

void ntk_plan(const ntk_shape_t *s, int64_t panel, ntk_need_t *need) {
  const int64_t nk = s->n * s->k, nb = s->nb, mb = ceil_div(s->m, s->P);
  const int64_t np = sntk_numroc(nk, nb, 0, s->nprow), nq = sntk_numroc(nk, nb, 0, s->npcol);
  const int64_t pq = sntk_numroc(panel, nb, 0, s->npcol), hk = s->holdout * s->k;
  const int64_t d8 = (int64_t)sizeof(double);
  need->mat = np * nq * d8;
  need->nmat = 2 - (s->lean != 0) + (s->keep_init != 0) + (s->limit != 0) +
               (s->spectrum != SNTK_SPECTRUM_VALUES);
  need->features = (nk + hk) * mb * d8;
  if (s->gram == SNTK_GRAM_REDUCE) /* this rank's nk x panel product, its packed copy, its share */
    need->panel = (2 * nk * panel + np * (pq < panel ? pq + nb : panel)) * d8;
  else /* U2, plus PBLAS' copies of the panel in the row and column distributions and PDGEMR2D
        * buffers */
    need->panel = (np * pq + (np + nq) * panel + 2 * nk * (panel < mb ? panel : mb)) * d8;
  need->solver = ntk_solver_table[s->solver]->plan(s, nk) * d8;
  const int64_t data = 2 * (s->n + s->holdout) * (s->d + s->k);
  const int64_t vectors = 12 * nk + 4 * hk;
  const int64_t scratch = np * (256 + s->d) + 256 * s->d + 3 * np;
  const int64_t regression = s->holdout > 0 ? s->n * mb + s->holdout * (s->n + mb) : 0;
  const int64_t transpose = s->lean && s->P > 1 ? ntk_transpose_buffer(np, nq, nb) : 0;
  need->other = (data + vectors + scratch + regression + transpose) * d8 +
                sntk_model_bytes(mb, s->d, s->k, s->chunk) + MARGIN;
  need->total = need->nmat * need->mat + need->features + need->panel + need->solver + need->other;
}

/* Smallest panel worth running: one block, or all of U (pdsyrk) or H (reduce) when it is narrower.
 */
static int64_t min_panel(const ntk_shape_t *s) {
  const int64_t all = s->gram == SNTK_GRAM_REDUCE ? s->n * s->k : ceil_div(s->m, s->P) * s->P;
  return s->nb < all ? s->nb : all;
}

/* The smallest rank count above s->P on which the problem fits `avail` bytes per rank, 0 if none up
 * to 2^20; the grid it would use. */
static int fitting_ranks(const ntk_shape_t *s, int64_t avail, int *pr, int *pc) {
  for (int P = s->P + 1; P <= (1 << 20); P++) {
    ntk_shape_t t = *s;
    ntk_need_t need;
    t.P = P;
    sntk_grid_shape("auto", P, &t.nprow, &t.npcol);
    ntk_plan(&t, min_panel(&t), &need);
    if (need.total <= avail) {
      *pr = t.nprow, *pc = t.npcol;
      return P;
    }
  }
  return 0;
}

static int refuse(const ntk_shape_t *s, const ntk_need_t *need, int64_t avail) {
  char fit[256];
  int pr = 0, pc = 0, P = fitting_ranks(s, avail, &pr, &pc);
  if (P)
    snprintf(fit, sizeof fit,
             "It would fit on %d ranks (grid %dx%d) with the same memory per rank; or lower data.n "
             "or data.k%s%s",
             P, pr, pc,
             s->spectrum != SNTK_SPECTRUM_VALUES || s->limit
                 ? ", or use ntk.spectrum = values and ntk.limit = false"
                 : "",
             s->lean || s->holdout > 0 ? ""
                                       : ", or ntk.memory = lean with spectrum = values (H "
                                         "held once and assembled again)");
  else
    snprintf(fit, sizeof fit,
             "No rank count up to 2^20 fits: the per-rank features and data alone exceed it; lower "
             "data.n, data.k or model.width");
  return sntk_error(
      SNTK_ERR_INPUT,
      "the NTK (nk = %lld) needs %.2f GiB per rank on %d rank%s (grid %dx%d, nb %lld): "
      "%lld Gram-sized matrices of %.2f GiB, features %.2f GiB, panel %.2f GiB, "
      "solver workspace %.2f GiB, other %.2f GiB; but %.2f GiB are available per "
      "rank. %s",
      (long long)(s->n * s->k), need->total / GIB, s->P, s->P > 1 ? "s" : "", s->nprow, s->npcol,
      (long long)s->nb, (long long)need->nmat, need->mat / GIB, need->features / GIB,
      need->panel / GIB, need->solver / GIB, need->other / GIB, avail / GIB, fit);
}

int ntk_choose_panel(const ntk_shape_t *s, int64_t cfg_panel, int64_t avail, int64_t *panel,
                     ntk_need_t *need) {
  const int64_t all = s->gram == SNTK_GRAM_REDUCE ? s->n * s->k : ceil_div(s->m, s->P) * s->P,
                lo = min_panel(s);
  const int64_t first = s->gram == SNTK_GRAM_REDUCE ? ntk_reduce_width(s) : all;
  int64_t w = cfg_panel > 0 ? (cfg_panel < all ? cfg_panel : all) : first;
  ntk_plan(s, w, need);
  while (cfg_panel == 0 && avail >= 0 && need->total > avail && w > lo) {
    w = imax(lo, (w / 2 / s->nb) * s->nb);
    ntk_plan(s, w, need);
  }
  if (avail >= 0 && need->total > avail) return refuse(s, need, avail);
  *panel = w;
  return SNTK_OK;
}
