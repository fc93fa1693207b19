/*
 * fuzz_batch.c - fuzz target for RecordBatch v2 validation and record
 * iteration (broker/batch.c), including every compression codec.
 *
 * Input: one mode byte, then the batch bytes.
 *   mode bit 0 set: before validating, the harness rewrites the first
 *     batch's Length to cover the whole input and recomputes its CRC-32C,
 *     so mutations reach the header fields, the codecs and the record
 *     decoder instead of dying at the CRC check (a fuzzer cannot forge a
 *     CRC by itself).
 *   mode bit 0 clear: the bytes are used exactly as given, as a Produce
 *     request's records field would be: one or more concatenated batches,
 *     each validated, and the valid ones iterated.
 *
 * Invariants checked, beyond "no crash, no sanitizer report":
 *   - rill__batch_validate() returns only RILL_OK, RILL_ERR_CORRUPT or
 *     RILL_ERR_PROTOCOL, and RILL_OK only when the batch fits in the input;
 *   - a validated batch's records iterate to an end (0) or an error (-1)
 *     within RecordsCount steps, and every key/value/headers view lies in
 *     memory that can be read (ASan checks each byte we touch).
 */
#include "fuzz.h"

#include <string.h>

#include "batch.h"

static uint32_t
touch(const uint8_t *p, int64_t len)
{
        uint32_t h = 0;
        for (int64_t i = 0; p && i < len; i++)
                h = h * 31 + p[i];
        return h;
}

static void
iterate(const uint8_t *batch, size_t size)
{
        rill__record_iter_t it;
        rill__record_t rec;
        int32_t n = 0;
        int r;
        volatile uint32_t sink = 0;

        if (rill__record_iter_init(&it, batch, size) != RILL_OK) {
                rill__record_iter_destroy(&it);
                return;
        }
        while ((r = rill__record_iter_next(&it, &rec)) == 1) {
                n++;
                RILL_FUZZ_CHECK(n <= it.hdr.records_count, "record %d past RecordsCount %d", n,
                                it.hdr.records_count);
                RILL_FUZZ_CHECK(rec.key_len >= -1 && rec.value_len >= -1, "lengths %d/%d",
                                rec.key_len, rec.value_len);
                RILL_FUZZ_CHECK(rec.header_count >= 0, "header count %d", rec.header_count);
                sink += touch(rec.key, rec.key_len);
                sink += touch(rec.value, rec.value_len);
                sink += touch(rec.headers, (int64_t)rec.headers_len);
        }
        RILL_FUZZ_CHECK(r == 0 || r == -1, "iterator returned %d", r);
        /* Once finished, the iterator stays finished. */
        RILL_FUZZ_CHECK(rill__record_iter_next(&it, &rec) == r, "iterator restarted");
        rill__record_iter_destroy(&it);
        (void)sink;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        uint8_t *buf;
        size_t len, pos = 0;
        char err[256];
        bool fix;

        if (size < 1)
                return 0;
        fix = data[0] & 1;
        len = size - 1;
        /* Exact-size copy: a read one byte past the input is an ASan report. */
        buf = malloc(len ? len : 1);
        if (!buf)
                abort();
        memcpy(buf, data + 1, len);
        if (fix && len >= RILL__BATCH_HDR_SIZE && len - 12 <= INT32_MAX) {
                rill__put_be32(buf + RILL__BATCH_OFF_LENGTH, (uint32_t)(len - 12));
                buf[RILL__BATCH_OFF_MAGIC] = 2;
                rill__put_be32(buf + RILL__BATCH_OFF_CRC,
                               rill__crc32c(0, buf + RILL__BATCH_OFF_ATTRS,
                                            len - RILL__BATCH_OFF_ATTRS));
        }
        while (pos < len) {
                size_t avail = len - pos;
                size_t bsize;
                rill_err_t e;

                err[0] = '\0';
                e = rill__batch_validate(buf + pos, avail, err, sizeof(err));
                RILL_FUZZ_CHECK(e == RILL_OK || e == RILL_ERR_CORRUPT || e == RILL_ERR_PROTOCOL,
                                "unexpected validate result %d", (int)e);
                RILL_FUZZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL, "unterminated errstr");
                if (e != RILL_OK)
                        break;
                RILL_FUZZ_CHECK(avail >= RILL__BATCH_HDR_SIZE, "valid batch of %zu bytes", avail);
                bsize = rill__batch_size(buf + pos);
                RILL_FUZZ_CHECK(bsize >= RILL__BATCH_HDR_SIZE && bsize <= avail,
                                "valid batch size %zu of %zu available", bsize, avail);
                iterate(buf + pos, bsize);
                pos += bsize;
        }
        free(buf);
        return 0;
}
