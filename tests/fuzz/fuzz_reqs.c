/*
 * fuzz_reqs.c - valid requests for every API version and a loopback client.
 * See fuzz_reqs.h.
 *
 * The encodings follow Kafka's message schemas (field order and the version
 * each field appears in); kafka-protocol.md in the shared reference notes is
 * the summary used. Field values are harmless on purpose: creations use
 * names of their own, deletions name things that do not exist, AlterConfigs
 * and CreatePartitions are validate-only where the API has that flag.
 */
#include "fuzz_reqs.h"

#include <arpa/inet.h>
#include <errno.h>
#include <lz4frame.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <snappy-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "batch.h"
#include "kerr.h"
#include "rill_util.h"

#define FUZZ_TOPIC "fuzz"
#define FUZZ_GROUP "fuzz-group"

const rill_fuzz_api_t rill_fuzz_apis[] = {
        {KAPI_PRODUCE, 3, 7, 9, "Produce"},
        {KAPI_FETCH, 4, 11, 12, "Fetch"},
        {KAPI_LIST_OFFSETS, 0, 5, 6, "ListOffsets"},
        {KAPI_METADATA, 0, 8, 9, "Metadata"},
        {KAPI_OFFSET_COMMIT, 0, 7, 8, "OffsetCommit"},
        {KAPI_OFFSET_FETCH, 0, 7, 6, "OffsetFetch"},
        {KAPI_FIND_COORDINATOR, 0, 2, 3, "FindCoordinator"},
        {KAPI_JOIN_GROUP, 0, 5, 6, "JoinGroup"},
        {KAPI_HEARTBEAT, 0, 3, 4, "Heartbeat"},
        {KAPI_LEAVE_GROUP, 0, 3, 4, "LeaveGroup"},
        {KAPI_SYNC_GROUP, 0, 3, 4, "SyncGroup"},
        {KAPI_DESCRIBE_GROUPS, 0, 4, 5, "DescribeGroups"},
        {KAPI_LIST_GROUPS, 0, 4, 3, "ListGroups"},
        {KAPI_API_VERSIONS, 0, 3, 3, "ApiVersions"},
        {KAPI_CREATE_TOPICS, 0, 4, 5, "CreateTopics"},
        {KAPI_DELETE_TOPICS, 0, 1, 4, "DeleteTopics"},
        {KAPI_DELETE_RECORDS, 0, 1, 2, "DeleteRecords"},
        {KAPI_DESCRIBE_CONFIGS, 0, 2, 4, "DescribeConfigs"},
        {KAPI_ALTER_CONFIGS, 0, 1, 2, "AlterConfigs"},
        {KAPI_CREATE_PARTITIONS, 0, 1, 2, "CreatePartitions"},
        {KAPI_DELETE_GROUPS, 0, 1, 2, "DeleteGroups"},
};
const int rill_fuzz_api_cnt = (int)(sizeof(rill_fuzz_apis) / sizeof(rill_fuzz_apis[0]));

const rill_fuzz_api_t *
rill_fuzz_api_find(int16_t key)
{
        for (int i = 0; i < rill_fuzz_api_cnt; i++)
                if (rill_fuzz_apis[i].key == key)
                        return &rill_fuzz_apis[i];
        return NULL;
}

/* ---- record batches ---- */

