/* The table of solver backends of the NTK (ntk.solver): one line per backend, each implemented in
 * its own file solver_<name>.c (see ntk_solver_ops_t in ntk_impl.h), and the choice `auto` makes.
 * ELPA is optional (meson -Delpa): without it its line is NULL and asking for it is an input error.
 */
#include "ntk_impl.h"

#include "softntk/error.h"

#include <stddef.h>
#include <string.h>

extern const ntk_solver_ops_t ntk_solver_scalapack;
#ifdef SNTK_HAVE_ELPA
extern const ntk_solver_ops_t ntk_solver_elpa;
#define ELPA_OPS &ntk_solver_elpa
#else
#define ELPA_OPS NULL
#endif

const char *const sntk_ntk_solver_names[] = {"auto", "scalapack", "elpa", NULL};
const ntk_solver_ops_t *const ntk_solver_table[] = {NULL, &ntk_solver_scalapack, ELPA_OPS, NULL};

/* auto: ELPA for all eigenvalues from nk = AUTO_VALUES_MIN on and for all eigenpairs from
 * AUTO_PAIRS_MIN on; ScaLAPACK below them and for the extremes (one PDSYTRD against ELPA's two
 * two-stage reductions, of A and -A). Measured with `softntk bench --bench.what=eigen` (2 ranks,
 * grid 1x2, nb 64, one OpenBLAS thread per rank, otherwise idle machine), ELPA's time against
 * ScaLAPACK's on the same NTK:
 *   eigenvalues (ELPA two-stage vs PDSYEV): nk 4096 4.02 vs 3.26 s (0.81x), 6000 10.2 vs 12.4 s
 *   (1.22x), 8192 21.8-23.4 vs 29.0-31.5 s (1.24-1.45x), 10000 42.3 vs 57.2 s (1.35x);
 *   eigenpairs (ELPA one-stage vs PDSYEVD): nk 600 level, 4096 5.62 vs 6.29 s (1.12x), 6000 18.4 vs
 *   20.8 s (1.13x), 8192 43.6 vs 49.3 s (1.13x).
 * PDSYEV's one-stage reduction is BLAS-2 bound only once the matrix leaves the caches, hence the
 * late crossover for eigenvalues. */
enum { AUTO_VALUES_MIN = 5000, AUTO_PAIRS_MIN = 3000 };

int ntk_solver_resolve(const ntk_shape_t *s, int cfg, int *out) {
  const int64_t nk = s->n * s->k, blocks = (nk + s->nb - 1) / s->nb;
  /* ELPA fails (setup or solve) when a process row or column owns no block of the matrix */
  const int elpa_fits = blocks >= s->nprow && blocks >= s->npcol;
  *out = cfg;
  if (cfg == NTK_SOLVER_AUTO)
    *out = ntk_solver_table[NTK_SOLVER_ELPA] && elpa_fits &&
                   ((s->spectrum == SNTK_SPECTRUM_VALUES && nk >= AUTO_VALUES_MIN) ||
                    (s->spectrum == SNTK_SPECTRUM_FULL && nk >= AUTO_PAIRS_MIN))
               ? NTK_SOLVER_ELPA
               : NTK_SOLVER_SCALAPACK;
  if (*out == NTK_SOLVER_ELPA && ntk_solver_table[*out] && !elpa_fits)
    return sntk_error(
        SNTK_ERR_INPUT,
        "ntk.solver = elpa needs a block of the matrix on every process row and "
        "column: n k = %lld in blocks of parallel.nb = %lld is %lld blocks for a %dx%d "
        "grid; lower parallel.nb or use ntk.solver = scalapack",
        (long long)nk, (long long)s->nb, (long long)blocks, s->nprow, s->npcol);
  if (!ntk_solver_table[*out])
    return sntk_error(
        SNTK_ERR_INPUT,
        "ntk.solver = %s: this softntk was built without it (meson setup -Delpa=enabled "
        "with libelpa-dev installed); use ntk.solver = scalapack or auto",
        sntk_ntk_solver_names[*out]);
  return SNTK_OK;
}

int sntk_ntk_solver_usable(const sntk_ntk_t *ntk, int solver) {
  ntk_shape_t s;
  memset(&s, 0, sizeof s);
  s.n = ntk->n, s.k = ntk->k, s.nb = ntk->nb, s.spectrum = ntk->cfg.spectrum;
  s.nprow = ntk->grid->nprow, s.npcol = ntk->grid->npcol, s.P = ntk->size;
  int out = 0;
  if (solver > 0 && ntk_solver_resolve(&s, solver, &out) == SNTK_OK && out == solver) return 1;
  sntk_error_clear();
  return 0;
}
