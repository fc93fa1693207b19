/*
 * rill_error.c - rill_err_t names and descriptions.
 */
#include <rill/error.h>

static const struct {
        rill_err_t err;
        const char *name;
        const char *desc;
} errtab[] = {
        {RILL_OK, "RILL_OK", "Success"},
        {RILL_AGAIN, "RILL_AGAIN", "Try again later"},
        {RILL_DECLINED, "RILL_DECLINED", "Declined"},
        {RILL_ERR_INVALID_ARG, "RILL_ERR_INVALID_ARG", "Invalid argument"},
        {RILL_ERR_NOMEM, "RILL_ERR_NOMEM", "Out of memory"},
        {RILL_ERR_IO, "RILL_ERR_IO", "I/O error"},
        {RILL_ERR_CORRUPT, "RILL_ERR_CORRUPT", "Corrupt data"},
        {RILL_ERR_NOT_FOUND, "RILL_ERR_NOT_FOUND", "Not found"},
        {RILL_ERR_EXISTS, "RILL_ERR_EXISTS", "Already exists"},
        {RILL_ERR_CONFIG, "RILL_ERR_CONFIG", "Invalid configuration"},
        {RILL_ERR_STATE, "RILL_ERR_STATE", "Invalid state for this operation"},
        {RILL_ERR_TIMEOUT, "RILL_ERR_TIMEOUT", "Timed out"},
        {RILL_ERR_UNSUPPORTED, "RILL_ERR_UNSUPPORTED", "Not supported"},
        {RILL_ERR_PROTOCOL, "RILL_ERR_PROTOCOL", "Protocol error"},
        {RILL_ERR_TOO_LARGE, "RILL_ERR_TOO_LARGE", "Size limit exceeded"},
        {RILL_ERR_OFFSET_OUT_OF_RANGE, "RILL_ERR_OFFSET_OUT_OF_RANGE", "Offset out of range"},
        {RILL_ERR_KAFKA, "RILL_ERR_KAFKA", "Kafka client error"},
        {RILL_ERR_STORE, "RILL_ERR_STORE", "State store error"},
        {RILL_ERR_SERDE, "RILL_ERR_SERDE", "Serialization error"},
        {RILL_ERR_TOPOLOGY, "RILL_ERR_TOPOLOGY", "Invalid topology"},
        {RILL_ERR_NO_SPACE, "RILL_ERR_NO_SPACE", "No space left on device"},
        {RILL_ERR_SHUTDOWN, "RILL_ERR_SHUTDOWN", "Shutting down"},
};

const char *
rill_err2str(rill_err_t err)
{
        for (size_t i = 0; i < sizeof(errtab) / sizeof(errtab[0]); i++)
                if (errtab[i].err == err)
                        return errtab[i].desc;
        return "Unknown error";
}

const char *
rill_err2name(rill_err_t err)
{
        for (size_t i = 0; i < sizeof(errtab) / sizeof(errtab[0]); i++)
                if (errtab[i].err == err)
                        return errtab[i].name;
        return "RILL_ERR_UNKNOWN";
}
