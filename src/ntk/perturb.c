/* The normalised NTK under perturbations of the weights: H, dH[Delta], its adjoint, the worst
 * direction, fixed directions and the explicit bound (see perturb.h). */
#include "softntk/perturb.h"

#include "softntk/error.h"
#include "softntk/rng.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct sntk_perturb {
  sntk_model_t *md;
  MPI_Comm comm;
  const double *X;
  int64_t n, d, ml;
  double xmax; /* max_i ||x_i|| */
  double *a;   /* m_loc: second-layer signs (storage order) */
  double *S;   /* n x m_loc: softmax S, exp e^z, relu 1[z > 0] */
  double *U;   /* n x m_loc: features u_ir */
  double *Zd;  /* n x m_loc: z, dz, dU, the adjoint's g */
  double *M;   /* n x m_loc */
  double *K;   /* n x n: x_i . x_j */
  double *P;   /* n x n */
  double *f;   /* n: f_i = <a, S_i> (softmax) */
  double *v2;  /* 2n: reduction scratch */
  double *G;   /* n x n scratch of the power iteration */
  double *D2;  /* m_loc x d scratch */
  double *Wc;  /* m_loc x d: the weights S, U and f belong to */
  int valid;   /* S, U, f hold the features of Wc */
};

int sntk_perturb_create(sntk_model_t *md, const double *X, int64_t n, sntk_perturb_t **out) {
  sntk_perturb_t *p = NULL;
  int err = SNTK_OK;
  *out = NULL;
  if (md->k != 1)
    return sntk_error(SNTK_ERR_INPUT,
                      "the perturbation analysis is for scalar networks (k = 1), not k = %lld",
                      (long long)md->k);
  if (md->act != SNTK_ACT_SOFTMAX && md->act != SNTK_ACT_EXP && md->act != SNTK_ACT_RELU)
    return sntk_error(SNTK_ERR_INPUT,
                      "the perturbation analysis has its second-order formulas for softmax, exp "
                      "and relu only, not model.activation = %s",
                      sntk_activation_names[md->act]);
  SNTK_TRY(SNTK_ALLOC(p, 1));
  p->md = md, p->comm = md->comm, p->X = X, p->n = n, p->d = md->d, p->ml = md->m_loc;
  const int64_t nm = n * (p->ml > 0 ? p->ml : 1);
  SNTK_TRY(SNTK_ALLOC(p->a, p->ml > 0 ? p->ml : 1));
  SNTK_TRY(SNTK_ALLOC(p->S, nm));
  SNTK_TRY(SNTK_ALLOC(p->U, nm));
  SNTK_TRY(SNTK_ALLOC(p->Zd, nm));
  SNTK_TRY(SNTK_ALLOC(p->M, nm));
  SNTK_TRY(SNTK_ALLOC(p->K, n * n));
  SNTK_TRY(SNTK_ALLOC(p->P, n * n));
  SNTK_TRY(SNTK_ALLOC(p->G, n * n));
  SNTK_TRY(SNTK_ALLOC(p->f, n));
  SNTK_TRY(SNTK_ALLOC(p->v2, 2 * n));
  SNTK_TRY(SNTK_ALLOC(p->D2, (p->ml > 0 ? p->ml : 1) * p->d));
  SNTK_TRY(SNTK_ALLOC(p->Wc, (p->ml > 0 ? p->ml : 1) * p->d));
  for (int64_t r = 0; r < p->ml; r++) p->a[r] = md->A[r];
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)n, (int)p->d, 1.0, X, (int)p->d,
              X, (int)p->d, 0.0, p->K, (int)n);
  for (int64_t i = 0; i < n; i++) {
    const double r = sqrt(p->K[i * n + i]);
    p->xmax = r > p->xmax ? r : p->xmax;
  }
done:
  if (err) sntk_perturb_destroy(&p);
  *out = p;
  return err;
}

void sntk_perturb_destroy(sntk_perturb_t **pp) {
  sntk_perturb_t *p = *pp;
  if (!p) return;
  free(p->a), free(p->S), free(p->U), free(p->Zd), free(p->M), free(p->K), free(p->P);
  free(p->G), free(p->f), free(p->v2), free(p->D2), free(p->Wc);
  free(p);
  *pp = NULL;
}

