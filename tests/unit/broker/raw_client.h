/*
 * raw_client.h - a minimal Kafka-protocol client over raw TCP for the broker
 * tests: builds request frames (header v1, or v2 for flexible versions) with
 * the broker's own codec, reads size-prefixed responses, and detects a
 * connection closed by the broker. Blocking sockets with a 10 s receive
 * timeout, so a broker that never answers fails a test instead of hanging it.
 *
 * Header-only (static inline) so that each test executable takes what it
 * uses. Not thread-safe: the correlation counter is per executable.
 */
#ifndef RILL_TEST_RAW_CLIENT_H
#define RILL_TEST_RAW_CLIENT_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "codec.h"

static int32_t g_tc_corr = 1;

static inline int
tc_connect_port(int port)
{
        struct sockaddr_in sa;
        struct timeval tv = {10, 0};
        int one = 1;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -1;
        memset(&sa, 0, sizeof(sa));
        sa.sin_family = AF_INET;
        sa.sin_port = htons((uint16_t)port);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
                close(fd);
                return -1;
        }
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        return fd;
}

static inline bool
tc_send_raw(int fd, const void *p, size_t n)
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

/* Sends a request with header v1 (v2 when @p flexhdr) and @p body. */
static inline bool
tc_send(int fd, int16_t key, int16_t ver, int32_t corr, bool flexhdr, const rill__wbuf_t *body)
{
        rill__wbuf_t f;
        size_t off;
        bool ok;
        rill__wb_init(&f, 64 + (body ? body->len : 0));
        off = rill__wb_reserve_i32(&f);
        rill__wb_i16(&f, key);
        rill__wb_i16(&f, ver);
        rill__wb_i32(&f, corr);
        rill__wb_cstr(&f, "rill-test", false);
        if (flexhdr)
                rill__wb_tags(&f, true);
        if (body)
                rill__wb_raw(&f, body->buf, body->len);
        rill__wb_patch_i32(&f, off, (int32_t)(f.len - 4));
        ok = tc_send_raw(fd, f.buf, f.len);
        rill__wb_free(&f);
        return ok;
}

static inline bool
tc_read_full(int fd, void *p, size_t n)
{
        uint8_t *b = p;
        while (n > 0) {
                ssize_t r = recv(fd, b, n, 0);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0)
                        return false;
                b += r;
                n -= (size_t)r;
        }
        return true;
}

/* Receives one response frame (without the size); NULL on EOF/timeout. */
static inline uint8_t *
tc_recv(int fd, size_t *len)
{
        uint8_t sz[4], *buf;
        int32_t n;
        if (!tc_read_full(fd, sz, 4))
                return NULL;
        n = (int32_t)rill__be32(sz);
        if (n < 4 || n > 64 * 1024 * 1024)
                return NULL;
        buf = malloc((size_t)n);
        if (!tc_read_full(fd, buf, (size_t)n)) {
                free(buf);
                return NULL;
        }
        *len = (size_t)n;
        return buf;
}

/* True once the broker has closed the connection (EOF or reset). */
static inline bool
tc_closed_by_peer(int fd)
{
        char c[256];
        for (;;) {
                ssize_t r = recv(fd, c, sizeof(c), 0);
                if (r == 0)
                        return true;
                if (r < 0)
                        return errno == ECONNRESET || errno == EPIPE;
                /* Data: keep draining (a response may precede the close). */
        }
}

typedef struct resp {
        uint8_t *buf;
        size_t len;
        rill__rbuf_t r;
} resp_t;

/* Sends a request and reads its response; checks the correlation id and
 * skips the response header's tags when @p resp_flex. */
static inline bool
tc_call(int fd, int16_t key, int16_t ver, bool flexhdr, bool resp_flex, const rill__wbuf_t *body,
        resp_t *out)
{
        int32_t corr = g_tc_corr++;
        memset(out, 0, sizeof(*out));
        if (!tc_send(fd, key, ver, corr, flexhdr, body))
                return false;
        out->buf = tc_recv(fd, &out->len);
        if (!out->buf)
                return false;
        rill__rb_init(&out->r, out->buf, out->len);
        if (rill__rb_i32(&out->r) != corr)
                return false;
        if (resp_flex)
                rill__rb_tags(&out->r, true);
        return !out->r.err;
}

static inline void
resp_free(resp_t *r)
{
        free(r->buf);
        r->buf = NULL;
}

/* The response was decoded completely: no error, no trailing bytes. */
#define ASSERT_DECODED(rs)                                                     \
        do {                                                                   \
                CU_ASSERT_EQUAL((rs)->r.err, 0);                               \
                CU_ASSERT_EQUAL(rill__rb_remaining(&(rs)->r), 0);              \
        } while (0)

#endif /* RILL_TEST_RAW_CLIENT_H */
