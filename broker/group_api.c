/*
 * group_api.c - group coordinator entry points (group.h). TEMPORARY: the
 * lifecycle functions only; the API handlers follow.
 */
#include "group.h"

#include "group_int.h"
#include "rill_alloc.h"

struct rill__groups {
        rill_broker_t *b;
};

rill__groups_t *
rill__groups_new(rill_broker_t *b)
{
        rill__groups_t *g = RILL__NEW(rill__groups_t);
        g->b = b;
        return g;
}

rill_err_t
rill__groups_load(rill__groups_t *g, char *errstr, size_t errstr_size)
{
        return RILL_OK;
}

void
rill__groups_tick(rill__groups_t *g, int64_t now_ms)
{
}

void
rill__groups_shutdown(rill__groups_t *g)
{
}

void
rill__groups_destroy(rill__groups_t *g)
{
        rill__free(g);
}

void
rill__groups_topic_deleted(rill__groups_t *g, const char *topic)
{
}

const rill__api_desc_t rill__group_apis[] = {{-1, 0, 0, 0, NULL, NULL}};
const int rill__group_api_cnt = 0;
