/* softntk model: the two-layer network F(x) = gamma * sum_r a_r act_r(w_r . x) with hidden neurons
 * sharded across ranks (DESIGN.md sections 1 and 3).
 *
 * Rank p owns neurons [r0, r0 + m_loc): their weights W (m_loc x d, neuron-major) and signs A (k x
 * m_loc). Forward, loss and gradient work on chunks of samples: three GEMMs per chunk (Z = X W^T,
 * the k outputs, the gradient X^T G) plus elementwise work, and one allreduce per chunk (the
 * softmax tuple, or a plain sum of partial outputs for exp and relu). Everything else is local. */
#ifndef SOFTNTK_MODEL_H
#define SOFTNTK_MODEL_H

#include "softntk/config.h"
#include "softntk/data.h"

#include <mpi.h>
#include <stdint.h>

/* Indices of the built-in activations in sntk_act_table (src/model/activation.c). */
enum { SNTK_ACT_SOFTMAX = 0, SNTK_ACT_EXP = 1, SNTK_ACT_RELU = 2 };
enum { SNTK_INIT_RANDOM = 0, SNTK_INIT_COUPLED = 1 };

/* The names of sntk_act_table's entries in order, NULL-terminated (the model.activation choices).
 */
extern const char *const sntk_activation_names[];

/* [model] section. Global. */
typedef struct sntk_model_cfg {
  int activation;              /* SNTK_ACT_* */
  int64_t width;               /* m, hidden neurons (global) */
  double sigma;                /* w_r(0) ~ N(0, sigma^2 I) */
  char output_scale[SNTK_STR]; /* "paper", "ntk" or a positive number */
  int init;                    /* SNTK_INIT_* */
  /* Not keys of [model]: the deck copies them from [parallel] (zero: the rank-local mode). */
  int reproducible; /* 1: sums over neurons in canonical blocks, bitwise independent of P */
  int64_t block;    /* neurons per canonical block; 0: sntk_model_block_size's auto rule */
} sntk_model_cfg_t;

extern const sntk_key_t sntk_model_keys[];

/* Not collective. Cross-key checks of [model] given the rank count (m >= ranks, even m for
 * coupled). */
int sntk_model_cfg_check(const sntk_model_cfg_t *cfg, int nranks);

/* Not collective. The canonical block size of reproducible mode for width m: `block` if positive
 * (at most m), else ceil(m / 64) capped at 1024 (about 64 blocks for widths up to 65536, blocks
 * of 1024 above). A function of m only, never of the rank count. */
int64_t sntk_model_block_size(int64_t m, int64_t block);

/* Not collective. Resolve the output scale gamma (alpha or beta of DESIGN.md section 1) and the NTK
 * normalisation nu (H = nu J J^T / gamma^2) for an activation, scale text and width. */
int sntk_model_scale(int activation, const char *output_scale, int64_t m, double *gamma,
                     double *nu);

enum { SNTK_GEMM_PROBES = 64, SNTK_GEMM_KEY = 7 };

