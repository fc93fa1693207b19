/*
 * test_hostile.c - the broker against hostile and broken clients, through
 * real sockets, and nothing lost afterwards.
 *
 * One in-process broker serves the whole suite; the tests run in order and
 * share it on purpose, because the point is that everything thrown at it
 * leaves it serving and leaves earlier data intact:
 *   1. baseline: librdkafka produces records that the last test reads back;
 *   2. 1000 garbage frames from a seeded PRNG over many connections (random
 *      size prefix within socket.request.max.bytes, random bytes; half of
 *      them behind a valid request header so the handlers' decoders see
 *      garbage bodies);
 *   3. slow-loris partial frames held open while another client is served,
 *      and a frame delivered one byte at a time;
 *   4. clients that disconnect mid-request, right after a complete Produce,
 *      and while a long-poll Fetch is parked;
 *   5. a client that pipelines Fetch requests and never reads a response:
 *      another client's round trip must still complete (a deadline, not a
 *      speed threshold);
 *   6. a flood of 500 concurrent connections, each served;
 *   7. Produce with a wrong CRC: CORRUPT_MESSAGE, log unchanged, connection
 *      kept; a batch above message.max.bytes: MESSAGE_TOO_LARGE, log
 *      unchanged; a frame above socket.request.max.bytes: connection closed;
 *   8. a librdkafka producer/consumer round trip still works and every
 *      record produced before (test 1 and the valid raw produces) is intact,
 *      and nothing from the rejected batches appeared.
 *
 * Raw requests are built with the broker's codec and batch builder; every
 * wait has a deadline (a hung broker fails the test, it does not hang it).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "batch.h"
#include "codec.h"
#include "kerr.h"
#include "rill_test.h"
#include "rill_test_kafka.h"

#define MAX_REQUEST (1024 * 1024)   /* socket.request.max.bytes */
#define MAX_MESSAGE (64 * 1024)     /* message.max.bytes */
#define DEADLINE_MS 30000           /* a broker that does not answer by then is hung */
#define TOPIC "hostile"             /* librdkafka traffic, 3 partitions */
#define RAW "hostile-raw"           /* raw-socket produces, 1 partition */
#define BASELINE_CNT 300

static char *g_dir;
static rill_broker_t *g_broker;
static int g_port;
static rill_test_recs_t g_baseline;
static int64_t g_raw_valid;         /* records appended to RAW by valid raw produces */
static int32_t g_corr = 1;

/* ---- a small raw client ---- */

static int
hc_connect(void)
{
        struct sockaddr_in sa;
        int one = 1;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -1;
        memset(&sa, 0, sizeof(sa));
        sa.sin_family = AF_INET;
        sa.sin_port = htons((uint16_t)g_port);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
                close(fd);
                return -1;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        return fd;
}

static bool
hc_send(int fd, const void *p, size_t n)
{
        const uint8_t *b = p;
        while (n > 0) {
                ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0)
                        return false;
                b += w;
                n -= (size_t)w;
        }
        return true;
}

/* Reads exactly n bytes by the deadline: 1, 0 on EOF/reset, -1 on timeout. */
static int
hc_read(int fd, void *p, size_t n, int64_t deadline)
{
        uint8_t *b = p;
        while (n > 0) {
                struct pollfd pfd = {fd, POLLIN, 0};
                int64_t left = deadline - rill_test_now_ms();
                ssize_t r;
                if (left <= 0)
                        return -1;
                if (poll(&pfd, 1, (int)(left > 500 ? 500 : left)) <= 0)
                        continue;
                r = recv(fd, b, n, 0);
                if (r < 0 && (errno == EINTR || errno == EAGAIN))
                        continue;
                if (r <= 0)
                        return 0;
                b += r;
                n -= (size_t)r;
        }
        return 1;
}

/* Receives one response frame (malloc'd, without size prefix) or NULL. */
static uint8_t *
hc_recv(int fd, size_t *len, int timeout_ms)
{
        int64_t deadline = rill_test_now_ms() + timeout_ms;
        uint8_t sz[4], *buf;
        int32_t n;
        if (hc_read(fd, sz, 4, deadline) != 1)
                return NULL;
        n = (int32_t)rill__be32(sz);
        if (n < 4 || n > 64 * 1024 * 1024)
                return NULL;
        buf = malloc((size_t)n);
        if (hc_read(fd, buf, (size_t)n, deadline) != 1) {
                free(buf);
                return NULL;
        }
        *len = (size_t)n;
        return buf;
}

