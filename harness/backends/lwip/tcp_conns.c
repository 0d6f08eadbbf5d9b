/*
 * The TCP connections and listeners of a test over lwIP's raw TCP API: the slots lwIP's
 * callbacks fill (called with the core lock held, from lwIP's tcpip thread or a verb).
 *
 * Received data waits as pbufs until the test reads it, and only then goes back to the window
 * (tcp_recved()), as a socket's receive buffer would; the err callback says how lwIP ended a
 * connection. lwIP may free a PCB without a callback (a TIME-WAIT PCB when 2 MSL have passed),
 * so a slot's PCB is used only once it is found again in lwIP's lists, and a connection the
 * test closed is found there by its addresses and ports, as the Linux agent reads
 * /proc/net/tcp.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <stdlib.h>
#include <string.h>

#include "lwip/ip.h"
#include "lwip/priv/tcp_priv.h"

#include "tcp_agent.h"

struct listener listeners[MAX_LISTENERS];
struct conn conns[MAX_CONNS];
struct listener *pending_listener;
struct conn *pending_conn;
int pending_max;
static int next_handle = 1;

/* ---- slots and lwIP's callbacks ----------------------------------------------------------------- */
static int same_connection(const struct tcp_pcb *p, const struct conn *c)
{
    return p->local_port == c->local_port && p->remote_port == c->remote_port && ip_addr_cmp(&p->local_ip, &c->local) &&
           ip_addr_cmp(&p->remote_ip, &c->remote);
}

/* lwIP's PCB of the connection now, found by its addresses and ports: NULL when lwIP keeps none. */
struct tcp_pcb *find_pcb(const struct conn *c)
{
    for (struct tcp_pcb *p = tcp_active_pcbs; p != NULL; p = p->next)
        if (same_connection(p, c))
            return p;
    for (struct tcp_pcb *p = tcp_tw_pcbs; p != NULL; p = p->next)
        if (same_connection(p, c))
            return p;
    return NULL;
}

/* The slot's own PCB if lwIP still has it (else the slot forgets it). */
struct tcp_pcb *live_pcb(struct conn *c)
{
    if (c->pcb != NULL && find_pcb(c) != c->pcb)
        c->pcb = NULL;
    return c->pcb;
}

void forget_callbacks(struct tcp_pcb *pcb)
{
    tcp_arg(pcb, NULL);
    tcp_recv(pcb, NULL);
    tcp_err(pcb, NULL);
}

void free_conn(struct conn *c)
{
    if (c->rx != NULL)
        pbuf_free(c->rx);
    if (pending_conn == c)
        pending_conn = NULL;
    memset(c, 0, sizeof *c);
}

struct conn *new_conn(struct tcp_pcb *pcb, int family)
{
    for (int i = 0; i < MAX_CONNS; i++) {
        struct conn *c = &conns[i];
        if (c->handle != 0)
            continue;
        memset(c, 0, sizeof *c);
        c->handle = next_handle++;
        c->pcb = pcb;
        c->family = family;
        return c;
    }
    return NULL;
}

void take_addresses(struct conn *c)
{
    ip_addr_copy(c->local, c->pcb->local_ip);
    ip_addr_copy(c->remote, c->pcb->remote_ip);
    c->local_port = c->pcb->local_port;
    c->remote_port = c->pcb->remote_port;
}

err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    struct conn *c = arg;
    (void)pcb;
    (void)err;
    if (p == NULL) {
        if (c != NULL)
            c->eof = 1;
        return ERR_OK;
    }
    if (c == NULL) {  /* not ours (cannot happen: a closed handle's PCB has no callbacks) */
        pbuf_free(p);
        return ERR_OK;
    }
    if (c->rx != NULL && c->rx->tot_len + (u32_t)p->tot_len > 0xffff)
        return ERR_MEM;  /* a pbuf chain holds 64 KiB: lwIP keeps it and offers it again later */
    if (c->rx == NULL)
        c->rx = p;
    else
        pbuf_cat(c->rx, p);
    return ERR_OK;
}

/* lwIP freed the PCB: ERR_RST a RST came, ERR_ABRT its retransmissions or keep-alive probes
 * went unanswered (tcp_slowtmr()), ERR_CLSD it closed normally after the test shut down. */
void on_error(void *arg, err_t err)
{
    struct conn *c = arg;
    if (c == NULL)
        return;
    c->pcb = NULL;
    if (err == ERR_RST)
        c->failed = c->active && !c->established ? "refused" : "reset";
    else if (err != ERR_CLSD)
        c->failed = "timed_out";
}

err_t on_connected(void *arg, struct tcp_pcb *pcb, err_t err)
{
    struct conn *c = arg;
    (void)pcb;
    (void)err;
    if (c != NULL)
        c->established = 1;
    return ERR_OK;
}

static int queued(const struct listener *l)
{
    int n = 0;
    for (int i = 0; i < MAX_CONNS; i++)
        n += conns[i].handle != 0 && conns[i].queued_on == l;
    return n;
}