static uint8_t *
compress_records(int codec, const uint8_t *in, size_t in_len, size_t *out_len)
{
        uint8_t *out = NULL;
        size_t cap;

        switch (codec) {
        case RILL__COMP_GZIP: {
                z_stream zs;
                cap = compressBound((uLong)in_len) + 64;
                out = malloc(cap);
                memset(&zs, 0, sizeof(zs));
                if (!out || deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8,
                                         Z_DEFAULT_STRATEGY) != Z_OK)
                        abort();
                zs.next_in = (Bytef *)(uintptr_t)in;
                zs.avail_in = (uInt)in_len;
                zs.next_out = out;
                zs.avail_out = (uInt)cap;
                if (deflate(&zs, Z_FINISH) != Z_STREAM_END)
                        abort();
                *out_len = zs.total_out;
                deflateEnd(&zs);
                return out;
        }
        case RILL__COMP_SNAPPY: {
                /* xerial framing (what the Java client sends), one chunk. */
                static const uint8_t magic[8] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};
                size_t clen = snappy_max_compressed_length(in_len);
                out = malloc(20 + clen);
                if (!out)
                        abort();
                memcpy(out, magic, 8);
                rill__put_be32(out + 8, 1);
                rill__put_be32(out + 12, 1);
                if (snappy_compress((const char *)in, in_len, (char *)out + 20, &clen) != SNAPPY_OK)
                        abort();
                rill__put_be32(out + 16, (uint32_t)clen);
                *out_len = 20 + clen;
                return out;
        }
        case RILL__COMP_LZ4: {
                size_t r;
                cap = LZ4F_compressFrameBound(in_len, NULL);
                out = malloc(cap);
                if (!out)
                        abort();
                r = LZ4F_compressFrame(out, cap, in, in_len, NULL);
                if (LZ4F_isError(r))
                        abort();
                *out_len = r;
                return out;
        }
        case RILL__COMP_ZSTD: {
                size_t r;
                cap = ZSTD_compressBound(in_len);
                out = malloc(cap);
                if (!out)
                        abort();
                r = ZSTD_compress(out, cap, in, in_len, 3);
                if (ZSTD_isError(r))
                        abort();
                *out_len = r;
                return out;
        }
        default:
                abort();
        }
}

void
rill_fuzz_make_batch(rill__wbuf_t *out, int n, int codec, const char *prefix)
{
        rill__batch_builder_t bb;
        int64_t ts = 1700000000000;
        uint8_t hdr[32];
        size_t hl;

        rill__batch_builder_init(&bb, 0, ts);
        for (int i = 0; i < n; i++) {
                char k[32], v[96];
                int kl = snprintf(k, sizeof(k), "key-%d", i);
                int vl = snprintf(v, sizeof(v), "%s-%d", prefix, i);
                /* One header ("h" = "v") on odd records: varint lengths. */
                hl = 0;
                if (i & 1) {
                        hl += rill__varint_enc(hdr + hl, 1);
                        hdr[hl++] = 'h';
                        hl += rill__varint_enc(hdr + hl, 1);
                        hdr[hl++] = 'v';
                }
                rill__batch_builder_add(&bb, i, ts + i, k, kl, v, vl, (i & 1) ? hdr : NULL, hl,
                                        (i & 1) ? 1 : 0);
        }
        rill__batch_builder_finish(&bb);
        if (codec == RILL__COMP_NONE) {
                rill__wb_raw(out, bb.buf.buf, bb.buf.len);
        } else {
                size_t clen, start = out->len;
                uint8_t *c = compress_records(codec, bb.buf.buf + RILL__BATCH_HDR_SIZE,
                                              bb.buf.len - RILL__BATCH_HDR_SIZE, &clen);
                uint8_t *p;
                int16_t attrs;
                rill__wb_raw(out, bb.buf.buf, RILL__BATCH_HDR_SIZE);
                rill__wb_raw(out, c, clen);
                free(c);
                p = out->buf + start;
                attrs = (int16_t)rill__be16(p + RILL__BATCH_OFF_ATTRS);
                attrs = (int16_t)((attrs & ~RILL__BATCH_ATTR_COMPRESSION_MASK) | codec);
                rill__put_be16(p + RILL__BATCH_OFF_ATTRS, (uint16_t)attrs);
                rill__put_be32(p + RILL__BATCH_OFF_LENGTH,
                               (uint32_t)(RILL__BATCH_HDR_SIZE + clen - 12));
                rill__put_be32(p + RILL__BATCH_OFF_CRC,
                               rill__crc32c(0, p + RILL__BATCH_OFF_ATTRS,
                                            out->len - start - RILL__BATCH_OFF_ATTRS));
        }
        rill__batch_builder_destroy(&bb);
}

/* ---- request bodies ---- */

