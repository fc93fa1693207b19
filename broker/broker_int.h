/*
 * broker_int.h - the broker's internal shared types (internal).
 *
 * Architecture (DESIGN.md, "Data flow"): one event-loop thread per broker
 * (epoll) owns every connection, log, topic and coordinator of that broker; no
 * locks are needed on those. (Compaction passes and the fsync of rolled
 * segments run on the broker's cleaner and flusher threads, on objects log.c
 * hands out; the logs themselves stay the loop's: see cleaner.c.) A request goes
 *   socket -> size-prefixed frame -> header decode -> handler(api key, version)
 *   -> log / coordinator / metadata -> response body -> header + frame -> socket.
 * Handlers run on the loop thread and must never block on the network; a
 * handler that must wait (long-poll Fetch, JoinGroup until the rebalance
 * completes, acks=all once replication exists) returns RILL__H_PARKED, keeps
 * the rill__req_t, and later calls rill__req_respond() (still on the loop
 * thread, e.g. from a tick or an append hook).
 *
 * Module map:
 *   net.c       epoll loop, listener, connections, framing, parked-request plumbing
 *   broker.c    public rill_broker_* lifecycle, topic registry, ticks
 *   config.c    server.properties / topic configs (config.h)
 *   dispatch.c  API table, request header, ApiVersions
 *   api_*.c     data-plane and admin handlers (Metadata, Produce, Fetch, ...)
 *   group.c     group coordinator + its APIs (group.h)
 *   log.c, batch.c  storage (log.h, batch.h)
 *   cleaner.c   log cleaner (compaction) and flusher threads (server.h)
 */
#ifndef RILL_BROKER_INT_H
#define RILL_BROKER_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <rill/broker.h>

#include "codec.h"
#include "config.h"
#include "kerr.h"
#include "log.h"

typedef struct rill__conn rill__conn_t;
typedef struct rill__groups rill__groups_t;

/* ---- topics and partitions ---- */

typedef struct rill__topic rill__topic_t;

typedef struct rill__partition {
        rill__topic_t *topic;
        int32_t id;
        rill__log_t *log;
        int64_t high_watermark;   /**< single node: == log end offset after each append */
        int32_t leader_epoch;
} rill__partition_t;

struct rill__topic {
        char *name;
        uint8_t id[16];                 /**< topic UUID (persisted) */
        int32_t partition_cnt;
        rill__partition_t **partitions;
        int16_t replication_factor;
        bool internal;                  /**< __consumer_offsets etc. */
        rill__log_conf_t conf;          /**< effective topic config */
        rill__kv_t *overrides;          /**< topic-level keys explicitly set */
        int override_cnt;
};

/** Finds a topic by name (len bytes, not NUL-terminated). NULL if absent. */
rill__topic_t *rill__topic_find(rill_broker_t *b, const char *name, size_t len);
/** Finds a partition; NULL if the topic or partition does not exist. */
rill__partition_t *rill__partition_find(rill_broker_t *b, rill__str_t topic, int32_t partition);

/**
 * Creates a topic (and persists its metadata so it survives restart).
 * @p configs are topic-level overrides (validated).
 * @returns a Kafka error code: KERR_NONE, KERR_TOPIC_ALREADY_EXISTS,
 *          KERR_INVALID_TOPIC_EXCEPTION, KERR_INVALID_PARTITIONS,
 *          KERR_INVALID_REPLICATION_FACTOR, KERR_INVALID_CONFIG,
 *          KERR_KAFKA_STORAGE_ERROR; a message in errmsg on failure.
 * With @p validate_only nothing is created.
 */
int16_t rill__topic_create(rill_broker_t *b, const char *name, int32_t partitions,
                           int16_t replication_factor, const rill__kv_t *configs, int config_cnt,
                           bool internal, bool validate_only, rill__topic_t **out,
                           char *errmsg, size_t errmsg_size);

/**
 * Deletes a topic: closes and removes its logs and metadata and tells the
 * group coordinator. @returns KERR_NONE or KERR_UNKNOWN_TOPIC_OR_PARTITION,
 * KERR_INVALID_TOPIC_EXCEPTION (internal topics), KERR_KAFKA_STORAGE_ERROR.
 */
int16_t rill__topic_delete(rill_broker_t *b, const char *name, char *errmsg, size_t errmsg_size);

/**
 * Grows @p t to @p new_total partitions (CreatePartitions).
 * @returns KERR_NONE, KERR_INVALID_PARTITIONS (not larger than now),
 *          KERR_KAFKA_STORAGE_ERROR. With @p validate_only nothing changes.
 */
