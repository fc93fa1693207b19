/*
 * api_metadata.c - the Metadata API, versions 0-8.
 *
 * Version differences (Kafka's MetadataRequest/Response.json):
 *   v0  topics array (empty = all topics)
 *   v1  topics nullable (null = all, empty = none); brokers carry a rack;
 *       controller_id; topics carry is_internal
 *   v2  cluster_id
 *   v3  throttle_time_ms
 *   v4  allow_auto_topic_creation (earlier versions always allow)
 *   v5  offline_replicas per partition
 *   v7  leader_epoch per partition
 *   v8  include_{cluster,topic}_authorized_operations; we answer
 *       INT32_MIN ("not provided") since there are no ACLs yet
 * v9+ is flexible and not implemented (librdkafka 2.0.2 asks for <= 4).
 *
 * Unknown topics are created on the spot when auto.create.topics.enable is
 * set and the request allows it (num.partitions, default.replication.factor).
 * With one node the creation is synchronous, so the topic is returned with
 * NONE and its partitions right away (Kafka answers LEADER_NOT_AVAILABLE
 * first and lets the client retry). Invalid names and creation failures are
 * reported with the creation's error code.
 *
 * Loop thread only.
 */
#include "server.h"

#include <string.h>

#include "rill_alloc.h"
#include "rill_log_int.h"
#include "rill_util.h"

#define AUTHORIZED_OPS_OMITTED INT32_MIN

static void
write_topic(rill_broker_t *b, rill__wbuf_t *w, int16_t v, int16_t err, const char *name,
            int32_t name_len, const rill__topic_t *t)
{
        int32_t node = rill_broker_node_id(b);
        rill__wb_i16(w, err);
        rill__wb_str(w, name, name_len, false);
        if (v >= 1)
                rill__wb_bool(w, t ? t->internal : false);
        if (!t) {
                rill__wb_array(w, 0, false);
        } else {
                rill__wb_array(w, t->partition_cnt, false);
                for (int32_t i = 0; i < t->partition_cnt; i++) {
                        const rill__partition_t *p = t->partitions[i];
                        rill__wb_i16(w, KERR_NONE);
                        rill__wb_i32(w, p->id);
                        rill__wb_i32(w, node); /* leader */
                        if (v >= 7)
                                rill__wb_i32(w, p->leader_epoch);
                        rill__wb_array(w, 1, false); /* replicas */
                        rill__wb_i32(w, node);
                        rill__wb_array(w, 1, false); /* isr */
                        rill__wb_i32(w, node);
                        if (v >= 5)
                                rill__wb_array(w, 0, false); /* offline replicas */
                }
        }
        if (v >= 8)
                rill__wb_i32(w, AUTHORIZED_OPS_OMITTED);
}

static rill__hres_t
handle_metadata(rill__req_t *req, rill__wbuf_t *w)
{
        rill_broker_t *b = req->broker;
        const struct rill_broker_conf_s *conf = rill__broker_conf(b);
        rill__rbuf_t *r = &req->body;
        int16_t v = req->api_version;
        int32_t n;
        rill__str_t *names = NULL;
        bool all, allow_auto = true;
        int out_cnt;

        n = rill__rb_array(r, false);
        if (!r->err && n > 0) {
                names = rill__calloc((size_t)n, sizeof(*names));
                for (int32_t i = 0; i < n && !r->err; i++) {
                        names[i] = rill__rb_str(r, false);
                        if (names[i].len < 0)
                                r->err = 1; /* a topic name is never null */
                }
        }
        if (v >= 4)
                allow_auto = rill__rb_bool(r);
        if (v >= 8) {
                (void)rill__rb_bool(r); /* include_cluster_authorized_operations */
                (void)rill__rb_bool(r); /* include_topic_authorized_operations */
        }
        if (r->err) {
                rill__free(names);
                return rill__req_malformed(req);
        }
        all = (v == 0 && n <= 0) || n < 0;

        if (v >= 3)
                rill__wb_i32(w, 0); /* throttle_time_ms */
        /* brokers */
        rill__wb_array(w, 1, false);
        rill__wb_i32(w, rill_broker_node_id(b));
        rill__wb_cstr(w, rill__broker_adv_host(b), false);
        rill__wb_i32(w, rill__broker_adv_port(b));
        if (v >= 1)
                rill__wb_cstr(w, NULL, false); /* rack */
        if (v >= 2)
                rill__wb_cstr(w, rill__broker_cluster_id(b), false);
        if (v >= 1)
                rill__wb_i32(w, rill_broker_node_id(b)); /* controller */

        if (all) {
                rill__topic_t *t;
                out_cnt = 0;
                while (rill__topic_at(b, out_cnt))
                        out_cnt++;
                rill__wb_array(w, out_cnt, false);
                for (int i = 0; i < out_cnt; i++) {
                        t = rill__topic_at(b, i);
                        write_topic(b, w, v, KERR_NONE, t->name, (int32_t)strlen(t->name), t);
                }
        } else {
                size_t cnt_off = rill__wb_reserve_i32(w);
                out_cnt = 0;
                for (int32_t i = 0; i < n; i++) {
                        rill__topic_t *t;
                        int16_t err = KERR_NONE;
                        bool dup = false;
                        /* Kafka answers each requested topic once. */
                        for (int32_t j = 0; j < i && j < 256 && !dup; j++)
                                dup = names[j].len == names[i].len &&
                                      memcmp(names[j].ptr, names[i].ptr, (size_t)names[i].len) == 0;
                        if (dup)
                                continue;
                        t = rill__topic_find(b, names[i].ptr, (size_t)names[i].len);
                        if (!t && memchr(names[i].ptr, '\0', (size_t)names[i].len)) {
                                err = KERR_INVALID_TOPIC_EXCEPTION; /* never a valid name */
                        } else if (!t && conf->auto_create_topics_enable && allow_auto) {
                                char msg[256] = "";
                                char *name = rill__str_dup(names[i]);
                                err = rill__topic_create(b, name, conf->num_partitions,
                                                         conf->default_replication_factor, NULL, 0,
                                                         false, false, &t, msg, sizeof(msg));
                                if (err == KERR_NONE)
                                        RILL_LOG_I("broker", "auto-created topic %s (%d partitions) "
                                                   "for Metadata from %s", name,
                                                   conf->num_partitions, rill__conn_peer(req->conn));
                                else
                                        RILL_LOG_I("broker", "auto-creating topic '%.200s' failed: %s",
                                                   name, msg);
                                rill__free(name);
                                if (err != KERR_NONE)
                                        t = NULL;
                        } else if (!t) {
                                err = KERR_UNKNOWN_TOPIC_OR_PARTITION;
                        }
                        write_topic(b, w, v, err, names[i].ptr, names[i].len, t);
                        out_cnt++;
                }
                rill__wb_patch_i32(w, cnt_off, out_cnt);
        }
        if (v >= 8)
                rill__wb_i32(w, AUTHORIZED_OPS_OMITTED); /* cluster_authorized_operations */
        rill__free(names);
        return RILL__H_RESPOND;
}

const rill__api_desc_t rill__api_metadata = {
        KAPI_METADATA, 0, 8, INT16_MAX, "Metadata", handle_metadata
};
