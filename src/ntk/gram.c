/* Assembly of the normalised empirical NTK H = nu (K_X (x) 1 1^T) o (U U^T) and of its
 * infinite-width limit H* on the 2D grid (DESIGN.md sections 2 and 3).
 *
 * U: each rank computes the features of its own neurons for all samples into its column block of
 * the 1 x P layout U1 (nk x P mb, zero columns pad the ranks that own fewer than mb = ceil(m / P)
 * neurons and add nothing to U U^T). U U^T is a sum over neurons, formed by one of two methods
 * (ntk.gram, chosen per shape by ntk_gram_method):
 * - reduce: each rank multiplies its own features (DSYRK/DGEMM on nk x mb, no data moved first)
 *   panel by panel of H's columns and MPI_Reduce_scatter sums the ranks' panels straight into the
 *   block-cyclic layout (assemble_reduce);
 * - pdsyrk: PDGEMR2D moves one neuron panel at a time into U2 on the 2D grid and PDSYRK
 *   accumulates nu U2 U2^T into the lower triangle of H.
 * A block transpose (one MPI_Alltoallv of the strictly lower blocks) fills the upper triangle; the
 * factor x_i . x_j is applied locally from GEMMs of the samples behind this rank's rows and
 * columns. On one rank U1 is already the whole U: DSYRK writes H directly and a local transpose
 * fills the upper triangle (PDGEMR2D, PDSYRK and PDTRAN cost 2x the time there). */
#include "ntk_impl.h"
#include "softntk/perf.h"

#include "softntk/error.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <limits.h>
#include <string.h>

enum { KX_HADAMARD, KX_LIMIT };
enum { KX_PANEL = 256 }; /* local columns per x_i . x_j GEMM */

/* The activation's entry (its file in src/model holds the formula). */
double ntk_limit_entry(int act, double sigma, const double *xi, const double *xj, int64_t d,
                       double kx, double ni, double nj) {
  return sntk_act_table[act]->limit(sigma, xi, xj, d, kx, ni, nj);
}

double sntk_ntk_limit_kernel(int act, double sigma, const double *x, const double *y, int64_t d) {
  double kx = 0.0, nx = 0.0, ny = 0.0;
  for (int64_t c = 0; c < d; c++) kx += x[c] * y[c], nx += x[c] * x[c], ny += y[c] * y[c];
  return ntk_limit_entry(act, sigma, x, y, d, kx, nx, ny);
}

/* Scratch of the local x_i . x_j blocks. */
typedef struct kx_scratch {
  double *Xr, *Xc, *Kp, *nr, *nc;
  int64_t *lr;
} kx_scratch_t;

static void kx_free(kx_scratch_t *s) {
  free(s->Xr), free(s->Xc), free(s->Kp), free(s->nr), free(s->nc), free(s->lr);
}

/* Over H's local entries: H *= x_i . x_j (KX_HADAMARD) or H = delta_{l1 l2} h(x_i, x_j) (KX_LIMIT).
 */
