/*
 * dispatch.c - the API table, request-header decoding, response headers and
 * the ApiVersions API.
 *
 * The table is assembled when a broker is created from this module's own APIs
 * (ApiVersions, Metadata, Produce, Fetch, ListOffsets) and the tables exported
 * by the group coordinator (rill__group_apis) and the admin module
 * (rill__admin_apis). ApiVersions advertises exactly that table: an API
 * appears only if a handler implements it, with the versions the handler
 * implements.
 *
 * Request header: v1 (api_key, api_version, correlation_id, nullable
 * client_id) and, for flexible versions, v2 (v1 + tagged fields). Protocol
 * violations follow Kafka: an unknown API key or an unsupported version
 * closes the connection (logged), except ApiVersions, which always answers -
 * with UNSUPPORTED_VERSION and the v0 body layout listing our versions, so a
 * client can fall back (reference 1.1). A handler that finds its request
 * malformed logs it through rill__req_malformed() and the connection is
 * closed.
 *
 * Response header: correlation_id, plus an empty tag buffer when the response
 * version is flexible - except for ApiVersions, whose response header never
 * has tags (clients parse it before they know the broker's versions).
 *
 * Loop thread only.
 */
#include "server.h"

#include <string.h>

#include "api_admin.h"
#include "group.h"
#include "rill_log_int.h"
#include "rill_util.h"

static const char *const api_names[] = {
        [0] = "Produce", [1] = "Fetch", [2] = "ListOffsets", [3] = "Metadata",
        [4] = "LeaderAndIsr", [5] = "StopReplica", [6] = "UpdateMetadata",
        [7] = "ControlledShutdown", [8] = "OffsetCommit", [9] = "OffsetFetch",
        [10] = "FindCoordinator", [11] = "JoinGroup", [12] = "Heartbeat",
        [13] = "LeaveGroup", [14] = "SyncGroup", [15] = "DescribeGroups",
        [16] = "ListGroups", [17] = "SaslHandshake", [18] = "ApiVersions",
        [19] = "CreateTopics", [20] = "DeleteTopics", [21] = "DeleteRecords",
        [22] = "InitProducerId", [23] = "OffsetForLeaderEpoch",
        [24] = "AddPartitionsToTxn", [25] = "AddOffsetsToTxn", [26] = "EndTxn",
        [27] = "WriteTxnMarkers", [28] = "TxnOffsetCommit", [29] = "DescribeAcls",
        [30] = "CreateAcls", [31] = "DeleteAcls", [32] = "DescribeConfigs",
        [33] = "AlterConfigs", [34] = "AlterReplicaLogDirs", [35] = "DescribeLogDirs",
        [36] = "SaslAuthenticate", [37] = "CreatePartitions",
        [38] = "CreateDelegationToken", [39] = "RenewDelegationToken",
        [40] = "ExpireDelegationToken", [41] = "DescribeDelegationToken",
        [42] = "DeleteGroups", [43] = "ElectLeaders", [44] = "IncrementalAlterConfigs",
        [45] = "AlterPartitionReassignments", [46] = "ListPartitionReassignments",
        [47] = "OffsetDelete", [48] = "DescribeClientQuotas", [49] = "AlterClientQuotas",
        [50] = "DescribeUserScramCredentials", [51] = "AlterUserScramCredentials",
        [52] = "Vote", [53] = "BeginQuorumEpoch", [54] = "EndQuorumEpoch",
        [55] = "DescribeQuorum", [56] = "AlterPartition", [57] = "UpdateFeatures",
        [58] = "Envelope", [59] = "FetchSnapshot", [60] = "DescribeCluster",
        [61] = "DescribeProducers", [62] = "BrokerRegistration", [63] = "BrokerHeartbeat",
        [64] = "UnregisterBroker", [65] = "DescribeTransactions", [66] = "ListTransactions",
        [67] = "AllocateProducerIds", [68] = "ConsumerGroupHeartbeat",
};

const char *
rill__api_name(int16_t key)
{
        if (key >= 0 && (size_t)key < RILL__ARRAY_SIZE(api_names) && api_names[key])
                return api_names[key];
        return "Unknown";
}

static rill__hres_t handle_api_versions(rill__req_t *req, rill__wbuf_t *w);

/* ApiVersions 0-3: v3 is flexible (KIP-511 client software name/version). */
static const rill__api_desc_t api_versions_desc = {
        KAPI_API_VERSIONS, 0, 3, 3, "ApiVersions", handle_api_versions
};

static void
table_add(rill_broker_t *b, const rill__api_desc_t *d)
{
        if (!d->handler || d->api_key < 0 || d->api_key >= RILL__API_SLOTS)
                return;
        if (b->apis[d->api_key]) {
                RILL_LOG_W("broker", "API key %d (%s) implemented twice; keeping the first",
                           d->api_key, rill__api_name(d->api_key));
                return;
        }
        if (d->min_version < 0 || d->max_version < d->min_version) {
                RILL_LOG_W("broker", "API key %d (%s): invalid version range %d..%d; ignored",
                           d->api_key, rill__api_name(d->api_key), d->min_version,
                           d->max_version);
                return;
        }
        b->apis[d->api_key] = d;
}

