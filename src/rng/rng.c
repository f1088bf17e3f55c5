/* Counter-based random streams on Philox-4x64-10 (see rng.h). */
#include "softntk/rng.h"

#include <Random123/philox.h>
#include <math.h>

void sntk_rng_init(sntk_rng_t *s, uint64_t seed, uint64_t purpose, uint64_t index) {
  s->key[0] = seed;
  s->key[1] = purpose;
  s->ctr[0] = index;
  s->ctr[1] = s->ctr[2] = s->ctr[3] = 0;
  s->used = 4;
  s->have_spare = 0;
  s->spare = 0.0;
}

uint64_t sntk_rng_u64(sntk_rng_t *s) {
  if (s->used == 4) {
    philox4x64_ctr_t c = {{s->ctr[0], s->ctr[1], s->ctr[2], s->ctr[3]}};
    philox4x64_key_t k = {{s->key[0], s->key[1]}};
    philox4x64_ctr_t r = philox4x64(c, k);
    for (int i = 0; i < 4; i++) s->buf[i] = r.v[i];
    s->ctr[3]++;
    s->used = 0;
  }
  return s->buf[s->used++];
}

double sntk_rng_uniform(sntk_rng_t *s) {
  /* (u + 0.5) / 2^53 lies strictly inside (0, 1). */
  return ((double)(sntk_rng_u64(s) >> 11) + 0.5) * 0x1.0p-53;
}

double sntk_rng_normal(sntk_rng_t *s) {
  if (s->have_spare) {
    s->have_spare = 0;
    return s->spare;
  }
  const double two_pi = 6.283185307179586476925286766559;
  double u1 = sntk_rng_uniform(s), u2 = sntk_rng_uniform(s);
  double r = sqrt(-2.0 * log(u1));
  s->spare = r * sin(two_pi * u2);
  s->have_spare = 1;
  return r * cos(two_pi * u2);
}

double sntk_rng_sign(sntk_rng_t *s) {
  return (sntk_rng_u64(s) >> 63) ? 1.0 : -1.0;
}
