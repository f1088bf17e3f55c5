/* The diffusion module's mathematics (run with 1 and 3 ranks):
 * - the exact mixture score equals a central finite difference of the log-density, for widths 0 and
 *   0.3, d = 2 and 3, unequal weights, t from 1e-3 to 3;
 * - the posterior mean satisfies Tweedie's formula and equals the textbook closed forms for one
 *   Gaussian component and for two atoms +-R in one dimension (E[x0 | x] = R tanh(alpha R x /
 *   sigma^2));
 * - OU moments of the drawn triples: mean and variance of x_t at fixed t, the mean of t ~ U[t0, T]
 *   and the mixture's component frequencies;
 * - metrics on known distributions: sliced W2 of a shifted copy (exact: |m| in one dimension,
 *   |m| / sqrt(d) in expectation over the random directions), of unequal-size samples {0, 1} and
 *   {0, 1/2, 1} (sqrt(1/12) by hand), of N(0, 1) and N(0, 4) (W2 = 1); MMD zero for identical
 * samples (exactly: the three kernel sums coincide), and for N(0,1) against N(1,1) the closed form
 *   2h / sqrt(h^2 + 2) (1 - exp(-1 / (2 (h^2 + 2)))); the metrics on P ranks equal one rank;
 * - explicit means and weights are taken as given; per-mode coverage of points on the atoms;
 * - the samplers with the exact score of N(mu, s^2 I): the sample mean and standard deviation equal
 *   those of the discrete chain (computed exactly: every step is affine);
 * - the output maps (diffusion.parametrisation): plain is the identity; edm's target is the inverse
 *   of its output map, its coefficients are the closed forms at t = 0.3, c_skip alpha_t -> 1 and
 *   c_out / sigma_t -> 1 as t -> 0 and c_skip -> 0, c_out -> sdata as t grows, and the target of
 *   the exact posterior mean of a single Gaussian N(0, sdata^2 I) is linear in x_t with the
 *   Gaussian's own coefficients (so it is zero: c_skip is the Wiener filter's gain).
 * Tolerances: round-off comparisons use bounds computed from the data (gamma_n sums, per-operation
 * roundings: each function below states its own); the finite differences add a Richardson estimate
 * of their truncation; Monte Carlo comparisons allow 5 standard errors (a correct implementation
 * fails a check with probability below 6e-7), each s.e. from the exact variance of the statistic or
 * computed from the sample. */
#include "harness.h"
#include "softntk/diffusion.h"
#include "softntk/target.h"
#include "softntk/process.h"
#include "softntk/sampler.h"
#include "softntk/metrics.h"

#include <string.h>

static sntk_diffusion_cfg_t gmm(int64_t d, int64_t C, double radius, double width, int layout,
                                const char *weights) {
  sntk_diffusion_cfg_t c;
  memset(&c, 0, sizeof c);
  c.target = SNTK_DIFF_GMM;
  c.dim = d;
  c.components = C;
  c.radius = radius;
  c.width = width;
  c.layout = layout;
  snprintf(c.weights, sizeof c.weights, "%s", weights);
  c.t0 = 1e-3;
  c.T = 5;
  return c;
}

static sntk_target_t *make(const sntk_diffusion_cfg_t *c) {
  sntk_target_t *tg = NULL;
  int err = sntk_target_create(MPI_COMM_WORLD, c, 11, 0, &tg);
  if (err) TH_OK(0, "target created: %s", sntk_error_message());
  return tg;
}

/* A point of p_t near component c. */
static void near_point(const sntk_target_t *tg, double t, int64_t c, uint64_t i, double *x) {
  sntk_rng_t s;
  sntk_rng_init(&s, 3, 100, i); /* a test stream outside the library's purposes */
  const double a = sntk_ou_alpha(t), v = a * a * tg->width * tg->width + sntk_ou_sigma2(t);
  for (int64_t j = 0; j < tg->d; j++)
    x[j] = a * tg->mu[c * tg->d + j] + sqrt(v) * sntk_rng_normal(&s);
}

/* Round-off bound of sntk_target_log_density at x (first order in u): each log-weight l_c = log w_c
 * - q_c / (2 v), q_c = sum_j e_j^2, e = x - alpha mu_c, is within dl_c = (4 u sum_j |e_j alpha
 * mu_cj| + (8 u + gamma_d) q_c) / (2 v) + 2 u (|log w_c| + |l_c|) (alpha, v from exp and expm1
 * within a few u), the log-sum-exp moves by sum_c r_c dl_c (r the posterior weights) plus its own
 * (C + 4) u (1 + |lse|), and the normaliser d/2 log(2 pi v) adds (d/2) (7 u + u |log 2 pi v|). dl
 * also returns sum_c r_c dl_c, dlc (when not NULL) each dl_c. */