static int kx_apply(sntk_ntk_t *ntk, sntk_dmat_t *H, int mode) {
  const int64_t d = ntk->d, k = ntk->k, mloc = H->mloc, nloc = H->nloc;
  const int act = ntk->model->act;
  const double sigma = ntk->model->sigma;
  kx_scratch_t s = {0};
  int err = SNTK_OK;
  if (mloc == 0 || nloc == 0) return SNTK_OK;
  SNTK_TRY(SNTK_ALLOC(s.Xr, mloc * d));
  SNTK_TRY(SNTK_ALLOC(s.Xc, KX_PANEL * d));
  SNTK_TRY(SNTK_ALLOC(s.Kp, mloc * KX_PANEL));
  SNTK_TRY(SNTK_ALLOC(s.nr, mloc));
  SNTK_TRY(SNTK_ALLOC(s.nc, KX_PANEL));
  SNTK_TRY(SNTK_ALLOC(s.lr, mloc));
  for (int64_t li = 0; li < mloc; li++) {
    const int64_t g = sntk_dmat_grow(H, li);
    const double *x = ntk->X + (g / k) * d;
    memcpy(s.Xr + li * d, x, (size_t)d * sizeof *x);
    s.nr[li] = cblas_ddot((int)d, x, 1, x, 1);
    s.lr[li] = g % k;
  }
  for (int64_t lj0 = 0; lj0 < nloc; lj0 += KX_PANEL) {
    const int64_t pw = nloc - lj0 < KX_PANEL ? nloc - lj0 : KX_PANEL;
    for (int64_t c = 0; c < pw; c++) {
      const double *x = ntk->X + (sntk_dmat_gcol(H, lj0 + c) / k) * d;
      memcpy(s.Xc + c * d, x, (size_t)d * sizeof *x);
      s.nc[c] = cblas_ddot((int)d, x, 1, x, 1);
    }
    /* Kp (mloc x pw, column-major) = Xr Xc^T, computed as the row-major pw x mloc Xc Xr^T. */
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)pw, (int)mloc, (int)d, 1.0, s.Xc,
                (int)d, s.Xr, (int)d, 0.0, s.Kp, (int)mloc);
    for (int64_t c = 0; c < pw; c++) {
      double *col = H->a + (lj0 + c) * H->lld;
      const double *kc = s.Kp + c * mloc;
      const int64_t l2 = sntk_dmat_gcol(H, lj0 + c) % k;
      if (mode == KX_HADAMARD)
        for (int64_t li = 0; li < mloc; li++) col[li] *= kc[li];
      else
        for (int64_t li = 0; li < mloc; li++)
          col[li] = s.lr[li] == l2 ? ntk_limit_entry(act, sigma, s.Xr + li * d, s.Xc + c * d, d,
                                                     kc[li], s.nr[li], s.nc[c])
                                   : 0.0;
    }
  }
done:
  kx_free(&s);
  return err;
}

/* One rank: the upper triangle from the lower one, by a blocked local transpose. */
static void symmetrize_local(sntk_dmat_t *H, int64_t nk) {
  const int64_t B = 64;
  for (int64_t j0 = 0; j0 < nk; j0 += B)
    for (int64_t i0 = j0; i0 < nk; i0 += B)
      for (int64_t j = j0; j < j0 + B && j < nk; j++)
        for (int64_t i = i0 > j ? i0 : j + 1; i < i0 + B && i < nk; i++)
          H->a[i * H->lld + j] = H->a[j * H->lld + i];
}

/* Global block (Ib, Jb)'s local offset on the process that owns it: local rows and columns before
 * it.
 */
static int64_t lrow0(const sntk_dmat_t *H, int64_t Ib) {
  return (Ib / H->grid->nprow) * H->mb;
}
static int64_t lcol0(const sntk_dmat_t *H, int64_t Jb) {
  return (Jb / H->grid->npcol) * H->nb;
}

/* Rows (or columns) of global block Ib of an order-nk matrix in blocks of nb. */
static int64_t bsize(int64_t Ib, int64_t nb, int64_t nk) {
  return nk - Ib * nb < nb ? nk - Ib * nb : nb;
}

/* Doubles this rank sends and receives for the lower blocks of source block column Jb. */
static int64_t column_traffic(const sntk_dmat_t *H, int64_t nk, int64_t Jb) {
  const sntk_grid_t *g = H->grid;
  const int64_t nb = H->mb, nbk = (nk + nb - 1) / nb;
  int64_t n = 0;
  if (Jb % g->npcol == g->mycol) /* sent: lower blocks (Ib > Jb) held here */
    for (int64_t Ib = g->myrow; Ib < nbk; Ib += g->nprow)
      if (Ib > Jb) n += bsize(Ib, nb, nk) * bsize(Jb, nb, nk);
  if (Jb % g->nprow == g->myrow) /* received: upper blocks (Jb, Ib), Ib > Jb, held here */
    for (int64_t Ib = g->mycol; Ib < nbk; Ib += g->npcol)
      if (Ib > Jb) n += bsize(Ib, nb, nk) * bsize(Jb, nb, nk);
  return n;
}

