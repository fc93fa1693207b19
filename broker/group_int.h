/*
 * group_int.h - private interfaces of the group coordinator (internal).
 *
 * The coordinator is split in four files:
 *
 *   group.c          the pure state machine ("gc"): groups, members,
 *                    rebalances, timers and committed offsets. It takes
 *                    decoded requests plus the current time and produces
 *                    results through callbacks (rill__gc_ops_t). It never
 *                    touches the network, the logs or a clock, so
 *                    tests/unit/broker/test_group.c drives it directly.
 *   group_records.c  Kafka's __consumer_offsets record schemas: encoding of
 *                    offset-commit and group-metadata keys/values and the
 *                    replay of a record into the state machine (pure too).
 *   group_store.c    persistence: creating __consumer_offsets, appending
 *                    records with rill__partition_append and replaying the
 *                    partitions at load.
 *   group_api.c      rill__groups_* (group.h), the request decoders and
 *                    response encoders of the ten group APIs, and the
 *                    parked-request plumbing.
 *
 * Parked requests. JoinGroup and SyncGroup may have to wait for other
 * members. The state machine keeps an opaque "waiter" per member (the
 * rill__req_t in the broker) and completes it exactly once through
 * ops->join_done / ops->sync_done: possibly synchronously during the call
 * that parked it, possibly later from another member's request or a tick.
 * rill__gc_drop_waiters() hands every remaining waiter back (shutdown).
 *
 * Time. Every entry point takes `now` in milliseconds. The broker passes the
 * wall clock (commit and state timestamps are persisted, as Kafka does);
 * tests pass whatever they like.
 *
 * Threading: not thread-safe; one coordinator belongs to one loop thread.
 */
#ifndef RILL_BROKER_GROUP_INT_H
#define RILL_BROKER_GROUP_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "codec.h"
#include "kerr.h"

/* ---- state ---- */

typedef enum rill__gstate {
        RILL__GS_EMPTY = 0,
        RILL__GS_PREPARING,     /**< PreparingRebalance: collecting JoinGroups */
        RILL__GS_COMPLETING,    /**< CompletingRebalance: awaiting the leader's SyncGroup */
        RILL__GS_STABLE,
        RILL__GS_DEAD
} rill__gstate_t;

/** Kafka's state name ("Empty", "PreparingRebalance", ...). */
const char *rill__gstate_name(rill__gstate_t s);

/** Kafka's NewMemberJoinTimeoutMs: a new member's parked JoinGroup expires after this. */
#define RILL__GC_NEW_MEMBER_JOIN_TIMEOUT_MS 300000
/** offset.metadata.max.bytes (Kafka's default). */
#define RILL__GC_MAX_METADATA 4096

typedef struct rill__gproto {
        char *name;
        uint8_t *meta;
        int32_t meta_len;
} rill__gproto_t;

typedef struct rill__gmember rill__gmember_t;
struct rill__gmember {
        char *member_id;
        char *instance_id;          /**< group.instance.id; NULL for dynamic members */
        char *client_id;
        char *client_host;
        int32_t session_timeout_ms;
        int32_t rebalance_timeout_ms;
        char *protocol_type;
        rill__gproto_t *protos;     /**< in the member's order of preference */
        int proto_cnt;
        uint8_t *assignment;        /**< from the leader's SyncGroup (NULL = empty) */
        int32_t assignment_len;
        bool awaiting_join;         /**< has a parked JoinGroup (join_waiter) */
        void *join_waiter;
        void *sync_waiter;          /**< parked SyncGroup, or NULL */
        bool is_new;                /**< joined during the current rebalance */
        bool pending_sync;          /**< got its JoinGroup answer, SyncGroup not seen yet */
        int64_t hb_deadline;        /**< session expiry */
        rill__gmember_t *next;      /**< join order */
};

/** A member id issued with MEMBER_ID_REQUIRED that has not joined yet (KIP-394). */
typedef struct rill__gpending {
        char *member_id;
        int64_t deadline;
} rill__gpending_t;

typedef struct rill__goffset {
        int32_t partition;
        int64_t offset;
        int32_t leader_epoch;       /**< -1 = unknown */
        char *metadata;             /**< never NULL */
        int64_t commit_ts;
        int64_t expire_ts;          /**< -1 = broker retention (offsets.retention.minutes) */
} rill__goffset_t;