static double log_density_bound(const sntk_target_t *tg, double t, const double *x, const double *r,
                                double *dlc) {
  const double a = sntk_ou_alpha(t), v = a * a * tg->width * tg->width + sntk_ou_sigma2(t);
  const double lp = sntk_target_log_density(tg, t, x),
               norm = 0.5 * (double)tg->d * log(6.283185307179586 * v);
  double acc = 0.0;
  for (int64_t c = 0; c < tg->C; c++) {
    double q = 0.0, cross = 0.0;
    for (int64_t j = 0; j < tg->d; j++) {
      const double am = a * tg->mu[c * tg->d + j], e = x[j] - am;
      q += e * e, cross += fabs(e * am);
    }
    const double l = tg->logw[c] - 0.5 * q / v;
    const double dl = (4 * TH_U * cross + (8 * TH_U + th_gamma((double)tg->d)) * q) / (2 * v) +
                      2 * TH_U * (fabs(tg->logw[c]) + fabs(l));
    if (dlc) dlc[c] = dl;
    acc += r[c] * dl;
  }
  const double lse = lp + norm;
  return acc + (tg->C + 4) * TH_U * (1 + fabs(lse)) +
         0.5 * (double)tg->d * (7 * TH_U + TH_U * fabs(log(6.283185307179586 * v))) +
         TH_U * fabs(lp);
}

/* The score s = (-x + alpha sum_c r_c mu_c) / v against central differences of log p_t, coordinate
 * by coordinate. With the steps hp = (x + h) - x, hm = x - (x - h) (exact), fd(h) = s + h^2 (log
 * p)'''/6 + O(h^4) + a rounding <= dlp / h (two log-densities within dlp); fd(2h) - fd(h) estimates
 * the truncation (Richardson: |fd(h) - s| <= |fd(2h) - fd(h)| / 3 + 1.5 dlp / h); the score itself
 * is within (sum_c |dr_c| alpha |mu_cj| + gamma_{C+3} (|x_j| + sum_c r_c alpha |mu_cj|)) / v + 5 u
 * |s_j|, |dr_c| <= r_c (dl_c + sum r dl). h = 1e-6 sqrt(v) is near the optimal step (3 dlp / |(log
 * p)'''|)^(1/3) for dlp ~ 1e-14 and (log p)''' ~ v^(-3/2). Tweedie's (alpha E[x0|x] - x) / sigma^2
 * uses the same responsibilities (bitwise: the same function of the same x), so it differs from the
 * score only by the rounding of the two formulas: score within gamma_{C+3} (|x_j| + sum_c r_c alpha
 * |mu_cj|) / v, f_j = shrink x_j + sum_c r_c (1 - shrink alpha) mu_cj within gamma_{C+6} (|shrink
 * x_j| + sum_c r_c |mu_cj|) (1 - shrink alpha loses 5 u absolute), and (alpha f_j - x_j) / sigma^2
 * adds (alpha |df_j| + 3 u (|alpha f_j| + |x_j|)) / sigma^2 + 4 u |result|. */
static void test_score_fd(void) {
  const double times[] = {1e-3, 0.05, 0.5, 3.0};
  double worst = 0.0, worst_tw = 0.0;
  for (int w = 0; w < 2; w++)
    for (int64_t d = 2; d <= 3; d++) {
      sntk_diffusion_cfg_t c = gmm(d, 4, 1.5, w ? 0.3 : 0.0, SNTK_LAYOUT_RANDOM, "1,2,3,4");
      sntk_target_t *tg = make(&c);
      if (!tg) return;
      for (int it = 0; it < 4; it++)
        for (int64_t k = 0; k < 8; k++) {
          const double t = times[it], a = sntk_ou_alpha(t), s2 = sntk_ou_sigma2(t);
          const double v = a * a * tg->width * tg->width + s2, h = 1e-6 * sqrt(v);
          const double shrink = a * tg->width * tg->width / v;
          double x[3], s[3], f[3], r[4], dl[4];
          near_point(tg, t, k % 4, (uint64_t)(k + 10 * it), x);
          sntk_target_score(tg, t, x, s);
          sntk_target_posterior_mean(tg, t, x, f, r);
          const double dlp = log_density_bound(tg, t, x, r, dl);
          double dlbar = 0.0;
          for (int64_t cc = 0; cc < tg->C; cc++) dlbar += r[cc] * dl[cc];
          for (int64_t j = 0; j < d; j++) {
            const double keep = x[j];
            double fd[2], step[2];
            for (int q = 0; q < 2; q++) {
              const volatile double xp = keep + (q + 1) * h, xm = keep - (q + 1) * h;
              step[q] = (xp - keep) + (keep - xm);
              x[j] = xp;
              const double up = sntk_target_log_density(tg, t, x);
              x[j] = xm;
              fd[q] = (up - sntk_target_log_density(tg, t, x)) / step[q];
            }
            x[j] = keep;
            double mabs = 0.0, mr = 0.0, fabs_ = 0.0;
            for (int64_t cc = 0; cc < tg->C; cc++) {
              const double mu = fabs(tg->mu[cc * d + j]);
              mabs += r[cc] * a * mu;
              mr += r[cc] * (dl[cc] + dlbar) * a * mu;
              fabs_ += r[cc] * mu;
            }
            const double ds = (mr + th_gamma((double)tg->C + 3) * (fabs(x[j]) + mabs)) / v +
                              5 * TH_U * fabs(s[j]);
            const double bound = fabs(fd[1] - fd[0]) / 3 + 3 * dlp / step[0] + ds;
            worst = th_max(worst, fabs(fd[0] - s[j]) / bound);
            const double tweedie = (a * f[j] - x[j]) / s2;
            const double df = th_gamma((double)tg->C + 6) * (fabs(shrink * x[j]) + fabs_);
            const double btw = th_gamma((double)tg->C + 3) * (fabs(x[j]) + mabs) / v +
                               (a * df + 3 * TH_U * (fabs(a * f[j]) + fabs(x[j]))) / s2 +
                               4 * TH_U * fabs(tweedie);
            const double e = fabs(tweedie - s[j]);
            worst_tw = th_max(worst_tw, e == 0.0 ? 0.0 : e / btw);
          }
        }
      sntk_target_destroy(&tg);
    }
  TH_OK(worst <= 1,
        "exact score vs central differences of log p_t: %.2e of the truncation + round-off bound "
        "(<= 1)",
        worst);
  TH_OK(worst_tw <= 1,
        "Tweedie (alpha E[x0|x] - x) / sigma^2 = score: %.2e of the round-off bound (<= 1)",
        worst_tw);
}

