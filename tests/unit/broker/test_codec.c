/*
 * test_codec.c - the Kafka wire-format primitives (broker/codec.h).
 *
 * Every type is written and read back in both encodings (classic and
 * compact/flexible), with byte-exact expectations for the encodings Kafka
 * specifies; varints at their edges (0, 127/128, the 5- and 10-byte
 * boundaries, zigzag of INT64_MIN/MAX); and hostile input: every truncation
 * of a valid message latches the sticky error instead of reading past the
 * end, and lengths that cannot fit the remaining bytes are refused.
 */
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "rill_alloc.h"
#include "rill_test.h"

static void
test_fixed_width(void)
{
        rill__wbuf_t w;
        rill__rbuf_t r;
        static const uint8_t expect[] = {
                0x80,                                           /* i8 -128 */
                0x12, 0x34,                                     /* i16 0x1234 */
                0xff, 0xff, 0xff, 0xfe,                         /* i32 -2 */
                0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, /* i64 */
                0xde, 0xad, 0xbe, 0xef,                         /* u32 */
                0x01, 0x00,                                     /* bools */
        };
        rill__wb_init(&w, 1); /* forces growth */
        rill__wb_i8(&w, -128);
        rill__wb_i16(&w, 0x1234);
        rill__wb_i32(&w, -2);
        rill__wb_i64(&w, 0x0102030405060708LL);
        rill__wb_u32(&w, 0xdeadbeefu);
        rill__wb_bool(&w, true);
        rill__wb_bool(&w, false);
        CU_ASSERT_EQUAL_FATAL(w.len, sizeof(expect));
        CU_ASSERT(memcmp(w.buf, expect, sizeof(expect)) == 0);

        rill__rb_init(&r, w.buf, w.len);
        CU_ASSERT_EQUAL(rill__rb_i8(&r), -128);
        CU_ASSERT_EQUAL(rill__rb_i16(&r), 0x1234);
        CU_ASSERT_EQUAL(rill__rb_i32(&r), -2);
        CU_ASSERT_EQUAL(rill__rb_i64(&r), 0x0102030405060708LL);
        CU_ASSERT_EQUAL(rill__rb_u32(&r), 0xdeadbeefu);
        CU_ASSERT_EQUAL(rill__rb_bool(&r), true);
        CU_ASSERT_EQUAL(rill__rb_bool(&r), false);
        CU_ASSERT_EQUAL(r.err, 0);
        CU_ASSERT_EQUAL(rill__rb_remaining(&r), 0);
        /* Reading past the end latches the error and yields zero. */
        CU_ASSERT_EQUAL(rill__rb_i32(&r), 0);
        CU_ASSERT(r.err != 0);
        CU_ASSERT_EQUAL(rill__rb_remaining(&r), 0);
        rill__wb_free(&w);
}

static void
test_extremes(void)
{
        rill__wbuf_t w;
        rill__rbuf_t r;
        rill__wb_init(&w, 0);
        rill__wb_i16(&w, INT16_MIN);
        rill__wb_i16(&w, INT16_MAX);
        rill__wb_i32(&w, INT32_MIN);
        rill__wb_i32(&w, INT32_MAX);
        rill__wb_i64(&w, INT64_MIN);
        rill__wb_i64(&w, INT64_MAX);
        rill__rb_init(&r, w.buf, w.len);
        CU_ASSERT_EQUAL(rill__rb_i16(&r), INT16_MIN);
        CU_ASSERT_EQUAL(rill__rb_i16(&r), INT16_MAX);
        CU_ASSERT_EQUAL(rill__rb_i32(&r), INT32_MIN);
        CU_ASSERT_EQUAL(rill__rb_i32(&r), INT32_MAX);
        CU_ASSERT_EQUAL(rill__rb_i64(&r), INT64_MIN);
        CU_ASSERT_EQUAL(rill__rb_i64(&r), INT64_MAX);
        CU_ASSERT_EQUAL(r.err, 0);
        rill__wb_free(&w);
}