/* True once the peer has closed (EOF or reset) before the deadline; any
 * response bytes before the close are drained. */
static bool
hc_wait_closed(int fd, int timeout_ms)
{
        int64_t deadline = rill_test_now_ms() + timeout_ms;
        char buf[4096];
        for (;;) {
                struct pollfd pfd = {fd, POLLIN, 0};
                int64_t left = deadline - rill_test_now_ms();
                ssize_t r;
                if (left <= 0)
                        return false;
                if (poll(&pfd, 1, (int)(left > 500 ? 500 : left)) <= 0)
                        continue;
                r = recv(fd, buf, sizeof(buf), 0);
                if (r == 0)
                        return true;
                if (r < 0 && errno != EINTR && errno != EAGAIN)
                        return errno == ECONNRESET || errno == EPIPE;
        }
}

/* Frame (with size prefix): header v1 + body. */
static void
hc_frame(rill__wbuf_t *f, int16_t key, int16_t ver, int32_t corr, const rill__wbuf_t *body)
{
        size_t off = rill__wb_reserve_i32(f);
        rill__wb_i16(f, key);
        rill__wb_i16(f, ver);
        rill__wb_i32(f, corr);
        rill__wb_cstr(f, "hostile-test", false);
        if (body)
                rill__wb_raw(f, body->buf, body->len);
        rill__wb_patch_i32(f, off, (int32_t)(f->len - off - 4));
}

/* Sends a request and returns its response body (after the correlation id),
 * checking the correlation id; NULL on close/timeout. *buf must be freed. */
static bool
hc_call(int fd, int16_t key, int16_t ver, const rill__wbuf_t *body, uint8_t **buf,
        rill__rbuf_t *r)
{
        rill__wbuf_t f;
        int32_t corr = g_corr++;
        size_t len;
        bool ok;
        rill__wb_init(&f, 256 + (body ? body->len : 0));
        hc_frame(&f, key, ver, corr, body);
        ok = hc_send(fd, f.buf, f.len);
        rill__wb_free(&f);
        *buf = NULL;
        if (!ok || !(*buf = hc_recv(fd, &len, DEADLINE_MS)))
                return false;
        if ((int32_t)rill__be32(*buf) != corr) {
                free(*buf);
                *buf = NULL;
                return false;
        }
        rill__rb_init(r, *buf + 4, len - 4);
        return true;
}

/* ApiVersions v0 round trip on a fresh connection: the broker serves. */
static bool
broker_serves(void)
{
        int fd = hc_connect();
        uint8_t *buf;
        rill__rbuf_t r;
        bool ok;
        if (fd < 0)
                return false;
        ok = hc_call(fd, 18, 0, NULL, &buf, &r) && rill__rb_i16(&r) == KERR_NONE;
        free(buf);
        close(fd);
        return ok;
}

static void
make_batch(rill__wbuf_t *out, int n, const char *prefix, size_t value_size)
{
        rill__batch_builder_t bb;
        char *v = malloc(value_size + 64);
        rill__batch_builder_init(&bb, 0, 1700000000000);
        for (int i = 0; i < n; i++) {
                char k[64];
                int kl = snprintf(k, sizeof(k), "%s-%d", prefix, i);
                int vl = snprintf(v, value_size + 64, "%s-value-%d-", prefix, i);
                while ((size_t)vl < value_size) {
                        v[vl] = (char)('a' + (vl % 26));
                        vl++;
                }
                rill__batch_builder_add(&bb, i, 1700000000000 + i, k, kl, v, vl, NULL, 0, 0);
        }
        rill__batch_builder_finish(&bb);
        rill__wb_raw(out, bb.buf.buf, bb.buf.len);
        rill__batch_builder_destroy(&bb);
        free(v);
}

/* Produce v7 body (acks=1) of @p batch to topic/partition. */
static void
produce_body(rill__wbuf_t *w, const char *topic, int32_t part, const rill__wbuf_t *batch)
{
        rill__wb_cstr(w, NULL, false);
        rill__wb_i16(w, 1);
        rill__wb_i32(w, 10000);
        rill__wb_array(w, 1, false);
        rill__wb_cstr(w, topic, false);
        rill__wb_array(w, 1, false);
        rill__wb_i32(w, part);
        rill__wb_bytes(w, batch->buf, (int32_t)batch->len, false);
}