/* Closed forms against sntk_target_posterior_mean, entrywise within round-off bounds. One Gaussian
 * (r = 1): f = shrink x + (1 - shrink alpha) mu against mu + k (x - alpha mu), k = shrink, from the
 * same alpha and sigma^2: shrink and k take about 7 roundings each, the rest 3 per term, so the two
 * differ by gamma_20 (|k x| + |mu| (1 + k alpha)). Two atoms +-R: f = R (r_+ - r_-) =
 * R tanh((l_+ - l_-) / 2); each l_c = -(y -+ alpha R)^2 / (2 sigma^2) within dl_c = (4 u |e_c|
 * alpha R + (8 u + gamma_1) e_c^2) / (2 sigma^2) + 2 u |l_c| (as in log_density_bound), so f moves
 * by R (1 - tanh^2) (dl_+ + dl_-) / 2 plus gamma_8 R (softmax of two terms, the reference's tanh),
 * and the reference's argument alpha R y / sigma^2 by 3 u of itself. */
static void test_posterior_closed_forms(void) {
  sntk_diffusion_cfg_t c1 = gmm(2, 1, 2.0, 0.7, SNTK_LAYOUT_RING, "");
  sntk_diffusion_cfg_t c2 = gmm(1, 2, 1.3, 0.0, SNTK_LAYOUT_RING, "");
  sntk_target_t *g = make(&c1), *atoms = make(&c2);
  if (!g || !atoms) return;
  double worst1 = 0, worst2 = 0;
  for (int i = 0; i < 20; i++) {
    const double t = 0.01 + 0.2 * i, a = sntk_ou_alpha(t), s2 = sntk_ou_sigma2(t);
    double x[2] = {1.0 - 0.1 * i, 0.3 * i - 2.0}, f[2];
    sntk_target_posterior_mean(g, t, x, f, NULL);
    const double k = a * 0.49 / (a * a * 0.49 + s2);
    const double want[2] = {2.0 + k * (x[0] - a * 2.0), k * x[1]}, mu[2] = {2.0, 0.0};
    for (int j = 0; j < 2; j++) {
      const double b = th_gamma(20) * (fabs(k * x[j]) + fabs(mu[j]) * (1 + k * a)),
                   e = fabs(f[j] - want[j]);
      worst1 = th_max(worst1, e == 0.0 ? 0.0 : e / b);
    }
    const double y = 0.15 * i - 1.5, R = 1.3, arg = a * R * y / s2, th = tanh(arg);
    double fy, dl = 0.0;
    sntk_target_posterior_mean(atoms, t, &y, &fy, NULL);
    for (int sgn = -1; sgn <= 1; sgn += 2) {
      const double e = y - sgn * a * R, l = -e * e / (2 * s2);
      dl += (4 * TH_U * fabs(e) * a * R + (8 * TH_U + th_gamma(1)) * e * e) / (2 * s2) +
            2 * TH_U * fabs(l);
    }
    const double b = R * (1 - th * th) * (dl / 2 + 3 * TH_U * fabs(arg)) + th_gamma(8) * R,
                 e = fabs(fy - R * th);
    worst2 = th_max(worst2, e == 0.0 ? 0.0 : e / b);
  }
  TH_OK(worst1 <= 1,
        "posterior mean of one Gaussian = mu + alpha s^2 / v (x - alpha mu): %.1e of the "
        "round-off bound (<= 1)",
        worst1);
  TH_OK(worst2 <= 1,
        "posterior mean of atoms +-R = R tanh(alpha R x / sigma^2): %.1e of the round-off bound "
        "(<= 1)",
        worst2);
  sntk_target_destroy(&g);
  sntk_target_destroy(&atoms);
}

