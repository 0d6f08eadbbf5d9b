/*
 * The TCP connections and listeners of a test (tcp_conns.c), shared by the TCP verbs
 * (tcp_verbs.c) and their options (tcp_options.c).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef STACKCHECK_LWIP_TCP_AGENT_H
#define STACKCHECK_LWIP_TCP_AGENT_H

#include "lwip/tcp.h"

#include "agent.h"

/* Options a test asks for: which are set, and their values in lwIP's units. */
enum { TCP_OPT_NODELAY, TCP_OPT_KEEPALIVE, TCP_OPT_KEEPIDLE, TCP_OPT_KEEPINTVL, TCP_OPT_KEEPCNT, TCP_OPT_MAXSEG,
       TCP_OPT_RCVBUF, TCP_OPT_SNDBUF, TCP_OPT_USER_TIMEOUT, TCP_OPT_TOS, TCP_OPT_TTL, TCP_NOPTIONS };
struct tcp_options {
    unsigned set;  /* bit (1 << TCP_OPT_x) for each option given */
    u32_t value[TCP_NOPTIONS];
};

#define MAX_LISTENERS 16
#define MAX_CONNS 64

struct listener {
    struct tcp_pcb *pcb;  /* NULL: a free slot */
    u16_t port;
    int family, backlog;
    struct tcp_options options;  /* given to each connection it accepts */
};
extern struct listener listeners[MAX_LISTENERS];

struct conn {
    int handle;  /* 0: a free slot */
    struct tcp_pcb *pcb;  /* NULL once lwIP freed it or the test closed or aborted the handle */
    struct listener *queued_on;  /* completed on this listener, not yet taken by tcp_accept */
    int family, active, established, closed, shut, eof;
    const char *failed;  /* how lwIP ended it (a harness.dut.TCPErrorKind), NULL if it did not */
    ip_addr_t local, remote;
    u16_t local_port, remote_port;
    struct pbuf *rx;  /* received, not yet read by the test */
};
extern struct conn conns[MAX_CONNS];

/* What a waiting tcp_accept or tcp_recv waits for. */
extern struct listener *pending_listener;
extern struct conn *pending_conn;
extern int pending_max;


/* tcp_conns.c: slots, lwIP's callbacks, arguments and answers. */
struct tcp_pcb *find_pcb(const struct conn *c);
struct tcp_pcb *live_pcb(struct conn *c);
void forget_callbacks(struct tcp_pcb *pcb);
void free_conn(struct conn *c);
struct conn *new_conn(struct tcp_pcb *pcb, int family);
void take_addresses(struct conn *c);
void abort_conn(struct conn *c);
err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err);
void on_error(void *arg, err_t err);
err_t on_connected(void *arg, struct tcp_pcb *pcb, err_t err);
err_t on_accept(void *arg, struct tcp_pcb *pcb, err_t err);
int family_of(cJSON *args, int *family);
struct listener *listener_of(cJSON *args);
struct conn *conn_of(cJSON *args);
cJSON *conn_object(const struct conn *c);
struct tcp_pcb *usable(struct conn *c, const char *verb);

/* tcp_options.c */
int tcp_parse_option(const char *name, cJSON *value, struct tcp_options *into, int listener);
int tcp_parse_options(cJSON *args, struct tcp_options *into, int listener);
void tcp_apply_options(struct tcp_pcb *pcb, const struct tcp_options *options);
const char *tcp_state_name(int state);

#endif
