/*
 * stackcheck-lwip-agent: lwIP (Debian's liblwip, 2.1.3) as a device under test.
 *
 * One lwIP netif over a TAP device, and the DUT control protocol (docs/control-protocol.md)
 * on a Unix socket. The tcpip thread runs lwIP's timers; the main thread reads frames and
 * control requests and calls into lwIP with the core lock held (LWIP_TCPIP_CORE_LOCKING=1).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef STACKCHECK_LWIP_AGENT_H
#define STACKCHECK_LWIP_AGENT_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "lwip/netif.h"

#define AGENT_NAME "lwip-agent"
#define AGENT_VERSION "1"

/* The test link as the harness hands it over on the command line. */
struct agent_config {
    const char *tap;
    const char *control;
    u8_t mac[6];
    ip4_addr_t ipv4, netmask;
    int have_ipv4;
    ip6_addr_t ipv6;
    int have_ipv6;
    u16_t mtu;
};

extern struct agent_config config;
extern struct netif dut;

/* tapif.c: the netif over a TAP file descriptor. */
int tap_open(const char *name);
err_t tap_netif_init(struct netif *netif);
void tap_input(struct netif *netif, int fd);

/* verbs.c: the control verbs. A verb returns its result (cJSON null for none) or NULL with
 * verb_error() called; udp_recv may instead answer later (see pending_*). */
void agent_baseline(void);
int reports_pending(void);
cJSON *agent_hello(cJSON *args);
cJSON *agent_call(const char *verb, cJSON *args, double *wait_until);
cJSON *agent_pending_result(int final);
void verb_error(const char *code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
extern const char *error_code;
extern char error_message[512];
double now_seconds(void);

/* verbs.c: arguments, addresses, UDP, groups. */
cJSON *arg(cJSON *args, const char *name);
int arg_str(cJSON *args, const char *name, const char **out);
int arg_num(cJSON *args, const char *name, double *out);
int arg_bool(cJSON *args, const char *name, int *out);
int arg_port(cJSON *args, const char *name, u16_t *out);
int parse_cidr(const char *text, ip_addr_t *addr, int *len);
cJSON *add_address(cJSON *args);
cJSON *remove_address(cJSON *args);
cJSON *ipv6_addresses(cJSON *args);
cJSON *udp_bind_verb(cJSON *args);
cJSON *udp_recv_verb(cJSON *args, double *wait_until);
cJSON *udp_send_verb(cJSON *args);
cJSON *udp_close_verb(cJSON *args);
cJSON *group_verb(cJSON *args, int join);
void release_sockets_and_groups(void);

#define UNSUPPORTED(...) (verb_error("unsupported", __VA_ARGS__), (cJSON *)NULL)
#define BAD(...) (verb_error("bad-arguments", __VA_ARGS__), (cJSON *)NULL)
#define FAILED(...) (verb_error("failed", __VA_ARGS__), (cJSON *)NULL)

#endif
