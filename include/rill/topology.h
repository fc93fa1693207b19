/*
 * rill/topology.h - building a stream-processing topology.
 *
 * A rill_builder_t owns every node and handle it hands out, like an arena.
 * Each operator returns a new typed handle (rill_stream_t, rill_table_t,
 * rill_grouped_t, rill_grouped_table_t, rill_branched_t), so the compiler
 * rejects an operator that does not fit. Handles are freed with the builder;
 * never free them yourself.
 *
 * Errors are sticky: the first invalid call latches an error in the builder
 * and returns a "failed" handle; operators applied to a failed handle return
 * failed handles, so a chain needs no check at each step. rill_builder_build()
 * checks the whole graph and reports the first error once. Operators return
 * NULL only when given a NULL handle.
 *
 *     rill_builder_t *b = rill_builder_new();
 *     rill_stream_t *lines = rill_builder_stream(b, "lines", rill_serde_string(),
 *                                                rill_serde_string());
 *     rill_stream_t *words = rill_stream_flat_map_values(lines, split_words, NULL);
 *     rill_table_t *counts = rill_grouped_count(
 *             rill_stream_group_by(words, value_as_key, NULL, "words", NULL),
 *             rill_materialized(b, "counts"));
 *     rill_stream_to(rill_table_to_stream(counts), "word-counts", NULL, rill_serde_int64());
 *     rill_topology_t *t = rill_builder_build(b, err, sizeof(err));
 *     rill_builder_destroy(b);
 *
 * Names. Every store and internal topic has a name: the one given, or a
 * generated one that does not depend on node positions (so adding a filter
 * does not rename state): "<operation>-<source topics>-<n>", where n counts
 * earlier operations of that kind on the same source topics. Internal topics
 * are "<application.id>-<name>-repartition" and
 * "<application.id>-<store>-changelog".
 *
 * Serdes. Every stream carries a key serde and a value serde, inherited
 * through operators; rill_stream_with_serdes() re-declares them after an
 * operator changed the types. NULL serde arguments mean "inherit".
 *
 * Threading: a builder is not thread-safe; use it from one thread. A built
 * rill_topology_t is immutable and may be shared by any number of
 * applications and test drivers at once (each keeps it alive until it is
 * destroyed; destroy the topology last).
 */
#ifndef RILL_TOPOLOGY_H
#define RILL_TOPOLOGY_H

#include <stdbool.h>

#include <rill/common.h>
#include <rill/error.h>
#include <rill/processor.h>
#include <rill/record.h>
#include <rill/serde.h>
#include <rill/store.h>

RILL_BEGIN_DECLS

typedef struct rill_builder_s rill_builder_t;
typedef struct rill_topology_s rill_topology_t;
typedef struct rill_stream_s rill_stream_t;
typedef struct rill_table_s rill_table_t;
typedef struct rill_grouped_s rill_grouped_t;
typedef struct rill_grouped_table_s rill_grouped_table_t;
typedef struct rill_branched_s rill_branched_t;
typedef struct rill_materialized_s rill_materialized_t;

/* ---- callbacks (all called on task threads, concurrently for different
 *      tasks: they must be thread-safe with respect to @p opaque) ---- */

/** A predicate (filter, filter_not, split branches). */
typedef bool(rill_predicate_fn)(const rill_record_t *r, void *opaque);
/**
 * A mapper: reads @p in and writes results to @p out with rill_out_kv()
 * (map, flat_map, table group_by), rill_out_value() (map_values,
 * flat_map_values) or rill_out_key() (select_key, group_by). Single-result
 * operators take the first output; writing nothing drops the record.
 */
typedef void(rill_mapper_fn)(const rill_record_t *in, rill_out_t *out, void *opaque);
/** An action (peek, foreach). */
typedef void(rill_action_fn)(const rill_record_t *r, void *opaque);
/** Chooses the topic of a record (rill_stream_to_dynamic()); returns a string
 *  that stays valid after the call (static or owned by @p opaque). */
typedef const char *(rill_topic_extractor_fn)(const rill_record_t *r, void *opaque);
/** Writes the initial aggregate with rill_out_value(). */
typedef void(rill_initializer_fn)(rill_out_t *out, void *opaque);
/**
 * Combines @p aggregate (the current one) with the record's value and writes
 * the new aggregate with rill_out_value(). Used by reduce (where the
 * aggregate is a value), aggregate, and table adders and subtractors.
 */
typedef void(rill_aggregator_fn)(const rill_record_t *r, rill_bytes_t aggregate,
                                 rill_out_t *out, void *opaque);

