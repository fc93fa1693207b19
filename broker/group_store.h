/*
 * group_store.h - persistence of the group coordinator in __consumer_offsets
 * (internal; see group_store.c). Loop thread only.
 */
#ifndef RILL_BROKER_GROUP_STORE_H
#define RILL_BROKER_GROUP_STORE_H

#include "broker_int.h"
#include "group_int.h"

#define RILL__OFFSETS_TOPIC "__consumer_offsets"

/** The __consumer_offsets topic, or NULL. */
rill__topic_t *rill__gstore_topic(rill_broker_t *b);
/** Creates __consumer_offsets (offsets.topic.num.partitions partitions,
 *  cleanup.policy=compact, internal) unless it exists.
 *  @returns RILL_OK or RILL_ERR_IO with a message. */
rill_err_t rill__gstore_ensure(rill_broker_t *b, char *errstr, size_t errstr_size);
/** Appends @p n records of group @p group_id to its partition (the ops->persist
 *  of the state machine). @returns KERR_NONE or a mapped Kafka error. */
int16_t rill__gstore_persist(rill_broker_t *b, const char *group_id, const rill__grec_t *recs,
                             int n, int64_t now);
/** Replays every partition of __consumer_offsets into @p gc.
 *  @returns RILL_OK, RILL_ERR_NOT_FOUND (no topic) or a read error. Malformed
 *  records are skipped with a warning. */
rill_err_t rill__gstore_replay(rill_broker_t *b, rill__gc_t *gc, char *errstr, size_t errstr_size);

#endif /* RILL_BROKER_GROUP_STORE_H */
