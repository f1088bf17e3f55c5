/* The diffusion module's mathematics (run with 1 and 3 ranks):
 * - the exact mixture score equals a central finite difference of the log-density (1e-6 relative;
 *   h = 1e-6 sqrt(v_t) gives truncation O(h^2 / v) ~ 1e-12 and round-off O(eps |log p| sqrt(v) / h)
 *   ~ 1e-9 relative, so 1e-6 leaves a margin of 1e3), for widths 0 and 0.3, d = 2 and 3, unequal
 *   weights, t from 1e-3 to 3;
 * - the posterior mean satisfies Tweedie's formula (1e-12: the same sums, rearranged) and equals
 *   the textbook closed forms for one Gaussian component and for two atoms +-R in one dimension
 *   (E[x0 | x] = R tanh(alpha R x / sigma^2)) within 1e-13 (a few ulp);
 * - OU moments of the drawn triples: mean and variance of x_t at fixed t, the mean of t ~ U[t0, T]
 *   and the mixture's component frequencies, each within 5 standard errors of N = 2e5 draws (a
 *   correct generator fails with probability below 1e-6);
 * - metrics on known distributions: sliced W2 of a shifted copy (exact: |m| in one dimension,
 *   |m| / sqrt(d) up to the Monte Carlo error of L = 4000 directions, 5 %), of unequal-size
 *   samples {0, 1} and {0, 1/2, 1} (sqrt(1/12) by hand), of N(0, 1) and N(0, 4) (W2 = 1; empirical
 *   quantile noise at n = 2e4 is about 0.01, tolerance 0.05); MMD zero for identical samples
 *   (exactly: the three kernel sums coincide), and for N(0,1) against N(1,1) the closed form
 *   2h / sqrt(h^2 + 2) (1 - exp(-1 / (2 (h^2 + 2)))) within 30 % (the V-statistic's relative spread
 *   at n = 2000, measured over 30 seeds with numpy, is 7 %: 4 standard deviations, while a wrong
 *   bandwidth convention is off by a factor); the metrics on P ranks equal one rank within 1e-12
 *   (sums reordered);
 * - explicit means and weights are taken as given; per-mode coverage of points on the atoms;
 * - the samplers with the exact score of N(mu, s^2 I): the sample mean and standard deviation at t0
 *   within 0.03 of the law p_t0 (standard errors 0.008 at n = 4000, plus the discretisation bias
 *   of the geometric 200-step grid; seen: within 0.007). */
#include "harness.h"
#include "softntk/diffusion.h"

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
          const double t = times[it], a = sntk_ou_alpha(t);
          const double v = a * a * tg->width * tg->width + sntk_ou_sigma2(t), h = 1e-6 * sqrt(v);
          double x[3], s[3], fd[3], f[3], num = 0, den = 0, tw = 0;
          near_point(tg, t, k % 4, (uint64_t)(k + 10 * it), x);
          sntk_target_score(tg, t, x, s);
          sntk_target_posterior_mean(tg, t, x, f, NULL);
          for (int64_t j = 0; j < d; j++) {
            const double keep = x[j];
            x[j] = keep + h;
            const double up = sntk_target_log_density(tg, t, x);
            x[j] = keep - h;
            fd[j] = (up - sntk_target_log_density(tg, t, x)) / (2 * h);
            x[j] = keep;
            const double tweedie = (a * f[j] - x[j]) / sntk_ou_sigma2(t);
            num += (s[j] - fd[j]) * (s[j] - fd[j]), den += s[j] * s[j];
            tw += (tweedie - s[j]) * (tweedie - s[j]);
          }
          worst = fmax(worst, sqrt(num / den));
          worst_tw = fmax(worst_tw, sqrt(tw / den));
        }
      sntk_target_destroy(&tg);
    }
  TH_OK(worst < 1e-6, "exact score vs central differences of log p_t: max rel error %.2e (< 1e-6)",
        worst);
  TH_OK(worst_tw < 1e-12, "Tweedie (alpha E[x0|x] - x) / sigma^2 = score: max rel %.2e (< 1e-12)",
        worst_tw);
}

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
    const double want[2] = {2.0 + k * (x[0] - a * 2.0), k * x[1]};
    worst1 = fmax(worst1, fabs(f[0] - want[0]) + fabs(f[1] - want[1]));
    double y = 0.15 * i - 1.5, fy;
    sntk_target_posterior_mean(atoms, t, &y, &fy, NULL);
    worst2 = fmax(worst2, fabs(fy - 1.3 * tanh(a * 1.3 * y / s2)));
  }
  TH_OK(worst1 < 1e-13, "posterior mean of one Gaussian = mu + alpha s^2 / v (x - alpha mu): %.1e",
        worst1);
  TH_OK(worst2 < 1e-13, "posterior mean of atoms +-R = R tanh(alpha R x / sigma^2): %.1e", worst2);
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

