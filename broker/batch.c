/*
 * batch.c - RecordBatch v2: CRC-32C, header parsing, validation, record
 * iteration (with decompression) and building. See batch.h.
 *
 * Design:
 * - CRC-32C uses the SSE4.2 crc32 instruction when the CPU has it (checked
 *   once per process with __builtin_cpu_supports, which is thread-safe), on
 *   x86-64 as three interleaved streams for long inputs (see crc32c_hw), and
 *   a slice-by-8 table otherwise. The tables are computed once under
 *   pthread_once and never change afterwards, so they are constant state,
 *   not shared mutable state.
 * - Validation never decompresses: it checks sizes, magic, the CRC and the
 *   few header fields a broker relies on. That keeps append cheap (one CRC
 *   pass over each batch, no per-record work).
 * - The record iterator decompresses a compressed batch once, in
 *   rill__record_iter_init(), into an owned buffer whose size is bounded by
 *   RILL__BATCH_MAX_DECOMPRESSED: a decompression bomb is refused with
 *   RILL_ERR_TOO_LARGE instead of exhausting memory. Codecs follow what
 *   Kafka clients produce: gzip framing (zlib with gzip/zlib auto-detect),
 *   snappy with xerial framing (raw snappy also accepted), LZ4 frame format,
 *   and zstd frames with or without a known content size.
 * - The builder writes uncompressed batches directly into a wbuf: the
 *   61-byte header is reserved first and filled in by finish(), which also
 *   computes the CRC.
 */
#include "batch.h"

#include <limits.h>
#include <pthread.h>
#include <string.h>

#include <lz4frame.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>

#include "rill_alloc.h"
#include "rill_util.h"

#if defined(__x86_64__) || defined(__i386__)
#include <nmmintrin.h>
#define RILL__HAVE_SSE42_PATH 1
#endif

/* ------------------------------------------------------------------------ */
/* CRC-32C                                                                  */
/* ------------------------------------------------------------------------ */

#define CRC32C_POLY 0x82F63B78u

static uint32_t crc32c_table[8][256];
static pthread_once_t crc32c_once = PTHREAD_ONCE_INIT;

static void
crc32c_init_tables(void)
{
        for (uint32_t n = 0; n < 256; n++) {
                uint32_t c = n;
                for (int k = 0; k < 8; k++)
                        c = (c & 1) ? (c >> 1) ^ CRC32C_POLY : c >> 1;
                crc32c_table[0][n] = c;
        }
        for (uint32_t n = 0; n < 256; n++) {
                uint32_t c = crc32c_table[0][n];
                for (int k = 1; k < 8; k++) {
                        c = crc32c_table[0][c & 0xff] ^ (c >> 8);
                        crc32c_table[k][n] = c;
                }
        }
}

/* Slice-by-8 software CRC on the inverted register value. */
static uint32_t
crc32c_sw(uint32_t crc, const uint8_t *p, size_t len)
{
        pthread_once(&crc32c_once, crc32c_init_tables);
        while (len && ((uintptr_t)p & 7)) {
                crc = crc32c_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
                len--;
        }
        while (len >= 8) {
                uint32_t lo, hi;
                memcpy(&lo, p, 4);
                memcpy(&hi, p + 4, 4);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
                lo = __builtin_bswap32(lo);
                hi = __builtin_bswap32(hi);
#endif
                lo ^= crc;
                crc = crc32c_table[7][lo & 0xff] ^ crc32c_table[6][(lo >> 8) & 0xff] ^
                      crc32c_table[5][(lo >> 16) & 0xff] ^ crc32c_table[4][lo >> 24] ^
                      crc32c_table[3][hi & 0xff] ^ crc32c_table[2][(hi >> 8) & 0xff] ^
                      crc32c_table[1][(hi >> 16) & 0xff] ^ crc32c_table[0][hi >> 24];
                p += 8;
                len -= 8;
        }
        while (len--)
                crc = crc32c_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
        return crc;
}