/* Zd = X B^T (n x m_loc) for an m_loc x d block B. */
static void project(const sntk_perturb_t *p, const double *B, double *Zd) {
  if (p->ml == 0) return;
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)p->n, (int)p->ml, (int)p->d, 1.0, p->X,
              (int)p->d, B, (int)p->d, 0.0, Zd, (int)p->ml);
}

static int allsum(const sntk_perturb_t *p, double *v, int64_t len) {
  return SNTK_MPI(MPI_Allreduce(MPI_IN_PLACE, v, (int)len, MPI_DOUBLE, MPI_SUM, p->comm));
}

/* S, U and f at W (kept while W is the same: the worst-direction iteration evaluates dH and dH* at
 * one W many times). Every rank decides alike: the flag is agreed. */
static int features(sntk_perturb_t *p, const double *W) {
  const int64_t n = p->n, ml = p->ml;
  const int act = p->md->act;
  const size_t bytes = (size_t)(ml * p->d) * sizeof *W;
  int same = p->valid && memcmp(W, p->Wc, bytes) == 0;
  SNTK_CALL(SNTK_MPI(MPI_Allreduce(MPI_IN_PLACE, &same, 1, MPI_INT, MPI_LAND, p->comm)));
  if (same) return SNTK_OK;
  p->valid = 0;
  project(p, W, p->S);
  if (act == SNTK_ACT_SOFTMAX) {
    double *mx = p->v2;
    for (int64_t i = 0; i < n; i++) {
      double v = -INFINITY;
      for (int64_t r = 0; r < ml; r++) v = p->S[i * ml + r] > v ? p->S[i * ml + r] : v;
      mx[i] = v;
    }
    SNTK_CALL(SNTK_MPI(MPI_Allreduce(MPI_IN_PLACE, mx, (int)n, MPI_DOUBLE, MPI_MAX, p->comm)));
    for (int64_t i = 0; i < n; i++) {
      double s = 0.0, num = 0.0, m = mx[i];
      for (int64_t r = 0; r < ml; r++) {
        const double e = exp(p->S[i * ml + r] - m);
        p->S[i * ml + r] = e;
        s += e;
        num += p->a[r] * e;
      }
      p->f[i] = s, p->M[i] = num; /* M as scratch for the numerators */
    }
    for (int64_t i = 0; i < n; i++) p->v2[i] = p->f[i], p->v2[n + i] = p->M[i];
    SNTK_CALL(allsum(p, p->v2, 2 * n));
    for (int64_t i = 0; i < n; i++) {
      const double s = p->v2[i], fi = p->v2[n + i] / s;
      p->f[i] = fi;
      for (int64_t r = 0; r < ml; r++) {
        const double S = p->S[i * ml + r] / s;
        p->S[i * ml + r] = S;
        p->U[i * ml + r] = S * (p->a[r] - fi);
      }
    }
  } else {
    for (int64_t j = 0; j < n * ml; j++) {
      const double z = p->S[j];
      p->S[j] = act == SNTK_ACT_EXP ? exp(z) : (z > 0.0 ? 1.0 : 0.0);
      p->U[j] = p->a[j % (ml > 0 ? ml : 1)] * p->S[j];
    }
  }
  if (ml > 0) memcpy(p->Wc, W, bytes);
  p->valid = 1;
  return SNTK_OK;
}

/* out = nu K o (A B^T + B A^T) (sym = 1) or nu K o (A A^T) (B = NULL) over all ranks, A and B
 * n x m_loc. */
