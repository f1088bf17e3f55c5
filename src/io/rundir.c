/* Run directory creation and the overwrite guard (see rundir.h). */
#include "softntk/rundir.h"

#include "softntk/error.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int sntk_mkdirs(const char *path) {
  char buf[4096];
  if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
    return sntk_error(SNTK_ERR_INPUT, "path too long: %.100s...", path);
  for (char *p = buf + 1;; p++) {
    if (*p == '/' || *p == '\0') {
      char saved = *p;
      *p = '\0';
      struct stat st;
      if (stat(buf, &st) != 0) {
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
          return sntk_error(SNTK_ERR_RUNTIME, "cannot create directory %s: %s", buf,
                            strerror(errno));
      } else if (!S_ISDIR(st.st_mode)) {
        return sntk_error(SNTK_ERR_RUNTIME, "%s exists and is not a directory", buf);
      }
      *p = saved;
      if (!saved) break;
    }
  }
  return SNTK_OK;
}

static int prepare(const char *dir) {
  SNTK_CALL(sntk_mkdirs(dir));
  if (access(dir, W_OK | X_OK) != 0)
    return sntk_error(SNTK_ERR_RUNTIME, "run directory %s is not writable: %s", dir,
                      strerror(errno));
  return SNTK_OK;
}

int sntk_rundir_prepare(MPI_Comm comm, const char *output_dir, const char *name, char *dir,
                        size_t len) {
  int rank, err = SNTK_OK;
  MPI_Comm_rank(comm, &rank);
  if (!name[0] || strchr(name, '/'))
    return sntk_error(SNTK_ERR_INPUT, "run.name = '%s' must be a non-empty name without '/'", name);
  if (snprintf(dir, len, "%s/%s", output_dir[0] ? output_dir : ".", name) >= (int)len)
    return sntk_error(SNTK_ERR_INPUT, "run directory path too long");
  if (rank == 0) err = prepare(dir);
  return sntk_agree(comm, err);
}