#ifdef RILL__HAVE_SSE42_PATH
/*
 * Hardware CRC-32C. The crc32 instruction has a latency of several cycles
 * but can start one per cycle, so a single dependent chain leaves most of
 * the unit idle. Long inputs are therefore cut into rounds of three equal
 * blocks A, B, C of CRC32C_LONG (or, for the rest, CRC32C_SHORT) bytes whose
 * CRCs are computed as three independent chains (A from the running
 * register, B and C from zero) and then combined. The register update is
 * linear over GF(2) without the pre/post inversion, so
 *     crc(r, A || B) = shift_|B|(crc(r, A)) ^ crc(0, B),
 * where shift_n(x) is the register after feeding n zero bytes from x. For a
 * fixed n, shift_n is a linear map on 32 bits: it is evaluated with four
 * 256-entry tables (one per byte of x), built once from the 32 images of
 * the single-bit registers. What is left after the rounds (and short
 * inputs) goes through the single chain.
 */
#ifdef __x86_64__
#define CRC32C_LONG 4096
#define CRC32C_SHORT 256

/* shift tables: [0] for CRC32C_LONG bytes, [1] for CRC32C_SHORT bytes. */
static uint32_t crc32c_shift_table[2][4][256];
static pthread_once_t crc32c_shift_once = PTHREAD_ONCE_INIT;

__attribute__((target("sse4.2"))) static uint32_t
crc32c_zeros(uint32_t crc, size_t n)
{
        uint64_t c64 = crc;
        for (; n >= 8; n -= 8)
                c64 = _mm_crc32_u64(c64, 0);
        crc = (uint32_t)c64;
        for (; n > 0; n--)
                crc = _mm_crc32_u8(crc, 0);
        return crc;
}

__attribute__((target("sse4.2"))) static void
crc32c_init_shift_tables(void)
{
        static const size_t lens[2] = { CRC32C_LONG, CRC32C_SHORT };
        for (int t = 0; t < 2; t++) {
                uint32_t bit[32];
                for (int i = 0; i < 32; i++)
                        bit[i] = crc32c_zeros(1u << i, lens[t]);
                for (int k = 0; k < 4; k++) {
                        for (uint32_t v = 0; v < 256; v++) {
                                uint32_t s = 0;
                                for (int i = 0; i < 8; i++)
                                        if (v & (1u << i))
                                                s ^= bit[8 * k + i];
                                crc32c_shift_table[t][k][v] = s;
                        }
                }
        }
}

static inline uint32_t
crc32c_shift(int t, uint32_t crc)
{
        return crc32c_shift_table[t][0][crc & 0xff] ^
               crc32c_shift_table[t][1][(crc >> 8) & 0xff] ^
               crc32c_shift_table[t][2][(crc >> 16) & 0xff] ^
               crc32c_shift_table[t][3][crc >> 24];
}

/* Rounds of three interleaved blocks of @p blk bytes (a multiple of 8)
 * while at least 3 * blk bytes remain; @p t selects the shift table. */
__attribute__((target("sse4.2"))) static inline uint32_t
crc32c_hw_3way(uint32_t crc, const uint8_t **pp, size_t *lenp, size_t blk, int t)
{
        const uint8_t *p = *pp;
        size_t len = *lenp;
        while (len >= 3 * blk) {
                uint64_t a = crc, b = 0, c = 0;
                const uint8_t *pa = p, *pb = p + blk, *pc = p + 2 * blk;
                for (size_t i = 0; i < blk; i += 8) {
                        uint64_t va, vb, vc;
                        memcpy(&va, pa + i, 8);
                        memcpy(&vb, pb + i, 8);
                        memcpy(&vc, pc + i, 8);
                        a = _mm_crc32_u64(a, va);
                        b = _mm_crc32_u64(b, vb);
                        c = _mm_crc32_u64(c, vc);
                }
                crc = crc32c_shift(t, crc32c_shift(t, (uint32_t)a) ^ (uint32_t)b) ^ (uint32_t)c;
                p += 3 * blk;
                len -= 3 * blk;
        }
        *pp = p;
        *lenp = len;
        return crc;
}
#endif

