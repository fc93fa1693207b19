/*
 * rill/store.h - key-value state stores.
 *
 * A store belongs to one task (one partition of a sub-topology). Each task
 * has its own instance: RocksDB under state.dir/<application.id>/<task>/<store>
 * (persistent), or an ordered in-memory map. Unless logging is disabled, every
 * put and delete is also written to the compacted changelog topic
 * <application.id>-<store>-changelog, from which the store is restored when
 * its task starts on an instance.
 *
 * Keys are ordered bytewise (memcmp, shorter first on a common prefix), which
 * is the order of range() and all().
 *
 * Access from inside a topology: processors get the store of their own task
 * with rill_ctx_store() (processor.h) and use it from the task thread only.
 * Access from outside (interactive queries) goes through the application or
 * the test driver (rill_app_store_get(), rill_test_driver_store()), which
 * return copies and are thread-safe.
 */
#ifndef RILL_STORE_H
#define RILL_STORE_H

#include <stdbool.h>

#include <rill/common.h>
#include <rill/error.h>
#include <rill/record.h>

RILL_BEGIN_DECLS

typedef struct rill_kv_store_s rill_kv_store_t;
typedef struct rill_kv_iter_s rill_kv_iter_t;

/** Store implementations. */
typedef enum rill_store_type {
        RILL_STORE_DEFAULT = 0,   /**< "default.dsl.store" of the application (rocksdb). */
        RILL_STORE_ROCKSDB = 1,   /**< Persistent RocksDB store. */
        RILL_STORE_IN_MEMORY = 2  /**< Ordered in-memory map. */
} rill_store_type_t;

/** @brief The store's name. Valid while the store is. Thread-safe. */
RILL_API const char *rill_kv_store_name(const rill_kv_store_t *s);

/**
 * @brief Looks up @p key.
 * @returns RILL_OK with *value set (a view valid until the next call on this
 *          store from the same thread), RILL_ERR_NOT_FOUND, or RILL_ERR_STORE.
 * Task thread only.
 */
RILL_API rill_err_t rill_kv_store_get(rill_kv_store_t *s, rill_bytes_t key, rill_bytes_t *value);

/**
 * @brief Stores @p value under @p key (both copied). A null value deletes.
 *        The change is also written to the changelog when logging is on.
 * @returns RILL_OK, RILL_ERR_INVALID_ARG for a null key, or RILL_ERR_STORE.
 * Task thread only.
 */
RILL_API rill_err_t rill_kv_store_put(rill_kv_store_t *s, rill_bytes_t key, rill_bytes_t value);

/**
 * @brief Deletes @p key (a no-op when absent); logged as a tombstone.
 * @returns RILL_OK, RILL_ERR_INVALID_ARG, or RILL_ERR_STORE. Task thread only.
 */
RILL_API rill_err_t rill_kv_store_delete(rill_kv_store_t *s, rill_bytes_t key);

/**
 * @brief Iterates over the keys in [@p from, @p to] (both inclusive; a null
 *        bound is open).
 * @returns an iterator owned by the caller (free with rill_kv_iter_destroy());
 *          never NULL. Do not modify the store while the iterator is open.
 * Task thread only.
 */
RILL_API rill_kv_iter_t *rill_kv_store_range(rill_kv_store_t *s, rill_bytes_t from, rill_bytes_t to);

/** @brief rill_kv_store_range() over every key. */
RILL_API rill_kv_iter_t *rill_kv_store_all(rill_kv_store_t *s);

/**
 * @brief Advances @p it.
 * @returns true with the next key and value (views valid until the next call
 *          on @p it), or false at the end.
 */
RILL_API bool rill_kv_iter_next(rill_kv_iter_t *it, rill_bytes_t *key, rill_bytes_t *value);

/** @brief Frees @p it. NULL is a no-op. */
RILL_API void rill_kv_iter_destroy(rill_kv_iter_t *it);

/** @brief An estimate of the number of keys (exact for in-memory stores). */
RILL_API uint64_t rill_kv_store_approx_count(rill_kv_store_t *s);

RILL_END_DECLS

#endif /* RILL_STORE_H */
