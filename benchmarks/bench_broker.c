/*
 * bench_broker.c - bench-broker: throughput, latency and CPU cost of rilld,
 * compared with librdkafka's mock cluster on the same machine.
 *
 * For each target (rilld, the mock, or both) the benchmark spawns the server
 * as a process of its own (rilld on a free port with a temporary log
 * directory; the mock through rill-mock-cluster), creates the topic, then
 * drives it with librdkafka from this process in three phases:
 *
 *   produce  N records of --value-size bytes, batched (linger.ms as given, a
 *            producer queue large enough for all of them), timed from the
 *            first produce() call to the last delivery report;
 *   consume  the same N records, read by a consumer assign()ed to every
 *            partition from the beginning, timed from assign() to the N-th
 *            record; offsets must be contiguous from 0 in every partition;
 *   latency  --latency-count produce round trips with linger.ms=0 and one
 *            request at a time (send one record, wait for its delivery
 *            report, send the next), after a short unmeasured warm-up.
 *
 * Around each phase the server's CPU time (utime+stime from /proc/<pid>/stat)
 * is read, so the report gives the server's CPU seconds per GB of payload
 * moved (per request for the latency phase). Payload is keys plus values;
 * MB and GB are 10^6 and 10^9 bytes.
 *
 * The results are printed per target, then as one table with the ratios
 * rilld/mock. The exit status is non-zero when something failed (a server
 * that does not start, a delivery failure, a missing or out-of-order record,
 * a server that crashes or does not stop on SIGTERM); timings never fail the
 * run. The targets that docs/benchmarks.md sets (throughput at least the
 * mock's, latency within 10% of the mock's) are reported, not asserted.
 *
 * Profiling hooks: --wrapper runs the server under a command (for example
 * "valgrind --tool=callgrind"), and --profile-cmd starts a command once the
 * server is up and the topic exists ("%p" is replaced by the server's pid,
 * e.g. "perf record -e cpu-clock -g -p %p -o rilld.perf"); it gets SIGINT
 * before the server is stopped.
 *
 * Design: a single-threaded driver. Delivery reports and consumer records are
 * served by rd_kafka_poll()/rd_kafka_consumer_poll() in this thread, and every
 * wait has a deadline and checks that the server process is still alive, so
 * a broken server fails the run quickly instead of hanging it.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <librdkafka/rdkafka.h>

#include "bench_proc.h"
#include "rill_alloc.h"
#include "rill_util.h"

#ifndef RILL_SOURCE_DIR
#define RILL_SOURCE_DIR "."
#endif

#define BENCH_MAX_ARGS 128
#define BENCH_MAX_OVERRIDES 32

enum { TARGET_RILLD, TARGET_MOCK, TARGET_COUNT };

static const char *const target_names[TARGET_COUNT] = { "rilld", "mock" };

typedef struct bench_opts {
        long count;              /**< records in the throughput phases */
        int value_size;          /**< bytes per value */
        int key_size;            /**< bytes per key (0 = no key) */
        const char *acks;        /**< "all", "1", "0" (or "-1") */
        int partitions;
        double linger_ms;
        long latency_count;
        long latency_warmup;
        bool target[TARGET_COUNT];
        bool do_produce, do_consume, do_latency;
        const char *rilld_path;  /**< NULL = next to this executable */
        const char *rilld_config; /**< NULL = the source tree's, if present */
        const char *mock_path;   /**< NULL = next to this executable */
        const char *overrides[BENCH_MAX_OVERRIDES];
        int override_cnt;
        const char *producer_props[BENCH_MAX_OVERRIDES]; /**< extra "k=v" for producers */
        int producer_prop_cnt;
        const char *consumer_props[BENCH_MAX_OVERRIDES]; /**< extra "k=v" for the consumer */
        int consumer_prop_cnt;
        const char *wrapper;     /**< command prefix for the server, or NULL */
        const char *profile_cmd; /**< command started once the server is up, or NULL */
        const char *topic;
        const char *tmp_base;    /**< where the temp dirs go ($TMPDIR or /tmp) */
        int repeat;              /**< runs per target (medians are reported) */
        bool pin;                /**< server on the last CPU, client on the others */
        bool keep;
        bool verbose;
} bench_opts_t;

/** One spawned server process. */
typedef struct bench_server {
        const char *name;
        pid_t pid;
        bool exited;             /**< reaped (status in exit_status) */
        int exit_status;
        bool death_reported;     /**< server_report_death() already said it */
        char bootstrap[256];
        char *dir;               /**< temp dir (data + server.log) */
        char *log_path;          /**< the server's stdout+stderr (rilld) or stderr (mock) */
        pid_t profiler_pgid;     /**< process group of --profile-cmd, or 0 */
} bench_server_t;

/** Measured figures for one target; NAN where a phase did not run. */
typedef struct bench_result {
        bool ran;
        bool failed;
        double produce_s, produce_cpu_s, produce_client_cpu_s;
        long consume_n;          /**< records read in the consume phase */
        double consume_s, consume_cpu_s, consume_client_cpu_s;
        double lat_p50_us, lat_p99_us, lat_p999_us, lat_mean_us, lat_max_us;
        double lat_cpu_s, lat_client_cpu_s;
        long lat_n;
        double rss_mb;
} bench_result_t;

/* ---- small helpers ------------------------------------------------------ */