/* One exchange of transpose_blocks: the lower blocks of source block columns [J0, J1). */
static int transpose_round(sntk_ntk_t *ntk, sntk_dmat_t *H, int64_t J0, int64_t J1, double *buf,
                           int *cnt, int64_t *off) {
  const sntk_grid_t *g = H->grid;
  const int pr = g->nprow, pc = g->npcol, P = pr * pc;
  const int64_t nk = ntk->nk, nb = H->mb, nbk = (nk + nb - 1) / nb, lld = H->lld;
  int *scnt = cnt, *sdsp = cnt + P, *rcnt = cnt + 2 * P, *rdsp = cnt + 3 * P;
  int64_t *soff = off, *roff = off + P, ls = 0;
  for (int q = 0; q < 2 * P; q++) off[q] = 0;
  for (int64_t Jb = J0 + (g->mycol - J0 % pc + pc) % pc; Jb < J1; Jb += pc)
    for (int64_t Ib = g->myrow; Ib < nbk; Ib += pr)
      if (Ib > Jb) soff[(Jb % pr) * pc + Ib % pc] += bsize(Ib, nb, nk) * bsize(Jb, nb, nk);
  for (int64_t Jb = J0 + (g->myrow - J0 % pr + pr) % pr; Jb < J1; Jb += pr)
    for (int64_t Ib = g->mycol; Ib < nbk; Ib += pc)
      if (Ib > Jb) roff[(Ib % pr) * pc + Jb % pc] += bsize(Ib, nb, nk) * bsize(Jb, nb, nk);
  for (int q = 0; q < P; q++) ls += soff[q];
  for (int64_t q = 0, s = 0, r = 0; q < P; q++) {
    scnt[q] = (int)soff[q], sdsp[q] = (int)s, rcnt[q] = (int)roff[q], rdsp[q] = (int)r;
    s += soff[q], r += roff[q];
    soff[q] = sdsp[q], roff[q] = ls + rdsp[q];
  }
  for (int64_t Jb = J0 + (g->mycol - J0 % pc + pc) % pc; Jb < J1; Jb += pc) /* pack, (Jb, Ib) */
    for (int64_t Ib = g->myrow; Ib < nbk; Ib += pr) {
      const int64_t bi = bsize(Ib, nb, nk), bj = bsize(Jb, nb, nk), li = lrow0(H, Ib),
                    lj = lcol0(H, Jb);
      if (Ib < Jb) continue;
      if (Ib == Jb) { /* diagonal block: held here whole */
        double *a = H->a + lj * lld + li;
        for (int64_t c = 0; c < bj; c++)
          for (int64_t r = c + 1; r < bi; r++) a[r * lld + c] = a[c * lld + r];
        continue;
      }
      double *dst = buf + soff[(Jb % pr) * pc + Ib % pc];
      for (int64_t c = 0; c < bj; c++)
        memcpy(dst + c * bi, H->a + (lj + c) * lld + li, (size_t)bi * sizeof *dst);
      soff[(Jb % pr) * pc + Ib % pc] += bi * bj;
    }
  int err = SNTK_MPI(
      MPI_Alltoallv(buf, scnt, sdsp, MPI_DOUBLE, buf + ls, rcnt, rdsp, MPI_DOUBLE, ntk->comm));
  for (int64_t Jb = J0 + (g->myrow - J0 % pr + pr) % pr; Jb < J1 && !err; Jb += pr) /* unpack */
    for (int64_t Ib = g->mycol; Ib < nbk; Ib += pc) {
      if (Ib <= Jb) continue;
      const int64_t bi = bsize(Ib, nb, nk), bj = bsize(Jb, nb, nk), li = lrow0(H, Jb),
                    lj = lcol0(H, Ib);
      const double *src = buf + roff[(Ib % pr) * pc + Jb % pc]; /* bi x bj block (Ib, Jb) */
      for (int64_t p = 0; p < bi; p++) {
        double *col = H->a + (lj + p) * lld + li;
        for (int64_t q = 0; q < bj; q++) col[q] = src[q * bi + p];
      }
      roff[(Ib % pr) * pc + Jb % pc] += bi * bj;
    }
  return err;
}

/* Collective (row-major grid, square blocks): H's upper triangle from its lower one by a block
 * transpose. Each strictly lower block (Ib, Jb) goes whole, column-major, to the owner of block
 * (Jb, Ib) by MPI_Alltoallv; every sender packs and every receiver unpacks its blocks in the order
 * (Jb, Ib) ascending, so a pair's blocks arrive in the order they are read. Diagonal blocks are
 * mirrored in place. `buf` (cap doubles) holds the packed blocks sent followed by those received;
 * the block columns go in rounds of as many as fit it (the largest traffic of any rank counts), one
 * exchange each. With ntk->work as buf (a work copy of H) the sent blocks (strictly lower) and the
 * received ones (strictly upper) are disjoint parts of one local matrix: one round, unless MPI's
 * int counts cap it. The lean plan passes a buffer of a few block columns. This replaced memset +
 * PDTRAN into ntk->work + a copy back, which on 2 ranks at nk = 8192 took ~0.5 s of a 4.2 s Gram
 * (PDTRAN moves the whole matrix, diagonal and upper included, through PBLAS's packing). *done = 0
 * when one block column does not fit cap (the caller falls back). */
