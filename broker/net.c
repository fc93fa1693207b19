/*
 * net.c - the broker's event loop: listener, connections, framing, output
 * queues and the parked-request plumbing (rill__req_respond & co).
 *
 * Design. One thread per broker runs rill__net_run(): a level-triggered
 * epoll loop over a non-blocking listener, an eventfd (stop requests from
 * other threads) and the connections. Every connection is read with one
 * read() per readable event into a per-connection buffer; complete frames
 * (int32 size + payload) are copied out into a buffer owned by the request,
 * except large frames, which are read straight into their own buffer so a
 * big Produce is never copied twice. Frames are dispatched strictly in order
 * and one at a time: while a request is parked (long-poll Fetch, JoinGroup,
 * later acks=all) the connection is "muted" as Kafka does - nothing more is
 * read or processed on it until that request has been answered - so
 * responses always leave in request order. Responses are queued per
 * connection (a small header plus the body buffer the handler filled, no
 * copy) and written with one sendmsg() gather-write per flush; a partial
 * write keeps the rest queued and arms EPOLLOUT. While more than
 * NET_OUT_HIGH bytes are queued the connection is not read (back-pressure
 * against clients that do not read their responses).
 *
 * Connections are reference counted: the loop holds one reference while the
 * socket is open and every request holds one, so a parked request outlives a
 * closed connection safely (rill__req_respond() on a dead connection just
 * frees the request). Connections are never freed in the middle of a loop
 * iteration (the epoll event array may still point at them); their memory is
 * released at the end of the iteration.
 *
 * Writes happen only at safe points - after a connection's readable event has
 * been processed, or when a connection is serviced from the pending list - so
 * a handler that answers another connection's parked request never writes to
 * (or closes) a socket underneath the code processing it.
 *
 * Threading: everything here runs on the loop thread, except
 * rill__net_wakeup_stop() (any thread) and rill__net_close_all() /
 * rill__net_destroy() (after the loop thread has been joined).
 */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "rill_alloc.h"
#include "rill_log_int.h"
#include "rill_util.h"

#define NET_RBUF_SIZE (64 * 1024)            /* per-connection read buffer */
#define NET_BIG_FRAME (16 * 1024)            /* larger frames get their own buffer */
#define NET_BIG_INITIAL (4 * 1024 * 1024)    /* ... allocated up to this size at once */
#define NET_OUT_HIGH (16 * 1024 * 1024)      /* stop reading above this much queued output */
#define NET_MAX_EVENTS 256
#define NET_IOV_MAX 128
#define NET_IDLE_CHECK_MS 1000
#define NET_PENDING_ROUNDS 16

typedef struct net_out {
        struct net_out *next;
        uint8_t hdr[16];
        size_t hdr_len;
        rill__wbuf_t body;
        size_t off;          /* bytes of hdr+body already written */
} net_out_t;

struct rill__conn {
        rill__net_t *net;       /* NULL once the net is gone */
        int refcnt;
        int fd;
        bool closed;
        char peer[64];
        uint32_t events;        /* current epoll interest */

        uint8_t *rbuf;          /* NET_RBUF_SIZE bytes */
        size_t rpos, rlen;
        uint8_t *big;           /* a large frame being read directly */
        size_t big_need, big_have, big_cap;

        rill__req_t *busy;      /* the request being handled or parked */

        net_out_t *out_head, *out_tail;
        size_t out_bytes;

        int64_t last_active_ms;
        bool pending;
        rill__conn_t *pend_next;
        rill__conn_t *prev, *next;   /* every connection not yet freed */
};

struct rill__net {
        rill_broker_t *b;
        int epfd;
        int lfd;
        int evfd;
        atomic_bool stop;
        bool listener_paused;
        bool in_iter;              /* defer frees until the iteration ends */
        rill__conn_t *conns;       /* all (open, or closed but referenced) */
        rill__conn_t *pend_head, *pend_tail;
        rill__conn_t *zombies;     /* refcnt 0, freed at the end of the iteration */
        int64_t next_idle_check;
        int64_t last_accept_warn;
        int32_t max_request;
        int64_t idle_ms;
};

