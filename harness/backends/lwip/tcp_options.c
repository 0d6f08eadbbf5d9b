/*
 * The TCP socket options of the control protocol (harness.dut.TCPOption) on lwIP's raw TCP
 * PCBs, and the names of lwIP's TCP states as RFC 9293 spells them.
 *
 * Values arrive in the harness's units (seconds, octets, bools) and are checked against the
 * bounds Linux's setsockopt(2) takes (a value no socket takes is bad-arguments). What lwIP
 * fixes when it is built is accepted when asked for a value the build already meets and
 * refused as unsupported otherwise, naming the setting.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <math.h>
#include <string.h>

#include "lwip/ip.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/tcp.h"

#include "tcp_agent.h"

enum unit { FLAG, SECONDS, COUNT, OCTETS };

static const struct {
    const char *name;
    enum unit unit;
    double low, high;  /* Linux's bounds (TCP_MIN_MSS, MAX_TCP_KEEPIDLE, MAX_TCP_KEEPCNT, ...) */
} known[] = {
    [TCP_OPT_NODELAY] = {"nodelay", FLAG, 0, 1},
    [TCP_OPT_KEEPALIVE] = {"keepalive", FLAG, 0, 1},
    [TCP_OPT_KEEPIDLE] = {"keepidle", SECONDS, 1, 32767},
    [TCP_OPT_KEEPINTVL] = {"keepintvl", SECONDS, 1, 32767},
    [TCP_OPT_KEEPCNT] = {"keepcnt", COUNT, 1, 127},
    [TCP_OPT_MAXSEG] = {"maxseg", COUNT, 88, 32767},
    [TCP_OPT_RCVBUF] = {"rcvbuf", OCTETS, 1, 2147483647.0},
    [TCP_OPT_SNDBUF] = {"sndbuf", OCTETS, 1, 2147483647.0},
    [TCP_OPT_USER_TIMEOUT] = {"user_timeout", SECONDS, 0, 2147483.0},
    [TCP_OPT_TOS] = {"tos", COUNT, 0, 255},
    [TCP_OPT_TTL] = {"ttl", COUNT, 1, 255},
};
#define NOPTIONS TCP_NOPTIONS

/* What the build fixes: refuse what it cannot meet, with the setting's name. */
static int fixed_by_build(int option, double value, int listener)
{
    switch (option) {
    case TCP_OPT_MAXSEG:
        if (value != TCP_MSS)
            return UNSUPPORTED("lwIP's MSS is TCP_MSS=%d, fixed when it is built: it announces and sends "
                               "segments of that size (less on a smaller link MTU), not %g", TCP_MSS, value), 0;
        return 1;
    case TCP_OPT_RCVBUF:
        if (value < TCP_WND)
            return UNSUPPORTED("lwIP's receive window is TCP_WND=%d octets, fixed when it is built: it cannot "
                               "offer the smaller window a %g-octet receive buffer bounds", TCP_WND, value), 0;
        return 1;
    case TCP_OPT_SNDBUF:
        if (value < TCP_SND_BUF)
            return UNSUPPORTED("lwIP's send buffer is TCP_SND_BUF=%d octets, fixed when it is built, not %g",
                               TCP_SND_BUF, value), 0;
        return 1;
    case TCP_OPT_USER_TIMEOUT:
        if (value != 0)
            return UNSUPPORTED("lwIP has no user timeout: it drops a connection after TCP_MAXRTX=%d "
                               "retransmissions, fixed when it is built", TCP_MAXRTX), 0;
        return 1;
    case TCP_OPT_TOS:
    case TCP_OPT_TTL:
        /* tcp_listen_input() copies only so_options to a new connection: the SYN-ACK and what
         * follows would leave with lwIP's defaults whatever the listener was given. */
        if (listener)
            return UNSUPPORTED("lwIP does not pass a listening PCB's %s to the connections it accepts "
                               "(tcp_listen_input() copies only so_options): set it on the connection",
                               option == TCP_OPT_TOS ? "TOS" : "TTL"), 0;
        return 1;
    default:
        return 1;
    }
}

