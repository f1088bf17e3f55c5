/* Sample metrics: sliced Wasserstein-2 distance, maximum mean discrepancy with an RBF kernel of
 * median bandwidth, and per-mode coverage of a mixture. The O(L n log n) and O(n^2 d) work is split
 * over the ranks of the communicator (projections and rows of the kernel sums) and the partial sums
 * are reduced, so the values depend on the rank count through round-off only. */
#include "softntk/diffusion.h"
#include "softntk/target.h"
#include "softntk/process.h"
#include "softntk/metrics.h"

#include "softntk/error.h"
#include "softntk/parallel.h"
#include "softntk/perf.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b) {
  const double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y ? 1 : 0;
}

/* W2^2 between the empirical laws of sorted a (na) and sorted b (nb): the integral over u in (0, 1)
 * of (Qa(u) - Qb(u))^2 for the step quantile functions, walked breakpoint by breakpoint (exact;
 * breakpoints compared in integer units of 1 / (na nb)). */
static double w2_sorted(int64_t na, const double *a, int64_t nb, const double *b) {
  int64_t i = 0, j = 0, u = 0;
  double acc = 0.0;
  while (i < na && j < nb) {
    const int64_t ua = (i + 1) * nb, ub = (j + 1) * na, next = ua < ub ? ua : ub;
    acc += (double)(next - u) * (a[i] - b[j]) * (a[i] - b[j]);
    u = next;
    if (ua == next) i++;
    if (ub == next) j++;
  }
  return acc / ((double)na * (double)nb);
}

static void project(int64_t n, const double *X, int64_t d, const double *theta, double *out) {
  for (int64_t i = 0; i < n; i++) {
    double s = 0.0;
    for (int64_t j = 0; j < d; j++) s += X[i * d + j] * theta[j];
    out[i] = s;
  }
}

/* Direction j: d normals of stream (seed, PROJ, j), normalised. */
static void direction(uint64_t seed, int64_t j, int64_t d, double *theta) {
  sntk_rng_t s;
  double n2;
  sntk_rng_init(&s, seed, SNTK_RNG_DIFF_PROJ, (uint64_t)j);
  do {
    n2 = 0.0;
    for (int64_t l = 0; l < d; l++) theta[l] = sntk_rng_normal(&s), n2 += theta[l] * theta[l];
  } while (n2 == 0.0);
  for (int64_t l = 0; l < d; l++) theta[l] /= sqrt(n2);
}

int sntk_sliced_w2(MPI_Comm comm, int64_t na, const double *A, int64_t nb, const double *B,
                   int64_t d, int64_t L, uint64_t seed, double *sw2) {
  double *pa = NULL, *pb = NULL, *theta = NULL, *per = NULL, sum = 0.0;
  int rank, size, err = SNTK_OK;
  int64_t j0, j1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  sntk_partition(L, size, rank, &j0, &j1);
  sntk_perf_start(SNTK_EV_METRICS);
  SNTK_TRY(SNTK_ALLOC(pa, na));
  SNTK_TRY(SNTK_ALLOC(pb, nb));
  SNTK_TRY(SNTK_ALLOC(theta, d));
  SNTK_TRY(SNTK_ALLOC(per, L));
  for (int64_t j = j0; j < j1; j++) {
    direction(seed, j, d, theta);
    project(na, A, d, theta, pa);
    project(nb, B, d, theta, pb);
    qsort(pa, (size_t)na, sizeof *pa, cmp_double);
    qsort(pb, (size_t)nb, sizeof *pb, cmp_double);
    per[j] = w2_sorted(na, pa, nb, pb);
  }
done:
  free(pa), free(pb), free(theta);
  sntk_perf_stop(SNTK_EV_METRICS, 0.0);
  err = sntk_agree(comm, err);
  /* Bitwise independent of the rank count: each direction's value is computed by one rank, the
   * others contribute exact zeros, and the sum runs in direction order on every rank. */
  if (!err) err = sntk_allreduce_sum(per, L, comm);
  for (int64_t j = 0; !err && j < L; j++) sum += per[j];
  free(per);
  SNTK_CALL(err);
  *sw2 = sqrt(sum / (double)L);
  return SNTK_OK;
}

