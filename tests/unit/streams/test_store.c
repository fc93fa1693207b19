/*
 * test_store.c - the key-value store backends (in-memory skip list and
 * RocksDB) through the public store API: get/put/delete, ordered range and
 * all iterators, counts, and many keys in random order.
 */
#include <stdlib.h>

#include "streams_int.h"
#include "streams_test_util.h"

static char *tmp;

static int
suite_init(void)
{
        tmp = rill_test_tmpdir("rill-store");
        return 0;
}

static int
suite_cleanup(void)
{
        rill_test_rmdir(tmp);
        free(tmp);
        return 0;
}

static void
exercise(const rill__store_ops_t *ops, void *impl)
{
        char err[256];
        rill_bytes_t v, k;
        void *it;
        int n;

        CU_ASSERT_EQUAL(ops->get(impl, rill_bytes("a", 1), &v, err, sizeof(err)), RILL_ERR_NOT_FOUND);
        CU_ASSERT_EQUAL(ops->put(impl, rill_bytes("b", 1), rill_bytes("2", 1), err, sizeof(err)),
                        RILL_OK);
        CU_ASSERT_EQUAL(ops->put(impl, rill_bytes("a", 1), rill_bytes("1", 1), err, sizeof(err)),
                        RILL_OK);
        CU_ASSERT_EQUAL(ops->put(impl, rill_bytes("ab", 2), rill_bytes("", 0), err, sizeof(err)),
                        RILL_OK);
        CU_ASSERT_EQUAL(ops->put(impl, rill_bytes("c", 1), rill_bytes("3", 1), err, sizeof(err)),
                        RILL_OK);
        CU_ASSERT_EQUAL(ops->put(impl, rill_bytes("b", 1), rill_bytes("22", 2), err, sizeof(err)),
                        RILL_OK);
        CU_ASSERT_EQUAL(ops->get(impl, rill_bytes("b", 1), &v, err, sizeof(err)), RILL_OK);
        CU_ASSERT_TRUE(rill_bytes_eq_str(v, "22"));
        CU_ASSERT_EQUAL(ops->get(impl, rill_bytes("ab", 2), &v, err, sizeof(err)), RILL_OK);
        CU_ASSERT_EQUAL(v.len, 0);
        CU_ASSERT_PTR_NOT_NULL(v.data);
        /* Ordered, inclusive range [ab, b]. */
        it = ops->iter_new(impl, rill_bytes("ab", 2), rill_bytes("b", 1));
        CU_ASSERT_TRUE(ops->iter_next(it, &k, &v));
        CU_ASSERT_TRUE(rill_bytes_eq_str(k, "ab"));
        CU_ASSERT_TRUE(ops->iter_next(it, &k, &v));
        CU_ASSERT_TRUE(rill_bytes_eq_str(k, "b"));
        CU_ASSERT_FALSE(ops->iter_next(it, &k, &v));
        ops->iter_free(it);
        CU_ASSERT_EQUAL(ops->del(impl, rill_bytes("b", 1), err, sizeof(err)), RILL_OK);
        CU_ASSERT_EQUAL(ops->del(impl, rill_bytes("zz", 2), err, sizeof(err)), RILL_OK);
        it = ops->iter_new(impl, rill_bytes(NULL, 0), rill_bytes(NULL, 0));
        n = 0;
        const char *want[] = {"a", "ab", "c"};
        while (ops->iter_next(it, &k, &v)) {
                if (n < 3)
                        CU_ASSERT_TRUE(rill_bytes_eq_str(k, want[n]));
                n++;
        }
        ops->iter_free(it);
        CU_ASSERT_EQUAL(n, 3);
        /* Many keys in pseudo-random order come back sorted. */
        unsigned seed = 7;
        for (int i = 0; i < 2000; i++) {
                char key[16];
                seed = seed * 1103515245u + 12345u;
                int len = snprintf(key, sizeof(key), "k%05u", (seed >> 8) % 50000);
                CU_ASSERT_EQUAL(ops->put(impl, rill_bytes(key, (size_t)len), rill_bytes(key, (size_t)len),
                                         err, sizeof(err)),
                                RILL_OK);
        }
        it = ops->iter_new(impl, rill_bytes("k", 1), rill_bytes("k~", 2));
        char prev[16] = "";
        n = 0;
        bool sorted = true;
        while (ops->iter_next(it, &k, &v)) {
                char cur[16];
                snprintf(cur, sizeof(cur), "%.*s", (int)k.len, (const char *)k.data);
                if (strcmp(prev, cur) >= 0)
                        sorted = false;
                if (k.len != v.len || memcmp(k.data, v.data, k.len))
                        sorted = false;
                strcpy(prev, cur);
                n++;
        }
        ops->iter_free(it);
        CU_ASSERT_TRUE(sorted);
        CU_ASSERT_TRUE(n > 1500 && n <= 2000);
        void *copy;
        size_t clen;
        CU_ASSERT_EQUAL(ops->get_copy(impl, rill_bytes("a", 1), &copy, &clen), RILL_OK);
        CU_ASSERT_EQUAL(clen, 1);
        CU_ASSERT_EQUAL(((char *)copy)[0], '1');
        rill_free(copy);
        CU_ASSERT_EQUAL(ops->get_copy(impl, rill_bytes("nope", 4), &copy, &clen), RILL_ERR_NOT_FOUND);
}

static void
test_memory_store(void)
{
        void *m = rill__mem_store_open();
        exercise(&rill__mem_store_ops, m);
        CU_ASSERT_TRUE(rill__mem_store_ops.count(m) > 1500);
        rill__mem_store_ops.close(m);
}

static void
test_rocksdb_store_and_reopen(void)
{
        char err[256];
        char *path = rill__asprintf("%s/rdb", tmp);
        void *s = rill__rocksdb_store_open(path, err, sizeof(err));
        rill_bytes_t v;
        CU_ASSERT_PTR_NOT_NULL_FATAL(s);
        exercise(&rill__rocksdb_store_ops, s);
        rill__rocksdb_store_ops.close(s);
        /* Data survives a close and reopen. */
        s = rill__rocksdb_store_open(path, err, sizeof(err));
        CU_ASSERT_PTR_NOT_NULL_FATAL(s);
        CU_ASSERT_EQUAL(rill__rocksdb_store_ops.get(s, rill_bytes("c", 1), &v, err, sizeof(err)),
                        RILL_OK);
        CU_ASSERT_TRUE(rill_bytes_eq_str(v, "3"));
        rill__rocksdb_store_ops.close(s);
        /* A path that cannot be a directory fails cleanly. */
        CU_ASSERT_PTR_NULL(rill__rocksdb_store_open("/proc/rill-no-such/x", err, sizeof(err)));
        rill__free(path);
}

int
main(void)
{
        static const rill_test_suite_t suites[] = {
                {"stores", suite_init, suite_cleanup,
                 {{"in-memory store", test_memory_store},
                  {"rocksdb store and reopen", test_rocksdb_store_and_reopen},
                  {NULL, NULL}}},
                {NULL}};
        return rill_test_run(suites);
}