static void conn_close(rill__conn_t *c, const char *why);

/* ---- reference counting ---- */

static void
conn_free(rill__conn_t *c)
{
        net_out_t *o, *next;
        for (o = c->out_head; o; o = next) {
                next = o->next;
                rill__wb_free(&o->body);
                rill__free(o);
        }
        rill__free(c->rbuf);
        rill__free(c->big);
        rill__free(c);
}

static void
conn_hold(rill__conn_t *c)
{
        c->refcnt++;
}

static void
conn_unlink(rill__net_t *n, rill__conn_t *c)
{
        if (c->prev)
                c->prev->next = c->next;
        else
                n->conns = c->next;
        if (c->next)
                c->next->prev = c->prev;
        c->prev = c->next = NULL;
}

static void
conn_unref(rill__conn_t *c)
{
        rill__net_t *n = c->net;
        if (--c->refcnt > 0)
                return;
        if (!n) {
                conn_free(c);
                return;
        }
        conn_unlink(n, c);
        if (n->in_iter) {
                c->next = n->zombies;
                n->zombies = c;
        } else {
                conn_free(c);
        }
}

static void
net_free_zombies(rill__net_t *n)
{
        while (n->zombies) {
                rill__conn_t *c = n->zombies;
                n->zombies = c->next;
                conn_free(c);
        }
}

const char *
rill__conn_peer(const rill__conn_t *c)
{
        return c ? c->peer : "?";
}

/* ---- epoll interest ---- */

static void
conn_update_interest(rill__conn_t *c)
{
        uint32_t want = EPOLLRDHUP;
        struct epoll_event ev;
        if (c->closed || !c->net)
                return;
        if (!c->busy && c->out_bytes < NET_OUT_HIGH)
                want |= EPOLLIN;
        if (c->out_head)
                want |= EPOLLOUT;
        if (want == c->events)
                return;
        memset(&ev, 0, sizeof(ev));
        ev.events = want;
        ev.data.ptr = c;
        if (epoll_ctl(c->net->epfd, EPOLL_CTL_MOD, c->fd, &ev) != 0) {
                RILL_LOG_W("net", "epoll_ctl(%s): %s", c->peer, strerror(errno));
                conn_close(c, "epoll error");
                return;
        }
        c->events = want;
}

static void
conn_schedule(rill__conn_t *c)
{
        rill__net_t *n = c->net;
        if (c->pending || c->closed || !n)
                return;
        c->pending = true;
        c->pend_next = NULL;
        conn_hold(c);
        if (n->pend_tail)
                n->pend_tail->pend_next = c;
        else
                n->pend_head = c;
        n->pend_tail = c;
}

/* ---- closing ---- */