static double dist2(const double *x, const double *y, int64_t d) {
  double s = 0.0;
  for (int64_t j = 0; j < d; j++) s += (x[j] - y[j]) * (x[j] - y[j]);
  return s;
}

/* Quickselect: the k-th smallest of v[0..n) (v is reordered). */
static double select_kth(double *v, int64_t n, int64_t k) {
  int64_t lo = 0, hi = n - 1;
  while (lo < hi) {
    const double pivot = v[lo + (hi - lo) / 2];
    int64_t i = lo, j = hi;
    while (i <= j) {
      while (v[i] < pivot) i++;
      while (v[j] > pivot) j--;
      if (i <= j) {
        double t = v[i];
        v[i++] = v[j];
        v[j--] = t;
      }
    }
    if (k <= j)
      hi = j;
    else if (k >= i)
      lo = i;
    else
      return v[k];
  }
  return v[k];
}

/* Median distance between the pooled points (the first min(n, 1000) of each sample). */
static int median_distance(int64_t na, const double *A, int64_t nb, const double *B, int64_t d,
                           double *h) {
  const int64_t ma = na < 1000 ? na : 1000, mb = nb < 1000 ? nb : 1000, m = ma + mb;
  double *dist = NULL;
  int64_t c = 0;
  SNTK_CALL(SNTK_ALLOC(dist, m * (m - 1) / 2));
  for (int64_t i = 0; i < m; i++) {
    const double *x = i < ma ? A + i * d : B + (i - ma) * d;
    for (int64_t j = i + 1; j < m; j++)
      dist[c++] = dist2(x, j < ma ? A + j * d : B + (j - ma) * d, d);
  }
  *h = c > 0 ? sqrt(select_kth(dist, c, c / 2)) : 0.0;
  free(dist);
  return SNTK_OK;
}

/* out[i] = sum over all rows y of Y of exp(-||x_i - y||^2 g), for rows [r0, r1) of X. */
static void kernel_rows(const double *X, int64_t r0, int64_t r1, int64_t ny, const double *Y,
                        int64_t d, double g, double *out) {
  for (int64_t i = r0; i < r1; i++) {
    double s = 0.0;
    for (int64_t j = 0; j < ny; j++) s += exp(-g * dist2(X + i * d, Y + j * d, d));
    out[i] = s;
  }
}

int sntk_mmd_rbf(MPI_Comm comm, int64_t na, const double *A, int64_t nb, const double *B, int64_t d,
                 double *mmd, double *bandwidth) {
  int rank, size;
  int64_t a0, a1, b0, b1;
  double h = 0.0;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  sntk_perf_start(SNTK_EV_METRICS);
  int err = median_distance(na, A, nb, B, d, &h);
  SNTK_CALL(sntk_agree(comm, err));
  const double g = h > 0 ? 1.0 / (2.0 * h * h) : 1.0;
  sntk_partition(na, size, rank, &a0, &a1);
  sntk_partition(nb, size, rank, &b0, &b1);
  /* Per-row sums, one rank each (the others contribute exact zeros), added in row order on every
   * rank: bitwise independent of the rank count. */
  double *rows = NULL, s[3] = {0.0, 0.0, 0.0};
  err = SNTK_ALLOC(rows, 2 * na + nb);
  SNTK_CALL(sntk_agree(comm, err));
  kernel_rows(A, a0, a1, na, A, d, g, rows);
  kernel_rows(B, b0, b1, nb, B, d, g, rows + na);
  kernel_rows(A, a0, a1, nb, B, d, g, rows + na + nb);
  sntk_perf_stop(SNTK_EV_METRICS, 0.0);
  err = sntk_allreduce_sum(rows, 2 * na + nb, comm);
  for (int64_t i = 0; !err && i < na; i++) s[0] += rows[i];
  for (int64_t i = 0; !err && i < nb; i++) s[1] += rows[na + i];
  for (int64_t i = 0; !err && i < na; i++) s[2] += rows[na + nb + i];
  free(rows);
  SNTK_CALL(err);
  const double fa = (double)na, fb = (double)nb;
  const double m2 = s[0] / (fa * fa) + s[1] / (fb * fb) - 2.0 * s[2] / (fa * fb);
  *mmd = m2 > 0 ? sqrt(m2) : 0.0;
  *bandwidth = h;
  return SNTK_OK;
}