static void
die_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void
die_usage(const char *fmt, ...)
{
        va_list ap;

        fputs("bench-broker: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputs(" (see --help)\n", stderr);
        exit(2);
}

static void
errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
errorf(const char *fmt, ...)
{
        va_list ap;

        fputs("bench-broker: ERROR: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}

static long
parse_long(const char *opt, const char *s, long min, long max)
{
        char *end;
        long v;

        if (!s)
                die_usage("%s needs a value", opt);
        errno = 0;
        v = strtol(s, &end, 10);
        if (errno || *s == '\0' || *end != '\0' || v < min || v > max)
                die_usage("%s: '%s' is not an integer in [%ld, %ld]", opt, s, min, max);
        return v;
}

static double
now_s(void)
{
        return (double)rill__mono_us() / 1e6;
}

/** With --verbose, prints a phase's CLOCK_MONOTONIC window, which matches
 *  `perf record -k CLOCK_MONOTONIC` timestamps (for `perf report --time`). */
static void
print_window(const bench_opts_t *o, const char *phase, double t0, double t1)
{
        if (o->verbose)
                fprintf(stderr, "bench-broker: %s window CLOCK_MONOTONIC %.6f,%.6f\n", phase,
                        t0, t1);
}

static void
sleep_ms(int ms)
{
        struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

        while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
                ;
}

/** The directory holding this executable (for locating rilld and the mock). */
static char *
self_dir(void)
{
        char buf[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
        char *slash;

        if (n <= 0)
                return rill__strdup(".");
        buf[n] = '\0';
        slash = strrchr(buf, '/');
        if (slash)
                *slash = '\0';
        return rill__strdup(buf);
}

/** Splits @p cmd on blanks into @p argv (at most @p max entries, strings
 *  allocated). Returns the count. No quoting: paths with spaces are not
 *  supported in --wrapper. */
static int
split_words(const char *cmd, char **argv, int max)
{
        int n = 0;

        while (cmd && *cmd && n < max) {
                const char *start;

                while (isspace((unsigned char)*cmd))
                        cmd++;
                if (!*cmd)
                        break;
                start = cmd;
                while (*cmd && !isspace((unsigned char)*cmd))
                        cmd++;
                argv[n++] = rill__strndup(start, (size_t)(cmd - start));
        }
        return n;
}

/* ---- server processes --------------------------------------------------- */

/** True while the server runs; reaps it (once) when it has exited. */
static bool
server_alive(bench_server_t *srv)
{
        int st;

        if (srv->pid <= 0 || srv->exited)
                return false;
        if (waitpid(srv->pid, &st, WNOHANG) == srv->pid) {
                srv->exited = true;
                srv->exit_status = st;
                return false;
        }
        return true;
}

static void
describe_status(int st, char *buf, size_t size)
{
        if (WIFEXITED(st))
                snprintf(buf, size, "exited with status %d", WEXITSTATUS(st));
        else if (WIFSIGNALED(st))
                snprintf(buf, size, "killed by signal %d (%s)", WTERMSIG(st),
                         strsignal(WTERMSIG(st)));
        else
                snprintf(buf, size, "status 0x%x", st);
}

/** Reports that the server died, with the tail of its log. */
static void
server_report_death(bench_server_t *srv)
{
        char how[128];

        if (srv->death_reported)
                return;
        srv->death_reported = true;
        describe_status(srv->exit_status, how, sizeof(how));
        errorf("%s (pid %d) %s; its output is in %s", srv->name, (int)srv->pid, how,
               srv->log_path);
}

/**
 * --pin: the calling process (and the threads it starts later) runs on the
 * last online CPU when @p server, else on all the others. A fixed placement
 * keeps the round-trip figures from switching between "same core" and
 * "cross core" wake-ups from run to run. Returns 0 or -1.
 */
static int
pin_to(bool server)
{
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        cpu_set_t set;

        if (n < 2)
                return -1;
        CPU_ZERO(&set);
        if (server) {
                CPU_SET((int)(n - 1), &set);
        } else {
                for (long i = 0; i < n - 1; i++)
                        CPU_SET((int)i, &set);
        }
        return sched_setaffinity(0, sizeof(set), &set);
}

/** True if the file at @p path contains @p needle (for "address in use"). */
static bool
log_mentions(const char *path, const char *needle)
{
        char line[1024];
        bool found = false;
        FILE *fp = fopen(path, "re");

        if (!fp)
                return false;
        while (!found && fgets(line, sizeof(line), fp))
                found = strstr(line, needle) != NULL;
        fclose(fp);
        return found;
}

/** Forks and execs @p argv with stdout to @p out_fd (or the log) and stderr to
 *  the server log. Returns the pid or -1. */
static pid_t
spawn(char **argv, const char *log_path, int out_fd, bool pin)
{
        pid_t pid;
        int log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

        if (log_fd < 0) {
                errorf("cannot open %s: %s", log_path, strerror(errno));
                return -1;
        }
        fflush(stdout);
        fflush(stderr);
        pid = fork();
        if (pid < 0) {
                errorf("fork: %s", strerror(errno));
                close(log_fd);
                return -1;
        }
        if (pid == 0) {
                int devnull = open("/dev/null", O_RDONLY);
                if (devnull >= 0)
                        dup2(devnull, 0);
                dup2(out_fd >= 0 ? out_fd : log_fd, 1);
                dup2(log_fd, 2);
                if (pin)
                        pin_to(true);
                execvp(argv[0], argv);
                fprintf(stderr, "bench-broker: exec %s: %s\n", argv[0], strerror(errno));
                _exit(127);
        }
        close(log_fd);
        return pid;
}

/** Appends the --wrapper words to @p argv; returns the new count. */
static int
add_wrapper(const bench_opts_t *o, char **argv, int argc)
{
        if (o->wrapper)
                argc += split_words(o->wrapper, argv + argc, BENCH_MAX_ARGS / 2);
        return argc;
}

static void
free_argv(char **argv, int argc)
{
        for (int i = 0; i < argc; i++)
                rill__free(argv[i]);
}

static int
start_rilld(const bench_opts_t *o, bench_server_t *srv, const char *bindir)
{
        const int startup_ms = o->wrapper ? 180000 : 20000;
        char *argv[BENCH_MAX_ARGS];
        char *rilld, *config = NULL;
        char *datadir = rill__asprintf("%s/data", srv->dir);
        int rc = -1;

        rilld = o->rilld_path ? rill__strdup(o->rilld_path) : rill__asprintf("%s/rilld", bindir);
        if (access(rilld, X_OK) != 0) {
                errorf("rilld not found or not executable at %s (use --rilld PATH)", rilld);
                goto out;
        }
        if (o->rilld_config) {
                config = rill__strdup(o->rilld_config);
        } else {
                config = rill__strdup(RILL_SOURCE_DIR "/config/server.properties");
                if (access(config, R_OK) != 0) {
                        rill__free(config);
                        config = NULL;
                }
        }
        if (rill__mkdirs(datadir, 0755) != 0) {
                errorf("cannot create %s: %s", datadir, strerror(errno));
                goto out;
        }

        /* The free port may be taken between probing and binding: retry. */
        for (int attempt = 0; attempt < 5 && rc != 0; attempt++) {
                int argc = 0, port = free_port();
                double deadline;

                if (port < 0) {
                        errorf("no free port");
                        break;
                }
                argc = add_wrapper(o, argv, argc);
                argv[argc++] = rill__strdup(rilld);
                if (config)
                        argv[argc++] = rill__strdup(config);
                argv[argc++] = rill__strdup("--override");
                argv[argc++] = rill__asprintf("listeners=PLAINTEXT://127.0.0.1:%d", port);
                argv[argc++] = rill__strdup("--override");
                argv[argc++] = rill__asprintf("advertised.listeners=PLAINTEXT://127.0.0.1:%d",
                                              port);
                argv[argc++] = rill__strdup("--override");
                argv[argc++] = rill__asprintf("log.dirs=%s", datadir);
                /* Auto-created topics get the benchmark's partition count
                 * (used only if CreateTopics is not available). */
                argv[argc++] = rill__strdup("--override");
                argv[argc++] = rill__asprintf("num.partitions=%d", o->partitions);
                for (int i = 0; i < o->override_cnt; i++) {
                        argv[argc++] = rill__strdup("--override");
                        argv[argc++] = rill__strdup(o->overrides[i]);
                }
                argv[argc] = NULL;
                if (o->verbose) {
                        fprintf(stderr, "bench-broker: starting");
                        for (int i = 0; i < argc; i++)
                                fprintf(stderr, " %s", argv[i]);
                        fputc('\n', stderr);
                }
                srv->pid = spawn(argv, srv->log_path, -1, o->pin);
                srv->exited = false;
                free_argv(argv, argc);
                if (srv->pid < 0)
                        break;
                deadline = now_s() + startup_ms / 1000.0;
                while (now_s() < deadline) {
                        if (!server_alive(srv))
                                break;
                        if (port_open(port)) {
                                snprintf(srv->bootstrap, sizeof(srv->bootstrap),
                                         "127.0.0.1:%d", port);
                                rc = 0;
                                break;
                        }
                        sleep_ms(10);
                }
                if (rc == 0)
                        break;
                if (srv->exited) {
                        server_report_death(srv);
                        if (log_mentions(srv->log_path, "in use"))
                                continue; /* the port was taken meanwhile: retry */
                        break;
                }
                errorf("rilld did not accept connections on port %d within %d s; output in %s",
                       port, startup_ms / 1000, srv->log_path);
                kill(srv->pid, SIGKILL);
                waitpid(srv->pid, NULL, 0);
                srv->exited = true;
                break;
        }
out:
        rill__free(rilld);
        rill__free(config);
        rill__free(datadir);
        return rc;
}

static int
start_mock(const bench_opts_t *o, bench_server_t *srv, const char *bindir)
{
        const int startup_ms = o->wrapper ? 180000 : 20000;
        char *argv[BENCH_MAX_ARGS];
        char *mock;
        char line[512];
        size_t len = 0;
        double deadline;
        int pfd[2], argc = 0, rc = -1;

        mock = o->mock_path ? rill__strdup(o->mock_path)
                            : rill__asprintf("%s/rill-mock-cluster", bindir);
        if (access(mock, X_OK) != 0) {
                errorf("rill-mock-cluster not found at %s (use --mock PATH)", mock);
                rill__free(mock);
                return -1;
        }
        if (pipe2(pfd, O_CLOEXEC) != 0) {
                errorf("pipe: %s", strerror(errno));
                rill__free(mock);
                return -1;
        }
        argc = add_wrapper(o, argv, argc);
        argv[argc++] = mock;
        argv[argc++] = rill__strdup("--partitions");
        argv[argc++] = rill__asprintf("%d", o->partitions);
        argv[argc++] = rill__strdup("--topic");
        argv[argc++] = rill__strdup(o->topic);
        argv[argc] = NULL;
        srv->pid = spawn(argv, srv->log_path, pfd[1], o->pin);
        srv->exited = false;
        free_argv(argv, argc);
        close(pfd[1]);
        if (srv->pid < 0) {
                close(pfd[0]);
                return -1;
        }

        /* Read "BOOTSTRAP host:port\n" with a deadline. */
        deadline = now_s() + startup_ms / 1000.0;
        while (now_s() < deadline && len < sizeof(line) - 1) {
                struct pollfd p = { pfd[0], POLLIN, 0 };
                ssize_t n;

                if (poll(&p, 1, 100) <= 0)
                        continue;
                n = read(pfd[0], line + len, sizeof(line) - 1 - len);
                if (n <= 0)
                        break;
                len += (size_t)n;
                line[len] = '\0';
                if (strchr(line, '\n'))
                        break;
        }
        close(pfd[0]);
        line[len] = '\0';
        if (len > 0 && strchr(line, '\n') &&
            sscanf(line, "BOOTSTRAP %255s", srv->bootstrap) == 1) {
                rc = 0;
        } else {
                if (!server_alive(srv) && srv->exited)
                        server_report_death(srv);
                else
                        errorf("rill-mock-cluster printed no BOOTSTRAP line; output in %s",
                               srv->log_path);
        }
        return rc;
}

/** Starts --profile-cmd for the server (with %p replaced by its pid). */
static void
start_profiler(const bench_opts_t *o, bench_server_t *srv)
{
        char cmd[4096];
        size_t n = 0;
        pid_t pid;

        if (!o->profile_cmd)
                return;
        for (const char *p = o->profile_cmd; *p && n < sizeof(cmd) - 16; p++) {
                if (p[0] == '%' && p[1] == 'p') {
                        n += (size_t)snprintf(cmd + n, sizeof(cmd) - n, "%d", (int)srv->pid);
                        p++;
                } else {
                        cmd[n++] = *p;
                }
        }
        cmd[n] = '\0';
        fflush(stdout);
        fflush(stderr);
        pid = fork();
        if (pid < 0) {
                errorf("fork: %s", strerror(errno));
                return;
        }
        if (pid == 0) {
                setpgid(0, 0);
                execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
                _exit(127);
        }
        setpgid(pid, pid);
        srv->profiler_pgid = pid;
        fprintf(stderr, "bench-broker: profiler started: %s\n", cmd);
        /* Give the profiler a moment to attach before the load starts. */
        sleep_ms(1000);
}

static void
stop_profiler(bench_server_t *srv)
{
        int st;

        if (srv->profiler_pgid <= 0)
                return;
        kill(-srv->profiler_pgid, SIGINT);
        waitpid(srv->profiler_pgid, &st, 0);
        srv->profiler_pgid = 0;
}

/** Sends SIGTERM and waits for the server to exit. Returns 0 if it exited
 *  with status 0, -1 otherwise (after SIGKILL if it did not stop). */
static int
stop_server(const bench_opts_t *o, bench_server_t *srv)
{
        const double grace = o->wrapper ? 180.0 : 30.0;
        double deadline;

        stop_profiler(srv);
        if (srv->pid <= 0)
                return 0;
        if (!srv->exited && server_alive(srv)) {
                kill(srv->pid, SIGTERM);
                deadline = now_s() + grace;
                while (server_alive(srv) && now_s() < deadline)
                        sleep_ms(10);
                if (!srv->exited) {
                        errorf("%s (pid %d) did not exit within %.0f s of SIGTERM; killing it",
                               srv->name, (int)srv->pid, grace);
                        kill(srv->pid, SIGKILL);
                        waitpid(srv->pid, &srv->exit_status, 0);
                        srv->exited = true;
                        return -1;
                }
        }
        if (!WIFEXITED(srv->exit_status) || WEXITSTATUS(srv->exit_status) != 0) {
                server_report_death(srv);
                return -1;
        }
        return 0;
}

/* ---- librdkafka helpers ------------------------------------------------- */

static rd_kafka_conf_t *
base_conf(const bench_server_t *srv)
{
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        char err[512];

        if (rd_kafka_conf_set(conf, "bootstrap.servers", srv->bootstrap, err, sizeof(err)) ||
            rd_kafka_conf_set(conf, "client.id", "bench-broker", err, sizeof(err))) {
                errorf("%s", err);
                rd_kafka_conf_destroy(conf);
                return NULL;
        }
        return conf;
}

/** Sets the NULL-terminated key/value list on @p conf; false on error. */
static bool
conf_set_all(rd_kafka_conf_t *conf, const char *const *kv)
{
        char err[512];

        for (int i = 0; kv[i]; i += 2) {
                if (rd_kafka_conf_set(conf, kv[i], kv[i + 1], err, sizeof(err)) !=
                    RD_KAFKA_CONF_OK) {
                        errorf("%s=%s: %s", kv[i], kv[i + 1], err);
                        return false;
                }
        }
        return true;
}

/** Sets each "key=value" of @p props on @p conf; false on error. */
static bool
conf_set_props(rd_kafka_conf_t *conf, const char *const *props, int cnt)
{
        char err[512];

        for (int i = 0; i < cnt; i++) {
                const char *eq = strchr(props[i], '=');
                char *key = rill__strndup(props[i], (size_t)(eq - props[i]));
                rd_kafka_conf_res_t res = rd_kafka_conf_set(conf, key, eq + 1, err, sizeof(err));

                rill__free(key);
                if (res != RD_KAFKA_CONF_OK) {
                        errorf("%s: %s", props[i], err);
                        return false;
                }
        }
        return true;
}

/** Counters shared with the delivery-report callback. */
typedef struct dr_state {
        long delivered;
        long failed;
        rd_kafka_resp_err_t first_err;
} dr_state_t;

static void
dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
        dr_state_t *s = opaque;

        (void)rk;
        if (m->err) {
                if (!s->failed)
                        s->first_err = m->err;
                s->failed++;
        } else {
                s->delivered++;
        }
}

static rd_kafka_t *
new_producer(const bench_opts_t *o, const bench_server_t *srv, dr_state_t *dr,
             const char *const *kv)
{
        rd_kafka_conf_t *conf = base_conf(srv);
        rd_kafka_t *rk;
        char err[512];

        if (!conf)
                return NULL;
        if (!conf_set_all(conf, kv) ||
            !conf_set_props(conf, o->producer_props, o->producer_prop_cnt)) {
                rd_kafka_conf_destroy(conf);
                return NULL;
        }
        rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
        rd_kafka_conf_set_opaque(conf, dr);
        rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
        if (!rk) {
                errorf("rd_kafka_new(producer): %s", err);
                rd_kafka_conf_destroy(conf);
        }
        return rk;
}

/**
 * Waits until @p topic exists with @p partitions partitions, each with a
 * leader. Also establishes the connection, so that the timed phases do not
 * include it. Returns 0 or -1.
 */
static int
wait_topic(rd_kafka_t *rk, bench_server_t *srv, const char *topic, int partitions,
           double timeout_s)
{
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
        double deadline = now_s() + timeout_s;
        char last[256] = "no metadata";
        int rc = -1;

        while (rc != 0 && now_s() < deadline) {
                const struct rd_kafka_metadata *md = NULL;
                rd_kafka_resp_err_t err;

                if (!server_alive(srv)) {
                        server_report_death(srv);
                        break;
                }
                err = rd_kafka_metadata(rk, 0, rkt, &md, 5000);
                if (err) {
                        snprintf(last, sizeof(last), "metadata: %s", rd_kafka_err2str(err));
                } else if (md->topic_cnt != 1 || md->topics[0].err) {
                        snprintf(last, sizeof(last), "topic %s: %s", topic,
                                 md->topic_cnt == 1 ? rd_kafka_err2str(md->topics[0].err)
                                                    : "missing");
                } else if (md->topics[0].partition_cnt != partitions) {
                        snprintf(last, sizeof(last), "topic %s has %d partitions, wanted %d",
                                 topic, md->topics[0].partition_cnt, partitions);
                        rd_kafka_metadata_destroy(md);
                        errorf("%s", last);
                        break;
                } else {
                        bool ready = true;
                        for (int i = 0; i < partitions; i++)
                                if (md->topics[0].partitions[i].err ||
                                    md->topics[0].partitions[i].leader < 0)
                                        ready = false;
                        if (ready)
                                rc = 0;
                        else
                                snprintf(last, sizeof(last), "topic %s: partitions without leader",
                                         topic);
                }
                if (md)
                        rd_kafka_metadata_destroy(md);
                if (rc != 0)
                        sleep_ms(100);
        }
        if (rc != 0 && now_s() >= deadline)
                errorf("topic %s not ready within %.0f s: %s", topic, timeout_s, last);
        rd_kafka_topic_destroy(rkt);
        return rc;
}

/**
 * Creates the benchmark topic on @p srv with the Admin API (CreateTopics).
 * An existing topic is fine. When the broker does not offer CreateTopics the
 * topic is auto-created by the metadata request in wait_topic() instead.
 */
static int
create_topic(const bench_opts_t *o, bench_server_t *srv)
{
        dr_state_t dr = { 0, 0, 0 };
        static const char *const kv[] = { NULL };
        rd_kafka_t *rk = new_producer(o, srv, &dr, kv);
        rd_kafka_NewTopic_t *nt;
        rd_kafka_AdminOptions_t *ao;
        rd_kafka_queue_t *q;
        rd_kafka_event_t *ev = NULL;
        char err[512];
        int rc = 0;

        if (!rk)
                return -1;
        if (strcmp(srv->name, "rilld") != 0)
                goto wait; /* the mock pre-creates it (no CreateTopics support) */

        nt = rd_kafka_NewTopic_new(o->topic, o->partitions, 1, err, sizeof(err));
        if (!nt) {
                errorf("NewTopic: %s", err);
                rd_kafka_destroy(rk);
                return -1;
        }
        ao = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
        rd_kafka_AdminOptions_set_operation_timeout(ao, 30000, err, sizeof(err));
        rd_kafka_AdminOptions_set_request_timeout(ao, 30000, err, sizeof(err));
        q = rd_kafka_queue_new(rk);
        rd_kafka_CreateTopics(rk, &nt, 1, ao, q);
        for (double deadline = now_s() + 60; !ev && now_s() < deadline;) {
                ev = rd_kafka_queue_poll(q, 500);
                if (!ev && !server_alive(srv)) {
                        server_report_death(srv);
                        rc = -1;
                        break;
                }
        }
        if (!ev) {
                if (rc == 0)
                        fprintf(stderr, "bench-broker: CreateTopics got no answer within 60 s; "
                                        "relying on auto-creation\n");
        } else if (rd_kafka_event_error(ev)) {
                fprintf(stderr, "bench-broker: CreateTopics failed (%s); relying on "
                                "auto-creation\n", rd_kafka_event_error_string(ev));
        } else {
                const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
                size_t cnt = 0;
                const rd_kafka_topic_result_t **tr = rd_kafka_CreateTopics_result_topics(res, &cnt);
                for (size_t i = 0; i < cnt; i++) {
                        rd_kafka_resp_err_t e = rd_kafka_topic_result_error(tr[i]);
                        if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
                                fprintf(stderr, "bench-broker: CreateTopics %s: %s (%s); relying "
                                                "on auto-creation\n",
                                        rd_kafka_topic_result_name(tr[i]), rd_kafka_err2str(e),
                                        rd_kafka_topic_result_error_string(tr[i])
                                                ? rd_kafka_topic_result_error_string(tr[i])
                                                : "");
                }
        }
        if (ev)
                rd_kafka_event_destroy(ev);
        rd_kafka_queue_destroy(q);
        rd_kafka_AdminOptions_destroy(ao);
        rd_kafka_NewTopic_destroy(nt);
wait:
        if (rc == 0)
                rc = wait_topic(rk, srv, o->topic, o->partitions, 60);
        rd_kafka_destroy(rk);
        return rc;
}

/* ---- the phases ----------------------------------------------------------- */

/** The records partition @p p received in phase a (round-robin). */
static long
expected_in_partition(const bench_opts_t *o, int p)
{
        return o->count / o->partitions + (p < o->count % o->partitions ? 1 : 0);
}

/** Waits until every partition's high watermark reaches the records produced
 *  to it (acks=0). Returns 0, or -1 after @p timeout_s. */
static int
wait_watermarks(const bench_opts_t *o, bench_server_t *srv, rd_kafka_t *rk, double timeout_s)
{
        double deadline = now_s() + timeout_s;

        for (int i = 0; i < o->partitions; i++) {
                int64_t lo = -1, hi = -1;
                rd_kafka_resp_err_t err;

                while ((err = rd_kafka_query_watermark_offsets(rk, o->topic, i, &lo, &hi,
                                                               10000)) == 0 &&
                       hi < expected_in_partition(o, i)) {
                        if (now_s() > deadline || !server_alive(srv)) {
                                errorf("produce: partition %d holds %" PRId64 " of %ld records",
                                       i, hi, expected_in_partition(o, i));
                                return -1;
                        }
                        sleep_ms(1);
                }
                if (err) {
                        errorf("produce: watermarks of partition %d: %s", i,
                               rd_kafka_err2str(err));
                        return -1;
                }
        }
        return 0;
}

/** Phase a: batched produce throughput. */
static int
phase_produce(const bench_opts_t *o, bench_server_t *srv, const char *value, bench_result_t *r)
{
        char linger[32];
        const char *kv[] = { "acks", o->acks,
                             "linger.ms", linger,
                             "queue.buffering.max.messages", "10000000",
                             "queue.buffering.max.kbytes", "4194304",
                             "message.timeout.ms", "120000",
                             NULL };
        dr_state_t dr = { 0, 0, 0 };
        rd_kafka_t *rk;
        rd_kafka_topic_t *rkt;
        char key[64];
        cpu_sample_t cpu0, cpu1;
        double t0, t1, last_check;
        int rc = 0;

        snprintf(linger, sizeof(linger), "%g", o->linger_ms);
        rk = new_producer(o, srv, &dr, kv);
        if (!rk)
                return -1;
        if (wait_topic(rk, srv, o->topic, o->partitions, 30) != 0) {
                rd_kafka_destroy(rk);
                return -1;
        }
        rkt = rd_kafka_topic_new(rk, o->topic, NULL);

        cpu_sample(srv->pid, &cpu0);
        t0 = now_s();
        last_check = t0;
        for (long i = 0; i < o->count && rc == 0; i++) {
                int32_t part = (int32_t)(i % o->partitions);
                size_t klen = 0;

                if (o->key_size > 0) {
                        /* Distinct keys: the record index, zero-padded
                         * (its last digits when the key is shorter). */
                        char digits[24];
                        int dn = snprintf(digits, sizeof(digits), "%ld", i);
                        int keep = dn < o->key_size ? dn : o->key_size;

                        memset(key, '0', (size_t)o->key_size);
                        memcpy(key + o->key_size - keep, digits + dn - keep, (size_t)keep);
                        klen = (size_t)o->key_size;
                }
                /* No copy flag: the value buffer outlives the producer. */
                while (rd_kafka_produce(rkt, part, 0, (void *)value, (size_t)o->value_size,
                                        klen ? key : NULL, klen, NULL) == -1) {
                        rd_kafka_resp_err_t err = rd_kafka_last_error();
                        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                                errorf("produce: %s", rd_kafka_err2str(err));
                                rc = -1;
                                break;
                        }
                        rd_kafka_poll(rk, 10);
                }
                if ((i & 1023) == 0) {
                        rd_kafka_poll(rk, 0);
                        if (now_s() - last_check > 1.0) {
                                last_check = now_s();
                                if (!server_alive(srv)) {
                                        server_report_death(srv);
                                        rc = -1;
                                }
                        }
                }
        }
        /* Wait for every delivery report (flush serves the callbacks). */
        while (rc == 0 && dr.delivered + dr.failed < o->count) {
                rd_kafka_flush(rk, 1000);
                if (!server_alive(srv)) {
                        server_report_death(srv);
                        rc = -1;
                }
                if (now_s() - t0 > 600) {
                        errorf("produce: only %ld of %ld delivery reports after 600 s",
                               dr.delivered + dr.failed, o->count);
                        rc = -1;
                }
        }
        /* With acks=0 a delivery report means "handed to the socket": the
         * phase ends when the server holds every record, and the producer
         * must stay alive until then (destroying it drops unsent bytes). */
        if (rc == 0 && !strcmp(o->acks, "0"))
                rc = wait_watermarks(o, srv, rk, 60);
        t1 = now_s();
        print_window(o, "produce", t0, t1);
        cpu_sample(srv->pid, &cpu1);
        if (dr.failed) {
                errorf("produce: %ld of %ld records failed; first error: %s", dr.failed, o->count,
                       rd_kafka_err2str(dr.first_err));
                rc = -1;
        }
        if (rc == 0) {
                r->produce_s = t1 - t0;
                r->produce_cpu_s = cpu_delta(&cpu0, &cpu1);
                r->produce_client_cpu_s = cpu1.self_s - cpu0.self_s;
        }
        rd_kafka_topic_destroy(rkt);
        rd_kafka_flush(rk, 5000);
        rd_kafka_destroy(rk);
        return rc;
}

/**
 * Phase b: batched consume throughput of the records produced in phase a.
 *
 * Every partition's high watermark must equal the records sent to it (none
 * lost, none duplicated). The consumer reads each partition from the
 * beginning up to that watermark and checks that offsets are contiguous. A
 * real broker keeps everything (log start 0); librdkafka's mock keeps only
 * the last 5 MiB of each partition (a constant in rdkafka_mock.c), so for the
 * mock the phase reads what it retained and the rate is computed from that.
 */
static int
phase_consume(const bench_opts_t *o, bench_server_t *srv, bench_result_t *r)
{
        /* librdkafka 2.0 needs a group.id even for assign(); nothing is
         * committed and no group is joined. */
        static const char *const kv[] = { "group.id", "bench-broker",
                                          "enable.auto.commit", "false",
                                          "enable.auto.offset.store", "false",
                                          "enable.partition.eof", "false",
                                          "auto.offset.reset", "earliest",
                                          NULL };
        rd_kafka_conf_t *conf = base_conf(srv);
        rd_kafka_topic_partition_list_t *parts;
        rd_kafka_t *rk;
        int64_t *next_off, *end_off;
        long got = 0, want = 0, bad_size = 0;
        cpu_sample_t cpu0, cpu1;
        double t0, t1, last_progress, last_check;
        char err[512];
        int rc = 0;

        if (!conf)
                return -1;
        if (!conf_set_all(conf, kv) ||
            !conf_set_props(conf, o->consumer_props, o->consumer_prop_cnt)) {
                rd_kafka_conf_destroy(conf);
                return -1;
        }
        rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
        if (!rk) {
                errorf("rd_kafka_new(consumer): %s", err);
                rd_kafka_conf_destroy(conf);
                return -1;
        }
        rd_kafka_poll_set_consumer(rk);
        if (wait_topic(rk, srv, o->topic, o->partitions, 30) != 0) {
                rd_kafka_destroy(rk);
                return -1;
        }
        next_off = rill__calloc((size_t)o->partitions, sizeof(*next_off));
        end_off = rill__calloc((size_t)o->partitions, sizeof(*end_off));
        parts = rd_kafka_topic_partition_list_new(o->partitions);
        for (int i = 0; i < o->partitions && rc == 0; i++) {
                int64_t lo = -1, hi = -1;
                rd_kafka_resp_err_t werr;

                werr = rd_kafka_query_watermark_offsets(rk, o->topic, i, &lo, &hi, 10000);

                if (werr) {
                        errorf("consume: watermarks of partition %d: %s", i,
                               rd_kafka_err2str(werr));
                        rc = -1;
                } else if (hi != expected_in_partition(o, i)) {
                        errorf("consume: partition %d holds offsets up to %" PRId64
                               " but %ld records were produced to it",
                               i, hi, expected_in_partition(o, i));
                        rc = -1;
                } else if (lo != 0 && strcmp(srv->name, "mock") != 0) {
                        errorf("consume: partition %d starts at offset %" PRId64
                               " (records were deleted)", i, lo);
                        rc = -1;
                } else if (lo < 0 || lo > hi) {
                        errorf("consume: partition %d: bad watermarks %" PRId64 "..%" PRId64,
                               i, lo, hi);
                        rc = -1;
                }
                next_off[i] = lo;
                end_off[i] = hi;
                want += (long)(hi - lo);
                rd_kafka_topic_partition_list_add(parts, o->topic, i)->offset =
                        RD_KAFKA_OFFSET_BEGINNING;
        }
        if (rc == 0 && want < o->count)
                printf("  (the server retained %ld of the %ld records; the consume phase "
                       "reads those)\n", want, o->count);

        cpu_sample(srv->pid, &cpu0);
        t0 = now_s();
        last_progress = last_check = t0;
        if (rc == 0) {
                rd_kafka_resp_err_t aerr = rd_kafka_assign(rk, parts);
                if (aerr) {
                        errorf("assign: %s", rd_kafka_err2str(aerr));
                        rc = -1;
                }
        }
        while (rc == 0 && got < want) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);

                if (m) {
                        if (m->err) {
                                if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                                        fprintf(stderr, "bench-broker: consume: %s\n",
                                                rd_kafka_message_errstr(m));
                                if (m->err == RD_KAFKA_RESP_ERR__FATAL) {
                                        errorf("consume: fatal error");
                                        rc = -1;
                                }
                        } else if (m->partition < 0 || m->partition >= o->partitions) {
                                errorf("consume: record from unexpected partition %d",
                                       (int)m->partition);
                                rc = -1;
                        } else if (m->offset != next_off[m->partition] ||
                                   m->offset >= end_off[m->partition]) {
                                errorf("consume: partition %d: offset %" PRId64
                                       " where %" PRId64 " was expected",
                                       (int)m->partition, (int64_t)m->offset,
                                       next_off[m->partition]);
                                rc = -1;
                        } else {
                                next_off[m->partition]++;
                                if (m->len != (size_t)o->value_size)
                                        bad_size++;
                                got++;
                                last_progress = now_s();
                        }
                        rd_kafka_message_destroy(m);
                }
                if (now_s() - last_check > 1.0) {
                        last_check = now_s();
                        if (!server_alive(srv)) {
                                server_report_death(srv);
                                rc = -1;
                        } else if (last_check - last_progress > 30) {
                                errorf("consume: no record for 30 s after %ld of %ld", got,
                                       want);
                                rc = -1;
                        }
                }
        }
        t1 = now_s();
        print_window(o, "consume", t0, t1);
        cpu_sample(srv->pid, &cpu1);
        if (bad_size) {
                errorf("consume: %ld records had a value size other than %d", bad_size,
                       o->value_size);
                rc = -1;
        }
        if (rc == 0) {
                r->consume_n = got;
                r->consume_s = t1 - t0;
                r->consume_cpu_s = cpu_delta(&cpu0, &cpu1);
                r->consume_client_cpu_s = cpu1.self_s - cpu0.self_s;
        }
        rd_kafka_topic_partition_list_destroy(parts);
        rill__free(next_off);
        rill__free(end_off);
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
        return rc;
}

