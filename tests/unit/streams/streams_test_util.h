/*
 * streams_test_util.h - small helpers for the streams unit tests (header-only).
 */
#ifndef STREAMS_TEST_UTIL_H
#define STREAMS_TEST_UTIL_H

#include <stdio.h>
#include <string.h>

#include <rill/rill.h>

#include "rill_test.h"

/* Builds @p b into a topology, failing the test with the error if needed. */
static inline rill_topology_t *
st_build(rill_builder_t *b)
{
        char err[512] = "";
        rill_topology_t *t = rill_builder_build(b, err, sizeof(err));
        if (!t)
                fprintf(stderr, "build failed: %s\n", err);
        CU_ASSERT_PTR_NOT_NULL(t);
        rill_builder_destroy(b);
        return t;
}

static inline rill_test_driver_t *
st_driver(const rill_topology_t *t, const char *store_kind)
{
        char err[512] = "";
        rill_conf_t *c = rill_conf_new();
        rill_test_driver_t *td;
        if (store_kind)
                rill_conf_set(c, "default.dsl.store", store_kind, NULL, 0);
        td = rill_test_driver_new(t, c, err, sizeof(err));
        rill_conf_destroy(c);
        if (!td)
                fprintf(stderr, "driver failed: %s\n", err);
        CU_ASSERT_PTR_NOT_NULL_FATAL(td);
        return td;
}

/* Reads the next record of @p topic and checks its string key and value
 * (NULL: null). Returns true if it matched. */
static inline bool
st_expect_str(rill_test_driver_t *td, const char *topic, const char *key, const char *value)
{
        rill_record_t *r = rill_test_driver_read(td, topic);
        bool ok = r != NULL;
        if (r) {
                rill_bytes_t k = rill_record_key(r), v = rill_record_value(r);
                ok = (key ? rill_bytes_eq_str(k, key) : k.data == NULL) &&
                     (value ? rill_bytes_eq_str(v, value) : v.data == NULL);
                if (!ok)
                        fprintf(stderr, "%s: got (%.*s, %.*s), want (%s, %s)\n", topic,
                                (int)k.len, k.data ? (const char *)k.data : "null", (int)v.len,
                                v.data ? (const char *)v.data : "null", key ? key : "null",
                                value ? value : "null");
        } else {
                fprintf(stderr, "%s: no record, want (%s, %s)\n", topic, key ? key : "null",
                        value ? value : "null");
        }
        rill_record_destroy(r);
        return ok;
}

/* As st_expect_str() with an int64 value. */
static inline bool
st_expect_i64(rill_test_driver_t *td, const char *topic, const char *key, int64_t value)
{
        rill_record_t *r = rill_test_driver_read(td, topic);
        int64_t v = 0;
        bool ok = r && rill_bytes_eq_str(rill_record_key(r), key) &&
                  rill_bytes_i64(rill_record_value(r), &v) == RILL_OK && v == value;
        if (!ok)
                fprintf(stderr, "%s: want (%s, %lld), got %s value %lld\n", topic, key,
                        (long long)value, r ? "a record with" : "no record", (long long)v);
        rill_record_destroy(r);
        return ok;
}

/* Looks up an int64 in a store through the driver; -1 when absent. */
static inline int64_t
st_store_i64(rill_test_driver_t *td, const char *store, const char *key)
{
        void *v = NULL;
        size_t len = 0;
        int64_t n = -1;
        if (rill_test_driver_store_get(td, store, rill_bytes(key, strlen(key)), &v, &len) != RILL_OK)
                return -1;
        if (rill_bytes_i64(rill_bytes(v, len), &n) != RILL_OK)
                n = -2;
        rill_free(v);
        return n;
}

#endif /* STREAMS_TEST_UTIL_H */
