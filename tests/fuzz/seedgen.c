/*
 * seedgen.c - writes the seed corpora of the fuzz targets, and checks the
 * request seeds against a live broker.
 *
 *   fuzz_seedgen OUTDIR    writes OUTDIR/{request,batch,log_recovery,config}/
 *                          (the committed tests/fuzz/corpus was made so; files
 *                          found by fuzzing are added next to these seeds);
 *   fuzz_seedgen --check   starts an in-process broker, asks it for its
 *                          ApiVersions, and fails unless every advertised
 *                          (API, version) has a builder in fuzz_reqs.c and
 *                          every seed request is answered with its
 *                          correlation id. A broker that gains a version
 *                          makes this fail until fuzz_reqs.c covers it, so
 *                          the request corpus keeps up with the broker.
 *
 * Seeds are small and deterministic (fixed timestamps, fixed names).
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rill/broker.h>
#include <rill/log.h>

#include "batch.h"
#include "fuzz_reqs.h"
#include "kerr.h"
#include "log.h"
#include "rill_test.h"
#include "rill_util.h"

static void
write_seed(const char *dir, const char *name, const void *p, size_t n)
{
        char path[4096];
        FILE *f;
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        f = fopen(path, "wb");
        if (!f || (n > 0 && fwrite(p, 1, n, f) != n)) {
                fprintf(stderr, "seedgen: cannot write %s: %s\n", path, strerror(errno));
                exit(1);
        }
        fclose(f);
}

static void
lower(char *dst, size_t size, const char *src)
{
        size_t i;
        for (i = 0; src[i] && i + 1 < size; i++)
                dst[i] = (char)((src[i] >= 'A' && src[i] <= 'Z') ? src[i] - 'A' + 'a' : src[i]);
        dst[i] = '\0';
}

/* ---- request seeds ---- */

static void
frame_seed(const char *dir, const char *name, int16_t key, int16_t ver, const rill__wbuf_t *body)
{
        rill__wbuf_t f;
        rill__wb_init(&f, 256);
        rill_fuzz_build_frame(&f, key, ver, 0x10000 * key + ver, body);
        write_seed(dir, name, f.buf, f.len);
        rill__wb_free(&f);
}

static void
gen_requests(const char *dir)
{
        static const char *const codec_names[] = {"none", "gzip", "snappy", "lz4", "zstd"};
        rill__wbuf_t b;
        char name[128], lname[64];

        rill__wb_init(&b, 1024);
        for (int i = 0; i < rill_fuzz_api_cnt; i++) {
                const rill_fuzz_api_t *a = &rill_fuzz_apis[i];
                lower(lname, sizeof(lname), a->name);
                for (int16_t v = a->min_version; v <= a->max_version; v++) {
                        rill__wb_reset(&b);
                        if (!rill_fuzz_build_body(&b, a->key, v))
                                abort();
                        snprintf(name, sizeof(name), "%s-v%d", lname, v);
                        frame_seed(dir, name, a->key, v, &b);
                }
        }
        /* Produce v7 with every codec, and acks=0. */
        for (int c = 1; c <= 4; c++) {
                rill__wbuf_t batch;
                rill__wb_init(&batch, 512);
                rill_fuzz_make_batch(&batch, 5, c, "seed");
                rill__wb_reset(&b);
                rill__wb_cstr(&b, NULL, false);
                rill__wb_i16(&b, c == 4 ? 0 : -1);
                rill__wb_i32(&b, 5000);
                rill__wb_array(&b, 1, false);
                rill__wb_cstr(&b, "fuzz", false);
                rill__wb_array(&b, 1, false);
                rill__wb_i32(&b, 1);
                rill__wb_bytes(&b, batch.buf, (int32_t)batch.len, false);
                rill__wb_free(&batch);
                snprintf(name, sizeof(name), "x-produce-v7-%s%s", codec_names[c],
                         c == 4 ? "-acks0" : "");
                frame_seed(dir, name, KAPI_PRODUCE, 7, &b);
        }
        /* Metadata for all topics, and with auto-creation. */
        rill__wb_reset(&b);
        rill__wb_array(&b, -1, false);
        rill__wb_bool(&b, true);
        frame_seed(dir, "x-metadata-v4-all", KAPI_METADATA, 4, &b);
        rill__wb_reset(&b);
        rill__wb_array(&b, 1, false);
        rill__wb_cstr(&b, "fuzz-auto", false);
        rill__wb_bool(&b, true);
        frame_seed(dir, "x-metadata-v4-autocreate", KAPI_METADATA, 4, &b);
        /* ApiVersions at a version we do not support (answered, v0 layout). */
        frame_seed(dir, "x-apiversions-v99", KAPI_API_VERSIONS, 99, NULL);
        /* A few malformed frames: truncated header, unknown key, short body. */
        write_seed(dir, "x-bad-short-header", "\0\3\0\1\0\0", 6);
        rill__wb_reset(&b);
        frame_seed(dir, "x-bad-unknown-key", 60, 0, NULL);
        frame_seed(dir, "x-bad-produce-empty-body", KAPI_PRODUCE, 7, NULL);
        rill__wb_free(&b);
}

