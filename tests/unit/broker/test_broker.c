/*
 * test_broker.c - the broker's lifecycle and data directory (broker/broker.c,
 * broker/daemon/rilld.c).
 *
 * Each test starts its own in-process broker on a fresh directory and talks
 * to it over raw TCP (raw_client.h):
 *   - topics, partition counts, topic configs and data survive stop/start and
 *     restart, on the same port;
 *   - a killed broker (no clean shutdown) recovers its data at the next start;
 *   - two brokers cannot share a data directory, and a directory written by
 *     another node.id is refused, both with clear messages;
 *   - partition directories of no topic (an interrupted create or delete) are
 *     removed at start, other directories are left alone;
 *   - deleting a topic answers a fetch parked on it, and a topic re-created
 *     under the same name starts empty;
 *   - idle connections are closed after connections.max.idle.ms;
 *   - rilld: --version, configuration errors (exit 1, the key named on
 *     stderr), serving, and a clean exit 0 on SIGTERM.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "batch.h"
#include "broker_test_util.h"
#include "codec.h"
#include "kerr.h"
#include "rill_test.h"
#include "rill_util.h"

/* ---- small protocol helpers ---- */

/* DescribeConfigs v0 of one topic key; copies the value into @p out. */
static bool
describe_topic_config(int fd, const char *topic, const char *key, char *out, size_t size)
{
        rill__wbuf_t w;
        resp_t rs;
        bool found = false;
        rill__wb_init(&w, 128);
        rill__wb_array(&w, 1, false);
        rill__wb_i8(&w, 2); /* TOPIC */
        rill__wb_cstr(&w, topic, false);
        rill__wb_array(&w, 1, false);
        rill__wb_cstr(&w, key, false);
        if (tc_call(fd, KAPI_DESCRIBE_CONFIGS, 0, false, false, &w, &rs)) {
                rill__rbuf_t *r = &rs.r;
                int32_t n;
                (void)rill__rb_i32(r); /* throttle */
                if (rill__rb_array(r, false) == 1 && rill__rb_i16(r) == KERR_NONE) {
                        (void)rill__rb_str(r, false); /* message */
                        (void)rill__rb_i8(r);
                        (void)rill__rb_str(r, false);
                        n = rill__rb_array(r, false);
                        for (int32_t i = 0; i < n && !r->err; i++) {
                                rill__str_t k = rill__rb_str(r, false), v = rill__rb_str(r, false);
                                (void)rill__rb_bool(r);
                                (void)rill__rb_bool(r);
                                (void)rill__rb_bool(r);
                                if (rill__str_eq(k, key) && v.len >= 0) {
                                        snprintf(out, size, "%.*s", v.len, v.ptr);
                                        found = true;
                                }
                        }
                }
        }
        resp_free(&rs);
        rill__wb_free(&w);
        return found;
}

static void
build_fetch11(rill__wbuf_t *w, int32_t max_wait, const char *topic, int64_t offset)
{
        rill__wb_i32(w, -1);
        rill__wb_i32(w, max_wait);
        rill__wb_i32(w, 1);
        rill__wb_i32(w, 1 << 20);
        rill__wb_i8(w, 1);
        rill__wb_i32(w, 0);
        rill__wb_i32(w, -1);
        rill__wb_array(w, 1, false);
        rill__wb_cstr(w, topic, false);
        rill__wb_array(w, 1, false);
        rill__wb_i32(w, 0);
        rill__wb_i32(w, -1);
        rill__wb_i64(w, offset);
        rill__wb_i64(w, -1);
        rill__wb_i32(w, 1 << 20);
        rill__wb_array(w, 0, false);
        rill__wb_cstr(w, "", false);
}

/* Decodes a Fetch v11 response for one partition: error and record count. */
static bool
decode_fetch11(rill__rbuf_t *r, int16_t *err, int *records)
{
        rill__str_t recs;
        const uint8_t *p;
        size_t left;
        (void)rill__rb_i32(r);
        (void)rill__rb_i16(r);
        (void)rill__rb_i32(r);
        if (rill__rb_array(r, false) != 1)
                return false;
        (void)rill__rb_str(r, false);
        if (rill__rb_array(r, false) != 1)
                return false;
        (void)rill__rb_i32(r);
        *err = rill__rb_i16(r);
        (void)rill__rb_i64(r);
        (void)rill__rb_i64(r);
        (void)rill__rb_i64(r);
        if (rill__rb_array(r, false) > 0)
                return false;
        (void)rill__rb_i32(r);
        recs = rill__rb_bytes(r, false);
        if (r->err)
                return false;
        *records = 0;
        p = (const uint8_t *)recs.ptr;
        left = recs.len > 0 ? (size_t)recs.len : 0;
        while (left > 0) {
                rill__batch_hdr_t h;
                if (rill__batch_validate(p, left, NULL, 0) != RILL_OK)
                        return false;
                rill__batch_hdr_parse(p, &h);
                *records += h.records_count;
                left -= rill__batch_size(p);
                p += rill__batch_size(p);
        }
        return true;
}

