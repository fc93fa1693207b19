/*
 * example_util.c - command-line and signal handling shared by the examples.
 *
 * Signals are blocked in every thread and collected with sigtimedwait() in
 * the main thread, so a SIGINT or SIGTERM leads to rill_app_close() (commit,
 * flush, checkpoint) instead of killing the process mid-write.
 */
#include "example_util.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void
usage(const char *prog)
{
        fprintf(stderr,
                "usage: %s --bootstrap-server HOST:PORT [--application-id ID] [--state-dir DIR]\n"
                "          [--threads N] [--commit-interval-ms MS] [--input-topic T]\n"
                "          [--output-topic T] [--config KEY=VALUE]...\n"
                "  --config passes any Rill setting, or a librdkafka property with a\n"
                "  consumer./producer./admin./kafka. prefix (repeatable)\n",
                prog);
        exit(2);
}

void
example_parse(int argc, char **argv, const char *default_app_id, example_opts_t *o)
{
        memset(o, 0, sizeof(*o));
        o->app_id = default_app_id;
        for (int i = 1; i < argc; i++) {
                const char **dst = NULL;
                if (!strcmp(argv[i], "--bootstrap-server") || !strcmp(argv[i], "--bootstrap-servers"))
                        dst = &o->bootstrap;
                else if (!strcmp(argv[i], "--application-id"))
                        dst = &o->app_id;
                else if (!strcmp(argv[i], "--state-dir"))
                        dst = &o->state_dir;
                else if (!strcmp(argv[i], "--threads"))
                        dst = &o->threads;
                else if (!strcmp(argv[i], "--commit-interval-ms"))
                        dst = &o->commit_ms;
                else if (!strcmp(argv[i], "--input-topic"))
                        dst = &o->input_topic;
                else if (!strcmp(argv[i], "--output-topic"))
                        dst = &o->output_topic;
                else if (!strcmp(argv[i], "--config") && o->nconfig < 32)
                        dst = &o->config[o->nconfig++];
                else
                        usage(argv[0]);
                if (++i >= argc)
                        usage(argv[0]);
                *dst = argv[i];
        }
        if (!o->bootstrap)
                usage(argv[0]);
}

void
example_block_signals(void)
{
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGTERM);
        pthread_sigmask(SIG_BLOCK, &set, NULL);
}

static void
on_state(rill_app_t *app, rill_app_state_t s, rill_app_state_t old, void *opaque)
{
        fprintf(stderr, "state: %s -> %s\n", rill_app_state_name(old), rill_app_state_name(s));
}

int
example_run(rill_topology_t *topo, const example_opts_t *o)
{
        char err[512];
        rill_conf_t *conf = rill_conf_new();
        rill_app_t *app;
        sigset_t set;
        int rc = 0;

        example_block_signals();
        if (rill_conf_set(conf, "application.id", o->app_id, err, sizeof(err)) ||
            rill_conf_set(conf, "bootstrap.servers", o->bootstrap, err, sizeof(err)) ||
            (o->state_dir && rill_conf_set(conf, "state.dir", o->state_dir, err, sizeof(err))) ||
            (o->threads && rill_conf_set(conf, "num.stream.threads", o->threads, err, sizeof(err))) ||
            (o->commit_ms &&
             rill_conf_set(conf, "commit.interval.ms", o->commit_ms, err, sizeof(err)))) {
                fprintf(stderr, "configuration: %s\n", err);
                rill_conf_destroy(conf);
                return 2;
        }
        for (int i = 0; i < o->nconfig; i++) {
                char key[256];
                const char *eq = strchr(o->config[i], '=');
                if (!eq || (size_t)(eq - o->config[i]) >= sizeof(key)) {
                        fprintf(stderr, "--config needs KEY=VALUE, got \"%s\"\n", o->config[i]);
                        rill_conf_destroy(conf);
                        return 2;
                }
                memcpy(key, o->config[i], (size_t)(eq - o->config[i]));
                key[eq - o->config[i]] = '\0';
                if (rill_conf_set(conf, key, eq + 1, err, sizeof(err))) {
                        fprintf(stderr, "configuration: %s\n", err);
                        rill_conf_destroy(conf);
                        return 2;
                }
        }
        app = rill_app_new(topo, conf, err, sizeof(err));
        if (!app) {
                fprintf(stderr, "cannot create the application: %s\n", err);
                rill_conf_destroy(conf);
                return 1;
        }
        rill_app_set_state_cb(app, on_state, NULL);
        if (rill_app_start(app, err, sizeof(err)) != RILL_OK) {
                fprintf(stderr, "cannot start: %s\n", err);
                rill_app_destroy(app);
                return 1;
        }
        sigemptyset(&set);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGTERM);
        for (;;) {
                struct timespec ts = {0, 200 * 1000000L};
                int sig = sigtimedwait(&set, NULL, &ts);
                rill_app_state_t st = rill_app_state(app);
                if (sig == SIGINT || sig == SIGTERM) {
                        fprintf(stderr, "signal %d: closing\n", sig);
                        break;
                }
                if (st == RILL_APP_ERROR || st == RILL_APP_PENDING_ERROR ||
                    st == RILL_APP_NOT_RUNNING) {
                        rill_app_last_error(app, err, sizeof(err));
                        fprintf(stderr, "the application stopped: %s\n", err);
                        rc = 1;
                        break;
                }
        }
        if (rill_app_close(app, 30000) != RILL_OK) {
                fprintf(stderr, "close: some output was not acknowledged in time\n");
                rc = 1;
        }
        if (rill_app_state(app) == RILL_APP_ERROR)
                rc = 1;
        fprintf(stderr, "processed %llu records\n",
                (unsigned long long)rill_app_records_processed(app));
        rill_app_destroy(app);
        return rc;
}

int
example_build_and_run(rill_builder_t *b, const example_opts_t *o)
{
        char err[512];
        rill_topology_t *topo = rill_builder_build(b, err, sizeof(err));
        int rc;

        rill_builder_destroy(b); /* frees every handle; the topology stays */
        if (!topo) {
                fprintf(stderr, "topology: %s\n", err);
                return 1;
        }
        rc = example_run(topo, o);
        rill_topology_destroy(topo);
        return rc;
}
