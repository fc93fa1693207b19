/*
 * rill/error.h - error codes shared by every part of Rill.
 *
 * Functions that can fail return a rill_err_t. Where more context helps, they
 * also take a caller-owned buffer (errstr, errstr_size) that receives a
 * human-readable, NUL-terminated message; the buffer is written only on
 * failure. librdkafka, RocksDB and OS errors are translated at the boundary.
 *
 * Codes >= 0 below RILL_ERR__FIRST_FAILURE are not failures: RILL_OK,
 * RILL_AGAIN (would block / back-pressure: retry later) and RILL_DECLINED
 * (not mine / nothing to do).
 */
#ifndef RILL_ERROR_H
#define RILL_ERROR_H

#include <rill/common.h>

RILL_BEGIN_DECLS

typedef enum rill_err {
        RILL_OK = 0,            /**< Success. */
        RILL_AGAIN = 1,         /**< Not a failure: try again later. */
        RILL_DECLINED = 2,      /**< Not a failure: nothing to do / not handled. */

        RILL_ERR__FIRST_FAILURE = 100,
        RILL_ERR_INVALID_ARG = 100,   /**< A caller-supplied argument is invalid. */
        RILL_ERR_NOMEM = 101,         /**< Out of memory. */
        RILL_ERR_IO = 102,            /**< Operating-system I/O error (see errstr). */
        RILL_ERR_CORRUPT = 103,       /**< Corrupt data (bad CRC, torn write, bad format). */
        RILL_ERR_NOT_FOUND = 104,     /**< The named object does not exist. */
        RILL_ERR_EXISTS = 105,        /**< The named object already exists. */
        RILL_ERR_CONFIG = 106,        /**< Invalid configuration key or value. */
        RILL_ERR_STATE = 107,         /**< Operation not valid in the object's state. */
        RILL_ERR_TIMEOUT = 108,       /**< A deadline passed. */
        RILL_ERR_UNSUPPORTED = 109,   /**< Feature or version not supported. */
        RILL_ERR_PROTOCOL = 110,      /**< Malformed or unexpected protocol data. */
        RILL_ERR_TOO_LARGE = 111,     /**< A size limit was exceeded. */
        RILL_ERR_OFFSET_OUT_OF_RANGE = 112, /**< Offset outside the log's range. */
        RILL_ERR_KAFKA = 113,         /**< Error reported by the Kafka client (see errstr). */
        RILL_ERR_STORE = 114,         /**< State store (RocksDB) error (see errstr). */
        RILL_ERR_SERDE = 115,         /**< Serialization or deserialization failed. */
        RILL_ERR_TOPOLOGY = 116,      /**< Invalid topology (see errstr). */
        RILL_ERR_NO_SPACE = 117,      /**< Disk full. */
        RILL_ERR_SHUTDOWN = 118,      /**< The object is shutting down. */
        RILL_ERR__END
} rill_err_t;

/**
 * @brief Returns a static, human-readable description of @p err.
 *
 * Never returns NULL; unknown codes yield "Unknown error".
 * Thread-safe.
 */
RILL_API const char *rill_err2str(rill_err_t err);

/**
 * @brief Returns the symbolic name of @p err, e.g. "RILL_ERR_IO".
 *
 * Never returns NULL. Thread-safe.
 */
RILL_API const char *rill_err2name(rill_err_t err);

RILL_END_DECLS

#endif /* RILL_ERROR_H */
