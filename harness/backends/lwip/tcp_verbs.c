/*
 * The TCP verbs over lwIP's raw TCP API (called with the core lock held): listening,
 * accepting, connecting, data, and how a connection ends (the slots are tcp_conns.c's).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdlib.h>
#include <string.h>

#include "lwip/ip.h"
#include "lwip/priv/tcp_priv.h"

#include "tcp_agent.h"

/* ---- listening -------------------------------------------------------------------------------------- */
cJSON *tcp_listen_verb(cJSON *args)
{
    u16_t port;
    int family, backlog = 16;
    struct tcp_options options;
    if (!arg_port(args, "port", &port) || !family_of(args, &family) ||
        (arg(args, "backlog") && !arg_int(args, "backlog", 0, 255, &backlog)) || !tcp_parse_options(args, &options, 1))
        return NULL;
    struct listener *l = NULL;
    for (int i = MAX_LISTENERS - 1; i >= 0; i--) {
        if (listeners[i].pcb != NULL && listeners[i].port == port && listeners[i].family == family)
            return BAD("this test already listens on TCP port %u (IPv%d)", port, family);
        if (listeners[i].pcb == NULL)
            l = &listeners[i];
    }
    if (l == NULL)
        return FAILED("the agent holds at most %d TCP listeners", MAX_LISTENERS);
    struct tcp_pcb *pcb = tcp_new_ip_type(family == 6 ? IPADDR_TYPE_V6 : IPADDR_TYPE_V4);
    if (pcb == NULL)
        return FAILED("lwIP has no memory for a TCP PCB");
    ip_set_option(pcb, SOF_REUSEADDR);  /* so that a tcp_connect from the same port may bind it too */
    tcp_apply_options(pcb, &options);  /* SOF_KEEPALIVE is inherited; the rest goes on in on_accept */
    err_t err = tcp_bind(pcb, family == 6 ? IP6_ADDR_ANY : IP4_ADDR_ANY, port);
    struct tcp_pcb *lpcb = err == ERR_OK ? tcp_listen_with_backlog_and_err(pcb, (u8_t)backlog, &err) : NULL;
    if (lpcb == NULL) {
        tcp_close(pcb);
        return FAILED("lwIP cannot listen on TCP port %u (IPv%d): err %d", port, family, err);
    }
    l->pcb = lpcb;
    l->port = port;
    l->family = family;
    l->backlog = backlog;
    l->options = options;
    tcp_arg(lpcb, l);
    tcp_accept(lpcb, on_accept);
    return cJSON_CreateNull();
}

static cJSON *take_accepted(struct listener *l)
{
    struct conn *first = NULL;
    for (int i = 0; i < MAX_CONNS; i++)
        if (conns[i].handle != 0 && conns[i].queued_on == l && (first == NULL || conns[i].handle < first->handle))
            first = &conns[i];
    if (first == NULL)
        return NULL;
    first->queued_on = NULL;
    return conn_object(first);
}

static cJSON *poll_accept(int final)
{
    cJSON *got = pending_listener != NULL ? take_accepted(pending_listener) : NULL;
    return got == NULL && final ? cJSON_CreateNull() : got;
}

cJSON *tcp_accept_verb(cJSON *args, double *wait_until)
{
    double within = 2.0;
    struct listener *l = listener_of(args);
    if (l == NULL || (arg(args, "within") && !arg_num(args, "within", &within)))
        return NULL;
    cJSON *got = take_accepted(l);
    if (got != NULL || within <= 0)
        return got ? got : cJSON_CreateNull();
    pending_listener = l;
    wait_for(poll_accept, within, wait_until);
    return NULL;
}

cJSON *tcp_close_listener_verb(cJSON *args)
{
    struct listener *l = listener_of(args);
    if (l == NULL)
        return NULL;
    for (int i = 0; i < MAX_CONNS; i++)  /* completed but not accepted: reset, as Linux does */
        if (conns[i].handle != 0 && conns[i].queued_on == l)
            abort_conn(&conns[i]);
    tcp_arg(l->pcb, NULL);
    tcp_close(l->pcb);
    if (pending_listener == l)
        pending_listener = NULL;
    memset(l, 0, sizeof *l);
    return cJSON_CreateNull();
}