typedef struct rill__gtopic rill__gtopic_t;
struct rill__gtopic {
        char *name;
        rill__goffset_t *parts;     /**< sorted by partition */
        int part_cnt;
        int part_cap;
        rill__gtopic_t *next;
};

typedef struct rill__group rill__group_t;
struct rill__group {
        char *id;
        rill__gstate_t state;
        int64_t state_ts;           /**< when the current state was entered */
        char *protocol_type;        /**< NULL until a member joined */
        char *protocol;             /**< selected protocol of the generation, or NULL */
        int32_t generation;
        rill__gmember_t *leader;
        rill__gmember_t *members;   /**< join order */
        int member_cnt;
        int awaiting_join_cnt;
        rill__gpending_t *pending;
        int pending_cnt;
        int pending_cap;

        /* PreparingRebalance timer (Kafka's DelayedJoin / InitialDelayedJoin). */
        int64_t join_deadline;
        bool initial_join;          /**< the deadline is an initial-rebalance delay */
        int32_t initial_delay_ms;   /**< delay of the running initial timer */
        int32_t initial_remaining_ms;
        bool new_member_added;
        /* Members that got their JoinGroup answer must SyncGroup before this. */
        int64_t sync_deadline;      /**< 0 = none */

        rill__gtopic_t *topics;     /**< committed offsets */
        int offset_cnt;
        rill__group_t *hnext;       /**< hash chain */
};

/* ---- requests and results ---- */

typedef struct rill__gc_proto_in {
        rill__str_t name;
        rill__str_t meta;
} rill__gc_proto_in_t;

typedef struct rill__gc_join_req {
        rill__str_t group_id;
        int32_t session_timeout_ms;
        int32_t rebalance_timeout_ms;
        rill__str_t member_id;          /**< "" for a new member */
        rill__str_t instance_id;        /**< null when absent */
        rill__str_t protocol_type;
        const rill__gc_proto_in_t *protos;
        int proto_cnt;
        rill__str_t client_id;
        const char *client_host;
        bool require_known_member_id;   /**< JoinGroup v4+ (KIP-394) */
} rill__gc_join_req_t;

typedef struct rill__gc_join_member {
        const char *member_id;
        const char *instance_id;
        const uint8_t *meta;
        int32_t meta_len;
} rill__gc_join_member_t;

/** A JoinGroup result; every pointer is valid during the callback only. */
typedef struct rill__gc_join_res {
        int16_t err;
        int32_t generation;             /**< -1 on error */
        const char *protocol_type;      /**< may be NULL */
        const char *protocol;           /**< NULL on error */
        const char *leader;             /**< "" on error */
        const char *member_id;
        const rill__gc_join_member_t *members;  /**< the leader's copy only */
        int member_cnt;
} rill__gc_join_res_t;

typedef struct rill__gc_assign_in {
        rill__str_t member_id;
        rill__str_t assignment;
} rill__gc_assign_in_t;

typedef struct rill__gc_sync_req {
        rill__str_t group_id;
        int32_t generation;
        rill__str_t member_id;
        rill__str_t instance_id;
        rill__str_t protocol_type;      /**< null when the version has none */
        rill__str_t protocol_name;
        const rill__gc_assign_in_t *assigns;
        int assign_cnt;
} rill__gc_sync_req_t;

typedef struct rill__gc_sync_res {
        int16_t err;
        const char *protocol_type;
        const char *protocol;
        const uint8_t *assignment;
        int32_t assignment_len;
} rill__gc_sync_res_t;

typedef struct rill__gc_leave_in {
        rill__str_t member_id;
        rill__str_t instance_id;
} rill__gc_leave_in_t;

typedef struct rill__gc_commit_in {
        rill__str_t topic;
        int32_t partition;
        int64_t offset;
        int32_t leader_epoch;
        rill__str_t metadata;           /**< null is stored as "" */
        int64_t commit_ts;              /**< -1 = now */
        int16_t err;                    /**< in: pre-set error (not committed); out: result */
} rill__gc_commit_in_t;

