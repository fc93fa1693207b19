/*
 * api_admin.h - admin APIs (internal): CreateTopics, DeleteTopics,
 * CreatePartitions, DescribeConfigs, AlterConfigs, DeleteRecords.
 * Loop thread only.
 */
#ifndef RILL_BROKER_API_ADMIN_H
#define RILL_BROKER_API_ADMIN_H

#include "broker_int.h"

extern const rill__api_desc_t rill__admin_apis[];
extern const int rill__admin_api_cnt;

#endif /* RILL_BROKER_API_ADMIN_H */
