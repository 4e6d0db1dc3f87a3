/*
 * licd_plugin.h: the vendor-plugin ABI of licd, version 1.
 *
 * This header is the contract. A plugin is a shared library that exports one function,
 * licd_plugin_entry_v1, returning a pointer to a static LicdPluginV1 table. licd loads the
 * library once at start, checks the table, calls create() with the plugin's configuration,
 * then calls authenticate() (and map_args(), when not NULL) for every request of a vendor that
 * names the plugin, from any thread, and destroy() at shutdown. The library is never unloaded.
 *
 * Rules (docs/plugins.md explains each):
 *  - Strings cross the boundary as (pointer, length) pairs of UTF-8, never NUL-terminated
 *    except LicdPluginV1.name. The host's pointers are valid only during the call.
 *  - Nothing allocated on one side is freed on the other. Output goes into buffers the host
 *    owns: (buf, cap, len). If the output does not fit, return LICD_E_TOO_SMALL with *len set
 *    to the size needed; the host retries once with a larger buffer (at most 64 KiB). Never
 *    write more than cap bytes, and never set *len past cap on any other return.
 *  - Without LICD_FLAG_SERIALIZE, authenticate() and map_args() may run on several threads at
 *    once with the same instance.
 *  - A plugin whose check covers the body only sets LICD_FLAG_SIGNS_BODY_ONLY, so that licd
 *    refuses unsigned is_* arguments and remembers replay ids (see the flag).
 *  - Never let a C++ exception or a Rust panic cross these functions.
 *
 * The Rust crate licd-plugin-api mirrors these types (#[repr(C)]); a test compares sizes and
 * offsets with this file.
 */
#ifndef LICD_PLUGIN_H
#define LICD_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The value of LicdPluginV1.abi_version. */
#define LICD_PLUGIN_ABI_VERSION 1u

/* Return codes. */
#define LICD_ALLOW 0        /* authenticate: the request is genuine; create/map_args: success */
#define LICD_DENY 1         /* authenticate: refuse; the reason is in the message buffer */
#define LICD_E_TOO_SMALL (-1) /* the output needs *len bytes; the host retries once */
#define LICD_E_CONFIG (-2)  /* create: the configuration is unusable (say why in err_buf) */
#define LICD_E_INTERNAL (-3) /* any other failure of the plugin */
#define LICD_E_BAD_EVENT (-4) /* webhook: the body is genuine but cannot be read as an event */
#define LICD_E_PANIC (-99)  /* a panic was caught (set by licd-plugin-api's export macro) */

/* LicdPluginV1.flags */
#define LICD_FLAG_SERIALIZE (1u << 0) /* never call this instance from two threads at once */
/* The plugin verifies the request body only (a signature over the form body, say), so
   nothing outside the body is vouched for: licd then accepts, besides the is_* arguments
   map_args writes, only the vendor's unsignedArgs (a short default list of licd's own
   URL arguments; any other is_* argument is code 8), and honours an is_replayid that map_args
   writes: a repeated (vendor, replay id) is answered with the first reply and changes
   nothing, for 30 days. Set it whenever the URL or headers of a request are not signed. */
#define LICD_FLAG_SIGNS_BODY_ONLY (1u << 1)

/* UTF-8 text: ptr may be NULL only when len is 0. Not NUL-terminated. */
typedef struct LicdStr {
    const uint8_t *ptr;
    size_t len;
} LicdStr;

/* Bytes that need not be UTF-8 (the request body). */
typedef struct LicdBytes {
    const uint8_t *ptr;
    size_t len;
} LicdBytes;

/* One argument or header. */
typedef struct LicdPair {
    LicdStr name;
    LicdStr value;
} LicdPair;

/* The request a plugin judges. Every pointer is valid for the duration of the call only. */
typedef struct LicdRequest {
    /* sizeof(LicdRequest) as the host built it; later minor versions append fields, so read
       a field past the v1 ones only when struct_size covers it. */
    uint32_t struct_size;
    /* The method name as licd spells it, e.g. "GetActivationKey". */
    LicdStr method;
    /* The vendor name as configured in [[vendor]] name. */
    LicdStr vendor;
    /* The client address (IPv4 or IPv6 text, after trustedProxies). */
    LicdStr client_addr;
    /* The request target as sent: path and query, e.g. "/qlmservice.asmx/GetActivationKey?..". */
    LicdStr url;
    /* Every argument, query string first and then a form body, percent-decoded, names as sent
       (is_* arguments and the store's own fields alike). */
    const LicdPair *args;
    size_t args_len;
    /* The request headers, names in lower case, in the order received. Headers whose value
       is not UTF-8 are left out. */
    const LicdPair *headers;
    size_t headers_len;
    /* The raw request body, whatever its content type (empty for GET). */
    LicdBytes body;
} LicdRequest;