typedef struct rill__gc_commit_req {
        rill__str_t group_id;
        int32_t generation;             /**< -1 = simple (non-member) commit */
        rill__str_t member_id;
        rill__str_t instance_id;
        int64_t retention_ms;           /**< -1 = broker default */
        rill__gc_commit_in_t *parts;
        int part_cnt;
} rill__gc_commit_req_t;

/* ---- persistence records ---- */

typedef enum rill__grec_kind {
        RILL__GREC_OFFSET = 0,          /**< offset commit key v1 / value v3 (or v1 with expiry) */
        RILL__GREC_GROUP = 1            /**< group metadata key v2 / value v3 */
} rill__grec_kind_t;

/** One record for __consumer_offsets (views; valid during ops->persist). */
typedef struct rill__grec {
        rill__grec_kind_t kind;
        bool tombstone;
        const char *group_id;
        const char *topic;              /**< OFFSET */
        int32_t partition;              /**< OFFSET */
        const rill__goffset_t *off;     /**< OFFSET value */
        const rill__group_t *group;     /**< GROUP value */
} rill__grec_t;

typedef struct rill__gc_ops {
        void *opaque;
        /** Completes a parked (or just-received) JoinGroup. */
        void (*join_done)(void *opaque, void *waiter, const rill__gc_join_res_t *res);
        /** Completes a parked (or just-received) SyncGroup. */
        void (*sync_done)(void *opaque, void *waiter, const rill__gc_sync_res_t *res);
        /** Appends @p n records of group @p group_id durably (one batch).
         *  @returns a Kafka error code for the client (already mapped the
         *  way Kafka's coordinator maps append errors). May be NULL (no
         *  persistence). */
        int16_t (*persist)(void *opaque, const char *group_id, const rill__grec_t *recs, int n,
                           int64_t now);
} rill__gc_ops_t;

typedef struct rill__gc_conf {
        int32_t initial_rebalance_delay_ms;     /**< group.initial.rebalance.delay.ms */
        int32_t min_session_timeout_ms;         /**< group.min.session.timeout.ms */
        int32_t max_session_timeout_ms;         /**< group.max.session.timeout.ms */
        int32_t max_size;                       /**< group.max.size */
        int64_t offsets_retention_ms;           /**< offsets.retention.minutes * 60000 */
} rill__gc_conf_t;

typedef struct rill__gc rill__gc_t;

/* ---- lifecycle ---- */

/** Creates an empty coordinator. @p ops and @p conf are copied. */
rill__gc_t *rill__gc_new(const rill__gc_conf_t *conf, const rill__gc_ops_t *ops);
/** Frees every group. Parked waiters must have been dropped first
 *  (rill__gc_drop_waiters); any left are forgotten. NULL is a no-op. */
void rill__gc_destroy(rill__gc_t *gc);
/** Forgets every group (before a reload). Waiters are handed to @p drop. */
void rill__gc_reset(rill__gc_t *gc, void (*drop)(void *waiter, void *arg), void *arg);
/** Hands every parked waiter to @p drop (which frees it) and removes every
 *  member from every group (their connections are going away). */
void rill__gc_drop_waiters(rill__gc_t *gc, void (*drop)(void *waiter, void *arg), void *arg);

/* ---- the group protocol ---- */

/** JoinGroup. The result always comes through ops->join_done(@p waiter). */
void rill__gc_join(rill__gc_t *gc, const rill__gc_join_req_t *req, void *waiter, int64_t now);
/** SyncGroup. The result always comes through ops->sync_done(@p waiter). */
void rill__gc_sync(rill__gc_t *gc, const rill__gc_sync_req_t *req, void *waiter, int64_t now);
/** Heartbeat. @returns the Kafka error code. */
int16_t rill__gc_heartbeat(rill__gc_t *gc, rill__str_t group_id, int32_t generation,
                           rill__str_t member_id, rill__str_t instance_id, int64_t now);
/** LeaveGroup of @p n members; per-member errors go to @p errs.
 *  @returns the top-level error. */
int16_t rill__gc_leave(rill__gc_t *gc, rill__str_t group_id, const rill__gc_leave_in_t *in, int n,
                       int16_t *errs, int64_t now);