static rill_broker_t *
new_broker(const char *dir, int32_t node_id, char *err, size_t errsz)
{
        char id[16];
        rill_broker_conf_t *conf = rill_broker_conf_new();
        rill_broker_t *b;
        snprintf(id, sizeof(id), "%d", node_id);
        if (rill_broker_conf_set(conf, "listeners", "PLAINTEXT://127.0.0.1:0", err, errsz) ||
            rill_broker_conf_set(conf, "log.dirs", dir, err, errsz) ||
            rill_broker_conf_set(conf, "node.id", id, err, errsz)) {
                rill_broker_conf_destroy(conf);
                return NULL;
        }
        b = rill_broker_new(conf, err, errsz);
        if (!b)
                rill_broker_conf_destroy(conf);
        return b;
}

/* ---- tests ---- */

static void
test_restart_keeps_topics_and_data(void)
{
        static const char *const ovr[] = {"num.partitions=3", NULL};
        char *dir = rill_test_tmpdir("rill-brk-restart");
        rill_broker_t *b = rill_test_broker_start(dir, ovr);
        char err[512], val[64];
        int port, fd;
        CU_ASSERT_FATAL(b != NULL);
        port = rill_broker_port(b);
        CU_ASSERT(port > 0);
        fd = tc_connect_port(port);
        CU_ASSERT_FATAL(fd >= 0);
        CU_ASSERT_EQUAL(bt_create_topic(fd, "keep", 2, "retention.ms", "123456789"), KERR_NONE);
        CU_ASSERT_EQUAL(bt_produce(fd, "keep", 1, 5, "k", "value", NULL), KERR_NONE);
        CU_ASSERT_EQUAL(bt_partition_count(fd, "auto", true), 3);
        CU_ASSERT_EQUAL(bt_produce(fd, "auto", 2, 4, "k", "value", NULL), KERR_NONE);
        close(fd);

        CU_ASSERT_EQUAL(rill_broker_stop(b), RILL_OK);
        CU_ASSERT_EQUAL(rill_broker_stop(b), RILL_ERR_STATE);
        CU_ASSERT_FALSE(rill_test_port_open(port));
        CU_ASSERT_EQUAL_FATAL(rill_broker_start(b, err, sizeof(err)), RILL_OK);
        CU_ASSERT_EQUAL(rill_broker_start(b, err, sizeof(err)), RILL_ERR_STATE);
        CU_ASSERT_EQUAL(rill_broker_port(b), port); /* the port chosen first is kept */

        fd = tc_connect_port(port);
        CU_ASSERT_FATAL(fd >= 0);
        CU_ASSERT_EQUAL(bt_partition_count(fd, "keep", false), 2);
        CU_ASSERT_EQUAL(bt_partition_count(fd, "auto", false), 3);
        CU_ASSERT_EQUAL(bt_list_offset(fd, "keep", 1, -1), 5);
        CU_ASSERT_EQUAL(bt_list_offset(fd, "keep", 0, -1), 0);
        CU_ASSERT_EQUAL(bt_list_offset(fd, "auto", 2, -1), 4);
        CU_ASSERT(describe_topic_config(fd, "keep", "retention.ms", val, sizeof(val)));
        CU_ASSERT_STRING_EQUAL(val, "123456789");
        /* New appends continue after the recovered end. */
        {
                int64_t base = -1;
                CU_ASSERT_EQUAL(bt_produce(fd, "keep", 1, 1, "k", "value", &base), KERR_NONE);
                CU_ASSERT_EQUAL(base, 5);
        }
        close(fd);

        CU_ASSERT_EQUAL(rill_broker_restart(b, err, sizeof(err)), RILL_OK);
        fd = tc_connect_port(rill_broker_port(b));
        CU_ASSERT_FATAL(fd >= 0);
        CU_ASSERT_EQUAL(bt_list_offset(fd, "keep", 1, -1), 6);
        close(fd);
        rill_broker_destroy(b);
        rill_test_rmdir(dir);
        free(dir);
}

