/* Whole-file CRC32C and its sidecar (see filesum.h).
 *
 * CRC32C uses the Castagnoli polynomial in the reflected convention (0x82f63b78, initial value and
 * final xor 0xffffffff). Bytes are processed eight at a time, by the SSE4.2 crc32 instruction when
 * the CPU has it and by eight 256-entry tables otherwise. Combining: with R(s, M) the register
 * after feeding M from state s, R is linear, R(s, M) = s x^(8|M|) + R(0, M) mod P, and the standard
 * CRC is R(~0, M) xor ~0; substituting gives CRC(A B) = CRC(A) x^(8|B|) mod P xor CRC(B), so
 * combining needs one multiplication by a power of x, found by repeated squaring. */
#include "softntk/filesum.h"

#include "softntk/error.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define POLY 0x82f63b78u /* x^32 + ... reflected */

static uint32_t g_table[8][256];
static int g_ready;

static void make_tables(void) {
  for (uint32_t b = 0; b < 256; b++) {
    uint32_t c = b;
    for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ POLY : c >> 1;
    g_table[0][b] = c;
  }
  for (uint32_t b = 0; b < 256; b++)
    for (int t = 1; t < 8; t++)
      g_table[t][b] = (g_table[t - 1][b] >> 8) ^ g_table[0][g_table[t - 1][b] & 0xff];
  g_ready = 1;
}

/* The register (not inverted) after `len` bytes, by tables. */
static uint32_t crc_tables(uint32_t c, const unsigned char *p, size_t len) {
  if (!g_ready) make_tables();
  while (len && ((uintptr_t)p & 7)) c = (c >> 8) ^ g_table[0][(c ^ *p++) & 0xff], len--;
  for (; len >= 8; len -= 8, p += 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    w ^= c; /* little-endian: the register meets the first four bytes */
    c = g_table[7][w & 0xff] ^ g_table[6][(w >> 8) & 0xff] ^ g_table[5][(w >> 16) & 0xff] ^
        g_table[4][(w >> 24) & 0xff] ^ g_table[3][(w >> 32) & 0xff] ^ g_table[2][(w >> 40) & 0xff] ^
        g_table[1][(w >> 48) & 0xff] ^ g_table[0][w >> 56];
  }
  while (len--) c = (c >> 8) ^ g_table[0][(c ^ *p++) & 0xff];
  return c;
}

#if defined(__x86_64__) && defined(__GNUC__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define HAVE_HW 1
__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t c, const unsigned char *p,
                                                         size_t len) {
  uint64_t c64 = c;
  while (len && ((uintptr_t)p & 7)) c64 = __builtin_ia32_crc32qi((uint32_t)c64, *p++), len--;
  for (; len >= 8; len -= 8, p += 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    c64 = __builtin_ia32_crc32di(c64, w);
  }
  while (len--) c64 = __builtin_ia32_crc32qi((uint32_t)c64, *p++);
  return (uint32_t)c64;
}
#endif

uint32_t sntk_crc32c(uint32_t crc, const void *data, size_t len) {
  uint32_t c = ~crc;
#ifdef HAVE_HW
  static int hw = -1;
  if (hw < 0) hw = __builtin_cpu_supports("sse4.2") && !getenv("SOFTNTK_CRC_SOFTWARE");
  if (hw) return ~crc_hw(c, data, len);
#endif
  return ~crc_tables(c, data, len);
}

/* a * b mod P for polynomials in the reflected representation (bit 31 is x^0). */
static uint32_t mul_mod(uint32_t a, uint32_t b) {
  uint32_t product = 0;
  for (uint32_t bit = 0x80000000u; bit; bit >>= 1) {
    if (a & bit) product ^= b;
    b = b & 1 ? (b >> 1) ^ POLY : b >> 1; /* b *= x */
  }
  return product;
}

uint32_t sntk_crc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b) {
  uint32_t power = 0x80000000u, square = 0x00800000u; /* x^0 and x^8 */
  for (uint64_t n = len_b; n; n >>= 1) {
    if (n & 1) power = mul_mod(power, square);
    square = mul_mod(square, square);
  }
  return mul_mod(crc_a, power) ^ crc_b;
}

/* CRC32C of bytes [off, off + len) of an open file. */
static int crc_range(int fd, const char *path, int64_t off, int64_t len, uint32_t *crc) {
  enum { BUF = 1 << 22 };
  unsigned char *buf = malloc(BUF);
  if (!buf) return sntk_error(SNTK_ERR_RUNTIME, "out of memory checksumming %s", path);
  uint32_t c = 0;
  int err = SNTK_OK;
  while (len > 0) {
    ssize_t got = pread(fd, buf, len < BUF ? (size_t)len : BUF, (off_t)off);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      err = sntk_error(SNTK_ERR_RUNTIME, "cannot read %s for its checksum: %s", path,
                       got < 0 ? strerror(errno) : "file shorter than expected");
      break;
    }
    c = sntk_crc32c(c, buf, (size_t)got);
    off += got;
    len -= got;
  }
  free(buf);
  *crc = c;
  return err;
}

