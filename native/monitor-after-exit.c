/*
 * monitor-after-exit.c — what minibox-monitor does after it has reaped the container: the
 * container's "die" event, and Docker's restart policy.
 *
 * Events (--events FILE --event-id ID --event-attributes MEMBERS): one Docker events.Message per
 * line, appended with a single write(2) on an O_APPEND fd, so lines from several writers (the
 * engine, other monitors) never interleave. The engine passes the attributes already encoded as
 * JSON members (`"image":"busybox","name":"web"`); src/events/event-log.ts reads the file.
 *
 * Restarts (--restart-policy always|unless-stopped|on-failure --restart-max N --restart-count K
 * --restart-backoff-ms T --restart-exec ARG…): moby's restartmanager in a few lines —
 *   on-failure restarts a non-zero exit while K < N (N = 0: no limit); always and unless-stopped
 *   restart every exit (a `stop` cancels through the engine's record, never through here);
 *   the back-off is 100 ms, then twice the last one, at most 60 s; a run of 10 s or more resets it.
 * To restart, the monitor sleeps the back-off and execs the restart command (the engine's restart
 * stage, src/lifecycle/restart-stage.ts) with the back-off and the init's pid appended. Right
 * after the container's fork the monitor returned to the host's PID namespace: it had unshared
 * CLONE_NEWPID for that child, and a process born into the dead container's namespace cannot
 * even be forked, so the restart stage's children (and health probes) are the host's. Same pid, same
 * start time: `stop` finds and cancels it by the "restarter" handle in exit-status.json.
 *
 * Try: `minibox run -d --restart always --name r busybox sh -c 'sleep 1'`, then
 * `minibox events --filter container=r --since 1m --until 0s` → start, die, start, die …
 */
#define _GNU_SOURCE
#include "monitor-after-exit.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAX_RESTART_ARGS 16
#define BACKOFF_INITIAL_MS 100
#define BACKOFF_MAX_MS 60000
#define BACKOFF_RESET_SECONDS 10

static const char *events_path, *event_id, *event_attributes;
static const char *restart_policy; /* NULL: --restart no */
static int restart_max, restart_count;
static long restart_backoff_ms;    /* the back-off before this run; 0 after a manual start */
static char *restart_exec[MAX_RESTART_ARGS + 3];
static int restart_exec_count;
static int host_pid_namespace = -1;

int after_exit_option(const char *name, const char *value) {
  if (strcmp(name, "--events") == 0) events_path = value;
  else if (strcmp(name, "--event-id") == 0) event_id = value;
  else if (strcmp(name, "--event-attributes") == 0) event_attributes = value;
  else if (strcmp(name, "--restart-policy") == 0) restart_policy = value;
  else if (strcmp(name, "--restart-max") == 0) restart_max = atoi(value);
  else if (strcmp(name, "--restart-count") == 0) restart_count = atoi(value);
  else if (strcmp(name, "--restart-backoff-ms") == 0) restart_backoff_ms = atol(value);
  else if (strcmp(name, "--restart-exec") == 0 && restart_exec_count < MAX_RESTART_ARGS) restart_exec[restart_exec_count++] = (char *)value;
  else return 0;
  return 1;
}

const char *after_exit_options_problem(void) {
  if (restart_policy && restart_exec_count == 0) return "--restart-policy needs --restart-exec";
  if (events_path && (!event_id || !event_attributes)) return "--events needs --event-id and --event-attributes";
  return NULL;
}

void after_exit_remember_pid_namespace(void) {
  host_pid_namespace = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
}

void after_exit_leave_container_pid_namespace(void) {
  if (host_pid_namespace >= 0 && syscall(SYS_setns, host_pid_namespace, CLONE_NEWPID) < 0) {
    close(host_pid_namespace); /* cannot return: fork no more (no restart, no probe in the container) */
    host_pid_namespace = -2;
  }
}

static void append_event(const char *action, const char *own_attribute) {
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  char line[8192];
  int length = snprintf(line, sizeof line,
    "{\"status\":\"%s\",\"id\":\"%s\",\"Type\":\"container\",\"Action\":\"%s\",\"Actor\":{\"ID\":\"%s\","
    "\"Attributes\":{%s%s%s}},\"scope\":\"local\",\"time\":%lld,\"timeNano\":%lld%09ld}\n",
    action, event_id, action, event_id, own_attribute, *own_attribute ? "," : "", event_attributes,
    (long long)now.tv_sec, (long long)now.tv_sec, now.tv_nsec);
  if (length <= 0 || length >= (int)sizeof line) return;
  int fd = open(events_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) return; /* no journal is no reason to lose the exit status */
  ssize_t written = write(fd, line, (size_t)length);
  (void)written;
  close(fd);
}

void after_exit_events(int exit_code, int oom_killed) {
  if (!events_path) return;
  if (oom_killed) append_event("oom", "");
  char exit_text[48];
  snprintf(exit_text, sizeof exit_text, "\"exitCode\":\"%d\"", exit_code);
  append_event("die", exit_text);
}

long after_exit_restart_delay(int exit_code, double ran_seconds) {
  if (!restart_policy) return -1;
  if (strcmp(restart_policy, "on-failure") == 0 && (exit_code == 0 || (restart_max > 0 && restart_count >= restart_max))) return -1;
  long timeout = ran_seconds >= BACKOFF_RESET_SECONDS ? 0 : restart_backoff_ms;
  if (timeout == 0) timeout = BACKOFF_INITIAL_MS;
  else if (timeout < BACKOFF_MAX_MS) timeout *= 2;
  return timeout > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : timeout;
}

void after_exit_restart(long delay_ms, pid_t child) {
  struct timespec wait = {.tv_sec = delay_ms / 1000, .tv_nsec = (delay_ms % 1000) * 1000000L};
  while (nanosleep(&wait, &wait) < 0 && errno == EINTR) { /* sleep the rest */ }
  if (host_pid_namespace == -2) _exit(125); /* still in the container's PID namespace: see above */
  char delay_text[32], child_text[32];
  snprintf(delay_text, sizeof delay_text, "%ld", delay_ms);
  snprintf(child_text, sizeof child_text, "%d", (int)child);
  restart_exec[restart_exec_count] = delay_text;
  restart_exec[restart_exec_count + 1] = child_text;
  restart_exec[restart_exec_count + 2] = NULL;
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  signal(SIGHUP, SIG_DFL);
  signal(SIGINT, SIG_DFL);
  signal(SIGPIPE, SIG_DFL);
  execv(restart_exec[0], restart_exec);
  _exit(125); /* nobody is left to tell: reconcile.ts sees a restarter that died and says so */
}