static void
body_produce(rill__wbuf_t *w, int16_t v)
{
        rill__wbuf_t batch;
        (void)v;
        rill__wb_init(&batch, 256);
        rill_fuzz_make_batch(&batch, 3, RILL__COMP_NONE, "seed");
        rill__wb_cstr(w, NULL, false);  /* transactional_id */
        rill__wb_i16(w, 1);             /* acks */
        rill__wb_i32(w, 5000);          /* timeout_ms */
        rill__wb_array(w, 1, false);
        rill__wb_cstr(w, FUZZ_TOPIC, false);
        rill__wb_array(w, 1, false);
        rill__wb_i32(w, 0);
        rill__wb_bytes(w, batch.buf, (int32_t)batch.len, false);
        rill__wb_free(&batch);
}

static void
body_fetch(rill__wbuf_t *w, int16_t v)
{
        rill__wb_i32(w, -1);            /* replica_id */
        rill__wb_i32(w, 0);             /* max_wait_ms: answer at once */
        rill__wb_i32(w, 1);             /* min_bytes */
        rill__wb_i32(w, 1 << 20);       /* max_bytes (v3+) */
        rill__wb_i8(w, 0);              /* isolation_level (v4+) */
        if (v >= 7) {
                rill__wb_i32(w, 0);     /* session_id */
                rill__wb_i32(w, -1);    /* session_epoch: full fetch, no session */
        }
        rill__wb_array(w, 1, false);
        rill__wb_cstr(w, FUZZ_TOPIC, false);
        rill__wb_array(w, 2, false);
        for (int p = 0; p < 2; p++) {
                rill__wb_i32(w, p);
                if (v >= 9)
                        rill__wb_i32(w, -1);    /* current_leader_epoch */
                rill__wb_i64(w, 0);             /* fetch_offset */
                if (v >= 5)
                        rill__wb_i64(w, -1);    /* log_start_offset */
                rill__wb_i32(w, 65536);         /* partition_max_bytes */
        }
        if (v >= 7)
                rill__wb_array(w, 0, false);    /* forgotten_topics_data */
        if (v >= 11)
                rill__wb_cstr(w, "", false);    /* rack_id */
}

static void
body_list_offsets(rill__wbuf_t *w, int16_t v)
{
        rill__wb_i32(w, -1);
        if (v >= 2)
                rill__wb_i8(w, 0);
        rill__wb_array(w, 1, false);
        rill__wb_cstr(w, FUZZ_TOPIC, false);
        rill__wb_array(w, 2, false);
        for (int p = 0; p < 2; p++) {
                rill__wb_i32(w, p);
                if (v >= 4)
                        rill__wb_i32(w, -1);
                rill__wb_i64(w, p == 0 ? -1 : -2);      /* latest, earliest */
                if (v == 0)
                        rill__wb_i32(w, 1);             /* max_num_offsets */
        }
}

static void
body_metadata(rill__wbuf_t *w, int16_t v)
{
        rill__wb_array(w, 1, false);
        rill__wb_cstr(w, FUZZ_TOPIC, false);
        if (v >= 4)
                rill__wb_bool(w, false);        /* allow_auto_topic_creation */
        if (v >= 8) {
                rill__wb_bool(w, true);         /* include_cluster_authorized_operations */
                rill__wb_bool(w, true);         /* include_topic_authorized_operations */
        }
}

static void
body_offset_commit(rill__wbuf_t *w, int16_t v)
{
        rill__wb_cstr(w, FUZZ_GROUP, false);
        if (v >= 1) {
                rill__wb_i32(w, -1);            /* generation: simple (group-less) commit */
                rill__wb_cstr(w, "", false);    /* member_id */
        }
        if (v >= 7)
                rill__wb_cstr(w, NULL, false);  /* group_instance_id */
        if (v >= 2 && v <= 4)
                rill__wb_i64(w, -1);            /* retention_time_ms */
        rill__wb_array(w, 1, false);
        rill__wb_cstr(w, FUZZ_TOPIC, false);
        rill__wb_array(w, 1, false);
        rill__wb_i32(w, 0);
        rill__wb_i64(w, 1);
        if (v >= 6)
                rill__wb_i32(w, -1);            /* committed_leader_epoch */
        if (v == 1)
                rill__wb_i64(w, -1);            /* commit_timestamp */
        rill__wb_cstr(w, "seed", false);
}