static void
check_uvarint(uint64_t v, size_t expect_len)
{
        uint8_t buf[16];
        uint64_t out = 0;
        size_t n = rill__uvarint_enc(buf, v);
        rill__rbuf_t r;
        CU_ASSERT_EQUAL(n, expect_len);
        CU_ASSERT_EQUAL(rill__uvarint_dec(buf, n, &out), n);
        CU_ASSERT_EQUAL(out, v);
        /* Every strict prefix is incomplete. */
        for (size_t i = 0; i < n; i++)
                CU_ASSERT_EQUAL(rill__uvarint_dec(buf, i, &out), 0);
        rill__rb_init(&r, buf, n);
        CU_ASSERT_EQUAL(rill__rb_uvarint(&r), v);
        CU_ASSERT_EQUAL(r.err, 0);
        CU_ASSERT_EQUAL(rill__rb_remaining(&r), 0);
}

static void
check_varint(int64_t v, size_t expect_len)
{
        uint8_t buf[16];
        int64_t out = 0;
        size_t n = rill__varint_enc(buf, v);
        rill__rbuf_t r;
        CU_ASSERT_EQUAL(n, expect_len);
        CU_ASSERT_EQUAL(rill__varint_dec(buf, n, &out), n);
        CU_ASSERT_EQUAL(out, v);
        rill__rb_init(&r, buf, n);
        CU_ASSERT_EQUAL(rill__rb_varint(&r), v);
        CU_ASSERT_EQUAL(r.err, 0);
}

static void
test_varints(void)
{
        uint8_t buf[16];
        uint64_t u;
        check_uvarint(0, 1);
        check_uvarint(1, 1);
        check_uvarint(127, 1);
        check_uvarint(128, 2);
        check_uvarint(16383, 2);
        check_uvarint(16384, 3);
        check_uvarint(UINT32_MAX, 5);
        check_uvarint((uint64_t)1 << 35, 6);
        check_uvarint(UINT64_MAX, 10);
        /* Zigzag: 0 -> 0, -1 -> 1, 1 -> 2, -64 -> 127 (1 byte), 64 -> 128. */
        check_varint(0, 1);
        check_varint(-1, 1);
        check_varint(1, 1);
        check_varint(-64, 1);
        check_varint(63, 1);
        check_varint(64, 2);
        check_varint(-65, 2);
        check_varint(INT32_MIN, 5);
        check_varint(INT32_MAX, 5);
        check_varint(INT64_MIN, 10);
        check_varint(INT64_MAX, 10);
        /* Byte-exact: 300 = 0xac 0x02; zigzag(-1) = 0x01. */
        CU_ASSERT_EQUAL(rill__uvarint_enc(buf, 300), 2);
        CU_ASSERT(buf[0] == 0xac && buf[1] == 0x02);
        CU_ASSERT_EQUAL(rill__varint_enc(buf, -1), 1);
        CU_ASSERT_EQUAL(buf[0], 0x01);
        /* More than 10 continuation bytes is invalid, not an endless read. */
        memset(buf, 0xff, sizeof(buf));
        CU_ASSERT_EQUAL(rill__uvarint_dec(buf, sizeof(buf), &u), 0);
        {
                rill__rbuf_t r;
                rill__rb_init(&r, buf, sizeof(buf));
                (void)rill__rb_uvarint(&r);
                CU_ASSERT(r.err != 0);
        }
}

static void
test_strings_classic(void)
{
        rill__wbuf_t w;
        rill__rbuf_t r;
        rill__str_t s;
        static const uint8_t expect[] = {0x00, 0x03, 'a', 'b', 'c', 0xff, 0xff, 0x00, 0x00};
        rill__wb_init(&w, 0);
        rill__wb_cstr(&w, "abc", false);
        rill__wb_cstr(&w, NULL, false);
        rill__wb_str(&w, "", 0, false);
        CU_ASSERT_EQUAL_FATAL(w.len, sizeof(expect));
        CU_ASSERT(memcmp(w.buf, expect, sizeof(expect)) == 0);
        rill__rb_init(&r, w.buf, w.len);
        s = rill__rb_str(&r, false);
        CU_ASSERT(rill__str_eq(s, "abc"));
        s = rill__rb_str(&r, false);
        CU_ASSERT_EQUAL(s.len, -1);
        CU_ASSERT(rill__str_eq(s, NULL));
        s = rill__rb_str(&r, false);
        CU_ASSERT_EQUAL(s.len, 0);
        CU_ASSERT(rill__str_eq(s, ""));
        CU_ASSERT(!rill__str_eq(s, NULL));
        CU_ASSERT_EQUAL(r.err, 0);
        CU_ASSERT_EQUAL(rill__rb_remaining(&r), 0);
        rill__wb_free(&w);
}

