/*
 * minibox-exec.c — the exec stage: a new process joins a running container, then becomes the
 * program `minibox exec` asked for. Read src/runtime/exec-in-container.ts first (the engine's
 * half); this is the half that runs between the engine's spawn and the program's execve(2).
 *
 * Entering a container is a handful of system calls, in this order (runc's setns_init_linux.go):
 *    1. prctl(PR_SET_DUMPABLE, 0)  the container already sees us (CVE-2019-5736 class, below)
 *    2. read the plan (fd 3)      the engine decided everything: namespaces, user, capabilities,
 *                                 the compiled seccomp program, env, cwd, argv
 *    3. open /proc/PID/ns/NAME     while the host's /proc is still what "/proc" means
 *    4. PR_CAPBSET_DROP            shrink the bounding set while we still have CAP_SETPCAP
 *    5. setns(2) each namespace    ipc, uts, net, cgroup, then mnt: it changes what paths mean
 *    6. check `/`, chdir(cwd)      (126 if the directory is missing, like Docker)
 *    7. the pty (-t)               setsid, TIOCSCTTY, dup2 onto 0–2
 *    8. find the program in $PATH  (127 not found, 126 not executable, like Docker)
 *    9. session keyring, fds, signals, then user/groups, capset, ambient, no_new_privs, seccomp
 *   10. execve(2)                  fd 4 is close-on-exec: the engine's read ends — "it runs"
 * Every failure is one JSON line on fd 4 ({"type":"error",…}: exec-channel.c) and
 * the exit code Docker uses; with `--trace` every call is a JSON event there too, so `exec
 * --explain` narrates this program exactly as it narrated the Node stage it replaced.
 *
 * Why C and not Node (as the init stage is)? Speed, and a kernel rule. A `minibox exec` used to
 * start Node twice: the CLI, then this stage — ~50 ms of Node booting on a quiet machine, most of
 * exec's time once the CLI runs (docs/benchmarks.md). This program starts in ~1 ms. And Node is
 * multithreaded: the kernel refuses setns(CLONE_NEWNS) to a thread that shares its root and cwd
 * (struct fs_struct) with others, so the Node stage first had to unshare(CLONE_FS) and take care
 * that its helper threads stayed in the host's namespaces. A single-threaded C program simply
 * joins. Nothing here *decides* anything: the engine (TypeScript) resolved the user, computed the
 * capability masks and compiled the seccomp filter (runtime/process/syscall-filter.ts); this
 * program only performs the plan, which is why it can stay this short.
 *
 * The CVE-2019-5736 class: this is a host binary, running as root with every capability, inside
 * the container's PID namespace. It is started by minibox-launch (read its header): from a
 * read-only, detached mount of this binary, so /proc/PID/exe can never be opened for writing; its
 * first call makes it non-dumpable (no PTRACE_ATTACH, no open of /proc/PID/exe); and until then
 * it holds capabilities the container lacks. The program it execs is dumpable again, as it should.
 *
 * Try: `minibox run -d --name web busybox sleep 60 >/dev/null && minibox exec --explain web true`
 * → a story from `setns(CLONE_NEWIPC)` to `execve /bin/true`, told from this program's events.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <linux/filter.h>
#include <linux/keyctl.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "exec-channel.h"

#define FROM_ENGINE 3
#define MAX_ITEMS 4096
#define MAX_GROUPS 256
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* The plan: `KEY=VALUE\0` records (src/runtime/exec-plan.ts, encodeExecPlan, lists the keys).
 * Repeated keys (ns, drop, group, ambient, arg, env) keep their order. */
struct plan {
  int pid, nnp, pty, has_caps, chroot;
  unsigned long long root_dev, root_ino;
  unsigned uid, gid;
  const char *cwd, *keyring, *seccomp_hex, *seccomp_summary;
  unsigned seccomp_flags;
  const char *caps[3]; /* effective, permitted, inheritable: "MASK NAMES" */
  const char *ns[8], *drop[64], *ambient[64], *group[MAX_GROUPS], *arg[MAX_ITEMS + 1], *env[MAX_ITEMS + 1];
  int n_ns, n_drop, n_ambient, n_group, n_arg, n_env;
};

static struct plan plan;

/* ---- step 2: the plan ----------------------------------------------------------------- */

