/*
 * The UDP verbs over lwIP's raw UDP API (called with the core lock held): a PCB per bound
 * port, the datagrams it received queued with what the IP layer passed up with them
 * (udp_recvmsg), and sending with a chosen source, TTL and TOS (udp_sendmsg).
 *
 * udp_errors is not served: lwIP 2.1 tells a UDP PCB of no ICMP error (knobs.c says why).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lwip/ip.h"
#include "lwip/prot/ip4.h"
#include "lwip/prot/ip6.h"
#include "lwip/udp.h"

#include "agent.h"

#define MAX_SOCKETS 16
#define MAX_QUEUED 64
#define MAX_IPV4_OPTIONS 40

struct datagram {
    u8_t *data;
    u16_t len;
    char source[48], destination[48];
    u16_t port;
    u8_t tos, ttl, options_len;
    u8_t options[MAX_IPV4_OPTIONS];
};

static struct socket {
    struct udp_pcb *pcb;
    u16_t port;
    struct datagram queue[MAX_QUEUED];
    int head, count;
} sockets[MAX_SOCKETS];

static struct socket *pending_socket;
static int pending_msg;  /* the waiting verb is udp_recvmsg (else udp_recv) */

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

/* lwIP's recv callback: ip_current_*() still describe the packet that carried the datagram. */
static void on_datagram(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr, u16_t port)
{
    struct socket *s = arg;
    (void)pcb;
    if (s->count < MAX_QUEUED) {  /* a full queue drops the datagram, as a full socket buffer would */
        struct datagram *d = &s->queue[(s->head + s->count++) % MAX_QUEUED];
        memset(d, 0, sizeof *d);
        d->len = p->tot_len;
        d->data = malloc(p->tot_len ? p->tot_len : 1);
        pbuf_copy_partial(p, d->data, p->tot_len, 0);
        address_text(addr, d->source, sizeof d->source);
        address_text(ip_current_dest_addr(), d->destination, sizeof d->destination);
        d->port = port;
        if (ip_current_is_v6()) {
            const struct ip6_hdr *h = ip6_current_header();
            d->tos = (u8_t)IP6H_TC(h);
            d->ttl = IP6H_HOPLIM(h);
        } else {
            const struct ip_hdr *h = ip4_current_header();
            d->tos = IPH_TOS(h);
            d->ttl = IPH_TTL(h);
            d->options_len = (u8_t)(IPH_HL_BYTES(h) - IP_HLEN);
            memcpy(d->options, (const u8_t *)h + IP_HLEN, d->options_len);
        }
    }
    pbuf_free(p);
}

/* The oldest datagram as udp_recv ([data, source, sport]) or udp_recvmsg (an object) returns it. */
static cJSON *pop_datagram(struct socket *s, int msg)
{
    if (s->count == 0)
        return NULL;
    struct datagram *d = &s->queue[s->head];
    s->head = (s->head + 1) % MAX_QUEUED;
    s->count--;
    char *hex = hex_of(d->data, d->len);
    cJSON *r;
    if (msg) {
        char *options = hex_of(d->options, d->options_len);
        r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "data", hex);
        cJSON_AddStringToObject(r, "src", d->source);
        cJSON_AddNumberToObject(r, "sport", d->port);
        cJSON_AddStringToObject(r, "dst", d->destination);
        cJSON_AddNumberToObject(r, "tos", d->tos);
        cJSON_AddNumberToObject(r, "ttl", d->ttl);
        cJSON_AddStringToObject(r, "options", options);
        free(options);
    } else {
        r = cJSON_CreateArray();
        cJSON_AddItemToArray(r, cJSON_CreateString(hex));
        cJSON_AddItemToArray(r, cJSON_CreateString(d->source));
        cJSON_AddItemToArray(r, cJSON_CreateNumber(d->port));
    }
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

static cJSON *poll_datagram(int final)
{
    cJSON *got = pending_socket && pending_socket->pcb ? pop_datagram(pending_socket, pending_msg) : NULL;
    return got == NULL && final ? cJSON_CreateNull() : got;
}

/* udp_recv (msg 0) and udp_recvmsg (msg 1): whichever reads a datagram first takes it. */
cJSON *udp_recv_verb(cJSON *args, double *wait_until, int msg)
{
    double within = 2.0;
    struct socket *s = socket_of(args);
    if (s == NULL || (arg(args, "within") && !arg_num(args, "within", &within)))
        return NULL;
    cJSON *got = pop_datagram(s, msg);
    if (got != NULL || within <= 0)
        return got ? got : cJSON_CreateNull();
    pending_socket = s;
    pending_msg = msg;
    wait_for(poll_datagram, within, wait_until);
    return NULL;
}

