/*
 * The DUT control verbs over lwIP's raw API (called with the core lock held): arguments,
 * errors, waiting verbs, addresses and groups (UDP in udp_verbs.c, TCP in tcp_verbs.c).
 *
 * What lwIP cannot do is refused as "unsupported" with the reason, which the harness turns
 * into a skip naming it; a knob that lwIP fixes at compile time is accepted when asked for
 * the value the build has (a no-op) and refused otherwise.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lwip/etharp.h"
#include "lwip/igmp.h"
#include "lwip/ip4_frag.h"
#include "lwip/mld6.h"
#include "lwip/nd6.h"
#include "lwip/priv/nd6_priv.h"

#include "agent.h"

#define MAX_GROUPS 32

const char *error_code;
const char *error_kind;
char error_message[512];

static ip_addr_t groups[MAX_GROUPS];  /* joined through join_group, left again by reset */
static int ngroups;
static pending_poll pending;

void verb_error(const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(error_message, sizeof error_message, fmt, ap);
    va_end(ap);
    error_code = code;
    error_kind = NULL;
}

void tcp_error(const char *kind, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(error_message, sizeof error_message, fmt, ap);
    va_end(ap);
    error_code = "tcp-error";
    error_kind = kind;
}

/* ---- verbs that wait ---------------------------------------------------------------------------- */
void wait_for(pending_poll poll, double within, double *wait_until)
{
    pending = poll;
    *wait_until = now_seconds() + within;
}

cJSON *agent_pending_result(int final)
{
    if (pending == NULL)
        return cJSON_CreateNull();  /* the wait was cancelled (reset): nothing came */
    cJSON *got = pending(final);
    if (got != NULL || error_code != NULL)
        pending = NULL;
    return got;
}


/* ---- arguments ------------------------------------------------------------------------------ */
cJSON *arg(cJSON *args, const char *name) { return cJSON_GetObjectItemCaseSensitive(args, name); }

int arg_str(cJSON *args, const char *name, const char **out)
{
    cJSON *v = arg(args, name);
    if (!cJSON_IsString(v))
        return BAD("%s must be a string", name), 0;
    *out = v->valuestring;
    return 1;
}

int arg_num(cJSON *args, const char *name, double *out)
{
    cJSON *v = arg(args, name);
    if (!cJSON_IsNumber(v))
        return BAD("%s must be a number", name), 0;
    *out = v->valuedouble;
    return 1;
}

/* A whole number in [low, high]. */
int arg_int(cJSON *args, const char *name, double low, double high, int *out)
{
    double v;
    if (!arg_num(args, name, &v))
        return 0;
    if (v < low || v > high || v != floor(v))
        return BAD("%s must be a whole number %g-%g, not %g", name, low, high, v), 0;
    *out = (int)v;
    return 1;
}

/* Hex text -> octets (malloc'ed, at least one octet allocated; the caller frees). */
int arg_hex(cJSON *args, const char *name, u8_t **out, size_t *len)
{
    const char *text;
    if (!arg_str(args, name, &text))
        return 0;
    size_t n = strlen(text);
    if (n % 2)
        return BAD("%s must be hex, an even number of digits", name), 0;
    u8_t *data = malloc(n / 2 + 1);
    for (size_t i = 0; i < n / 2; i++) {
        unsigned int b;
        if (!isxdigit((unsigned char)text[2 * i]) || !isxdigit((unsigned char)text[2 * i + 1]) ||
            sscanf(text + 2 * i, "%2x", &b) != 1) {
            free(data);
            return BAD("%s must be hex", name), 0;
        }
        data[i] = (u8_t)b;
    }
    *out = data;
    *len = n / 2;
    return 1;
}

/* Octets -> lowercase hex (malloc'ed; the caller frees). */
char *hex_of(const u8_t *data, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    char *hex = malloc(len * 2 + 1);
    for (size_t i = 0; i < len; i++) {
        hex[2 * i] = digits[data[i] >> 4];
        hex[2 * i + 1] = digits[data[i] & 15];
    }
    hex[len * 2] = '\0';
    return hex;
}

int arg_bool(cJSON *args, const char *name, int *out)
{
    cJSON *v = arg(args, name);
    if (!cJSON_IsBool(v))
        return BAD("%s must be true or false", name), 0;
    *out = cJSON_IsTrue(v);
    return 1;
}

int arg_port(cJSON *args, const char *name, u16_t *out)
{
    double v;
    if (!arg_num(args, name, &v))
        return 0;
    if (v < 1 || v > 65535 || v != floor(v))
        return BAD("%s must be a port 1-65535, not %g", name, v), 0;
    *out = (u16_t)v;
    return 1;
}