int tcp_parse_option(const char *name, cJSON *value, struct tcp_options *into, int listener)
{
    int option = -1;
    for (int i = 0; i < NOPTIONS; i++)
        if (strcmp(known[i].name, name) == 0)
            option = i;
    if (option < 0)
        return BAD("unknown TCP option %s", name), 0;
    double v;
    if (known[option].unit == FLAG && cJSON_IsBool(value))
        v = cJSON_IsTrue(value);
    else if (cJSON_IsNumber(value) && !cJSON_IsBool(value))
        v = value->valuedouble;
    else
        return BAD("TCP option %s takes a %s", name, known[option].unit == FLAG ? "bool" : "number"), 0;
    if (known[option].unit == FLAG)
        v = v != 0;
    else if (known[option].unit == SECONDS && option != TCP_OPT_USER_TIMEOUT)
        v = ceil(v);  /* whole seconds rounded up, as Linux takes TCP_KEEPIDLE and TCP_KEEPINTVL */
    else if (known[option].unit != SECONDS && v != floor(v))
        return BAD("TCP option %s takes a whole number, not %g", name, v), 0;
    if (v < known[option].low || v > known[option].high)
        return BAD("TCP option %s=%g is outside what a socket takes (%g..%g)", name, v, known[option].low,
                   known[option].high), 0;
    if (!fixed_by_build(option, v, listener))
        return 0;
    into->set |= 1u << option;
    into->value[option] = known[option].unit == SECONDS ? (u32_t)(v * 1000) : (u32_t)v;
    return 1;
}

/* The `options` argument of tcp_listen and tcp_connect: an object of option -> value, or null. */
int tcp_parse_options(cJSON *args, struct tcp_options *into, int listener)
{
    cJSON *options = arg(args, "options"), *o;
    memset(into, 0, sizeof *into);
    if (options == NULL || cJSON_IsNull(options))
        return 1;
    if (!cJSON_IsObject(options))
        return BAD("options must be an object of TCP option names and values, or null"), 0;
    cJSON_ArrayForEach(o, options) if (!tcp_parse_option(o->string, o, into, listener)) return 0;
    return 1;
}

void tcp_apply_options(struct tcp_pcb *pcb, const struct tcp_options *o)
{
#define SET(option) (o->set & (1u << (option)))
    if (SET(TCP_OPT_NODELAY)) {
        if (o->value[TCP_OPT_NODELAY])
            tcp_nagle_disable(pcb);
        else
            tcp_nagle_enable(pcb);
    }
    if (SET(TCP_OPT_KEEPALIVE)) {
        if (o->value[TCP_OPT_KEEPALIVE])
            ip_set_option(pcb, SOF_KEEPALIVE);
        else
            ip_reset_option(pcb, SOF_KEEPALIVE);
    }
    if (SET(TCP_OPT_KEEPIDLE))
        pcb->keep_idle = o->value[TCP_OPT_KEEPIDLE];
    if (SET(TCP_OPT_KEEPINTVL))
        pcb->keep_intvl = o->value[TCP_OPT_KEEPINTVL];
    if (SET(TCP_OPT_KEEPCNT))
        pcb->keep_cnt = o->value[TCP_OPT_KEEPCNT];
    /* The two ECN bits stay TCP's own (as Linux keeps them for a stream socket); lwIP's are 0. */
    if (SET(TCP_OPT_TOS))
        pcb->tos = (u8_t)(o->value[TCP_OPT_TOS] & 0xfc);
    if (SET(TCP_OPT_TTL))
        pcb->ttl = (u8_t)o->value[TCP_OPT_TTL];
#undef SET
}

const char *tcp_state_name(int state)
{
    static const char *const names[] = {
        [CLOSED] = "CLOSED", [LISTEN] = "LISTEN", [SYN_SENT] = "SYN-SENT", [SYN_RCVD] = "SYN-RECEIVED",
        [ESTABLISHED] = "ESTABLISHED", [FIN_WAIT_1] = "FIN-WAIT-1", [FIN_WAIT_2] = "FIN-WAIT-2",
        [CLOSE_WAIT] = "CLOSE-WAIT", [CLOSING] = "CLOSING", [LAST_ACK] = "LAST-ACK", [TIME_WAIT] = "TIME-WAIT",
    };
    return state >= 0 && state < (int)(sizeof names / sizeof names[0]) && names[state] ? names[state] : "CLOSED";
}
