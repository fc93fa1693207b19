/*
 * rill/rill.h - umbrella header: includes the whole public API.
 */
#ifndef RILL_RILL_H
#define RILL_RILL_H

#include <rill/common.h>
#include <rill/error.h>
#include <rill/log.h>
#include <rill/broker.h>
#include <rill/conf.h>
#include <rill/record.h>
#include <rill/serde.h>
#include <rill/store.h>
#include <rill/processor.h>
#include <rill/topology.h>
#include <rill/streams.h>
#include <rill/testdriver.h>

#endif /* RILL_RILL_H */