static char *read_all(int fd) {
  size_t size = 65536, used = 0;
  char *buffer = malloc(size);
  for (;;) {
    if (buffer == NULL) fail(125, "the exec plan does not fit in memory");
    ssize_t count = read(fd, buffer + used, size - used - 1);
    if (count < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (count < 0) fail(125, "reading the exec plan: %s", strerror(errno));
    if (count == 0) break;
    used += (size_t)count;
    if (used + 1 == size) buffer = realloc(buffer, size *= 2);
  }
  buffer[used] = '\0'; /* an empty record after the last one: where read_plan stops */
  if (used == 0) fail(125, "the engine went away before sending the exec plan");
  return buffer;
}

static void add(const char **list, int *count, int max, const char *value) {
  if (*count >= max) fail(125, "the exec plan has too many entries");
  list[(*count)++] = value;
}

static void read_plan(void) {
  char *text = read_all(FROM_ENGINE);
  for (char *record = text, *next; *record; record = next) {
    next = record + strlen(record) + 1; /* before the '=' below becomes a NUL */
    char *value = strchr(record, '=');
    if (value == NULL) fail(125, "the exec plan has a record without '=': %.40s", record);
    *value++ = '\0';
    if (!strcmp(record, "trace")) exec_tracing = 1;
    else if (!strcmp(record, "pid")) plan.pid = atoi(value);
    else if (!strcmp(record, "root")) sscanf(value, "%llu:%llu", &plan.root_dev, &plan.root_ino);
    else if (!strcmp(record, "ns")) add(plan.ns, &plan.n_ns, 8, value);
    else if (!strcmp(record, "chroot")) plan.chroot = 1;
    else if (!strcmp(record, "drop")) add(plan.drop, &plan.n_drop, 64, value);
    else if (!strcmp(record, "effective")) plan.caps[0] = value, plan.has_caps = 1;
    else if (!strcmp(record, "permitted")) plan.caps[1] = value;
    else if (!strcmp(record, "inheritable")) plan.caps[2] = value;
    else if (!strcmp(record, "ambient")) add(plan.ambient, &plan.n_ambient, 64, value);
    else if (!strcmp(record, "user")) sscanf(value, "%u:%u", &plan.uid, &plan.gid);
    else if (!strcmp(record, "group")) add(plan.group, &plan.n_group, MAX_GROUPS, value);
    else if (!strcmp(record, "nnp")) plan.nnp = 1;
    else if (!strcmp(record, "seccomp")) plan.seccomp_hex = value;
    else if (!strcmp(record, "seccomp.flags")) plan.seccomp_flags = (unsigned)strtoul(value, NULL, 10);
    else if (!strcmp(record, "seccomp.summary")) plan.seccomp_summary = value;
    else if (!strcmp(record, "keyring")) plan.keyring = value;
    else if (!strcmp(record, "cwd")) plan.cwd = value;
    else if (!strcmp(record, "pty")) plan.pty = atoi(value) + 1; /* 0 = no pty */
    else if (!strcmp(record, "arg")) add(plan.arg, &plan.n_arg, MAX_ITEMS, value);
    else if (!strcmp(record, "env")) add(plan.env, &plan.n_env, MAX_ITEMS, value);
    else fail(125, "the exec plan has an unknown record %.40s", record);
  }
  if (plan.pid <= 0 || plan.n_arg == 0 || plan.cwd == NULL) fail(125, "the exec plan is incomplete");
}

/* ---- steps 3–6: namespaces, `/`, the working directory --------------------------------- */

static int clone_flag(const char *file, const char **name) {
  static const struct { const char *file, *name; int flag; } table[] = {
    {"ipc", "CLONE_NEWIPC", CLONE_NEWIPC}, {"uts", "CLONE_NEWUTS", CLONE_NEWUTS},
    {"net", "CLONE_NEWNET", CLONE_NEWNET}, {"cgroup", "CLONE_NEWCGROUP", CLONE_NEWCGROUP},
    {"mnt", "CLONE_NEWNS", CLONE_NEWNS},
  };
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
    if (!strcmp(table[i].file, file)) return *name = table[i].name, table[i].flag;
  }
  fail(125, "the exec plan names an unknown namespace %s", file);
}