/* Produces on @p fd and returns the partition error code (-1 if no answer). */
static int
raw_produce(int fd, const char *topic, int32_t part, const rill__wbuf_t *batch)
{
        rill__wbuf_t w;
        uint8_t *buf;
        rill__rbuf_t r;
        int ec = -1;
        rill__wb_init(&w, batch->len + 128);
        produce_body(&w, topic, part, batch);
        if (hc_call(fd, 0, 7, &w, &buf, &r)) {
                if (rill__rb_array(&r, false) == 1) {
                        (void)rill__rb_str(&r, false);
                        if (rill__rb_array(&r, false) == 1) {
                                (void)rill__rb_i32(&r);
                                ec = rill__rb_i16(&r);
                        }
                }
                if (r.err)
                        ec = -1;
        }
        free(buf);
        rill__wb_free(&w);
        return ec;
}

/* The end offset (ListOffsets v1, latest) of topic/partition; -1 on error. */
static int64_t
end_offset(const char *topic, int32_t part)
{
        int fd = hc_connect();
        rill__wbuf_t w;
        uint8_t *buf;
        rill__rbuf_t r;
        int64_t off = -1;
        if (fd < 0)
                return -1;
        rill__wb_init(&w, 128);
        rill__wb_i32(&w, -1);
        rill__wb_array(&w, 1, false);
        rill__wb_cstr(&w, topic, false);
        rill__wb_array(&w, 1, false);
        rill__wb_i32(&w, part);
        rill__wb_i64(&w, -1);
        if (hc_call(fd, 2, 1, &w, &buf, &r)) {
                if (rill__rb_array(&r, false) == 1) {
                        (void)rill__rb_str(&r, false);
                        if (rill__rb_array(&r, false) == 1) {
                                (void)rill__rb_i32(&r);
                                if (rill__rb_i16(&r) == KERR_NONE) {
                                        (void)rill__rb_i64(&r);   /* timestamp */
                                        off = rill__rb_i64(&r);
                                }
                        }
                }
                if (r.err)
                        off = -1;
        }
        free(buf);
        rill__wb_free(&w);
        close(fd);
        return off;
}

/* Fetch v4 body for one partition. */
static void
fetch_body(rill__wbuf_t *w, const char *topic, int32_t part, int64_t offset, int32_t max_wait,
           int32_t max_bytes)
{
        rill__wb_i32(w, -1);
        rill__wb_i32(w, max_wait);
        rill__wb_i32(w, 1);
        rill__wb_i32(w, max_bytes);
        rill__wb_i8(w, 0);
        rill__wb_array(w, 1, false);
        rill__wb_cstr(w, topic, false);
        rill__wb_array(w, 1, false);
        rill__wb_i32(w, part);
        rill__wb_i64(w, offset);
        rill__wb_i32(w, max_bytes);
}

/* ---- suite ---- */

static int
suite_init(void)
{
        static const char *const ovr[] = {
                "socket.request.max.bytes=1048576",
                "message.max.bytes=65536",
                "auto.create.topics.enable=true",
                NULL,
        };
        rill__wbuf_t w;
        uint8_t *buf;
        rill__rbuf_t r;
        int fd;
        bool ok;

        g_dir = rill_test_tmpdir("rill-it-hostile");
        g_broker = rill_test_broker_start(g_dir, ovr);
        if (!g_broker)
                return -1;
        g_port = rill_broker_port(g_broker);
        /* CreateTopics v0: TOPIC with 3 partitions, RAW with 1. */
        fd = hc_connect();
        if (fd < 0)
                return -1;
        rill__wb_init(&w, 256);
        rill__wb_array(&w, 2, false);
        rill__wb_cstr(&w, TOPIC, false);
        rill__wb_i32(&w, 3);
        rill__wb_i16(&w, 1);
        rill__wb_array(&w, 0, false);
        rill__wb_array(&w, 0, false);
        rill__wb_cstr(&w, RAW, false);
        rill__wb_i32(&w, 1);
        rill__wb_i16(&w, 1);
        rill__wb_array(&w, 0, false);
        rill__wb_array(&w, 0, false);
        rill__wb_i32(&w, 10000);
        ok = hc_call(fd, 19, 0, &w, &buf, &r);
        free(buf);
        rill__wb_free(&w);
        close(fd);
        return ok ? 0 : -1;
}