/* A connection completed the handshake on a listener. With a full backlog (or no slot left) it is
 * reset: lwIP's raw API cannot leave it half-open (Linux would drop the ACK instead). */
err_t on_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
    struct listener *l = arg;
    if (err != ERR_OK || pcb == NULL)
        return ERR_VAL;
    struct conn *c = l != NULL && l->pcb != NULL && queued(l) < l->backlog ? new_conn(pcb, l->family) : NULL;
    if (c == NULL) {
        tcp_abort(pcb);
        return ERR_ABRT;
    }
    take_addresses(c);
    c->queued_on = l;
    c->established = 1;
    tcp_arg(pcb, c);
    tcp_recv(pcb, on_recv);
    tcp_err(pcb, on_error);
    tcp_apply_options(pcb, &l->options);
    return ERR_OK;
}

/* ---- arguments and answers ------------------------------------------------------------------------ */
int family_of(cJSON *args, int *family)
{
    double f = 4;
    if (arg(args, "family") && !cJSON_IsNull(arg(args, "family")) && !arg_num(args, "family", &f))
        return 0;
    if (f != 4 && f != 6)
        return BAD("family must be 4 or 6, not %g", f), 0;
    *family = (int)f;
    return 1;
}

struct listener *listener_of(cJSON *args)
{
    u16_t port;
    int family;
    if (!arg_port(args, "port", &port) || !family_of(args, &family))
        return NULL;
    for (int i = 0; i < MAX_LISTENERS; i++)
        if (listeners[i].pcb != NULL && listeners[i].port == port && listeners[i].family == family)
            return &listeners[i];
    return BAD("no TCP listener on port %u (IPv%d): call tcp_listen first", port, family), NULL;
}

struct conn *conn_of(cJSON *args)
{
    cJSON *conn = arg(args, "conn");
    cJSON *handle = cJSON_IsObject(conn) ? cJSON_GetObjectItemCaseSensitive(conn, "handle") : NULL;
    if (!cJSON_IsNumber(handle))
        return BAD("conn must be a connection object with its handle"), NULL;
    for (int i = 0; i < MAX_CONNS; i++)
        if (conns[i].handle != 0 && conns[i].handle == handle->valuedouble && conns[i].queued_on == NULL)
            return &conns[i];
    return BAD("no TCP connection with handle %g in this test", handle->valuedouble), NULL;
}

cJSON *conn_object(const struct conn *c)
{
    char local[48], remote[48];
    address_text(&c->local, local, sizeof local);
    address_text(&c->remote, remote, sizeof remote);
    cJSON *r = cJSON_CreateObject();
    cJSON_AddNumberToObject(r, "handle", c->handle);
    cJSON_AddNumberToObject(r, "family", c->family);
    cJSON_AddStringToObject(r, "local", local);
    cJSON_AddNumberToObject(r, "local_port", c->local_port);
    cJSON_AddStringToObject(r, "remote", remote);
    cJSON_AddNumberToObject(r, "remote_port", c->remote_port);
    return r;
}

/* The PCB a verb may send or shut down on, or NULL with the tcp-error a socket call would give. */
struct tcp_pcb *usable(struct conn *c, const char *verb)
{
    if (c->closed)
        return tcp_error("closed", "%s: the handle was closed", verb), NULL;
    if (live_pcb(c) == NULL)
        return tcp_error(c->failed ? c->failed : "closed", "%s: %s", verb,
                         c->failed ? "lwIP ended the connection" : "the connection is closed"), NULL;
    return c->pcb;
}

/* Reset a connection now and forget its slot: lwIP's tcp_abort() sends the RST. */
void abort_conn(struct conn *c)
{
    if (live_pcb(c) != NULL) {
        forget_callbacks(c->pcb);
        tcp_abort(c->pcb);
    }
    free_conn(c);
}

/* reset: every connection and listener lwIP holds goes (connections with a RST, as Linux's
 * reset does), so nothing of this test retransmits into the next; then every slot. */
void close_tcp(void)
{
    while (tcp_active_pcbs != NULL) {
        forget_callbacks(tcp_active_pcbs);
        tcp_abort(tcp_active_pcbs);
    }
    while (tcp_tw_pcbs != NULL)
        tcp_abort(tcp_tw_pcbs);  /* TIME-WAIT: freed without a RST */
    while (tcp_listen_pcbs.listen_pcbs != NULL)
        tcp_close((struct tcp_pcb *)tcp_listen_pcbs.listen_pcbs);
    while (tcp_bound_pcbs != NULL)
        tcp_close(tcp_bound_pcbs);
    for (int i = 0; i < MAX_CONNS; i++) {
        if (conns[i].rx != NULL)
            pbuf_free(conns[i].rx);
    }
    memset(conns, 0, sizeof conns);
    memset(listeners, 0, sizeof listeners);
    next_handle = 1;
    pending_conn = NULL;
    pending_listener = NULL;
}