static void
test_kill_recovers(void)
{
        char *dir = rill_test_tmpdir("rill-brk-kill");
        rill_broker_t *b = rill_test_broker_start(dir, NULL);
        char err[512];
        int fd;
        CU_ASSERT_FATAL(b != NULL);
        fd = tc_connect_port(rill_broker_port(b));
        CU_ASSERT_FATAL(fd >= 0);
        CU_ASSERT_EQUAL(bt_partition_count(fd, "crash", true), 1);
        for (int i = 0; i < 10; i++)
                CU_ASSERT_EQUAL(bt_produce(fd, "crash", 0, 3, "k", "value", NULL), KERR_NONE);
        close(fd);
        CU_ASSERT_EQUAL(rill_broker_kill(b), RILL_OK);
        CU_ASSERT_EQUAL(rill_broker_kill(b), RILL_ERR_STATE);
        CU_ASSERT_EQUAL_FATAL(rill_broker_start(b, err, sizeof(err)), RILL_OK);
        fd = tc_connect_port(rill_broker_port(b));
        CU_ASSERT_FATAL(fd >= 0);
        CU_ASSERT_EQUAL(bt_list_offset(fd, "crash", 0, -1), 30);
        {
                rill__wbuf_t w;
                resp_t rs;
                int16_t ferr = -1;
                int n = -1;
                rill__wb_init(&w, 128);
                build_fetch11(&w, 0, "crash", 0);
                CU_ASSERT_FATAL(tc_call(fd, KAPI_FETCH, 11, false, false, &w, &rs));
                CU_ASSERT(decode_fetch11(&rs.r, &ferr, &n));
                CU_ASSERT_EQUAL(ferr, KERR_NONE);
                CU_ASSERT_EQUAL(n, 30);
                resp_free(&rs);
                rill__wb_free(&w);
        }
        close(fd);
        rill_broker_destroy(b);
        rill_test_rmdir(dir);
        free(dir);
}

static void
test_lock_and_node_id(void)
{
        char *dir = rill_test_tmpdir("rill-brk-lock");
        rill_broker_t *b1 = rill_test_broker_start(dir, NULL), *b2;
        char err[512] = "";
        CU_ASSERT_FATAL(b1 != NULL);

        b2 = new_broker(dir, 1, err, sizeof(err));
        CU_ASSERT_FATAL(b2 != NULL);
        CU_ASSERT_EQUAL(rill_broker_start(b2, err, sizeof(err)), RILL_ERR_IO);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "in use"));
        rill_broker_destroy(b2);
        /* The first broker is unaffected. */
        CU_ASSERT(rill_test_port_open(rill_broker_port(b1)));
        CU_ASSERT_EQUAL(rill_broker_stop(b1), RILL_OK);

        err[0] = '\0';
        b2 = new_broker(dir, 2, err, sizeof(err));
        CU_ASSERT_FATAL(b2 != NULL);
        CU_ASSERT_NOT_EQUAL(rill_broker_start(b2, err, sizeof(err)), RILL_OK);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "node.id"));
        rill_broker_destroy(b2);

        /* The right node still starts (the failed starts released the lock). */
        CU_ASSERT_EQUAL(rill_broker_start(b1, err, sizeof(err)), RILL_OK);
        rill_broker_destroy(b1);
        rill_test_rmdir(dir);
        free(dir);
}

static bool
path_exists(const char *dir, const char *name)
{
        struct stat st;
        char *p = malloc(strlen(dir) + strlen(name) + 2);
        bool ok;
        sprintf(p, "%s/%s", dir, name);
        ok = stat(p, &st) == 0;
        free(p);
        return ok;
}

static void
touch(const char *dir, const char *sub, const char *file)
{
        char p[4096];
        int fd;
        snprintf(p, sizeof(p), "%s/%s", dir, sub);
        mkdir(p, 0755);
        snprintf(p, sizeof(p), "%s/%s/%s", dir, sub, file);
        fd = open(p, O_WRONLY | O_CREAT, 0644);
        if (fd >= 0)
                close(fd);
}

