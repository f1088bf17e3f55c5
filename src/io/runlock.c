/* The run-directory lock (see runlock.h): rank 0 takes `<run dir>/softntk.lock` by flock(2) or, where
 * flock cannot be trusted, as an atomically created file with a heartbeat; the holder's identity in
 * the file lets a newcomer tell a live writer (refuse), a leftover of a killed run (wait) and a
 * crashed one (take over) apart. Other ranks only send rank 0 their host and pid and wait. */
#include "softntk/runlock.h"

#include "softntk/error.h"
#include "softntk/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

const char *const sntk_lock_mode_names[] = {"auto", "flock", "file", NULL};

#define HOST_LEN  256
#define RANK_REC  320
#define BEAT_SECS 2.0 /* heartbeat period of file mode */
#define BEAT_OFF  20  /* offset of the heartbeat counter: after "softntk-lock 1\nbeat " */
#define STALE_MIN 20.0 /* a file-mode lock of another host is stale after this long without a beat */

struct sntk_runlock {
  int rank0;
  int mode;       /* SNTK_LOCK_FLOCK or SNTK_LOCK_FILE once held */
  int fd;         /* flock mode: the descriptor holding the lock */
  char path[4300];
  char host[HOST_LEN];
  long pid;
  pthread_t beat;
  int beating;
  atomic_int stop;
};

/* What a lock file says about its holder. */
typedef struct holder {
  int complete; /* the file ended with its "end" line */
  char command[64], host[HOST_LEN], started[64], hash[40], trajectory[40], mode[16];
  long pid, ppid;
  unsigned long long pid_start, ppid_start;
  long long beat;
  char *ranks; /* "host:pid:start ..." (allocated) */
} holder_t;

/* ALIVE: refuse; LEFTOVER: wait for it; GONE: take over; WATCH: look again (another host);
 * UNSURE: a flock is held but the text names no live process yet (being written). */
typedef enum { ALIVE, LEFTOVER, GONE, WATCH, UNSURE } verdict_t;

