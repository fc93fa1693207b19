/*
 * test_batch.c - RecordBatch v2: CRC-32C, validation, builder/iterator round
 * trips, every compression codec (batches compressed here with the codec
 * libraries directly), and refusal of decompression bombs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lz4frame.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>

#include "batch.h"
#include "rill_alloc.h"
#include "rill_test.h"

/* ---- helpers ------------------------------------------------------------ */

/* Encodes the entries (without the count) of two headers, "h1" => "v1"
 * and "h2" => null, into @p buf; returns the length (10). */
static size_t
make_headers(uint8_t *buf)
{
        uint8_t *p = buf;
        p += rill__varint_enc(p, 2);
        memcpy(p, "h1", 2);
        p += 2;
        p += rill__varint_enc(p, 2);
        memcpy(p, "v1", 2);
        p += 2;
        p += rill__varint_enc(p, 2);
        memcpy(p, "h2", 2);
        p += 2;
        p += rill__varint_enc(p, -1);
        return (size_t)(p - buf);
}

/* Record i: key "key-<i>" (null when i % 5 == 3), value "value-<i>..." (null
 * when i % 7 == 4), timestamp 1000 + i, two headers on even records. */
static void
build_batch(rill__batch_builder_t *b, int n, int64_t base_offset)
{
        uint8_t hdrs[64];
        size_t hlen = make_headers(hdrs);
        rill__batch_builder_init(b, base_offset, 1000);
        for (int i = 0; i < n; i++) {
                char k[32], v[64];
                int kl = snprintf(k, sizeof(k), "key-%d", i);
                int vl = snprintf(v, sizeof(v), "value-%d-%s", i, "some payload that compresses well");
                rill__batch_builder_add(b, i, 1000 + i, i % 5 == 3 ? NULL : k, kl,
                                        i % 7 == 4 ? NULL : v, vl,
                                        i % 2 == 0 ? hdrs : NULL, i % 2 == 0 ? hlen : 0,
                                        i % 2 == 0 ? 2 : 0);
        }
        rill__batch_builder_finish(b);
}

/* Checks every record of @p batch against build_batch(n, base). */
static void
check_records(const uint8_t *batch, size_t size, int n, int64_t base)
{
        rill__record_iter_t it;
        rill__record_t r;
        int i = 0, rc;
        CU_ASSERT_EQUAL_FATAL(rill__record_iter_init(&it, batch, size), RILL_OK);
        while ((rc = rill__record_iter_next(&it, &r)) == 1) {
                char k[32], v[64];
                int kl = snprintf(k, sizeof(k), "key-%d", i);
                int vl = snprintf(v, sizeof(v), "value-%d-%s", i, "some payload that compresses well");
                CU_ASSERT_EQUAL(r.offset, base + i);
                CU_ASSERT_EQUAL(r.timestamp, 1000 + i);
                if (i % 5 == 3) {
                        CU_ASSERT_EQUAL(r.key_len, -1);
                        CU_ASSERT_PTR_NULL(r.key);
                } else {
                        CU_ASSERT_EQUAL(r.key_len, kl);
                        CU_ASSERT(r.key && memcmp(r.key, k, (size_t)kl) == 0);
                }
                if (i % 7 == 4) {
                        CU_ASSERT_EQUAL(r.value_len, -1);
                } else {
                        CU_ASSERT_EQUAL(r.value_len, vl);
                        CU_ASSERT(r.value && memcmp(r.value, v, (size_t)vl) == 0);
                }
                if (i % 2 == 0) {
                        CU_ASSERT_EQUAL(r.header_count, 2);
                        /* "h1" => "v1", "h2" => null */
                        CU_ASSERT_EQUAL(r.headers_len, 10u);
                        CU_ASSERT(r.headers_len >= 8 && memcmp(r.headers + 1, "h1", 2) == 0 &&
                                  memcmp(r.headers + 4, "v1", 2) == 0 &&
                                  memcmp(r.headers + 7, "h2", 2) == 0);
                } else {
                        CU_ASSERT_EQUAL(r.header_count, 0);
                        CU_ASSERT_EQUAL(r.headers_len, 0u);
                }
                i++;
        }
        CU_ASSERT_EQUAL(rc, 0);
        CU_ASSERT_EQUAL(i, n);
        rill__record_iter_destroy(&it);
}

