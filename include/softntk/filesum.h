/* softntk whole-file checksums: CRC32C (Castagnoli) of a file, computed by one process or in byte
 * ranges by every rank and combined, and the sidecar `<file>.sum` that records it.
 *
 * HDF5's Fletcher32 filter covers the bytes of each dataset chunk and the 1.10 format checksums
 * most metadata, but bytes outside both (free space, padding, the tail of the file, a field HDF5
 * does not checksum) change silently. A checkpoint therefore carries a sidecar written before its
 * atomic rename: `softntk inspect` and every restart recompute the file's CRC32C and compare it
 * with the sidecar, so any changed byte anywhere in the file is reported. The sidecar is plain
 * text:
 *
 *   softntk-filesum 1
 *   file ckpt-40.h5
 *   size 1116384
 *   crc32c 1a2b3c4d
 *
 * CRC32C is computed with the SSE4.2 instruction where the CPU has it, else by tables; both give
 * the same value (the standard check value of "123456789" is e3069283). */
#ifndef SOFTNTK_FILESUM_H
#define SOFTNTK_FILESUM_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

/* Not collective. CRC32C of `len` bytes appended to a message whose CRC32C is `crc` (0 for the
 * empty message): sntk_crc32c(sntk_crc32c(0, a, na), b, nb) is the CRC32C of a followed by b. */
uint32_t sntk_crc32c(uint32_t crc, const void *data, size_t len);

/* Not collective. The CRC32C of A followed by B from crc_a = CRC32C(A), crc_b = CRC32C(B) and the
 * length of B in bytes (no data needed). */
uint32_t sntk_crc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b);

/* Not collective. CRC32C and size of the whole file at `path`. SNTK_ERR_RUNTIME naming the file
 * when it cannot be read. */
int sntk_filesum_compute(const char *path, uint32_t *crc, int64_t *size);

/* Collective. The same, each rank reading an equal share of the file; every rank receives the
 * result. The file must not change while the ranks read it. */
int sntk_filesum_compute_par(MPI_Comm comm, const char *path, uint32_t *crc, int64_t *size);

/* Not collective. A 64-bit hash of one matrix entry (its row-major index in the stored matrix and
 * its bits). The sum of the hashes of all entries (mod 2^64) checks a matrix written in pieces by
 * many ranks, in any order: each rank sums its own entries and the sums are added. */
uint64_t sntk_entry_hash(uint64_t index, double value);

/* Not collective. Path of the sidecar of `path` (path + ".sum"). */
void sntk_filesum_sidecar(const char *path, char *out, size_t len);

/* Not collective. Write the sidecar of the file that will be named `final_name` (its base name is
 * recorded) with the given CRC and size, to `sidecar`, and fsync it. */
int sntk_filesum_write(const char *sidecar, const char *final_name, uint32_t crc, int64_t size);

/* Not collective. Read a sidecar. Returns SNTK_OK with *present = 0 when it does not exist;
 * SNTK_ERR_INPUT naming the sidecar when it exists but is not one. */
int sntk_filesum_read(const char *sidecar, int *present, uint32_t *crc, int64_t *size);

#endif