void
rill__dispatch_init(rill_broker_t *b)
{
        memset(b->apis, 0, sizeof(b->apis));
        table_add(b, &api_versions_desc);
        table_add(b, &rill__api_metadata);
        table_add(b, &rill__api_produce);
        table_add(b, &rill__api_fetch);
        table_add(b, &rill__api_list_offsets);
        for (int i = 0; i < rill__group_api_cnt; i++)
                table_add(b, &rill__group_apis[i]);
        for (int i = 0; i < rill__admin_api_cnt; i++)
                table_add(b, &rill__admin_apis[i]);
}

size_t
rill__resp_header(const rill__req_t *req, size_t body_len, uint8_t hdr[16])
{
        bool tags = req->flex && req->api_key != KAPI_API_VERSIONS;
        size_t hlen = 4 + (tags ? 1 : 0);
        rill__put_be32(hdr, (uint32_t)(hlen + body_len));
        rill__put_be32(hdr + 4, (uint32_t)req->correlation_id);
        if (tags)
                hdr[8] = 0; /* empty tagged-field section */
        return 4 + hlen;
}

rill__hres_t
rill__req_malformed(rill__req_t *req)
{
        RILL_LOG_W("broker", "malformed %s v%d request from %s (client_id %.*s); closing the connection",
                   rill__api_name(req->api_key), req->api_version, rill__conn_peer(req->conn),
                   req->client_id.len > 0 ? (int)RILL__MIN(req->client_id.len, 128) : 1,
                   req->client_id.len > 0 ? req->client_id.ptr : "-");
        return RILL__H_CLOSE;
}

/* Writes the ApiVersions body: error, API list, throttle (v1+), tags (v3). */
static void
write_api_versions(rill_broker_t *b, rill__wbuf_t *w, int16_t version, int16_t error)
{
        bool flex = version >= 3;
        int n = 0;
        for (int k = 0; k < RILL__API_SLOTS; k++)
                n += b->apis[k] != NULL;
        rill__wb_i16(w, error);
        rill__wb_array(w, n, flex);
        for (int k = 0; k < RILL__API_SLOTS; k++) {
                const rill__api_desc_t *d = b->apis[k];
                if (!d)
                        continue;
                rill__wb_i16(w, d->api_key);
                rill__wb_i16(w, d->min_version);
                rill__wb_i16(w, d->max_version);
                rill__wb_tags(w, flex);
        }
        if (version >= 1)
                rill__wb_i32(w, 0); /* throttle_time_ms */
        rill__wb_tags(w, flex);
}

static rill__hres_t
handle_api_versions(rill__req_t *req, rill__wbuf_t *w)
{
        rill__rbuf_t *r = &req->body;
        if (req->api_version >= 3) {
                rill__str_t name = rill__rb_str(r, true);
                rill__str_t ver = rill__rb_str(r, true);
                rill__rb_tags(r, true);
                if (r->err)
                        return rill__req_malformed(req);
                RILL_LOG_D("broker", "client %s: %.*s %.*s", rill__conn_peer(req->conn),
                           name.len > 0 ? (int)RILL__MIN(name.len, 64) : 0,
                           name.len > 0 ? name.ptr : "",
                           ver.len > 0 ? (int)RILL__MIN(ver.len, 64) : 0,
                           ver.len > 0 ? ver.ptr : "");
        }
        write_api_versions(req->broker, w, req->api_version, KERR_NONE);
        return RILL__H_RESPOND;
}

rill__hres_t
rill__dispatch(rill__req_t *req, rill__wbuf_t *resp)
{
        rill_broker_t *b = req->broker;
        rill__rbuf_t r;
        const rill__api_desc_t *d;

        rill__rb_init(&r, req->frame, req->frame_len);
        req->api_key = rill__rb_i16(&r);
        req->api_version = rill__rb_i16(&r);
        req->correlation_id = rill__rb_i32(&r);
        req->client_id = rill__rb_str(&r, false);
        req->flex = false;
        if (r.err) {
                RILL_LOG_W("broker", "malformed request header from %s (api key %d v%d); "
                           "closing the connection",
                           rill__conn_peer(req->conn), req->api_key, req->api_version);
                return RILL__H_CLOSE;
        }
        d = (req->api_key >= 0 && req->api_key < RILL__API_SLOTS) ? b->apis[req->api_key] : NULL;
        if (!d) {
                RILL_LOG_W("broker", "unsupported API key %d (%s) v%d from %s; closing the connection",
                           req->api_key, rill__api_name(req->api_key), req->api_version,
                           rill__conn_peer(req->conn));
                return RILL__H_CLOSE;
        }
        if (req->api_version < d->min_version || req->api_version > d->max_version) {
                if (req->api_key == KAPI_API_VERSIONS) {
                        /* v0 layout so that any client can parse it. */
                        RILL_LOG_D("broker", "ApiVersions v%d from %s not supported; "
                                   "answering UNSUPPORTED_VERSION",
                                   req->api_version, rill__conn_peer(req->conn));
                        write_api_versions(b, resp, 0, KERR_UNSUPPORTED_VERSION);
                        return RILL__H_RESPOND;
                }
                RILL_LOG_W("broker", "unsupported %s version %d from %s (we support %d..%d); "
                           "closing the connection",
                           d->name ? d->name : rill__api_name(req->api_key), req->api_version,
                           rill__conn_peer(req->conn), d->min_version, d->max_version);
                return RILL__H_CLOSE;
        }
        req->flex = req->api_version >= d->flex_min_version;
        if (req->flex) {
                rill__rb_tags(&r, true);
                if (r.err)
                        return rill__req_malformed(req);
        }
        req->body = r;
        return d->handler(req, resp);
}
