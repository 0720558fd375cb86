/* monitor-after-exit.h — what minibox-monitor does once the container has exited: events and
 * restarts (monitor-after-exit.c). */
#ifndef MONITOR_AFTER_EXIT_H
#define MONITOR_AFTER_EXIT_H
#include <sys/types.h>

/* Takes `--events`, `--event-id`, `--event-attributes`, `--restart-*` options; 1 if `name` was one. */
int after_exit_option(const char *name, const char *value);
/* A message when the options do not fit together, NULL when they do. */
const char *after_exit_options_problem(void);
/* Before unshare(CLONE_NEWPID): keep a handle on the host's PID namespace to return to. */
void after_exit_remember_pid_namespace(void);
/* After forking the container's init: later children (probes, the restart stage's) are the host's. */
void after_exit_leave_container_pid_namespace(void);
/* Appends the "oom" (when oom_killed) and "die" events. */
void after_exit_events(int exit_code, int oom_killed);
/* The back-off before a restart in ms, or -1 when this exit does not restart the container. */
long after_exit_restart_delay(int exit_code, double ran_seconds);
/* Sleeps the back-off, then execs the restart command; returns only by exiting. */
void after_exit_restart(long delay_ms, pid_t child);

#endif
