/*
 * test_serde.c - built-in and user serdes, byte helpers, Kafka's murmur2.
 */
#include <string.h>

#include <rill/rill.h>

#include "rill_test.h"
#include "streams_int.h"

static void
test_int64_big_endian(void)
{
        uint8_t buf[8];
        int64_t v = 0;
        rill_i64_encode(0x0102030405060708LL, buf);
        CU_ASSERT_EQUAL(buf[0], 1);
        CU_ASSERT_EQUAL(buf[7], 8);
        CU_ASSERT_EQUAL(rill_bytes_i64(rill_bytes(buf, 8), &v), RILL_OK);
        CU_ASSERT_EQUAL(v, 0x0102030405060708LL);
        rill_i64_encode(-2, buf);
        CU_ASSERT_EQUAL(buf[0], 0xff);
        CU_ASSERT_EQUAL(buf[7], 0xfe);
        CU_ASSERT_EQUAL(rill_bytes_i64(rill_bytes(buf, 8), &v), RILL_OK);
        CU_ASSERT_EQUAL(v, -2);
        CU_ASSERT_EQUAL(rill_bytes_i64(rill_bytes(buf, 7), &v), RILL_ERR_SERDE);
        CU_ASSERT_EQUAL(rill_bytes_i64(rill_bytes(NULL, 0), &v), RILL_ERR_SERDE);
}

static void
test_int32_double(void)
{
        uint8_t buf[8];
        int32_t i = 0;
        double d = 0;
        rill_i32_encode(-123456, buf);
        CU_ASSERT_EQUAL(rill_bytes_i32(rill_bytes(buf, 4), &i), RILL_OK);
        CU_ASSERT_EQUAL(i, -123456);
        rill_i32_encode(1, buf);
        CU_ASSERT_EQUAL(buf[3], 1);
        CU_ASSERT_EQUAL(buf[0], 0);
        rill_double_encode(1.5, buf);
        /* IEEE-754 1.5 = 0x3FF8000000000000 */
        CU_ASSERT_EQUAL(buf[0], 0x3f);
        CU_ASSERT_EQUAL(buf[1], 0xf8);
        CU_ASSERT_EQUAL(rill_bytes_double(rill_bytes(buf, 8), &d), RILL_OK);
        CU_ASSERT_DOUBLE_EQUAL(d, 1.5, 0.0);
}

static void
test_builtin_validation(void)
{
        char err[256];
        void *out;
        size_t len;
        CU_ASSERT_EQUAL(rill_serde_deserialize(rill_serde_int64(), rill_bytes("1234567", 7), &out,
                                               &len, err, sizeof(err)),
                        RILL_ERR_SERDE);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "8 bytes"));
        CU_ASSERT_EQUAL(rill_serde_deserialize(rill_serde_int32(), rill_bytes("1234", 4), &out, &len,
                                               err, sizeof(err)),
                        RILL_OK);
        CU_ASSERT_EQUAL(len, 4);
        rill_free(out);
        CU_ASSERT_EQUAL(rill_serde_deserialize(rill_serde_json(), rill_bytes("{\"a\":[1,2]}", 11),
                                               &out, &len, err, sizeof(err)),
                        RILL_OK);
        CU_ASSERT_EQUAL(len, 11);
        CU_ASSERT_STRING_EQUAL(out, "{\"a\":[1,2]}");
        rill_free(out);
        CU_ASSERT_EQUAL(rill_serde_deserialize(rill_serde_json(), rill_bytes("{\"a\":", 5), &out,
                                               &len, err, sizeof(err)),
                        RILL_ERR_SERDE);
        CU_ASSERT_EQUAL(rill_serde_deserialize(rill_serde_string(), rill_bytes(NULL, 0), &out, &len,
                                               err, sizeof(err)),
                        RILL_OK);
        CU_ASSERT_PTR_NULL(out);
        CU_ASSERT_STRING_EQUAL(rill_serde_name(rill_serde_double()), "double");
}

static rill_err_t
upper(rill_bytes_t in, rill_buf_t *out, void *opaque)
{
        const char *p = in.data;
        if (in.len && p[0] == '!')
                return RILL_ERR_SERDE;
        for (size_t i = 0; i < in.len; i++) {
                char c = p[i] >= 'a' && p[i] <= 'z' ? (char)(p[i] - 32) : p[i];
                rill_buf_append(out, &c, 1);
        }
        return RILL_OK;
}

static int freed;

static void
free_opaque(void *p)
{
        freed++;
}