static int
cmp_double(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;

        return x < y ? -1 : x > y;
}

/** The q-quantile (0..1) of sorted @p v by the nearest-rank method. */
static double
quantile(const double *v, long n, double q)
{
        long rank = (long)ceil(q * (double)n);

        if (rank < 1)
                rank = 1;
        if (rank > n)
                rank = n;
        return v[rank - 1];
}

/** Phase c: produce round-trip latency, one request at a time. */
static int
phase_latency(const bench_opts_t *o, bench_server_t *srv, const char *value, bench_result_t *r)
{
        const char *kv[] = { "acks", o->acks,
                             "linger.ms", "0",
                             "max.in.flight.requests.per.connection", "1",
                             "socket.nagle.disable", "true",
                             "message.timeout.ms", "30000",
                             NULL };
        dr_state_t dr = { 0, 0, 0 };
        rd_kafka_t *rk;
        rd_kafka_topic_t *rkt;
        long total = o->latency_warmup + o->latency_count, n = 0;
        double *us = rill__calloc((size_t)(o->latency_count > 0 ? o->latency_count : 1),
                                  sizeof(*us));
        cpu_sample_t cpu0 = { -1, -1, 0, 0, -1 }, cpu1;
        double sum = 0, lat_t0 = now_s();
        int rc = 0;

        rk = new_producer(o, srv, &dr, kv);
        if (!rk) {
                rill__free(us);
                return -1;
        }
        if (wait_topic(rk, srv, o->topic, o->partitions, 30) != 0) {
                rd_kafka_destroy(rk);
                rill__free(us);
                return -1;
        }
        rkt = rd_kafka_topic_new(rk, o->topic, NULL);
        for (long i = 0; i < total && rc == 0; i++) {
                long want = dr.delivered + dr.failed + 1;
                double t0, t1, deadline;

                if (i == o->latency_warmup) {
                        cpu_sample(srv->pid, &cpu0);
                        lat_t0 = now_s();
                }
                t0 = now_s();
                if (rd_kafka_produce(rkt, (int32_t)(i % o->partitions), 0, (void *)value,
                                     (size_t)o->value_size, NULL, 0, NULL) == -1) {
                        errorf("produce: %s", rd_kafka_err2str(rd_kafka_last_error()));
                        rc = -1;
                        break;
                }
                deadline = t0 + 30;
                while (dr.delivered + dr.failed < want) {
                        rd_kafka_poll(rk, 100);
                        if (dr.delivered + dr.failed >= want)
                                break;
                        if (now_s() > deadline || !server_alive(srv)) {
                                if (srv->exited)
                                        server_report_death(srv);
                                else
                                        errorf("latency: no delivery report within 30 s");
                                rc = -1;
                                break;
                        }
                }
                t1 = now_s();
                if (dr.failed) {
                        errorf("latency: delivery failed: %s", rd_kafka_err2str(dr.first_err));
                        rc = -1;
                }
                if (rc == 0 && i >= o->latency_warmup) {
                        us[n] = (t1 - t0) * 1e6;
                        sum += us[n];
                        n++;
                }
        }
        cpu_sample(srv->pid, &cpu1);
        print_window(o, "latency", lat_t0, now_s());
        if (rc == 0 && n > 0) {
                qsort(us, (size_t)n, sizeof(*us), cmp_double);
                r->lat_p50_us = quantile(us, n, 0.50);
                r->lat_p99_us = quantile(us, n, 0.99);
                r->lat_p999_us = quantile(us, n, 0.999);
                r->lat_max_us = us[n - 1];
                r->lat_mean_us = sum / (double)n;
                r->lat_cpu_s = cpu_delta(&cpu0, &cpu1);
                r->lat_client_cpu_s = cpu1.self_s - cpu0.self_s;
                r->lat_n = n;
        }
        rd_kafka_topic_destroy(rkt);
        rd_kafka_destroy(rk);
        rill__free(us);
        return rc;
}