typedef struct sntk_model {
  /* global: identical on every rank */
  MPI_Comm comm;
  int rank, size;
  int act;          /* SNTK_ACT_* */
  int64_t m, d, k;  /* width, input and output dimensions */
  double gamma, nu; /* output scale and NTK normalisation */
  double sigma;     /* initialisation standard deviation */
  int init;         /* SNTK_INIT_* */
  int64_t chunk;    /* samples per chunk (same on every rank) */
  /* local: this rank's neurons [r0, r0 + m_loc), stored in the order perm: storage row r holds
   * neuron r0 + perm[r]. For k = 1 the neurons with a = +1 come first (npos of them), so that the
   * gradient needs no pass over the activations (see backward_chunk); for k > 1 perm is the
   * identity. Convert with sntk_model_rows_to_global / _from_global at the edges (files, tests). */
  int64_t r0, m_loc;
  int64_t *perm; /* m_loc: storage row -> local neuron index */
  int64_t npos;  /* k = 1: neurons with a = +1 (storage rows [0, npos)) */
  double *W;     /* m_loc x d: storage row r is w_{r0 + perm[r]} */
  double *W0;    /* W at initialisation (for the drift max_r ||w_r - w_r(0)||) */
  double *A;     /* k x m_loc: A[l*m_loc + r] = a_{l, r0 + perm[r]} in {-1, +1} */
  /* workspace, chunk-sized */
  double *Z;    /* chunk x m_loc: pre-activations, then activations (softmax: exp(z - M_local)) */
  double *B;    /* chunk x m_loc: E A, then G (k > 1 only; for k = 1, G replaces Z) */
  double *gT;   /* d x m_loc: the gradient block accumulated over chunks, transposed */
  double *Xs;   /* 2 x chunk x d: sample rows scaled by the gradient factors (k = 1) */
  double *T;    /* chunk x (k + 2): reduction tuples / partial outputs */
  double *ft;   /* chunk: softmax factors exp(M_local - M) / s turning Z into S */
  double wmax;  /* max_r ||w_r|| over this rank's neurons, for the softmax row shifts */
  double *rowq; /* chunk: <E_i, F_i> */
  double *E;    /* chunk x k: residuals */
  double *Fc;   /* chunk x k: outputs when the caller does not keep them */
  MPI_Datatype tuple_type;
  MPI_Op tuple_op;
  /* Reproducible mode (cfg->reproducible): the neurons fall into canonical blocks of `block`
   * consecutive global indices (the last may be shorter), the same for every rank count; each rank
   * owns whole blocks, stores each block contiguously (for k = 1 its a = +1 neurons first) and
   * splits it into `units` canonical units (k = 1: the a = +1 and the a = -1 run of the block; else
   * the block). Every GEMM runs on one unit or block (shapes independent of P, so the BLAS cannot
   * choose a different panel split), every sum over neurons is formed per unit in a fixed order
   * (sntk_kern_*_unit), the units' partials are gathered and added in global unit order on every
   * rank, and the softmax shift is a global bound (one MPI_MAX). The sample chunk does not depend
   * on P either. Result: the bits of F, the loss, the gradient and the JVP do not depend on P. */
  int repro;
  int64_t block, nblk, units; /* neurons per block, blocks in all, units per block */
  int64_t u0, nu_loc;         /* this rank's first global unit and its number of units */
  int64_t *ustart, *ulen;     /* nu_loc: storage run [ustart, ustart + ulen) of each local unit */
  int *ucount, *udispl;       /* size: units per rank and the first unit of each rank */
  int *rcount, *rdispl;       /* size: scratch counts for the gathers */
  double *upart;              /* nu_loc x chunk x (k + 2): this rank's unit partials */
  double *ugath;              /* nblk units x chunk x (k + 2): every unit's partials */
  double *umax;               /* chunk: softmax row maxima */
  int64_t *ubad;              /* chunk: softmax rows to recompute */
  double *gscr, *gascr;       /* scratch of the per-unit GEMMs: C and B slices; A */
  int64_t gscr_half;          /* offset of the B slice in gscr */
  /* GEMM keys probed (site, rows, inner, beta != 0, the operands' addresses mod 64) and whether one
   * call over a rank's units gave every bit of the per-unit calls (1) or not (0: that shape runs
   * per unit) */
  int64_t gemm_probe[SNTK_GEMM_PROBES][SNTK_GEMM_KEY + 1];
  int ngemm_probe;
  int gemm_per_unit; /* environment SOFTNTK_GEMM_PER_UNIT set: never the single call (tests) */
} sntk_model_t;

/* An activation: everything of the network and its NTK that depends on it, one file each
 * (src/model/act_<name>.c), registered by one line of src/model/activation.c. The model's chunked
 * passes (src/model/model.c) and the NTK (src/ntk) call these; the elementwise SIMD loops stay in
 * src/model/kernels.c (built with their own flags) and are called from here. */