static void test_sliced_w2(void) {
  const int64_t n = 20000;
  double *A = malloc(sizeof(double) * n * 3), *B = malloc(sizeof(double) * n * 3), sw, sw1;
  gaussian_sample(1, n, 1, 1.0, 0.0, A);
  gaussian_sample(1, n, 1, 1.0, 0.7, B);
  sntk_sliced_w2(MPI_COMM_WORLD, n, A, n, B, 1, 8, 4, &sw);
  TH_OK(fabs(sw - 0.7) < 1e-12, "sliced W2 of a copy shifted by 0.7 (d = 1): %.15f", sw);
  const double a2[2] = {0, 1}, b3[3] = {0, 0.5, 1};
  sntk_sliced_w2(MPI_COMM_WORLD, 2, a2, 3, b3, 1, 3, 4, &sw);
  TH_OK(fabs(sw - sqrt(1.0 / 12)) < 1e-14, "W2({0,1}, {0,1/2,1}) = sqrt(1/12): %.15f", sw);
  gaussian_sample(2, n, 1, 2.0, 0.0, B);
  sntk_sliced_w2(MPI_COMM_WORLD, n, A, n, B, 1, 1, 4, &sw);
  TH_OK(fabs(sw - 1.0) < 0.05, "W2(N(0,1), N(0,4)) = 1: %.4f (+- 0.05)", sw);
  const int64_t n3 = 300; /* a shifted copy's W2 is exact at any size: keep the sorts cheap */
  gaussian_sample(3, n3, 3, 1.0, 0.0, A);
  for (int64_t i = 0; i < n3 * 3; i++) B[i] = A[i] + (i % 3 == 0 ? 1.2 : i % 3 == 1 ? -0.4 : 0.9);
  const double m = sqrt(1.44 + 0.16 + 0.81);
  sntk_sliced_w2(MPI_COMM_WORLD, n3, A, n3, B, 3, 4000, 4, &sw);
  sntk_sliced_w2(MPI_COMM_SELF, n3, A, n3, B, 3, 4000, 4, &sw1);
  TH_OK(fabs(sw / (m / sqrt(3.0)) - 1) < 0.05,
        "sliced W2 of a shifted copy in d = 3: %.4f vs "
        "|m|/sqrt(3) = %.4f (5 %%)",
        sw, m / sqrt(3.0));
  TH_OK(th_rel(sw, sw1) < 1e-12, "sliced W2 on %d rank(s) = one rank: rel %.1e", th_size,
        th_rel(sw, sw1));
  free(A), free(B);
}

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
  TH_OK(fabs(mmd * mmd / want2 - 1) < 0.3,
        "MMD^2(N(0,1), N(1,1)) = %.4f vs closed form %.4f at bandwidth %.3f (30 %%)", mmd * mmd,
        want2, h);
  TH_OK(th_rel(mmd, mmd1) < 1e-12 && h == h1, "MMD on %d rank(s) = one rank: rel %.1e", th_size,
        th_rel(mmd, mmd1));
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

static void test_samplers(void) {
  const int64_t n = 4000;
  sntk_diffusion_cfg_t c = gmm(2, 1, 1.0, 0.5, SNTK_LAYOUT_RING, "");
  sntk_target_t *tg = make(&c);
  if (!tg) return;
  double *X = malloc(sizeof(double) * n * 2);
  for (int kind = 0; kind < 2; kind++) {
    sntk_sampler_t sp = {kind, SNTK_TGRID_GEOMETRIC, 200, 1e-3, 5.0, 8};
    sntk_sampler_run(&sp, sntk_score_exact, tg, n, 2, X);
    double m = 0, v = 0;
    for (int64_t i = 0; i < n; i++) m += X[2 * i];
    m /= n;
    for (int64_t i = 0; i < n; i++) v += (X[2 * i] - m) * (X[2 * i] - m);
    const double a = sntk_ou_alpha(1e-3), sd = sqrt(a * a * 0.25 + sntk_ou_sigma2(1e-3));
    v = sqrt(v / n);
    TH_OK(fabs(m - a) < 0.03 && fabs(v - sd) < 0.03,
          "%s sampler, exact score of N((1, 0), 0.25 I): mean %.4f (%.4f), sd %.4f (%.4f)",
          sntk_sampler_names[kind], m, a, v, sd);
  }
  free(X);
  sntk_target_destroy(&tg);
}

int main(int argc, char **argv) {
  th_init(&argc, &argv);
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