static void
test_strings_compact(void)
{
        rill__wbuf_t w;
        rill__rbuf_t r;
        rill__str_t s;
        char *dup;
        static const uint8_t expect[] = {0x04, 'a', 'b', 'c', 0x00, 0x01};
        rill__wb_init(&w, 0);
        rill__wb_cstr(&w, "abc", true);
        rill__wb_cstr(&w, NULL, true);
        rill__wb_cstr(&w, "", true);
        CU_ASSERT_EQUAL_FATAL(w.len, sizeof(expect));
        CU_ASSERT(memcmp(w.buf, expect, sizeof(expect)) == 0);
        rill__rb_init(&r, w.buf, w.len);
        s = rill__rb_str(&r, true);
        dup = rill__str_dup(s);
        CU_ASSERT_STRING_EQUAL(dup, "abc");
        rill__free(dup);
        s = rill__rb_str(&r, true);
        CU_ASSERT_EQUAL(s.len, -1);
        CU_ASSERT_PTR_NULL(rill__str_dup(s));
        s = rill__rb_str(&r, true);
        CU_ASSERT_EQUAL(s.len, 0);
        CU_ASSERT_EQUAL(r.err, 0);
        CU_ASSERT_EQUAL(rill__rb_remaining(&r), 0);

        /* A 200-byte compact string needs a 2-byte length. */
        {
                char big[200];
                memset(big, 'z', sizeof(big));
                rill__wb_reset(&w);
                rill__wb_str(&w, big, 200, true);
                CU_ASSERT_EQUAL(w.len, 202);
                rill__rb_init(&r, w.buf, w.len);
                s = rill__rb_str(&r, true);
                CU_ASSERT_EQUAL(s.len, 200);
                CU_ASSERT_EQUAL(r.err, 0);
        }
        rill__wb_free(&w);
}

static void
test_bytes_and_arrays(void)
{
        rill__wbuf_t w;
        rill__rbuf_t r;
        rill__str_t s;
        for (int flex = 0; flex <= 1; flex++) {
                rill__wb_init(&w, 0);
                rill__wb_bytes(&w, "\x00\x01\x02", 3, flex);
                rill__wb_bytes(&w, NULL, -1, flex);
                rill__wb_array(&w, 2, flex);
                rill__wb_i32(&w, 10);
                rill__wb_i32(&w, 20);
                rill__wb_array(&w, -1, flex);
                rill__wb_array(&w, 0, flex);
                rill__rb_init(&r, w.buf, w.len);
                s = rill__rb_bytes(&r, flex);
                CU_ASSERT_EQUAL(s.len, 3);
                CU_ASSERT(s.ptr && memcmp(s.ptr, "\x00\x01\x02", 3) == 0);
                CU_ASSERT_EQUAL(rill__rb_bytes(&r, flex).len, -1);
                CU_ASSERT_EQUAL(rill__rb_array(&r, flex), 2);
                CU_ASSERT_EQUAL(rill__rb_i32(&r), 10);
                CU_ASSERT_EQUAL(rill__rb_i32(&r), 20);
                CU_ASSERT_EQUAL(rill__rb_array(&r, flex), -1);
                CU_ASSERT_EQUAL(r.err, 0); /* null array is not an error */
                CU_ASSERT_EQUAL(rill__rb_array(&r, flex), 0);
                CU_ASSERT_EQUAL(r.err, 0);
                CU_ASSERT_EQUAL(rill__rb_remaining(&r), 0);
                rill__wb_free(&w);
        }
        /* Classic encodings are byte-exact. */
        rill__wb_init(&w, 0);
        rill__wb_bytes(&w, NULL, -1, false);
        rill__wb_array(&w, 3, false);
        CU_ASSERT_EQUAL(w.len, 8);
        CU_ASSERT(memcmp(w.buf, "\xff\xff\xff\xff\x00\x00\x00\x03", 8) == 0);
        rill__wb_reset(&w);
        rill__wb_array(&w, 3, true);
        rill__wb_array(&w, -1, true);
        CU_ASSERT_EQUAL(w.len, 2);
        CU_ASSERT(w.buf[0] == 4 && w.buf[1] == 0);
        rill__wb_free(&w);
}