/* ---- batch seeds ---- */

static void
gen_batches(const char *dir)
{
        static const char *const codec_names[] = {"none", "gzip", "snappy", "lz4", "zstd"};
        rill__wbuf_t w;
        char name[64];

        rill__wb_init(&w, 1024);
        for (int c = 0; c <= 4; c++) {
                for (int mode = 0; mode < 2; mode++) {
                        rill__wb_reset(&w);
                        rill__wb_i8(&w, (int8_t)mode);
                        rill_fuzz_make_batch(&w, 4, c, "v");
                        snprintf(name, sizeof(name), "%s-mode%d", codec_names[c], mode);
                        write_seed(dir, name, w.buf, w.len);
                }
        }
        /* Two batches back to back, as a Produce records field may hold. */
        rill__wb_reset(&w);
        rill__wb_i8(&w, 0);
        rill_fuzz_make_batch(&w, 2, RILL__COMP_NONE, "a");
        rill_fuzz_make_batch(&w, 2, RILL__COMP_ZSTD, "b");
        write_seed(dir, "two-batches", w.buf, w.len);
        /* Empty records (RecordsCount 0). */
        rill__wb_reset(&w);
        rill__wb_i8(&w, 1);
        rill_fuzz_make_batch(&w, 0, RILL__COMP_NONE, "e");
        write_seed(dir, "empty", w.buf, w.len);
        rill__wb_free(&w);
}

/* ---- log recovery seeds ---- */

static const int64_t g_bases[4] = {0, 3, 100, ((int64_t)1 << 32) + 4};

static bool
read_whole(const char *path, uint8_t **buf, size_t *len)
{
        FILE *f = fopen(path, "rb");
        long n;
        if (!f)
                return false;
        fseek(f, 0, SEEK_END);
        n = ftell(f);
        fseek(f, 0, SEEK_SET);
        *buf = malloc(n > 0 ? (size_t)n : 1);
        *len = fread(*buf, 1, (size_t)(n > 0 ? n : 0), f);
        fclose(f);
        return true;
}

/* Packs the files of log directory @p ldir in fuzz_log_recovery's format;
 * @p cut_tail bytes are removed from the last segment's .log (torn write). */