/** OffsetCommit: fills parts[i].err. Parts with a pre-set error are skipped. */
void rill__gc_commit(rill__gc_t *gc, rill__gc_commit_req_t *req, int64_t now);
/** DeleteGroups of one group. @returns KERR_NONE, KERR_GROUP_ID_NOT_FOUND,
 *  KERR_NON_EMPTY_GROUP, KERR_INVALID_GROUP_ID or a storage error. */
int16_t rill__gc_delete_group(rill__gc_t *gc, rill__str_t group_id, int64_t now);
/** Tombstones every committed offset of @p topic. */
void rill__gc_topic_deleted(rill__gc_t *gc, const char *topic, int64_t now);
/** Timers: session expiry, rebalance and sync deadlines, pending members,
 *  and (when @p expire_offsets) offsets retention for empty groups. */
void rill__gc_tick(rill__gc_t *gc, int64_t now, bool expire_offsets);

/* ---- queries ---- */

/** The group @p id (a live one: not Dead), or NULL. */
/** True if @p id is usable as a group id (not null, no NUL bytes). */
bool rill__gc_group_id_ok(rill__str_t id);
rill__group_t *rill__gc_group_find(rill__gc_t *gc, rill__str_t id);
/** Iterates groups: returns the group after @p prev (NULL = first). */
rill__group_t *rill__gc_group_next(rill__gc_t *gc, rill__group_t *prev);
int rill__gc_group_count(const rill__gc_t *gc);
/** The committed offset of (topic, partition) in @p g, or NULL. */
const rill__goffset_t *rill__gc_offset_find(const rill__group_t *g, rill__str_t topic,
                                            int32_t partition);
/** The metadata of member @p m for protocol @p name (NULL/0 if none). */
const uint8_t *rill__gmember_meta(const rill__gmember_t *m, const char *name, int32_t *len);
/** The coordinator's partition of __consumer_offsets for @p group_id:
 *  Utils.abs(groupId.hashCode()) % n, with Java's String.hashCode over the
 *  UTF-16 code units of the UTF-8 @p group_id (malformed bytes count as
 *  U+FFFD, as Java's decoder does). */
int32_t rill__gc_partition_for(rill__str_t group_id, int32_t n);
/** Java's String.hashCode of the UTF-8 string @p s. */
int32_t rill__java_string_hash(const char *s, size_t len);

/* ---- load (replay of __consumer_offsets) ---- */

/** Sets or (off == NULL) deletes a committed offset, without persisting. */
void rill__gc_load_offset(rill__gc_t *gc, rill__str_t group_id, rill__str_t topic,
                          int32_t partition, const rill__goffset_t *off);
/** Sets or (tombstone) clears a group's metadata, without persisting. The
 *  group comes back Empty (members are not restored). */
void rill__gc_load_group(rill__gc_t *gc, rill__str_t group_id, bool tombstone,
                         rill__str_t protocol_type, int32_t generation, rill__str_t protocol,
                         int64_t state_ts);
/** Ends a load: drops groups that have neither metadata nor offsets. */
void rill__gc_load_done(rill__gc_t *gc, int64_t now);

/* ---- group_records.c ---- */

/** Appends the record key of @p rec (Kafka's schema) to @p w. */
void rill__grec_encode_key(rill__wbuf_t *w, const rill__grec_t *rec);
/** Appends the record value of @p rec to @p w; nothing for a tombstone.
 *  Offsets use value v3, or v1 when an explicit expiry is set (Kafka's choice);
 *  group metadata uses value v3. */
void rill__grec_encode_value(rill__wbuf_t *w, const rill__grec_t *rec, int64_t now);
/**
 * Decodes one __consumer_offsets record and applies it to @p gc
 * (rill__gc_load_offset / rill__gc_load_group). @p value NULL = tombstone.
 * @returns 0 if applied, 1 if skipped (a key version this coordinator does
 *          not use), -1 if malformed (nothing applied).
 */
int rill__grec_replay(rill__gc_t *gc, const uint8_t *key, int32_t key_len, const uint8_t *value,
                      int32_t value_len);

#endif /* RILL_BROKER_GROUP_INT_H */