__attribute__((target("sse4.2"))) static uint32_t
crc32c_hw(uint32_t crc, const uint8_t *p, size_t len)
{
        while (len && ((uintptr_t)p & 7)) {
                crc = _mm_crc32_u8(crc, *p++);
                len--;
        }
#ifdef __x86_64__
        if (len >= 3 * CRC32C_SHORT) {
                pthread_once(&crc32c_shift_once, crc32c_init_shift_tables);
                crc = crc32c_hw_3way(crc, &p, &len, CRC32C_LONG, 0);
                crc = crc32c_hw_3way(crc, &p, &len, CRC32C_SHORT, 1);
        }
        {
                uint64_t c64 = crc;
                while (len >= 8) {
                        uint64_t v;
                        memcpy(&v, p, 8);
                        c64 = _mm_crc32_u64(c64, v);
                        p += 8;
                        len -= 8;
                }
                crc = (uint32_t)c64;
        }
#endif
        while (len >= 4) {
                uint32_t v;
                memcpy(&v, p, 4);
                crc = _mm_crc32_u32(crc, v);
                p += 4;
                len -= 4;
        }
        while (len--)
                crc = _mm_crc32_u8(crc, *p++);
        return crc;
}
#endif

uint32_t
rill__crc32c(uint32_t crc, const void *data, size_t len)
{
        const uint8_t *p = data;
        crc = ~crc;
#ifdef RILL__HAVE_SSE42_PATH
        if (__builtin_cpu_supports("sse4.2"))
                return ~crc32c_hw(crc, p, len);
#endif
        return ~crc32c_sw(crc, p, len);
}

uint32_t
rill__crc32c_sw(uint32_t crc, const void *data, size_t len)
{
        return ~crc32c_sw(~crc, data, len);
}

/* ------------------------------------------------------------------------ */
/* Header and validation                                                    */
/* ------------------------------------------------------------------------ */

void
rill__batch_hdr_parse(const uint8_t *p, rill__batch_hdr_t *h)
{
        h->base_offset = (int64_t)rill__be64(p + RILL__BATCH_OFF_BASE_OFFSET);
        h->length = (int32_t)rill__be32(p + RILL__BATCH_OFF_LENGTH);
        h->leader_epoch = (int32_t)rill__be32(p + RILL__BATCH_OFF_LEADER_EPOCH);
        h->magic = (int8_t)p[RILL__BATCH_OFF_MAGIC];
        h->crc = rill__be32(p + RILL__BATCH_OFF_CRC);
        h->attributes = (int16_t)rill__be16(p + RILL__BATCH_OFF_ATTRS);
        h->last_offset_delta = (int32_t)rill__be32(p + RILL__BATCH_OFF_LAST_DELTA);
        h->base_timestamp = (int64_t)rill__be64(p + RILL__BATCH_OFF_BASE_TS);
        h->max_timestamp = (int64_t)rill__be64(p + RILL__BATCH_OFF_MAX_TS);
        h->producer_id = (int64_t)rill__be64(p + RILL__BATCH_OFF_PID);
        h->producer_epoch = (int16_t)rill__be16(p + RILL__BATCH_OFF_PEPOCH);
        h->base_sequence = (int32_t)rill__be32(p + RILL__BATCH_OFF_BASE_SEQ);
        h->records_count = (int32_t)rill__be32(p + RILL__BATCH_OFF_COUNT);
}