static void
body_offset_fetch(rill__wbuf_t *w, int16_t v, bool flex)
{
        rill__wb_cstr(w, FUZZ_GROUP, flex);
        if (v >= 2 && (v & 1)) {
                rill__wb_array(w, -1, flex);    /* null: all committed offsets */
        } else {
                rill__wb_array(w, 1, flex);
                rill__wb_cstr(w, FUZZ_TOPIC, flex);
                rill__wb_array(w, 2, flex);
                rill__wb_i32(w, 0);
                rill__wb_i32(w, 1);
                rill__wb_tags(w, flex);
        }
        if (v >= 7)
                rill__wb_bool(w, false);        /* require_stable */
        rill__wb_tags(w, flex);
}

static void
body_find_coordinator(rill__wbuf_t *w, int16_t v)
{
        rill__wb_cstr(w, FUZZ_GROUP, false);
        if (v >= 1)
                rill__wb_i8(w, 0);              /* key_type: group */
}

static void
body_join_group(rill__wbuf_t *w, int16_t v)
{
        char group[48];
        snprintf(group, sizeof(group), FUZZ_GROUP "-join-v%d", v);
        rill__wb_cstr(w, group, false);
        rill__wb_i32(w, 10000);                 /* session_timeout_ms */
        if (v >= 1)
                rill__wb_i32(w, 10000);         /* rebalance_timeout_ms */
        rill__wb_cstr(w, "", false);            /* member_id: new member */
        if (v >= 5)
                rill__wb_cstr(w, NULL, false);  /* group_instance_id */
        rill__wb_cstr(w, "consumer", false);
        rill__wb_array(w, 1, false);
        rill__wb_cstr(w, "range", false);
        rill__wb_bytes(w, "\0\0\0\0\0\1\0\4fuzz\377\377\377\377", 16, false);
}

static void
body_heartbeat(rill__wbuf_t *w, int16_t v)
{
        rill__wb_cstr(w, FUZZ_GROUP, false);
        rill__wb_i32(w, 1);
        rill__wb_cstr(w, "fuzz-member", false);
        if (v >= 3)
                rill__wb_cstr(w, NULL, false);
}

static void
body_leave_group(rill__wbuf_t *w, int16_t v)
{
        rill__wb_cstr(w, FUZZ_GROUP, false);
        if (v <= 2) {
                rill__wb_cstr(w, "fuzz-member", false);
        } else {
                rill__wb_array(w, 1, false);
                rill__wb_cstr(w, "fuzz-member", false);
                rill__wb_cstr(w, NULL, false);
        }
}

static void
body_sync_group(rill__wbuf_t *w, int16_t v)
{
        rill__wb_cstr(w, FUZZ_GROUP, false);
        rill__wb_i32(w, 1);
        rill__wb_cstr(w, "fuzz-member", false);
        if (v >= 3)
                rill__wb_cstr(w, NULL, false);
        rill__wb_array(w, 1, false);
        rill__wb_cstr(w, "fuzz-member", false);
        rill__wb_bytes(w, "\0\0\0\0\0\1\0\4fuzz\0\0\0\1\0\0\0\0\0\0\0\0", 24, false);
}

static void
body_describe_groups(rill__wbuf_t *w, int16_t v)
{
        rill__wb_array(w, 2, false);
        rill__wb_cstr(w, FUZZ_GROUP, false);
        rill__wb_cstr(w, FUZZ_GROUP "-join-v0", false);
        if (v >= 3)
                rill__wb_bool(w, true);
}

static void
body_list_groups(rill__wbuf_t *w, int16_t v, bool flex)
{
        if (v >= 4) {
                rill__wb_array(w, 2, flex);
                rill__wb_cstr(w, "Stable", flex);
                rill__wb_cstr(w, "Empty", flex);
        }
        rill__wb_tags(w, flex);
}