static void
conn_close(rill__conn_t *c, const char *why)
{
        rill__net_t *n = c->net;
        net_out_t *o, *next;
        if (c->closed)
                return;
        c->closed = true;
        RILL_LOG_D("net", "closing connection from %s: %s", c->peer, why);
        if (n && n->epfd >= 0)
                epoll_ctl(n->epfd, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
        for (o = c->out_head; o; o = next) {
                next = o->next;
                rill__wb_free(&o->body);
                rill__free(o);
        }
        c->out_head = c->out_tail = NULL;
        c->out_bytes = 0;
        rill__free(c->big);
        c->big = NULL;
        /* The loop's reference. Requests may still hold theirs. */
        conn_unref(c);
}

/* ---- output ---- */

static void
conn_enqueue(rill__conn_t *c, const rill__req_t *req, rill__wbuf_t *body, bool take)
{
        net_out_t *o = RILL__NEW(net_out_t);
        o->hdr_len = rill__resp_header(req, body->len, o->hdr);
        if (take) {
                o->body = *body;
                body->buf = NULL;
                body->len = body->cap = 0;
        } else {
                rill__wb_init(&o->body, body->len ? body->len : 1);
                rill__wb_raw(&o->body, body->buf, body->len);
        }
        if (c->out_tail)
                c->out_tail->next = o;
        else
                c->out_head = o;
        c->out_tail = o;
        c->out_bytes += o->hdr_len + o->body.len;
}

/* Writes as much queued output as the socket takes. */
static void
conn_flush(rill__conn_t *c)
{
        while (c->out_head && !c->closed) {
                struct iovec iov[NET_IOV_MAX];
                struct msghdr msg;
                int cnt = 0;
                ssize_t w;
                size_t want = 0, done;

                for (net_out_t *o = c->out_head; o && cnt + 2 <= NET_IOV_MAX; o = o->next) {
                        size_t off = o->off;
                        if (off < o->hdr_len) {
                                iov[cnt].iov_base = o->hdr + off;
                                iov[cnt].iov_len = o->hdr_len - off;
                                want += iov[cnt++].iov_len;
                                off = 0;
                        } else {
                                off -= o->hdr_len;
                        }
                        if (o->body.len > off) {
                                iov[cnt].iov_base = o->body.buf + off;
                                iov[cnt].iov_len = o->body.len - off;
                                want += iov[cnt++].iov_len;
                        }
                }
                memset(&msg, 0, sizeof(msg));
                msg.msg_iov = iov;
                msg.msg_iovlen = (size_t)cnt;
                w = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN || errno == EWOULDBLOCK)
                                return;
                        RILL_LOG_D("net", "write to %s: %s", c->peer, strerror(errno));
                        conn_close(c, "write error");
                        return;
                }
                c->last_active_ms = rill__mono_ms();
                done = (size_t)w;
                c->out_bytes -= done;
                while (done > 0 && c->out_head) {
                        net_out_t *o = c->out_head;
                        size_t left = o->hdr_len + o->body.len - o->off;
                        if (done < left) {
                                o->off += done;
                                done = 0;
                                break;
                        }
                        done -= left;
                        c->out_head = o->next;
                        if (!c->out_head)
                                c->out_tail = NULL;
                        rill__bufpool_put(c->net->b, &o->body);
                        rill__free(o);
                }
                /* Entries with nothing left (empty bodies) are dropped too. */
                while (c->out_head && c->out_head->off == c->out_head->hdr_len + c->out_head->body.len) {
                        net_out_t *o = c->out_head;
                        c->out_head = o->next;
                        if (!c->out_head)
                                c->out_tail = NULL;
                        rill__wb_free(&o->body);
                        rill__free(o);
                }
                if ((size_t)w < want)
                        return; /* socket buffer full */
        }
}

/* ---- requests ---- */

static void
req_destroy(rill__req_t *req)
{
        rill__conn_t *c = req->conn;
        rill__free(req->frame);
        rill__free(req);
        if (c)
                conn_unref(c);
}

void
rill__req_free(rill__req_t *req)
{
        rill__conn_t *c;
        if (!req)
                return;
        c = req->conn;
        if (c && c->busy == req) {
                /* Dropped without an answer: let the connection go on. */
                c->busy = NULL;
                conn_schedule(c);
        }
        req_destroy(req);
}

static void
req_respond(rill__req_t *req, rill__wbuf_t *resp, bool take)
{
        rill__conn_t *c = req->conn;
        if (c && !c->closed) {
                conn_enqueue(c, req, resp, take);
                if (c->busy == req)
                        c->busy = NULL;
                conn_schedule(c);
        }
        rill__req_free(req);
}

void
rill__req_respond(rill__req_t *req, rill__wbuf_t *resp)
{
        req_respond(req, resp, false);
}

void
rill__req_respond_take(rill__req_t *req, rill__wbuf_t *resp)
{
        req_respond(req, resp, true);
}

bool
rill__req_conn_alive(const rill__req_t *req)
{
        return req->conn && !req->conn->closed;
}