rill_err_t
rill__batch_validate(const uint8_t *p, size_t avail, char *errstr, size_t errstr_size)
{
        int32_t length;
        uint32_t crc;
        rill__batch_hdr_t h;

        if (avail < 12) {
                rill__errf(errstr, errstr_size, "truncated batch: %zu bytes, need 12", avail);
                return RILL_ERR_PROTOCOL;
        }
        length = (int32_t)rill__be32(p + RILL__BATCH_OFF_LENGTH);
        if (length < RILL__BATCH_HDR_SIZE - 12) {
                rill__errf(errstr, errstr_size, "batch length %d below minimum %d", (int)length,
                           RILL__BATCH_HDR_SIZE - 12);
                return RILL_ERR_CORRUPT;
        }
        if ((size_t)length > avail - 12) {
                rill__errf(errstr, errstr_size, "truncated batch: length %d, %zu bytes available",
                           (int)length, avail - 12);
                return RILL_ERR_PROTOCOL;
        }
        if (p[RILL__BATCH_OFF_MAGIC] != 2) {
                rill__errf(errstr, errstr_size, "unsupported batch magic %d",
                           (int)(int8_t)p[RILL__BATCH_OFF_MAGIC]);
                return RILL_ERR_PROTOCOL;
        }
        crc = rill__crc32c(0, p + RILL__BATCH_OFF_ATTRS, (size_t)length + 12 - RILL__BATCH_OFF_ATTRS);
        rill__batch_hdr_parse(p, &h);
        if (crc != h.crc) {
                rill__errf(errstr, errstr_size, "batch CRC mismatch: stored 0x%08x, computed 0x%08x",
                           h.crc, crc);
                return RILL_ERR_CORRUPT;
        }
        if (h.last_offset_delta < 0 || h.records_count < 0) {
                rill__errf(errstr, errstr_size, "invalid batch: lastOffsetDelta %d, records %d",
                           (int)h.last_offset_delta, (int)h.records_count);
                return RILL_ERR_CORRUPT;
        }
        if ((h.attributes & RILL__BATCH_ATTR_COMPRESSION_MASK) > RILL__COMP_ZSTD) {
                rill__errf(errstr, errstr_size, "invalid compression codec %d",
                           h.attributes & RILL__BATCH_ATTR_COMPRESSION_MASK);
                return RILL_ERR_CORRUPT;
        }
        return RILL_OK;
}

/* ------------------------------------------------------------------------ */
/* Decompression                                                            */
/* ------------------------------------------------------------------------ */

/* Growable output buffer bounded by RILL__BATCH_MAX_DECOMPRESSED. */
typedef struct dbuf {
        uint8_t *p;
        size_t len, cap;
} dbuf_t;

/* Makes sure there is free space at the end of @p d, growing it
 * geometrically (first to about @p hint bytes) up to the cap; returns false
 * when the buffer is full and already at the cap. */
static bool
dbuf_grow(dbuf_t *d, size_t hint)
{
        size_t ncap;
        if (d->len < d->cap)
                return true;
        if (d->cap >= RILL__BATCH_MAX_DECOMPRESSED)
                return false;
        ncap = d->cap ? d->cap * 2 : RILL__MAX(hint, (size_t)4096);
        if (ncap > RILL__BATCH_MAX_DECOMPRESSED)
                ncap = RILL__BATCH_MAX_DECOMPRESSED;
        d->p = rill__realloc(d->p, ncap);
        d->cap = ncap;
        return true;
}

static rill_err_t
decomp_gzip(const uint8_t *in, size_t in_len, dbuf_t *d)
{
        z_stream zs;
        int zr;
        rill_err_t err = RILL_OK;

        memset(&zs, 0, sizeof(zs));
        if (inflateInit2(&zs, 32 + MAX_WBITS) != Z_OK)
                return RILL_ERR_NOMEM;
        zs.next_in = (Bytef *)(uintptr_t)in;
        for (;;) {
                if (!dbuf_grow(d, in_len * 2 + 1024)) {
                        err = RILL_ERR_TOO_LARGE;
                        break;
                }
                zs.next_out = d->p + d->len;
                zs.avail_out = (uInt)RILL__MIN(d->cap - d->len, (size_t)UINT_MAX);
                zs.avail_in = (uInt)RILL__MIN(in_len - (size_t)((const uint8_t *)zs.next_in - in),
                                              (size_t)UINT_MAX);
                zr = inflate(&zs, Z_NO_FLUSH);
                d->len = (size_t)(zs.next_out - d->p);
                if (zr == Z_STREAM_END) {
                        /* Concatenated gzip members are legal; continue if
                         * more input follows. */
                        if ((const uint8_t *)zs.next_in < in + in_len) {
                                if (inflateReset(&zs) != Z_OK) {
                                        err = RILL_ERR_CORRUPT;
                                        break;
                                }
                                continue;
                        }
                        break;
                }
                if (zr == Z_OK)
                        continue;
                if (zr == Z_BUF_ERROR && zs.avail_out == 0)
                        continue;
                err = RILL_ERR_CORRUPT;
                break;
        }
        inflateEnd(&zs);
        return err;
}