static void
test_orphan_partition_dirs(void)
{
        char *dir = rill_test_tmpdir("rill-brk-orphan");
        rill_broker_t *b = rill_test_broker_start(dir, NULL);
        char err[512];
        int fd;
        CU_ASSERT_FATAL(b != NULL);
        fd = tc_connect_port(rill_broker_port(b));
        CU_ASSERT_FATAL(fd >= 0);
        CU_ASSERT_EQUAL(bt_partition_count(fd, "real", true), 1);
        close(fd);
        CU_ASSERT_EQUAL(rill_broker_stop(b), RILL_OK);

        touch(dir, "ghost-0", "00000000000000000000.log");  /* a deleted topic's leftovers */
        touch(dir, "real-4", "00000000000000000000.index"); /* beyond the partition count */
        touch(dir, "notes-1", "readme.txt");                /* not ours: left alone */
        CU_ASSERT_EQUAL_FATAL(rill_broker_start(b, err, sizeof(err)), RILL_OK);
        CU_ASSERT_FALSE(path_exists(dir, "ghost-0"));
        CU_ASSERT_FALSE(path_exists(dir, "real-4"));
        CU_ASSERT(path_exists(dir, "real-0"));
        CU_ASSERT(path_exists(dir, "notes-1/readme.txt"));
        rill_broker_destroy(b);
        rill_test_rmdir(dir);
        free(dir);
}

static void
test_delete_answers_parked_fetch(void)
{
        char *dir = rill_test_tmpdir("rill-brk-del");
        rill_broker_t *b = rill_test_broker_start(dir, NULL);
        rill__wbuf_t w;
        uint8_t *buf;
        size_t len = 0;
        int fa, fb;
        CU_ASSERT_FATAL(b != NULL);
        fa = tc_connect_port(rill_broker_port(b));
        fb = tc_connect_port(rill_broker_port(b));
        CU_ASSERT_FATAL(fa >= 0 && fb >= 0);
        CU_ASSERT_EQUAL(bt_partition_count(fb, "gone", true), 1);
        CU_ASSERT_EQUAL(bt_produce(fb, "gone", 0, 2, "k", "value", NULL), KERR_NONE);

        rill__wb_init(&w, 128);
        build_fetch11(&w, 30000, "gone", 2); /* parks: nothing past offset 2 */
        CU_ASSERT_FATAL(tc_send(fa, KAPI_FETCH, 11, 777, false, &w));
        CU_ASSERT_EQUAL(bt_delete_topic(fb, "gone"), KERR_NONE);
        buf = tc_recv(fa, &len);
        CU_ASSERT_FATAL(buf != NULL);
        {
                rill__rbuf_t r;
                int16_t ferr = -1;
                int n = -1;
                rill__rb_init(&r, buf, len);
                CU_ASSERT_EQUAL(rill__rb_i32(&r), 777);
                CU_ASSERT(decode_fetch11(&r, &ferr, &n));
                CU_ASSERT_EQUAL(ferr, KERR_UNKNOWN_TOPIC_OR_PARTITION);
                CU_ASSERT_EQUAL(rill__rb_remaining(&r), 0);
        }
        free(buf);
        CU_ASSERT_FALSE(path_exists(dir, "gone-0"));

        /* Re-created under the same name, the topic starts empty. */
        CU_ASSERT_EQUAL(bt_partition_count(fb, "gone", true), 1);
        CU_ASSERT_EQUAL(bt_list_offset(fb, "gone", 0, -1), 0);
        {
                int64_t base = -1;
                CU_ASSERT_EQUAL(bt_produce(fb, "gone", 0, 1, "k", "value", &base), KERR_NONE);
                CU_ASSERT_EQUAL(base, 0);
        }
        rill__wb_free(&w);
        close(fa);
        close(fb);
        rill_broker_destroy(b);
        rill_test_rmdir(dir);
        free(dir);
}

static void
test_idle_connections_closed(void)
{
        static const char *const ovr[] = {"connections.max.idle.ms=300", NULL};
        char *dir = rill_test_tmpdir("rill-brk-idle");
        rill_broker_t *b = rill_test_broker_start(dir, ovr);
        int fd;
        CU_ASSERT_FATAL(b != NULL);
        fd = tc_connect_port(rill_broker_port(b));
        CU_ASSERT_FATAL(fd >= 0);
        CU_ASSERT(tc_closed_by_peer(fd)); /* within the 10 s receive timeout */
        close(fd);
        rill_broker_destroy(b);
        rill_test_rmdir(dir);
        free(dir);
}

/* ---- rilld ---- */

/* Runs rilld with @p args (NULL-terminated), stderr to @p errfile; returns
 * the pid. */
static pid_t
rilld_spawn(const char *const *args, const char *errfile)
{
        const char *argv[32];
        int argc = 0;
        pid_t pid;
        argv[argc++] = RILL_BIN_DIR "/rilld";
        for (int i = 0; args[i] && argc < 31; i++)
                argv[argc++] = args[i];
        argv[argc] = NULL;
        pid = fork();
        if (pid == 0) {
                int fd = open(errfile, O_WRONLY | O_CREAT | O_TRUNC, 0644);
                if (fd >= 0) {
                        dup2(fd, 2);
                        dup2(fd, 1);
                }
                execv(argv[0], (char *const *)argv);
                _exit(127);
        }
        return pid;
}