/* ---- builder ---- */

/** @brief Creates an empty builder, owned by the caller. Never NULL. */
RILL_API rill_builder_t *rill_builder_new(void);

/**
 * @brief Frees the builder and every handle it returned. A topology already
 *        built stays valid. NULL is a no-op.
 */
RILL_API void rill_builder_destroy(rill_builder_t *b);

/**
 * @brief Checks the graph and returns an immutable topology.
 * @returns a topology owned by the caller (rill_topology_destroy()), or NULL
 *          with the first latched or detected error in @p errstr (the error
 *          code is then available from rill_builder_error()). A builder
 *          builds once; afterwards its operators latch RILL_ERR_STATE.
 */
RILL_API rill_topology_t *rill_builder_build(rill_builder_t *b, char *errstr, size_t errstr_size);

/**
 * @brief The first latched error (RILL_OK if none), its message copied into
 *        @p errstr.
 */
RILL_API rill_err_t rill_builder_error(const rill_builder_t *b, char *errstr, size_t errstr_size);

/** @brief Frees a topology. NULL is a no-op. Apps and drivers using it must be destroyed first. */
RILL_API void rill_topology_destroy(rill_topology_t *t);

/**
 * @brief A human-readable description (sub-topologies, nodes, stores and
 *        topics), owned by the caller (free with rill_free()).
 */
RILL_API char *rill_topology_describe(const rill_topology_t *t);

/* ---- store specifications ---- */

/**
 * @brief A store specification for a stateful operator, owned by the
 *        builder. @p store_name NULL means a generated name. Defaults: the
 *        application's default store type ("default.dsl.store"), logging on,
 *        serdes from the operator.
 * @returns never NULL.
 */
RILL_API rill_materialized_t *rill_materialized(rill_builder_t *b, const char *store_name);
/** @brief Sets the store type. @returns @p m. */
RILL_API rill_materialized_t *rill_materialized_with_type(rill_materialized_t *m,
                                                          rill_store_type_t type);
/** @brief Turns the changelog on or off. @returns @p m. */
RILL_API rill_materialized_t *rill_materialized_with_logging(rill_materialized_t *m, bool on);
/**
 * @brief Turns the record cache on or off (default on, as in Kafka Streams;
 *        "statestore.cache.max.bytes"=0 turns every cache off). With the
 *        cache, the updates of a key between two commits are merged: the
 *        store, the changelog and the downstream operators see one update per
 *        key per commit (or when the cache exceeds its share of
 *        "statestore.cache.max.bytes"). Applies to DSL stores (aggregations,
 *        tables, also when no rill_materialized_t is given); Processor API
 *        stores ignore it. @returns @p m.
 */
RILL_API rill_materialized_t *rill_materialized_with_caching(rill_materialized_t *m, bool on);
/** @brief Sets the key and value serdes (NULL keeps the operator's). @returns @p m. */
RILL_API rill_materialized_t *rill_materialized_with_serdes(rill_materialized_t *m,
                                                            rill_serde_t *key,
                                                            rill_serde_t *value);

/**
 * @brief Declares a key-value store for processors (the Processor API).
 *        Processors name it in rill_stream_process() to use it.
 * @returns RILL_OK, or RILL_ERR_EXISTS / RILL_ERR_INVALID_ARG (also latched).
 *          @p m must name the store.
 */
RILL_API rill_err_t rill_builder_add_store(rill_builder_t *b, rill_materialized_t *m);

/* ---- sources ---- */

/**
 * @brief A stream read from @p topic with the given serdes (NULL: bytes).
 *        A topic may be read by one source only.
 */
RILL_API rill_stream_t *rill_builder_stream(rill_builder_t *b, const char *topic,
                                            rill_serde_t *key, rill_serde_t *value);
/** @brief A stream read from @p ntopics topics (their records merged). */
RILL_API rill_stream_t *rill_builder_stream_topics(rill_builder_t *b, const char *const *topics,
                                                   size_t ntopics, rill_serde_t *key,
                                                   rill_serde_t *value);
/**
 * @brief A stream read from every topic whose name matches the POSIX
 *        extended regular expression @p regex (anchored at both ends), found
 *        when the application starts. Not supported by the test driver,
 *        whose topics are named explicitly: pipe to any matching name.
 */
RILL_API rill_stream_t *rill_builder_stream_pattern(rill_builder_t *b, const char *regex,
                                                    rill_serde_t *key, rill_serde_t *value);