static void enter_namespaces(void) {
  int fds[8];
  char paths[8][64];
  /* 3. Handles first: once in the container's mount namespace, /proc/<host pid> is gone. A
   *    chroot'ed container (minibox-runc --no-pivot, or no mount namespace) is entered through
   *    its init's root, held now from the host's /proc (the container's may not show us). */
  char init_root[64];
  snprintf(init_root, sizeof init_root, "/proc/%d/root", plan.pid);
  int root_fd = plan.chroot ? open(init_root, O_PATH | O_DIRECTORY | O_CLOEXEC) : -1;
  if (plan.chroot && root_fd < 0) fail(125, "open %s: %s (%s)", init_root, strerrorname_np(errno), strerror(errno));
  for (int i = 0; i < plan.n_ns; i++) {
    snprintf(paths[i], sizeof paths[i], "/proc/%d/ns/%s", plan.pid, plan.ns[i]);
    fds[i] = open(paths[i], O_RDONLY | O_CLOEXEC);
    if (fds[i] < 0) fail(125, "open %s: %s (%s)", paths[i], strerrorname_np(errno), strerror(errno));
  }
  /* 4. The ceiling, while we still hold CAP_SETPCAP. Each record is "NUMBER NAME". */
  for (int i = 0; i < plan.n_drop; i++) {
    int cap = atoi(plan.drop[i]);
    const char *name = strchr(plan.drop[i], ' ') ? strchr(plan.drop[i], ' ') + 1 : plan.drop[i];
    CALL("prctl", "PR_CAPBSET_DROP", prctl(PR_CAPBSET_DROP, cap, 0, 0, 0),
         "\"option\":\"PR_CAPBSET_DROP\",\"capability\":\"%s\"", name);
  }
  /* 5. Join; the engine lists the mount namespace last. One thread: no unshare(CLONE_FS). */
  for (int i = 0; i < plan.n_ns; i++) {
    const char *flag_name;
    int flag = clone_flag(plan.ns[i], &flag_name);
    CALL("setns", paths[i], setns(fds[i], flag), "\"fd\":%d,\"nstype\":\"%s\",\"what\":\"%s\"", fds[i], flag_name, paths[i]);
    close(fds[i]);
  }
  if (plan.chroot) {
    CALL("fchdir", init_root, fchdir(root_fd), "\"fd\":%d", root_fd);
    CALL("chroot", ".", chroot("."), "\"path\":\".\"");
    close(root_fd);
  }
  /* 6. Same root as the container's PID 1? (It could differ if PID 1 chroot'ed itself.) */
  struct stat root;
  if (stat("/", &root) < 0 || root.st_dev != plan.root_dev || root.st_ino != plan.root_ino) {
    fail(125, "the container's root directory is not the root of its mount namespace: cannot enter it");
  }
  if (chdir(plan.cwd) < 0) {
    fail(126, "chdir to cwd (\"%s\") set for exec failed: %s", plan.cwd,
         errno == ENOENT ? "no such file or directory" : strerror(errno));
  }
  char quoted[1100];
  json_string(quoted, sizeof quoted, plan.cwd);
  char args[1200];
  snprintf(args, sizeof args, "\"path\":%s", quoted);
  event("step", "chdir", args, 0, 0, 0);
}

/* ---- step 7: the terminal ------------------------------------------------------------- */

/* /dev/pts/N of the container's own devpts (the engine opened its master side) becomes our
 * controlling terminal and fds 0–2. openat2 keeps the lookup inside `/` and refuses magic links,
 * as src/resolve-in-root.ts does for every path the container can change. */