static void
body_api_versions(rill__wbuf_t *w, int16_t v)
{
        if (v >= 3) {
                rill__wb_cstr(w, "rill-fuzz", true);
                rill__wb_cstr(w, "1.0", true);
                rill__wb_tags(w, true);
        }
}

static void
body_create_topics(rill__wbuf_t *w, int16_t v)
{
        char name[48];
        snprintf(name, sizeof(name), FUZZ_TOPIC "-created-v%d", v);
        rill__wb_array(w, 1, false);
        rill__wb_cstr(w, name, false);
        rill__wb_i32(w, 1);                     /* num_partitions */
        rill__wb_i16(w, 1);                     /* replication_factor */
        rill__wb_array(w, 0, false);            /* assignments */
        rill__wb_array(w, 2, false);            /* configs */
        rill__wb_cstr(w, "cleanup.policy", false);
        rill__wb_cstr(w, "compact", false);
        rill__wb_cstr(w, "retention.ms", false);
        rill__wb_cstr(w, "3600000", false);
        rill__wb_i32(w, 5000);                  /* timeout_ms */
        if (v >= 1)
                rill__wb_bool(w, false);        /* validate_only */
}

static void
body_delete_topics(rill__wbuf_t *w, int16_t v)
{
        (void)v;
        rill__wb_array(w, 1, false);
        rill__wb_cstr(w, FUZZ_TOPIC "-no-such-topic", false);
        rill__wb_i32(w, 5000);
}

static void
body_delete_records(rill__wbuf_t *w, int16_t v)
{
        (void)v;
        rill__wb_array(w, 1, false);
        rill__wb_cstr(w, FUZZ_TOPIC, false);
        rill__wb_array(w, 1, false);
        rill__wb_i32(w, 1);
        rill__wb_i64(w, 0);                     /* delete nothing */
        rill__wb_i32(w, 5000);
}

static void
body_describe_configs(rill__wbuf_t *w, int16_t v)
{
        rill__wb_array(w, 2, false);
        rill__wb_i8(w, 2);                      /* topic */
        rill__wb_cstr(w, FUZZ_TOPIC, false);
        rill__wb_array(w, -1, false);           /* all keys */
        rill__wb_i8(w, 4);                      /* broker */
        rill__wb_cstr(w, "1", false);
        rill__wb_array(w, 2, false);
        rill__wb_cstr(w, "log.retention.hours", false);
        rill__wb_cstr(w, "num.partitions", false);
        if (v >= 1)
                rill__wb_bool(w, true);         /* include_synonyms */
}

static void
body_alter_configs(rill__wbuf_t *w, int16_t v)
{
        (void)v;
        rill__wb_array(w, 1, false);
        rill__wb_i8(w, 2);
        rill__wb_cstr(w, FUZZ_TOPIC, false);
        rill__wb_array(w, 2, false);
        rill__wb_cstr(w, "retention.ms", false);
        rill__wb_cstr(w, "604800000", false);
        rill__wb_cstr(w, "max.message.bytes", false);
        rill__wb_cstr(w, "1048588", false);
        rill__wb_bool(w, true);                 /* validate_only */
}

static void
body_create_partitions(rill__wbuf_t *w, int16_t v)
{
        (void)v;
        rill__wb_array(w, 1, false);
        rill__wb_cstr(w, FUZZ_TOPIC, false);
        rill__wb_i32(w, 3);
        rill__wb_array(w, 1, false);            /* assignments for the new partition */
        rill__wb_array(w, 1, false);
        rill__wb_i32(w, 1);
        rill__wb_i32(w, 5000);
        rill__wb_bool(w, true);                 /* validate_only */
}

static void
body_delete_groups(rill__wbuf_t *w, int16_t v)
{
        (void)v;
        rill__wb_array(w, 2, false);
        rill__wb_cstr(w, FUZZ_GROUP "-no-such-group", false);
        rill__wb_cstr(w, FUZZ_GROUP, false);
}