/* ---- running one target, and the report --------------------------------- */

/** Payload MB (10^6 bytes) of @p n records. */
static double
rec_mb(const bench_opts_t *o, long n)
{
        return (double)n * (double)(o->value_size + o->key_size) / 1e6;
}

/** Payload MB of the throughput phases. */
static double
mb(const bench_opts_t *o)
{
        return rec_mb(o, o->count);
}

static void
print_target(const bench_opts_t *o, const char *name, const bench_result_t *r)
{
        double gb = mb(o) / 1000.0;

        if (!isnan(r->produce_s))
                printf("  produce: %ld records in %.3f s: %.0f msgs/s, %.1f MB/s; "
                       "server CPU %.2f s (%.2f s/GB), client CPU %.2f s\n",
                       o->count, r->produce_s, (double)o->count / r->produce_s,
                       mb(o) / r->produce_s, r->produce_cpu_s, r->produce_cpu_s / gb,
                       r->produce_client_cpu_s);
        if (!isnan(r->consume_s))
                printf("  consume: %ld records in %.3f s: %.0f msgs/s, %.1f MB/s; "
                       "server CPU %.2f s (%.2f s/GB), client CPU %.2f s\n",
                       r->consume_n, r->consume_s, (double)r->consume_n / r->consume_s,
                       rec_mb(o, r->consume_n) / r->consume_s, r->consume_cpu_s,
                       r->consume_cpu_s / (rec_mb(o, r->consume_n) / 1000.0),
                       r->consume_client_cpu_s);
        if (!isnan(r->lat_p50_us) && !strcmp(o->acks, "0"))
                printf("  (acks=0: a round trip ends when the client has sent the record; "
                       "the server does not answer)\n");
        if (!isnan(r->lat_p50_us))
                printf("  latency: %ld round trips: p50 %.0f us, p99 %.0f us, p99.9 %.0f us, "
                       "mean %.0f us, max %.0f us; server CPU %.1f us/request\n",
                       r->lat_n, r->lat_p50_us, r->lat_p99_us, r->lat_p999_us, r->lat_mean_us,
                       r->lat_max_us, r->lat_cpu_s * 1e6 / (double)r->lat_n);
        if (!isnan(r->rss_mb))
                printf("  %s peak RSS: %.1f MB\n", name, r->rss_mb);
        fflush(stdout);
}

