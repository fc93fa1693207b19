/*
 * rill_test_broker.c - starting brokers for tests (in-process and rilld). See rill_test.h.
 */
#include "rill_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

rill_broker_t *
rill_test_broker_start(const char *dir, const char *const *overrides)
{
        char err[512];
        rill_broker_conf_t *conf = rill_broker_conf_new();
        rill_broker_t *b;

        if (rill_broker_conf_set(conf, "listeners", "PLAINTEXT://127.0.0.1:0", err, sizeof(err)) ||
            rill_broker_conf_set(conf, "log.dirs", dir, err, sizeof(err)) ||
            rill_broker_conf_set(conf, "group.initial.rebalance.delay.ms", "0", err, sizeof(err)) ||
            rill_broker_conf_set(conf, "offsets.topic.num.partitions", "4", err, sizeof(err)))
                goto fail;
        for (int i = 0; overrides && overrides[i]; i++) {
                char key[256];
                const char *eq = strchr(overrides[i], '=');
                if (!eq || (size_t)(eq - overrides[i]) >= sizeof(key)) {
                        snprintf(err, sizeof(err), "bad override %s", overrides[i]);
                        goto fail;
                }
                memcpy(key, overrides[i], (size_t)(eq - overrides[i]));
                key[eq - overrides[i]] = '\0';
                if (rill_broker_conf_set(conf, key, eq + 1, err, sizeof(err)))
                        goto fail;
        }
        b = rill_broker_new(conf, err, sizeof(err));
        if (!b)
                goto fail;
        if (rill_broker_start(b, err, sizeof(err)) != RILL_OK) {
                rill_broker_destroy(b);
                fprintf(stderr, "rill_test_broker_start: %s\n", err);
                return NULL;
        }
        return b;
fail:
        fprintf(stderr, "rill_test_broker_start: %s\n", err);
        rill_broker_conf_destroy(conf);
        return NULL;
}

pid_t
rill_test_rilld_spawn(const char *dir, int *port, const char *const *overrides)
{
        char listeners[64], logdirs[4200];
        const char *argv[64];
        char *ovr[64];
        int argc = 0, novr = 0;
        pid_t pid;

        for (int attempt = 0; attempt < 5; attempt++) {
                *port = rill_test_free_port();
                snprintf(listeners, sizeof(listeners), "listeners=PLAINTEXT://127.0.0.1:%d", *port);
                snprintf(logdirs, sizeof(logdirs), "log.dirs=%s", dir);
                argc = 0;
                novr = 0;
                argv[argc++] = RILL_BIN_DIR "/rilld";
                argv[argc++] = RILL_SOURCE_DIR "/config/server.properties";
                argv[argc++] = "--override";
                argv[argc++] = listeners;
                argv[argc++] = "--override";
                argv[argc++] = logdirs;
                argv[argc++] = "--override";
                argv[argc++] = "group.initial.rebalance.delay.ms=0";
                argv[argc++] = "--override";
                argv[argc++] = "offsets.topic.num.partitions=4";
                for (int i = 0; overrides && overrides[i] && argc < 60; i++) {
                        argv[argc++] = "--override";
                        argv[argc++] = overrides[i];
                }
                argv[argc] = NULL;
                (void)ovr;
                (void)novr;
                pid = fork();
                if (pid < 0)
                        return -1;
                if (pid == 0) {
                        execv(argv[0], (char *const *)argv);
                        perror("execv rilld");
                        _exit(127);
                }
                int64_t deadline = rill_test_now_ms() + 15000;
                while (rill_test_now_ms() < deadline) {
                        int st;
                        if (waitpid(pid, &st, WNOHANG) == pid)
                                break; /* exited: maybe the port was taken; retry */
                        if (rill_test_port_open(*port))
                                return pid;
                        rill_test_sleep_ms(10);
                }
                kill(pid, SIGKILL);
                waitpid(pid, NULL, 0);
        }
        return -1;
}

int
rill_test_rilld_stop(pid_t pid, int sig)
{
        int st = 0;
        if (pid <= 0)
                return -1;
        kill(pid, sig);
        if (waitpid(pid, &st, 0) != pid)
                return -1;
        return st;
}