bool
rill_fuzz_build_body(rill__wbuf_t *w, int16_t key, int16_t ver)
{
        const rill_fuzz_api_t *a = rill_fuzz_api_find(key);
        bool flex;
        if (!a || ver < a->min_version || ver > a->max_version)
                return false;
        flex = ver >= a->flex_min_version;
        switch (key) {
        case KAPI_PRODUCE: body_produce(w, ver); break;
        case KAPI_FETCH: body_fetch(w, ver); break;
        case KAPI_LIST_OFFSETS: body_list_offsets(w, ver); break;
        case KAPI_METADATA: body_metadata(w, ver); break;
        case KAPI_OFFSET_COMMIT: body_offset_commit(w, ver); break;
        case KAPI_OFFSET_FETCH: body_offset_fetch(w, ver, flex); break;
        case KAPI_FIND_COORDINATOR: body_find_coordinator(w, ver); break;
        case KAPI_JOIN_GROUP: body_join_group(w, ver); break;
        case KAPI_HEARTBEAT: body_heartbeat(w, ver); break;
        case KAPI_LEAVE_GROUP: body_leave_group(w, ver); break;
        case KAPI_SYNC_GROUP: body_sync_group(w, ver); break;
        case KAPI_DESCRIBE_GROUPS: body_describe_groups(w, ver); break;
        case KAPI_LIST_GROUPS: body_list_groups(w, ver, flex); break;
        case KAPI_API_VERSIONS: body_api_versions(w, ver); break;
        case KAPI_CREATE_TOPICS: body_create_topics(w, ver); break;
        case KAPI_DELETE_TOPICS: body_delete_topics(w, ver); break;
        case KAPI_DELETE_RECORDS: body_delete_records(w, ver); break;
        case KAPI_DESCRIBE_CONFIGS: body_describe_configs(w, ver); break;
        case KAPI_ALTER_CONFIGS: body_alter_configs(w, ver); break;
        case KAPI_CREATE_PARTITIONS: body_create_partitions(w, ver); break;
        case KAPI_DELETE_GROUPS: body_delete_groups(w, ver); break;
        default: return false;
        }
        return true;
}

void
rill_fuzz_build_frame(rill__wbuf_t *w, int16_t key, int16_t ver, int32_t corr,
                      const rill__wbuf_t *body)
{
        const rill_fuzz_api_t *a = rill_fuzz_api_find(key);
        bool flex = a && ver >= a->flex_min_version;
        rill__wb_i16(w, key);
        rill__wb_i16(w, ver);
        rill__wb_i32(w, corr);
        rill__wb_cstr(w, "rill-fuzz", false);   /* client_id is never compact */
        rill__wb_tags(w, flex);
        if (body)
                rill__wb_raw(w, body->buf, body->len);
}

/* ---- loopback client ---- */

int
rill_fuzz_connect(int port)
{
        struct sockaddr_in sa;
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
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        return fd;
}

bool
rill_fuzz_send_all(int fd, const void *p, size_t n)
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

bool
rill_fuzz_send_frame(int fd, const void *frame, size_t len)
{
        uint8_t sz[4];
        rill__put_be32(sz, (uint32_t)len);
        return rill_fuzz_send_all(fd, sz, 4) && rill_fuzz_send_all(fd, frame, len);
}

/* Reads exactly @p n bytes before @p deadline (monotonic ms). Returns 1, 0 on
 * EOF/reset, -1 on timeout. */
static int
read_full(int fd, uint8_t *p, size_t n, int64_t deadline)
{
        while (n > 0) {
                struct pollfd pfd = {fd, POLLIN, 0};
                int64_t left = deadline - rill__mono_ms();
                ssize_t r;
                int pr;
                if (left <= 0)
                        return -1;
                pr = poll(&pfd, 1, (int)(left > 1000 ? 1000 : left));
                if (pr < 0 && errno == EINTR)
                        continue;
                if (pr <= 0)
                        continue;
                r = recv(fd, p, n, 0);
                if (r < 0 && (errno == EINTR || errno == EAGAIN))
                        continue;
                if (r <= 0)
                        return 0;
                p += r;
                n -= (size_t)r;
        }
        return 1;
}

