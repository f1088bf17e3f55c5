/* Counter-based streams: a pure function of (seed, purpose, index); moments of the draws.
 * Tolerances: 5 standard errors of N = 2e5 independent draws, each s.e. from the exact variance of
 * the statistic (normal: Var z = 1, Var z^2 = 2, Var z^4 = 96; uniform: 1/12; sign: 1), so a
 * correct generator fails a check with probability below 6e-7 and a biased transform of 2e-2 s.e.
 * fails. */
#include "harness.h"
#include "softntk/rng.h"

int main(int argc, char **argv) {
  th_init(&argc, &argv);
  sntk_rng_t a, b;
  sntk_rng_init(&a, 5, SNTK_RNG_WEIGHT, 123);
  sntk_rng_init(&b, 5, SNTK_RNG_WEIGHT, 123);
  int same = 1;
  for (int i = 0; i < 1000; i++) same &= sntk_rng_u64(&a) == sntk_rng_u64(&b);
  TH_OK(same, "same key, same stream");
  sntk_rng_init(&b, 5, SNTK_RNG_SIGN, 123);
  sntk_rng_init(&a, 5, SNTK_RNG_WEIGHT, 123);
  TH_OK(sntk_rng_u64(&a) != sntk_rng_u64(&b), "purposes give different streams");
  const int N = 200000;
  double s1 = 0, s2 = 0, u1 = 0, sg = 0, s4 = 0;
  for (int i = 0; i < N; i++) {
    sntk_rng_t s;
    sntk_rng_init(&s, 9, SNTK_RNG_DATA_X, (uint64_t)i);
    double z = sntk_rng_normal(&s), u = sntk_rng_uniform(&s);
    s1 += z, s2 += z * z, s4 += z * z * z * z, u1 += u, sg += sntk_rng_sign(&s);
    if (u <= 0 || u >= 1) TH_OK(0, "uniform outside (0,1): %g", u);
  }
  s1 /= N, s2 /= N, s4 /= N, u1 /= N, sg /= N;
  const double se = 1.0 / sqrt(N); /* s.e. of a mean of unit-variance draws */
  TH_OK(fabs(s1) < 5 * se, "normal mean %.4f (|.| < 5 s.e. = %.4f)", s1, 5 * se);
  TH_OK(fabs(s2 - 1) < 5 * sqrt(2.0) * se, "normal variance %.4f (1 +- 5 s.e. = %.4f)", s2,
        5 * sqrt(2.0) * se);
  TH_OK(fabs(s4 - 3) < 5 * sqrt(96.0) * se, "normal 4th moment %.3f (3 +- 5 s.e. = %.3f)", s4,
        5 * sqrt(96.0) * se);
  TH_OK(fabs(u1 - 0.5) < 5 * sqrt(1.0 / 12) * se, "uniform mean %.4f (0.5 +- 5 s.e. = %.4f)", u1,
        5 * sqrt(1.0 / 12) * se);
  TH_OK(fabs(sg) < 5 * se, "sign mean %.4f (|.| < 5 s.e. = %.4f)", sg, 5 * se);
  return th_finish();
}
