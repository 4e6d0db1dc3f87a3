/*
 * licd_example.c: a licd vendor plugin written in C against licd_plugin.h.
 *
 * It allows a request when its X-Shop-Token header equals the "token" string of the plugin's
 * configuration ([plugin.config] token = "..."), and denies it otherwise. It has no map_args.
 *
 * Build, from the repository root (target/ is ignored by git):
 *   mkdir -p target/c-plugins
 *   cc -std=c11 -shared -fPIC -O2 -I plugin-api/include \
 *      -o target/c-plugins/liblicd_example.so plugins/example-c/licd_example.c
 */
#include <stdlib.h>
#include <string.h>

#include "licd_plugin.h"

/* The instance: the expected token. Read-only after create(), so authenticate() is safe to
   call from several threads at once and the plugin does not ask to be serialized. */
typedef struct Example {
    char *token;
    size_t token_len;
} Example;

/* Copies a message into the host's buffer, cut to fit (reasons are for the log). */
static void put(const char *text, uint8_t *buf, size_t cap, size_t *len) {
    size_t n = strlen(text);
    if (n > cap) {
        n = cap;
    }
    if (n > 0 && buf != NULL) {
        memcpy(buf, text, n);
    }
    if (len != NULL) {
        *len = n;
    }
}

/* Finds the string value of "token" in the configuration JSON. A real plugin would use a
   JSON library; this one accepts {"token":"..."} without escapes inside the value. */
static int find_token(const uint8_t *json, size_t json_len, const uint8_t **start, size_t *len) {
    static const char key[] = "\"token\"";
    size_t key_len = sizeof key - 1;
    for (size_t i = 0; i + key_len <= json_len; i++) {
        if (memcmp(json + i, key, key_len) != 0) {
            continue;
        }
        size_t j = i + key_len;
        while (j < json_len && (json[j] == ' ' || json[j] == ':')) {
            j++;
        }
        if (j >= json_len || json[j] != '"') {
            return 0;
        }
        size_t k = ++j;
        while (k < json_len && json[k] != '"' && json[k] != '\\') {
            k++;
        }
        if (k >= json_len || json[k] != '"' || k == j) {
            return 0;
        }
        *start = json + j;
        *len = k - j;
        return 1;
    }
    return 0;
}

static int32_t example_create(const uint8_t *config_json, size_t config_len, void **instance,
                              uint8_t *err_buf, size_t err_cap, size_t *err_len) {
    const uint8_t *token;
    size_t token_len;
    if (!find_token(config_json, config_len, &token, &token_len)) {
        put("[plugin.config] needs a non-empty \"token\" string", err_buf, err_cap, err_len);
        return LICD_E_CONFIG;
    }
    Example *ex = malloc(sizeof *ex);
    char *copy = malloc(token_len);
    if (ex == NULL || copy == NULL) {
        free(ex);
        free(copy);
        put("out of memory", err_buf, err_cap, err_len);
        return LICD_E_INTERNAL;
    }
    memcpy(copy, token, token_len);
    ex->token = copy;
    ex->token_len = token_len;
    *instance = ex;
    *err_len = 0;
    return LICD_ALLOW;
}

static void example_destroy(void *instance) {
    Example *ex = instance;
    if (ex != NULL) {
        free(ex->token);
        free(ex);
    }
}

static int32_t example_authenticate(void *instance, const LicdRequest *req, uint8_t *msg_buf,
                                    size_t msg_cap, size_t *msg_len) {
    const Example *ex = instance;
    static const char header[] = "x-shop-token"; /* the host sends names in lower case */
    for (size_t i = 0; i < req->headers_len; i++) {
        const LicdPair *h = &req->headers[i];
        if (h->name.len == sizeof header - 1 && memcmp(h->name.ptr, header, h->name.len) == 0) {
            if (h->value.len == ex->token_len &&
                memcmp(h->value.ptr, ex->token, ex->token_len) == 0) {
                *msg_len = 0;
                return LICD_ALLOW;
            }
            put("the X-Shop-Token header is wrong", msg_buf, msg_cap, msg_len);
            return LICD_DENY;
        }
    }
    put("the X-Shop-Token header is missing", msg_buf, msg_cap, msg_len);
    return LICD_DENY;
}

#ifdef FIRST_V1_TABLE
/* licd's tests build this plugin a second time as a plugin built against the first v1
   header would be: its table ends at map_args, as struct_size says. The webhook slot past it
   is not the plugin's; licd must never read it, so it holds a function that aborts. */
#include <stdlib.h>
static int32_t example_not_a_webhook(void *instance, const LicdRequest *req, uint8_t *out_buf,
                                     size_t out_cap, size_t *out_len) {
    (void)instance, (void)req, (void)out_buf, (void)out_cap, (void)out_len;
    abort();
}
#define TABLE_SIZE LICD_PLUGIN_V1_BASE_SIZE
#define TABLE_WEBHOOK example_not_a_webhook
#else
#define TABLE_SIZE sizeof(LicdPluginV1)
#define TABLE_WEBHOOK NULL
#endif

static const LicdPluginV1 TABLE = {
    .abi_version = LICD_PLUGIN_ABI_VERSION,
    .struct_size = TABLE_SIZE,
    .name = "example-c",
    .flags = 0,
    .create = example_create,
    .destroy = example_destroy,
    .authenticate = example_authenticate,
    .map_args = NULL,
    .webhook = TABLE_WEBHOOK,
};

const LicdPluginV1 *licd_plugin_entry_v1(void) {
    return &TABLE;
}