static void
result_init(bench_result_t *r)
{
        memset(r, 0, sizeof(*r));
        r->produce_s = r->produce_cpu_s = r->produce_client_cpu_s = NAN;
        r->consume_s = r->consume_cpu_s = r->consume_client_cpu_s = NAN;
        r->lat_client_cpu_s = NAN;
        r->lat_p50_us = r->lat_p99_us = r->lat_p999_us = r->lat_mean_us = NAN;
        r->lat_max_us = r->lat_cpu_s = NAN;
        r->rss_mb = NAN;
}

/** The median of the double at offset @p field over the @p n runs that
 *  succeeded and measured it (NAN if none). */
static double
median_of(const bench_result_t *runs, int n, size_t field)
{
        double v[64];
        int k = 0;

        for (int i = 0; i < n && k < 64; i++) {
                double x = *(const double *)((const char *)&runs[i] + field);
                if (!runs[i].failed && !isnan(x))
                        v[k++] = x;
        }
        if (k == 0)
                return NAN;
        qsort(v, (size_t)k, sizeof(v[0]), cmp_double);
        return k % 2 ? v[k / 2] : (v[k / 2 - 1] + v[k / 2]) / 2;
}

/** Folds @p n runs of one target into @p out: the median of every figure
 *  over the runs that succeeded. */