static int
suite_cleanup(void)
{
        rill_test_recs_free(&g_baseline);
        rill_broker_destroy(g_broker);
        if (g_dir) {
                rill_test_rmdir(g_dir);
                free(g_dir);
        }
        return 0;
}

/* 1. Baseline records through librdkafka, and a valid raw produce. */
static void
test_baseline(void)
{
        rd_kafka_t *p = rill_test_producer_new(rill_broker_bootstrap(g_broker), NULL);
        rill__wbuf_t batch;
        int fd;
        CU_ASSERT_FATAL(p != NULL);
        for (int i = 0; i < BASELINE_CNT; i++) {
                char k[32], v[64];
                snprintf(k, sizeof(k), "base-%d", i);
                snprintf(v, sizeof(v), "baseline value %d", i);
                rill_test_rec_add_str(&g_baseline, k, v);
        }
        CU_ASSERT_EQUAL(rill_test_produce_all(p, TOPIC, &g_baseline, DEADLINE_MS), BASELINE_CNT);
        rill_test_client_destroy(p);

        fd = hc_connect();
        CU_ASSERT_FATAL(fd >= 0);
        rill__wb_init(&batch, 1024);
        make_batch(&batch, 5, "raw-ok", 20);
        CU_ASSERT_EQUAL(raw_produce(fd, RAW, 0, &batch), KERR_NONE);
        g_raw_valid += 5;
        rill__wb_free(&batch);
        close(fd);
        CU_ASSERT_EQUAL(end_offset(RAW, 0), g_raw_valid);
}

/* xorshift64*: deterministic garbage from a printed seed. */
static uint64_t
prng(uint64_t *s)
{
        *s ^= *s >> 12;
        *s ^= *s << 25;
        *s ^= *s >> 27;
        return *s * 2685821657736338717ULL;
}

/* 2. 1000 garbage frames over many connections. */
static void
test_garbage_frames(void)
{
        static const int16_t keys[] = {0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 15, 16, 18, 19, 20,
                                       21, 32, 33, 37, 42};
        enum { BATCH = 25, FRAMES = 1000 };
        uint64_t seed = 0x5eed0fba11ULL;
        int fds[BATCH];
        int closed = 0, answered = 0;

        printf("\n  garbage seed %#" PRIx64 "\n", seed);
        for (int done = 0; done < FRAMES; done += BATCH) {
                for (int i = 0; i < BATCH; i++) {
                        uint64_t x = prng(&seed);
                        /* Mostly small frames, some up to the limit. */
                        size_t size = (x & 7) == 0 ? (size_t)(prng(&seed) % MAX_REQUEST)
                                                   : (size_t)(prng(&seed) % 2048);
                        uint8_t *f = malloc(size + 4);
                        rill__put_be32(f, (uint32_t)size);
                        for (size_t j = 0; j < size; j++)
                                f[4 + j] = (uint8_t)prng(&seed);
                        if ((x & 1) && size >= 10) {
                                /* A valid header: known API, a version near its range,
                                 * a short client id, then a garbage body. */
                                int16_t key = keys[(x >> 8) % (sizeof(keys) / sizeof(keys[0]))];
                                rill__put_be16(f + 4, (uint16_t)key);
                                rill__put_be16(f + 6, (uint16_t)((x >> 16) % 12));
                                rill__put_be16(f + 12, 0xffff);   /* null client id */
                        }
                        fds[i] = hc_connect();
                        CU_ASSERT_FATAL(fds[i] >= 0);
                        /* The broker may close before all bytes are in. */
                        (void)hc_send(fds[i], f, size + 4);
                        shutdown(fds[i], SHUT_WR);
                        free(f);
                }
                for (int i = 0; i < BATCH; i++) {
                        size_t len;
                        uint8_t *resp;
                        /* Whatever came back must be a well-formed frame; then close. */
                        while ((resp = hc_recv(fds[i], &len, DEADLINE_MS))) {
                                answered++;
                                free(resp);
                        }
                        CU_ASSERT(hc_wait_closed(fds[i], DEADLINE_MS));
                        closed++;
                        close(fds[i]);
                }
        }
        printf("  %d connections closed by the broker, %d responses\n", closed, answered);
        CU_ASSERT_EQUAL(closed, FRAMES);
        CU_ASSERT(broker_serves());
}