/* Handles one complete frame (ownership of @p frame passes here). */
static void
conn_handle_frame(rill__conn_t *c, uint8_t *frame, size_t len)
{
        rill__req_t *req = RILL__NEW(rill__req_t);
        rill__wbuf_t resp;
        rill__hres_t res;

        req->broker = c->net->b;
        req->conn = c;
        conn_hold(c);
        req->frame = frame;
        req->frame_len = len;
        req->recv_us = rill__mono_us();
        req->park_deadline_ms = INT64_MAX;
        rill__wb_init(&resp, 256);

        c->busy = req;
        res = rill__dispatch(req, &resp);
        switch (res) {
        case RILL__H_RESPOND:
                if (c->busy == req)
                        c->busy = NULL;
                if (!c->closed)
                        conn_enqueue(c, req, &resp, true);
                req_destroy(req);
                break;
        case RILL__H_NO_RESPONSE:
                if (c->busy == req)
                        c->busy = NULL;
                req_destroy(req);
                break;
        case RILL__H_PARKED:
                /* The handler owns req now (it may even have answered it
                 * already, which cleared c->busy). */
                break;
        case RILL__H_CLOSE:
        default:
                if (c->busy == req)
                        c->busy = NULL;
                conn_close(c, "protocol error");
                req_destroy(req);
                break;
        }
        rill__wb_free(&resp);
}

/* Dispatches every complete buffered frame while the connection is not
 * muted. */
static void
conn_process(rill__conn_t *c)
{
        rill__net_t *n = c->net;
        while (!c->closed && !c->busy && c->out_bytes < NET_OUT_HIGH) {
                size_t avail;
                int32_t size;
                uint8_t *frame;

                if (c->big) {
                        if (c->big_have < c->big_need)
                                break;
                        frame = c->big;
                        c->big = NULL;
                        conn_handle_frame(c, frame, c->big_need);
                        continue;
                }
                avail = c->rlen - c->rpos;
                if (avail < 4)
                        break;
                size = (int32_t)rill__be32(c->rbuf + c->rpos);
                if (size < 8 || size > n->max_request) {
                        RILL_LOG_W("net", "closing connection from %s: invalid request size %d "
                                   "(must be 8..%d, socket.request.max.bytes)",
                                   c->peer, size, n->max_request);
                        conn_close(c, "bad frame size");
                        break;
                }
                if (avail - 4 >= (size_t)size) {
                        frame = rill__malloc((size_t)size);
                        memcpy(frame, c->rbuf + c->rpos + 4, (size_t)size);
                        c->rpos += 4 + (size_t)size;
                        conn_handle_frame(c, frame, (size_t)size);
                        continue;
                }
                if ((size_t)size > NET_BIG_FRAME) {
                        /* Memory follows the bytes actually received, so a
                         * peer announcing a huge frame cannot make us
                         * allocate it up front. */
                        c->big_need = (size_t)size;
                        c->big_cap = RILL__MIN(c->big_need, (size_t)NET_BIG_INITIAL);
                        c->big = rill__malloc(c->big_cap);
                        c->big_have = avail - 4;
                        memcpy(c->big, c->rbuf + c->rpos + 4, c->big_have);
                        c->rpos = c->rlen;
                }
                break;
        }
        if (c->rpos == c->rlen)
                c->rpos = c->rlen = 0;
}

/* One read() into the frame buffer or the read buffer. Returns false if the
 * connection was closed. */