void sntk_runlock_path(const char *dir, char *out, size_t len) {
  snprintf(out, len, "%s/softntk.lock", dir);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void nap(double seconds) {
  struct timespec ts = {(time_t)seconds, (long)((seconds - (time_t)seconds) * 1e9)};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* ---- processes on this host ----------------------------------------------------------------- */

/* State, parent and start time (clock ticks after boot) of a process from /proc; 0 when known. */
static int proc_stat(long pid, char *state, long *ppid, unsigned long long *start) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%ld/stat", pid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  const char *p = strrchr(buf, ')'); /* the command name may hold spaces and parentheses */
  if (!p) return -1;
  char st;
  long pp;
  unsigned long long s;
  /* fields 3 (state), 4 (ppid), then 5..21 skipped, 22 (starttime) */
  if (sscanf(p + 1, " %c %ld %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
             &st, &pp, &s) != 3)
    return -1;
  if (state) *state = st;
  if (ppid) *ppid = pp;
  if (start) *start = s;
  return 0;
}

static unsigned long long start_of(long pid) {
  unsigned long long s = 0;
  return proc_stat(pid, NULL, NULL, &s) == 0 ? s : 0;
}

/* Is process pid (started at `start` ticks when start > 0) alive on this host? Zombies are dead. */
static int alive(long pid, unsigned long long start) {
  char st;
  unsigned long long s;
  if (pid <= 0) return 0;
  if (proc_stat(pid, &st, NULL, &s) == 0) return st != 'Z' && st != 'X' && (!start || s == start);
  return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

/* Has the launcher (parent) the holder recorded gone away? */
static int launcher_gone(const holder_t *h) {
  long ppid;
  if (proc_stat(h->pid, NULL, &ppid, NULL) == 0 && ppid != h->ppid) return 1; /* reparented */
  return !alive(h->ppid, h->ppid_start);
}

/* ---- the lock file's text ------------------------------------------------------------------- */

static void iso_now(char *out, size_t len) {
  time_t t = time(NULL);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The text rank 0 writes; ranks is the gathered "host:pid:start" records. */
static char *lock_text(const sntk_runlock_t *lk, const sntk_runlock_opts_t *o, const char *mode,
                       const char *ranks, int P) {
  size_t cap = 2048 + (size_t)P * RANK_REC;
  char *t = malloc(cap), started[64];
  if (!t) return NULL;
  iso_now(started, sizeof started);
  long ppid = (long)getppid();
  size_t n = (size_t)snprintf(t, cap,
                              "softntk-lock 1\nbeat %020lld\ncommand %s\nhost %s\npid %ld\n"
                              "pid_start %llu\nppid %ld\nppid_start %llu\nstarted %s\n"
                              "config_hash %s\ntrajectory %s\nmode %s\nranks",
                              0LL, o->command, lk->host, lk->pid, start_of(lk->pid), ppid,
                              start_of(ppid), started, o->config_hash, o->trajectory, mode);
  for (int p = 0; p < P && n < cap; p++)
    n += (size_t)snprintf(t + n, cap - n, " %s", ranks + (size_t)p * RANK_REC);
  if (n < cap) snprintf(t + n, cap - n, "\nend\n");
  return t;
}

static void holder_free(holder_t *h) {
  free(h->ranks);
  memset(h, 0, sizeof *h);
}

/* Parse a lock file's text into h (h->complete = 0 when it is partial or foreign). */
static void parse_holder(const char *text, holder_t *h) {
  holder_free(h);
  for (const char *line = text; line && *line;) {
    const char *end = strchr(line, '\n');
    size_t len = end ? (size_t)(end - line) : strlen(line);
    char buf[256];
    snprintf(buf, sizeof buf, "%.*s", (int)(len < sizeof buf ? len : sizeof buf - 1), line);
    if (strncmp(line, "ranks", 5) == 0 && !h->ranks) {
      h->ranks = malloc(len + 1);
      if (h->ranks) snprintf(h->ranks, len + 1, "%.*s", (int)len, line + (len > 5 ? 6 : 5));
    }
    sscanf(buf, "beat %lld", &h->beat);
    sscanf(buf, "command %63s", h->command);
    sscanf(buf, "host %255s", h->host);
    sscanf(buf, "pid %ld", &h->pid);
    sscanf(buf, "pid_start %llu", &h->pid_start);
    sscanf(buf, "ppid %ld", &h->ppid);
    sscanf(buf, "ppid_start %llu", &h->ppid_start);
    sscanf(buf, "started %63s", h->started);
    sscanf(buf, "config_hash %39s", h->hash);
    sscanf(buf, "trajectory %39s", h->trajectory);
    sscanf(buf, "mode %15s", h->mode);
    if (strcmp(buf, "end") == 0) h->complete = h->pid > 0 && h->host[0];
    line = end ? end + 1 : NULL;
  }
}

/* Read the lock file at path into h; 0 when read (complete or not), -1 when absent. */
static int read_holder(const char *path, holder_t *h) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  struct stat st;
  char *text = NULL;
  if (fstat(fd, &st) == 0 && st.st_size < (1 << 24)) text = calloc((size_t)st.st_size + 1, 1);
  ssize_t got = text ? pread(fd, text, (size_t)st.st_size, 0) : -1;
  close(fd);
  if (got >= 0) text[got] = '\0';
  parse_holder(got >= 0 ? text : "", h);
  free(text);
  return 0;
}

static void describe(const holder_t *h, char *out, size_t len) {
  if (h->complete)
    snprintf(out, len, "softntk %s (pid %ld on host %s, started %s, config hash %s)", h->command,
             h->pid, h->host, h->started, h->hash);
  else
    snprintf(out, len, "a process that has not (yet) written its name into the lock file");
}

/* The holder's other ranks still alive on this host: count, and the first pid in *first. */
static int leftover_ranks(const holder_t *h, const char *host, long self, long *first) {
  int n = 0;
  if (!h->ranks) return 0;
  char *copy = strdup(h->ranks), *save = NULL;
  for (char *tok = copy ? strtok_r(copy, " ", &save) : NULL; tok; tok = strtok_r(NULL, " ", &save)) {
    char rhost[HOST_LEN];
    long pid;
    unsigned long long start;
    char *c2 = strrchr(tok, ':');
    if (!c2) continue;
    *c2 = '\0';
    char *c1 = strrchr(tok, ':');
    if (!c1) continue;
    *c1 = '\0';
    snprintf(rhost, sizeof rhost, "%s", tok);
    pid = strtol(c1 + 1, NULL, 10);
    start = strtoull(c2 + 1, NULL, 10);
    if (strcmp(rhost, host) == 0 && pid != self && alive(pid, start)) {
      if (!n) *first = pid;
      n++;
    }
  }
  free(copy);
  return n;
}

/* ---- judging a holder ----------------------------------------------------------------------- */

typedef struct watch {
  int seen;
  long long beat;
  double since;
} watch_t;

static verdict_t judge(const sntk_runlock_t *lk, const sntk_runlock_opts_t *o, const holder_t *h,
                       int flock_held, watch_t *w, double stale) {
  if (!h->complete) return flock_held ? UNSURE : WATCH;
  if (strcmp(h->host, lk->host) == 0) {
    if (!alive(h->pid, h->pid_start)) return flock_held ? UNSURE : GONE;
    if (launcher_gone(h) && strcmp(h->command, o->command) == 0 &&
        strcmp(h->trajectory, o->trajectory) == 0)
      return LEFTOVER;
    return ALIVE;
  }
  if (flock_held || strcmp(h->mode, "flock") == 0) return ALIVE;
  /* another host, file mode: alive while its heartbeat moves */
  double t = now_s();
  if (!w->seen || w->beat != h->beat) {
    if (w->seen) return ALIVE;
    w->seen = 1, w->beat = h->beat, w->since = t;
  }
  return t - w->since >= stale ? GONE : WATCH;
}

static int refuse(const char *dir, const holder_t *h) {
  char who[1024];
  describe(h, who, sizeof who);
  return sntk_error(SNTK_ERR_INPUT,
                    "run directory %s is in use by %s: two writers would corrupt its results and "
                    "checkpoints. Wait for that run to end (or stop it: SIGUSR2 to its launcher), "
                    "or choose another run.name",
                    dir, who);
}

/* ---- flock mode ----------------------------------------------------------------------------- */

typedef enum { GOT, BUSY, NO_FLOCK } attempt_t;

/* One non-blocking attempt; on GOT, lk->fd holds the lock on the file now at lk->path. */
static attempt_t try_flock(sntk_runlock_t *lk, int *err) {
  for (;;) {
    int fd = open(lk->path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
      *err = sntk_error(SNTK_ERR_RUNTIME, "cannot create the lock file %s: %s", lk->path,
                        strerror(errno));
      return BUSY;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      int e = errno;
      close(fd);
      if (e == EWOULDBLOCK || e == EINTR) return BUSY;
      return NO_FLOCK; /* ENOLCK, EOPNOTSUPP, ENOSYS, EINVAL: flock is not available here */
    }
    struct stat a, b; /* the holder before us may have unlinked the file we opened */
    if (fstat(fd, &a) == 0 && stat(lk->path, &b) == 0 && a.st_ino == b.st_ino &&
        a.st_dev == b.st_dev) {
      lk->fd = fd;
      return GOT;
    }
    close(fd);
  }
}

static int write_fd(int fd, const char *text, const char *path) {
  size_t n = strlen(text);
  if (ftruncate(fd, 0) != 0 || pwrite(fd, text, n, 0) != (ssize_t)n || fsync(fd) != 0)
    return sntk_error(SNTK_ERR_RUNTIME, "cannot write the lock file %s: %s", path,
                      strerror(errno));
  return SNTK_OK;
}

/* ---- file mode ------------------------------------------------------------------------------ */

/* One attempt to create the lock file holding `text` atomically. GOT, BUSY, or an error. */
static attempt_t try_create(sntk_runlock_t *lk, const char *text, int *err) {
  char tmp[4700];
  snprintf(tmp, sizeof tmp, "%s.%s.%ld.tmp", lk->path, lk->host, lk->pid);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    *err = sntk_error(SNTK_ERR_RUNTIME, "cannot create %s: %s", tmp, strerror(errno));
    return BUSY;
  }
  *err = write_fd(fd, text, tmp);
  close(fd);
  attempt_t r = BUSY;
  if (!*err && link(tmp, lk->path) == 0) {
    r = GOT;
  } else if (!*err && errno != EEXIST) { /* no hard links here: O_EXCL, atomic on NFSv3+ */
    fd = open(lk->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd >= 0) {
      *err = write_fd(fd, text, lk->path);
      close(fd);
      r = GOT;
    } else if (errno != EEXIST) {
      *err = sntk_error(SNTK_ERR_RUNTIME, "cannot create the lock file %s: %s", lk->path,
                        strerror(errno));
    }
  }
  unlink(tmp);
  return r;
}

/* Remove a lock file judged stale, unless it changed meanwhile (then the caller looks again). */
static void remove_stale(const sntk_runlock_t *lk, const holder_t *h) {
  char aside[4700];
  holder_t now = {0};
  snprintf(aside, sizeof aside, "%s.stale.%s.%ld", lk->path, lk->host, lk->pid);
  if (rename(lk->path, aside) != 0) return;
  read_holder(aside, &now);
  int same = now.pid == h->pid && now.beat == h->beat && strcmp(now.host, h->host) == 0 &&
             now.pid_start == h->pid_start;
  if (!same && link(aside, lk->path) != 0) { /* a fresh lock moved by mistake: put it back */
  }
  unlink(aside);
  holder_free(&now);
}

static void *heartbeat(void *arg) {
  sntk_runlock_t *lk = arg;
  long long beat = 0;
  while (!atomic_load(&lk->stop)) {
    for (int i = 0; i < (int)(BEAT_SECS * 10) && !atomic_load(&lk->stop); i++) nap(0.1);
    if (atomic_load(&lk->stop)) break;
    holder_t h = {0};
    int ours = read_holder(lk->path, &h) == 0 && h.pid == lk->pid && !strcmp(h.host, lk->host);
    holder_free(&h);
    int fd = ours ? open(lk->path, O_WRONLY | O_CLOEXEC) : -1;
    if (fd >= 0) {
      char num[24];
      snprintf(num, sizeof num, "%020lld", ++beat);
      if (pwrite(fd, num, 20, BEAT_OFF) != 20 || close(fd) != 0) continue;
    }
  }
  return NULL;
}

/* ---- acquiring ------------------------------------------------------------------------------ */

/* Network file systems whose flock may be missing or local to one node. */
static int flock_untrusted(const char *dir) {
  static const long types[] = {0x6969 /* NFS */,     0x0BD00BD0 /* Lustre */,
                               0xFF534D42 /* CIFS */, 0xFE534D42 /* SMB2 */,
                               0x517B /* SMB */,      0x19830326 /* BeeGFS */,
                               0x65735546 /* FUSE */, 0x01021997 /* 9P */,
                               0x5346414F /* AFS */};
  struct statfs fs;
  if (statfs(dir, &fs) != 0) return 0;
  for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
    if ((long)(unsigned)fs.f_type == types[i]) return 1;
  return 0;
}

/* Rank 0, holding the lock: wait for the previous holder's ranks still alive on this host. */
static int wait_old_ranks(const sntk_runlock_t *lk, const char *dir, const holder_t *old,
                          double wait) {
  long first = 0;
  double t0 = now_s();
  int n = leftover_ranks(old, lk->host, lk->pid, &first);
  if (!n) return SNTK_OK;
  sntk_log("waiting up to %.0f s for %d process(es) of the killed run that held %s to exit (pid "
           "%ld on %s)",
           wait, n, dir, first, lk->host);
  while ((n = leftover_ranks(old, lk->host, lk->pid, &first)) && now_s() - t0 < wait) nap(0.1);
  if (n)
    return sntk_error(SNTK_ERR_INPUT,
                      "%d process(es) of the killed run that held %s (softntk %s, started %s) are "
                      "still alive after %.0f s (pid %ld on %s): kill them (kill -9 %ld) and run "
                      "again",
                      n, dir, old->command, old->started, wait, first, lk->host, first);
  sntk_log("they exited after %.1f s", now_s() - t0);
  return SNTK_OK;
}

static void holder_copy(holder_t *dst, const holder_t *src) {
  holder_free(dst);
  *dst = *src;
  dst->ranks = src->ranks ? strdup(src->ranks) : NULL;
}

/* Rank 0: the acquisition loop. *prev receives the last holder seen before us (if any). */
static int acquire(sntk_runlock_t *lk, const char *dir, const sntk_runlock_opts_t *o,
                   const char *ranks, int P, holder_t *prev) {
  const double t0 = now_s(), stale = o->wait > STALE_MIN ? o->wait : STALE_MIN;
  int mode = o->mode == SNTK_LOCK_AUTO ? (flock_untrusted(dir) ? SNTK_LOCK_FILE : SNTK_LOCK_FLOCK)
                                       : o->mode;
  int err = SNTK_OK, announced = 0;
  long waited_for = 0;
  holder_t h = {0}, nobody = {0};
  watch_t w = {0};
  char *text = NULL;
  for (;;) {
    free(text);
    text = lock_text(lk, o, sntk_lock_mode_names[mode], ranks, P);
    if (!text) return sntk_error(SNTK_ERR_RUNTIME, "out of memory writing the lock file");
    attempt_t a = mode == SNTK_LOCK_FLOCK ? try_flock(lk, &err) : try_create(lk, text, &err);
    if (err) break;
    if (a == NO_FLOCK) {
      sntk_log("flock is not available for %s: using an exclusive lock file instead", lk->path);
      mode = SNTK_LOCK_FILE;
      continue;
    }
    const int got = a == GOT;
    if (read_holder(lk->path, &h) != 0) continue; /* released meanwhile */
    if (got && mode == SNTK_LOCK_FILE) break;     /* h is our own text */
    if (h.complete) holder_copy(prev, &h);
    verdict_t v = judge(lk, o, &h, mode == SNTK_LOCK_FLOCK && !got, &w, stale);
    if (got) { /* flock: h is what the previous holder left, unless it holds a file-mode lock */
      if (h.complete && strcmp(h.mode, "file") == 0 && v != GONE) {
        close(lk->fd), lk->fd = -1;
        err = refuse(dir, &h);
        break;
      }
      if (h.complete && h.pid == waited_for)
        sntk_log("pid %ld exited after %.1f s", h.pid, now_s() - t0);
      else if (h.complete)
        sntk_warn("took over the lock of %s from softntk %s (pid %ld on %s, started %s): that "
                  "process is gone",
                  dir, h.command, h.pid, h.host, h.started);
      err = write_fd(lk->fd, text, lk->path);
      break;
    }
    if (v == UNSURE && now_s() - t0 < 2.0) { /* the new holder is still writing its name */
      nap(0.05);
      continue;
    }
    if (v == ALIVE || v == UNSURE) {
      err = refuse(dir, v == UNSURE ? &nobody : &h);
      break;
    }
    if (v == LEFTOVER) {
      if (now_s() - t0 >= o->wait) {
        err = sntk_error(SNTK_ERR_INPUT,
                         "run directory %s is still held after %.0f s by softntk %s (pid %ld on "
                         "%s, started %s) of this deck, a leftover of a killed run whose launcher "
                         "is gone: kill it (kill -9 %ld on %s) and run again",
                         dir, o->wait, h.command, h.pid, h.host, h.started, h.pid, h.host);
        break;
      }
      if (waited_for != h.pid)
        sntk_log("waiting up to %.0f s for pid %ld on %s, a leftover of a killed softntk %s of "
                 "this deck (its launcher is gone), to exit",
                 o->wait, h.pid, h.host, h.command);
      waited_for = h.pid;
      nap(0.1);
      continue;
    }
    if (v == GONE) { /* file mode: a lock file left behind */
      sntk_warn("took over the lock of %s from softntk %s (pid %ld on %s, started %s): that "
                "process is gone",
                dir, h.command, h.pid, h.host, h.started);
      remove_stale(lk, &h);
      w.seen = 0;
      continue;
    }
    if (!announced++)
      sntk_log("the lock of %s belongs to %s on host %s: waiting up to %.0f s for a sign of life",
               dir, h.complete ? h.command : "an unnamed process", h.host, stale);
    nap(0.5); /* WATCH */
  }
  lk->mode = mode;
  if (!err && mode == SNTK_LOCK_FILE) {
    atomic_store(&lk->stop, 0);
    lk->beating = pthread_create(&lk->beat, NULL, heartbeat, lk) == 0;
  }
  free(text);
  holder_free(&h);
  if (err && lk->fd >= 0) close(lk->fd), lk->fd = -1;
  return err;
}

/* All ranks: wait for rank 0 without spinning (the processes we may wait for need the CPU), then
 * agree. */
static int agree_sleepy(MPI_Comm comm, int err) {
  MPI_Request req;
  int done = 0;
  if (MPI_Ibarrier(comm, &req) == MPI_SUCCESS)
    while (MPI_Test(&req, &done, MPI_STATUS_IGNORE) == MPI_SUCCESS && !done) nap(0.01);
  return sntk_agree(comm, err);
}

static void release_rank0(sntk_runlock_t *lk) {
  if (lk->beating) {
    atomic_store(&lk->stop, 1);
    pthread_join(lk->beat, NULL);
    lk->beating = 0;
  }
  holder_t h = {0};
  if (read_holder(lk->path, &h) == 0 && h.pid == lk->pid && strcmp(h.host, lk->host) == 0)
    unlink(lk->path); /* while still holding it: a waiter that opened it retries */
  holder_free(&h);
  if (lk->fd >= 0) close(lk->fd);
  lk->fd = -1;
}

int sntk_runlock_acquire(MPI_Comm comm, const char *dir, const sntk_runlock_opts_t *opts,
                         sntk_runlock_t **out) {
  int rank, P, err = SNTK_OK;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &P);
  *out = NULL;
  sntk_runlock_t *lk = calloc(1, sizeof *lk);
  char *ranks = rank == 0 ? calloc((size_t)P, RANK_REC) : NULL, mine[RANK_REC];
  if (!lk || (rank == 0 && !ranks)) err = sntk_error(SNTK_ERR_RUNTIME, "out of memory");
  SNTK_CALL(sntk_agree(comm, err));
  lk->rank0 = rank == 0;
  lk->fd = -1;
  lk->pid = (long)getpid();
  if (gethostname(lk->host, sizeof lk->host) != 0) snprintf(lk->host, sizeof lk->host, "unknown");
  lk->host[sizeof lk->host - 1] = '\0';
  for (char *c = lk->host; *c; c++)
    if (*c == ' ' || *c == ':') *c = '_';
  snprintf(mine, sizeof mine, "%.250s:%ld:%llu", lk->host, lk->pid, start_of(lk->pid));
  err = SNTK_MPI(MPI_Gather(mine, RANK_REC, MPI_CHAR, ranks, RANK_REC, MPI_CHAR, 0, comm));
  if (!err && rank == 0) {
    holder_t prev = {0};
    sntk_runlock_path(dir, lk->path, sizeof lk->path);
    err = acquire(lk, dir, opts, ranks, P, &prev);
    if (!err) err = wait_old_ranks(lk, dir, &prev, opts->wait);
    if (err && (lk->fd >= 0 || lk->beating)) release_rank0(lk);
    holder_free(&prev);
  }
  free(ranks);
  err = agree_sleepy(comm, err);
  if (err) {
    free(lk);
    return err;
  }
  *out = lk;
  return SNTK_OK;
}

void sntk_runlock_release(sntk_runlock_t **lock) {
  if (!*lock) return;
  if ((*lock)->rank0) release_rank0(*lock);
  free(*lock);
  *lock = NULL;
}
