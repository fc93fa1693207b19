/*
 * streams_int.h - internal structures of librill's stream-processing core.
 *
 * Layers, bottom up:
 *   serde.c, record.c     byte views, records, outputs, serdes, murmur2
 *   conf.c                rill_conf_t
 *   store_mem.c           ordered in-memory map (skip list)
 *   store_rocksdb.c       RocksDB backend
 *   store.c               the public store object: backend + changelog logging
 *   topology.c            the builder (operators create nodes) and build():
 *                         sub-topologies, names, stores, internal topics
 *   task.c                a task = (sub-topology, partition): node instances,
 *                         the operators' process functions, stream time,
 *                         punctuators, the processor context
 *   testdriver.c          runs tasks synchronously (no broker)
 *   app.c                 the runtime: consumer, task threads, producer,
 *                         commits, changelog restore, internal topics
 *
 * The task layer does not know whether it runs under the driver or the
 * runtime: it talks to the outside through a rill__task_env_t (send a record,
 * read the wall clock). That is what makes the driver exercise the
 * production code.
 */
#ifndef RILL_STREAMS_INT_H
#define RILL_STREAMS_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <rill/conf.h>
#include <rill/processor.h>
#include <rill/record.h>
#include <rill/serde.h>
#include <rill/store.h>
#include <rill/streams.h>
#include <rill/testdriver.h>
#include <rill/topology.h>

#include "rill_alloc.h"
#include "rill_log_int.h"
#include "rill_util.h"

#define RILL__LOGC "streams"

/* ---- buffers, serdes ---- */

struct rill_buf_s {
        uint8_t *data;
        size_t len;
        size_t cap;
};

void rill__buf_reset(rill_buf_t *b);
void rill__buf_free(rill_buf_t *b);
/** The buffer's bytes as a (non-null) view. */
rill_bytes_t rill__buf_bytes(const rill_buf_t *b);

typedef enum rill__serde_kind {
        RILL__SERDE_BYTES,
        RILL__SERDE_STRING,
        RILL__SERDE_INT32,
        RILL__SERDE_INT64,
        RILL__SERDE_DOUBLE,
        RILL__SERDE_JSON,
        RILL__SERDE_USER
} rill__serde_kind_t;

struct rill_serde_s {
        rill__serde_kind_t kind;
        const char *name;
        rill_serde_fn *ser;
        rill_serde_fn *de;
        void *opaque;
        void (*opaque_free)(void *);
        atomic_int refcnt;
};

rill_serde_t *rill__serde_ref(rill_serde_t *s);
void rill__serde_unref(rill_serde_t *s);
/**
 * Converts @p in with @p s (ser=true: serialize). The result is either @p in
 * itself (built-in serdes) or the contents of @p scratch. Null passes.
 */
rill_err_t rill__serde_convert(const rill_serde_t *s, bool ser, rill_bytes_t in, rill_buf_t *scratch,
                               rill_bytes_t *out, char *errstr, size_t errstr_size);

/** Kafka's murmur2 hash (the Java client's Utils.murmur2). */
int32_t rill__murmur2(const void *data, size_t len);
/** Kafka's default partition for a non-null key: toPositive(murmur2) % n. */
int32_t rill__partition_for_key(rill_bytes_t key, int32_t n);

/* ---- records and outputs ---- */

struct rill_record_s {
        rill_bytes_t key;
        rill_bytes_t value;
        rill_bytes_t old_value;
        int64_t timestamp;
        const char *topic;
        int32_t partition;
        int64_t offset;
        const rill_header_t *headers;   /* array form (driver, owned records) */
        size_t nheaders;
        void *rk_headers;               /* rd_kafka_headers_t form (runtime) */
        bool owned;                     /* one allocation; rill_record_destroy() frees */
};

typedef enum rill__out_mode {
        RILL__OUT_KV,
        RILL__OUT_VALUE,
        RILL__OUT_KEY
} rill__out_mode_t;

struct rill_out_s {
        rill__out_mode_t mode;
        bool single;          /* only the first output counts */
        int count;
        const rill_record_t *in;
        /* Receives each result with the mode resolved to a full key/value. */
        void (*emit)(rill_out_t *out, rill_bytes_t key, rill_bytes_t value);
        void *emit_opaque;
        void *emit_opaque2;
        bool warned;
        bool null_key;        /* collecting outputs: the result's key was null */
        bool null_value;      /* collecting outputs: the result's value was null */
};

/** Makes a caller-owned deep copy of a record (headers too). */
rill_record_t *rill__record_copy(const rill_record_t *r, const char *topic);

/* ---- configuration ---- */

struct rill_conf_entry {
        char *key;
        char *value;
};

