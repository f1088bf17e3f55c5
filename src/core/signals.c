/* Signal flags and the fault-injection point (see signals.h). */
#include "softntk/signals.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

static volatile sig_atomic_t g_flags = 0;
static volatile sig_atomic_t g_stop_sig = 0;

static void on_signal(int sig) {
  if (sig == SIGUSR1) {
    g_flags |= SNTK_SIG_CHECKPOINT;
  } else {
    g_flags |= SNTK_SIG_STOP;
    g_stop_sig = sig;
  }
}

void sntk_signals_install(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGUSR1, &sa, NULL);
  sigaction(SIGUSR2, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  signal(SIGXFSZ, SIG_IGN);
}

int sntk_signals_take(void) {
  int f = g_flags;
  g_flags = 0;
  return f;
}

const char *sntk_signals_stop_name(void) {
  switch (g_stop_sig) {
  case SIGTERM:
    return "SIGTERM";
  case SIGUSR2:
    return "SIGUSR2";
  default:
    return "";
  }
}

int sntk_fault_armed(const char *point, long long step) {
  const char *spec = getenv("SOFTNTK_FAULT");
  char want[128];
  if (!spec) return 0;
  snprintf(want, sizeof want, "%s@%lld", point, step);
  return strcmp(spec, want) == 0;
}

void sntk_fault_point(const char *point, long long step) {
  const char *spec = getenv("SOFTNTK_FAULT");
  char want[128];
  if (!spec) return;
  size_t n = (size_t)snprintf(want, sizeof want, "%s@%lld", point, step);
  if (strncmp(spec, want, n) != 0) return;
  if (spec[n] == '\0') {
    fprintf(stderr, "softntk: fault injected at %s\n", want);
    fflush(stderr);
    kill(getpid(), SIGKILL);
  } else if (strcmp(spec + n, ":launcher") == 0) {
    static int done = 0; /* once: the ranks live on without their launcher */
    if (done++) return;
    fprintf(stderr, "softntk: fault injected at %s: launcher (pid %ld) killed\n", want,
            (long)getppid());
    fflush(stderr);
    kill(getppid(), SIGKILL);
  }
}

static char g_watch_msg[256];
static volatile sig_atomic_t g_watch_loud = 1;

static void on_alarm(int sig) {
  (void)sig;
  if (g_watch_loud) {
    ssize_t rc = write(STDERR_FILENO, g_watch_msg, strlen(g_watch_msg));
    (void)rc;
  } else {
    sleep(2); /* let the printing rank speak first; the launcher ends the job meanwhile */
  }
  _exit(1);
}

void sntk_watchdog_arm(double seconds, const char *what, int loud) {
  if (seconds <= 0) return;
  g_watch_loud = loud;
  snprintf(g_watch_msg, sizeof g_watch_msg,
           "softntk: error: %s did not finish within %.0f s (stuck file system?); aborting\n", what,
           seconds);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGALRM, &sa, NULL);
  struct itimerval it = {{0, 0},
                         {(time_t)seconds, (suseconds_t)((seconds - (time_t)seconds) * 1e6)}};
  setitimer(ITIMER_REAL, &it, NULL);
}

void sntk_watchdog_disarm(void) {
  struct itimerval it = {{0, 0}, {0, 0}};
  setitimer(ITIMER_REAL, &it, NULL);
}
