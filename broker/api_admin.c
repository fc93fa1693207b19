/*
 * api_admin.c - admin APIs. STUB: replaced by the admin implementation.
 */
#include "api_admin.h"

const rill__api_desc_t rill__admin_apis[] = {{-1, 0, 0, 0, NULL, NULL}};
const int rill__admin_api_cnt = 0;
