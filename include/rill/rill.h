/*
 * rill/rill.h - umbrella header: includes the whole public API.
 */
#ifndef RILL_RILL_H
#define RILL_RILL_H

#include <rill/common.h>
#include <rill/error.h>
#include <rill/log.h>
#include <rill/broker.h>

#endif /* RILL_RILL_H */
