/* Run-time identity of the BLAS library (see blasinfo.h). The library is found through the address
 * of dgemm_, so the answer follows the loader, not the build: a binary linked against libblas.so.3
 * reports OpenBLAS, BLIS or the reference BLAS depending on which file the alternatives or
 * LD_LIBRARY_PATH put behind that name. */
#define _GNU_SOURCE
#include "softntk/blasinfo.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern void dgemm_(void);

static char g_arch_note[160];

const char *sntk_blas_arch_note(void) {
  return g_arch_note;
}

/* BLIS 0.9 (Debian 12) picks its kernels at its first call from the CPUID vendor, family and model:
 * on AMD CPUs newer than Zen 3 it falls back to the generic kernels (13.5 GFLOP/s for a one-thread
 * DGEMM on this project's test machines, against 79 with the skx kernels), although the CPU has
 * every instruction of BLIS's skx kernels (AVX-512 F, CD, DQ, BW, VL with the OS saving the zmm
 * state, which __builtin_cpu_supports checks). So, before BLIS initialises (this constructor runs
 * when libsoftntk is loaded, before main and before any BLAS call), and only when the BLAS serving
 * dgemm_ is BLIS, the user has not set BLIS_ARCH_TYPE and the CPU has those instructions, select
 * skx through BLIS_ARCH_TYPE (its id looked up by name in BLIS's own table, which ends with
 * "generic"). Elsewhere BLIS is left to its own detection (skx kernels on a CPU without AVX-512
 * would crash). OpenBLAS's variables are never touched. */