/* rill__rb_str_array: the strings in order (null entries stay null), a null
 * or empty array gives NULL, and a truncated array latches the error with
 * the unread entries left {NULL, 0}. */
static void
test_str_array(void)
{
        rill__wbuf_t w;
        rill__rbuf_t r;
        rill__str_t *v;
        int32_t n;
        for (int flex = 0; flex <= 1; flex++) {
                rill__wb_init(&w, 0);
                rill__wb_array(&w, 3, flex);
                rill__wb_cstr(&w, "a", flex);
                rill__wb_cstr(&w, NULL, flex);
                rill__wb_cstr(&w, "ccc", flex);
                rill__wb_array(&w, -1, flex);
                rill__wb_array(&w, 0, flex);
                rill__rb_init(&r, w.buf, w.len);
                v = rill__rb_str_array(&r, flex, &n);
                CU_ASSERT_EQUAL_FATAL(n, 3);
                CU_ASSERT_PTR_NOT_NULL_FATAL(v);
                CU_ASSERT(rill__str_eq(v[0], "a"));
                CU_ASSERT_EQUAL(v[1].len, -1);
                CU_ASSERT(rill__str_eq(v[2], "ccc"));
                rill__free(v);
                v = rill__rb_str_array(&r, flex, &n);
                CU_ASSERT_EQUAL(n, -1);
                CU_ASSERT_PTR_NULL(v);
                v = rill__rb_str_array(&r, flex, &n);
                CU_ASSERT_EQUAL(n, 0);
                CU_ASSERT_PTR_NULL(v);
                CU_ASSERT_EQUAL(r.err, 0);
                CU_ASSERT_EQUAL(rill__rb_remaining(&r), 0);

                /* Two entries announced, the second cut short. */
                rill__wb_reset(&w);
                rill__wb_array(&w, 2, flex);
                rill__wb_cstr(&w, "x", flex);
                rill__wb_cstr(&w, "yyyy", flex);
                rill__rb_init(&r, w.buf, w.len - 2);
                v = rill__rb_str_array(&r, flex, &n);
                CU_ASSERT_NOT_EQUAL(r.err, 0);
                CU_ASSERT_EQUAL_FATAL(n, 2);
                CU_ASSERT_PTR_NOT_NULL_FATAL(v);
                CU_ASSERT(rill__str_eq(v[0], "x"));
                CU_ASSERT(v[1].ptr == NULL);
                rill__free(v);
                rill__wb_free(&w);
        }
}

static void
test_uuid_tags_patch(void)
{
        rill__wbuf_t w;
        rill__rbuf_t r;
        uint8_t id[16], out[16];
        size_t off;
        for (int i = 0; i < 16; i++)
                id[i] = (uint8_t)(i * 17);
        rill__wb_init(&w, 0);
        rill__wb_uuid(&w, id);
        off = rill__wb_reserve_i32(&w);
        rill__wb_tags(&w, true);
        rill__wb_tags(&w, false); /* classic: nothing */
        rill__wb_patch_i32(&w, off, 0x01020304);
        CU_ASSERT_EQUAL(w.len, 16 + 4 + 1);
        rill__rb_init(&r, w.buf, w.len);
        rill__rb_uuid(&r, out);
        CU_ASSERT(memcmp(id, out, 16) == 0);
        CU_ASSERT_EQUAL(rill__rb_i32(&r), 0x01020304);
        rill__rb_tags(&r, true);
        rill__rb_tags(&r, false);
        CU_ASSERT_EQUAL(r.err, 0);
        CU_ASSERT_EQUAL(rill__rb_remaining(&r), 0);
        rill__wb_free(&w);
}