static void
test_user_serde(void)
{
        char err[256];
        void *out;
        size_t len;
        rill_serde_t *s = rill_serde_new("upper", upper, NULL, &freed, free_opaque);
        CU_ASSERT_STRING_EQUAL(rill_serde_name(s), "upper");
        CU_ASSERT_EQUAL(rill_serde_serialize(s, rill_bytes("abc", 3), &out, &len, err, sizeof(err)),
                        RILL_OK);
        CU_ASSERT_EQUAL(len, 3);
        CU_ASSERT_EQUAL(memcmp(out, "ABC", 3), 0);
        rill_free(out);
        /* deserialize is NULL: the bytes are kept. */
        CU_ASSERT_EQUAL(rill_serde_deserialize(s, rill_bytes("abc", 3), &out, &len, err,
                                               sizeof(err)),
                        RILL_OK);
        CU_ASSERT_EQUAL(memcmp(out, "abc", 3), 0);
        rill_free(out);
        CU_ASSERT_EQUAL(rill_serde_serialize(s, rill_bytes("!x", 2), &out, &len, err, sizeof(err)),
                        RILL_ERR_SERDE);
        /* Reference counting: the opaque is freed with the last reference. */
        rill__serde_ref(s);
        rill_serde_destroy(s);
        CU_ASSERT_EQUAL(freed, 0);
        rill_serde_destroy(s);
        CU_ASSERT_EQUAL(freed, 1);
        rill_serde_destroy(rill_serde_string()); /* no-op */
}

static void
test_murmur2_matches_kafka(void)
{
        /* Values from Kafka's UtilsTest.testMurmur2. */
        CU_ASSERT_EQUAL(rill__murmur2("21", 2), -973932308);
        CU_ASSERT_EQUAL(rill__murmur2("foobar", 6), -790332482);
        CU_ASSERT_EQUAL(rill__murmur2("a-little-bit-long-string", 24), -985981536);
        CU_ASSERT_EQUAL(rill__murmur2("a-little-bit-longer-string", 26), -1486304829);
        CU_ASSERT_EQUAL(rill__murmur2("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", 48),
                        -58897971);
        CU_ASSERT_EQUAL(rill__murmur2("abc", 3), 479470107);
        CU_ASSERT_EQUAL(rill__partition_for_key(rill_bytes("x", 1), 1), 0);
        CU_ASSERT_EQUAL(rill__partition_for_key(rill_bytes("foobar", 6), 4),
                        (int32_t)(((uint32_t)-790332482 & 0x7fffffffu) % 4u));
}

static void
test_out_helpers_and_eq(void)
{
        CU_ASSERT_TRUE(rill_bytes_eq_str(rill_bytes("abc", 3), "abc"));
        CU_ASSERT_FALSE(rill_bytes_eq_str(rill_bytes("abc", 3), "ab"));
        CU_ASSERT_FALSE(rill_bytes_eq_str(rill_bytes(NULL, 0), ""));
        CU_ASSERT_TRUE(rill_bytes_eq_str(rill_bytes("", 0), ""));
}

static void
test_conf(void)
{
        char err[256], buf[64];
        rill_conf_t *c = rill_conf_new();
        rill_conf_t *d;
        CU_ASSERT_EQUAL(rill_conf_set(c, "num.stream.threads", "0", err, sizeof(err)),
                        RILL_ERR_CONFIG);
        CU_ASSERT_EQUAL(rill_conf_set(c, "num.stream.threads", "2", err, sizeof(err)), RILL_OK);
        CU_ASSERT_EQUAL(rill_conf_set(c, "num.standby.replicas", "-1", err, sizeof(err)),
                        RILL_ERR_CONFIG);
        CU_ASSERT_EQUAL(rill_conf_set(c, "num.standby.replicas", "1", err, sizeof(err)), RILL_OK);
        CU_ASSERT_EQUAL(rill_conf_set(c, "no.such.key", "1", err, sizeof(err)), RILL_ERR_CONFIG);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "prefix"));
        CU_ASSERT_EQUAL(rill_conf_set(c, "consumer.fetch.wait.max.ms", "10", err, sizeof(err)),
                        RILL_OK);
        CU_ASSERT_EQUAL(rill_conf_set(c, "processing.guarantee", "exactly_once", err, sizeof(err)),
                        RILL_ERR_CONFIG);
        CU_ASSERT_EQUAL(rill_conf_set(c, "application.id", "bad id", err, sizeof(err)),
                        RILL_ERR_CONFIG);
        CU_ASSERT_EQUAL(rill_conf_get(c, "commit.interval.ms", buf, sizeof(buf)), RILL_OK);
        CU_ASSERT_STRING_EQUAL(buf, "30000");
        d = rill_conf_dup(c);
        CU_ASSERT_EQUAL(rill_conf_get(d, "num.stream.threads", buf, sizeof(buf)), RILL_OK);
        CU_ASSERT_STRING_EQUAL(buf, "2");
        CU_ASSERT_EQUAL(rill_conf_get(d, "consumer.fetch.wait.max.ms", buf, 2), RILL_ERR_TOO_LARGE);
        CU_ASSERT_EQUAL(rill_conf_get(d, "nope", buf, sizeof(buf)), RILL_ERR_NOT_FOUND);
        rill_conf_destroy(c);
        rill_conf_destroy(d);
}

int
main(void)
{
        static const rill_test_suite_t suites[] = {
                {"serde", NULL, NULL,
                 {{"int64 big-endian", test_int64_big_endian},
                  {"int32 and double", test_int32_double},
                  {"built-in validation", test_builtin_validation},
                  {"user serde", test_user_serde},
                  {"murmur2 matches Kafka", test_murmur2_matches_kafka},
                  {"byte helpers", test_out_helpers_and_eq},
                  {"configuration", test_conf},
                  {NULL, NULL}}},
                {NULL}};
        return rill_test_run(suites);
}