/* 3. Slow-loris: partial frames held open; another client is still served;
 *    a frame sent one byte at a time is answered. */
static void
test_slowloris(void)
{
        enum { LORIS = 40 };
        int fds[LORIS], slow;
        rill__wbuf_t f;
        uint8_t *resp;
        size_t len;

        for (int i = 0; i < LORIS; i++) {
                uint8_t part[16];
                fds[i] = hc_connect();
                CU_ASSERT_FATAL(fds[i] >= 0);
                /* Half send 1-3 bytes of the size prefix, half a prefix
                 * promising 1000 bytes and only 10 of them. */
                rill__put_be32(part, 1000);
                memset(part + 4, 0, 10);
                CU_ASSERT(hc_send(fds[i], part, (i & 1) ? 1 + (size_t)(i % 3) : 14));
        }
        CU_ASSERT(broker_serves());

        /* ApiVersions v0, one byte per send. */
        slow = hc_connect();
        CU_ASSERT_FATAL(slow >= 0);
        rill__wb_init(&f, 64);
        hc_frame(&f, 18, 0, 4242, NULL);
        for (size_t i = 0; i < f.len; i++) {
                CU_ASSERT_FATAL(hc_send(slow, f.buf + i, 1));
                if (i == f.len / 2)
                        CU_ASSERT(broker_serves());
        }
        resp = hc_recv(slow, &len, DEADLINE_MS);
        CU_ASSERT_FATAL(resp != NULL);
        CU_ASSERT_EQUAL(rill__be32(resp), 4242);
        free(resp);
        rill__wb_free(&f);
        close(slow);
        for (int i = 0; i < LORIS; i++)
                close(fds[i]);
        CU_ASSERT(broker_serves());
}

/* 4. Disconnects: mid-request, right after a complete Produce, while parked. */
static void
test_disconnects(void)
{
        rill__wbuf_t batch, body, f;
        int64_t end = end_offset(RAW, 0);
        int fd;

        CU_ASSERT_FATAL(end == g_raw_valid);
        rill__wb_init(&batch, 1024);
        make_batch(&batch, 4, "raw-half", 100);
        rill__wb_init(&body, 1024);
        produce_body(&body, RAW, 0, &batch);
        rill__wb_init(&f, 2048);
        hc_frame(&f, 0, 7, g_corr++, &body);

        /* Half a Produce, then gone: nothing may be appended. */
        for (int i = 0; i < 10; i++) {
                fd = hc_connect();
                CU_ASSERT_FATAL(fd >= 0);
                CU_ASSERT(hc_send(fd, f.buf, f.len / 2 + (size_t)i));
                close(fd);
        }
        CU_ASSERT(broker_serves());
        CU_ASSERT_EQUAL(end_offset(RAW, 0), end);

        /* A complete Produce to a separate partition, closed before the
         * answer: either all 4 records are there or none. */
        rill__wb_reset(&body);
        produce_body(&body, TOPIC, 2, &batch);
        rill__wb_reset(&f);
        hc_frame(&f, 0, 7, g_corr++, &body);
        {
                int64_t before = end_offset(TOPIC, 2), after;
                fd = hc_connect();
                CU_ASSERT_FATAL(fd >= 0);
                CU_ASSERT(hc_send(fd, f.buf, f.len));
                close(fd);
                CU_ASSERT(broker_serves());
                after = end_offset(TOPIC, 2);
                CU_ASSERT(after == before || after == before + 4);
                /* The final test accounts for these records, if present. */
        }

        /* A parked long-poll Fetch whose client leaves. */
        rill__wb_reset(&body);
        fetch_body(&body, RAW, 0, end, 20000, 1 << 20);
        rill__wb_reset(&f);
        hc_frame(&f, 1, 4, g_corr++, &body);
        fd = hc_connect();
        CU_ASSERT_FATAL(fd >= 0);
        CU_ASSERT(hc_send(fd, f.buf, f.len));
        CU_ASSERT(broker_serves());
        close(fd);
        CU_ASSERT(broker_serves());

        rill__wb_free(&f);
        rill__wb_free(&body);
        rill__wb_free(&batch);
}

