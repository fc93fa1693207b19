/*
 * group.h - the group coordinator (internal).
 *
 * Implements Kafka's classic consumer-group protocol as librdkafka 2.0.2 uses
 * it (eager rebalancing): FindCoordinator, JoinGroup, SyncGroup, Heartbeat,
 * LeaveGroup, OffsetCommit, OffsetFetch, DescribeGroups, ListGroups,
 * DeleteGroups. Offsets and group metadata are kept in the compacted internal
 * topic __consumer_offsets (Kafka's record key/value schemas) and replayed at
 * start, so they survive a restart.
 *
 * Threading: loop thread only. JoinGroup and SyncGroup park requests until the
 * rebalance completes; rill__groups_tick() drives session timeouts and the
 * initial rebalance delay.
 */
#ifndef RILL_BROKER_GROUP_H
#define RILL_BROKER_GROUP_H

#include "broker_int.h"

/** Creates the coordinator for @p b. */
rill__groups_t *rill__groups_new(rill_broker_t *b);
/** Creates __consumer_offsets if missing and replays it. Call after topics are loaded. */
rill_err_t rill__groups_load(rill__groups_t *g, char *errstr, size_t errstr_size);
/** Periodic work (called every ~50-100 ms from the loop). */
void rill__groups_tick(rill__groups_t *g, int64_t now_ms);
/** Frees parked requests (before connections are closed at shutdown). */
void rill__groups_shutdown(rill__groups_t *g);
void rill__groups_destroy(rill__groups_t *g);
/** Forgets committed offsets of a deleted topic. */
void rill__groups_topic_deleted(rill__groups_t *g, const char *topic);

/** The group APIs this module implements (for the dispatch table). */
extern const rill__api_desc_t rill__group_apis[];
extern const int rill__group_api_cnt;

#endif /* RILL_BROKER_GROUP_H */