static int open_sized(const char *path, int *fd, int64_t *size) {
  struct stat st;
  *fd = open(path, O_RDONLY | O_CLOEXEC);
  if (*fd < 0) return sntk_error(SNTK_ERR_RUNTIME, "cannot open %s: %s", path, strerror(errno));
  if (fstat(*fd, &st) != 0) {
    int e = errno;
    close(*fd);
    return sntk_error(SNTK_ERR_RUNTIME, "cannot stat %s: %s", path, strerror(e));
  }
  *size = (int64_t)st.st_size;
  return SNTK_OK;
}

int sntk_filesum_compute(const char *path, uint32_t *crc, int64_t *size) {
  int fd;
  SNTK_CALL(open_sized(path, &fd, size));
  int err = crc_range(fd, path, 0, *size, crc);
  close(fd);
  return err;
}

int sntk_filesum_compute_par(MPI_Comm comm, const char *path, uint32_t *crc, int64_t *size) {
  int rank, P, fd = -1, err = SNTK_OK;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &P);
  *size = 0;
  if (rank == 0) err = open_sized(path, &fd, size);
  SNTK_CALL(sntk_agree(comm, err));
  SNTK_CALL(SNTK_MPI(MPI_Bcast(size, 1, MPI_INT64_T, 0, comm)));
  const int64_t off = *size * rank / P, len = *size * (rank + 1) / P - off;
  uint32_t part = 0;
  if (rank != 0 && len > 0) {
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) err = sntk_error(SNTK_ERR_RUNTIME, "cannot open %s: %s", path, strerror(errno));
  }
  if (!err && len > 0) err = crc_range(fd, path, off, len, &part);
  if (fd >= 0) close(fd);
  SNTK_CALL(sntk_agree(comm, err));
  uint32_t *parts = malloc(sizeof(uint32_t) * (size_t)P);
  err = sntk_check_alloc(parts, sizeof(uint32_t) * (size_t)P, "crc parts", __FILE__, __LINE__);
  SNTK_CALL(sntk_agree(comm, err));
  err = SNTK_MPI(MPI_Allgather(&part, 1, MPI_UINT32_T, parts, 1, MPI_UINT32_T, comm));
  uint32_t c = 0;
  for (int p = 0; !err && p < P; p++)
    c = sntk_crc32c_combine(c, parts[p], (uint64_t)(*size * (p + 1) / P - *size * p / P));
  free(parts);
  *crc = c;
  return err;
}

static uint64_t mix64(uint64_t z) { /* a bijective 64-bit finaliser */
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t sntk_entry_hash(uint64_t index, double value) {
  uint64_t bits;
  memcpy(&bits, &value, sizeof bits);
  return mix64(mix64(index + 0x9e3779b97f4a7c15ULL) ^ bits);
}

void sntk_filesum_sidecar(const char *path, char *out, size_t len) {
  snprintf(out, len, "%s.sum", path);
}

int sntk_filesum_write(const char *sidecar, const char *final_name, uint32_t crc, int64_t size) {
  const char *base = strrchr(final_name, '/');
  char text[1024];
  int n = snprintf(text, sizeof text, "softntk-filesum 1\nfile %s\nsize %" PRId64 "\ncrc32c %08x\n",
                   base ? base + 1 : final_name, size, crc);
  int fd = open(sidecar, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return sntk_error(SNTK_ERR_RUNTIME, "cannot create %s: %s", sidecar, strerror(errno));
  int err = SNTK_OK;
  if (write(fd, text, (size_t)n) != n || fsync(fd) != 0)
    err = sntk_error(SNTK_ERR_RUNTIME, "cannot write %s: %s", sidecar, strerror(errno));
  if (close(fd) != 0 && !err)
    err = sntk_error(SNTK_ERR_RUNTIME, "cannot write %s: %s", sidecar, strerror(errno));
  return err;
}

int sntk_filesum_read(const char *sidecar, int *present, uint32_t *crc, int64_t *size) {
  *present = 0;
  FILE *f = fopen(sidecar, "r");
  if (!f) {
    if (errno == ENOENT) return SNTK_OK;
    return sntk_error(SNTK_ERR_INPUT, "cannot read %s: %s", sidecar, strerror(errno));
  }
  char line[512];
  int version = 0, have_size = 0, have_crc = 0;
  while (fgets(line, sizeof line, f)) {
    unsigned v;
    long long s;
    if (sscanf(line, "softntk-filesum %d", &version) == 1) continue;
    if (sscanf(line, "size %lld", &s) == 1) *size = s, have_size = 1;
    if (sscanf(line, "crc32c %x", &v) == 1) *crc = v, have_crc = 1;
  }
  fclose(f);
  if (version != 1 || !have_size || !have_crc)
    return sntk_error(SNTK_ERR_INPUT, "%s is not a softntk checksum file (or is damaged)", sidecar);
  *present = 1;
  return SNTK_OK;
}