static void
result_median(bench_result_t *out, const bench_result_t *runs, int n)
{
        static const size_t fields[] = {
                offsetof(bench_result_t, produce_s),   offsetof(bench_result_t, produce_cpu_s),
                offsetof(bench_result_t, consume_s),   offsetof(bench_result_t, consume_cpu_s),
                offsetof(bench_result_t, lat_p50_us),  offsetof(bench_result_t, lat_p99_us),
                offsetof(bench_result_t, lat_p999_us), offsetof(bench_result_t, lat_mean_us),
                offsetof(bench_result_t, lat_max_us),  offsetof(bench_result_t, lat_cpu_s),
                offsetof(bench_result_t, rss_mb),
                offsetof(bench_result_t, produce_client_cpu_s),
                offsetof(bench_result_t, consume_client_cpu_s),
                offsetof(bench_result_t, lat_client_cpu_s),
        };

        result_init(out);
        for (int i = 0; i < n; i++) {
                out->ran |= runs[i].ran;
                out->failed |= runs[i].failed;
                if (!runs[i].failed && runs[i].ran) {
                        /* Counts are the same in every successful run. */
                        out->consume_n = runs[i].consume_n;
                        out->lat_n = runs[i].lat_n;
                }
        }
        for (size_t f = 0; f < sizeof(fields) / sizeof(fields[0]); f++)
                *(double *)((char *)out + fields[f]) = median_of(runs, n, fields[f]);
}

static int
run_target(const bench_opts_t *o, int target, const char *bindir, const char *value,
           bench_result_t *r)
{
        bench_server_t srv;
        char tmpl[PATH_MAX];
        int rc = 0;

        memset(&srv, 0, sizeof(srv));
        srv.name = target_names[target];
        snprintf(tmpl, sizeof(tmpl), "%s/bench-broker-%s-XXXXXX", o->tmp_base, srv.name);
        if (!mkdtemp(tmpl)) {
                errorf("mkdtemp %s: %s", tmpl, strerror(errno));
                return -1;
        }
        srv.dir = rill__strdup(tmpl);
        srv.log_path = rill__asprintf("%s/server.log", srv.dir);
        r->ran = true;

        printf("\n== %s ==\n", srv.name);
        fflush(stdout);
        rc = target == TARGET_RILLD ? start_rilld(o, &srv, bindir) : start_mock(o, &srv, bindir);
        if (rc == 0) {
                printf("  server pid %d, bootstrap %s, data and log in %s\n", (int)srv.pid,
                       srv.bootstrap, srv.dir);
                fflush(stdout);
                rc = create_topic(o, &srv);
        }
        if (rc == 0)
                start_profiler(o, &srv);
        if (rc == 0 && o->do_produce)
                rc = phase_produce(o, &srv, value, r);
        if (rc == 0 && o->do_consume)
                rc = phase_consume(o, &srv, r);
        if (rc == 0 && o->do_latency)
                rc = phase_latency(o, &srv, value, r);
        if (srv.pid > 0 && !srv.exited)
                r->rss_mb = proc_peak_rss_mb(srv.pid);
        print_target(o, srv.name, r);
        if (stop_server(o, &srv) != 0)
                rc = -1;
        if (rc != 0)
                r->failed = true;
        if (o->keep || rc != 0)
                printf("  kept %s\n", srv.dir);
        else
                rill__rmtree(srv.dir);
        rill__free(srv.dir);
        rill__free(srv.log_path);
        return rc;
}

