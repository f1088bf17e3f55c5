/* softntk signals: requests from the batch system, turned into flags the training loop agrees on
 * collectively at the next step boundary (never acted on by one rank alone).
 *   SIGUSR1          checkpoint at the next step and continue
 *   SIGUSR2, SIGTERM checkpoint at the next step and stop with exit status 3
 * Through mpirun only SIGUSR1/SIGUSR2 arrive in time (mpirun answers SIGTERM by killing the ranks
 * after a grace period), so batch scripts should send SIGUSR2 to stop a run cleanly. Not
 * collective. */
#ifndef SOFTNTK_SIGNALS_H
#define SOFTNTK_SIGNALS_H

enum { SNTK_SIG_CHECKPOINT = 1, SNTK_SIG_STOP = 2 };

/* Install the handlers (SA_RESTART) and ignore SIGXFSZ, so that a write past a file-size limit
 * fails with EFBIG instead of killing the process. */
void sntk_signals_install(void);

/* The requests received since the last call (SNTK_SIG_* bits), and clear them. */
int sntk_signals_take(void);

/* Name of the last stop signal received ("SIGTERM", "SIGUSR2"), or "" if none. */
const char *sntk_signals_stop_name(void);

/* I/O watchdog: if not disarmed within `seconds` (0: no watchdog), end this process with exit
 * status 1 (the launcher then ends the other ranks); with `loud` (rank 0) first print "softntk:
 * error: <what> did not finish within N s". Guards collective I/O that a failing file system can
 * leave hanging. */
void sntk_watchdog_arm(double seconds, const char *what, int loud);
void sntk_watchdog_disarm(void);

/* Testing aid: if the environment variable SOFTNTK_FAULT equals "<point>@<step>" (for example
 * "ckpt-write@30"), kill this process with SIGKILL, as a node crash would;
 * "<point>@<step>:launcher" kills the parent process (mpirun) instead and carries on, as the ranks
 * of a launcher killed with SIGKILL do for a second or so. Called at named points: step,
 * ckpt-write, ckpt-rename, results-flush (between the series of a flush), results-extend (a dataset
 * extended, its rows not yet written); the step of the results points is that of the newest row
 * being written. */
void sntk_fault_point(const char *point, long long step);

/* Testing aid: will sntk_fault_point(point, step) kill this process? (A caller may first leave the
 * file it writes in the state a crash at that moment can leave.) */
int sntk_fault_armed(const char *point, long long step);

#endif