static void test_ou_moments(void) {
  const int N = 200000;
  const double t = 0.4, a = sntk_ou_alpha(t), s2 = sntk_ou_sigma2(t);
  sntk_diffusion_cfg_t c = gmm(2, 1, 1.0, 0.5, SNTK_LAYOUT_RING, "");
  sntk_diffusion_cfg_t cm = gmm(2, 4, 1.0, 0.0, SNTK_LAYOUT_RING, "1,2,3,4");
  sntk_target_t *tg = make(&c), *mix = make(&cm);
  if (!tg || !mix) return;
  double m0 = 0, v0 = 0, m1 = 0, tm = 0, x0[2], xt[2], tt, freq[4] = {0};
  for (int i = 0; i < N; i++) {
    sntk_diff_triple(tg, t, t, 5, SNTK_RNG_DIFF_TRAIN, (uint64_t)i, x0, &tt, xt);
    m0 += xt[0], v0 += (xt[0] - a) * (xt[0] - a), m1 += xt[1];
    sntk_diff_triple(mix, 0.1, 2.1, 5, SNTK_RNG_DIFF_TRAIN, (uint64_t)i, x0, &tt, xt);
    tm += tt;
    freq[sntk_target_nearest(mix, x0, NULL)] += 1.0 / N;
  }
  m0 /= N, v0 /= N, m1 /= N, tm /= N;
  /* 5 s.e. of N draws with the exact variances: x_t is Gaussian (Var of a mean var / N, of a
   * variance 2 var^2 / N), t ~ U[0.1, 2.1] (sd 2 / sqrt 12), a frequency p (1 - p) / N <= 1 / (4 N)
   */
  const double var = a * a * 0.25 + s2, se = sqrt(var / N);
  TH_OK(fabs(m0 - a) < 5 * se && fabs(m1) < 5 * se,
        "E x_t = alpha mu: (%.4f, %.4f) vs (%.4f, 0) (5 s.e. = %.4f)", m0, m1, a, 5 * se);
  TH_OK(fabs(v0 - var) < 5 * var * sqrt(2.0 / N),
        "Var x_t = alpha^2 s^2 + sigma^2: %.4f vs %.4f (5 s.e. = %.4f)", v0, var,
        5 * var * sqrt(2.0 / N));
  TH_OK(fabs(tm - 1.1) < 5 * 2.0 / sqrt(12.0 * N), "E t = (t0 + T) / 2: %.4f vs 1.1", tm);
  double fw = 0;
  for (int k = 0; k < 4; k++) fw = fmax(fw, fabs(freq[k] - (k + 1) / 10.0) / sqrt(0.25 / N));
  TH_OK(fw < 5, "component frequencies (%.4f %.4f %.4f %.4f) match weights 1:2:3:4 (%.1f s.e.)",
        freq[0], freq[1], freq[2], freq[3], fw);
  sntk_target_destroy(&tg);
  sntk_target_destroy(&mix);
}

static void gaussian_sample(uint64_t key, int64_t n, int64_t d, double sd, double shift,
                            double *X) {
  for (int64_t i = 0; i < n; i++) {
    sntk_rng_t s;
    sntk_rng_init(&s, key, 77, (uint64_t)i);
    for (int64_t j = 0; j < d; j++) X[i * d + j] = sd * sntk_rng_normal(&s) + shift;
  }
}

/* Sliced W2 checks and their tolerances:
 * - B = A + 0.7 in d = 1: b_i = fl(a_i + 0.7) is monotone in a_i, so the sorted samples pair up and
 *   each (p_a - p_b)^2 is 0.49 within rho_i = 5 u + (2 u / 0.7) (2 |a_i| + |b_i| + 1.4) (the
 * rounding of b_i, of the projections on theta = +-1 (1 +- 2 u), the difference and the square);
 * the sums of n and of L terms add gamma_{n+2} and gamma_{L+2}, the square root halves it all;
 * - {0, 1} against {0, 1/2, 1}: the breakpoint walk sums 1/4 + 1/4 exactly; theta^2 (4 u), the
 *   division by 6, the sum of L = 3 and its division: gamma_9 on W2^2, so gamma_6 on W2;
 * - N(0, 1) against N(0, 4): to first order the empirical W2 of two normal samples is |s_b - s_a|
 *   (their standard deviations), whose s.e. is sqrt((s_a^2 + s_b^2) / (2 n)), from the sample: 5
 * s.e.;
 * - the shifted copy in d = 3 averages (theta . m)^2 = |m|^2 beta over L directions, beta ~
 * Beta(1/2, (d - 1)/2) with mean 1/d and Var / mean^2 = 2 (d - 1) / (d + 2): the relative s.e. of
 * the estimate of |m| / sqrt(d) is sqrt(2 (d - 1) / ((d + 2) L)) / 2; 5 s.e.;
 * - P ranks against one: each direction's value is computed identically; only the sum over the L
 *   directions is split, so within (gamma_L + gamma_{L/P + P}) / 2 + 2 u relative. */