static void
pack_log(const char *dir, const char *name, const char *ldir, uint8_t flags, size_t cut_tail)
{
        static const char *const ext[3] = {".log", ".index", ".timeindex"};
        static const char *const other[3] = {".rill_cleanshutdown", "log-start-offset",
                                             "cleaner-offset-checkpoint"};
        rill__wbuf_t w;
        char path[4096];
        int last = -1;

        for (int s = 0; s < 4; s++) {
                snprintf(path, sizeof(path), "%s/%020" PRId64 ".log", ldir, g_bases[s]);
                if (access(path, F_OK) == 0)
                        last = s;
        }
        rill__wb_init(&w, 4096);
        rill__wb_i8(&w, (int8_t)flags);
        for (int s = 0; s < 4; s++) {
                for (int e = 0; e < 3; e++) {
                        uint8_t *buf;
                        size_t len;
                        snprintf(path, sizeof(path), "%s/%020" PRId64 "%s", ldir, g_bases[s], ext[e]);
                        if (!read_whole(path, &buf, &len))
                                continue;
                        if (e == 0 && s == last && cut_tail && len > cut_tail)
                                len -= cut_tail;
                        if (len > 65535) {
                                fprintf(stderr, "seedgen: %s too large for a seed\n", path);
                                exit(1);
                        }
                        rill__wb_i8(&w, (int8_t)(e + 8 * s));
                        rill__wb_i16(&w, (int16_t)len);
                        rill__wb_raw(&w, buf, len);
                        free(buf);
                }
        }
        for (int o = 0; o < 3; o++) {
                uint8_t *buf;
                size_t len;
                snprintf(path, sizeof(path), "%s/%s", ldir, other[o]);
                if (!read_whole(path, &buf, &len))
                        continue;
                rill__wb_i8(&w, (int8_t)(3 + o));
                rill__wb_i16(&w, (int16_t)len);
                rill__wb_raw(&w, buf, len);
                free(buf);
        }
        write_seed(dir, name, w.buf, w.len);
        rill__wb_free(&w);
}

static void
append_n(rill__log_t *log, int n, int codec, const char *prefix)
{
        rill__wbuf_t b;
        int64_t first, at;
        char err[256];
        rill__wb_init(&b, 1024);
        rill_fuzz_make_batch(&b, n, codec, prefix);
        if (rill__log_append(log, b.buf, b.len, 0, &first, &at, err, sizeof(err)) != RILL_OK) {
                fprintf(stderr, "seedgen: append: %s\n", err);
                exit(1);
        }
        rill__wb_free(&b);
}

/* Builds one log: segments at offsets 0, 3 and 100 when @p multi. */
static void
make_log(const char *ldir, bool multi, bool compact, bool crash, bool delete_records)
{
        rill__log_conf_t conf;
        rill__log_t *log;
        char err[256];

        rill__rmtree(ldir);
        rill__log_conf_defaults(&conf);
        conf.index_interval_bytes = 128;
        conf.retention_ms = -1;
        conf.segment_bytes = multi ? 100 : 1 << 20;
        if (compact)
                conf.cleanup_policy = RILL__CLEANUP_COMPACT;
        if (rill__log_open(ldir, &conf, &log, err, sizeof(err)) != RILL_OK) {
                fprintf(stderr, "seedgen: open %s: %s\n", ldir, err);
                exit(1);
        }
        append_n(log, 3, RILL__COMP_NONE, "a");        /* offsets 0..2 */
        if (multi) {
                append_n(log, 97, RILL__COMP_ZSTD, "b"); /* 3..99: new segment at 3 */
                append_n(log, 2, RILL__COMP_GZIP, "c");  /* 100..101: segment at 100 */
        } else {
                for (int i = 0; i < 6; i++)
                        append_n(log, 3, i % 5, "b");
        }
        if (delete_records)
                rill__log_delete_records(log, 2);
        if (compact)
                rill__log_compact(log, rill__now_ms() + 86400000);
        if (crash)
                rill__log_abandon(log);
        else
                rill__log_close(log);
}