/* ---- connecting -------------------------------------------------------------------------------------- */
cJSON *tcp_connect_verb(cJSON *args)
{
    const char *dst;
    ip_addr_t to;
    u16_t dport, sport = 0;
    struct tcp_options options;
    if (!arg_str(args, "dst", &dst) || !arg_port(args, "dport", &dport))
        return NULL;
    if (!parse_address(dst, &to))
        return BAD("dst %s is not an address", dst);
    cJSON *s = arg(args, "sport");
    if ((s != NULL && !cJSON_IsNull(s) && !arg_port(args, "sport", &sport)) || !tcp_parse_options(args, &options, 0))
        return NULL;
    struct tcp_pcb *pcb = tcp_new_ip_type(IP_GET_TYPE(&to));
    if (pcb == NULL)
        return FAILED("lwIP has no memory for a TCP PCB");
    struct conn *c = new_conn(pcb, IP_IS_V6(&to) ? 6 : 4);
    if (c == NULL) {
        tcp_close(pcb);
        return FAILED("the agent holds at most %d TCP connections", MAX_CONNS);
    }
    c->active = 1;
    tcp_apply_options(pcb, &options);
    err_t err = ERR_OK;
    if (sport != 0) {
        /* As an application that means to LISTEN on this port too would (RFC 9293 MUST-42). */
        ip_set_option(pcb, SOF_REUSEADDR);
        err = tcp_bind(pcb, IP_IS_V6(&to) ? IP6_ADDR_ANY : IP4_ADDR_ANY, sport);
    }
    if (err == ERR_OK) {
        tcp_arg(pcb, c);
        tcp_recv(pcb, on_recv);
        tcp_err(pcb, on_error);
        err = tcp_connect(pcb, &to, dport, on_connected);
    }
    if (err != ERR_OK) {
        forget_callbacks(pcb);
        tcp_close(pcb);  /* not yet connected: lwIP frees it silently */
        free_conn(c);
        if (err == ERR_RTE)
            return tcp_error("unreachable", "connect to [%s]:%u: lwIP has no route", dst, dport), NULL;
        return FAILED("lwIP cannot open a TCP connection to [%s]:%u from port %u (err %d)", dst, dport, sport, err);
    }
    take_addresses(c);
    return conn_object(c);
}

/* ---- data ---------------------------------------------------------------------------------------------- */
cJSON *tcp_send_verb(cJSON *args)
{
    u8_t *data;
    size_t n;
    struct conn *c = conn_of(args);
    if (c == NULL || !arg_hex(args, "data", &data, &n))
        return NULL;
    struct tcp_pcb *pcb = c->shut ? (tcp_error("closed", "send: sending was shut down"), NULL) : usable(c, "send");
    if (pcb == NULL) {
        free(data);
        return NULL;
    }
    u16_t take = (u16_t)(n < tcp_sndbuf(pcb) ? n : tcp_sndbuf(pcb));
    err_t err = ERR_OK;
    while (take > 0 && (err = tcp_write(pcb, data, take, TCP_WRITE_FLAG_COPY)) == ERR_MEM)
        take /= 2;  /* the queue of segments is full (TCP_SND_QUEUELEN): take less */
    free(data);
    if (err == ERR_CONN)
        return tcp_error("closed", "send: the connection no longer sends"), NULL;
    if (err != ERR_OK && err != ERR_MEM)
        return FAILED("lwIP's tcp_write failed (err %d)", err);
    if (take > 0)
        tcp_output(pcb);
    return cJSON_CreateNumber(err == ERR_OK ? take : 0);
}

/* What tcp_recv answers now: data, "" at the end of the stream, the error that ended the
 * connection, or NULL (no error) when nothing is there yet. */
