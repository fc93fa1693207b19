/*
 * fuzz_util.c - helpers shared by the fuzz targets (see fuzz.h).
 */
#include "fuzz.h"

#include <string.h>

#include <rill/log.h>

static void
discard_sink(rill_log_level_t level, const char *component, const char *msg, void *opaque)
{
        (void)level;
        (void)component;
        (void)msg;
        (void)opaque;
}

void
rill_fuzz_quiet_logs(void)
{
        const char *v = getenv("RILL_FUZZ_VERBOSE");
        if (v && strcmp(v, "0") != 0)
                return;
        rill_log_set_level(RILL_LOG_WARN);
        rill_log_set_sink(discard_sink, NULL);
}
