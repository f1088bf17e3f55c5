/* softntk BLAS identity: which BLAS library actually serves the process's BLAS calls, read at run
 * time from the loaded library (the build option only chooses what is linked; Debian's
 * alternatives or the loader path may swap the library behind libblas.so.3 at run time). Every
 * results file, `softntk --version` and `softntk bench` record it. Not collective. */
#ifndef SOFTNTK_BLASINFO_H
#define SOFTNTK_BLASINFO_H

typedef struct sntk_blas_info {
  char name[32];      /* "OpenBLAS", "BLIS", "reference BLAS" or "unknown BLAS" */
  char version[256];  /* the library's own version or configuration string ("" if it has none) */
  char kernel[64];    /* kernel family in use: OpenBLAS core name, BLIS architecture ("" unknown) */
  char library[4096]; /* file that defines dgemm_ (symbolic links resolved) */
  int threads;        /* threads per process the library uses (-1: unknown) */
} sntk_blas_info_t;

/* Not collective. Probe the loaded BLAS: the library defining dgemm_, then its own query functions
 * (openblas_get_config and openblas_get_corename for OpenBLAS, bli_info_get_version_str and
 * bli_arch_query_id for BLIS), looked up in that library only. Never fails: what cannot be found
 * is left empty. */
void sntk_blas_probe(sntk_blas_info_t *info);

/* Not collective. One line for logs and file attributes, e.g. "OpenBLAS 0.3.21 (core Haswell, 1
 * thread) from /usr/lib/.../libopenblas.so.0". Probed once per process; the buffer is static. */
const char *sntk_blas_summary(void);

/* Not collective. Double-precision flops per cycle per core of the kernel family in info->kernel
 * (32: AVX-512 with two FMA units, BLIS skx/knl, OpenBLAS SkylakeX/Cooperlake/SapphireRapids; 16:
 * AVX2 FMA, Haswell and the Zen families; 8: AVX without FMA; 0: unknown), the clock /proc/cpuinfo
 * reports in GHz (0 unknown; virtual machines report the nominal clock, boosting cores run above
 * it) and their product, the per-core peak the kernels imply (0 unknown). */
double sntk_blas_peak(const sntk_blas_info_t *info, int *flops_per_cycle, double *ghz);

/* What the library constructor did about BLIS's kernel family before BLIS initialised: "" when
 * nothing (not BLIS, or BLIS_ARCH_TYPE set by the user, or no AVX-512), else a sentence. */
const char *sntk_blas_arch_note(void);

#endif
