/* Whole-file CRC32C (filesum.h): the standard check value, agreement with a bit-by-bit reference on
 * every length and alignment up to 300 bytes and on random 1 MiB buffers (whichever of the SSE4.2
 * and table paths the library takes; the test also runs with SOFTNTK_CRC_SOFTWARE=1), combination
 * of pieces, the checksum of a file computed in shares by every rank, and the sidecar. CRCs are
 * exact: every comparison is equality. */
#include "harness.h"
#include "softntk/filesum.h"

#include <unistd.h>

/* The definition: one bit at a time, reflected polynomial 0x82f63b78, inverted in and out. */
static uint32_t crc_ref(const unsigned char *p, size_t n) {
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
  }
  return ~c;
}

static uint64_t g_state = 88172645463325252ULL;
static unsigned char next_byte(void) {
  g_state ^= g_state << 13, g_state ^= g_state >> 7, g_state ^= g_state << 17;
  return (unsigned char)(g_state >> 24);
}

int main(int argc, char **argv) {
  if (argc > 1 && !strcmp(argv[1], "--tables")) setenv("SOFTNTK_CRC_SOFTWARE", "1", 1);
  th_init(&argc, &argv);
  const char *check = "123456789";
  uint32_t c = sntk_crc32c(0, check, 9);
  TH_OK(c == 0xe3069283u, "CRC32C(\"123456789\") = %08x (the standard check value e3069283)%s", c,
        getenv("SOFTNTK_CRC_SOFTWARE") ? ", table path" : "");
  TH_OK(sntk_crc32c(0, "", 0) == 0, "CRC32C of the empty message is 0");

  enum { N = 1 << 20 };
  unsigned char *buf = malloc(N + 16);
  for (int i = 0; i < N + 16; i++) buf[i] = next_byte();
  int same = 1;
  for (int off = 0; off < 8; off++)
    for (size_t n = 0; n <= 300; n++) same &= sntk_crc32c(0, buf + off, n) == crc_ref(buf + off, n);
  TH_OK(same, "equal to the bit-by-bit definition for lengths 0..300 at offsets 0..7");
  TH_OK(sntk_crc32c(0, buf + 3, N) == crc_ref(buf + 3, N), "equal on 1 MiB of random bytes");

  int joined = 1, pieces = 1;
  for (int trial = 0; trial < 200; trial++) {
    size_t a = (size_t)(next_byte() * 97 + next_byte()) % N, b = (size_t)next_byte() * 1031 % (N - a);
    uint32_t ca = sntk_crc32c(0, buf, a), cb = sntk_crc32c(0, buf + a, b);
    joined &= sntk_crc32c_combine(ca, cb, b) == sntk_crc32c(0, buf, a + b);
    pieces &= sntk_crc32c(ca, buf + a, b) == sntk_crc32c(0, buf, a + b);
  }
  TH_OK(joined, "combine(CRC(A), CRC(B), |B|) = CRC(AB) for 200 random splits (and |B| = 0)");
  TH_OK(pieces, "feeding a message in two calls gives the CRC of the whole");

  /* a file checksummed by every rank in shares equals one process reading it all */
  char path[64] = "filesum.bin", sum[80];
  int err = SNTK_OK;
  if (th_rank == 0) {
    FILE *f = fopen(path, "wb");
    err = !f || fwrite(buf, 1, N - 7, f) != N - 7;
    if (f) fclose(f);
  }
  MPI_Bcast(&err, 1, MPI_INT, 0, MPI_COMM_WORLD);
  uint32_t par = 0, ser = 0;
  int64_t psize = 0, ssize = 0;
  err |= sntk_filesum_compute_par(MPI_COMM_WORLD, path, &par, &psize);
  err |= sntk_filesum_compute(path, &ser, &ssize);
  TH_OK(!err && par == ser && psize == ssize && ser == crc_ref(buf, N - 7),
        "%d rank(s) checksumming shares of a %lld-byte file agree with one reading it all (%08x)",
        th_size, (long long)psize, par);

  MPI_Barrier(MPI_COMM_WORLD); /* every rank has read the file */
  if (th_rank == 0) {
    int present = 0;
    uint32_t got = 0;
    int64_t size = 0;
    sntk_filesum_sidecar(path, sum, sizeof sum);
    err = sntk_filesum_write(sum, "dir/filesum.bin", ser, ssize);
    err |= sntk_filesum_read(sum, &present, &got, &size);
    TH_OK(!err && present && got == ser && size == ssize, "sidecar %s written and read back", sum);
    FILE *f = fopen(sum, "w");
    fputs("softntk-filesum 1\nsize 12\n", f);
    fclose(f);
    TH_OK(sntk_filesum_read(sum, &present, &got, &size) == SNTK_ERR_INPUT,
          "a sidecar without its crc32c line is refused: %s", sntk_error_message());
    unlink(sum);
    TH_OK(sntk_filesum_read(sum, &present, &got, &size) == SNTK_OK && !present,
          "a missing sidecar is reported as absent");
    unlink(path);
  }
  free(buf);
  return th_finish();
}