struct rill_conf_s {
        struct rill_conf_entry *e;
        size_t n;
        size_t cap;
};

/** The effective value of @p key (its default when unset), or NULL. */
const char *rill__conf_str(const rill_conf_t *c, const char *key);
/** True when @p key was set explicitly (not a default). */
bool rill__conf_is_set(const rill_conf_t *c, const char *key);
int64_t rill__conf_int(const rill_conf_t *c, const char *key);

/* ---- topology ---- */

typedef enum rill__node_kind {
        RILL__N_SOURCE,
        RILL__N_FILTER,
        RILL__N_MAP,            /* map, map_values, flat_map*, select_key */
        RILL__N_PEEK,           /* peek and foreach */
        RILL__N_SPLIT,
        RILL__N_BRANCH,         /* one arm of a split */
        RILL__N_MERGE,
        RILL__N_SINK,
        RILL__N_STREAM_AGG,     /* count, reduce, aggregate on a grouped stream */
        RILL__N_TO_TABLE,       /* upsert into a store (to_table, table source) */
        RILL__N_TABLE_FILTER,
        RILL__N_TABLE_MAP_VALUES,
        RILL__N_TABLE_TO_STREAM,
        RILL__N_TABLE_REKEY,    /* table group_by: writes add/subtract records */
        RILL__N_TABLE_AGG,      /* count, reduce, aggregate on a grouped table */
        RILL__N_PROCESSOR
} rill__node_kind_t;

typedef enum rill__agg_kind {
        RILL__AGG_COUNT,
        RILL__AGG_REDUCE,
        RILL__AGG_AGGREGATE
} rill__agg_kind_t;

typedef struct rill__node rill__node_t;

struct rill__node {
        int id;
        rill__node_kind_t kind;
        char *name;
        char *origin;                /* source topics this node descends from */
        int sub;                     /* sub-topology index */
        rill__node_t **children;
        int nchildren;
        rill__node_t **parents;
        int nparents;

        /* callbacks */
        rill_predicate_fn *pred;
        rill_mapper_fn *mapper;
        rill_action_fn *action;
        rill_topic_extractor_fn *extractor;
        rill_initializer_fn *init;
        rill_aggregator_fn *agg;      /* reducer, aggregator or adder */
        rill_aggregator_fn *sub_agg;  /* subtractor */
        void *opaque;
        bool negate;                 /* filter_not */
        rill__out_mode_t out_mode;
        bool single;

        /* sources and sinks */
        char **topics;               /* source topics (internal: base names) */
        int ntopics;
        char *pattern;               /* regex source */
        void *regex;                 /* compiled pattern (regex_t) */
        bool internal;               /* reads/writes a repartition topic */
        int repart;                  /* index of the repartition topic, or -1 */
        char *topic;                 /* sink topic (internal: base name) */
        rill_serde_t *kserde;        /* source: deserialize; sink: serialize */
        rill_serde_t *vserde;
        bool table_changes;          /* internal source carrying add/subtract */

        /* state */
        rill__agg_kind_t agg_kind;
        int store;                   /* store index, or -1 */
        int *stores;                 /* processor stores */
        int nstores;
        rill_processor_ops_t ops;
};

typedef struct rill__store_def {
        char *name;
        rill_store_type_t type;
        bool logging;
        bool caching;
        rill_serde_t *kserde;
        rill_serde_t *vserde;
        int sub;
        bool generated;
} rill__store_def_t;

typedef struct rill__repart_def {
        char *name;                  /* base name: <app>-<name>-repartition */
        int32_t partitions;          /* explicit count, or 0 */
        int from_sub;
        int to_sub;
} rill__repart_def_t;

typedef struct rill__sub_def {
        int *sources;                /* node ids of sources */
        int nsources;
        int *nodes;                  /* node ids in topological order */
        int nnodes;
        int *stores;
        int nstores;
} rill__sub_def_t;

struct rill_topology_s {
        rill__node_t **nodes;
        int nnodes;
        rill__sub_def_t *subs;
        int nsubs;
        rill__store_def_t *stores;
        int nstores;
        rill__repart_def_t *reparts;
        int nreparts;
};

/** The full name of repartition topic @p r for @p app_id (caller frees). */
char *rill__repart_topic(const char *app_id, const rill__repart_def_t *r);
/** The changelog topic of store @p s for @p app_id (caller frees). */
char *rill__changelog_topic(const char *app_id, const rill__store_def_t *s);
/** True if source node @p n reads @p topic (full name) under @p app_id. */
bool rill__source_matches(const rill_topology_t *t, const rill__node_t *n, const char *app_id,
                          const char *topic);