static void
print_machine(const bench_opts_t *o)
{
        char model[256] = "unknown", line[512], date[64];
        struct utsname u;
        time_t t = time(NULL);
        FILE *fp = fopen("/proc/cpuinfo", "re");

        if (fp) {
                while (fgets(line, sizeof(line), fp)) {
                        char *colon = strchr(line, ':');
                        if (!strncmp(line, "model name", 10) && colon) {
                                snprintf(model, sizeof(model), "%s", colon + 2);
                                model[strcspn(model, "\n")] = '\0';
                                break;
                        }
                }
                fclose(fp);
        }
        strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S %Z", localtime(&t));
        if (uname(&u) != 0)
                memset(&u, 0, sizeof(u));
        printf("bench-broker: %s\n", date);
        printf("machine: %ld CPUs (nproc), %s, %s %s %s, librdkafka %s\n",
               sysconf(_SC_NPROCESSORS_ONLN), model, u.sysname, u.release, u.machine,
               rd_kafka_version_str());
        fp = fopen("/proc/loadavg", "re");
        if (fp) {
                if (fgets(line, sizeof(line), fp)) {
                        line[strcspn(line, "\n")] = '\0';
                        printf("load average at start (1/5/15 min, runnable/total, last pid): %s\n",
                               line);
                }
                fclose(fp);
        }
        printf("settings: --count %ld --value-size %d --key-size %d --acks %s --partitions %d "
               "--linger-ms %g --latency-count %ld (warm-up %ld)\n",
               o->count, o->value_size, o->key_size, o->acks, o->partitions, o->linger_ms,
               o->latency_count, o->latency_warmup);
        if (o->pin)
                printf("pinned: server on CPU %ld, client on CPU 0-%ld\n",
                       sysconf(_SC_NPROCESSORS_ONLN) - 1, sysconf(_SC_NPROCESSORS_ONLN) - 2);
        printf("payload per throughput phase: %.1f MB (keys + values; MB = 10^6 bytes)\n", mb(o));
        fflush(stdout);
}

/** One table row: the two values and their ratio (blank where missing). */
static void
row(const char *label, const char *fmt, double a, double b)
{
        char sa[32] = "-", sb[32] = "-", sr[32] = "-";

        if (!isnan(a))
                snprintf(sa, sizeof(sa), fmt, a);
        if (!isnan(b))
                snprintf(sb, sizeof(sb), fmt, b);
        if (!isnan(a) && !isnan(b) && b != 0)
                snprintf(sr, sizeof(sr), "%.2f", a / b);
        printf("| %-32s | %12s | %12s | %10s |\n", label, sa, sb, sr);
}

static void
print_table(const bench_opts_t *o, const bench_result_t *res)
{
        const bench_result_t *a = &res[TARGET_RILLD], *b = &res[TARGET_MOCK];
        double gb = mb(o) / 1000.0;
        double v[2][15];

        for (int t = 0; t < TARGET_COUNT; t++) {
                const bench_result_t *r = &res[t];
                v[t][0] = (double)o->count / r->produce_s;
                v[t][1] = mb(o) / r->produce_s;
                v[t][2] = r->produce_cpu_s / gb;
                v[t][3] = (double)r->consume_n / r->consume_s;
                v[t][4] = rec_mb(o, r->consume_n) / r->consume_s;
                v[t][5] = r->consume_cpu_s / (rec_mb(o, r->consume_n) / 1000.0);
                v[t][6] = r->lat_p50_us;
                v[t][7] = r->lat_p99_us;
                v[t][8] = r->lat_p999_us;
                v[t][9] = r->lat_mean_us;
                v[t][10] = r->lat_n > 0 ? r->lat_cpu_s * 1e6 / (double)r->lat_n : NAN;
                v[t][11] = r->rss_mb;
                v[t][12] = r->produce_client_cpu_s / gb;
                v[t][13] = r->consume_client_cpu_s / (rec_mb(o, r->consume_n) / 1000.0);
                v[t][14] = r->lat_n > 0 ? r->lat_client_cpu_s * 1e6 / (double)r->lat_n : NAN;
                if (!r->ran)
                        for (int i = 0; i < 15; i++)
                                v[t][i] = NAN;
        }
        (void)a;
        (void)b;
        printf("\n== results (acks=%s, %d partitions, %d-byte values, linger.ms=%g%s) ==\n\n",
               o->acks, o->partitions, o->value_size, o->linger_ms,
               o->repeat > 1 ? "; medians of the runs" : "");
        printf("| %-32s | %12s | %12s | %10s |\n", "metric", "rilld", "mock", "rilld/mock");
        printf("|%s|%s|%s|%s|\n", "----------------------------------", "-------------:",
               "-------------:", "-----------:");
        row("produce msgs/s", "%.0f", v[0][0], v[1][0]);
        row("produce MB/s", "%.1f", v[0][1], v[1][1]);
        row("produce server CPU s/GB", "%.2f", v[0][2], v[1][2]);
        row("produce client CPU s/GB", "%.2f", v[0][12], v[1][12]);
        row("consume msgs/s", "%.0f", v[0][3], v[1][3]);
        row("consume MB/s", "%.1f", v[0][4], v[1][4]);
        row("consume server CPU s/GB", "%.2f", v[0][5], v[1][5]);
        row("consume client CPU s/GB", "%.2f", v[0][13], v[1][13]);
        row("round trip p50 us", "%.0f", v[0][6], v[1][6]);
        row("round trip p99 us", "%.0f", v[0][7], v[1][7]);
        row("round trip p99.9 us", "%.0f", v[0][8], v[1][8]);
        row("round trip mean us", "%.0f", v[0][9], v[1][9]);
        row("round trip server CPU us/req", "%.1f", v[0][10], v[1][10]);
        row("round trip client CPU us/req", "%.1f", v[0][14], v[1][14]);
        row("server peak RSS MB", "%.1f", v[0][11], v[1][11]);

        if (a->ran && b->ran && !a->failed && !b->failed) {
                printf("\ntargets (reported, never asserted):\n");
                if (!isnan(v[0][0]) && !isnan(v[1][0]))
                        printf("  produce throughput >= mock's: %s (%.2fx)\n",
                               v[0][0] >= v[1][0] ? "met" : "NOT met", v[0][0] / v[1][0]);
                if (!isnan(v[0][3]) && !isnan(v[1][3]))
                        printf("  consume throughput >= mock's: %s (%.2fx)\n",
                               v[0][3] >= v[1][3] ? "met" : "NOT met", v[0][3] / v[1][3]);
                if (!isnan(v[0][6]) && !isnan(v[1][6])) {
                        printf("  round-trip p50 within 10%% of mock's: %s (%.2fx)\n",
                               v[0][6] <= 1.10 * v[1][6] ? "met" : "NOT met", v[0][6] / v[1][6]);
                        printf("  round-trip p99 within 10%% of mock's: %s (%.2fx)\n",
                               v[0][7] <= 1.10 * v[1][7] ? "met" : "NOT met", v[0][7] / v[1][7]);
                }
        }
        fflush(stdout);
}