typedef struct sntk_act_ops {
  const char *name;
  /* Output scale gamma of model.output_scale = paper and = ntk, and the NTK normalisation nu
   * (H = nu J J^T / gamma^2), for width m. */
  double (*gamma_paper)(double m);
  double (*gamma_ntk)(double m);
  double (*nu)(double m);
  /* Collective. After Z = X W^T (c x m_loc) for the chunk X: leave the activations in Z (and any
   * factors in ft, T) and write the outputs F (c x k, global, on every rank). */
  int (*forward)(sntk_model_t *md, const double *X, int64_t c, double *F);
  /* Gradient factors G = dL/dz of the chunk just forwarded, residuals in md->E. grad_prepare
   * (optional) runs first. k = 1: grad_signs, when given, returns the per-sample factors u (a = +1)
   * and v (a = -1) such that G_ir = Z_ir u_i or Z_ir v_i (ge = gamma e_i); otherwise grad_k1 puts G
   * in place of Z. k > 1: grad turns B = E A into G, given Z. */
  void (*grad_prepare)(sntk_model_t *md, int64_t c, const double *F);
  void (*grad_signs)(const sntk_model_t *md, int64_t i, double ge, double *u, double *v);
  void (*grad_k1)(sntk_model_t *md, int64_t c);
  void (*grad)(sntk_model_t *md, int64_t c);
  /* Not collective. After forward, for rows i0.. (c of them) of the chunk and Zp = X dW^T of those
   * rows: out (c x k) = this rank's part of J dW (Zp may be overwritten). */
  void (*jvp)(const sntk_model_t *md, int64_t i0, int64_t c, double *Zp, double *out);
  /* The same in two parts for reproducible mode: jvp_prod turns Zp into the elementwise product P
   * (P_ir = act'(z_ir) Zp_ir, times the softmax factors' unscaled part), then, given the global
   * sums sums[i * (k + 1)] = sum_r P_ir and sums[i * (k + 1) + 1 + l] = sum_r a_{l,r} P_ir,
   * jvp_finish writes the global J dW of those rows. */
  void (*jvp_prod)(const sntk_model_t *md, int64_t i0, int64_t c, double *Zp);
  void (*jvp_finish)(const sntk_model_t *md, int64_t i0, int64_t c, const double *sums,
                     double *out);
  /* Not collective. After forward: the scale-free features u_{i,l,r} for samples i0 <= i < i1 of
   * neuron (storage row) r and output l with sign a, into u[i * k]. */
  void (*feature)(const sntk_model_t *md, int64_t i0, int64_t i1, int64_t r, int64_t l, double a,
                  double *u);
  /* h(x_i, x_j) of the infinite-width kernel H* (DESIGN.md section 2) at initialisation scale sigma
   * for inputs xi, xj of dimension d, given kx = x_i . x_j and the squared norms ni, nj. */
  double (*limit)(double sigma, const double *xi, const double *xj, int64_t d, double kx, double ni,
                  double nj);
  /* What overflows when the loss becomes infinite during training (a hint), or NULL. */
  const char *overflow;
} sntk_act_ops_t;

/* The activations, indexed by model.activation (SNTK_ACT_*), NULL-terminated. */
extern const sntk_act_ops_t *const sntk_act_table[];

/* Collective. Create a model of width cfg->width on comm for inputs of dimension d and k outputs.
 * chunk = 0 picks a chunk size from memory (the same on every rank). Weights are zero until
 * sntk_model_init. SNTK_ERR_INPUT when m < ranks; SNTK_ERR_RUNTIME when memory runs out. */
int sntk_model_create(MPI_Comm comm, const sntk_model_cfg_t *cfg, int64_t d, int64_t k,
                      int64_t chunk, int64_t n, sntk_model_t **out);
void sntk_model_destroy(sntk_model_t **model);

/* Not collective. Draw w_r(0) and a_r from the streams keyed by (seed, neuron index); coupled init
 * uses the pair index r/2 for w and flips the sign of a for odd r. Also records W0. The result is
 * the same for every rank count. */
void sntk_model_init(sntk_model_t *model, uint64_t seed);

/* Collective. Loss L = 1/2 sum_i ||F(x_i) - y_i||^2 (global, on every rank); optionally the outputs
 * F (n x k, global, on every rank) and this rank's gradient block dL/dW (m_loc x d, storage order
 * like W). NULL skips either. */
int sntk_model_eval(sntk_model_t *model, const sntk_dataset_t *ds, double *loss, double *F,
                    double *grad);

/* Collective. The vector-Jacobian product grad = J^T v for the n samples X (n x d) and a vector v
 * (n x k, the same on every rank): this rank's block, m_loc x d in storage order like W. It is the
 * gradient of the loss whose residuals F - Y equal v. */
