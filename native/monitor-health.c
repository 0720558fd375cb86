/*
 * monitor-health.c — who runs a container's healthcheck when there is no daemon: its monitor.
 *
 * Docker's daemon runs the HEALTHCHECK command in the container every `interval`, one probe at a
 * time. minibox's monitor is already there for the container's whole life and sleeps in poll(2);
 * here it gets a timer: poll's timeout is the time until the next probe. When it fires, the
 * monitor forks and execs the probe program (--health-exec …: the engine's health stage,
 * src/lifecycle/health.ts), which runs the command through `minibox exec`, judges the result
 * (Docker's retries, timeout, start period) and writes State.Health. The monitor only keeps time
 * and reaps: the next probe is due one interval after the last one ended, as in Docker.
 * The probe is born in the host's PID namespace (minibox-monitor.c returns there right after the
 * container's fork): nothing of the engine ever runs inside the container's.
 *
 * Try: `minibox run -d --name h --health-cmd 'test -f /ok' --health-interval 1s busybox sh -c
 * 'touch /ok; sleep 1000'`; `minibox ps` → `Up 3 seconds (healthy)` after a second or two.
 */
#define _GNU_SOURCE
#include "monitor-health.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_HEALTH_ARGS 16

static long interval_ms;
static char *probe_argv[MAX_HEALTH_ARGS + 1];
static int probe_argc;
static pid_t probe;
static struct timespec due;

int health_option(const char *name, const char *value) {
  if (strcmp(name, "--health-interval-ms") == 0) interval_ms = atol(value);
  else if (strcmp(name, "--health-exec") == 0 && probe_argc < MAX_HEALTH_ARGS) probe_argv[probe_argc++] = (char *)value;
  else return 0;
  return 1;
}

const char *health_options_problem(void) {
  if ((interval_ms > 0) != (probe_argc > 0)) return "--health-interval-ms and --health-exec go together";
  return NULL;
}

static void schedule(void) {
  clock_gettime(CLOCK_MONOTONIC, &due);
  due.tv_sec += interval_ms / 1000;
  due.tv_nsec += (interval_ms % 1000) * 1000000L;
  if (due.tv_nsec >= 1000000000L) { due.tv_sec++; due.tv_nsec -= 1000000000L; }
}

void health_start(void) {
  if (probe_argc > 0) schedule();
}

int health_poll_timeout(void) {
  if (probe_argc == 0 || probe > 0) return -1;
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  long long left = (long long)(due.tv_sec - now.tv_sec) * 1000 + (due.tv_nsec - now.tv_nsec) / 1000000L;
  return left <= 0 ? 0 : left > 0x7fffffff ? 0x7fffffff : (int)left + 1;
}

void health_tick(void) {
  if (probe_argc == 0 || probe > 0 || health_poll_timeout() > 0) return;
  pid_t child = fork();
  if (child < 0) { schedule(); return; } /* no process to spare: try again an interval later */
  if (child == 0) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    int null_fd = open("/dev/null", O_RDWR);
    if (null_fd >= 0) { dup2(null_fd, 0); dup2(null_fd, 1); dup2(null_fd, 2); }
    execv(probe_argv[0], probe_argv);
    _exit(127);
  }
  probe = child;
}

int health_reaped(pid_t pid) {
  if (pid != probe || probe == 0) return 0;
  probe = 0;
  schedule();
  return 1;
}