static void test_sliced_w2(void) {
  const int64_t n = 20000;
  double *A = malloc(sizeof(double) * n * 3), *B = malloc(sizeof(double) * n * 3), sw, sw1;
  gaussian_sample(1, n, 1, 1.0, 0.0, A);
  gaussian_sample(1, n, 1, 1.0, 0.7, B);
  sntk_sliced_w2(MPI_COMM_WORLD, n, A, n, B, 1, 8, 4, &sw);
  double rho = 0.0;
  for (int64_t i = 0; i < n; i++)
    rho += (5 * TH_U + 2 * TH_U / 0.7 * (2 * fabs(A[i]) + fabs(B[i]) + 1.4)) / (double)n;
  const double b1 = 0.7 * (0.5 * (rho + th_gamma((double)n + 2) + th_gamma(8 + 2)) + TH_U);
  TH_OK(fabs(sw - 0.7) <= b1,
        "sliced W2 of a copy shifted by 0.7 (d = 1): %.15f (within the round-off bound %.1e)", sw,
        b1);
  const double a2[2] = {0, 1}, b3[3] = {0, 0.5, 1};
  sntk_sliced_w2(MPI_COMM_WORLD, 2, a2, 3, b3, 1, 3, 4, &sw);
  TH_OK(fabs(sw - sqrt(1.0 / 12)) <= th_gamma(6) * sqrt(1.0 / 12),
        "W2({0,1}, {0,1/2,1}) = sqrt(1/12): %.15f (within gamma_6)", sw);
  gaussian_sample(2, n, 1, 2.0, 0.0, B);
  sntk_sliced_w2(MPI_COMM_WORLD, n, A, n, B, 1, 1, 4, &sw);
  double va = 0.0, vb = 0.0;
  for (int64_t i = 0; i < n; i++) va += A[i] * A[i] / (double)n, vb += B[i] * B[i] / (double)n;
  const double se = sqrt((va + vb) / (2.0 * (double)n));
  TH_OK(fabs(sw - 1.0) < 5 * se, "W2(N(0,1), N(0,4)) = 1: %.4f (+- 5 s.e. = %.4f)", sw, 5 * se);
  const int64_t n3 = 300, L = 4000; /* a shifted copy's W2 is exact at any size: cheap sorts */
  gaussian_sample(3, n3, 3, 1.0, 0.0, A);
  for (int64_t i = 0; i < n3 * 3; i++) B[i] = A[i] + (i % 3 == 0 ? 1.2 : i % 3 == 1 ? -0.4 : 0.9);
  const double m = sqrt(1.44 + 0.16 + 0.81), rse = 0.5 * sqrt(2.0 * 2 / (5.0 * (double)L));
  sntk_sliced_w2(MPI_COMM_WORLD, n3, A, n3, B, 3, L, 4, &sw);
  sntk_sliced_w2(MPI_COMM_SELF, n3, A, n3, B, 3, L, 4, &sw1);
  TH_OK(fabs(sw / (m / sqrt(3.0)) - 1) < 5 * rse,
        "sliced W2 of a shifted copy in d = 3: %.4f vs |m|/sqrt(3) = %.4f (+- 5 s.e. = %.1f %%)",
        sw, m / sqrt(3.0), 500 * rse);
  const double bp =
      0.5 * (th_gamma((double)L) + th_gamma((double)(L / th_size + th_size))) + 2 * TH_U;
  TH_OK(th_rel(sw, sw1) <= bp, "sliced W2 on %d rank(s) = one rank: rel %.1e (<= %.1e)", th_size,
        th_rel(sw, sw1), bp);
  free(A), free(B);
}

/* MMD^2 with the RBF kernel k of bandwidth h (as sntk_mmd_rbf), evaluated here: the V-statistic V
 * = mean_ij h(z_i, z_j) of the pairs z_i = (a_i, b_i), h(z, z') = k(a, a') + k(b, b') - k(a, b') -
 * k(a', b), returned, and its s.e. 2 sqrt(zeta_1 / n) (Hoeffding) in *se, zeta_1 the sample
 * variance over i of h_1(z_i) = mean_j h(z_i, z_j). V differs from the unbiased U-statistic by at
 * most
 * (|V| + 2) / n. */
static double mmd_v(int64_t n, const double *A, const double *B, double h, double *se) {
  const double g = 1.0 / (2.0 * h * h);
  double s1 = 0.0, s2 = 0.0;
  for (int64_t i = 0; i < n; i++) {
    double hi = 0.0;
    for (int64_t j = 0; j < n; j++) {
      const double daa = A[i] - A[j], dbb = B[i] - B[j], dab = A[i] - B[j], dba = A[j] - B[i];
      hi += exp(-g * daa * daa) + exp(-g * dbb * dbb) - exp(-g * dab * dab) - exp(-g * dba * dba);
    }
    hi /= (double)n;
    s1 += hi, s2 += hi * hi;
  }
  const double mean = s1 / (double)n, zeta = s2 / (double)n - mean * mean;
  *se = 2.0 * sqrt(zeta / (double)n);
  return mean;
}