rill_fuzz_rr_t
rill_fuzz_recv(int fd, int timeout_ms, uint8_t **out, size_t *out_len)
{
        int64_t deadline = rill__mono_ms() + timeout_ms;
        uint8_t sz[4];
        int32_t n;
        int r;

        *out = NULL;
        *out_len = 0;
        r = read_full(fd, sz, 4, deadline);
        if (r <= 0)
                return r == 0 ? RILL_FUZZ_CLOSED : RILL_FUZZ_TIMEOUT;
        n = (int32_t)rill__be32(sz);
        if (n < 4 || n > 256 * 1024 * 1024)
                return RILL_FUZZ_BAD;
        *out = malloc((size_t)n);
        if (!*out)
                abort();
        r = read_full(fd, *out, (size_t)n, deadline);
        if (r <= 0) {
                free(*out);
                *out = NULL;
                return r == 0 ? RILL_FUZZ_CLOSED : RILL_FUZZ_TIMEOUT;
        }
        *out_len = (size_t)n;
        return RILL_FUZZ_RESPONSE;
}

uint8_t *
rill_fuzz_call(int fd, int16_t key, int16_t ver, const rill__wbuf_t *body, int timeout_ms,
               size_t *resp_len)
{
        static const int32_t corr = 0x5eed;
        rill__wbuf_t f;
        uint8_t *resp = NULL;
        bool ok;

        rill__wb_init(&f, 256);
        rill_fuzz_build_frame(&f, key, ver, corr, body);
        ok = rill_fuzz_send_frame(fd, f.buf, f.len);
        rill__wb_free(&f);
        if (!ok || rill_fuzz_recv(fd, timeout_ms, &resp, resp_len) != RILL_FUZZ_RESPONSE)
                return NULL;
        if ((int32_t)rill__be32(resp) != corr) {
                free(resp);
                return NULL;
        }
        return resp;
}

bool
rill_fuzz_setup(int port)
{
        static const int codecs[] = {RILL__COMP_NONE, RILL__COMP_GZIP, RILL__COMP_SNAPPY,
                                     RILL__COMP_LZ4, RILL__COMP_ZSTD};
        int fd = rill_fuzz_connect(port);
        rill__wbuf_t w;
        uint8_t *resp;
        size_t len;
        bool ok = true;

        if (fd < 0)
                return false;
        rill__wb_init(&w, 1024);
        rill__wb_array(&w, 1, false);
        rill__wb_cstr(&w, FUZZ_TOPIC, false);
        rill__wb_i32(&w, 2);
        rill__wb_i16(&w, 1);
        rill__wb_array(&w, 0, false);
        rill__wb_array(&w, 0, false);
        rill__wb_i32(&w, 5000);
        resp = rill_fuzz_call(fd, KAPI_CREATE_TOPICS, 0, &w, 30000, &len);
        ok = resp != NULL;
        free(resp);
        for (size_t c = 0; ok && c < sizeof(codecs) / sizeof(codecs[0]); c++) {
                for (int p = 0; ok && p < 2; p++) {
                        rill__wbuf_t batch;
                        rill__wb_init(&batch, 512);
                        rill_fuzz_make_batch(&batch, 4, codecs[c], "setup");
                        rill__wb_reset(&w);
                        rill__wb_cstr(&w, NULL, false);
                        rill__wb_i16(&w, 1);
                        rill__wb_i32(&w, 5000);
                        rill__wb_array(&w, 1, false);
                        rill__wb_cstr(&w, FUZZ_TOPIC, false);
                        rill__wb_array(&w, 1, false);
                        rill__wb_i32(&w, p);
                        rill__wb_bytes(&w, batch.buf, (int32_t)batch.len, false);
                        rill__wb_free(&batch);
                        resp = rill_fuzz_call(fd, KAPI_PRODUCE, 7, &w, 30000, &len);
                        ok = resp != NULL;
                        free(resp);
                }
        }
        rill__wb_free(&w);
        close(fd);
        return ok;
}