static void
test_tagged_fields_skipped(void)
{
        /* Two tagged fields (tag 0: 3 bytes, tag 5: 1 byte), then an i16. */
        static const uint8_t msg[] = {0x02, 0x00, 0x03, 'a', 'b', 'c', 0x05, 0x01, 0x7f, 0x12, 0x34};
        static const uint8_t bad[] = {0x01, 0x00, 0x09, 'a'}; /* size past the end */
        rill__rbuf_t r;
        rill__rb_init(&r, msg, sizeof(msg));
        rill__rb_tags(&r, true);
        CU_ASSERT_EQUAL(rill__rb_i16(&r), 0x1234);
        CU_ASSERT_EQUAL(r.err, 0);
        CU_ASSERT_EQUAL(rill__rb_remaining(&r), 0);
        rill__rb_init(&r, bad, sizeof(bad));
        rill__rb_tags(&r, true);
        CU_ASSERT(r.err != 0);
}

/* Writes one message using every type; used for the truncation sweep. */
static void
write_sample(rill__wbuf_t *w, bool flex)
{
        uint8_t id[16] = {1, 2, 3};
        rill__wb_i8(w, 1);
        rill__wb_i16(w, 2);
        rill__wb_i32(w, 3);
        rill__wb_i64(w, 4);
        rill__wb_uvarint(w, 300);
        rill__wb_varint(w, -300);
        rill__wb_cstr(w, "topic", flex);
        rill__wb_bytes(w, "xyz", 3, flex);
        rill__wb_array(w, 1, flex);
        rill__wb_i32(w, 7);
        rill__wb_uuid(w, id);
        rill__wb_tags(w, flex);
}

static bool
read_sample(rill__rbuf_t *r, bool flex)
{
        uint8_t id[16];
        int32_t n;
        (void)rill__rb_i8(r);
        (void)rill__rb_i16(r);
        (void)rill__rb_i32(r);
        (void)rill__rb_i64(r);
        (void)rill__rb_uvarint(r);
        (void)rill__rb_varint(r);
        (void)rill__rb_str(r, flex);
        (void)rill__rb_bytes(r, flex);
        n = rill__rb_array(r, flex);
        for (int32_t i = 0; i < n; i++)
                (void)rill__rb_i32(r);
        rill__rb_uuid(r, id);
        rill__rb_tags(r, flex);
        return r->err == 0;
}

static void
test_truncation_latches(void)
{
        for (int flex = 0; flex <= 1; flex++) {
                rill__wbuf_t w;
                rill__rbuf_t r;
                rill__wb_init(&w, 0);
                write_sample(&w, flex);
                rill__rb_init(&r, w.buf, w.len);
                CU_ASSERT(read_sample(&r, flex));
                CU_ASSERT_EQUAL(rill__rb_remaining(&r), 0);
                /* Every truncation fails cleanly (ASan checks no byte past
                 * the copy is read: each prefix lives in its own buffer). */
                for (size_t len = 0; len < w.len; len++) {
                        uint8_t *copy = malloc(len ? len : 1);
                        memcpy(copy, w.buf, len);
                        rill__rb_init(&r, copy, len);
                        CU_ASSERT(!read_sample(&r, flex));
                        CU_ASSERT_EQUAL(rill__rb_remaining(&r), 0);
                        free(copy);
                }
                rill__wb_free(&w);
        }
}