/* MMD on P ranks against one: the same kernel terms (each computed identically), summed over n^2 in
 * one order or over n^2 / P per rank plus the reduction: each of the three sums (at most n^2, the
 * kernel <= 1) within gamma_{n^2} + gamma_{n^2/P + P}, so MMD^2 within 4 (...) + 4 u and MMD within
 * half that over MMD. The library's MMD^2 against the V-statistic evaluated here (mmd_v): the sums
 * of n^2 terms within 4 gamma_{n^2} and 4 gamma_{5n}, each kernel term within 2.2 u (its argument's
 * rounding 3 u g d^2 damped by e^{-g d^2}, and exp's), so within 4 gamma_{n^2} + 4 gamma_{5n} + 9
 * u. */
static void test_mmd(void) {
  const int64_t n = 2000;
  double *A = malloc(sizeof(double) * n), *B = malloc(sizeof(double) * n), mmd, mmd1, h, h1;
  gaussian_sample(5, n, 1, 1.0, 0.0, A);
  sntk_mmd_rbf(MPI_COMM_WORLD, n, A, n, A, 1, &mmd, &h);
  TH_OK(mmd == 0.0, "MMD of identical samples: %g (exactly 0)", mmd);
  gaussian_sample(6, n, 1, 1.0, 1.0, B);
  sntk_mmd_rbf(MPI_COMM_WORLD, n, A, n, B, 1, &mmd, &h);
  sntk_mmd_rbf(MPI_COMM_SELF, n, A, n, B, 1, &mmd1, &h1);
  const double want2 = 2 * h / sqrt(h * h + 2) * (1 - exp(-1.0 / (2 * (h * h + 2))));
  if (th_rank == 0) {
    double se;
    const double v = mmd_v(n, A, B, h, &se), tol = 5 * se + (mmd * mmd + 2) / (double)n,
                 nn = (double)n * (double)n,
                 bv = 4 * th_gamma(nn) + 4 * th_gamma(5.0 * (double)n) + 9 * TH_U;
    TH_OK(fabs(mmd * mmd - v) <= bv,
          "MMD^2 = the V-statistic with kernel exp(-|x - y|^2 / (2 h^2)) written out: %.1e (<= "
          "%.1e, round-off)",
          fabs(mmd * mmd - v), bv);
    TH_OK(fabs(mmd * mmd - want2) <= tol,
          "MMD^2(N(0,1), N(1,1)) = %.4f vs closed form %.4f at bandwidth %.3f (+- 5 s.e. + "
          "V-statistic bias = %.4f)",
          mmd * mmd, want2, h, tol);
  }
  const double nn = (double)n * (double)n, P = (double)th_size;
  const double bp = (4 * (th_gamma(nn) + th_gamma(nn / P + P)) + 4 * TH_U) / (2 * mmd * mmd);
  TH_OK(th_rel(mmd, mmd1) <= bp && h == h1, "MMD on %d rank(s) = one rank: rel %.1e (<= %.1e)",
        th_size, th_rel(mmd, mmd1), bp);
  free(A), free(B);
}

static void test_explicit_means(void) {
  sntk_diffusion_cfg_t c = gmm(2, 2, 1.0, 0.0, SNTK_LAYOUT_RING, "1,3");
  snprintf(c.means, sizeof c.means, "0.5, -1, 2,3");
  sntk_target_t *tg = make(&c);
  if (!tg) return;
  TH_OK(tg->mu[0] == 0.5 && tg->mu[1] == -1 && tg->mu[2] == 2 && tg->mu[3] == 3 &&
            tg->w[0] == 0.25 && tg->w[1] == 0.75,
        "explicit means (0.5, -1), (2, 3) and weights 1:3 are taken as given");
  sntk_target_destroy(&tg);
}

/* Coverage by radius. The chi quantile against closed forms (d = 1: the normal's 0.995 quantile;
 * d = 2: sqrt(-2 ln(1 - p))), to 1e-12 (bisection to 1e-15 of a function computed to ~1e-16).
 * Points on the atoms lie (1 - alpha_t0) |mu| = 1e-3 from alpha mu, inside the radius 0.136 of
 * t0 = 1e-3; points at the origin (a blob between the modes) lie 1 away and cover nothing. The
 * share of component samples at t0 inside the radius of level p = 0.99 is binomial: within 5
 * standard errors sqrt(p (1 - p) / n) of p. */