static int
unread_bytes(int fd)
{
        int n = 0;
        return ioctl(fd, FIONREAD, &n) == 0 ? n : 0;
}

/* 5. A client that never reads its responses does not block the others. */
static void
test_never_reads(void)
{
        rill__wbuf_t batch, body, f;
        int fd, other, flags;
        size_t sent = 0, total = 0;
        uint8_t *buf;
        rill__rbuf_t r;
        int64_t start;

        /* About 1 MB in RAW so that each Fetch answer is large. */
        other = hc_connect();
        CU_ASSERT_FATAL(other >= 0);
        rill__wb_init(&batch, 64 * 1024);
        for (int i = 0; i < 20; i++) {
                rill__wb_reset(&batch);
                make_batch(&batch, 10, "raw-bulk", 5000);
                CU_ASSERT_EQUAL_FATAL(raw_produce(other, RAW, 0, &batch), KERR_NONE);
                g_raw_valid += 10;
        }
        start = end_offset(RAW, 0);
        CU_ASSERT_EQUAL(start, g_raw_valid);

        rill__wb_init(&body, 256);
        fetch_body(&body, RAW, 0, 0, 0, 1 << 20);
        rill__wb_init(&f, 512);
        fd = hc_connect();
        CU_ASSERT_FATAL(fd >= 0);
        flags = fcntl(fd, F_GETFL);
        fcntl(fd, F_SETFL, flags | O_NONBLOCK);
        /* Pipeline Fetches until the socket will not take more (the broker
         * stopped reading us) or 400 were sent (~400 MB of answers). */
        for (int i = 0; i < 400; i++) {
                ssize_t w;
                size_t off = 0;
                rill__wb_reset(&f);
                hc_frame(&f, 1, 4, g_corr++, &body);
                while (off < f.len) {
                        struct pollfd pfd = {fd, POLLOUT, 0};
                        w = send(fd, f.buf + off, f.len - off, MSG_NOSIGNAL);
                        if (w > 0) {
                                off += (size_t)w;
                                continue;
                        }
                        if (w < 0 && errno != EAGAIN && errno != EINTR)
                                break;
                        /* Full: give the broker a moment, then stop. */
                        if (poll(&pfd, 1, 200) <= 0)
                                break;
                }
                total++;
                if (off < f.len)
                        break;
                sent++;
        }
        printf("\n  non-reader pipelined %zu Fetch requests\n", sent);
        /* The broker has been answering them: unread responses pile up in
         * the non-reader's socket (its own queue holds more). */
        CU_ASSERT(RILL_WAIT_UNTIL(unread_bytes(fd) >= 64 * 1024, DEADLINE_MS));
        /* Other clients are served while that connection is stuck. */
        CU_ASSERT(broker_serves());
        rill__wb_reset(&body);
        fetch_body(&body, RAW, 0, 0, 0, 1 << 20);
        CU_ASSERT(hc_call(other, 1, 4, &body, &buf, &r));
        free(buf);
        CU_ASSERT(broker_serves());
        close(fd);
        close(other);
        CU_ASSERT(broker_serves());
        (void)total;
        rill__wb_free(&f);
        rill__wb_free(&body);
        rill__wb_free(&batch);
}