int sntk_model_vjp(sntk_model_t *model, const double *X, int64_t n, const double *v, double *grad);

/* Collective. The Jacobian-vector product out = J dW for a direction dW of the weights (this rank's
 * block, m_loc x d in storage order like W): the derivative of the outputs F(x_i) along dW, n x k
 * on every rank (one allreduce). */
int sntk_model_jvp(sntk_model_t *model, const double *X, int64_t n, const double *dW, double *out);

/* Collective. lambda_max(J J^T) of the network at its current weights on the training set ds, by
 * matrix-free power iteration (J^T v and J u products, no Gram): from a start vector drawn from the
 * stream (seed, SNTK_RNG_POWER), iterate v <- J J^T v / ||J J^T v|| until ||J J^T v|| changes by at
 * most rtol relative, or max_iter times. *lambda = ||J J^T v|| (a lower bound that rises to
 * lambda_max), *iters the iterations taken. SNTK_ERR_RUNTIME when J J^T v vanishes or overflows. */
int sntk_model_jjt_max(sntk_model_t *model, const sntk_dataset_t *ds, uint64_t seed, int max_iter,
                       double rtol, double *lambda, int *iters);

/* Collective. Forward pass only on c samples X (c x d): outputs F (c x k, on every rank). */
int sntk_model_forward(sntk_model_t *model, const double *X, int64_t c, double *F);

/* Collective. The scale-free features u_{i,l,r} (DESIGN.md section 2) of this rank's neurons for
 * the n samples X (n x d): U[r * ldu + i * k + l] = u_{i,l,r0+r} for r < m_loc, i < n, l < k, i.e.
 * an (n k) x m_loc column-major block with leading dimension ldu >= n k whose row i k + l is output
 * l of sample i. dF_l(x_i)/dw_r = gamma u_{i,l,r} x_i. Runs the forward pass chunk by chunk (one
 * allreduce per chunk: softmax needs the global normaliser). */
int sntk_model_features(sntk_model_t *model, const double *X, int64_t n, double *U, int64_t ldu);

/* Not collective. Rows (m_loc of `width` values) between storage order and the neurons' global
 * order r0, r0 + 1, ...; src and dst must not overlap. */
void sntk_model_rows_to_global(const sntk_model_t *model, const double *src, int64_t width,
                               double *dst);
void sntk_model_rows_from_global(const sntk_model_t *model, const double *src, int64_t width,
                                 double *dst);

/* Collective. The squared norm sum_r ||g_r||^2 of a block g shaped like W, on every rank
 * (reproducible mode: per-unit sums in a fixed order added in unit order, bitwise independent of
 * P; else one allreduce). */
int sntk_model_norm2(const sntk_model_t *model, const double *g, double *out);

/* Not collective. W <- W - eta * grad. */
void sntk_model_update(sntk_model_t *model, const double *grad, double eta);

/* Not collective. max_r ||w_r - w_r(0)|| over this rank's neurons (0 when it owns none). */
double sntk_model_local_drift(const sntk_model_t *model);

/* Not collective. Memory reproducible mode adds on one rank, bytes: the units' partials (gathered
 * ones too), the per-unit GEMM scratch and the largest probe's temporaries (0 in rank-local mode).
 */
int64_t sntk_model_repro_bytes(const sntk_model_t *model);

/* Not collective. The most neurons any rank of the model's communicator owns: ceil(m / P), or in
 * reproducible mode ceil(blocks / P) whole blocks (at most m). */
int64_t sntk_model_max_local(const sntk_model_t *model);

/* Not collective. The chunk size a model of width m with k outputs on P ranks uses for n samples:
 * `chunk` if positive (at most n), else one sized so that the chunk x (m/P) buffers (one for k = 1,
 * two otherwise) take about 64 MiB: large chunks keep the GEMMs efficient, and each row of a chunk
 * (m/P doubles) stays in L2 between the passes over it. A function of global sizes only, so every
 * rank loops over the same chunks. */
int64_t sntk_model_chunk_size(int64_t n, int64_t m, int64_t k, int P, int64_t chunk);

/* Not collective. Memory the model needs on one rank, bytes (parameters plus workspace). */
int64_t sntk_model_bytes(int64_t m_loc, int64_t d, int64_t k, int64_t chunk);

#endif