static void test_coverage(void) {
  const double q1 = sntk_chi_quantile(1, 0.99), q2 = sntk_chi_quantile(2, 0.99);
  TH_OK(fabs(q1 - 2.5758293035489004) < 1e-12 && fabs(q2 - sqrt(-2.0 * log(0.01))) < 1e-12,
        "chi quantiles (p = 0.99): d = 1 %.15f, d = 2 %.15f", q1, q2);
  sntk_diffusion_cfg_t c = gmm(2, 4, 1.0, 0.0, SNTK_LAYOUT_RING, "");
  sntk_target_t *tg = make(&c);
  if (!tg) return;
  const double t0 = 1e-3, r = sntk_mode_radius(tg, t0, 0.99);
  double X[240], frac[4], inside;
  int64_t covered, counts[4] = {10, 20, 70, 0}, i = 0;
  for (int64_t k = 0; k < 4; k++)
    for (int64_t j = 0; j < counts[k]; j++, i++)
      X[2 * i] = tg->mu[2 * k], X[2 * i + 1] = tg->mu[2 * k + 1];
  for (int64_t j = 0; j < 20; j++, i++) X[2 * i] = X[2 * i + 1] = 0.0;
  sntk_mode_coverage(tg, t0, r, 120, X, frac, &inside, &covered);
  const double e = 1.0 / 120.0 * 1e-9;
  TH_OK(fabs(frac[0] - 10.0 / 120) < e && fabs(frac[1] - 20.0 / 120) < e &&
            fabs(frac[2] - 70.0 / 120) < e && frac[3] == 0 && covered == 2 &&
            fabs(inside - 100.0 / 120) < e,
        "coverage by radius %.4f: shares %.3f %.3f %.3f %.3f, inside %.3f, %lld modes hold half "
        "their weight (2); the 20 points at the origin cover nothing",
        r, frac[0], frac[1], frac[2], frac[3], inside, (long long)covered);
  for (int64_t j = 0; j < 120; j++) X[2 * j] = X[2 * j + 1] = 0.0;
  sntk_mode_coverage(tg, t0, r, 120, X, frac, &inside, &covered);
  TH_OK(inside == 0 && covered == 0, "a blob at the origin covers %lld modes", (long long)covered);
  sntk_target_destroy(&tg);
  sntk_diffusion_cfg_t c2 = gmm(16, 1, 2.0, 0.1, SNTK_LAYOUT_RANDOM, "");
  sntk_target_t *one = make(&c2);
  if (!one) return;
  enum { NC = 20000 };
  double *Y = malloc(sizeof(double) * NC * 16), f1[1];
  for (int64_t j = 0; j < NC; j++) {
    double x0[16], tt, *y = Y + j * 16;
    sntk_diff_triple(one, t0, t0 * (1.0 + 1e-12), 9, SNTK_RNG_DIFF_EVAL, (uint64_t)j, x0, &tt, y);
  }
  sntk_mode_coverage(one, t0, sntk_mode_radius(one, t0, 0.99), NC, Y, f1, &inside, &covered);
  const double se = sqrt(0.99 * 0.01 / NC);
  TH_OK(fabs(inside - 0.99) < 5 * se,
        "d = 16, width 0.1: %.4f of the component's samples at t0 inside its 0.99 radius (5 "
        "standard errors %.4f)",
        inside, 5 * se);
  free(Y);
  sntk_target_destroy(&one);
}

/* The law of the samplers' discrete chain for the target N(mu, s^2) in one coordinate: the exact
 * score -(x - alpha mu) / v is affine in x, so each Euler-Maruyama step x += h (x + 2 s) + sqrt(2
 * h) xi and each Heun step is affine, and from N(0, 1) at T the chain stays Gaussian with mean and
 * variance given by these recursions over the sampler's own time points. */
static void chain_law(const sntk_sampler_t *sp, double mu, double s, double *mean, double *var) {
  double *tk = malloc(sizeof(double) * (size_t)(sp->steps + 1)), m = 0.0, P = 1.0;
  sntk_sampler_times(sp, tk);
  for (int64_t k = 0; k < sp->steps; k++) {
    const double t = tk[k], h = tk[k] - tk[k + 1];
    const double a0 = sntk_ou_alpha(t), v0 = a0 * a0 * s * s + sntk_ou_sigma2(t);
    if (sp->kind == SNTK_SAMPLER_SDE) {
      const double c = 1 + h - 2 * h / v0;
      m = c * m + 2 * h * a0 * mu / v0, P = c * c * P + 2 * h;
    } else { /* slope g(t, x) = x + s(t, x) = p_t x + q_t */
      const double a1 = sntk_ou_alpha(t - h), v1 = a1 * a1 * s * s + sntk_ou_sigma2(t - h);
      const double p0 = 1 - 1 / v0, q0 = a0 * mu / v0, p1 = 1 - 1 / v1, q1 = a1 * mu / v1;
      const double c = 1 + 0.5 * h * p0 + 0.5 * h * p1 * (1 + h * p0);
      m = c * m + 0.5 * h * q0 + 0.5 * h * (p1 * h * q0 + q1), P = c * c * P;
    }
  }
  *mean = m, *var = P;
  free(tk);
}

/* Samples of the chain against its law: mean within 5 s.e. (sd / sqrt n), standard deviation within
 * 5 s.e. (sd / sqrt(2 n), Gaussian samples). The chain's own distance to p_t0 (its discretisation
 * error) is printed. */