/* create(): config_json is the plugin's [plugin.config] table (of its [[plugin]] entry) as a
   JSON object, config_len bytes, not NUL-terminated; {} when the table is absent. On success
   store an instance pointer in *instance and return LICD_ALLOW (0). Otherwise return a
   negative code and write the reason into err_buf; licd then refuses to start. */
typedef int32_t (*licd_create_fn)(const uint8_t *config_json, size_t config_len, void **instance,
                                  uint8_t *err_buf, size_t err_cap, size_t *err_len);

/* destroy(): called once at shutdown, after every call to the instance has returned. */
typedef void (*licd_destroy_fn)(void *instance);

/* authenticate(): LICD_ALLOW, LICD_DENY with a reason in msg_buf (logged, never shown to the
   client), or a negative error. Anything but LICD_ALLOW denies the request. */
typedef int32_t (*licd_authenticate_fn)(void *instance, const LicdRequest *req, uint8_t *msg_buf,
                                        size_t msg_cap, size_t *msg_len);

/* map_args(): called after authenticate() allowed. Writes application/x-www-form-urlencoded
   is_* arguments to add to the request (e.g. "is_quantity=3&is_email=a%40b.example"), or
   nothing. A mapped argument the request already carries is refused (code 5).
   With LICD_FLAG_SIGNS_BODY_ONLY it may also write is_replayid=<an id of the signed request,
   e.g. its signature>, 1 to 255 characters: licd takes it out of the arguments (the method
   never sees it) and answers a repeat of (vendor, id) with the first reply. Without the flag,
   writing is_replayid is a plugin fault and denies the request. */
typedef int32_t (*licd_map_args_fn)(void *instance, const LicdRequest *req, uint8_t *out_buf,
                                    size_t out_cap, size_t *out_len);

/* webhook(): optional (since licd 0.2, appended to the v1 table: abi_version stays 1). Called
   for POST {basePath}/qlmservice.asmx/QlmWebHookHandler?is_vendor=NAME with the store's raw
   body and headers (req->method is "QlmWebHookHandler"). The plugin
     (a) verifies the store's signature over the raw body with its own secret; a signature
         that is missing, wrong or too old is LICD_DENY with the reason in out_buf (the host
         answers 401 and records nothing);
     (b) names the event: its id, unique per store event (stores retry; the host applies one
         id once and answers a repeat with the first outcome), and its type;
     (c) lists the actions to take, each a licd method call with its is_* arguments, taken
         from the signed body only.
   On LICD_ALLOW out_buf holds lines separated by '\n', each application/x-www-form-urlencoded:
     event_id=<id>&event_type=<type>                 first line, both required
     method=<Method>&is_<name>=<value>&...           one line per action, in order
   Methods: GetActivationKey (create keys; is_send_mail=1 mails them to is_email, with
   is_emailtemplate naming the template), RenewSubscriptionHttp, RevokeLicenseHttp,
   UpdateUserInformation. No action lines: the event is ignored (200, nothing changes).
   LICD_E_BAD_EVENT: the signature holds but the body is not an event the plugin can read
   (the host answers 400). Output larger than out_cap: LICD_E_TOO_SMALL as everywhere. */
typedef int32_t (*licd_webhook_fn)(void *instance, const LicdRequest *req, uint8_t *out_buf,
                                   size_t out_cap, size_t *out_len);

/* The table licd_plugin_entry_v1 returns. It must stay valid for the life of the process
   (a static). */
typedef struct LicdPluginV1 {
    uint32_t abi_version;  /* LICD_PLUGIN_ABI_VERSION */
    uint32_t struct_size;  /* sizeof(LicdPluginV1) as the plugin was built */
    const char *name;      /* NUL-terminated UTF-8, for logs */
    uint32_t flags;        /* LICD_FLAG_* */
    licd_create_fn create;             /* required */
    licd_destroy_fn destroy;           /* required */
    licd_authenticate_fn authenticate; /* required */
    licd_map_args_fn map_args;         /* may be NULL */
    /* Appended fields: the host reads each only when struct_size covers it, so a table built
       before a field existed keeps loading and working unchanged. */
    licd_webhook_fn webhook;           /* may be NULL (since licd 0.2) */
} LicdPluginV1;

/* The size of the first v1 table (up to map_args): the smallest struct_size licd accepts. */
#define LICD_PLUGIN_V1_BASE_SIZE offsetof(LicdPluginV1, webhook)

/* The one symbol a plugin exports. The major version is in its name, so a library built for
   another major version is refused as "symbol not found", never misread. */
const LicdPluginV1 *licd_plugin_entry_v1(void);

#ifdef __cplusplus
}
#endif

#endif /* LICD_PLUGIN_H */