static int gram_of(sntk_perturb_t *p, const double *A, const double *B, double *out) {
  const int64_t n = p->n, ml = p->ml;
  memset(p->P, 0, (size_t)(n * n) * sizeof *p->P);
  if (ml > 0)
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)n, (int)ml, 1.0, A, (int)ml,
                B ? B : A, (int)ml, 0.0, p->P, (int)n);
  SNTK_CALL(allsum(p, p->P, n * n));
  const double nu = p->md->nu;
  for (int64_t i = 0; i < n; i++)
    for (int64_t j = 0; j < n; j++) {
      const double v = B ? p->P[i * n + j] + p->P[j * n + i] : p->P[i * n + j];
      out[i * n + j] = nu * p->K[i * n + j] * v;
    }
  if (!B) /* exactly symmetric */
    for (int64_t i = 0; i < n; i++)
      for (int64_t j = 0; j < i; j++) out[j * n + i] = out[i * n + j];
  return SNTK_OK;
}

int sntk_perturb_gram(sntk_perturb_t *p, const double *W, double *H) {
  SNTK_CALL(features(p, W));
  return gram_of(p, p->U, NULL, H);
}

int sntk_perturb_dgram(sntk_perturb_t *p, const double *W, const double *Delta, double *dH) {
  const int64_t n = p->n, ml = p->ml;
  SNTK_CALL(features(p, W));
  if (p->md->act == SNTK_ACT_RELU) {
    memset(dH, 0, (size_t)(n * n) * sizeof *dH);
    return SNTK_OK;
  }
  project(p, Delta, p->Zd); /* dz */
  if (p->md->act == SNTK_ACT_SOFTMAX) {
    for (int64_t i = 0; i < n; i++) {
      double c = 0.0, e = 0.0;
      for (int64_t r = 0; r < ml; r++) {
        const double t = p->S[i * ml + r] * p->Zd[i * ml + r];
        c += t, e += p->a[r] * t;
      }
      p->v2[i] = c, p->v2[n + i] = e;
    }
    SNTK_CALL(allsum(p, p->v2, 2 * n));
    for (int64_t i = 0; i < n; i++) {
      const double c = p->v2[i], e = p->v2[n + i], fi = p->f[i];
      for (int64_t r = 0; r < ml; r++) {
        const int64_t j = i * ml + r;
        p->Zd[j] = p->U[j] * p->Zd[j] - p->S[j] * (p->a[r] * c - 2.0 * fi * c + e);
      }
    }
  } else {
    for (int64_t j = 0; j < n * ml; j++) p->Zd[j] *= p->U[j];
  }
  return gram_of(p, p->Zd, p->U, dH);
}

int sntk_perturb_adjoint(sntk_perturb_t *p, const double *W, const double *G, double *D) {
  const int64_t n = p->n, ml = p->ml, d = p->d;
  const double nu = p->md->nu;
  SNTK_CALL(features(p, W));
  if (ml == 0) return SNTK_OK;
  if (p->md->act == SNTK_ACT_RELU) {
    memset(D, 0, (size_t)(ml * d) * sizeof *D);
    return SNTK_OK;
  }
  for (int64_t i = 0; i < n; i++)
    for (int64_t j = 0; j < n; j++)
      p->P[i * n + j] = p->K[i * n + j] * 0.5 * (G[i * n + j] + G[j * n + i]);
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)ml, (int)n, 1.0, p->P, (int)n,
              p->U, (int)ml, 0.0, p->M, (int)ml);
  if (p->md->act == SNTK_ACT_SOFTMAX) {
    for (int64_t i = 0; i < n; i++) {
      double pp = 0.0, q = 0.0;
      for (int64_t r = 0; r < ml; r++) {
        const double t = p->M[i * ml + r] * p->S[i * ml + r];
        pp += t * (2.0 * p->f[i] - p->a[r]), q += t;
      }
      p->v2[i] = pp, p->v2[n + i] = q;
    }
    SNTK_CALL(allsum(p, p->v2, 2 * n));
    for (int64_t i = 0; i < n; i++)
      for (int64_t r = 0; r < ml; r++) {
        const int64_t j = i * ml + r;
        p->Zd[j] = 2.0 * nu * (p->M[j] * p->U[j] + p->S[j] * (p->v2[i] - p->v2[n + i] * p->a[r]));
      }
  } else {
    for (int64_t j = 0; j < n * ml; j++) p->Zd[j] = 2.0 * nu * p->M[j] * p->U[j];
  }
  cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)ml, (int)d, (int)n, 1.0, p->Zd, (int)ml,
              p->X, (int)d, 0.0, D, (int)d);
  return SNTK_OK;
}