/**
 * @brief A table read from @p topic: each record upserts its key; a null
 *        value deletes it. Materialized in @p m (NULL: generated name).
 */
RILL_API rill_table_t *rill_builder_table(rill_builder_t *b, const char *topic, rill_serde_t *key,
                                          rill_serde_t *value, rill_materialized_t *m);

/* ---- stream operators ---- */

/** @brief Names the node that produced @p s (processor names, descriptions). @returns @p s. */
RILL_API rill_stream_t *rill_stream_named(rill_stream_t *s, const char *name);
/** @brief Re-declares the key and value serdes of @p s (NULL: keep). */
RILL_API rill_stream_t *rill_stream_with_serdes(rill_stream_t *s, rill_serde_t *key,
                                                rill_serde_t *value);
/** @brief Keeps the records for which @p pred is true. */
RILL_API rill_stream_t *rill_stream_filter(rill_stream_t *s, rill_predicate_fn *pred, void *opaque);
/** @brief Keeps the records for which @p pred is false. */
RILL_API rill_stream_t *rill_stream_filter_not(rill_stream_t *s, rill_predicate_fn *pred,
                                               void *opaque);
/** @brief One new key and value per record (rill_out_kv()); changes the key. */
RILL_API rill_stream_t *rill_stream_map(rill_stream_t *s, rill_mapper_fn *fn, void *opaque);
/** @brief One new value per record (rill_out_value()); keeps the key. */
RILL_API rill_stream_t *rill_stream_map_values(rill_stream_t *s, rill_mapper_fn *fn, void *opaque);
/** @brief Zero or more new records per record (rill_out_kv()); changes the key. */
RILL_API rill_stream_t *rill_stream_flat_map(rill_stream_t *s, rill_mapper_fn *fn, void *opaque);
/** @brief Zero or more new values per record (rill_out_value()); keeps the key. */
RILL_API rill_stream_t *rill_stream_flat_map_values(rill_stream_t *s, rill_mapper_fn *fn,
                                                    void *opaque);
/** @brief A new key per record (rill_out_key()); keeps the value. */
RILL_API rill_stream_t *rill_stream_select_key(rill_stream_t *s, rill_mapper_fn *fn, void *opaque);
/** @brief Calls @p fn on every record and passes it on unchanged. */
RILL_API rill_stream_t *rill_stream_peek(rill_stream_t *s, rill_action_fn *fn, void *opaque);
/** @brief Calls @p fn on every record (terminal). */
RILL_API void rill_stream_foreach(rill_stream_t *s, rill_action_fn *fn, void *opaque);
/**
 * @brief Splits @p s into branches: a record goes to the first branch whose
 *        predicate is true (or to the default branch), else it is dropped.
 *        @p name prefixes the branch names (NULL: generated).
 */
RILL_API rill_branched_t *rill_stream_split(rill_stream_t *s, const char *name);
/** @brief Adds a branch named <prefix><name>; returns its stream. */
RILL_API rill_stream_t *rill_branched_branch(rill_branched_t *br, rill_predicate_fn *pred,
                                             void *opaque, const char *name);
/** @brief Adds the default branch (records no predicate took); returns its stream. */
RILL_API rill_stream_t *rill_branched_default(rill_branched_t *br, const char *name);
/** @brief The records of @p a and @p b together (same builder). */
RILL_API rill_stream_t *rill_stream_merge(rill_stream_t *a, rill_stream_t *b);
/**
 * @brief Writes @p s to @p topic (terminal) with the given serdes (NULL:
 *        inherit). Records are partitioned by key like Kafka's default
 *        partitioner (murmur2), so a Java consumer sees the same layout.
 */
RILL_API void rill_stream_to(rill_stream_t *s, const char *topic, rill_serde_t *key,
                             rill_serde_t *value);
/** @brief Writes each record to the topic @p fn chooses (terminal). */
RILL_API void rill_stream_to_dynamic(rill_stream_t *s, rill_topic_extractor_fn *fn, void *opaque,
                                     rill_serde_t *key, rill_serde_t *value);
/**
 * @brief Writes @p s through the internal topic
 *        <application.id>-<name>-repartition and reads it back, partitioned
 *        by the current key. @p partitions 0 means "as many as the input".
 */
RILL_API rill_stream_t *rill_stream_repartition(rill_stream_t *s, const char *name,
                                                int32_t partitions);
/** @brief Reads @p s as a changelog: upserts per key, null values delete. */
RILL_API rill_table_t *rill_stream_to_table(rill_stream_t *s, rill_materialized_t *m);
/**
 * @brief Groups by the current key. If an upstream operator changed the key,
 *        the stream is repartitioned through <application.id>-<name>-repartition
 *        first (@p name NULL: generated). Records with a null key are dropped.
 */
