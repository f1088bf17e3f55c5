/* ntk.perturb: the perturbation analysis of `softntk ntk` into ntk.h5 /perturb (see ntk.h and
 * softntk/perturb.h). */
#include "ntk_impl.h"

#include "softntk/error.h"
#include "softntk/log.h"
#include "softntk/perturb.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { DIR_WORST, DIR_RANDOM, DIR_SHIFT, DIR_GD, DIR_EIG, DIR_BOUNDARY, NDIR };
static const char *const dir_names = "worst,random,shift,gd,eig,boundary";
static const char *const dir_names_v[NDIR] = {"worst", "random", "shift", "gd", "eig", "boundary"};

typedef struct work {
  sntk_perturb_t *p;
  sntk_model_t *md;
  int64_t n, nn, md_len;
  double *H, *Hr, *Hs, *dH, *tmp, *Wr, *D[NDIR], *start;
} work_t;

/* max_r ||D_r|| over all ranks */
static int max_row(const sntk_model_t *md, const double *D, double *out) {
  double v = 0.0;
  for (int64_t r = 0; r < md->m_loc; r++) {
    const double s = cblas_dnrm2((int)md->d, D + r * md->d, 1);
    v = s > v ? s : v;
  }
  *out = v;
  return SNTK_MPI(MPI_Allreduce(MPI_IN_PLACE, out, 1, MPI_DOUBLE, MPI_MAX, md->comm));
}

/* The displacement of `steps` GD steps at eta from W (restored), scaled to max_r ||D_r|| = 1;
 * R, ||H(T) - H(0)||_F and _2, and the loss ratio L(T) / L(0). */
static int gd_direction(work_t *w, const sntk_dataset_t *tr, double eta, int64_t steps, double *D,
                        double *R, double *dfro, double *dspec, double *ratio) {
  sntk_model_t *md = w->md;
  double *grad = NULL, l0 = NAN, l = NAN;
  int err = SNTK_OK;
  SNTK_TRY(SNTK_ALLOC(grad, w->md_len > 0 ? w->md_len : 1));
  memcpy(w->Wr, md->W, (size_t)w->md_len * sizeof *w->Wr);
  for (int64_t t = 0; t < steps; t++) {
    SNTK_TRY(sntk_model_eval(md, tr, &l, NULL, grad));
    if (t == 0) l0 = l;
    sntk_model_update(md, grad, eta);
  }
  SNTK_TRY(sntk_model_eval(md, tr, &l, NULL, NULL));
  *ratio = l / l0;
  SNTK_TRY(sntk_perturb_gram(w->p, md->W, w->Hr));
  for (int64_t j = 0; j < w->nn; j++) w->tmp[j] = w->Hr[j] - w->H[j];
  SNTK_TRY(sntk_perturb_norms(w->p, w->tmp, dfro, dspec));
  for (int64_t j = 0; j < w->md_len; j++) D[j] = md->W[j] - w->Wr[j];
  SNTK_TRY(max_row(md, D, R));
  if (!(*R > 0.0) || !isfinite(*R))
    SNTK_TRY(sntk_error(SNTK_ERR_RUNTIME, "perturbation: %lld GD steps at eta = %g moved W by %g",
                        (long long)steps, eta, *R));
  for (int64_t j = 0; j < w->md_len; j++) D[j] /= *R;
done:
  memcpy(md->W, w->Wr, (size_t)w->md_len * sizeof *w->Wr);
  free(grad);
  return err;
}

/* Unit rows of dH*[q q^T] for the top eigenvector q of H. */
static int eig_direction(work_t *w, double *D) {
  const int64_t n = w->n;
  double *ev = NULL;
  int err = SNTK_OK;
  SNTK_TRY(SNTK_ALLOC(ev, n));
  memcpy(w->tmp, w->H, (size_t)w->nn * sizeof *w->tmp);
  lapack_int info =
      LAPACKE_dsyev(LAPACK_ROW_MAJOR, 'V', 'L', (lapack_int)n, w->tmp, (lapack_int)n, ev);
  if (info) SNTK_TRY(sntk_error(SNTK_ERR_RUNTIME, "perturbation: dsyev failed (%d)", (int)info));
  for (int64_t i = 0; i < n; i++)
    for (int64_t j = 0; j < n; j++)
      w->dH[i * n + j] = w->tmp[i * n + n - 1] * w->tmp[j * n + n - 1];
  SNTK_TRY(sntk_perturb_adjoint(w->p, w->md->W, w->dH, D));
  sntk_perturb_unit_rows(w->p, D, w->start); /* relu: dH* = 0, the random rows stand */
done:
  free(ev);
  return err;
}

