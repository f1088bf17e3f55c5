/* libFuzzer targets: the readers of untrusted HDF5 files. The input bytes become a file which the
 * data reader (FUZZ_DATA: datasets X and Y) or the checkpoint/results inspector (FUZZ_INSPECT)
 * opens. Any input must give 0 or a clean error, never a crash. */
#include "softntk/error.h"
#include "softntk/h5util.h"
#include "softntk/inspect.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static char path[64];
  static FILE *devnull;
  if (!path[0]) {
    snprintf(path, sizeof path, "/tmp/softntk-fuzz-%d.h5", (int)getpid());
    sntk_h5_quiet();
    devnull = fopen("/dev/null", "w");
  }
  FILE *f = fopen(path, "wb");
  if (!f) return 0;
  fwrite(data, 1, size, f);
  fclose(f);
#ifdef FUZZ_DATA
  /* as the data module reads a file: the probe isolates crashes of the HDF5 library, then the read
   */
  static const char *const sets[2] = {"X", "Y"};
  int64_t rows, cols;
  double *v = NULL;
  if (sntk_h5_probe(path, sets, 2) == 0) {
    if (sntk_h5_read_matrix(path, "X", &rows, &cols, &v) == 0) free(v);
    v = NULL;
    if (sntk_h5_read_matrix(path, "Y", &rows, &cols, &v) == 0) free(v);
  }
#else
  sntk_inspect_file(path, devnull);
#endif
  unlink(path);
  return 0;
}