/**
 * Partition counts. @p ext(topic) returns the partition count of an external
 * source topic (0 when it does not exist, or for a pattern source the max of
 * the matching topics). Fills @p sub_parts[nsubs] and @p repart_parts[nreparts].
 * @returns RILL_OK, or RILL_ERR_TOPOLOGY with a message (missing topic,
 *          co-partitioned topics with different counts).
 */
rill_err_t rill__topo_partitions(const rill_topology_t *t, const char *app_id,
                                 int32_t (*ext)(void *opaque, const char *topic), void *opaque,
                                 int32_t *sub_parts, int32_t *repart_parts, char *errstr,
                                 size_t errstr_size);

/* ---- stores ---- */

typedef struct rill__iter rill__iter_t;

typedef struct rill__store_ops {
        /* Views returned by get stay valid until the next call on the store. */
        rill_err_t (*get)(void *impl, rill_bytes_t key, rill_bytes_t *value, char *errstr,
                          size_t errstr_size);
        rill_err_t (*put)(void *impl, rill_bytes_t key, rill_bytes_t value, char *errstr,
                          size_t errstr_size);
        rill_err_t (*del)(void *impl, rill_bytes_t key, char *errstr, size_t errstr_size);
        /* Thread-safe copy-out lookup (interactive queries). */
        rill_err_t (*get_copy)(void *impl, rill_bytes_t key, void **value, size_t *len);
        void *(*iter_new)(void *impl, rill_bytes_t from, rill_bytes_t to);
        bool (*iter_next)(void *it, rill_bytes_t *key, rill_bytes_t *value);
        void (*iter_free)(void *it);
        uint64_t (*count)(void *impl);
        rill_err_t (*flush)(void *impl, char *errstr, size_t errstr_size);
        void (*close)(void *impl);
} rill__store_ops_t;

extern const rill__store_ops_t rill__mem_store_ops;
extern const rill__store_ops_t rill__rocksdb_store_ops;
void *rill__mem_store_open(void);
void *rill__rocksdb_store_open(const char *path, char *errstr, size_t errstr_size);

typedef struct rill__task rill__task_t;

/* The record cache (cache.c). */
typedef struct rill__cache rill__cache_t;
rill__cache_t *rill__cache_new(size_t budget);
/** One store instance's cache budget out of "statestore.cache.max.bytes"
 *  @p total shared by @p shares instances: at least 64 KiB, or 0 (caching
 *  off) when @p total is 0. */
size_t rill__cache_budget(int64_t total, int shares);
void rill__cache_free(rill__cache_t *c);
/** RILL_OK (cached value), RILL_ERR_NOT_FOUND (cached delete), RILL_DECLINED (not cached). */
rill_err_t rill__cache_get(const rill__cache_t *c, rill_bytes_t key, rill_bytes_t *value);
/** Caches an update; @p old is the value before the first cached update of
 *  the key. @returns true when the cache is over its budget. */
bool rill__cache_put(rill__cache_t *c, rill_bytes_t key, rill_bytes_t value, rill_bytes_t old,
                     int64_t ts);
bool rill__cache_dirty(const rill__cache_t *c);
/** Empties the cache, calling @p fn for each entry in first-update order. */
void rill__cache_flush(rill__cache_t *c,
                       void (*fn)(void *opaque, rill_bytes_t key, rill_bytes_t value,
                                  rill_bytes_t old, int64_t ts),
                       void *opaque);

struct rill_kv_store_s {
        char *name;
        const rill__store_ops_t *ops;
        void *impl;
        rill__task_t *task;
        const rill__store_def_t *def;
        char *changelog;             /* full changelog topic, or NULL (no logging) */
        rill__cache_t *cache;        /* record cache, or NULL */
        const struct rill__node *cache_node; /* the node forwarding its flushes */
        rill_buf_t kbuf;
        rill_buf_t vbuf;
};

struct rill_kv_iter_s {
        const rill__store_ops_t *ops;
        void *it;
};

/** Writes to the backend only (restore path; no changelog). */
rill_err_t rill__store_restore_put(rill_kv_store_t *s, rill_bytes_t key, rill_bytes_t wire_value,
                                   char *errstr, size_t errstr_size);

/* ---- tasks ---- */

typedef struct rill__task_env {
        const char *app_id;
        const char *state_dir;           /* <state.dir>/<application.id> */
        rill_store_type_t default_store;
        bool deser_continue;             /* log_and_continue handler */
        size_t cache_budget;             /* bytes per cached store instance */
        /* Sends a record (wire form). partition -1: by key (murmur2); only
         * changelog records are sent with partition >= 0 (the runtime tracks
         * their acknowledged offsets for checkpoints). cache_budget 0: no
         * record caches. */
        rill_err_t (*send)(void *opaque, rill__task_t *task, const char *topic, int32_t partition,
                           rill_bytes_t key, rill_bytes_t value, int64_t timestamp,
                           const rill_record_t *headers_from, char *errstr, size_t errstr_size);
        int64_t (*wall_clock)(void *opaque);
        void *opaque;
        int32_t *sub_parts;              /* partitions per sub-topology */
        int32_t *repart_parts;           /* partitions per repartition topic */
} rill__task_env_t;