static bool
conn_read(rill__conn_t *c)
{
        ssize_t r;
        uint8_t *dst;
        size_t room;

        if (c->big) {
                if (c->big_have == c->big_cap) {
                        c->big_cap = RILL__MIN(c->big_need, c->big_cap * 2);
                        c->big = rill__realloc(c->big, c->big_cap);
                }
                dst = c->big + c->big_have;
                room = c->big_cap - c->big_have;
        } else {
                if (c->rpos > 0) {
                        memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
                        c->rlen -= c->rpos;
                        c->rpos = 0;
                }
                dst = c->rbuf + c->rlen;
                room = NET_RBUF_SIZE - c->rlen;
        }
        if (room == 0)
                return true;
        do {
                r = read(c->fd, dst, room);
        } while (r < 0 && errno == EINTR);
        if (r == 0) {
                conn_close(c, "peer closed");
                return false;
        }
        if (r < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK)
                        return true;
                RILL_LOG_D("net", "read from %s: %s", c->peer, strerror(errno));
                conn_close(c, "read error");
                return false;
        }
        c->last_active_ms = rill__mono_ms();
        if (c->big)
                c->big_have += (size_t)r;
        else
                c->rlen += (size_t)r;
        return true;
}

static void
conn_event(rill__conn_t *c, uint32_t ev)
{
        conn_hold(c);
        if (ev & EPOLLERR) {
                conn_close(c, "socket error");
                goto out;
        }
        if (ev & EPOLLOUT) {
                conn_flush(c);
                conn_process(c);
        }
        if (!c->closed && (ev & EPOLLIN)) {
                if (conn_read(c))
                        conn_process(c);
        } else if (!c->closed && (ev & (EPOLLHUP | EPOLLRDHUP))) {
                /* Peer went away while we were not reading (muted). */
                conn_close(c, "peer closed");
        }
        if (!c->closed) {
                conn_flush(c);
                conn_update_interest(c);
        }
out:
        conn_unref(c);
}

static void
net_service_pending(rill__net_t *n)
{
        while (n->pend_head) {
                rill__conn_t *c = n->pend_head;
                n->pend_head = c->pend_next;
                if (!n->pend_head)
                        n->pend_tail = NULL;
                c->pend_next = NULL;
                c->pending = false;
                if (!c->closed) {
                        conn_process(c);
                        conn_flush(c);
                        conn_update_interest(c);
                }
                conn_unref(c);
        }
}

/* ---- accepting ---- */

static void
net_accept(rill__net_t *n)
{
        for (;;) {
                struct sockaddr_storage ss;
                socklen_t sl = sizeof(ss);
                struct epoll_event ev;
                char host[INET6_ADDRSTRLEN] = "?";
                int port = 0, one = 1;
                rill__conn_t *c;
                int fd = accept4(n->lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0) {
                        if (errno == EINTR || errno == ECONNABORTED)
                                continue;
                        if (errno == EAGAIN || errno == EWOULDBLOCK)
                                return;
                        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
                            errno == ENOMEM) {
                                int64_t now = rill__mono_ms();
                                if (now - n->last_accept_warn > 10000) {
                                        RILL_LOG_W("net", "accept: %s; pausing the listener",
                                                   strerror(errno));
                                        n->last_accept_warn = now;
                                }
                                /* Level-triggered: stop polling the
                                 * listener for a while instead of spinning. */
                                epoll_ctl(n->epfd, EPOLL_CTL_DEL, n->lfd, NULL);
                                n->listener_paused = true;
                                return;
                        }
                        RILL_LOG_W("net", "accept: %s", strerror(errno));
                        return;
                }
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                if (ss.ss_family == AF_INET) {
                        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
                        inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
                        port = ntohs(sin->sin_port);
                } else if (ss.ss_family == AF_INET6) {
                        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
                        inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
                        port = ntohs(sin6->sin6_port);
                }
                c = RILL__NEW(rill__conn_t);
                c->net = n;
                c->fd = fd;
                c->refcnt = 1; /* the loop's */
                snprintf(c->peer, sizeof(c->peer), "%s:%d", host, port);
                c->rbuf = rill__malloc(NET_RBUF_SIZE);
                c->last_active_ms = rill__mono_ms();
                c->events = EPOLLIN | EPOLLRDHUP;
                memset(&ev, 0, sizeof(ev));
                ev.events = c->events;
                ev.data.ptr = c;
                if (epoll_ctl(n->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
                        RILL_LOG_W("net", "epoll_ctl add: %s", strerror(errno));
                        close(fd);
                        rill__free(c->rbuf);
                        rill__free(c);
                        continue;
                }
                c->next = n->conns;
                if (n->conns)
                        n->conns->prev = c;
                n->conns = c;
                RILL_LOG_D("net", "accepted connection from %s", c->peer);
        }
}