static void
gen_logs(const char *dir)
{
        char *tmp = rill_test_tmpdir("rill-seedgen-log");
        char ldir[4096];
        snprintf(ldir, sizeof(ldir), "%s/p-0", tmp);

        make_log(ldir, false, false, false, false);
        pack_log(dir, "single-clean", ldir, 0, 0);
        make_log(ldir, false, false, true, false);
        pack_log(dir, "single-crash", ldir, 0, 0);
        pack_log(dir, "single-crash-torn", ldir, 8, 17);
        make_log(ldir, true, false, false, false);
        pack_log(dir, "multi-clean", ldir, 4, 0);
        make_log(ldir, true, false, true, true);
        pack_log(dir, "multi-crash-deleterecords", ldir, 4 | 8, 0);
        pack_log(dir, "multi-crash-torn", ldir, 4, 5);
        make_log(ldir, true, true, false, false);
        pack_log(dir, "multi-compacted", ldir, 1 | 4, 0);
        make_log(ldir, false, false, false, false);
        pack_log(dir, "single-clean-logappendtime", ldir, 2, 0);
        /* An empty directory. */
        write_seed(dir, "empty-dir", "\0", 1);
        rill_test_rmdir(tmp);
        free(tmp);
}

/* ---- config seeds ---- */

static void
gen_configs(const char *dir)
{
        uint8_t *buf;
        size_t len;
        static const char minimal[] =
                "node.id=1\nlisteners=PLAINTEXT://127.0.0.1:0\nlog.dirs=/nonexistent/rill\n";
        static const char syntax[] =
                "# comment\n! bang comment\n  \n"
                "num.partitions : 3\n"
                "log.retention.hours 168\n"
                "log.segment.bytes=1073741824\\\n   \n"
                "auto.create.topics.enable=\\u0074rue\n"
                "log.dirs=/tmp/a\\,b,/tmp/c\r\n"
                "unknown.key.for.kafka=kept\r"
                "listeners=PLAINTEXT://[::1]:9092,PLAINTEXT://:9093\n"
                "advertised.listeners=PLAINTEXT://localhost:9092\n"
                "message.max.bytes=1048588\n"
                "log.cleanup.policy=compact,delete\n"
                "log.flush.interval.messages=1\n";
        static const char bad_value[] = "num.partitions=-4\n";
        static const char bad_key[] = "=value without key\n";
        static const char topic_keys[] =
                "log.retention.ms=-1\nlog.retention.bytes=1099511627776\n"
                "log.roll.hours=1\nlog.index.interval.bytes=4096\nlog.cleaner.min.cleanable.ratio=0.5\n"
                "log.cleaner.delete.retention.ms=86400000\nlog.message.timestamp.type=LogAppendTime\n"
                "compression.type=zstd\nmin.insync.replicas=1\nlog.index.size.max.bytes=10485760\n"
                "group.initial.rebalance.delay.ms=0\ngroup.min.session.timeout.ms=6000\n"
                "socket.request.max.bytes=104857600\nconnections.max.idle.ms=600000\n"
                "offsets.topic.num.partitions=50\ndelete.topic.enable=false\n";

        if (read_whole(RILL_SOURCE_DIR "/config/server.properties", &buf, &len)) {
                write_seed(dir, "server.properties", buf, len);
                free(buf);
        }
        write_seed(dir, "minimal", minimal, sizeof(minimal) - 1);
        write_seed(dir, "syntax", syntax, sizeof(syntax) - 1);
        write_seed(dir, "bad-value", bad_value, sizeof(bad_value) - 1);
        write_seed(dir, "bad-key", bad_key, sizeof(bad_key) - 1);
        write_seed(dir, "topic-keys", topic_keys, sizeof(topic_keys) - 1);
}

/* ---- --check ---- */

