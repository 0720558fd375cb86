/* monitor-health.h — minibox-monitor's healthcheck timer (monitor-health.c). */
#ifndef MONITOR_HEALTH_H
#define MONITOR_HEALTH_H
#include <sys/types.h>

/* Takes `--health-interval-ms MS` and `--health-exec ARG` (repeatable); 1 if `name` was one. */
int health_option(const char *name, const char *value);
/* A message when the options do not fit together, NULL when they do. */
const char *health_options_problem(void);
/* The container runs: the first probe is due one interval from now. */
void health_start(void);
/* poll(2)'s timeout until the next probe is due, or -1 (no healthcheck, or a probe still runs). */
int health_poll_timeout(void);
/* Starts the probe when it is due (poll timed out). */
void health_tick(void);
/* waitpid(2) returned `pid`: 1 if it was the probe (the next one is due an interval later). */
int health_reaped(pid_t pid);

#endif