static rill_err_t
snappy_raw(const uint8_t *in, size_t in_len, dbuf_t *d)
{
        size_t ulen;
        if (snappy_uncompressed_length((const char *)in, in_len, &ulen) != SNAPPY_OK)
                return RILL_ERR_CORRUPT;
        if (ulen > RILL__BATCH_MAX_DECOMPRESSED - d->len)
                return RILL_ERR_TOO_LARGE;
        if (ulen == 0)
                return RILL_OK;
        if (d->cap - d->len < ulen) {
                d->p = rill__realloc(d->p, d->len + ulen);
                d->cap = d->len + ulen;
        }
        if (snappy_uncompress((const char *)in, in_len, (char *)d->p + d->len, &ulen) != SNAPPY_OK)
                return RILL_ERR_CORRUPT;
        d->len += ulen;
        return RILL_OK;
}

static rill_err_t
decomp_snappy(const uint8_t *in, size_t in_len, dbuf_t *d)
{
        static const uint8_t xerial_magic[8] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};
        size_t pos;
        rill_err_t err;

        if (in_len < 16 || memcmp(in, xerial_magic, 8) != 0)
                return snappy_raw(in, in_len, d);
        /* xerial framing: 8-byte magic, version i32, compatible version
         * i32, then chunks of (big-endian i32 length, raw snappy block). */
        pos = 16;
        while (pos < in_len) {
                uint32_t clen;
                if (in_len - pos < 4)
                        return RILL_ERR_CORRUPT;
                clen = rill__be32(in + pos);
                pos += 4;
                if (clen > in_len - pos)
                        return RILL_ERR_CORRUPT;
                if ((err = snappy_raw(in + pos, clen, d)) != RILL_OK)
                        return err;
                pos += clen;
        }
        return RILL_OK;
}

static rill_err_t
decomp_lz4(const uint8_t *in, size_t in_len, dbuf_t *d)
{
        LZ4F_dctx *dctx;
        size_t pos = 0, r = 1;
        rill_err_t err = RILL_OK;

        if (LZ4F_isError(LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION)))
                return RILL_ERR_NOMEM;
        while (pos < in_len) {
                size_t out_sz, in_sz;
                if (!dbuf_grow(d, in_len * 2 + 1024)) {
                        err = RILL_ERR_TOO_LARGE;
                        break;
                }
                out_sz = d->cap - d->len;
                in_sz = in_len - pos;
                r = LZ4F_decompress(dctx, d->p + d->len, &out_sz, in + pos, &in_sz, NULL);
                if (LZ4F_isError(r)) {
                        err = RILL_ERR_CORRUPT;
                        break;
                }
                d->len += out_sz;
                pos += in_sz;
                if (r == 0) {
                        /* End of one frame; further frames may follow. */
                        continue;
                }
                if (in_sz == 0 && out_sz == 0) {
                        err = RILL_ERR_CORRUPT;
                        break;
                }
        }
        /* Input exhausted: remaining hint output may still be buffered. */
        while (err == RILL_OK && r != 0) {
                size_t out_sz, in_sz = 0;
                if (!dbuf_grow(d, 65536)) {
                        err = RILL_ERR_TOO_LARGE;
                        break;
                }
                out_sz = d->cap - d->len;
                r = LZ4F_decompress(dctx, d->p + d->len, &out_sz, NULL, &in_sz, NULL);
                if (LZ4F_isError(r) || out_sz == 0) {
                        /* A frame that ended early is truncated. */
                        err = RILL_ERR_CORRUPT;
                        break;
                }
                d->len += out_sz;
        }
        LZ4F_freeDecompressionContext(dctx);
        return err;
}

