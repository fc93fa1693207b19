/*
 * rilld.c - the Rill broker daemon.
 *
 *   rilld path/to/server.properties [--override key=value ...]
 *   rilld --version | --help
 *
 * A thin main around include/rill/broker.h: loads the properties file,
 * applies the overrides in order (later ones win), starts the broker and
 * waits for SIGTERM or SIGINT with sigwait() (the signals are blocked in
 * every thread, so no handler runs inside the broker), then stops the broker
 * cleanly - connections closed, logs flushed, clean-shutdown markers written
 * - and exits 0. Configuration errors are printed on stderr naming the key
 * and exit with status 1; a broker that fails to start exits with status 1
 * too. At start it raises its soft limit on open files to the hard limit
 * (one descriptor per partition), and logs the limit.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <rill/broker.h>
#include <rill/log.h>

#include "rill_log_int.h"

static void
usage(FILE *f)
{
        fprintf(f,
                "Usage: rilld path/to/server.properties [--override key=value ...]\n"
                "       rilld --version\n"
                "       rilld --help\n"
                "\n"
                "Starts a Rill broker (Kafka wire protocol) with the given server.properties.\n"
                "Each --override sets one property after the file is read. SIGTERM or SIGINT\n"
                "stops the broker cleanly. The log level comes from RILL_LOG_LEVEL\n"
                "(error, warn, info, debug, trace; default info).\n");
}

/*
 * Raises the soft limit on open files to the hard limit: every partition
 * holds a descriptor for its active segment (and the log cleaner and
 * flusher hold a few more for a while), so the common default soft limit
 * of 1024 caps a broker at well under a thousand partitions. An unlimited
 * hard limit is capped at the kernel's fs.nr_open. Logs the result.
 */
static void
raise_nofile_limit(void)
{
        struct rlimit rl;
        rlim_t want;
        if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
                RILL_LOG_W("rilld", "getrlimit(RLIMIT_NOFILE): %s", strerror(errno));
                return;
        }
        want = rl.rlim_max;
        if (want == RLIM_INFINITY) {
                FILE *f = fopen("/proc/sys/fs/nr_open", "r");
                unsigned long long v = 0;
                if (!f || fscanf(f, "%llu", &v) != 1 || v == 0)
                        v = 1048576;
                if (f)
                        fclose(f);
                want = (rlim_t)v;
        }
        if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
                rlim_t old = rl.rlim_cur;
                rl.rlim_cur = want;
                if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
                        RILL_LOG_W("rilld", "cannot raise the open files limit from %llu to %llu: %s",
                                   (unsigned long long)old, (unsigned long long)want, strerror(errno));
                        return;
                }
                RILL_LOG_I("rilld", "open files limit raised from %llu to %llu", (unsigned long long)old,
                           (unsigned long long)want);
                return;
        }
        RILL_LOG_I("rilld", "open files limit: %llu",
                   rl.rlim_cur == RLIM_INFINITY ? (unsigned long long)want
                                                : (unsigned long long)rl.rlim_cur);
}

int
main(int argc, char **argv)
{
        char err[1024] = "";
        char listeners[512], dirs[1024];
        const char *file = NULL;
        rill_broker_conf_t *conf;
        rill_broker_t *b;
        sigset_t set;
        int sig = 0;

        for (int i = 1; i < argc; i++) {
                if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
                        usage(stdout);
                        return 0;
                }
                if (!strcmp(argv[i], "--version")) {
                        printf("rilld %s\n", RILL_VERSION_STR);
                        return 0;
                }
        }

        conf = rill_broker_conf_new();
        for (int i = 1; i < argc; i++) {
                if (!strcmp(argv[i], "--override")) {
                        const char *kv = i + 1 < argc ? argv[++i] : NULL;
                        const char *eq = kv ? strchr(kv, '=') : NULL;
                        char key[256];
                        if (!eq || eq == kv || (size_t)(eq - kv) >= sizeof(key)) {
                                fprintf(stderr, "rilld: --override needs key=value, got '%s'\n",
                                        kv ? kv : "");
                                rill_broker_conf_destroy(conf);
                                return 1;
                        }
                        if (!file) {
                                /* Overrides apply after the file: load it first. */
                                fprintf(stderr, "rilld: the properties file must come before "
                                        "--override\n");
                                rill_broker_conf_destroy(conf);
                                return 1;
                        }
                        memcpy(key, kv, (size_t)(eq - kv));
                        key[eq - kv] = '\0';
                        if (rill_broker_conf_set(conf, key, eq + 1, err, sizeof(err)) != RILL_OK) {
                                fprintf(stderr, "rilld: --override %s: %s\n", key, err);
                                rill_broker_conf_destroy(conf);
                                return 1;
                        }
                } else if (argv[i][0] == '-' && argv[i][1]) {
                        fprintf(stderr, "rilld: unknown option %s\n", argv[i]);
                        usage(stderr);
                        rill_broker_conf_destroy(conf);
                        return 1;
                } else if (!file) {
                        file = argv[i];
                        if (rill_broker_conf_load_file(conf, file, err, sizeof(err)) != RILL_OK) {
                                fprintf(stderr, "rilld: %s\n", err);
                                rill_broker_conf_destroy(conf);
                                return 1;
                        }
                } else {
                        fprintf(stderr, "rilld: unexpected argument %s\n", argv[i]);
                        usage(stderr);
                        rill_broker_conf_destroy(conf);
                        return 1;
                }
        }
        if (!file) {
                usage(stderr);
                rill_broker_conf_destroy(conf);
                return 1;
        }

        raise_nofile_limit();

        /* Block the stop signals before any thread exists so that every
         * broker thread inherits the mask and only sigwait() sees them. */
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        pthread_sigmask(SIG_BLOCK, &set, NULL);
        signal(SIGPIPE, SIG_IGN);

        /* The broker takes conf: read what the start message shows first. */
        if (rill_broker_conf_get(conf, "listeners", listeners, sizeof(listeners)) != RILL_OK)
                snprintf(listeners, sizeof(listeners), "?");
        if (rill_broker_conf_get(conf, "log.dirs", dirs, sizeof(dirs)) != RILL_OK)
                snprintf(dirs, sizeof(dirs), "?");
        b = rill_broker_new(conf, err, sizeof(err));
        if (!b) {
                fprintf(stderr, "rilld: %s\n", err);
                rill_broker_conf_destroy(conf);
                return 1;
        }
        if (rill_broker_start(b, err, sizeof(err)) != RILL_OK) {
                fprintf(stderr, "rilld: %s\n", err);
                rill_broker_destroy(b);
                return 1;
        }
        RILL_LOG_I("rilld", "started (node.id=%d, listeners=%s, advertised=%s, log.dirs=%s)",
                   rill_broker_node_id(b), listeners, rill_broker_bootstrap(b), dirs);

        while (sigwait(&set, &sig) != 0)
                ;
        RILL_LOG_I("rilld", "received %s, stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        rill_broker_destroy(b);
        RILL_LOG_I("rilld", "stopped cleanly");
        return 0;
}