/* 6. A flood of concurrent connections, each served. */
static void
test_connection_flood(void)
{
        struct rlimit rl;
        int want = 500, served = 0;
        int *fds;
        rill__wbuf_t f;

        /* Client and broker fds live in this process: two per connection. */
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)(2 * want + 200)) {
                rl.rlim_cur = rl.rlim_max < (rlim_t)(2 * want + 200) ? rl.rlim_max
                                                                      : (rlim_t)(2 * want + 200);
                setrlimit(RLIMIT_NOFILE, &rl);
                getrlimit(RLIMIT_NOFILE, &rl);
                if (rl.rlim_cur < (rlim_t)(2 * want + 200))
                        want = (int)(rl.rlim_cur - 200) / 2;
        }
        fds = calloc((size_t)want, sizeof(int));
        for (int i = 0; i < want; i++) {
                fds[i] = hc_connect();
                CU_ASSERT_FATAL(fds[i] >= 0);
        }
        rill__wb_init(&f, 64);
        for (int i = 0; i < want; i++) {
                rill__wb_reset(&f);
                hc_frame(&f, 18, 0, 100000 + i, NULL);
                CU_ASSERT(hc_send(fds[i], f.buf, f.len));
        }
        for (int i = 0; i < want; i++) {
                size_t len;
                uint8_t *resp = hc_recv(fds[i], &len, DEADLINE_MS);
                if (resp && (int32_t)rill__be32(resp) == 100000 + i)
                        served++;
                free(resp);
        }
        printf("\n  %d of %d concurrent connections served\n", served, want);
        CU_ASSERT_EQUAL(served, want);
        for (int i = 0; i < want; i++)
                close(fds[i]);
        free(fds);
        rill__wb_free(&f);
        CU_ASSERT(broker_serves());
}

/* 7. Bad CRC, too large a batch, too large a frame. */
static void
test_rejections(void)
{
        rill__wbuf_t batch;
        int64_t end = end_offset(RAW, 0);
        uint8_t *buf;
        rill__rbuf_t r;
        uint8_t big[8];
        int fd = hc_connect();

        CU_ASSERT_FATAL(fd >= 0);
        CU_ASSERT_EQUAL_FATAL(end, g_raw_valid);
        rill__wb_init(&batch, 1024);

        /* A flipped byte in the records: CRC-32C no longer matches. */
        make_batch(&batch, 3, "raw-badcrc", 50);
        batch.buf[batch.len - 5] ^= 0x40;
        CU_ASSERT_EQUAL(raw_produce(fd, RAW, 0, &batch), KERR_CORRUPT_MESSAGE);
        CU_ASSERT_EQUAL(end_offset(RAW, 0), end);
        /* The connection stays usable. */
        CU_ASSERT(hc_call(fd, 18, 0, NULL, &buf, &r));
        free(buf);

        /* A valid batch above message.max.bytes (64 KiB). */
        rill__wb_reset(&batch);
        make_batch(&batch, 20, "raw-toolarge", 4000);
        CU_ASSERT_FATAL(batch.len > MAX_MESSAGE);
        CU_ASSERT_EQUAL(raw_produce(fd, RAW, 0, &batch), KERR_MESSAGE_TOO_LARGE);
        CU_ASSERT_EQUAL(end_offset(RAW, 0), end);
        close(fd);

        /* A frame above socket.request.max.bytes: closed without reading it. */
        fd = hc_connect();
        CU_ASSERT_FATAL(fd >= 0);
        rill__put_be32(big, MAX_REQUEST + 1);
        memset(big + 4, 0, 4);
        CU_ASSERT(hc_send(fd, big, sizeof(big)));
        CU_ASSERT(hc_wait_closed(fd, DEADLINE_MS));
        close(fd);
        /* Negative and tiny sizes too. */
        fd = hc_connect();
        CU_ASSERT_FATAL(fd >= 0);
        rill__put_be32(big, 0x80000000u);
        CU_ASSERT(hc_send(fd, big, 4));
        CU_ASSERT(hc_wait_closed(fd, DEADLINE_MS));
        close(fd);
        fd = hc_connect();
        CU_ASSERT_FATAL(fd >= 0);
        rill__put_be32(big, 3);
        memset(big + 4, 0, 3);
        CU_ASSERT(hc_send(fd, big, 7));
        CU_ASSERT(hc_wait_closed(fd, DEADLINE_MS));
        close(fd);

        rill__wb_free(&batch);
        CU_ASSERT(broker_serves());
}

/* Consumes every record of @p topic (partitions [0, n)) from the start. */
static void
consume_all(const char *topic, int n, int want, rill_test_recs_t *out)
{
        rd_kafka_t *c = rill_test_consumer_new(rill_broker_bootstrap(g_broker), NULL);
        CU_ASSERT_FATAL(c != NULL);
        CU_ASSERT_EQUAL(rill_test_assign_all(c, topic, n, RD_KAFKA_OFFSET_BEGINNING), 0);
        CU_ASSERT(rill_test_consume(c, out, want, DEADLINE_MS));
        rill_test_client_destroy(c);
}