static cJSON *read_now(struct conn *c, int max)
{
    if (c->closed)
        return tcp_error("closed", "recv: the handle was closed"), NULL;
    if (c->rx != NULL) {
        u16_t n = (u16_t)(c->rx->tot_len < max ? c->rx->tot_len : max);
        u8_t *data = malloc(n);
        pbuf_copy_partial(c->rx, data, n, 0);
        c->rx = pbuf_free_header(c->rx, n);
        if (live_pcb(c) != NULL)
            tcp_recved(c->pcb, n);  /* read: the window opens again */
        char *hex = hex_of(data, n);
        cJSON *r = cJSON_CreateString(hex);
        free(hex);
        free(data);
        return r;
    }
    if (c->eof)
        return cJSON_CreateString("");
    if (c->failed)
        return tcp_error(c->failed, "recv: lwIP ended the connection"), NULL;
    if (live_pcb(c) == NULL)
        return cJSON_CreateString("");  /* closed normally */
    return NULL;
}

static cJSON *poll_recv(int final)
{
    cJSON *got = pending_conn != NULL ? read_now(pending_conn, pending_max) : cJSON_CreateNull();
    return got == NULL && error_code == NULL && final ? cJSON_CreateNull() : got;
}

cJSON *tcp_recv_verb(cJSON *args, double *wait_until)
{
    double within = 2.0;
    int max = 65536;
    struct conn *c = conn_of(args);
    if (c == NULL || (arg(args, "max") && !arg_int(args, "max", 1, 1 << 30, &max)) ||
        (arg(args, "within") && !arg_num(args, "within", &within)))
        return NULL;
    cJSON *got = read_now(c, max);
    if (got != NULL || error_code != NULL || within <= 0)
        return got || error_code ? got : cJSON_CreateNull();
    pending_conn = c;
    pending_max = max;
    wait_for(poll_recv, within, wait_until);
    return NULL;
}

/* ---- ending ---------------------------------------------------------------------------------------------- */
/* tcp_shutdown (how "shutdown"), tcp_close ("close") and tcp_abort ("abort"). */
cJSON *tcp_end_verb(cJSON *args, const char *how)
{
    struct conn *c = conn_of(args);
    if (c == NULL)
        return NULL;
    if (strcmp(how, "shutdown") == 0) {
        struct tcp_pcb *pcb = usable(c, "shutdown");
        if (pcb == NULL)
            return NULL;
        err_t err = tcp_shutdown(pcb, 0, 1);
        if (err == ERR_CONN)  /* not (yet) connected: lwIP would have to free the PCB */
            return tcp_error("closed", "shutdown: the connection is not established"), NULL;
        if (err != ERR_OK)
            return FAILED("lwIP's tcp_shutdown failed (err %d)", err);
        c->shut = 1;
        return cJSON_CreateNull();
    }
    if (!c->closed && live_pcb(c) != NULL) {
        forget_callbacks(c->pcb);
        /* tcp_close() resets instead of closing when received data was never read (its
         * rcv_wnd is not whole again): RFC 1122 4.2.2.13, as the verb asks. */
        if (strcmp(how, "abort") == 0 || tcp_close(c->pcb) != ERR_OK)
            tcp_abort(c->pcb);
    }
    c->pcb = NULL;
    c->closed = 1;
    if (c->rx != NULL)
        pbuf_free(c->rx);
    c->rx = NULL;
    return cJSON_CreateNull();
}

cJSON *tcp_set_option_verb(cJSON *args)
{
    const char *name;
    struct tcp_options options = {0};
    struct conn *c = conn_of(args);
    if (c == NULL || !arg_str(args, "name", &name) || !tcp_parse_option(name, arg(args, "value"), &options, 0))
        return NULL;
    struct tcp_pcb *pcb = usable(c, "setsockopt");
    if (pcb == NULL)
        return NULL;
    tcp_apply_options(pcb, &options);
    return cJSON_CreateNull();
}

cJSON *tcp_state_verb(cJSON *args)
{
    struct conn *c = conn_of(args);
    if (c == NULL)
        return NULL;
    struct tcp_pcb *pcb = find_pcb(c);
    return cJSON_CreateString(pcb != NULL ? tcp_state_name(pcb->state) : "CLOSED");
}
