/*
 * misbehaving.c: C plugins that break the ABI's rules, for licd's own tests; never packaged.
 * Built once per behaviour with one of:
 *   -DBAD_UTF8   authenticate allows, map_args writes bytes that are not UTF-8
 *   -DOVERFLOW   authenticate allows but claims a message longer than the host's buffer
 *   -DWRONG_ABI  the table says abi_version 2
 *   -DNO_ENTRY   exports licd_plugin_entry_v2 only (a library for another major version)
 */
#include <string.h>

#include "licd_plugin.h"

static int dummy;

static int32_t mis_create(const uint8_t *config_json, size_t config_len, void **instance,
                          uint8_t *err_buf, size_t err_cap, size_t *err_len) {
    (void)config_json;
    (void)config_len;
    (void)err_buf;
    (void)err_cap;
    *instance = &dummy;
    *err_len = 0;
    return LICD_ALLOW;
}

static void mis_destroy(void *instance) {
    (void)instance;
}

static int32_t mis_authenticate(void *instance, const LicdRequest *req, uint8_t *msg_buf,
                                size_t msg_cap, size_t *msg_len) {
    (void)instance;
    (void)req;
    (void)msg_buf;
#ifdef OVERFLOW
    *msg_len = msg_cap + 1000; /* a length past the buffer: the host must not read it */
#else
    (void)msg_cap;
    *msg_len = 0;
#endif
    return LICD_ALLOW;
}

static int32_t mis_map_args(void *instance, const LicdRequest *req, uint8_t *out_buf,
                            size_t out_cap, size_t *out_len) {
    (void)instance;
    (void)req;
#ifdef BAD_UTF8
    static const uint8_t text[] = "is_email=\xff\xfe";
    size_t n = sizeof text - 1;
    if (n > out_cap) {
        *out_len = n;
        return LICD_E_TOO_SMALL;
    }
    memcpy(out_buf, text, n);
    *out_len = n;
#else
    (void)out_buf;
    (void)out_cap;
    *out_len = 0;
#endif
    return LICD_ALLOW;
}

static const LicdPluginV1 TABLE = {
#ifdef WRONG_ABI
    .abi_version = 2,
#else
    .abi_version = LICD_PLUGIN_ABI_VERSION,
#endif
    .struct_size = sizeof(LicdPluginV1),
    .name = "misbehaving",
    .flags = 0,
    .create = mis_create,
    .destroy = mis_destroy,
    .authenticate = mis_authenticate,
    .map_args = mis_map_args,
};

#ifdef NO_ENTRY
const LicdPluginV1 *licd_plugin_entry_v2(void) {
    return &TABLE;
}
#else
const LicdPluginV1 *licd_plugin_entry_v1(void) {
    return &TABLE;
}
#endif