/* Replaces the records section of @p src with @p comp (codec @p codec),
 * recomputing Length and CRC, into @p out. */
static void
rewrap(const uint8_t *src, const uint8_t *comp, size_t comp_len, int codec, rill__wbuf_t *out)
{
        uint8_t *p;
        uint16_t attrs;
        rill__wb_init(out, RILL__BATCH_HDR_SIZE + comp_len);
        p = rill__wb_extend(out, RILL__BATCH_HDR_SIZE + comp_len);
        memcpy(p, src, RILL__BATCH_HDR_SIZE);
        memcpy(p + RILL__BATCH_HDR_SIZE, comp, comp_len);
        rill__put_be32(p + RILL__BATCH_OFF_LENGTH, (uint32_t)(RILL__BATCH_HDR_SIZE - 12 + comp_len));
        attrs = rill__be16(p + RILL__BATCH_OFF_ATTRS);
        rill__put_be16(p + RILL__BATCH_OFF_ATTRS, (uint16_t)((attrs & ~7) | codec));
        rill__put_be32(p + RILL__BATCH_OFF_CRC,
                       rill__crc32c(0, p + RILL__BATCH_OFF_ATTRS, out->len - RILL__BATCH_OFF_ATTRS));
}

static uint8_t *
gzip_compress(const uint8_t *in, size_t in_len, size_t *out_len)
{
        z_stream zs;
        size_t cap = compressBound((uLong)in_len) + 64;
        uint8_t *out = malloc(cap);
        memset(&zs, 0, sizeof(zs));
        CU_ASSERT_FATAL(deflateInit2(&zs, 1, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
        zs.next_in = (Bytef *)(uintptr_t)in;
        zs.avail_in = (uInt)in_len;
        zs.next_out = out;
        zs.avail_out = (uInt)cap;
        CU_ASSERT_FATAL(deflate(&zs, Z_FINISH) == Z_STREAM_END);
        *out_len = zs.total_out;
        deflateEnd(&zs);
        return out;
}

/* xerial framing with chunks of at most @p chunk bytes. */
static uint8_t *
snappy_xerial_compress(const uint8_t *in, size_t in_len, size_t chunk, size_t *out_len)
{
        static const uint8_t magic[8] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};
        size_t cap = 16 + (in_len / chunk + 1) * (4 + snappy_max_compressed_length(chunk));
        uint8_t *out = malloc(cap), *p = out;
        memcpy(p, magic, 8);
        rill__put_be32(p + 8, 1);
        rill__put_be32(p + 12, 1);
        p += 16;
        for (size_t off = 0; off < in_len; off += chunk) {
                size_t n = in_len - off < chunk ? in_len - off : chunk;
                size_t clen = snappy_max_compressed_length(n);
                CU_ASSERT_FATAL(snappy_compress((const char *)in + off, n, (char *)p + 4, &clen) == SNAPPY_OK);
                rill__put_be32(p, (uint32_t)clen);
                p += 4 + clen;
        }
        *out_len = (size_t)(p - out);
        return out;
}

static uint8_t *
snappy_raw_compress(const uint8_t *in, size_t in_len, size_t *out_len)
{
        size_t clen = snappy_max_compressed_length(in_len);
        uint8_t *out = malloc(clen);
        CU_ASSERT_FATAL(snappy_compress((const char *)in, in_len, (char *)out, &clen) == SNAPPY_OK);
        *out_len = clen;
        return out;
}

static uint8_t *
lz4_compress(const uint8_t *in, size_t in_len, size_t *out_len)
{
        size_t cap = LZ4F_compressFrameBound(in_len, NULL);
        uint8_t *out = malloc(cap);
        size_t r = LZ4F_compressFrame(out, cap, in, in_len, NULL);
        CU_ASSERT_FATAL(!LZ4F_isError(r));
        *out_len = r;
        return out;
}

/* zstd with (known_size) or without the content size in the frame header. */
static uint8_t *
zstd_compress(const uint8_t *in, size_t in_len, bool known_size, size_t *out_len)
{
        size_t cap = ZSTD_compressBound(in_len);
        uint8_t *out = malloc(cap);
        if (known_size) {
                size_t r = ZSTD_compress(out, cap, in, in_len, 1);
                CU_ASSERT_FATAL(!ZSTD_isError(r));
                *out_len = r;
        } else {
                ZSTD_CStream *cs = ZSTD_createCStream();
                ZSTD_inBuffer ib = {in, in_len, 0};
                ZSTD_outBuffer ob = {out, cap, 0};
                ZSTD_initCStream(cs, 1);
                while (ib.pos < ib.size)
                        CU_ASSERT_FATAL(!ZSTD_isError(ZSTD_compressStream(cs, &ob, &ib)));
                CU_ASSERT_FATAL(ZSTD_endStream(cs, &ob) == 0);
                ZSTD_freeCStream(cs);
                CU_ASSERT_FATAL(ZSTD_getFrameContentSize(out, ob.pos) == ZSTD_CONTENTSIZE_UNKNOWN);
                *out_len = ob.pos;
        }
        return out;
}

/* ---- tests -------------------------------------------------------------- */

static void
test_crc32c_vectors(void)
{
        uint8_t zeros[32] = {0}, ones[32], inc[32];
        const char *s = "123456789";
        uint32_t c;
        memset(ones, 0xff, sizeof(ones));
        for (int i = 0; i < 32; i++)
                inc[i] = (uint8_t)i;
        CU_ASSERT_EQUAL(rill__crc32c(0, s, 9), 0xE3069283u);
        CU_ASSERT_EQUAL(rill__crc32c(0, "", 0), 0u);
        /* RFC 3720 (iSCSI) test vectors. */
        CU_ASSERT_EQUAL(rill__crc32c(0, zeros, 32), 0x8A9136AAu);
        CU_ASSERT_EQUAL(rill__crc32c(0, ones, 32), 0x62A8AB43u);
        CU_ASSERT_EQUAL(rill__crc32c(0, inc, 32), 0x46DD794Eu);
        /* Continuation across arbitrary (unaligned) splits. */
        for (size_t split = 0; split <= 9; split++) {
                c = rill__crc32c(0, s, split);
                c = rill__crc32c(c, s + split, 9 - split);
                CU_ASSERT_EQUAL(c, 0xE3069283u);
        }
}

static void
test_crc32c_long_unaligned(void)
{
        /* Large unaligned input: compare against a bytewise reference. */
        size_t n = 100003;
        uint8_t *buf = malloc(n + 1);
        uint32_t ref = 0xffffffffu;
        for (size_t i = 0; i < n + 1; i++)
                buf[i] = (uint8_t)(i * 131 + (i >> 7));
        for (size_t i = 1; i < n + 1; i++) {
                ref ^= buf[i];
                for (int k = 0; k < 8; k++)
                        ref = (ref & 1) ? (ref >> 1) ^ 0x82F63B78u : ref >> 1;
        }
        CU_ASSERT_EQUAL(rill__crc32c(0, buf + 1, n), ~ref);
        /* The portable slice-by-8 path too (the CPU may use SSE4.2). */
        CU_ASSERT_EQUAL(rill__crc32c_sw(0, buf + 1, n), ~ref);
        CU_ASSERT_EQUAL(rill__crc32c_sw(0, "123456789", 9), 0xE3069283u);
        for (size_t off = 0; off < 9; off++)
                CU_ASSERT_EQUAL(rill__crc32c_sw(rill__crc32c_sw(0, buf, off), buf + off, 1000 - off),
                                rill__crc32c(0, buf, 1000));
        free(buf);
}

/*
 * The hardware path splits long inputs into three interleaved streams of
 * 4096- and 256-byte blocks and combines them; compare it with the portable
 * implementation at every length around those block boundaries, at every
 * alignment, and with a non-zero running CRC, so that a wrong combination
 * (or a wrong remainder) shows up.
 */
static void
test_crc32c_lengths_alignments(void)
{
        static const size_t bases[] = { 0, 768, 1536, 12288, 13056, 24576, 36864, 65536 };
        size_t max = 65536 + 64 + 8;
        uint8_t *buf = malloc(max);
        int bad = 0, checked = 0;
        uint32_t x = 2463534242u;
        for (size_t i = 0; i < max; i++) {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                buf[i] = (uint8_t)x;
        }
        for (size_t bi = 0; bi < sizeof(bases) / sizeof(bases[0]); bi++) {
                for (size_t d = 0; d < 64; d++) {
                        size_t n = bases[bi] + d;
                        for (size_t al = 0; al < 8; al++) {
                                uint32_t seed = (uint32_t)(n * 2654435761u + al);
                                checked++;
                                if (rill__crc32c(0, buf + al, n) != rill__crc32c_sw(0, buf + al, n))
                                        bad++;
                                if (rill__crc32c(seed, buf + al, n) !=
                                    rill__crc32c_sw(seed, buf + al, n))
                                        bad++;
                        }
                }
        }
        /* Every length from 0 to 4 KiB at one odd alignment. */
        for (size_t n = 0; n <= 4096; n++) {
                checked++;
                if (rill__crc32c(0x12345678u, buf + 3, n) != rill__crc32c_sw(0x12345678u, buf + 3, n))
                        bad++;
        }
        /* Continuation: one long call equals chained short ones. */
        {
                uint32_t whole = rill__crc32c(0, buf, 50000), c = 0;
                for (size_t off = 0; off < 50000; off += 777)
                        c = rill__crc32c(c, buf + off, (50000 - off < 777 ? 50000 - off : 777));
                CU_ASSERT_EQUAL(c, whole);
                CU_ASSERT_EQUAL(whole, rill__crc32c_sw(0, buf, 50000));
        }
        CU_ASSERT_EQUAL(bad, 0);
        CU_ASSERT(checked > 8000);
        free(buf);
}

static void
test_roundtrip(void)
{
        rill__batch_builder_t b;
        rill__batch_hdr_t h;
        char err[128];
        build_batch(&b, 50, 1234);
        CU_ASSERT_EQUAL(rill__batch_size(b.buf.buf), b.buf.len);
        CU_ASSERT_EQUAL(rill__batch_validate(b.buf.buf, b.buf.len, err, sizeof(err)), RILL_OK);
        rill__batch_hdr_parse(b.buf.buf, &h);
        CU_ASSERT_EQUAL(h.base_offset, 1234);
        CU_ASSERT_EQUAL(h.magic, 2);
        CU_ASSERT_EQUAL(h.records_count, 50);
        CU_ASSERT_EQUAL(h.last_offset_delta, 49);
        CU_ASSERT_EQUAL(h.base_timestamp, 1000);
        CU_ASSERT_EQUAL(h.max_timestamp, 1049);
        CU_ASSERT_EQUAL(h.producer_id, -1);
        CU_ASSERT_EQUAL(h.length, (int32_t)b.buf.len - 12);
        check_records(b.buf.buf, b.buf.len, 50, 1234);
        rill__batch_builder_destroy(&b);
}

static void
test_builder_gaps_and_empty(void)
{
        rill__batch_builder_t b;
        rill__record_iter_t it;
        rill__record_t r;
        rill__batch_hdr_t h;
        int64_t deltas[3] = {0, 5, 9};
        rill__batch_builder_init(&b, 100, 50);
        for (int i = 0; i < 3; i++)
                rill__batch_builder_add(&b, deltas[i], 40 + i * 20, "k", 1, "", 0, NULL, 0, 0);
        rill__batch_builder_finish(&b);
        CU_ASSERT_EQUAL(rill__batch_validate(b.buf.buf, b.buf.len, NULL, 0), RILL_OK);
        rill__batch_hdr_parse(b.buf.buf, &h);
        CU_ASSERT_EQUAL(h.last_offset_delta, 9);
        CU_ASSERT_EQUAL(h.max_timestamp, 80);
        CU_ASSERT_EQUAL_FATAL(rill__record_iter_init(&it, b.buf.buf, b.buf.len), RILL_OK);
        for (int i = 0; i < 3; i++) {
                CU_ASSERT_EQUAL_FATAL(rill__record_iter_next(&it, &r), 1);
                CU_ASSERT_EQUAL(r.offset, 100 + deltas[i]);
                CU_ASSERT_EQUAL(r.timestamp, 40 + i * 20); /* negative delta for the first */
                CU_ASSERT_EQUAL(r.value_len, 0);           /* empty, not null */
                CU_ASSERT_PTR_NOT_NULL(r.value);
        }
        CU_ASSERT_EQUAL(rill__record_iter_next(&it, &r), 0);
        rill__record_iter_destroy(&it);
        rill__batch_builder_destroy(&b);

        /* A batch with no records is valid and iterates to nothing. */
        rill__batch_builder_init(&b, 7, 99);
        rill__batch_builder_finish(&b);
        CU_ASSERT_EQUAL(b.buf.len, (size_t)RILL__BATCH_HDR_SIZE);
        CU_ASSERT_EQUAL(rill__batch_validate(b.buf.buf, b.buf.len, NULL, 0), RILL_OK);
        CU_ASSERT_EQUAL_FATAL(rill__record_iter_init(&it, b.buf.buf, b.buf.len), RILL_OK);
        CU_ASSERT_EQUAL(rill__record_iter_next(&it, &r), 0);
        rill__record_iter_destroy(&it);
        rill__batch_builder_destroy(&b);
}

static void
test_corrupt_and_truncated(void)
{
        rill__batch_builder_t b;
        char err[128] = "";
        uint8_t *copy;
        build_batch(&b, 10, 0);
        copy = malloc(b.buf.len);

        /* Every byte covered by the CRC is checked. */
        for (size_t i = RILL__BATCH_OFF_ATTRS; i < b.buf.len; i += 7) {
                memcpy(copy, b.buf.buf, b.buf.len);
                copy[i] ^= 0x01;
                CU_ASSERT_EQUAL(rill__batch_validate(copy, b.buf.len, err, sizeof(err)), RILL_ERR_CORRUPT);
        }
        CU_ASSERT(strstr(err, "CRC") != NULL);
        /* The CRC itself. */
        memcpy(copy, b.buf.buf, b.buf.len);
        copy[RILL__BATCH_OFF_CRC] ^= 0x80;
        CU_ASSERT_EQUAL(rill__batch_validate(copy, b.buf.len, NULL, 0), RILL_ERR_CORRUPT);
        /* BaseOffset and PartitionLeaderEpoch are outside the CRC. */
        memcpy(copy, b.buf.buf, b.buf.len);
        copy[3] ^= 0xff;
        copy[RILL__BATCH_OFF_LEADER_EPOCH] ^= 0xff;
        CU_ASSERT_EQUAL(rill__batch_validate(copy, b.buf.len, NULL, 0), RILL_OK);
        /* Truncation at every length is a protocol error, never a crash. */
        for (size_t n = 0; n < b.buf.len; n++)
                CU_ASSERT_EQUAL(rill__batch_validate(b.buf.buf, n, NULL, 0), RILL_ERR_PROTOCOL);
        /* Wrong magic. */
        memcpy(copy, b.buf.buf, b.buf.len);
        copy[RILL__BATCH_OFF_MAGIC] = 1;
        CU_ASSERT_EQUAL(rill__batch_validate(copy, b.buf.len, NULL, 0), RILL_ERR_PROTOCOL);
        /* Length below the header size. */
        memcpy(copy, b.buf.buf, b.buf.len);
        rill__put_be32(copy + RILL__BATCH_OFF_LENGTH, 10);
        CU_ASSERT_EQUAL(rill__batch_validate(copy, b.buf.len, NULL, 0), RILL_ERR_CORRUPT);
        /* Negative length. */
        rill__put_be32(copy + RILL__BATCH_OFF_LENGTH, 0xffffff00u);
        CU_ASSERT_EQUAL(rill__batch_validate(copy, b.buf.len, NULL, 0), RILL_ERR_CORRUPT);
        free(copy);
        rill__batch_builder_destroy(&b);
}

static void
test_iter_malformed_records(void)
{
        /* Records whose lengths lie: the iterator reports an error. */
        rill__batch_builder_t b;
        rill__record_iter_t it;
        rill__record_t r;
        int rc, n = 0;
        build_batch(&b, 3, 0);
        /* Inflate the first record's varint length (one byte, zigzag). */
        b.buf.buf[RILL__BATCH_HDR_SIZE] = 0x7e; /* 63 */
        CU_ASSERT_EQUAL_FATAL(rill__record_iter_init(&it, b.buf.buf, b.buf.len), RILL_OK);
        while ((rc = rill__record_iter_next(&it, &r)) == 1)
                n++;
        CU_ASSERT_EQUAL(rc, -1);
        CU_ASSERT(n < 3);
        rill__record_iter_destroy(&it);
        rill__batch_builder_destroy(&b);

        /* More records claimed than present. */
        build_batch(&b, 3, 0);
        rill__put_be32(b.buf.buf + RILL__BATCH_OFF_COUNT, 4);
        CU_ASSERT_EQUAL_FATAL(rill__record_iter_init(&it, b.buf.buf, b.buf.len), RILL_OK);
        n = 0;
        while ((rc = rill__record_iter_next(&it, &r)) == 1)
                n++;
        CU_ASSERT_EQUAL(n, 3);
        CU_ASSERT_EQUAL(rc, -1);
        rill__record_iter_destroy(&it);
        rill__batch_builder_destroy(&b);
}

static void
test_log_append_time(void)
{
        rill__batch_builder_t b;
        rill__record_iter_t it;
        rill__record_t r;
        build_batch(&b, 3, 0);
        b.buf.buf[RILL__BATCH_OFF_ATTRS + 1] |= RILL__BATCH_ATTR_LOG_APPEND_TIME;
        rill__put_be64(b.buf.buf + RILL__BATCH_OFF_MAX_TS, 777777);
        CU_ASSERT_EQUAL_FATAL(rill__record_iter_init(&it, b.buf.buf, b.buf.len), RILL_OK);
        while (rill__record_iter_next(&it, &r) == 1)
                CU_ASSERT_EQUAL(r.timestamp, 777777);
        rill__record_iter_destroy(&it);
        rill__batch_builder_destroy(&b);
}

/* Builds the reference batch, compresses its records with @p compress, and
 * checks validation and iteration of the compressed batch. */
typedef uint8_t *(*compress_fn)(const uint8_t *in, size_t in_len, size_t *out_len);

static uint8_t *
c_gzip(const uint8_t *in, size_t in_len, size_t *out_len)
{
        return gzip_compress(in, in_len, out_len);
}
static uint8_t *
c_snappy_xerial(const uint8_t *in, size_t in_len, size_t *out_len)
{
        return snappy_xerial_compress(in, in_len, 1000, out_len);
}
static uint8_t *
c_snappy_raw(const uint8_t *in, size_t in_len, size_t *out_len)
{
        return snappy_raw_compress(in, in_len, out_len);
}
static uint8_t *
c_lz4(const uint8_t *in, size_t in_len, size_t *out_len)
{
        return lz4_compress(in, in_len, out_len);
}
static uint8_t *
c_zstd(const uint8_t *in, size_t in_len, size_t *out_len)
{
        return zstd_compress(in, in_len, true, out_len);
}
static uint8_t *
c_zstd_stream(const uint8_t *in, size_t in_len, size_t *out_len)
{
        return zstd_compress(in, in_len, false, out_len);
}

static void
roundtrip_codec(int codec, compress_fn fn)
{
        rill__batch_builder_t b;
        rill__wbuf_t cb;
        rill__record_iter_t it;
        size_t clen;
        uint8_t *comp;
        char err[128];
        int n = 200;

        build_batch(&b, n, 42);
        comp = fn(b.buf.buf + RILL__BATCH_HDR_SIZE, b.buf.len - RILL__BATCH_HDR_SIZE, &clen);
        CU_ASSERT(clen < b.buf.len - RILL__BATCH_HDR_SIZE); /* it really compressed */
        rewrap(b.buf.buf, comp, clen, codec, &cb);
        CU_ASSERT_EQUAL(rill__batch_validate(cb.buf, cb.len, err, sizeof(err)), RILL_OK);
        check_records(cb.buf, cb.len, n, 42);

        /* A truncated compressed payload (CRC fixed up) fails cleanly. */
        rill__wb_free(&cb);
        rewrap(b.buf.buf, comp, clen / 2, codec, &cb);
        CU_ASSERT_EQUAL(rill__batch_validate(cb.buf, cb.len, NULL, 0), RILL_OK);
        CU_ASSERT_NOT_EQUAL(rill__record_iter_init(&it, cb.buf, cb.len), RILL_OK);
        rill__record_iter_destroy(&it);
        /* Garbage instead of compressed data fails cleanly. */
        memset(comp, 0xA5, clen);
        rill__wb_free(&cb);
        rewrap(b.buf.buf, comp, clen, codec, &cb);
        CU_ASSERT_NOT_EQUAL(rill__record_iter_init(&it, cb.buf, cb.len), RILL_OK);
        rill__record_iter_destroy(&it);
        rill__wb_free(&cb);
        free(comp);
        rill__batch_builder_destroy(&b);
}

static void
test_codec_gzip(void)
{
        roundtrip_codec(RILL__COMP_GZIP, c_gzip);
}

static void
test_codec_snappy(void)
{
        roundtrip_codec(RILL__COMP_SNAPPY, c_snappy_xerial);
        roundtrip_codec(RILL__COMP_SNAPPY, c_snappy_raw);
}

static void
test_codec_lz4(void)
{
        roundtrip_codec(RILL__COMP_LZ4, c_lz4);
}

static void
test_codec_zstd(void)
{
        roundtrip_codec(RILL__COMP_ZSTD, c_zstd);
        roundtrip_codec(RILL__COMP_ZSTD, c_zstd_stream);
}

static void
test_unknown_codec(void)
{
        rill__batch_builder_t b;
        rill__record_iter_t it;
        uint8_t *p;
        build_batch(&b, 3, 0);
        p = b.buf.buf;
        p[RILL__BATCH_OFF_ATTRS + 1] |= 5;
        rill__put_be32(p + RILL__BATCH_OFF_CRC,
                       rill__crc32c(0, p + RILL__BATCH_OFF_ATTRS, b.buf.len - RILL__BATCH_OFF_ATTRS));
        CU_ASSERT_EQUAL(rill__batch_validate(p, b.buf.len, NULL, 0), RILL_ERR_CORRUPT);
        CU_ASSERT_EQUAL(rill__record_iter_init(&it, p, b.buf.len), RILL_ERR_UNSUPPORTED);
        rill__record_iter_destroy(&it);
        rill__batch_builder_destroy(&b);
}

static void
test_decompression_bomb(void)
{
        /* 80 MiB of zeros compresses to almost nothing; every codec must
         * refuse it (the cap is 64 MiB) instead of allocating it all. */
        size_t n = RILL__BATCH_MAX_DECOMPRESSED + ((size_t)16 << 20);
        uint8_t *zeros = calloc(1, n);
        compress_fn fns[5] = {c_gzip, c_snappy_raw, c_lz4, c_zstd, c_zstd_stream};
        int codecs[5] = {RILL__COMP_GZIP, RILL__COMP_SNAPPY, RILL__COMP_LZ4, RILL__COMP_ZSTD,
                         RILL__COMP_ZSTD};
        rill__batch_builder_t b;
        build_batch(&b, 1, 0);
        for (int i = 0; i < 5; i++) {
                size_t clen;
                uint8_t *comp = fns[i](zeros, n, &clen);
                rill__wbuf_t cb;
                rill__record_iter_t it;
                CU_ASSERT(clen < n / 10);
                rewrap(b.buf.buf, comp, clen, codecs[i], &cb);
                CU_ASSERT_EQUAL(rill__record_iter_init(&it, cb.buf, cb.len), RILL_ERR_TOO_LARGE);
                rill__record_iter_destroy(&it);
                rill__wb_free(&cb);
                free(comp);
        }
        /* Snappy xerial: many chunks whose total exceeds the cap. */
        {
                size_t clen;
                uint8_t *comp = snappy_xerial_compress(zeros, n, (size_t)1 << 20, &clen);
                rill__wbuf_t cb;
                rill__record_iter_t it;
                rewrap(b.buf.buf, comp, clen, RILL__COMP_SNAPPY, &cb);
                CU_ASSERT_EQUAL(rill__record_iter_init(&it, cb.buf, cb.len), RILL_ERR_TOO_LARGE);
                rill__record_iter_destroy(&it);
                rill__wb_free(&cb);
                free(comp);
        }
        rill__batch_builder_destroy(&b);
        free(zeros);
}

/* Random mutations of valid batches (plain and compressed), with the CRC
 * fixed up so that the iterator sees the damage: never a crash, never more
 * records than the header claims, and every failure is reported. */
static void
test_fuzz_records(void)
{
        rill__batch_builder_t b;
        compress_fn fns[4] = {c_gzip, c_snappy_xerial, c_lz4, c_zstd};
        int codecs[4] = {RILL__COMP_GZIP, RILL__COMP_SNAPPY, RILL__COMP_LZ4, RILL__COMP_ZSTD};
        rill__wbuf_t variants[5];
        uint32_t seed = 12345;
        int errors = 0, ok = 0;

        build_batch(&b, 30, 7);
        rill__wb_init(&variants[0], 0);
        rill__wb_raw(&variants[0], b.buf.buf, b.buf.len);
        for (int i = 0; i < 4; i++) {
                size_t clen;
                uint8_t *comp = fns[i](b.buf.buf + RILL__BATCH_HDR_SIZE, b.buf.len - RILL__BATCH_HDR_SIZE, &clen);
                rewrap(b.buf.buf, comp, clen, codecs[i], &variants[i + 1]);
                free(comp);
        }
        for (int iter = 0; iter < 3000; iter++) {
                rill__wbuf_t *v = &variants[iter % 5];
                uint8_t *copy = malloc(v->len);
                rill__record_iter_t it;
                rill__record_t r;
                int n = 0, rc = 0, flips;
                size_t len = v->len;
                memcpy(copy, v->buf, v->len);
                seed = seed * 1103515245u + 12345u;
                flips = 1 + (int)(seed >> 28);
                for (int f = 0; f < flips; f++) {
                        size_t at;
                        seed = seed * 1103515245u + 12345u;
                        at = RILL__BATCH_OFF_ATTRS + 2 + (seed >> 8) % (len - RILL__BATCH_OFF_ATTRS - 2);
                        if (at >= RILL__BATCH_OFF_LAST_DELTA && at < RILL__BATCH_HDR_SIZE &&
                            at != RILL__BATCH_OFF_COUNT + 3)
                                at = RILL__BATCH_HDR_SIZE + (at % (len - RILL__BATCH_HDR_SIZE));
                        copy[at] ^= (uint8_t)(1u << ((seed >> 4) & 7));
                }
                rill__put_be32(copy + RILL__BATCH_OFF_CRC,
                               rill__crc32c(0, copy + RILL__BATCH_OFF_ATTRS, len - RILL__BATCH_OFF_ATTRS));
                CU_ASSERT_EQUAL(rill__batch_validate(copy, len, NULL, 0), RILL_OK);
                if (rill__record_iter_init(&it, copy, len) == RILL_OK) {
                        while ((rc = rill__record_iter_next(&it, &r)) == 1) {
                                CU_ASSERT(r.key_len >= -1 && r.value_len >= -1);
                                const uint8_t *lo = it.decomp ? it.decomp : copy;
                                CU_ASSERT(r.key_len <= 0 || (r.key >= lo && r.key + r.key_len <= it.end));
                                CU_ASSERT(r.value_len <= 0 ||
                                          (r.value >= lo && r.value + r.value_len <= it.end));
                                n++;
                        }
                        CU_ASSERT(rc == 0 || rc == -1);
                        CU_ASSERT(n <= it.hdr.records_count);
                        /* Stays failed. */
                        if (rc == -1)
                                CU_ASSERT_EQUAL(rill__record_iter_next(&it, &r), -1);
                        if (rc == -1)
                                errors++;
                        else
                                ok++;
                } else {
                        errors++;
                }
                rill__record_iter_destroy(&it);
                free(copy);
        }
        /* Both outcomes happen: mutations are not all harmless or all fatal. */
        CU_ASSERT(errors > 0);
        CU_ASSERT(ok > 0);
        for (int i = 0; i < 5; i++)
                rill__wb_free(&variants[i]);
        rill__batch_builder_destroy(&b);
}

int
main(void)
{
        static const rill_test_suite_t suites[] = {
                {"batch", NULL, NULL, {
                        {"crc32c_vectors", test_crc32c_vectors},
                        {"crc32c_long_unaligned", test_crc32c_long_unaligned},
                        {"crc32c_lengths_alignments", test_crc32c_lengths_alignments},
                        {"roundtrip", test_roundtrip},
                        {"builder_gaps_and_empty", test_builder_gaps_and_empty},
                        {"corrupt_and_truncated", test_corrupt_and_truncated},
                        {"iter_malformed_records", test_iter_malformed_records},
                        {"log_append_time", test_log_append_time},
                        {"codec_gzip", test_codec_gzip},
                        {"codec_snappy", test_codec_snappy},
                        {"codec_lz4", test_codec_lz4},
                        {"codec_zstd", test_codec_zstd},
                        {"unknown_codec", test_unknown_codec},
                        {"decompression_bomb", test_decompression_bomb},
                        {"fuzz_records", test_fuzz_records},
                        {NULL, NULL}}},
                {NULL, NULL, NULL, {{NULL, NULL}}},
        };
        return rill_test_run(suites);
}