static int transpose_blocks(sntk_ntk_t *ntk, sntk_dmat_t *H, double *buf, int64_t cap, int *done) {
  const int P = H->grid->nprow * H->grid->npcol;
  const int64_t nk = ntk->nk, nbk = (nk + H->mb - 1) / H->mb;
  int *cnt = NULL;
  int64_t *off = NULL;
  double *share = NULL; /* per block column: the largest fraction of its buffer a rank needs */
  int err = SNTK_OK;
  *done = 0;
  if (cap > INT_MAX) cap = INT_MAX;
  err = SNTK_ALLOC(cnt, 4 * P);
  if (!err) err = SNTK_ALLOC(off, 2 * P);
  if (!err) err = SNTK_ALLOC(share, nbk);
  SNTK_TRY(sntk_agree(ntk->comm, err));
  for (int64_t Jb = 0; Jb < nbk; Jb++) {
    const int64_t n = column_traffic(H, nk, Jb);
    share[Jb] = n == 0 ? 0.0 : cap > 0 ? (double)n / (double)cap : 2.0;
  }
  /* every rank then groups the same columns into the same rounds */
  SNTK_TRY(SNTK_MPI(MPI_Allreduce(MPI_IN_PLACE, share, (int)nbk, MPI_DOUBLE, MPI_MAX, ntk->comm)));
  for (int64_t Jb = 0; Jb < nbk; Jb++)
    if (share[Jb] > 1.0) goto done;
  for (int64_t J0 = 0, J1; J0 < nbk && !err; J0 = J1) {
    double load = share[J0];
    for (J1 = J0 + 1; J1 < nbk && load + share[J1] <= 1.0; J1++) load += share[J1];
    err = transpose_round(ntk, H, J0, J1, buf, cnt, off);
  }
  *done = !err;
done:
  free(cnt), free(off), free(share);
  return err;
}

/* H's upper triangle from its lower one: by transpose_blocks (through ntk->work, or the lean plan's
 * ntk->tbuf), or, with a work copy, through PDTRAN into it where that cannot run (a grid not
 * numbered row-major, non-square blocks). */
static int symmetrize(sntk_ntk_t *ntk, sntk_dmat_t *H, int row_major) {
  const int nk = (int)ntk->nk, one = 1;
  const double alpha = 1.0, beta = 0.0;
  if (ntk->size == 1) {
    symmetrize_local(H, ntk->nk);
    return SNTK_OK;
  }
  int done = 0;
  double *buf = ntk->lean ? ntk->tbuf : ntk->work.a;
  const int64_t cap = ntk->lean ? ntk->tbuf_len : H->mloc * H->nloc;
  if (row_major && H->mb == H->nb) SNTK_CALL(transpose_blocks(ntk, H, buf, cap, &done));
  if (done) return SNTK_OK;
  if (ntk->lean)
    return sntk_error(SNTK_ERR_RUNTIME, "ntk.memory = lean: the Gram's block transpose cannot run "
                                        "on this grid (use ntk.memory = copy)");
  sntk_dmat_t *T = &ntk->work;
  memset(T->a, 0, (size_t)sntk_dmat_bytes(T));
  pdtran_(&nk, &nk, &alpha, H->a, &one, &one, H->desc, &beta, T->a, &one, &one, T->desc);
  int64_t above = 0; /* local rows above the diagonal in column lj: grows with lj */
  for (int64_t lj = 0; lj < H->nloc; lj++) {
    const int64_t gj = sntk_dmat_gcol(H, lj);
    while (above < H->mloc && sntk_dmat_grow(H, above) < gj) above++;
    memcpy(H->a + lj * H->lld, T->a + lj * T->lld, (size_t)above * sizeof *H->a);
  }
  return SNTK_OK;
}

/* Collective: every rank's features for the weights W into its block of U1. */
static int features(sntk_ntk_t *ntk, const double *W) {
  sntk_model_t *md = ntk->model;
  double *saved = md->W;
  md->W = (double *)W;
  int err = sntk_model_features(md, ntk->X, ntk->n, ntk->U1.a, ntk->U1.lld);
  md->W = saved;
  return sntk_agree(ntk->comm, err);
}