RILL_API rill_grouped_t *rill_stream_group_by_key(rill_stream_t *s, const char *name);
/**
 * @brief Groups by the key @p fn selects (rill_out_key()), always through a
 *        repartition topic. @p key is the new key serde (NULL: inherit).
 */
RILL_API rill_grouped_t *rill_stream_group_by(rill_stream_t *s, rill_mapper_fn *fn, void *opaque,
                                              const char *name, rill_serde_t *key);
/**
 * @brief Runs a user processor on every record (the Processor API).
 * @param ops         callbacks (copied).
 * @param opaque      passed to ops->init.
 * @param name        the processor's node name (NULL: generated).
 * @param store_names NULL-terminated list of stores declared with
 *                    rill_builder_add_store() that the processor uses (NULL: none).
 * @returns the stream of records the processor forwards.
 */
RILL_API rill_stream_t *rill_stream_process(rill_stream_t *s, const rill_processor_ops_t *ops,
                                            void *opaque, const char *name,
                                            const char *const *store_names);

/* ---- grouped streams ---- */

/** @brief Counts records per key into an int64 table (serde int64). */
RILL_API rill_table_t *rill_grouped_count(rill_grouped_t *g, rill_materialized_t *m);
/** @brief Combines values per key: the first value is stored as is, later ones
 *         through @p reducer(record, current). */
RILL_API rill_table_t *rill_grouped_reduce(rill_grouped_t *g, rill_aggregator_fn *reducer,
                                           void *opaque, rill_materialized_t *m);
/**
 * @brief Aggregates per key: @p init makes the first aggregate, @p aggregator
 *        folds each record in. The value serde of the table comes from @p m
 *        (default bytes).
 */
RILL_API rill_table_t *rill_grouped_aggregate(rill_grouped_t *g, rill_initializer_fn *init,
                                              rill_aggregator_fn *aggregator, void *opaque,
                                              rill_materialized_t *m);

/* ---- tables ---- */

/** @brief Keeps the rows for which @p pred is true (others become deletes). */
RILL_API rill_table_t *rill_table_filter(rill_table_t *t, rill_predicate_fn *pred, void *opaque,
                                         rill_materialized_t *m);
/** @brief Keeps the rows for which @p pred is false. */
RILL_API rill_table_t *rill_table_filter_not(rill_table_t *t, rill_predicate_fn *pred, void *opaque,
                                             rill_materialized_t *m);
/** @brief Maps each row's value (rill_out_value()); deletes stay deletes. */
RILL_API rill_table_t *rill_table_map_values(rill_table_t *t, rill_mapper_fn *fn, void *opaque,
                                             rill_materialized_t *m);
/** @brief The table's updates as a stream (a delete is a null value). */
RILL_API rill_stream_t *rill_table_to_stream(rill_table_t *t);
/**
 * @brief Re-keys rows with @p fn (rill_out_kv()) for an aggregation; an
 *        update retracts the old row from its group and adds the new one.
 *        Goes through <application.id>-<name>-repartition.
 */
RILL_API rill_grouped_table_t *rill_table_group_by(rill_table_t *t, rill_mapper_fn *fn,
                                                   void *opaque, const char *name,
                                                   rill_serde_t *key, rill_serde_t *value);
/**
 * @brief The name of the store holding the table (the given or generated
 *        name), or NULL when the table is not materialized. Owned by the
 *        builder.
 */
RILL_API const char *rill_table_store_name(const rill_table_t *t);

/** @brief Counts rows per group (int64). */
RILL_API rill_table_t *rill_grouped_table_count(rill_grouped_table_t *g, rill_materialized_t *m);
/** @brief Reduces rows per group with an adder and a subtractor. */
RILL_API rill_table_t *rill_grouped_table_reduce(rill_grouped_table_t *g, rill_aggregator_fn *adder,
                                                 rill_aggregator_fn *subtractor, void *opaque,
                                                 rill_materialized_t *m);
/** @brief Aggregates rows per group with an initializer, adder and subtractor. */
RILL_API rill_table_t *rill_grouped_table_aggregate(rill_grouped_table_t *g,
                                                    rill_initializer_fn *init,
                                                    rill_aggregator_fn *adder,
                                                    rill_aggregator_fn *subtractor, void *opaque,
                                                    rill_materialized_t *m);

RILL_END_DECLS

#endif /* RILL_TOPOLOGY_H */