static void
test_huge_lengths(void)
{
        rill__rbuf_t r;
        /* Classic string claiming 32767 bytes with 2 present. */
        static const uint8_t s1[] = {0x7f, 0xff, 'a', 'b'};
        /* Classic bytes claiming INT32_MAX. */
        static const uint8_t b1[] = {0x7f, 0xff, 0xff, 0xff, 0};
        /* Negative lengths other than -1 are invalid. */
        static const uint8_t s2[] = {0xff, 0xfe};
        static const uint8_t b2[] = {0x80, 0x00, 0x00, 0x00};
        /* Array of 2^31-1 elements with 4 bytes left. */
        static const uint8_t a1[] = {0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0};
        /* Array of -2. */
        static const uint8_t a2[] = {0xff, 0xff, 0xff, 0xfe};
        /* Compact string and array with a 10-byte uvarint length near 2^64. */
        static const uint8_t c1[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 'a'};
        /* Compact bytes claiming 2^32 bytes. */
        static const uint8_t c2[] = {0x81, 0x80, 0x80, 0x80, 0x10, 'a'};

        rill__rb_init(&r, s1, sizeof(s1));
        CU_ASSERT_EQUAL(rill__rb_str(&r, false).len, -1);
        CU_ASSERT(r.err != 0);
        rill__rb_init(&r, b1, sizeof(b1));
        (void)rill__rb_bytes(&r, false);
        CU_ASSERT(r.err != 0);
        rill__rb_init(&r, s2, sizeof(s2));
        (void)rill__rb_str(&r, false);
        CU_ASSERT(r.err != 0);
        rill__rb_init(&r, b2, sizeof(b2));
        (void)rill__rb_bytes(&r, false);
        CU_ASSERT(r.err != 0);
        rill__rb_init(&r, a1, sizeof(a1));
        CU_ASSERT_EQUAL(rill__rb_array(&r, false), -1);
        CU_ASSERT(r.err != 0);
        rill__rb_init(&r, a2, sizeof(a2));
        (void)rill__rb_array(&r, false);
        CU_ASSERT(r.err != 0);
        rill__rb_init(&r, c1, sizeof(c1));
        (void)rill__rb_str(&r, true);
        CU_ASSERT(r.err != 0);
        rill__rb_init(&r, c1, sizeof(c1));
        (void)rill__rb_array(&r, true);
        CU_ASSERT(r.err != 0);
        rill__rb_init(&r, c2, sizeof(c2));
        (void)rill__rb_bytes(&r, true);
        CU_ASSERT(r.err != 0);
}

static void
test_sticky_error(void)
{
        static const uint8_t one[] = {0x05};
        rill__rbuf_t r;
        rill__rb_init(&r, one, sizeof(one));
        CU_ASSERT_EQUAL(rill__rb_i16(&r), 0); /* short */
        CU_ASSERT(r.err != 0);
        /* Once latched, even a read that would fit yields nothing. */
        CU_ASSERT_EQUAL(rill__rb_i8(&r), 0);
        CU_ASSERT_PTR_NULL(rill__rb_raw(&r, 1));
        CU_ASSERT_EQUAL(rill__rb_str(&r, true).len, -1);
        CU_ASSERT_EQUAL(rill__rb_array(&r, true), -1);
        CU_ASSERT_EQUAL(rill__rb_uvarint(&r), 0);
}

static void
test_be_helpers(void)
{
        uint8_t b[8];
        rill__put_be16(b, 0xa1b2);
        CU_ASSERT_EQUAL(rill__be16(b), 0xa1b2);
        rill__put_be32(b, 0xa1b2c3d4u);
        CU_ASSERT(b[0] == 0xa1 && b[3] == 0xd4);
        CU_ASSERT_EQUAL(rill__be32(b), 0xa1b2c3d4u);
        rill__put_be64(b, 0x0102030405060708ULL);
        CU_ASSERT(b[0] == 1 && b[7] == 8);
        CU_ASSERT_EQUAL(rill__be64(b), 0x0102030405060708ULL);
}

int
main(void)
{
        static const rill_test_suite_t suites[] = {
                {"codec", NULL, NULL,
                 {{"fixed_width", test_fixed_width},
                  {"extremes", test_extremes},
                  {"varints", test_varints},
                  {"strings_classic", test_strings_classic},
                  {"strings_compact", test_strings_compact},
                  {"bytes_and_arrays", test_bytes_and_arrays},
                  {"str_array", test_str_array},
                  {"uuid_tags_patch", test_uuid_tags_patch},
                  {"tagged_fields_skipped", test_tagged_fields_skipped},
                  {"truncation_latches", test_truncation_latches},
                  {"huge_lengths", test_huge_lengths},
                  {"sticky_error", test_sticky_error},
                  {"be_helpers", test_be_helpers},
                  {NULL, NULL}}},
                {NULL, NULL, NULL, {{NULL, NULL}}},
        };
        return rill_test_run(suites);
}
