/*
 * fuzz_config.c - fuzz target for server.properties parsing
 * (rill_broker_conf_load_file, broker/config.c) and the topic-level config
 * validators it leads to.
 *
 * The input is written to an anonymous memory file (memfd) and loaded by its
 * /proc/self/fd path, exactly as rilld loads its file. Then:
 *   - a failed load must leave the configuration untouched (the loader
 *     promises all-or-nothing) and name the problem in errstr;
 *   - after a successful load, every known key reads back
 *     (rill_broker_conf_get), every key/value that was set can be set again
 *     on a fresh configuration, and every value of a topic-level key is fed
 *     to rill__topic_conf_set as AlterConfigs would;
 *   - rill_broker_new() checks the whole configuration (it opens no file and
 *     binds no socket before rill_broker_start, so arbitrary log.dirs and
 *     listeners are harmless here).
 */
#include "fuzz.h"

#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <rill/broker.h>

#include "config.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
        (void)argc;
        (void)argv;
        rill_fuzz_quiet_logs();
        return 0;
}

static void
check_loaded(rill_broker_conf_t *conf)
{
        char buf[4096], err[512];
        bool ignored;
        const char *key;
        rill_broker_conf_t *again = rill_broker_conf_new();
        rill__log_conf_t lc;
        int nkeys = 0;
        const rill__topic_conf_key_t *tkeys = rill__topic_conf_keys(&nkeys);

        for (int i = 0; (key = rill__broker_conf_key_at(i, &ignored)); i++) {
                rill_err_t e = rill_broker_conf_get(conf, key, buf, sizeof(buf));
                RILL_FUZZ_CHECK(e == RILL_OK || e == RILL_ERR_NOT_FOUND, "get %s: %d", key, (int)e);
                RILL_FUZZ_CHECK(memchr(buf, '\0', sizeof(buf)) != NULL || e != RILL_OK,
                                "unterminated value of %s", key);
        }
        rill__log_conf_defaults(&lc);
        for (int i = 0; i < conf->kv_cnt; i++) {
                const char *k = conf->kv[i].key, *v = conf->kv[i].value;
                rill_err_t e;
                RILL_FUZZ_CHECK(k && v, "kv %d has a NULL key or value", i);
                e = rill_broker_conf_set(again, k, v, err, sizeof(err));
                RILL_FUZZ_CHECK(e == RILL_OK, "key %s=%s loaded but cannot be set again: %s", k, v,
                                err);
                RILL_FUZZ_CHECK(rill_broker_conf_get(conf, k, buf, sizeof(buf)) == RILL_OK,
                                "explicitly set key %s does not read back", k);
                if (rill__topic_conf_key_find(k)) {
                        e = rill__topic_conf_set(&lc, k, v, err, sizeof(err));
                        RILL_FUZZ_CHECK(e == RILL_OK || e == RILL_ERR_CONFIG ||
                                        e == RILL_ERR_NOT_FOUND, "topic key %s: %d", k, (int)e);
                }
                /* The same value as a topic-level setting of every topic key:
                 * that is what CreateTopics/AlterConfigs hand to the validators. */
                for (int t = 0; t < nkeys && i < 8; t++) {
                        rill__log_conf_t tmp = lc;
                        (void)rill__topic_conf_set(&tmp, tkeys[t].name, v, err, sizeof(err));
                        (void)rill__topic_conf_get(&tmp, tkeys[t].name, buf, sizeof(buf));
                }
        }
        for (int t = 0; t < nkeys; t++) {
                rill_err_t e = rill__topic_conf_get(&lc, tkeys[t].name, buf, sizeof(buf));
                RILL_FUZZ_CHECK(e == RILL_OK, "topic key %s does not read back", tkeys[t].name);
        }
        rill_broker_conf_destroy(again);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char path[64], err[512], before[64], after[64];
        rill_broker_conf_t *conf;
        rill_broker_t *b;
        rill_err_t e;
        int fd = memfd_create("fuzz-server.properties", MFD_CLOEXEC);

        RILL_FUZZ_CHECK(fd >= 0, "memfd_create failed");
        for (size_t off = 0; off < size;) {
                ssize_t w = write(fd, data + off, size - off);
                RILL_FUZZ_CHECK(w > 0, "memfd write failed");
                off += (size_t)w;
        }
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);

        conf = rill_broker_conf_new();
        /* A value the file may override; a failed load must not change it. */
        RILL_FUZZ_CHECK(rill_broker_conf_set(conf, "num.partitions", "7", err, sizeof(err)) ==
                        RILL_OK, "%s", err);
        RILL_FUZZ_CHECK(rill_broker_conf_get(conf, "num.partitions", before, sizeof(before)) ==
                        RILL_OK, "num.partitions");
        err[0] = '\0';
        e = rill_broker_conf_load_file(conf, path, err, sizeof(err));
        close(fd);
        RILL_FUZZ_CHECK(e == RILL_OK || e == RILL_ERR_CONFIG, "load returned %d (%s)", (int)e, err);
        if (e != RILL_OK) {
                RILL_FUZZ_CHECK(err[0] != '\0', "failed load without a message");
                RILL_FUZZ_CHECK(rill_broker_conf_get(conf, "num.partitions", after,
                                                     sizeof(after)) == RILL_OK &&
                                !strcmp(before, after),
                                "failed load changed num.partitions from %s to %s", before,
                                after);
                rill_broker_conf_destroy(conf);
                return 0;
        }
        check_loaded(conf);
        b = rill_broker_new(conf, err, sizeof(err));
        if (b)
                rill_broker_destroy(b);
        else
                rill_broker_conf_destroy(conf);
        return 0;
}