static void
net_idle_check(rill__net_t *n, int64_t now)
{
        rill__conn_t *c, *next;
        if (n->listener_paused) {
                struct epoll_event ev;
                memset(&ev, 0, sizeof(ev));
                ev.events = EPOLLIN;
                ev.data.ptr = &n->lfd;
                if (epoll_ctl(n->epfd, EPOLL_CTL_ADD, n->lfd, &ev) == 0)
                        n->listener_paused = false;
        }
        if (n->idle_ms <= 0)
                return;
        for (c = n->conns; c; c = next) {
                next = c->next;
                if (c->closed || c->busy || c->out_head)
                        continue;
                if (now - c->last_active_ms > n->idle_ms) {
                        RILL_LOG_D("net", "closing idle connection from %s", c->peer);
                        conn_close(c, "idle (connections.max.idle.ms)");
                }
        }
}

/* ---- lifecycle ---- */

rill__net_t *
rill__net_new(rill_broker_t *b)
{
        rill__net_t *n = RILL__NEW(rill__net_t);
        n->b = b;
        n->epfd = n->lfd = n->evfd = -1;
        atomic_init(&n->stop, false);
        n->max_request = rill__broker_max_request(b);
        n->idle_ms = rill__broker_idle_ms(b);
        return n;
}

rill_err_t
rill__net_listen(rill__net_t *n, const char *host, int port, int *bound_port, char *errstr,
                 size_t errstr_size)
{
        struct addrinfo hints, *res = NULL, *ai;
        char portstr[16];
        struct epoll_event ev;
        int rc, fd = -1, saved = 0;
        char bhost[256];
        size_t hl;

        n->epfd = epoll_create1(EPOLL_CLOEXEC);
        n->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (n->epfd < 0 || n->evfd < 0) {
                rill__errf(errstr, errstr_size, "epoll/eventfd: %s", strerror(errno));
                return RILL_ERR_IO;
        }
        /* "[::1]" -> "::1" */
        snprintf(bhost, sizeof(bhost), "%s", host ? host : "");
        hl = strlen(bhost);
        if (hl >= 2 && bhost[0] == '[' && bhost[hl - 1] == ']') {
                memmove(bhost, bhost + 1, hl - 2);
                bhost[hl - 2] = '\0';
        }
        snprintf(portstr, sizeof(portstr), "%d", port);
        memset(&hints, 0, sizeof(hints));
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_PASSIVE;
        rc = getaddrinfo(bhost[0] ? bhost : NULL, portstr, &hints, &res);
        if (rc != 0) {
                rill__errf(errstr, errstr_size, "listener host '%s': %s", bhost, gai_strerror(rc));
                return RILL_ERR_IO;
        }
        for (ai = res; ai; ai = ai->ai_next) {
                int one = 1;
                fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                            ai->ai_protocol);
                if (fd < 0) {
                        saved = errno;
                        continue;
                }
                setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
                if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 1024) == 0)
                        break;
                saved = errno;
                close(fd);
                fd = -1;
        }
        freeaddrinfo(res);
        if (fd < 0) {
                rill__errf(errstr, errstr_size, "cannot listen on %s:%d: %s",
                           bhost[0] ? bhost : "*", port, strerror(saved));
                return RILL_ERR_IO;
        }
        n->lfd = fd;
        {
                struct sockaddr_storage ss;
                socklen_t sl = sizeof(ss);
                getsockname(fd, (struct sockaddr *)&ss, &sl);
                if (ss.ss_family == AF_INET6)
                        *bound_port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
                else
                        *bound_port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        }
        memset(&ev, 0, sizeof(ev));
        ev.events = EPOLLIN;
        ev.data.ptr = &n->lfd;
        if (epoll_ctl(n->epfd, EPOLL_CTL_ADD, n->lfd, &ev) != 0)
                goto fail;
        ev.data.ptr = &n->evfd;
        if (epoll_ctl(n->epfd, EPOLL_CTL_ADD, n->evfd, &ev) != 0)
                goto fail;
        return RILL_OK;