/* Regularised lower incomplete gamma P(a, x): its series for x < a + 1, else 1 minus the continued
 * fraction of Q (Lentz), both to full double precision. */
static double gamma_p(double a, double x) {
  if (x <= 0.0) return 0.0;
  const double lead = exp(a * log(x) - x - lgamma(a));
  if (x < a + 1.0) {
    double term = 1.0 / a, sum = term;
    for (int k = 1; k < 1000 && fabs(term) > 1e-17 * sum; k++) sum += term *= x / (a + k);
    return sum * lead;
  }
  const double tiny = 1e-300;
  double b = x + 1.0 - a, c = 1.0 / tiny, dd = 1.0 / b, h = dd;
  for (int k = 1; k < 1000; k++) {
    const double an = -k * (k - a);
    b += 2.0;
    dd = an * dd + b;
    dd = fabs(dd) < tiny ? 1.0 / tiny : 1.0 / dd;
    c = b + an / c;
    if (fabs(c) < tiny) c = tiny;
    const double delta = dd * c;
    h *= delta;
    if (fabs(delta - 1.0) < 1e-16) break;
  }
  return 1.0 - lead * h;
}

double sntk_chi_quantile(int64_t d, double p) {
  /* the chi-square CDF P(d/2, x/2) rises monotonically: bisect on x in [0, hi] */
  double lo = 0.0, hi = (double)d + 20.0 * sqrt(2.0 * (double)d) + 100.0;
  for (int it = 0; it < 200 && hi - lo > 1e-15 * hi; it++) {
    const double mid = 0.5 * (lo + hi);
    if (gamma_p(0.5 * (double)d, 0.5 * mid) < p)
      lo = mid;
    else
      hi = mid;
  }
  return sqrt(0.5 * (lo + hi));
}

double sntk_mode_radius(const sntk_target_t *tg, double t0, double p) {
  const double a = sntk_ou_alpha(t0);
  return sqrt(a * a * tg->width * tg->width + sntk_ou_sigma2(t0)) * sntk_chi_quantile(tg->d, p);
}

void sntk_mode_coverage(const sntk_target_t *tg, double t0, double radius, int64_t n,
                        const double *X, double *frac, double *inside, int64_t *covered) {
  const double a = sntk_ou_alpha(t0), r2 = radius * radius;
  int64_t in_any = 0;
  for (int64_t c = 0; c < tg->C; c++) frac[c] = 0.0;
  for (int64_t i = 0; i < n; i++) {
    const double *x = X + i * tg->d;
    int hit = 0;
    for (int64_t c = 0; c < tg->C; c++) {
      double q = 0.0;
      for (int64_t l = 0; l < tg->d; l++) {
        const double u = x[l] - a * tg->mu[c * tg->d + l];
        q += u * u;
      }
      if (q <= r2) frac[c] += 1.0, hit = 1;
    }
    in_any += hit;
  }
  *covered = 0;
  for (int64_t c = 0; c < tg->C; c++) {
    frac[c] /= (double)n;
    if (frac[c] >= 0.5 * tg->w[c]) (*covered)++;
  }
  *inside = (double)in_any / (double)n;
}
