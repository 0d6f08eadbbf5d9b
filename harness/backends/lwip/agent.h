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

/* knobs.c and verbs.c: the control verbs. A verb returns its result (cJSON null for none) or
 * NULL with verb_error() called. A verb that waits (udp_recv, udp_recvmsg, tcp_accept,
 * tcp_recv) calls wait_for() and returns NULL with no error: main.c then calls
 * agent_pending_result() until it answers, a result or NULL with verb_error() called (NULL
 * and no error: not yet); `final` is 1 at the deadline, when it must answer. */
void agent_baseline(void);
int reports_pending(void);
cJSON *agent_hello(cJSON *args);
cJSON *agent_call(const char *verb, cJSON *args, double *wait_until);
typedef cJSON *(*pending_poll)(int final);
void wait_for(pending_poll poll, double within, double *wait_until);
cJSON *agent_pending_result(int final);
void verb_error(const char *code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A TCP verb failing as a socket call fails: the protocol's tcp-error with its kind
 * (harness.dut.TCPErrorKind: reset, refused, timed_out, unreachable, closed). */
void tcp_error(const char *kind, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
extern const char *error_code;
extern const char *error_kind;
extern char error_message[512];
double now_seconds(void);

/* verbs.c: arguments, addresses, groups. */
cJSON *arg(cJSON *args, const char *name);
int arg_str(cJSON *args, const char *name, const char **out);
int arg_num(cJSON *args, const char *name, double *out);
int arg_int(cJSON *args, const char *name, double low, double high, int *out);
int arg_bool(cJSON *args, const char *name, int *out);
int arg_port(cJSON *args, const char *name, u16_t *out);
int arg_hex(cJSON *args, const char *name, u8_t **out, size_t *len);
int parse_cidr(const char *text, ip_addr_t *addr, int *len);
int parse_address(const char *text, ip_addr_t *addr);
void address_text(const ip_addr_t *addr, char *text, size_t size);
char *hex_of(const u8_t *data, size_t len);
cJSON *add_address(cJSON *args);
cJSON *remove_address(cJSON *args);
cJSON *ipv6_addresses(cJSON *args);
cJSON *group_verb(cJSON *args, int join);
void leave_groups(void);

/* udp_verbs.c: UDP sockets. */
cJSON *udp_bind_verb(cJSON *args);
cJSON *udp_recv_verb(cJSON *args, double *wait_until, int msg);
cJSON *udp_send_verb(cJSON *args, int msg);
cJSON *udp_close_verb(cJSON *args);
void close_udp_sockets(void);

/* tcp_verbs.c, tcp_conns.c (tcp_agent.h): TCP listeners and connections over the raw API. */
cJSON *tcp_listen_verb(cJSON *args);
cJSON *tcp_accept_verb(cJSON *args, double *wait_until);
cJSON *tcp_close_listener_verb(cJSON *args);
cJSON *tcp_connect_verb(cJSON *args);
cJSON *tcp_send_verb(cJSON *args);
cJSON *tcp_recv_verb(cJSON *args, double *wait_until);
cJSON *tcp_end_verb(cJSON *args, const char *how);
cJSON *tcp_set_option_verb(cJSON *args);
cJSON *tcp_state_verb(cJSON *args);
void close_tcp(void);


#define UNSUPPORTED(...) (verb_error("unsupported", __VA_ARGS__), (cJSON *)NULL)
#define BAD(...) (verb_error("bad-arguments", __VA_ARGS__), (cJSON *)NULL)
#define FAILED(...) (verb_error("failed", __VA_ARGS__), (cJSON *)NULL)

#endif