static void test_samplers(void) {
  const int64_t n = 4000;
  sntk_diffusion_cfg_t c = gmm(2, 1, 1.0, 0.5, SNTK_LAYOUT_RING, "");
  sntk_target_t *tg = make(&c);
  if (!tg) return;
  double *X = malloc(sizeof(double) * n * 2);
  for (int kind = 0; kind < 2; kind++) {
    sntk_sampler_t sp = {kind, SNTK_TGRID_GEOMETRIC, 200, 1e-3, 5.0, 8};
    sntk_sampler_run(&sp, sntk_score_exact, tg, n, 2, X);
    double m = 0, v = 0, cm, cv;
    for (int64_t i = 0; i < n; i++) m += X[2 * i];
    m /= n;
    for (int64_t i = 0; i < n; i++) v += (X[2 * i] - m) * (X[2 * i] - m);
    v = sqrt(v / n);
    chain_law(&sp, tg->mu[0], 0.5, &cm, &cv);
    cv = sqrt(cv);
    const double a = sntk_ou_alpha(1e-3), sd = sqrt(a * a * 0.25 + sntk_ou_sigma2(1e-3));
    const double sem = v / sqrt((double)n), sev = v / sqrt(2.0 * (double)n);
    TH_OK(fabs(m - cm) < 5 * sem && fabs(v - cv) < 5 * sev,
          "%s sampler, exact score of N((1, 0), 0.25 I): mean %.4f vs chain %.4f (+- 5 s.e. = "
          "%.4f), sd %.4f vs chain %.4f (+- %.4f); the chain's law vs p_t0: mean %+.1e, sd %+.1e",
          sntk_sampler_names[kind], m, cm, 5 * sem, v, cv, 5 * sev, cm - a, cv - sd);
  }
  free(X);
  sntk_target_destroy(&tg);
}

/* The output maps. Tolerances: each coefficient takes a few roundings (sqrt, divisions, expm1), so
 * 1e-14 relative; the limits are checked at t = 1e-8 (where c_skip alpha - 1 = -s^2 / (s^2 +
 * sdata^2) ~ 2e-8 / sdata^2) and t = 30 (c_skip ~ alpha sdata^2 ~ 1e-13). */
static void test_output_maps(void) {
  sntk_diff_map_t plain = {2, 1.0, 1.0, SNTK_PARAM_PLAIN, 0.7}, edm = plain;
  edm.param = SNTK_PARAM_EDM;
  const double x[2] = {0.3, -1.2}, F[2] = {0.5, 2.0};
  double f[2], y[2], cs, co;
  sntk_diff_output(&plain, 0.3, x, F, f);
  TH_OK(f[0] == F[0] && f[1] == F[1], "plain: x0_hat = F (%g %g)", f[0], f[1]);
  sntk_diff_output(&edm, 0.3, x, F, f);
  sntk_diff_output_target(&edm, 0.3, x, f, y);
  TH_OK(fabs(y[0] - F[0]) < 1e-14 && fabs(y[1] - F[1]) < 1e-14,
        "edm: target(output(F)) = F (%.17g %.17g)", y[0], y[1]);
  const double a = exp(-0.3), s2 = (1 - exp(-0.6)) / (a * a), q = 0.49;
  sntk_diff_output_coeffs(&edm, 0.3, &cs, &co);
  TH_OK(fabs(cs - q / ((s2 + q) * a)) < 1e-14 && fabs(co - sqrt(s2 * q / (s2 + q))) < 1e-14,
        "edm coefficients at t = 0.3: c_skip %.15g, c_out %.15g", cs, co);
  sntk_diff_output_coeffs(&edm, 1e-8, &cs, &co);
  TH_OK(fabs(cs * exp(-1e-8) - 1) < 1e-7 && fabs(co / sqrt(-expm1(-2e-8)) - 1) < 1e-7,
        "edm as t -> 0: c_skip alpha = %.10f, c_out / sigma = %.10f", cs * exp(-1e-8),
        co / sqrt(-expm1(-2e-8)));
  sntk_diff_output_coeffs(&edm, 30, &cs, &co);
  TH_OK(cs < 1e-12 && fabs(co - 0.7) < 1e-12, "edm as t grows: c_skip %.3g, c_out %.15g", cs, co);
  /* N(0, q I): E[x_0 | x_t] = alpha q / (alpha^2 q + sigma^2) x_t = c_skip x_t. */
  sntk_diff_output_coeffs(&edm, 0.3, &cs, &co);
  const double gain = a * q / (a * a * q + (1 - exp(-0.6)));
  TH_OK(fabs(cs - gain) < 1e-14 * gain, "edm c_skip = the Gaussian posterior gain (%.15g vs %.15g)",
        cs, gain);
}

int main(int argc, char **argv) {
  th_init(&argc, &argv);
  test_output_maps();
  test_score_fd();
  test_posterior_closed_forms();
  test_ou_moments();
  test_sliced_w2();
  test_mmd();
  test_explicit_means();
  test_coverage();
  test_samplers();
  return th_finish();
}