/* Method choice on more than one rank. The reduce method computes this rank's contribution to a
 * panel of H's lower triangle with DSYRK/DGEMM on its own features (nk^2 mb / 2 multiply-adds per
 * rank in all, at DGEMM's rate) and reduce-scatters it to the panel's owners (nk^2 / 2 doubles per
 * rank in all, whatever m); the pdsyrk method moves nk mb doubles per rank and runs PDSYRK, whose
 * rate on these shapes is well below DSYRK's. The reduction costs the same for any width, so it
 * pays once each rank holds enough neurons. Measured with `softntk bench --bench.what=gram` on 2
 * ranks (grid 1x2, nb 64, OpenBLAS Haswell kernels, one thread per rank; the 2-core machine was
 * shared, load average 6-17, so compare within an item):
 * - nk = 4096, m = 4096 (mb 2048): pdsyrk 17.2 s (0.37 of the same-run DSYRK rate), reduce 3.1 to
 *   9.0 s (0.63 to 0.77);
 * - nk = 8192, m = 4096 (mb 2048): pdsyrk 49.5 s (0.59), reduce 9.0 to 36.9 s (0.46 to 1.02);
 * - nk = 4096, m = 512 (mb 256): pdsyrk 2.60 s, reduce 2.00 s;
 * - nk = 4096, m = 128 (mb 64): pdsyrk 1.60 s, reduce 2.11 s;
 * hence REDUCE_MIN_MB = 256 (the crossover lies between mb = 64 and 256). Sending the transposed
 * rows too on two ranks (H whole without PDTRAN) doubled the reduction and measured slower (nk =
 * 8192: 20.1 s against 9.0 s). REDUCE_WIDTH: columns of H per reduction; its buffers are 2 nk x 512
 * doubles (64 MiB at nk = 8192), counted by the memory plan, which narrows them (down to nb) or
 * falls back to pdsyrk when they do not fit. */
enum { REDUCE_MIN_MB = 256, REDUCE_WIDTH = 512 };

int ntk_gram_method(const ntk_shape_t *s, int cfg) {
  if (s->P == 1) return SNTK_GRAM_PDSYRK;
  if (cfg != SNTK_GRAM_AUTO) return cfg;
  return (s->m + s->P - 1) / s->P >= REDUCE_MIN_MB ? SNTK_GRAM_REDUCE : SNTK_GRAM_PDSYRK;
}

int64_t ntk_reduce_width(const ntk_shape_t *s) {
  const int64_t nk = s->n * s->k, w = ((REDUCE_WIDTH + s->nb - 1) / s->nb) * s->nb;
  return w < nk ? w : nk;
}

/* Global index g's owner among P processes for blocks of nb (source process 0). */
static int owner(int64_t g, int64_t nb, int P) {
  return (int)((g / nb) % P);
}

/* Collective: the lower triangle of H = nu U U^T, where every rank holds the features of its own
 * neurons (U1's local nk x mb block), by panels of `w` columns: each rank forms its rows j0.. nk-1
 * of the panel's product with its neurons (DSYRK on the diagonal block, DGEMM below it), packs it
 * by owning process (row-major ranks of the BLACS grid, as Cblacs_gridinit "Row" numbers them; the
 * caller checked this) and MPI_Reduce_scatter sums the ranks' contributions straight into each
 * owner's share, which lands in H. The entries above the diagonal inside a diagonal block are
 * zeros, which symmetrize() overwrites. */