static const rill_test_rec_t *
find_key(const rill_test_recs_t *recs, const char *key)
{
        size_t kl = strlen(key);
        for (int i = 0; i < recs->cnt; i++)
                if (recs->v[i].key_len == kl && !memcmp(recs->v[i].key, key, kl))
                        return &recs->v[i];
        return NULL;
}

/* 8. Everything still works and nothing was lost or added. */
static void
test_final_roundtrip(void)
{
        rd_kafka_t *p = rill_test_producer_new(rill_broker_bootstrap(g_broker), NULL);
        rill_test_recs_t fresh = {0}, got = {0}, raw = {0};
        int64_t extra = 0;
        CU_ASSERT_FATAL(p != NULL);
        for (int i = 0; i < 50; i++) {
                char k[32], v[64];
                snprintf(k, sizeof(k), "after-%d", i);
                snprintf(v, sizeof(v), "after value %d", i);
                rill_test_rec_add_str(&fresh, k, v);
        }
        CU_ASSERT_EQUAL(rill_test_produce_all(p, TOPIC, &fresh, DEADLINE_MS), 50);
        rill_test_client_destroy(p);

        /* TOPIC: baseline + fresh + (maybe) the 4 "raw-half" records that test 4
         * produced and disconnected from. */
        for (int part = 0; part < 3; part++)
                extra += end_offset(TOPIC, part);
        extra -= BASELINE_CNT + 50;
        CU_ASSERT(extra == 0 || extra == 4);
        consume_all(TOPIC, 3, BASELINE_CNT + 50 + (int)extra, &got);
        CU_ASSERT_EQUAL(got.cnt, BASELINE_CNT + 50 + (int)extra);
        CU_ASSERT_EQUAL(got.errors, 0);
        for (int i = 0; i < g_baseline.cnt; i++) {
                const rill_test_rec_t *want = &g_baseline.v[i];
                char key[64];
                const rill_test_rec_t *have;
                snprintf(key, sizeof(key), "%.*s", (int)want->key_len, (const char *)want->key);
                have = find_key(&got, key);
                CU_ASSERT_PTR_NOT_NULL(have);
                if (have) {
                        CU_ASSERT_EQUAL(have->value_len, want->value_len);
                        CU_ASSERT(!memcmp(have->value, want->value, want->value_len));
                        CU_ASSERT_EQUAL(have->partition, want->partition);
                        CU_ASSERT_EQUAL(have->offset, want->offset);
                }
        }
        for (int i = 0; i < fresh.cnt; i++) {
                char key[64];
                snprintf(key, sizeof(key), "after-%d", i);
                CU_ASSERT_PTR_NOT_NULL(find_key(&got, key));
        }

        /* RAW: exactly the valid raw produces, none of the rejected ones. */
        CU_ASSERT_EQUAL(end_offset(RAW, 0), g_raw_valid);
        consume_all(RAW, 1, (int)g_raw_valid, &raw);
        CU_ASSERT_EQUAL(raw.cnt, g_raw_valid);
        for (int i = 0; i < raw.cnt; i++) {
                const rill_test_rec_t *rec = &raw.v[i];
                CU_ASSERT_EQUAL(rec->offset, i);
                CU_ASSERT(rec->key_len >= 8 && (!memcmp(rec->key, "raw-ok-", 7) ||
                                                !memcmp(rec->key, "raw-bulk", 8)));
        }
        rill_test_recs_free(&fresh);
        rill_test_recs_free(&got);
        rill_test_recs_free(&raw);
}

int
main(void)
{
        static const rill_test_suite_t suites[] = {
                {"hostile", suite_init, suite_cleanup,
                 {{"baseline records", test_baseline},
                  {"1000 garbage frames", test_garbage_frames},
                  {"slow-loris partial frames", test_slowloris},
                  {"disconnects mid-request and while parked", test_disconnects},
                  {"a client that never reads", test_never_reads},
                  {"connection flood", test_connection_flood},
                  {"bad CRC, too large batch, too large frame", test_rejections},
                  {"round trip afterwards, nothing lost", test_final_roundtrip},
                  {NULL, NULL}}},
                {NULL, NULL, NULL, {{NULL, NULL}}},
        };
        return rill_test_run(suites);
}