fail:
        rill__errf(errstr, errstr_size, "epoll_ctl: %s", strerror(errno));
        return RILL_ERR_IO;
}

void
rill__net_wakeup_stop(rill__net_t *n)
{
        uint64_t one = 1;
        ssize_t r;
        atomic_store(&n->stop, true);
        r = write(n->evfd, &one, sizeof(one));
        (void)r;
}

void
rill__net_run(rill__net_t *n)
{
        struct epoll_event evs[NET_MAX_EVENTS];
        n->next_idle_check = rill__mono_ms() + NET_IDLE_CHECK_MS;

        while (!atomic_load(&n->stop)) {
                int64_t now = rill__mono_ms();
                int timeout = rill__broker_loop_timeout(n->b, now);
                int nev;

                if (n->pend_head)
                        timeout = 0;
                if (n->next_idle_check - now < timeout)
                        timeout = (int)RILL__MAX(0, n->next_idle_check - now);
                nev = epoll_wait(n->epfd, evs, NET_MAX_EVENTS, timeout);
                if (nev < 0) {
                        if (errno == EINTR)
                                continue;
                        RILL_LOG_E("net", "epoll_wait: %s", strerror(errno));
                        break;
                }
                n->in_iter = true;
                for (int i = 0; i < nev; i++) {
                        void *p = evs[i].data.ptr;
                        if (p == &n->lfd) {
                                net_accept(n);
                        } else if (p == &n->evfd) {
                                uint64_t v;
                                ssize_t r = read(n->evfd, &v, sizeof(v));
                                (void)r;
                        } else {
                                rill__conn_t *c = p;
                                if (!c->closed)
                                        conn_event(c, evs[i].events);
                        }
                }
                /* Requests answered by handlers resume their connections;
                 * appends wake parked fetches; both can cascade a little. */
                for (int round = 0; round < NET_PENDING_ROUNDS; round++) {
                        net_service_pending(n);
                        rill__broker_loop_iter(n->b, rill__mono_ms());
                        if (!n->pend_head)
                                break;
                }
                now = rill__mono_ms();
                if (now >= n->next_idle_check) {
                        net_idle_check(n, now);
                        n->next_idle_check = now + NET_IDLE_CHECK_MS;
                }
                n->in_iter = false;
                net_free_zombies(n);
        }
}

void
rill__net_close_all(rill__net_t *n)
{
        rill__conn_t *c, *next;
        n->in_iter = true;
        /* Drop the pending list's references. */
        while (n->pend_head) {
                c = n->pend_head;
                n->pend_head = c->pend_next;
                c->pending = false;
                conn_unref(c);
        }
        n->pend_tail = NULL;
        for (c = n->conns; c; c = next) {
                next = c->next;
                conn_close(c, "broker stopping");
        }
        /* Whatever is left is referenced by requests someone still holds:
         * detach it from the net so that its last unref frees it. */
        for (c = n->conns; c; c = next) {
                next = c->next;
                c->net = NULL;
                c->prev = c->next = NULL;
        }
        n->conns = NULL;
        n->in_iter = false;
        net_free_zombies(n);
        if (n->lfd >= 0)
                close(n->lfd);
        if (n->evfd >= 0)
                close(n->evfd);
        if (n->epfd >= 0)
                close(n->epfd);
        n->lfd = n->evfd = n->epfd = -1;
}

void
rill__net_destroy(rill__net_t *n)
{
        if (!n)
                return;
        if (n->epfd >= 0 || n->lfd >= 0)
                rill__net_close_all(n);
        rill__free(n);
}
