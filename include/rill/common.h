/*
 * rill/common.h - export macro and small shared definitions of the public API.
 *
 * Every public symbol is declared with RILL_API so that the shared library
 * (built with -fvisibility=hidden) exports exactly the documented API.
 */
#ifndef RILL_COMMON_H
#define RILL_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
#define RILL_BEGIN_DECLS extern "C" {
#define RILL_END_DECLS }
#else
#define RILL_BEGIN_DECLS
#define RILL_END_DECLS
#endif

#if defined(RILL_BUILDING)
#define RILL_API __attribute__((visibility("default")))
#else
#define RILL_API
#endif

#define RILL_VERSION_MAJOR 0
#define RILL_VERSION_MINOR 1
#define RILL_VERSION_PATCH 0
#define RILL_VERSION_STR "0.1.0"

#endif /* RILL_COMMON_H */