static void
usage(FILE *fp)
{
        fprintf(fp,
"usage: bench-broker [options]\n"
"Measures rilld and librdkafka's mock cluster with librdkafka clients.\n"
"  --count N            records in the produce and consume phases (default 1000000)\n"
"  --value-size B       bytes per record value (default 100)\n"
"  --key-size B         bytes per record key, 0 for none (default 0)\n"
"  --acks all|1|0       producer acks (default all)\n"
"  --partitions P       topic partitions (default 8)\n"
"  --linger-ms MS       producer linger.ms in the produce phase (default 5)\n"
"  --latency-count N    measured round trips in the latency phase (default 10000)\n"
"  --latency-warmup N   unmeasured round trips before them (default 200)\n"
"  --phases LIST        comma list of produce,consume,latency (default all three;\n"
"                       consume needs produce)\n"
"  --repeat R           run each target R times, alternating targets, and report\n"
"                       the median of each figure (default 1)\n"
"  --target T           rilld, mock or both (default both)\n"
"  --rilld PATH         the rilld binary (default: next to bench-broker)\n"
"  --rilld-config PATH  server.properties passed to rilld (default: the source\n"
"                       tree's config/server.properties when it exists)\n"
"  --override K=V       extra rilld --override (repeatable)\n"
"  --producer K=V       extra librdkafka property for every producer (repeatable;\n"
"                       applied last, so it overrides the phase's settings)\n"
"  --consumer K=V       extra librdkafka property for the consumer (repeatable)\n"
"  --mock PATH          the rill-mock-cluster binary (default: next to bench-broker)\n"
"  --topic NAME         topic name (default bench)\n"
"  --wrapper CMD        run the server under CMD (e.g. \"valgrind --tool=callgrind\")\n"
"  --profile-cmd CMD    run CMD (via sh, %%p = server pid) once the topic exists;\n"
"                       it gets SIGINT before the server is stopped\n"
"  --pin                run the server on the last CPU and the client on the\n"
"                       others (steadier latency figures; needs 2+ CPUs)\n"
"  --keep               keep the temporary data directories\n"
"  --verbose            print the server command lines and each phase's\n"
"                       CLOCK_MONOTONIC window (for perf report --time)\n"
"Exit status: 0 on success, 1 if a server or a phase failed, 2 on bad options.\n"
"Timings never affect the exit status.\n");
}

static void
parse_phases(bench_opts_t *o, const char *list)
{
        char *copy = rill__strdup(list), *save = NULL;

        o->do_produce = o->do_consume = o->do_latency = false;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                if (!strcmp(t, "produce"))
                        o->do_produce = true;
                else if (!strcmp(t, "consume"))
                        o->do_consume = true;
                else if (!strcmp(t, "latency"))
                        o->do_latency = true;
                else
                        die_usage("unknown phase '%s'", t);
        }
        rill__free(copy);
        if (o->do_consume && !o->do_produce)
                die_usage("the consume phase reads what the produce phase wrote");
}

static void
parse_args(bench_opts_t *o, int argc, char **argv)
{
        const char *tmp = getenv("TMPDIR");

        memset(o, 0, sizeof(*o));
        o->count = 1000000;
        o->value_size = 100;
        o->acks = "all";
        o->partitions = 8;
        o->linger_ms = 5;
        o->latency_count = 10000;
        o->latency_warmup = 200;
        o->target[TARGET_RILLD] = o->target[TARGET_MOCK] = true;
        o->do_produce = o->do_consume = o->do_latency = true;
        o->topic = "bench";
        o->repeat = 1;
        o->tmp_base = tmp && *tmp ? tmp : "/tmp";

        for (int i = 1; i < argc; i++) {
                const char *a = argv[i];
                const char *v = i + 1 < argc ? argv[i + 1] : NULL;

                if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
                        usage(stdout);
                        exit(0);
                } else if (!strcmp(a, "--keep")) {
                        o->keep = true;
                        continue;
                } else if (!strcmp(a, "--verbose")) {
                        o->verbose = true;
                        continue;
                } else if (!strcmp(a, "--pin")) {
                        o->pin = true;
                        continue;
                }
                if (!v)
                        die_usage("%s needs a value", a);
                i++;
                if (!strcmp(a, "--count")) {
                        o->count = parse_long(a, v, 1, 1000000000L);
                } else if (!strcmp(a, "--value-size")) {
                        o->value_size = (int)parse_long(a, v, 0, 10000000);
                } else if (!strcmp(a, "--key-size")) {
                        o->key_size = (int)parse_long(a, v, 0, 60);
                } else if (!strcmp(a, "--acks")) {
                        if (strcmp(v, "all") && strcmp(v, "-1") && strcmp(v, "1") &&
                            strcmp(v, "0"))
                                die_usage("--acks must be all, 1 or 0");
                        o->acks = v;
                } else if (!strcmp(a, "--partitions")) {
                        o->partitions = (int)parse_long(a, v, 1, 10000);
                } else if (!strcmp(a, "--linger-ms")) {
                        o->linger_ms = (double)parse_long(a, v, 0, 900000);
                } else if (!strcmp(a, "--latency-count")) {
                        o->latency_count = parse_long(a, v, 1, 100000000L);
                } else if (!strcmp(a, "--latency-warmup")) {
                        o->latency_warmup = parse_long(a, v, 0, 100000000L);
                } else if (!strcmp(a, "--phases")) {
                        parse_phases(o, v);
                } else if (!strcmp(a, "--target")) {
                        o->target[TARGET_RILLD] = !strcmp(v, "rilld") || !strcmp(v, "both");
                        o->target[TARGET_MOCK] = !strcmp(v, "mock") || !strcmp(v, "both");
                        if (!o->target[TARGET_RILLD] && !o->target[TARGET_MOCK])
                                die_usage("--target must be rilld, mock or both");
                } else if (!strcmp(a, "--rilld")) {
                        o->rilld_path = v;
                } else if (!strcmp(a, "--rilld-config")) {
                        o->rilld_config = v;
                } else if (!strcmp(a, "--override")) {
                        if (!strchr(v, '=') || o->override_cnt >= BENCH_MAX_OVERRIDES)
                                die_usage("--override takes key=value (at most %d)",
                                          BENCH_MAX_OVERRIDES);
                        o->overrides[o->override_cnt++] = v;
                } else if (!strcmp(a, "--producer") || !strcmp(a, "--consumer")) {
                        bool prod = !strcmp(a, "--producer");
                        int *cnt = prod ? &o->producer_prop_cnt : &o->consumer_prop_cnt;

                        if (!strchr(v, '=') || strchr(v, '=') == v || *cnt >= BENCH_MAX_OVERRIDES)
                                die_usage("%s takes key=value (at most %d)", a,
                                          BENCH_MAX_OVERRIDES);
                        (prod ? o->producer_props : o->consumer_props)[(*cnt)++] = v;
                } else if (!strcmp(a, "--repeat")) {
                        o->repeat = (int)parse_long(a, v, 1, 64);
                } else if (!strcmp(a, "--mock")) {
                        o->mock_path = v;
                } else if (!strcmp(a, "--topic")) {
                        o->topic = v;
                } else if (!strcmp(a, "--wrapper")) {
                        o->wrapper = v;
                } else if (!strcmp(a, "--profile-cmd")) {
                        o->profile_cmd = v;
                } else {
                        die_usage("unknown option %s", a);
                }
        }
}

int
main(int argc, char **argv)
{
        bench_opts_t o;
        bench_result_t res[TARGET_COUNT], *runs;
        char *bindir, *value;
        uint64_t x = 0x9e3779b97f4a7c15ULL;
        int rc = 0;

        parse_args(&o, argc, argv);
        /* A broken pipe to a server must not kill the benchmark. */
        signal(SIGPIPE, SIG_IGN);
        bindir = self_dir();

        /* Incompressible value bytes (xorshift), shared by every record. */
        value = rill__malloc((size_t)o.value_size + 1);
        for (int i = 0; i < o.value_size; i++) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                value[i] = (char)(x >> 24);
        }

        if (o.pin && pin_to(false) != 0) {
                fprintf(stderr, "bench-broker: --pin needs at least 2 CPUs; not pinning\n");
                o.pin = false;
        }
        print_machine(&o);
        runs = rill__calloc((size_t)(TARGET_COUNT * o.repeat), sizeof(*runs));
        /* Alternate the targets run by run, so that a change in the load of
         * the machine affects both alike. */
        for (int rep = 0; rep < o.repeat; rep++) {
                for (int t = 0; t < TARGET_COUNT; t++) {
                        bench_result_t *r = &runs[t * o.repeat + rep];

                        result_init(r);
                        if (!o.target[t])
                                continue;
                        if (o.repeat > 1)
                                printf("\n-- run %d of %d --", rep + 1, o.repeat);
                        if (run_target(&o, t, bindir, value, r) != 0)
                                rc = 1;
                }
        }
        for (int t = 0; t < TARGET_COUNT; t++)
                result_median(&res[t], &runs[t * o.repeat], o.repeat);
        rill__free(runs);
        print_table(&o, res);
        if (rc)
                fprintf(stderr, "bench-broker: FAILED (see the errors above)\n");
        rill__free(value);
        rill__free(bindir);
        return rc;
}
