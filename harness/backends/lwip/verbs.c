/*
 * The DUT control verbs over lwIP's raw API (called with the core lock held).
 *
 * What lwIP cannot do is refused as "unsupported" with the reason, which the harness turns
 * into a skip naming it; a knob that lwIP fixes at compile time is accepted when asked for
 * the value the build has (a no-op) and refused otherwise.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
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
#include "lwip/udp.h"

#include "agent.h"

#define MAX_SOCKETS 16
#define MAX_QUEUED 64
#define MAX_GROUPS 32

const char *error_code;
char error_message[512];

struct datagram {
    u8_t *data;
    u16_t len;
    char source[48];
    u16_t port;
};

static struct socket {
    struct udp_pcb *pcb;
    u16_t port;
    struct datagram queue[MAX_QUEUED];
    int head, count;
} sockets[MAX_SOCKETS];

static ip_addr_t groups[MAX_GROUPS];  /* joined through join_group, left again by reset */
static int ngroups;
static struct socket *pending_socket;

void verb_error(const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(error_message, sizeof error_message, fmt, ap);
    va_end(ap);
    error_code = code;
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

/* ---- UDP --------------------------------------------------------------------------------------- */
static struct socket *socket_of(cJSON *args)
{
    u16_t port;
    if (!arg_port(args, "port", &port))
        return NULL;
    for (int i = 0; i < MAX_SOCKETS; i++)
        if (sockets[i].pcb != NULL && sockets[i].port == port)
            return &sockets[i];
    verb_error("bad-arguments", "no UDP socket is bound to port %u on the DUT (call udp_bind first)", port);
    return NULL;
}

static void on_datagram(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr, u16_t port)
{
    struct socket *s = arg;
    (void)pcb;
    if (s->count < MAX_QUEUED) {
        struct datagram *d = &s->queue[(s->head + s->count++) % MAX_QUEUED];
        d->len = p->tot_len;
        d->data = malloc(p->tot_len ? p->tot_len : 1);
        pbuf_copy_partial(p, d->data, p->tot_len, 0);
        ipaddr_ntoa_r(addr, d->source, sizeof d->source);
        char *pct = strchr(d->source, '%');  /* lwIP writes the zone as %N: the harness wants none */
        if (pct)
            *pct = '\0';
        d->port = port;
    }
    pbuf_free(p);
}

static cJSON *pop_datagram(struct socket *s)
{
    if (s->count == 0)
        return NULL;
    struct datagram *d = &s->queue[s->head];
    s->head = (s->head + 1) % MAX_QUEUED;
    s->count--;
    char *hex = malloc((size_t)d->len * 2 + 1);
    for (u16_t i = 0; i < d->len; i++)
        sprintf(hex + 2 * i, "%02x", d->data[i]);
    hex[d->len * 2] = '\0';
    cJSON *r = cJSON_CreateArray();
    cJSON_AddItemToArray(r, cJSON_CreateString(hex));
    cJSON_AddItemToArray(r, cJSON_CreateString(d->source));
    cJSON_AddItemToArray(r, cJSON_CreateNumber(d->port));
    free(hex);
    free(d->data);
    return r;
}

static void close_socket(struct socket *s)
{
    udp_remove(s->pcb);
    while (s->count > 0)
        free(s->queue[s->head].data), s->head = (s->head + 1) % MAX_QUEUED, s->count--;
    memset(s, 0, sizeof *s);
}

cJSON *udp_bind_verb(cJSON *args)
{
    u16_t port;
    double family = 4;
    if (!arg_port(args, "port", &port) || (arg(args, "family") && !arg_num(args, "family", &family)))
        return NULL;
    if (family != 4 && family != 6)
        return BAD("family must be 4 or 6, not %g", family);
    struct socket *free_slot = NULL;
    for (int i = 0; i < MAX_SOCKETS; i++) {
        if (sockets[i].pcb != NULL && sockets[i].port == port)
            return BAD("UDP port %u is already bound on the DUT", port);
        if (sockets[i].pcb == NULL && free_slot == NULL)
            free_slot = &sockets[i];
    }
    if (free_slot == NULL)
        return FAILED("the agent holds at most %d UDP sockets", MAX_SOCKETS);
    struct udp_pcb *pcb = udp_new_ip_type(family == 6 ? IPADDR_TYPE_V6 : IPADDR_TYPE_V4);
    if (pcb == NULL)
        return FAILED("lwIP has no memory for a UDP PCB");
    err_t err = udp_bind(pcb, family == 6 ? IP6_ADDR_ANY : IP4_ADDR_ANY, port);
    if (err != ERR_OK) {
        udp_remove(pcb);
        return FAILED("lwIP cannot bind UDP port %u (err %d)", port, err);
    }
    free_slot->pcb = pcb;
    free_slot->port = port;
    udp_recv(pcb, on_datagram, free_slot);
    return cJSON_CreateNull();
}

cJSON *udp_recv_verb(cJSON *args, double *wait_until)
{
    double within = 2.0;
    struct socket *s = socket_of(args);
    if (s == NULL || (arg(args, "within") && !arg_num(args, "within", &within)))
        return NULL;
    cJSON *got = pop_datagram(s);
    if (got != NULL || within <= 0)
        return got ? got : cJSON_CreateNull();
    pending_socket = s;
    *wait_until = now_seconds() + within;
    return NULL;
}

cJSON *agent_pending_result(int final)
{
    cJSON *got = pending_socket && pending_socket->pcb ? pop_datagram(pending_socket) : NULL;
    if (got == NULL && final)
        got = cJSON_CreateNull();
    if (got != NULL)
        pending_socket = NULL;
    return got;
}

cJSON *udp_send_verb(cJSON *args)
{
    const char *data, *dst;
    u16_t dport;
    ip_addr_t to;
    struct socket *s = socket_of(args);
    if (s == NULL || !arg_str(args, "data", &data) || !arg_str(args, "dst", &dst) || !arg_port(args, "dport", &dport))
        return NULL;
    size_t n = strlen(data) / 2;
    if (strlen(data) % 2 || n > 65507 || !ipaddr_aton(dst, &to))
        return BAD("data must be hex and dst an address (got %s)", dst);
    zone(&to);
    struct pbuf *p = pbuf_alloc(PBUF_TRANSPORT, (u16_t)n, PBUF_RAM);
    if (p == NULL)
        return FAILED("lwIP has no memory for a %zu-octet datagram", n);
    for (size_t i = 0; i < n; i++) {
        unsigned int b;
        if (sscanf(data + 2 * i, "%2x", &b) != 1) {
            pbuf_free(p);
            return BAD("data must be hex");
        }
        ((u8_t *)p->payload)[i] = (u8_t)b;
    }
    err_t err = udp_sendto(s->pcb, p, &to, dport);
    pbuf_free(p);
    if (err != ERR_OK)
        return FAILED("lwIP refused to send to [%s]:%u (err %d)", dst, dport, err);
    return cJSON_CreateNull();
}

cJSON *udp_close_verb(cJSON *args)
{
    struct socket *s = socket_of(args);
    if (s == NULL)
        return NULL;
    close_socket(s);
    return cJSON_CreateNull();
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


/* Close every socket and leave every group a test opened or joined (reset). */
void release_sockets_and_groups(void)
{
    for (int i = 0; i < MAX_SOCKETS; i++)
        if (sockets[i].pcb != NULL)
            close_socket(&sockets[i]);
    pending_socket = NULL;
    while (ngroups > 0) {
        ip_addr_t *g = &groups[--ngroups];
        if (IP_IS_V4(g))
            igmp_leavegroup_netif(&dut, ip_2_ip4(g));
        else
            mld6_leavegroup_netif(&dut, ip_2_ip6(g));
    }
}