static rill_err_t
decomp_zstd(const uint8_t *in, size_t in_len, dbuf_t *d)
{
        ZSTD_DStream *zs = ZSTD_createDStream();
        ZSTD_inBuffer ib = {in, in_len, 0};
        size_t r = 1;
        rill_err_t err = RILL_OK;

        if (!zs)
                return RILL_ERR_NOMEM;
        ZSTD_initDStream(zs);
        for (;;) {
                ZSTD_outBuffer ob;
                if (ib.pos >= ib.size && r == 0)
                        break;
                if (!dbuf_grow(d, in_len * 2 + 1024)) {
                        err = RILL_ERR_TOO_LARGE;
                        break;
                }
                ob.dst = d->p + d->len;
                ob.size = d->cap - d->len;
                ob.pos = 0;
                r = ZSTD_decompressStream(zs, &ob, &ib);
                if (ZSTD_isError(r)) {
                        err = RILL_ERR_CORRUPT;
                        break;
                }
                d->len += ob.pos;
                if (ib.pos >= ib.size && r != 0 && ob.pos < ob.size) {
                        /* Input ended inside a frame. */
                        err = RILL_ERR_CORRUPT;
                        break;
                }
        }
        ZSTD_freeDStream(zs);
        return err;
}

/* ------------------------------------------------------------------------ */
/* Record iteration                                                         */
/* ------------------------------------------------------------------------ */

rill_err_t
rill__record_iter_init(rill__record_iter_t *it, const uint8_t *batch, size_t size)
{
        int codec;
        const uint8_t *rec;
        size_t rec_len;
        dbuf_t d = {NULL, 0, 0};
        rill_err_t err;

        memset(it, 0, sizeof(*it));
        if (size < RILL__BATCH_HDR_SIZE || rill__batch_size(batch) > size ||
            rill__batch_size(batch) < RILL__BATCH_HDR_SIZE) {
                it->err = 1;
                return RILL_ERR_CORRUPT;
        }
        size = rill__batch_size(batch);
        rill__batch_hdr_parse(batch, &it->hdr);
        it->remaining = it->hdr.records_count;
        if (it->remaining < 0) {
                it->err = 1;
                return RILL_ERR_CORRUPT;
        }
        rec = batch + RILL__BATCH_HDR_SIZE;
        rec_len = size - RILL__BATCH_HDR_SIZE;
        codec = it->hdr.attributes & RILL__BATCH_ATTR_COMPRESSION_MASK;
        switch (codec) {
        case RILL__COMP_NONE:
                it->p = rec;
                it->end = rec + rec_len;
                return RILL_OK;
        case RILL__COMP_GZIP:
                err = decomp_gzip(rec, rec_len, &d);
                break;
        case RILL__COMP_SNAPPY:
                err = decomp_snappy(rec, rec_len, &d);
                break;
        case RILL__COMP_LZ4:
                err = decomp_lz4(rec, rec_len, &d);
                break;
        case RILL__COMP_ZSTD:
                err = decomp_zstd(rec, rec_len, &d);
                break;
        default:
                it->err = 1;
                return RILL_ERR_UNSUPPORTED;
        }
        if (err != RILL_OK) {
                rill__free(d.p);
                it->err = 1;
                return err;
        }
        it->decomp = d.p;
        it->p = d.p;
        it->end = d.p + d.len;
        return RILL_OK;
}