/* "2001:db8:1::1/64" -> address and prefix length. */
int parse_cidr(const char *text, ip_addr_t *addr, int *len)
{
    char host[64];
    const char *slash = strchr(text, '/');
    if (slash == NULL || (size_t)(slash - text) >= sizeof host)
        return BAD("%s is not an address with prefix length", text), 0;
    snprintf(host, sizeof host, "%.*s", (int)(slash - text), text);
    if (!ipaddr_aton(host, addr))
        return BAD("%s is not an address with prefix length", text), 0;
    *len = atoi(slash + 1);
    return 1;
}

static void zone(ip_addr_t *addr)
{
    if (IP_IS_V6(addr))
        ip6_addr_assign_zone(ip_2_ip6(addr), IP6_UNKNOWN, &dut);
}

/* An address as the harness writes it (no zone): a link-local one is on the test link. */
int parse_address(const char *text, ip_addr_t *addr)
{
    if (!ipaddr_aton(text, addr))
        return 0;
    zone(addr);
    return 1;
}

/* An address as the harness reads it: lwIP writes a zone as %N, the harness wants none. */
void address_text(const ip_addr_t *addr, char *text, size_t size)
{
    ipaddr_ntoa_r(addr, text, (int)size);
    char *pct = strchr(text, '%');
    if (pct)
        *pct = '\0';
}

/* ---- addresses ------------------------------------------------------------------------------- */
static s8_t ipv6_index(const ip6_addr_t *addr)
{
    for (s8_t i = 0; i < LWIP_IPV6_NUM_ADDRESSES; i++)
        if (!ip6_addr_isinvalid(netif_ip6_addr_state(&dut, i)) && ip6_addr_cmp_zoneless(netif_ip6_addr(&dut, i), addr))
            return i;
    return -1;
}

static u32_t lifetime(cJSON *args, const char *name, int *ok)
{
    cJSON *v = arg(args, name);
    *ok = 1;
    if (v == NULL || cJSON_IsNull(v))
        return IP6_ADDR_LIFE_INFINITE;
    if (!cJSON_IsNumber(v) || v->valuedouble < 0)
        return *ok = 0, BAD("%s must be null or seconds >= 0", name), 0;
    return (u32_t)ceil(v->valuedouble);
}

cJSON *add_address(cJSON *args)
{
    const char *cidr;
    ip_addr_t addr;
    int len, dad = 0, ok1, ok2;
    if (!arg_str(args, "cidr", &cidr) || !parse_cidr(cidr, &addr, &len))
        return NULL;
    if (arg(args, "dad") && !arg_bool(args, "dad", &dad))
        return NULL;
    u32_t valid = lifetime(args, "valid_lifetime", &ok1), preferred = lifetime(args, "preferred_lifetime", &ok2);
    if (!ok1 || !ok2)
        return NULL;
    if (cJSON_IsNull(arg(args, "preferred_lifetime")) || !arg(args, "preferred_lifetime"))
        preferred = valid;  /* as `ip addr add ... valid_lft N` */
    if (IP_IS_V4(&addr)) {
        if (!ip4_addr_isany_val(*netif_ip4_addr(&dut)) && !ip4_addr_cmp(netif_ip4_addr(&dut), ip_2_ip4(&addr)))
            return UNSUPPORTED("lwIP keeps one IPv4 address per interface, and the test link has %s",
                               ip4addr_ntoa(netif_ip4_addr(&dut)));
        ip4_addr_t mask = {len ? lwip_htonl(0xffffffffUL << (32 - len)) : 0};
        netif_set_addr(&dut, ip_2_ip4(&addr), &mask, netif_ip4_gw(&dut));
        return cJSON_CreateNull();
    }
    if (len != 64)
        return UNSUPPORTED("lwIP 2.1 keeps no prefix length with an IPv6 address: every address is a /64");
    s8_t i = ipv6_index(ip_2_ip6(&addr));
    if (i < 0 && netif_add_ip6_address(&dut, ip_2_ip6(&addr), &i) != ERR_OK)
        return FAILED("lwIP has no free IPv6 address slot (LWIP_IPV6_NUM_ADDRESSES=%d)", LWIP_IPV6_NUM_ADDRESSES);
    netif_ip6_addr_set_valid_life(&dut, i, valid == IP6_ADDR_LIFE_INFINITE ? IP6_ADDR_LIFE_STATIC : valid);
    netif_ip6_addr_set_pref_life(&dut, i, preferred == IP6_ADDR_LIFE_INFINITE ? IP6_ADDR_LIFE_STATIC : preferred);
    netif_ip6_addr_set_state(&dut, i, dad ? IP6_ADDR_TENTATIVE : IP6_ADDR_PREFERRED);
    return cJSON_CreateNull();
}

