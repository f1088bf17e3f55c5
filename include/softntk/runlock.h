/* softntk run lock: one writer per run directory.
 *
 * Every command that writes a run directory (train, score, ntk, sample, bench) holds
 * `<run dir>/softntk.lock` for its whole life, taken by rank 0 before anything is written. The file
 * names the holder: command, host, pid (and the process start time, so a reused pid is not taken
 * for the holder), the pid of its launcher, start time, config hash, and the host and pid of every
 * rank. Two ways to hold it:
 *  - flock: an exclusive flock(2) on the file, which the kernel drops when the holder dies however
 * it dies; the default on local file systems;
 *  - file: the file itself, created atomically (link(2), which is atomic on NFS too) and refreshed
 * by a heartbeat every 2 s; for file systems whose flock is missing or local to one node (NFS
 * without a lock manager, Lustre without -o flock, CIFS, FUSE), chosen automatically from the
 * file-system type or when flock fails. A second writer is refused at once (SNTK_ERR_INPUT, naming
 * the holder). A holder whose launcher is gone (mpirun killed: its ranks live on for a second or
 * so) and that runs the same command and trajectory (the keys that define the run, as a checkpoint
 * checks them) on this host is a leftover of a killed run: the lock waits up to `wait` seconds for
 * it, and for any other rank of that run still alive on this host, to exit, then proceeds, or
 * refuses with advice. A lock whose holder is gone (a crash left the file behind) is taken over
 * with a message; on another host (file mode) the holder counts as gone when its heartbeat has not
 * moved for max(wait, 20) seconds. */
#ifndef SOFTNTK_RUNLOCK_H
#define SOFTNTK_RUNLOCK_H

#include <mpi.h>

typedef enum { SNTK_LOCK_AUTO, SNTK_LOCK_FLOCK, SNTK_LOCK_FILE } sntk_lock_mode_t;

extern const char *const sntk_lock_mode_names[]; /* "auto", "flock", "file", NULL */

typedef struct sntk_runlock_opts {
  const char *command;     /* the command holding the lock ("train", ...) */
  const char *config_hash; /* the deck's config hash (shown in messages) */
  const char *trajectory;  /* identity of the run (a hash of the trajectory-defining keys) */
  int mode;                /* sntk_lock_mode_t */
  double wait;             /* seconds to wait for leftover processes of a killed run */
} sntk_runlock_opts_t;

typedef struct sntk_runlock sntk_runlock_t;

/* Collective. Take the lock of run directory `dir` (which must exist) on rank 0, or wait for
 * leftovers and take it, or refuse: SNTK_ERR_INPUT with a message naming the holder (command, host,
 * pid, start time, config hash) and what to do. *out is set on every rank (NULL on failure). */
int sntk_runlock_acquire(MPI_Comm comm, const char *dir, const sntk_runlock_opts_t *opts,
                         sntk_runlock_t **out);

/* Not collective. Release the lock (rank 0 removes the file; other ranks only free). Safe on NULL;
 * sets *lock to NULL. */
void sntk_runlock_release(sntk_runlock_t **lock);

/* Not collective. Path of the lock file of run directory `dir`. */
void sntk_runlock_path(const char *dir, char *out, size_t len);

#endif