static void attach_terminal(void) {
  char path[64];
  snprintf(path, sizeof path, "dev/pts/%d", plan.pty - 1);
  struct open_how how = {.flags = O_RDWR | O_NOCTTY | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
  int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  int slave;
  CALL("openat2", path, slave = (int)syscall(SYS_openat2, root, path, &how, sizeof how),
       "\"path\":\"/%s\",\"resolve\":\"RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS\"", path);
  close(root);
  if (setsid() < 0 && errno != EPERM) check("setsid", NULL, "", -1, 0); /* EPERM: already a leader */
  CALL("ioctl", "TIOCSCTTY", ioctl(slave, TIOCSCTTY, 0), "\"fd\":%d,\"request\":\"TIOCSCTTY\"", slave);
  for (int fd = 0; fd <= 2; fd++) CALL("dup2", NULL, dup2(slave, fd), "\"from\":%d,\"to\":%d", slave, fd);
  close(slave);
}

/* ---- step 8: the program (src/runtime/process/find-program.ts, the same rules) ---------- */

static int executable_file(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

static const char *find_program(const char *name) {
  if (strchr(name, '/')) {
    struct stat st;
    if (stat(name, &st) < 0) fail(127, "exec: \"%s\": stat %s: no such file or directory", name, name);
    if (S_ISDIR(st.st_mode)) fail(126, "exec: \"%s\": is a directory", name);
    if (!executable_file(name)) fail(126, "exec: \"%s\": permission denied", name);
    return name;
  }
  const char *search = DEFAULT_PATH;
  for (int i = 0; i < plan.n_env; i++) if (!strncmp(plan.env[i], "PATH=", 5)) search = plan.env[i] + 5;
  char *dirs = strdup(search), *rest = dirs;
  for (char *dir; (dir = strsep(&rest, ":")) != NULL;) {
    char *candidate;
    if (asprintf(&candidate, "%s/%s", *dir ? dir : ".", name) < 0) break;
    if (executable_file(candidate)) return candidate;
    free(candidate);
  }
  fail(127, "exec: \"%s\": executable file not found in $PATH", name);
}

/* ---- step 9: privileges (src/runtime/process/privileges.ts has the why of each) --------- */

static int hex(char digit) {
  return digit <= '9' ? digit - '0' : (digit | 0x20) - 'a' + 10;
}

static void load_seccomp(void) {
  size_t length = strlen(plan.seccomp_hex) / 2; /* the BPF program, as hex: 8 bytes an instruction */
  unsigned char *bytes = malloc(length ? length : 1);
  if (bytes == NULL) fail(125, "the seccomp program does not fit in memory");
  for (size_t i = 0; i < length; i++) bytes[i] = (unsigned char)(hex(plan.seccomp_hex[2 * i]) << 4 | hex(plan.seccomp_hex[2 * i + 1]));
  struct sock_filter *filter = (struct sock_filter *)bytes;
  struct sock_fprog program = {.len = (unsigned short)(length / sizeof *filter), .filter = filter};
  /* No SECCOMP_FILTER_FLAG_TSYNC: there is one thread, and the program inherits its filter. */
  long result = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, plan.seccomp_flags, &program);
  CALL("seccomp", NULL, result, "\"operation\":\"SECCOMP_SET_MODE_FILTER\",\"instructions\":%u%s%s",
       program.len, plan.seccomp_summary ? "," : "", plan.seccomp_summary ? plan.seccomp_summary : "");
}

static unsigned long long mask_of(const char *record) {
  return strtoull(record, NULL, 10);
}

static const char *names_of(const char *record) {
  const char *space = strchr(record, ' ');
  return space && space[1] ? space + 1 : "(none)";
}

static void apply_capabilities(void) {
  struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  struct __user_cap_data_struct data[2];
  unsigned long long e = mask_of(plan.caps[0]), p = mask_of(plan.caps[1]), i = mask_of(plan.caps[2]);
  data[0] = (struct __user_cap_data_struct){(uint32_t)e, (uint32_t)p, (uint32_t)i};
  data[1] = (struct __user_cap_data_struct){(uint32_t)(e >> 32), (uint32_t)(p >> 32), (uint32_t)(i >> 32)};
  CALL("capset", NULL, syscall(SYS_capset, &header, data),
       "\"effective\":\"%s\",\"permitted\":\"%s\",\"inheritable\":\"%s\"",
       names_of(plan.caps[0]), names_of(plan.caps[1]), names_of(plan.caps[2]));
  CALL("prctl", "PR_CAP_AMBIENT", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0),
       "\"option\":\"PR_CAP_AMBIENT\",\"action\":\"clear all\"");
  for (int n = 0; n < plan.n_ambient; n++) { /* "NUMBER NAME", only those both permitted and inheritable */
    CALL("prctl", "PR_CAP_AMBIENT", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, atoi(plan.ambient[n]), 0, 0),
         "\"option\":\"PR_CAP_AMBIENT\",\"raise\":\"%s\"", names_of(plan.ambient[n]));
  }
}