void sntk_perturb_unit_rows(const sntk_perturb_t *p, double *D, const double *keep) {
  const int64_t d = p->d;
  for (int64_t r = 0; r < p->ml; r++) {
    double *row = D + r * d;
    const double s = cblas_dnrm2((int)d, row, 1);
    if (s > 0.0 && isfinite(s))
      for (int64_t c = 0; c < d; c++) row[c] /= s;
    else if (keep)
      memcpy(row, keep + r * d, (size_t)d * sizeof *row);
    else
      memset(row, 0, (size_t)d * sizeof *row);
  }
}

static void unit_normal(sntk_rng_t *s, int64_t d, double *v) {
  double nrm;
  do {
    for (int64_t c = 0; c < d; c++) v[c] = sntk_rng_normal(s);
    nrm = cblas_dnrm2((int)d, v, 1);
  } while (nrm == 0.0);
  for (int64_t c = 0; c < d; c++) v[c] /= nrm;
}

void sntk_perturb_random(const sntk_perturb_t *p, uint64_t seed, double *D) {
  for (int64_t r = 0; r < p->ml; r++) {
    sntk_rng_t s;
    sntk_rng_init(&s, seed, SNTK_RNG_PERTURB, (uint64_t)(p->md->r0 + p->md->perm[r]));
    unit_normal(&s, p->d, D + r * p->d);
  }
}

void sntk_perturb_shift(const sntk_perturb_t *p, uint64_t seed, double *v, double *D) {
  sntk_rng_t s;
  sntk_rng_init(&s, seed, SNTK_RNG_PERTURB_SHIFT, 0);
  unit_normal(&s, p->d, v);
  for (int64_t r = 0; r < p->ml; r++) memcpy(D + r * p->d, v, (size_t)p->d * sizeof *v);
}

int sntk_perturb_boundary(sntk_perturb_t *p, const double *W, double *D) {
  const int64_t n = p->n, ml = p->ml, d = p->d;
  project(p, W, p->Zd);
  for (int64_t r = 0; r < ml; r++) {
    int64_t best = 0;
    double bv = INFINITY;
    for (int64_t i = 0; i < n; i++) {
      const double xn = sqrt(p->K[i * n + i]);
      if (xn == 0.0) continue;
      const double v = fabs(p->Zd[i * ml + r]) / xn;
      if (v < bv) bv = v, best = i;
    }
    const double xn = sqrt(p->K[best * n + best]), sg = p->Zd[best * ml + r] > 0.0 ? -1.0 : 1.0;
    for (int64_t c = 0; c < d; c++) D[r * d + c] = xn > 0.0 ? sg * p->X[best * d + c] / xn : 0.0;
  }
  return SNTK_OK;
}

static double fro(int64_t len, const double *A) {
  return cblas_dnrm2((int)len, A, 1);
}

int sntk_perturb_worst(sntk_perturb_t *p, const double *W, double *D, int iters, double rtol,
                       double *history, double *value, int *taken) {
  const int64_t nn = p->n * p->n;
  double val;
  SNTK_CALL(sntk_perturb_dgram(p, W, D, p->G));
  val = fro(nn, p->G);
  if (history) history[0] = val;
  int t = 0;
  while (t < iters) {
    SNTK_CALL(sntk_perturb_adjoint(p, W, p->G, p->D2));
    sntk_perturb_unit_rows(p, p->D2, D);
    SNTK_CALL(sntk_perturb_dgram(p, W, p->D2, p->G));
    const double nv = fro(nn, p->G);
    t++;
    if (history) history[t] = nv;
    const int stop = !(nv > val * (1.0 + rtol));
    if (nv >= val) memcpy(D, p->D2, (size_t)(p->ml * p->d) * sizeof *D);
    val = nv > val ? nv : val;
    int all = stop; /* every rank holds the same value; agree anyway */
    SNTK_CALL(SNTK_MPI(MPI_Allreduce(MPI_IN_PLACE, &all, 1, MPI_INT, MPI_LAND, p->comm)));
    if (all) break;
  }
  *value = val;
  *taken = t;
  return SNTK_OK;
}