int sntk_ntk_perturb(const sntk_ntk_cfg_t *cfg, sntk_model_t *md, const sntk_dataset_t *tr,
                     double eta, uint64_t seed, sntk_results_t *res) {
  double R[SNTK_PERTURB_MAX_RADII];
  int nR = 0, err = SNTK_OK;
  work_t w = {0};
  double *first = NULL, *ffro = NULL, *fspec = NULL, *lin = NULL, *shift_err = NULL, *relu_b = NULL;
  double *hist = NULL, *hist2 = NULL, v[4096];
  const int iters = (int)cfg->perturb_iters;
  SNTK_CALL(sntk_perturb_parse_radii(cfg->perturb_radii, SNTK_PERTURB_MAX_RADII, R, &nR));
  if (md->d > (int64_t)(sizeof v / sizeof *v))
    return sntk_error(SNTK_ERR_INPUT, "ntk.perturb: d = %lld exceeds %zu", (long long)md->d,
                      sizeof v / sizeof *v);
  const int64_t n = tr->n, nn = n * n;
  w.md = md, w.n = n, w.nn = nn, w.md_len = md->m_loc * md->d;
  const int64_t ml = w.md_len > 0 ? w.md_len : 1;
  SNTK_TRY(sntk_perturb_create(md, tr->X, n, &w.p));
  SNTK_TRY(SNTK_ALLOC(w.H, nn));
  SNTK_TRY(SNTK_ALLOC(w.Hr, nn));
  SNTK_TRY(SNTK_ALLOC(w.Hs, nn));
  SNTK_TRY(SNTK_ALLOC(w.dH, nn));
  SNTK_TRY(SNTK_ALLOC(w.tmp, nn));
  SNTK_TRY(SNTK_ALLOC(w.Wr, ml));
  SNTK_TRY(SNTK_ALLOC(w.start, ml));
  for (int q = 0; q < NDIR; q++) SNTK_TRY(SNTK_ALLOC(w.D[q], ml));
  SNTK_TRY(SNTK_ALLOC(first, 2 * NDIR));
  SNTK_TRY(SNTK_ALLOC(ffro, NDIR * nR));
  SNTK_TRY(SNTK_ALLOC(fspec, NDIR * nR));
  SNTK_TRY(SNTK_ALLOC(lin, NDIR * nR));
  SNTK_TRY(SNTK_ALLOC(shift_err, nR));
  SNTK_TRY(SNTK_ALLOC(relu_b, nR));
  SNTK_TRY(SNTK_ALLOC(hist, iters + 1));
  SNTK_TRY(SNTK_ALLOC(hist2, iters + 1));
  double *W = md->W;
  double hfro, hspec, bound, gd_R = NAN, gd_fro = NAN, gd_spec = NAN, gd_ratio = NAN;
  SNTK_TRY(sntk_perturb_gram(w.p, W, w.H));
  SNTK_TRY(sntk_perturb_norms(w.p, w.H, &hfro, &hspec));
  SNTK_TRY(sntk_perturb_bound(w.p, W, nR, R, &bound, relu_b));
  /* fixed directions */
  sntk_perturb_random(w.p, seed, w.start);
  memcpy(w.D[DIR_RANDOM], w.start, (size_t)ml * sizeof *w.start);
  sntk_perturb_shift(w.p, seed, v, w.D[DIR_SHIFT]);
  SNTK_TRY(gd_direction(&w, tr, eta, cfg->perturb_gd_steps, w.D[DIR_GD], &gd_R, &gd_fro, &gd_spec,
                        &gd_ratio));
  SNTK_TRY(eig_direction(&w, w.D[DIR_EIG]));
  SNTK_TRY(sntk_perturb_boundary(w.p, W, w.D[DIR_BOUNDARY]));
  /* the worst direction from the random and the eigenvector starts; the larger is kept */
  double wv1, wv2;
  int t1, t2;
  memcpy(w.D[DIR_WORST], w.start, (size_t)ml * sizeof *w.start);
  SNTK_TRY(sntk_perturb_worst(w.p, W, w.D[DIR_WORST], iters, 1e-4, hist, &wv1, &t1));
  memcpy(w.Wr, w.D[DIR_EIG], (size_t)ml * sizeof *w.Wr);
  SNTK_TRY(sntk_perturb_worst(w.p, W, w.Wr, iters, 1e-4, hist2, &wv2, &t2));
  if (wv2 > wv1) memcpy(w.D[DIR_WORST], w.Wr, (size_t)ml * sizeof *w.Wr);
  for (int j = t1 + 1; j <= iters; j++) hist[j] = NAN;
  for (int j = t2 + 1; j <= iters; j++) hist2[j] = NAN;
  /* first order and finite radii */
  for (int q = 0; q < NDIR; q++) {
    double *D = w.D[q];
    SNTK_TRY(sntk_perturb_dgram(w.p, W, D, w.dH));
    SNTK_TRY(sntk_perturb_norms(w.p, w.dH, &first[2 * q], &first[2 * q + 1]));
    for (int j = 0; j < nR; j++) {
      for (int64_t c = 0; c < w.md_len; c++) w.Wr[c] = W[c] + R[j] * D[c];
      SNTK_TRY(sntk_perturb_gram(w.p, w.Wr, w.Hr));
      for (int64_t c = 0; c < nn; c++) w.tmp[c] = w.Hr[c] - w.H[c];
      SNTK_TRY(sntk_perturb_norms(w.p, w.tmp, &ffro[q * nR + j], &fspec[q * nR + j]));
      double s = 0.0;
      for (int64_t c = 0; c < nn; c++) {
        const double e = w.tmp[c] - R[j] * w.dH[c];
        s += e * e;
      }
      lin[q * nR + j] = sqrt(s);
      if (q != DIR_SHIFT) continue;
      s = 0.0; /* the shift's prediction */
      for (int64_t a = 0; a < n; a++)
        for (int64_t b = 0; b < n; b++) {
          double pred = w.H[a * n + b];
          if (md->act == SNTK_ACT_EXP) {
            const double va = cblas_ddot((int)md->d, v, 1, tr->X + a * md->d, 1),
                         vb = cblas_ddot((int)md->d, v, 1, tr->X + b * md->d, 1);
            pred *= exp(R[j] * (va + vb));
          }
          const double e = w.Hr[a * n + b] - pred;
          s += e * e;
        }
      shift_err[j] = md->act == SNTK_ACT_RELU ? NAN : sqrt(s);
      if (j == nR - 1) memcpy(w.Hs, w.Hr, (size_t)nn * sizeof *w.Hs);
    }
  }
  /* logits bound B = max |w_r . x_i| and max ||w_r|| */
  double B = 0.0, wmax = 0.0;
  for (int64_t r = 0; r < md->m_loc; r++) {
    const double *wr = W + r * md->d;
    const double s = cblas_dnrm2((int)md->d, wr, 1);
    wmax = s > wmax ? s : wmax;
    for (int64_t i = 0; i < n; i++) {
      const double z = fabs(cblas_ddot((int)md->d, wr, 1, tr->X + i * md->d, 1));
      B = z > B ? z : B;
    }
  }
  SNTK_TRY(SNTK_MPI(MPI_Allreduce(MPI_IN_PLACE, &B, 1, MPI_DOUBLE, MPI_MAX, md->comm)));
  SNTK_TRY(SNTK_MPI(MPI_Allreduce(MPI_IN_PLACE, &wmax, 1, MPI_DOUBLE, MPI_MAX, md->comm)));
  double xmax = 0.0;
  for (int64_t i = 0; i < n; i++) {
    const double s = cblas_dnrm2((int)md->d, tr->X + i * md->d, 1);
    xmax = s > xmax ? s : xmax;
  }
  /* write */
  const char *g = "/perturb";
  SNTK_TRY(sntk_results_matrix(res, "/perturb/radii", nR, 0, R, NULL, NULL));
  SNTK_TRY(sntk_results_matrix(res, "/perturb/first_order", NDIR, 2, first, NULL, NULL));
  SNTK_TRY(sntk_results_matrix(res, "/perturb/finite_fro", NDIR, nR, ffro, NULL, NULL));
  SNTK_TRY(sntk_results_matrix(res, "/perturb/finite_spec", NDIR, nR, fspec, NULL, NULL));
  SNTK_TRY(sntk_results_matrix(res, "/perturb/linearisation_error", NDIR, nR, lin, NULL, NULL));
  SNTK_TRY(
      sntk_results_matrix(res, "/perturb/shift_prediction_error", nR, 0, shift_err, NULL, NULL));
  SNTK_TRY(sntk_results_matrix(res, "/perturb/relu_bound", nR, 0, relu_b, NULL, NULL));
  SNTK_TRY(sntk_results_matrix(res, "/perturb/power_random", iters + 1, 0, hist, NULL, NULL));
  SNTK_TRY(sntk_results_matrix(res, "/perturb/power_eig", iters + 1, 0, hist2, NULL, NULL));
  SNTK_TRY(sntk_results_matrix(res, "/perturb/shift_vector", md->d, 0, v, NULL, NULL));
  SNTK_TRY(sntk_results_matrix(res, "/perturb/H", n, n, w.H, NULL, NULL));
  SNTK_TRY(sntk_results_matrix(res, "/perturb/H_shift", n, n, w.Hs, NULL, NULL));
  SNTK_TRY(sntk_results_attr_at_str(res, g, "directions", dir_names));
  SNTK_TRY(sntk_results_attr_at_str(
      res, g, "note",
      "worst is a stationary point of the power iteration on Delta -> dH[Delta] with per-neuron "
      "normalisation: a lower bound on sup ||dH[Delta]||_F over ||Delta_r|| <= 1, not the sup"));
  SNTK_TRY(sntk_results_attr_at_f64(res, g, "H_fro", hfro));
  SNTK_TRY(sntk_results_attr_at_f64(res, g, "H_spec", hspec));
  SNTK_TRY(sntk_results_attr_at_f64(res, g, "bound_first_order", bound));
  SNTK_TRY(sntk_results_attr_at_str(
      res, g, "bound_rule",
      "softmax 24 xmax ||m |K_X| o S S^T||_F (times e^{4 R xmax} at radius R), exp 2 xmax ||(1/m) "
      "|K_X| o E E^T||_F (times e^{2 R xmax}), relu: /perturb/relu_bound (experiments/"
      "perturbation/BOUND.md)"));
  SNTK_TRY(sntk_results_attr_at_f64(res, g, "xmax", xmax));
  SNTK_TRY(sntk_results_attr_at_f64(res, g, "B_logits", B));
  SNTK_TRY(sntk_results_attr_at_f64(res, g, "w_max", wmax));
  SNTK_TRY(sntk_results_attr_at_f64(res, g, "power_iters", (double)iters));
  SNTK_TRY(sntk_results_attr_at_f64(res, g, "power_value_random", wv1));
  SNTK_TRY(sntk_results_attr_at_f64(res, g, "power_value_eig", wv2));
  SNTK_TRY(sntk_results_attr_at_f64(res, g, "power_steps_random", (double)t1));
  SNTK_TRY(sntk_results_attr_at_f64(res, g, "power_steps_eig", (double)t2));
  SNTK_TRY(sntk_results_attr_at_f64(res, g, "gd_steps", (double)cfg->perturb_gd_steps));
  SNTK_TRY(sntk_results_attr_at_f64(res, g, "gd_eta", eta));
  SNTK_TRY(sntk_results_attr_at_f64(res, g, "gd_R", gd_R));
  SNTK_TRY(sntk_results_attr_at_f64(res, g, "gd_dH_fro", gd_fro));
  SNTK_TRY(sntk_results_attr_at_f64(res, g, "gd_dH_spec", gd_spec));
  SNTK_TRY(sntk_results_attr_at_f64(res, g, "gd_loss_ratio", gd_ratio));
  sntk_log("perturb: ||H||_F %.6e; first order ||dH||_F: worst %.6e (lower bound), random %.6e, "
           "shift %.3e, gd %.6e, eig %.6e, boundary %.6e; bound %.6e",
           hfro, first[0], first[2], first[4], first[6], first[8], first[10], bound);
  sntk_log("perturb: GD %lld steps at eta %g: R %.6e, ||H(T) - H(0)||_F %.6e, L(T)/L(0) %.4f",
           (long long)cfg->perturb_gd_steps, eta, gd_R, gd_fro, gd_ratio);
  for (int q = 0; q < NDIR; q++)
    sntk_log("perturb: %-8s ||dH||_F/R at R = %g: %.6e, at R = %g: %.6e", dir_names_v[q], R[0],
             ffro[q * nR] / R[0], R[nR - 1], ffro[q * nR + nR - 1] / R[nR - 1]);
done:
  sntk_perturb_destroy(&w.p);
  free(w.H), free(w.Hr), free(w.Hs), free(w.dH), free(w.tmp), free(w.Wr), free(w.start);
  for (int q = 0; q < NDIR; q++) free(w.D[q]);
  free(first), free(ffro), free(fspec), free(lin), free(shift_err), free(relu_b), free(hist),
      free(hist2);
  return err;
}