static int assemble_reduce(sntk_ntk_t *ntk, sntk_dmat_t *H, double *t_red) {
  const sntk_grid_t *g = H->grid;
  const int64_t nk = ntk->nk, nb = H->mb, mb = ntk->U1.nloc, ldu = ntk->U1.lld;
  const int pr = g->nprow, pc = g->npcol, P = pr * pc;
  const double nu = ntk->model->nu;
  const int64_t W = ntk->panel;
  double *C = NULL, *S = NULL, *R = NULL;
  int *cnt = NULL;
  int64_t *cur = NULL;
  int err = SNTK_OK;
  int64_t rmax = 0;
  for (int64_t j0 = 0; j0 < nk; j0 += W) { /* largest share over ranks and panels */
    const int64_t w = nk - j0 < W ? nk - j0 : W;
    for (int a = 0; a < pr; a++)
      for (int b = 0; b < pc; b++) {
        const int64_t r = (sntk_numroc(nk, nb, a, pr) - sntk_numroc(j0, nb, a, pr)) *
                          (sntk_numroc(j0 + w, nb, b, pc) - sntk_numroc(j0, nb, b, pc));
        rmax = r > rmax ? r : rmax;
      }
  }
  err = SNTK_ALLOC(C, nk * W);
  if (!err) err = SNTK_ALLOC(S, nk * W);
  if (!err) err = SNTK_ALLOC(R, rmax > 0 ? rmax : 1);
  if (!err) err = SNTK_ALLOC(cnt, P);
  if (!err) err = SNTK_ALLOC(cur, P + 1);
  SNTK_TRY(sntk_agree(ntk->comm, err));
  for (int64_t j0 = 0; j0 < nk; j0 += W) {
    const int64_t w = nk - j0 < W ? nk - j0 : W, h = nk - j0; /* panel: rows j0.., columns w */
    /* C (h x w, column-major): rows j0.. of this rank's U times its rows j0..j0+w-1, transposed */
    sntk_perf_start(SNTK_EV_NTK_SYRK);
    for (int64_t c = 0; c < w; c++) memset(C + c * h, 0, (size_t)c * sizeof *C);
    if (mb > 0) {
      cblas_dsyrk(CblasColMajor, CblasLower, CblasNoTrans, (int)w, (int)mb, nu, ntk->U1.a + j0,
                  (int)ldu, 0.0, C, (int)h);
      if (h > w)
        cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, (int)(h - w), (int)w, (int)mb, nu,
                    ntk->U1.a + j0 + w, (int)ldu, ntk->U1.a + j0, (int)ldu, 0.0, C + w, (int)h);
    } else
      for (int64_t c = 0; c < w; c++) memset(C + c * h + c, 0, (size_t)(h - c) * sizeof *C);
    sntk_perf_stop(SNTK_EV_NTK_SYRK,
                   (double)w * (double)(w + 1) * (double)mb + 2.0 * (h - w) * (double)w * mb);
    double ta = MPI_Wtime();
    sntk_perf_start(SNTK_EV_NTK_REDIST);
    /* pack: each owner's entries column by column, rows ascending (its local order) */
    for (int a = 0; a < pr; a++)
      for (int b = 0; b < pc; b++)
        cnt[a * pc + b] = (int)((sntk_numroc(nk, nb, a, pr) - sntk_numroc(j0, nb, a, pr)) *
                                (sntk_numroc(j0 + w, nb, b, pc) - sntk_numroc(j0, nb, b, pc)));
    cur[0] = 0;
    for (int q = 0; q < P; q++) cur[q + 1] = cur[q] + cnt[q];
    for (int64_t c = 0; c < w; c++) {
      const int b = owner(j0 + c, nb, pc);
      for (int64_t i = j0; i < nk;) {
        const int64_t end = ((i / nb) + 1) * nb < nk ? ((i / nb) + 1) * nb : nk;
        const int q = owner(i, nb, pr) * pc + b;
        memcpy(S + cur[q], C + c * h + (i - j0), (size_t)(end - i) * sizeof *S);
        cur[q] += end - i;
        i = end;
      }
    }
    MPI_Reduce_scatter(S, R, cnt, MPI_DOUBLE, MPI_SUM, ntk->comm);
    /* unpack this rank's share: local columns of the panel, local rows from global j0 on */
    const int64_t li0 = sntk_numroc(j0, nb, g->myrow, pr), lj0 = sntk_numroc(j0, nb, g->mycol, pc),
                  lj1 = sntk_numroc(j0 + w, nb, g->mycol, pc), hl = H->mloc - li0;
    for (int64_t lj = lj0; lj < lj1 && hl > 0; lj++)
      memcpy(H->a + lj * H->lld + li0, R + (lj - lj0) * hl, (size_t)hl * sizeof *R);
    sntk_perf_stop(SNTK_EV_NTK_REDIST, 0.0);
    *t_red += MPI_Wtime() - ta;
  }
done:
  free(C), free(S), free(R), free(cnt), free(cur);
  return err;
}

/* Collective: 1 when the BLACS grid numbers the ranks of ntk->comm row-major, as the reduce
 * method's packing assumes (Cblacs_gridinit "Row" over the communicator's own order). */