cJSON *remove_address(cJSON *args)
{
    const char *cidr;
    ip_addr_t addr;
    int len;
    if (!arg_str(args, "cidr", &cidr) || !parse_cidr(cidr, &addr, &len))
        return NULL;
    if (IP_IS_V4(&addr)) {
        if (!ip4_addr_cmp(netif_ip4_addr(&dut), ip_2_ip4(&addr)))
            return FAILED("%s is not an address of the test link", cidr);
        netif_set_addr(&dut, IP4_ADDR_ANY4, IP4_ADDR_ANY4, IP4_ADDR_ANY4);
        return cJSON_CreateNull();
    }
    s8_t i = ipv6_index(ip_2_ip6(&addr));
    if (i < 0)
        return FAILED("%s is not an address of the test link", cidr);
    netif_ip6_addr_set_state(&dut, i, IP6_ADDR_INVALID);
    return cJSON_CreateNull();
}

cJSON *ipv6_addresses(cJSON *args)
{
    (void)args;
    cJSON *list = cJSON_CreateArray();
    for (s8_t i = 0; i < LWIP_IPV6_NUM_ADDRESSES; i++) {
        u8_t state = netif_ip6_addr_state(&dut, i);
        if (ip6_addr_isinvalid(state) || ip6_addr_isduplicated(state))
            continue;
        char text[64];
        snprintf(text, sizeof text, "%s/64", ip6addr_ntoa(netif_ip6_addr(&dut, i)));
        cJSON *a = cJSON_CreateObject();
        cJSON_AddStringToObject(a, "interface", text);
        cJSON_AddStringToObject(a, "state", ip6_addr_istentative(state) ? "tentative"
                                            : ip6_addr_ispreferred(state) ? "preferred" : "deprecated");
        cJSON_AddBoolToObject(a, "temporary", 0);
        u32_t valid = netif_ip6_addr_valid_life(&dut, i), pref = netif_ip6_addr_pref_life(&dut, i);
        if (ip6_addr_life_isstatic(valid) || ip6_addr_life_isinfinite(valid))
            cJSON_AddNullToObject(a, "valid_lifetime");
        else
            cJSON_AddNumberToObject(a, "valid_lifetime", valid);
        if (ip6_addr_life_isstatic(pref) || ip6_addr_life_isinfinite(pref))
            cJSON_AddNullToObject(a, "preferred_lifetime");
        else
            cJSON_AddNumberToObject(a, "preferred_lifetime", pref);
        cJSON_AddItemToArray(list, a);
    }
    return list;
}

/* ---- multicast ----------------------------------------------------------------------------------- */
cJSON *group_verb(cJSON *args, int join)
{
    const char *text;
    ip_addr_t g;
    if (!arg_str(args, "group", &text) || !ipaddr_aton(text, &g))
        return BAD("group must be a multicast address");
    if (IP_IS_V4(&g) ? !ip4_addr_ismulticast(ip_2_ip4(&g)) : !ip6_addr_ismulticast(ip_2_ip6(&g)))
        return BAD("%s is not a multicast group address", text);
    zone(&g);
    err_t err = IP_IS_V4(&g) ? (join ? igmp_joingroup_netif : igmp_leavegroup_netif)(&dut, ip_2_ip4(&g))
                             : (join ? mld6_joingroup_netif : mld6_leavegroup_netif)(&dut, ip_2_ip6(&g));
    if (err != ERR_OK)
        return FAILED("lwIP cannot %s group %s (err %d)", join ? "join" : "leave", text, err);
    if (join && ngroups < MAX_GROUPS) {
        groups[ngroups++] = g;
    } else if (!join) {
        for (int i = 0; i < ngroups; i++)
            if (ip_addr_cmp(&groups[i], &g)) {
                groups[i] = groups[--ngroups];
                break;
            }
    }
    return cJSON_CreateNull();
}


/* Leave every group a test joined, and forget a wait (reset). */
void leave_groups(void)
{
    pending = NULL;
    while (ngroups > 0) {
        ip_addr_t *g = &groups[--ngroups];
        if (IP_IS_V4(g))
            igmp_leavegroup_netif(&dut, ip_2_ip4(g));
        else
            mld6_leavegroup_netif(&dut, ip_2_ip6(g));
    }
}