int sntk_perturb_norms(const sntk_perturb_t *p, const double *A, double *f, double *spec) {
  const int64_t n = p->n;
  *f = fro(n * n, A);
  memcpy(p->P, A, (size_t)(n * n) * sizeof *A);
  double *w = p->v2;
  lapack_int info =
      LAPACKE_dsyev(LAPACK_ROW_MAJOR, 'N', 'L', (lapack_int)n, p->P, (lapack_int)n, w);
  if (info != 0)
    return sntk_error(SNTK_ERR_RUNTIME, "perturbation: dsyev failed (info %d)", (int)info);
  *spec = fabs(w[0]) > fabs(w[n - 1]) ? fabs(w[0]) : fabs(w[n - 1]);
  return SNTK_OK;
}

int sntk_perturb_bound(sntk_perturb_t *p, const double *W, int nR, const double *R, double *first,
                       double *relu_bound) {
  const int64_t n = p->n, ml = p->ml;
  const int act = p->md->act;
  const double m = (double)p->md->m;
  SNTK_CALL(features(p, W));
  /* G = sum_r S_ir S_jr over all ranks */
  memset(p->G, 0, (size_t)(n * n) * sizeof *p->G);
  if (ml > 0)
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)n, (int)ml, 1.0, p->S,
                (int)ml, p->S, (int)ml, 0.0, p->G, (int)n);
  SNTK_CALL(allsum(p, p->G, n * n));
  double acc = 0.0;
  const double scale = act == SNTK_ACT_SOFTMAX ? 24.0 * m : (act == SNTK_ACT_EXP ? 2.0 / m : 0.0);
  for (int64_t j = 0; j < n * n; j++) {
    const double v = scale * fabs(p->K[j]) * p->G[j];
    acc += v * v;
  }
  *first = p->xmax * sqrt(acc);
  if (!relu_bound) return SNTK_OK;
  project(p, W, p->Zd);
  for (int q = 0; q < nR; q++) {
    /* C_ij = #{r : flip_ir or flip_jr} = sum_r (1 - (1 - F_ir)(1 - F_jr)) = m - N N^T, N = 1 - F */
    for (int64_t i = 0; i < n; i++) {
      const double xn = sqrt(p->K[i * n + i]);
      for (int64_t r = 0; r < ml; r++)
        p->M[i * ml + r] = fabs(p->Zd[i * ml + r]) <= R[q] * xn ? 0.0 : 1.0;
    }
    memset(p->G, 0, (size_t)(n * n) * sizeof *p->G);
    if (ml > 0)
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)n, (int)ml, 1.0, p->M,
                  (int)ml, p->M, (int)ml, 0.0, p->G, (int)n);
    SNTK_CALL(allsum(p, p->G, n * n));
    double s = 0.0;
    for (int64_t j = 0; j < n * n; j++) {
      const double v = fabs(p->K[j]) * (m - p->G[j]) / m;
      s += v * v;
    }
    relu_bound[q] = sqrt(s);
  }
  return SNTK_OK;
}

int sntk_perturb_parse_radii(const char *text, int max, double *R, int *count) {
  const char *s = text;
  int c = 0;
  while (*s) {
    char *end;
    const double v = strtod(s, &end);
    if (end == s || !(v > 0.0) || !isfinite(v))
      return sntk_error(SNTK_ERR_INPUT, "radii '%s': not a list of positive numbers", text);
    if (c == max) return sntk_error(SNTK_ERR_INPUT, "radii '%s': more than %d values", text, max);
    R[c++] = v;
    s = end;
    while (*s == ' ') s++;
    if (*s == ',')
      s++;
    else if (*s)
      return sntk_error(SNTK_ERR_INPUT, "radii '%s': expected ',' at '%s'", text, s);
  }
  if (c == 0) return sntk_error(SNTK_ERR_INPUT, "radii: empty list");
  *count = c;
  return SNTK_OK;
}