static int grid_row_major(const sntk_ntk_t *ntk, const sntk_grid_t *g) {
  int ok = g->myrow * g->npcol + g->mycol == ntk->rank, all = ok;
  MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, ntk->comm);
  return all;
}

int sntk_ntk_assemble(sntk_ntk_t *ntk, const double *W, sntk_dmat_t *H) {
  const int nk = (int)ntk->nk, one = 1;
  const int64_t mpad = ntk->U1.n;
  const double nu = ntk->model->nu;
  double t0 = sntk_wtime_sync(ntk->comm), t_redist = 0.0, t_syrk = 0.0;
  const double P = ntk->size, nkd = (double)ntk->nk;
  sntk_perf_start(SNTK_EV_NTK_FEATURES);
  int ferr = features(ntk, W);
  sntk_perf_stop(SNTK_EV_NTK_FEATURES,
                 2.0 * (double)ntk->n * (double)ntk->model->m_loc * (double)(ntk->d + ntk->k));
  SNTK_CALL(ferr);
  double t1 = MPI_Wtime();
  const int row_major = ntk->size > 1 && grid_row_major(ntk, H->grid);
  if (ntk->size == 1) { /* one rank: U1 already is the whole column-major U, no redistribution */
    sntk_perf_start(SNTK_EV_NTK_SYRK);
    cblas_dsyrk(CblasColMajor, CblasLower, CblasNoTrans, nk, (int)mpad, nu, ntk->U1.a,
                (int)ntk->U1.lld, 0.0, H->a, (int)H->lld);
    sntk_perf_stop(SNTK_EV_NTK_SYRK, nkd * (nkd + 1.0) * (double)mpad);
    t_syrk = MPI_Wtime() - t1;
  } else if (ntk->gram == SNTK_GRAM_REDUCE) {
    if (!row_major)
      return sntk_error(SNTK_ERR_RUNTIME, "the BLACS grid does not number the ranks row-major: "
                                          "use ntk.gram = pdsyrk");
    SNTK_CALL(assemble_reduce(ntk, H, &t_redist));
  }
  for (int64_t c0 = 0; ntk->size > 1 && ntk->gram == SNTK_GRAM_PDSYRK && c0 < mpad;
       c0 += ntk->panel) {
    const int w = (int)(mpad - c0 < ntk->panel ? mpad - c0 : ntk->panel), jc = (int)c0 + 1;
    const double beta = c0 == 0 ? 0.0 : 1.0;
    double ta = MPI_Wtime();
    sntk_perf_start(SNTK_EV_NTK_REDIST);
    pdgemr2d_(&nk, &w, ntk->U1.a, &one, &jc, ntk->U1.desc, ntk->U2.a, &one, &one, ntk->U2.desc,
              &ntk->grid->ctxt);
    sntk_perf_stop(SNTK_EV_NTK_REDIST, 0.0);
    double tb = MPI_Wtime();
    sntk_perf_start(SNTK_EV_NTK_SYRK);
    pdsyrk_("L", "N", &nk, &w, &nu, ntk->U2.a, &one, &one, ntk->U2.desc, &beta, H->a, &one, &one,
            H->desc);
    sntk_perf_stop(SNTK_EV_NTK_SYRK, nkd * (nkd + 1.0) * (double)w / P); /* this rank's share */
    t_redist += tb - ta;
    t_syrk += MPI_Wtime() - tb;
  }
  double t2 = MPI_Wtime();
  sntk_perf_start(SNTK_EV_NTK_HADAMARD);
  int err = symmetrize(ntk, H, row_major);
  if (!err) err = sntk_agree(ntk->comm, kx_apply(ntk, H, KX_HADAMARD));
  sntk_perf_stop(SNTK_EV_NTK_HADAMARD, 0.0);
  double t3 = MPI_Wtime();
  ntk->t_features = sntk_tmax(ntk->comm, t1 - t0);
  ntk->t_redist = sntk_tmax(ntk->comm, t_redist);
  ntk->t_syrk = sntk_tmax(ntk->comm, t_syrk + (t2 - t1 - t_redist - t_syrk));
  ntk->t_hadamard = sntk_tmax(ntk->comm, t3 - t2);
  return err;
}

int sntk_ntk_assemble_limit(sntk_ntk_t *ntk, sntk_dmat_t *H) {
  return sntk_agree(ntk->comm, kx_apply(ntk, H, KX_LIMIT));
}