/* An optional whole-number argument: 1 and *out = -1 when absent or null. */
static int optional_int(cJSON *args, const char *name, double low, double high, int *out)
{
    cJSON *v = arg(args, name);
    *out = -1;
    return v == NULL || cJSON_IsNull(v) || arg_int(args, name, low, high, out);
}

/* The source the application chose must be one of the DUT's addresses (Linux: EINVAL). */
static int own_address(const ip_addr_t *a)
{
    if (IP_IS_V4(a))
        return ip4_addr_cmp(netif_ip4_addr(&dut), ip_2_ip4(a));
    for (s8_t i = 0; i < LWIP_IPV6_NUM_ADDRESSES; i++)
        if (ip6_addr_isvalid(netif_ip6_addr_state(&dut, i)) && ip6_addr_cmp_zoneless(netif_ip6_addr(&dut, i), ip_2_ip6(a)))
            return 1;
    return 0;
}

/* udp_send (msg 0) and udp_sendmsg (msg 1: src, ttl, tos, options). */
cJSON *udp_send_verb(cJSON *args, int msg)
{
    const char *dst, *src_text = NULL;
    u16_t dport;
    ip_addr_t to, src;
    int ttl = -1, tos = -1;
    u8_t *data = NULL, *options = NULL;
    size_t n, options_len = 0;
    struct socket *s = socket_of(args);
    if (s == NULL || !arg_str(args, "dst", &dst) || !arg_port(args, "dport", &dport))
        return NULL;
    if (!parse_address(dst, &to) || IP_GET_TYPE(&to) != IP_GET_TYPE(&s->pcb->local_ip))
        return BAD("dst %s is not an IPv%d address", dst, IP_IS_V6(&s->pcb->local_ip) ? 6 : 4);
    if (msg) {
        cJSON *v = arg(args, "src");
        if (v && !cJSON_IsNull(v)) {
            if (!arg_str(args, "src", &src_text))
                return NULL;
            if (!parse_address(src_text, &src) || IP_GET_TYPE(&src) != IP_GET_TYPE(&to))
                return BAD("src %s is not an address of the family of dst %s", src_text, dst);
            if (!own_address(&src))
                return BAD("src %s is not an address of the DUT", src_text);
        }
        if (!optional_int(args, "ttl", 1, 255, &ttl) || !optional_int(args, "tos", 0, 255, &tos))
            return NULL;
        if (arg(args, "options") && !arg_hex(args, "options", &options, &options_len))
            return NULL;
        free(options);
        if (options_len > 0 && IP_IS_V6(&to))
            return BAD("options are IPv4 options: an IPv6 datagram carries none");
        if (options_len > MAX_IPV4_OPTIONS)
            return BAD("%zu octets of options do not fit an IPv4 header (at most 40)", options_len);
        if (options_len > 0)
            return UNSUPPORTED("lwIP's UDP sends no IPv4 options: udp_sendto_if_src() passes none to the IP layer, "
                               "and lwIP 2.1 has no socket option for them (IP_OPTIONS_SEND serves IGMP's Router "
                               "Alert only)");
    }
    if (!arg_hex(args, "data", &data, &n))
        return NULL;
    if (n > 65507) {
        free(data);
        return BAD("%zu octets do not fit a UDP datagram", n);
    }
    struct pbuf *p = pbuf_alloc(PBUF_TRANSPORT, (u16_t)n, PBUF_RAM);
    if (p == NULL) {
        free(data);
        return FAILED("lwIP has no memory for a %zu-octet datagram", n);
    }
    pbuf_take(p, data, (u16_t)n);
    free(data);
    /* TTL and TOS are the PCB's (udp_sendto_if_src() reads them): set for this one datagram. */
    u8_t old_ttl = s->pcb->ttl, old_tos = s->pcb->tos, old_mcast_ttl = udp_get_multicast_ttl(s->pcb);
    if (ttl >= 0) {
        s->pcb->ttl = (u8_t)ttl;
        udp_set_multicast_ttl(s->pcb, (u8_t)ttl);
    }
    if (tos >= 0)
        s->pcb->tos = (u8_t)tos;
    err_t err;
    if (src_text != NULL) {
        struct netif *netif = ip_route(&src, &to);
        err = netif == NULL ? ERR_RTE : udp_sendto_if_src(s->pcb, p, &to, dport, netif, &src);
    } else {
        err = udp_sendto(s->pcb, p, &to, dport);
    }
    s->pcb->ttl = old_ttl;
    s->pcb->tos = old_tos;
    udp_set_multicast_ttl(s->pcb, old_mcast_ttl);
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
    if (pending_socket == s)
        pending_socket = NULL;
    close_socket(s);
    return cJSON_CreateNull();
}

/* Close every socket a test opened (reset). */
void close_udp_sockets(void)
{
    for (int i = 0; i < MAX_SOCKETS; i++)
        if (sockets[i].pcb != NULL)
            close_socket(&sockets[i]);
    pending_socket = NULL;
}