__attribute__((constructor)) static void blis_select_arch(void) {
  if (getenv("BLIS_ARCH_TYPE")) return;
  if (!(__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl")))
    return;
  Dl_info dl;
  if (!dladdr((void *)(uintptr_t)dgemm_, &dl) || !dl.dli_fname) return;
  void *h = dlopen(dl.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
  if (!h) return;
  typedef const char *(*name_fn)(int);
  name_fn arch_name = (name_fn)(uintptr_t)dlsym(h, "bli_arch_string");
  if (arch_name) {
    for (int id = 0; id < 64; id++) {
      const char *a = arch_name(id);
      if (!a || !strcmp(a, "generic")) break;
      if (!strcmp(a, "skx")) {
        char v[16];
        snprintf(v, sizeof v, "%d", id);
        setenv("BLIS_ARCH_TYPE", v, 0);
        snprintf(g_arch_note, sizeof g_arch_note,
                 "BLIS_ARCH_TYPE=%d (skx) set at start: the CPU has AVX-512 F/CD/DQ/BW/VL", id);
        break;
      }
    }
  }
  dlclose(h);
}

typedef char *(*str_fn)(void);
typedef const char *(*cstr_fn)(void);
typedef int (*int_fn)(void);
typedef int (*arch_fn)(void);
typedef const char *(*arch_str_fn)(int);

/* The first word of OpenBLAS's config string ("OpenBLAS 0.3.21 DYNAMIC_ARCH ...") is its name. */
static void probe_openblas(void *h, sntk_blas_info_t *info) {
  str_fn config = (str_fn)(uintptr_t)dlsym(h, "openblas_get_config");
  if (!config) return;
  str_fn core = (str_fn)(uintptr_t)dlsym(h, "openblas_get_corename");
  int_fn threads = (int_fn)(uintptr_t)dlsym(h, "openblas_get_num_threads");
  snprintf(info->name, sizeof info->name, "OpenBLAS");
  snprintf(info->version, sizeof info->version, "%s", config());
  if (core) snprintf(info->kernel, sizeof info->kernel, "%s", core());
  if (threads) info->threads = threads();
}

static void probe_blis(void *h, sntk_blas_info_t *info) {
  cstr_fn version = (cstr_fn)(uintptr_t)dlsym(h, "bli_info_get_version_str");
  if (!version && !strstr(info->library, "blis")) return;
  snprintf(info->name, sizeof info->name, "BLIS");
  if (version) snprintf(info->version, sizeof info->version, "%s", version());
  /* the architecture query reads the kernel context, which exists only after initialisation */
  void (*init)(void) = (void (*)(void))(uintptr_t)dlsym(h, "bli_init");
  if (init) init();
  arch_fn arch = (arch_fn)(uintptr_t)dlsym(h, "bli_arch_query_id");
  arch_str_fn arch_name = (arch_str_fn)(uintptr_t)dlsym(h, "bli_arch_string");
  if (arch && arch_name) snprintf(info->kernel, sizeof info->kernel, "%s", arch_name(arch()));
  int_fn threads = (int_fn)(uintptr_t)dlsym(h, "bli_thread_get_num_threads");
  if (threads) info->threads = threads();
}

void sntk_blas_probe(sntk_blas_info_t *info) {
  memset(info, 0, sizeof *info);
  info->threads = -1;
  snprintf(info->name, sizeof info->name, "unknown BLAS");
  Dl_info dl;
  if (!dladdr((void *)(uintptr_t)dgemm_, &dl) || !dl.dli_fname) return;
  char real[PATH_MAX];
  snprintf(info->library, sizeof info->library, "%s",
           realpath(dl.dli_fname, real) ? real : dl.dli_fname);
  void *h = dlopen(dl.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
  if (h) {
    probe_openblas(h, info);
    if (!strcmp(info->name, "unknown BLAS")) probe_blis(h, info);
    dlclose(h);
  }
  /* Netlib's reference BLAS has no query functions; Debian installs it under .../blas/. */
  if (!strcmp(info->name, "unknown BLAS") && strstr(info->library, "/blas/libblas.so")) {
    snprintf(info->name, sizeof info->name, "reference BLAS");
    info->threads = 1;
  }
}

const char *sntk_blas_summary(void) {
  static char line[4800];
  if (line[0]) return line;
  sntk_blas_info_t b;
  sntk_blas_probe(&b);
  char threads[32] = "";
  if (b.threads > 0)
    snprintf(threads, sizeof threads, "%s%d thread%s", b.kernel[0] ? ", " : "", b.threads,
             b.threads == 1 ? "" : "s");
  char version[256] = "";
  /* OpenBLAS's config string starts with its name and version: keep just the version word */
  if (!strncmp(b.version, "OpenBLAS ", 9))
    sscanf(b.version + 9, "%255s", version);
  else
    snprintf(version, sizeof version, "%s", b.version);
  snprintf(line, sizeof line, "%s%s%s (%s%s%s) from %s", b.name, version[0] ? " " : "", version,
           b.kernel[0] ? "core " : "", b.kernel, threads, b.library[0] ? b.library : "?");
  return line;
}

double sntk_blas_peak(const sntk_blas_info_t *info, int *flops_per_cycle, double *ghz) {
  static const char *const w32[] = {"skx", "knl", "SkylakeX", "Cooperlake", "SapphireRapids", NULL};
  static const char *const w16[] = {"haswell", "zen",       "zen2",        "zen3",       "Haswell",
                                    "Zen",     "Excavator", "Steamroller", "Piledriver", NULL};
  static const char *const w8[] = {"sandybridge", "Sandybridge", "Bulldozer", NULL};
  int f = 0;
  for (int i = 0; !f && w32[i]; i++)
    if (!strcmp(info->kernel, w32[i])) f = 32;
  for (int i = 0; !f && w16[i]; i++)
    if (!strcmp(info->kernel, w16[i])) f = 16;
  for (int i = 0; !f && w8[i]; i++)
    if (!strcmp(info->kernel, w8[i])) f = 8;
  double mhz = 0.0;
  FILE *fp = fopen("/proc/cpuinfo", "r");
  if (fp) {
    char line[256];
    while (fgets(line, sizeof line, fp))
      if (!strncmp(line, "cpu MHz", 7)) {
        const char *c = strchr(line, ':');
        if (c) mhz = atof(c + 1);
        break;
      }
    fclose(fp);
  }
  *flops_per_cycle = f;
  *ghz = mhz / 1000.0;
  return f * mhz / 1000.0;
}