/* Reads a zigzag varint within [*pp, end); returns false on error. */
static inline bool
rd_varint(const uint8_t **pp, const uint8_t *end, int64_t *v)
{
        size_t n = rill__varint_dec(*pp, (size_t)(end - *pp), v);
        if (!n)
                return false;
        *pp += n;
        return true;
}

/* Reads a length-prefixed (varint, -1 = null) byte field. */
static inline bool
rd_field(const uint8_t **pp, const uint8_t *end, const uint8_t **data, int32_t *len, bool nullable)
{
        int64_t l;
        if (!rd_varint(pp, end, &l))
                return false;
        if (l < 0) {
                if (l != -1 || !nullable)
                        return false;
                *data = NULL;
                *len = -1;
                return true;
        }
        if (l > end - *pp)
                return false;
        *data = *pp;
        *len = (int32_t)l;
        *pp += l;
        return true;
}

int
rill__record_iter_next(rill__record_iter_t *it, rill__record_t *rec)
{
        const uint8_t *p, *rend, *hstart;
        int64_t rlen, ts_delta, off_delta, hcount;

        if (it->err)
                return -1;
        if (it->remaining <= 0)
                return 0;
        p = it->p;
        if (!rd_varint(&p, it->end, &rlen) || rlen < 1 || rlen > it->end - p)
                goto bad;
        rend = p + rlen;
        rec->attributes = (int8_t)*p++;
        if (!rd_varint(&p, rend, &ts_delta) || !rd_varint(&p, rend, &off_delta))
                goto bad;
        if (off_delta < 0 || off_delta > INT32_MAX)
                goto bad;
        if (!rd_field(&p, rend, &rec->key, &rec->key_len, true) ||
            !rd_field(&p, rend, &rec->value, &rec->value_len, true))
                goto bad;
        if (!rd_varint(&p, rend, &hcount) || hcount < 0 || hcount > rend - p)
                goto bad;
        hstart = p;
        for (int64_t i = 0; i < hcount; i++) {
                const uint8_t *d;
                int32_t l;
                if (!rd_field(&p, rend, &d, &l, false) || !rd_field(&p, rend, &d, &l, true))
                        goto bad;
        }
        if (p != rend)
                goto bad;
        /* Wrapping arithmetic: header fields are untrusted. */
        rec->offset = (int64_t)((uint64_t)it->hdr.base_offset + (uint64_t)off_delta);
        if (it->hdr.attributes & RILL__BATCH_ATTR_LOG_APPEND_TIME)
                rec->timestamp = it->hdr.max_timestamp;
        else
                rec->timestamp = (int64_t)((uint64_t)it->hdr.base_timestamp + (uint64_t)ts_delta);
        rec->header_count = (int32_t)hcount;
        rec->headers = hstart;
        rec->headers_len = (size_t)(rend - hstart);
        it->p = rend;
        it->remaining--;
        return 1;
bad:
        it->err = 1;
        return -1;
}

void
rill__record_iter_destroy(rill__record_iter_t *it)
{
        if (!it)
                return;
        rill__free(it->decomp);
        it->decomp = NULL;
        it->p = it->end = NULL;
}

/* ------------------------------------------------------------------------ */
/* Builder                                                                  */
/* ------------------------------------------------------------------------ */

void
rill__batch_builder_init(rill__batch_builder_t *b, int64_t base_offset, int64_t base_timestamp)
{
        memset(b, 0, sizeof(*b));
        rill__wb_init(&b->buf, 256);
        memset(rill__wb_extend(&b->buf, RILL__BATCH_HDR_SIZE), 0, RILL__BATCH_HDR_SIZE);
        b->base_offset = base_offset;
        b->base_timestamp = base_timestamp;
        b->max_timestamp = -1;
        b->last_offset_delta = -1;
        b->producer_id = -1;
        b->producer_epoch = -1;
        b->base_sequence = -1;
}

static inline size_t
varint_size(int64_t v)
{
        uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
        size_t n = 1;
        while (u >= 0x80) {
                u >>= 7;
                n++;
        }
        return n;
}