static int
check(void)
{
        char *dir = rill_test_tmpdir("rill-seedgen-check");
        static const char *const ovr[] = {"group.min.session.timeout.ms=10", NULL};
        rill_broker_t *b;
        int port, fd, passed = 0, failed = 0;
        uint8_t *resp;
        size_t len;
        rill__rbuf_t r;
        int32_t n;

        rill_log_set_level(RILL_LOG_WARN);
        b = rill_test_broker_start(dir, ovr);
        if (!b || !rill_fuzz_setup(port = rill_broker_port(b))) {
                fprintf(stderr, "seedgen --check: cannot start or set up the broker\n");
                return 1;
        }
        fd = rill_fuzz_connect(port);
        resp = fd >= 0 ? rill_fuzz_call(fd, KAPI_API_VERSIONS, 0, NULL, 10000, &len) : NULL;
        if (!resp) {
                fprintf(stderr, "seedgen --check: no ApiVersions answer\n");
                return 1;
        }
        close(fd);
        rill__rb_init(&r, resp + 4, len - 4);
        if (rill__rb_i16(&r) != KERR_NONE) {
                fprintf(stderr, "seedgen --check: ApiVersions error\n");
                return 1;
        }
        n = rill__rb_array(&r, false);
        for (int32_t i = 0; i < n && !r.err; i++) {
                int16_t key = rill__rb_i16(&r), minv = rill__rb_i16(&r), maxv = rill__rb_i16(&r);
                for (int16_t v = minv; v <= maxv && !r.err; v++) {
                        rill__wbuf_t body, f;
                        uint8_t *rs = NULL;
                        size_t rl;
                        rill_fuzz_rr_t rr = RILL_FUZZ_CLOSED;
                        int32_t corr = 0x10000 * key + v;

                        rill__wb_init(&body, 512);
                        rill__wb_init(&f, 512);
                        if (!rill_fuzz_build_body(&body, key, v)) {
                                fprintf(stderr, "FAIL: the broker advertises API key %d v%d but "
                                        "tests/fuzz/fuzz_reqs.c has no seed builder for it\n",
                                        key, v);
                                failed++;
                                goto next;
                        }
                        rill_fuzz_build_frame(&f, key, v, corr, &body);
                        fd = rill_fuzz_connect(port);
                        if (fd >= 0 && rill_fuzz_send_frame(fd, f.buf, f.len))
                                rr = rill_fuzz_recv(fd, 10000, &rs, &rl);
                        if (fd >= 0)
                                close(fd);
                        if (rr != RILL_FUZZ_RESPONSE || (int32_t)rill__be32(rs) != corr) {
                                fprintf(stderr, "FAIL: seed %s v%d was not answered (%s)\n",
                                        rill_fuzz_api_find(key)->name, v,
                                        rr == RILL_FUZZ_CLOSED ? "connection closed" :
                                        rr == RILL_FUZZ_TIMEOUT ? "timeout" :
                                        rr == RILL_FUZZ_RESPONSE ? "wrong correlation id" :
                                        "bad frame");
                                failed++;
                        } else {
                                passed++;
                        }
                        free(rs);
                next:
                        rill__wb_free(&body);
                        rill__wb_free(&f);
                }
        }
        if (r.err) {
                fprintf(stderr, "FAIL: ApiVersions response did not decode\n");
                failed++;
        }
        free(resp);
        rill_broker_destroy(b);
        rill_test_rmdir(dir);
        free(dir);
        printf("seeds: %d passed, %d failed\n", passed, failed);
        return failed ? 1 : 0;
}

int
main(int argc, char **argv)
{
        static const char *const sub[] = {"request", "batch", "log_recovery", "config"};
        char path[4096];

        if (argc == 2 && !strcmp(argv[1], "--check"))
                return check();
        if (argc != 2) {
                fprintf(stderr, "usage: %s OUTDIR | --check\n", argv[0]);
                return 2;
        }
        rill_log_set_level(RILL_LOG_WARN);
        for (int i = 0; i < 4; i++) {
                snprintf(path, sizeof(path), "%s/%s", argv[1], sub[i]);
                if (rill__mkdirs(path, 0755) != 0) {
                        fprintf(stderr, "seedgen: mkdir %s: %s\n", path, strerror(errno));
                        return 1;
                }
        }
        snprintf(path, sizeof(path), "%s/request", argv[1]);
        gen_requests(path);
        snprintf(path, sizeof(path), "%s/batch", argv[1]);
        gen_batches(path);
        snprintf(path, sizeof(path), "%s/log_recovery", argv[1]);
        gen_logs(path);
        snprintf(path, sizeof(path), "%s/config", argv[1]);
        gen_configs(path);
        return 0;
}