static int
rilld_wait(pid_t pid)
{
        int st = -1;
        if (waitpid(pid, &st, 0) != pid)
                return -1;
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static bool
file_contains(const char *path, const char *needle)
{
        char buf[8192];
        FILE *f = fopen(path, "r");
        size_t n;
        if (!f)
                return false;
        n = fread(buf, 1, sizeof(buf) - 1, f);
        buf[n] = '\0';
        fclose(f);
        return strstr(buf, needle) != NULL;
}

static void
test_rilld(void)
{
        char *dir = rill_test_tmpdir("rill-brk-rilld");
        char props[4200], errfile[4200], data[4200], ovr_l[128], ovr_a[128], ovr_d[4300];
        FILE *f;
        pid_t pid;
        int port = rill_test_free_port();
        snprintf(props, sizeof(props), "%s/server.properties", dir);
        snprintf(errfile, sizeof(errfile), "%s/out.txt", dir);
        snprintf(data, sizeof(data), "%s/data", dir);
        f = fopen(props, "w");
        CU_ASSERT_FATAL(f != NULL);
        fprintf(f, "# test\nnode.id=1\nnum.partitions=2\n");
        fclose(f);

        {
                const char *a[] = {"--version", NULL};
                CU_ASSERT_EQUAL(rilld_wait(rilld_spawn(a, errfile)), 0);
                CU_ASSERT(file_contains(errfile, "rilld"));
        }
        {
                const char *a[] = {props, "--override", "num.partitions=abc", NULL};
                CU_ASSERT_EQUAL(rilld_wait(rilld_spawn(a, errfile)), 1);
                CU_ASSERT(file_contains(errfile, "num.partitions"));
        }
        {
                const char *a[] = {"/nonexistent/server.properties", NULL};
                CU_ASSERT_EQUAL(rilld_wait(rilld_spawn(a, errfile)), 1);
                CU_ASSERT(file_contains(errfile, "/nonexistent/server.properties"));
        }
        {
                const char *a[] = {props, "--override", "novalue", NULL};
                CU_ASSERT_EQUAL(rilld_wait(rilld_spawn(a, errfile)), 1);
        }

        snprintf(ovr_l, sizeof(ovr_l), "listeners=PLAINTEXT://127.0.0.1:%d", port);
        snprintf(ovr_a, sizeof(ovr_a), "advertised.listeners=PLAINTEXT://127.0.0.1:%d", port);
        snprintf(ovr_d, sizeof(ovr_d), "log.dirs=%s", data);
        {
                const char *a[] = {props, "--override", ovr_l, "--override", ovr_a,
                                   "--override", ovr_d, NULL};
                int fd;
                pid = rilld_spawn(a, errfile);
                CU_ASSERT_FATAL(pid > 0);
                CU_ASSERT(RILL_WAIT_UNTIL(rill_test_port_open(port), 15000));
                fd = tc_connect_port(port);
                CU_ASSERT(fd >= 0);
                if (fd >= 0) {
                        CU_ASSERT_EQUAL(bt_partition_count(fd, "from-file", true), 2);
                        CU_ASSERT_EQUAL(bt_produce(fd, "from-file", 1, 3, "k", "value", NULL), KERR_NONE);
                        close(fd);
                }
                kill(pid, SIGTERM);
                CU_ASSERT_EQUAL(rilld_wait(pid), 0);
                CU_ASSERT(file_contains(errfile, "started"));
                CU_ASSERT(file_contains(errfile, "stopped cleanly"));
                CU_ASSERT(path_exists(data, "from-file-1"));
                CU_ASSERT(path_exists(data, "meta.properties"));
        }
        rill_test_rmdir(dir);
        free(dir);
}

int
main(void)
{
        static const rill_test_suite_t suites[] = {
                {"broker", NULL, NULL,
                 {{"restart_keeps_topics_and_data", test_restart_keeps_topics_and_data},
                  {"kill_recovers", test_kill_recovers},
                  {"lock_and_node_id", test_lock_and_node_id},
                  {"orphan_partition_dirs", test_orphan_partition_dirs},
                  {"delete_answers_parked_fetch", test_delete_answers_parked_fetch},
                  {"idle_connections_closed", test_idle_connections_closed},
                  {"rilld", test_rilld},
                  {NULL, NULL}}},
                {NULL, NULL, NULL, {{NULL, NULL}}},
        };
        signal(SIGPIPE, SIG_IGN);
        return rill_test_run(suites);
}