typedef struct rill__punct {
        int64_t id;
        int64_t interval;
        int64_t next;
        rill_punctuation_type_t type;
        rill_punctuator_fn *fn;
        void *opaque;
        struct rill_ctx_s *ctx;
        bool cancelled;
} rill__punct_t;

struct rill_ctx_s {
        rill__task_t *task;
        const rill__node_t *node;
        void *state;
        const rill_record_t *current;
};

typedef struct rill__node_inst {
        rill_buf_t b[4];                 /* scratch, reused per record */
        struct rill_ctx_s ctx;           /* processors */
        bool inited;
} rill__node_inst_t;

typedef struct rill__task_source {
        char *topic;                     /* full topic name */
        const rill__node_t *node;
} rill__task_source_t;

struct rill__task {
        const rill_topology_t *topo;
        const rill__task_env_t *env;
        int sub;
        int32_t partition;
        char id[32];
        char *dir;                       /* <state_dir>/<id> */
        rill__node_inst_t *inst;         /* per topology node (only this sub's used) */
        rill_kv_store_t **stores;        /* per topology store (only this sub's set) */
        rill__task_source_t *sources;
        int nsources;
        char **sink_topics;              /* per node: resolved sink topic, or NULL */
        int64_t stream_time;
        int64_t cur_ts;                  /* timestamp of the record being processed */
        rill__punct_t *puncts;
        int npuncts;
        int64_t next_punct_id;
        bool commit_requested;
        bool inited;
        rill_err_t err;
        char errmsg[512];
        uint64_t processed;
        uint64_t skipped;                /* deserialization failures skipped */
        uint64_t dropped;                /* null-key records dropped by aggregations */
        rill_buf_t kscratch, vscratch;   /* deserialization */
        const char *send_topic;          /* the runtime's last changelog send: topic, */
        void *send_slot;                 /* and its delivery-report slot (app.c) */
        void *send_cache;                /* the runtime's per-task send state (app.c
                                            frees it before rill__task_destroy) */
};

rill__task_t *rill__task_new(const rill_topology_t *t, int sub, int32_t partition,
                             const rill__task_env_t *env, char *errstr, size_t errstr_size);
/** Calls the processors' init (after restore). */
rill_err_t rill__task_init(rill__task_t *task);
/**
 * Processes one record read from @p topic (wire form). Deserialization
 * failures follow the handler; null @p rk_headers / @p headers mean none.
 */
rill_err_t rill__task_process(rill__task_t *task, const char *topic, int32_t partition,
                              int64_t offset, rill_bytes_t key, rill_bytes_t value,
                              int64_t timestamp, const rill_header_t *headers, size_t nheaders,
                              void *rk_headers);
/** Runs due wall-clock punctuators. */
rill_err_t rill__task_punctuate_wall(rill__task_t *task, int64_t now);
/** Next wall-clock punctuation time, or INT64_MAX. */
int64_t rill__task_next_wall(const rill__task_t *task);
/** Flushes the stores. */
rill_err_t rill__task_flush(rill__task_t *task);
/** Flushes the record caches (writes and forwards the cached updates). */
void rill__task_flush_caches(rill__task_t *task);
/** True when a record cache holds updates not yet written. */
bool rill__task_cache_dirty(const rill__task_t *task);
/** Closes processors and stores and frees the task. NULL is a no-op. */
void rill__task_destroy(rill__task_t *task);
/**
 * Reorders @p items (n records from several partitions) as Kafka Streams
 * picks a task's next record: per partition (topic[i], partition[i]) the
 * order is kept; across partitions the lowest head timestamp ts[] goes first.
 * Batches of more than RILL__ORDER_MAX records are left as they are.
 */
#define RILL__ORDER_MAX 256
void rill__order_by_head_ts(void **items, const void *const *topic, const int32_t *partition,
                            const int64_t *ts, int n);
/** Latches a task error (first one wins). */
void rill__task_fail(rill__task_t *task, rill_err_t err, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

/** Opens the stores of a task (called by rill__task_new). */
rill_kv_store_t *rill__store_open(rill__task_t *task, int store_idx, char *errstr,
                                  size_t errstr_size);
void rill__store_close(rill_kv_store_t *s);
rill_err_t rill__store_get_copy(rill_kv_store_t *s, rill_bytes_t key, void **value, size_t *len);

#endif /* RILL_STREAMS_INT_H */