void
rill__batch_builder_add(rill__batch_builder_t *b, int64_t offset_delta, int64_t timestamp,
                        const void *key, int32_t key_len,
                        const void *value, int32_t value_len,
                        const uint8_t *headers, size_t headers_len, int32_t header_count)
{
        int64_t ts_delta = (int64_t)((uint64_t)timestamp - (uint64_t)b->base_timestamp);
        int32_t klen = key ? key_len : -1;
        int32_t vlen = value ? value_len : -1;
        size_t body, total;
        uint8_t *p;

        body = 1 + varint_size(ts_delta) + varint_size(offset_delta) + varint_size(klen) +
               (klen > 0 ? (size_t)klen : 0) + varint_size(vlen) + (vlen > 0 ? (size_t)vlen : 0) +
               varint_size(header_count) + headers_len;
        total = varint_size((int64_t)body) + body;
        p = rill__wb_extend(&b->buf, total);
        p += rill__varint_enc(p, (int64_t)body);
        *p++ = 0; /* record attributes (unused in v2) */
        p += rill__varint_enc(p, ts_delta);
        p += rill__varint_enc(p, offset_delta);
        p += rill__varint_enc(p, klen);
        if (klen > 0) {
                memcpy(p, key, (size_t)klen);
                p += klen;
        }
        p += rill__varint_enc(p, vlen);
        if (vlen > 0) {
                memcpy(p, value, (size_t)vlen);
                p += vlen;
        }
        p += rill__varint_enc(p, header_count);
        if (headers_len)
                memcpy(p, headers, headers_len);
        b->count++;
        if (offset_delta > b->last_offset_delta)
                b->last_offset_delta = offset_delta;
        if (timestamp > b->max_timestamp)
                b->max_timestamp = timestamp;
}

void
rill__batch_builder_finish(rill__batch_builder_t *b)
{
        uint8_t *h = b->buf.buf;
        int64_t max_ts = b->max_timestamp >= 0 || b->count ? b->max_timestamp : b->base_timestamp;
        int32_t lod = b->last_offset_delta < 0 ? 0 : (int32_t)b->last_offset_delta;

        rill__put_be64(h + RILL__BATCH_OFF_BASE_OFFSET, (uint64_t)b->base_offset);
        rill__put_be32(h + RILL__BATCH_OFF_LENGTH, (uint32_t)(b->buf.len - 12));
        rill__put_be32(h + RILL__BATCH_OFF_LEADER_EPOCH, (uint32_t)-1);
        h[RILL__BATCH_OFF_MAGIC] = 2;
        rill__put_be16(h + RILL__BATCH_OFF_ATTRS,
                       (uint16_t)(b->attributes & ~RILL__BATCH_ATTR_COMPRESSION_MASK));
        rill__put_be32(h + RILL__BATCH_OFF_LAST_DELTA, (uint32_t)lod);
        rill__put_be64(h + RILL__BATCH_OFF_BASE_TS, (uint64_t)b->base_timestamp);
        rill__put_be64(h + RILL__BATCH_OFF_MAX_TS, (uint64_t)max_ts);
        rill__put_be64(h + RILL__BATCH_OFF_PID, (uint64_t)b->producer_id);
        rill__put_be16(h + RILL__BATCH_OFF_PEPOCH, (uint16_t)b->producer_epoch);
        rill__put_be32(h + RILL__BATCH_OFF_BASE_SEQ, (uint32_t)b->base_sequence);
        rill__put_be32(h + RILL__BATCH_OFF_COUNT, (uint32_t)b->count);
        rill__put_be32(h + RILL__BATCH_OFF_CRC,
                       rill__crc32c(0, h + RILL__BATCH_OFF_ATTRS, b->buf.len - RILL__BATCH_OFF_ATTRS));
}

void
rill__batch_builder_destroy(rill__batch_builder_t *b)
{
        if (!b)
                return;
        rill__wb_free(&b->buf);
}