static void finalize_privileges(void) {
  if (plan.seccomp_hex && !plan.nnp) load_seccomp(); /* needs CAP_SYS_ADMIN then: before the drop */
  CALL("prctl", "PR_SET_KEEPCAPS", prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0), "\"option\":\"PR_SET_KEEPCAPS\"");
  gid_t groups[MAX_GROUPS];
  char list[MAX_GROUPS * 12] = "";
  for (int i = 0; i < plan.n_group; i++) {
    groups[i] = (gid_t)strtoul(plan.group[i], NULL, 10);
    snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? "," : "", plan.group[i]);
  }
  CALL("setgroups", NULL, setgroups((size_t)plan.n_group, groups), "\"gids\":\"%s\"", plan.n_group ? list : "(none)");
  CALL("setresgid", NULL, setresgid(plan.gid, plan.gid, plan.gid), "\"gid\":%u", plan.gid);
  CALL("setresuid", NULL, setresuid(plan.uid, plan.uid, plan.uid), "\"uid\":%u", plan.uid);
  CALL("prctl", "PR_SET_KEEPCAPS", prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0), "\"option\":\"PR_SET_KEEPCAPS\"");
  if (plan.has_caps) apply_capabilities();
  if (plan.nnp) CALL("prctl", "PR_SET_NO_NEW_PRIVS", prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "\"option\":\"PR_SET_NO_NEW_PRIVS\"");
  if (plan.seccomp_hex && plan.nnp) load_seccomp(); /* last: the fewest calls run under it */
}

/* The container's session keyring by name (session-keyring.ts); ENOSYS: a kernel without keyrings. */
static void join_keyring(void) {
  if (plan.keyring == NULL) return;
  long id = syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, plan.keyring);
  if (id < 0 && errno == ENOSYS) return;
  CALL("keyctl", plan.keyring, id, "\"operation\":\"KEYCTL_JOIN_SESSION_KEYRING\",\"name\":\"%s\"", plan.keyring);
}

/* Only 0–2 cross into the program (fd 4's close-on-exec is how the engine learns "it runs"), and
 * no signal stays ignored or blocked: both would survive execve (src/runtime/process/exec-handoff.ts). */
static void prepare_hand_over(void) {
  CALL("close_range", NULL, syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC),
       "\"first\":3,\"last\":\"~0U\",\"flags\":\"CLOSE_RANGE_CLOEXEC\"");
  for (int sig = 1; sig < 32; sig++) {
    struct sigaction old;
    if (sig == SIGKILL || sig == SIGSTOP || sigaction(sig, NULL, &old) < 0 || old.sa_handler != SIG_IGN) continue;
    CALL("signal", NULL, signal(sig, SIG_DFL) == SIG_ERR ? -1 : 0, "\"signal\":%d,\"handler\":\"SIG_DFL\"", sig);
  }
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
}

/* ---- step 10 ------------------------------------------------------------------------- */

static _Noreturn void hand_over(const char *program) {
  char args[8192], quoted[4200];
  json_string(quoted, sizeof quoted, program);
  int used = snprintf(args, sizeof args, "\"by\":\"minibox-exec\",\"path\":%s,\"argv\":[", quoted);
  for (int i = 0; i < plan.n_arg && used < (int)sizeof args - 100; i++) {
    json_string(quoted, sizeof quoted, plan.arg[i]);
    used += snprintf(args + used, sizeof args - (size_t)used, "%s%s", i ? "," : "", quoted);
  }
  snprintf(args + used, sizeof args - (size_t)used, "]");
  event("step", "execve", args, 0, 0, 0);
  plan.arg[plan.n_arg] = NULL;
  plan.env[plan.n_env] = NULL;
  execve(program, (char *const *)plan.arg, (char *const *)plan.env);
  const char *name = plan.arg[0];
  if (errno == ENOENT) fail(127, "exec: \"%s\": no such file or directory (is its interpreter missing?)", name);
  if (errno == ENOEXEC) fail(126, "exec: \"%s\": exec format error", name);
  if (errno == EACCES) fail(126, "exec: \"%s\": permission denied", name);
  fail(126, "exec: \"%s\": %s", name, strerrorname_np(errno));
}

int main(void) {
  /* 1. Before anything else: the container can already see this process. */
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) fail(125, "prctl(PR_SET_DUMPABLE, 0): %s", strerror(errno));
  prctl(PR_SET_NAME, "minibox-exec", 0, 0, 0); /* its name in `ps`; execve renames it */
  read_plan(); /* 2. */
  event("syscall", "prctl", "\"option\":\"PR_SET_DUMPABLE\"", 0, 0, 0);
  enter_namespaces(); /* 3–6. */
  if (plan.pty) attach_terminal(); /* 7. */
  const char *program = find_program(plan.arg[0]); /* 8. */
  join_keyring(); /* 9. */
  prepare_hand_over();
  finalize_privileges();
  hand_over(program); /* 10. */
}