int16_t rill__topic_add_partitions(rill_broker_t *b, rill__topic_t *t, int32_t new_total,
                                   bool validate_only, char *errmsg, size_t errmsg_size);

/**
 * Replaces the topic's override set with @p configs (AlterConfigs semantics:
 * keys not listed revert to the broker default), applies it to every
 * partition's log and persists it. @returns KERR_NONE or KERR_INVALID_CONFIG.
 * With @p validate_only nothing changes.
 */
int16_t rill__topic_set_configs(rill_broker_t *b, rill__topic_t *t, const rill__kv_t *configs,
                                int config_cnt, bool validate_only, char *errmsg,
                                size_t errmsg_size);

/**
 * Appends producer batches to a partition (rill__log_append), then advances
 * the high watermark and wakes parked fetches on it.
 * @returns a Kafka error code (KERR_NONE, KERR_CORRUPT_MESSAGE,
 *          KERR_MESSAGE_TOO_LARGE, KERR_INVALID_RECORD, KERR_KAFKA_STORAGE_ERROR).
 */
int16_t rill__partition_append(rill_broker_t *b, rill__partition_t *p, uint8_t *data, size_t len,
                               int64_t *first_offset, int64_t *append_time,
                               char *errmsg, size_t errmsg_size);

/* ---- requests ---- */

typedef struct rill__req rill__req_t;

struct rill__req {
        rill_broker_t *broker;
        rill__conn_t *conn;         /**< reference held by the request */
        int16_t api_key;
        int16_t api_version;
        int32_t correlation_id;
        rill__str_t client_id;      /**< points into frame */
        bool flex;                  /**< flexible version: compact types + tagged fields */
        rill__rbuf_t body;          /**< request body, positioned after the header */
        uint8_t *frame;             /**< owned request bytes (without the size prefix) */
        size_t frame_len;
        int64_t recv_us;            /**< monotonic receive time */
        rill__req_t *park_next;     /**< link for whoever parked the request */
        int64_t park_deadline_ms;   /**< monotonic deadline for parked requests */
        void *park_opaque;
};

typedef enum rill__hres {
        RILL__H_RESPOND = 0,     /**< send resp now */
        RILL__H_NO_RESPONSE = 1, /**< send nothing (acks=0 Produce) */
        RILL__H_PARKED = 2,      /**< handler kept req; it will call rill__req_respond() */
        RILL__H_CLOSE = 3        /**< protocol violation: log and close the connection */
} rill__hres_t;

/** A request handler: decode req->body (version req->api_version, flexible
 *  when req->flex), write the response *body* into @p resp (the response
 *  header is added by the caller). */
typedef rill__hres_t (rill__handler_fn)(rill__req_t *req, rill__wbuf_t *resp);

/** An API implemented by a module, with the versions it implements. */
typedef struct rill__api_desc {
        int16_t api_key;
        int16_t min_version;
        int16_t max_version;
        int16_t flex_min_version;   /**< first flexible version (INT16_MAX if none implemented) */
        const char *name;
        rill__handler_fn *handler;
} rill__api_desc_t;

/**
 * Sends the response for a parked request (response header + @p resp body)
 * if its connection is still open, then frees @p req. The caller keeps @p
 * resp (its bytes are copied). Loop thread only.
 */
void rill__req_respond(rill__req_t *req, rill__wbuf_t *resp);
/** Frees a parked request without responding. Loop thread only. */
void rill__req_free(rill__req_t *req);
/** True while the request's connection is open. */
bool rill__req_conn_alive(const rill__req_t *req);
/** "ip:port" of a connection's peer (net.c; also declared in server.h), for
 *  logs and the client_host Kafka reports for group members. Loop thread only. */
const char *rill__conn_peer(const rill__conn_t *c);

/* ---- the broker ---- */

/** The broker's configuration (read-only after rill_broker_new). */
const struct rill_broker_conf_s *rill__broker_conf(const rill_broker_t *b);
/** The advertised host and port of this broker. */
const char *rill__broker_adv_host(const rill_broker_t *b);
int rill__broker_adv_port(const rill_broker_t *b);
const char *rill__broker_cluster_id(const rill_broker_t *b);
/** The broker's data directory (first of log.dirs). */
const char *rill__broker_data_dir(const rill_broker_t *b);
rill__groups_t *rill__broker_groups(rill_broker_t *b);

/** Iterates topics: returns the i-th topic (0-based) or NULL past the end. */
rill__topic_t *rill__topic_at(rill_broker_t *b, int i);

#endif /* RILL_BROKER_INT_H */
