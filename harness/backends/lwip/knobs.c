/*
 * hello, the common baseline and reset, the verb table, and the knobs: forwarding, routes,
 * MTU, ICMP, the per-interface IPv6 options, the link flap.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <string.h>

#include "lwip/init.h"

#include "lwip/etharp.h"
#include "lwip/ip4_frag.h"
#include "lwip/ip6_frag.h"
#include "lwip/mld6.h"
#include "lwip/nd6.h"
#include "lwip/priv/nd6_priv.h"

#include "agent.h"

static int router_solicitations;  /* sent on link-up (restart_link); the baseline is none */

static const char *const served[] = {
    "reset", "add_address", "remove_address", "udp_bind", "udp_recv", "udp_send", "udp_close", "udp_recvmsg",
    "udp_sendmsg", "join_group", "leave_group", "set_forwarding", "add_route", "remove_route", "set_link_mtu",
    "set_icmp_rate_limit", "set_echo_ignore_broadcasts", "set_accept_source_route", "set_ipv6_option",
    "restart_link", "ipv6_addresses", "tcp_listen", "tcp_accept", "tcp_close_listener", "tcp_connect", "tcp_send",
    "tcp_recv", "tcp_shutdown", "tcp_close", "tcp_abort", "tcp_set_option", "tcp_state", NULL};

/* What lwIP 2.1.3 as Debian builds it implements of the optional features (protocol.FEATURES):
 * MLDv1 only (mld6.c), IGMPv1/v2 (igmp.c), SLAAC (LWIP_IPV6_AUTOCONFIG). Not: Record Route or
 * Timestamp (ip4.c skips every option), jumbograms, broadcast or multicast echo replies
 * (LWIP_BROADCAST_PING=0, LWIP_MULTICAST_PING=0), forwarding on the test link (it never sends a
 * packet back out of the interface it came in on), temporary or stable addresses, RFC 4191. */
static const char *const features[] = {"mldv1", "igmpv1", "igmpv2", "slaac", NULL};

static const char *const lacks[][2] = {
    {"set_timer", "lwIP's reassembly timeouts are compile-time constants (IP_REASS_MAXAGE=15 s, "
                  "IPV6_REASS_MAXAGE=60 s in Debian's build)"},
    {"set_default_ttl", "lwIP's default TTL and Hop Limit are 255 (IP_DEFAULT_TTL, which ICMP_TTL, UDP_TTL and "
                        "TCP_TTL follow, and IP6_HOPLIM), fixed when it is built"},
    /* icmp.c counts and drops Destination Unreachable, Time Exceeded, Parameter Problem and
     * Source Quench; icmp6.c passes only Packet Too Big on, to its path MTU cache. */
    {"udp_errors", "lwIP 2.1 tells a UDP PCB of no ICMP or ICMPv6 error: its raw UDP API has no error callback "
                   "(icmp.c and icmp6.c drop the errors after counting them), so what RFC 1122 4.1.3.3 asks UDP "
                   "to pass to the application cannot be observed"},
    {NULL, NULL}};

cJSON *agent_hello(cJSON *args)
{
    cJSON *versions = arg(args, "versions");
    int one = !versions;
    cJSON *v;
    cJSON_ArrayForEach(v, versions) one |= cJSON_IsNumber(v) && v->valuedouble == 1;
    if (!one) {
        verb_error("version", "this agent speaks protocol version 1 only");
        return NULL;
    }
    cJSON *r = cJSON_CreateObject();
    cJSON_AddNumberToObject(r, "protocol", 1);
    cJSON *agent = cJSON_AddObjectToObject(r, "agent");
    cJSON_AddStringToObject(agent, "name", AGENT_NAME);
    cJSON_AddStringToObject(agent, "version", AGENT_VERSION " (lwIP " LWIP_VERSION_STRING ")");
    cJSON *verbs = cJSON_AddArrayToObject(r, "verbs");
    cJSON_AddItemToArray(verbs, cJSON_CreateString("hello"));
    for (int i = 0; served[i]; i++)
        cJSON_AddItemToArray(verbs, cJSON_CreateString(served[i]));
    cJSON *f = cJSON_AddArrayToObject(r, "features");
    for (int i = 0; features[i]; i++)
        cJSON_AddItemToArray(f, cJSON_CreateString(features[i]));
    cJSON *l = cJSON_AddObjectToObject(r, "lacks");
    for (int i = 0; lacks[i][0]; i++)
        cJSON_AddStringToObject(l, lacks[i][0], lacks[i][1]);
    cJSON *t = cJSON_AddObjectToObject(r, "timers");
    cJSON_AddNumberToObject(t, "ipv4_reassembly_timeout", IP_REASS_MAXAGE * IP_TMR_INTERVAL / 1000.0);
    cJSON_AddNumberToObject(t, "ipv6_reassembly_timeout", IPV6_REASS_MAXAGE * IP6_REASS_TMR_INTERVAL / 1000.0);
    return r;
}

/* Reports for the groups just joined are due on lwIP's next MLD tick instead of up to
 * MLD6_JOIN_DELAYING_MEMBER_TMR later, so they are sent before the ready line or reset's
 * answer and do not land in the next test (the in-process backend shortens its report
 * interval for the same reason). */
static void reports_now(void)
{
    for (struct mld_group *g = netif_mld6_data(&dut); g != NULL; g = g->next)
        if (g->timer > 1)
            g->timer = 1;
}

int reports_pending(void)
{
    for (struct mld_group *g = netif_mld6_data(&dut); g != NULL; g = g->next)
        if (g->timer > 0)
            return 1;
    return 0;
}

/* The common baseline: the test link's addresses usable at once (no DAD), no Router
 * Solicitations, SLAAC on, everything else lwIP's defaults. */
void agent_baseline(void)
{
    netif_set_default(&dut);
    netif_set_addr(&dut, &config.ipv4, &config.netmask, IP4_ADDR_ANY4);
    for (s8_t i = 0; i < LWIP_IPV6_NUM_ADDRESSES; i++)
        netif_ip6_addr_set_state(&dut, i, IP6_ADDR_INVALID);
    netif_create_ip6_linklocal_address(&dut, 1);
    netif_ip6_addr_set_state(&dut, 0, IP6_ADDR_PREFERRED);
    if (config.have_ipv6) {
        s8_t i;
        if (netif_add_ip6_address(&dut, &config.ipv6, &i) == ERR_OK)
            netif_ip6_addr_set_state(&dut, i, IP6_ADDR_PREFERRED);
    }
    dut.ip6_autoconfig_enabled = 1;
    dut.mtu = dut.mtu6 = config.mtu;
    reachable_time = LWIP_ND6_REACHABLE_TIME;
    retrans_timer = LWIP_ND6_RETRANS_TIMER;
    router_solicitations = 0;
    netif_set_up(&dut);
    netif_set_link_up(&dut);
    dut.rs_count = 0;
    reports_now();
}

static cJSON *reset(void)
{
    close_tcp();
    close_udp_sockets();
    leave_groups();
    etharp_cleanup_netif(&dut);
    nd6_cleanup_netif(&dut);  /* neighbors, routers, prefixes, destinations */
    agent_baseline();
    return cJSON_CreateNull();
}

static cJSON *set_forwarding(cJSON *args)
{
    double family;
    int enabled;
    if (!arg_num(args, "family", &family) || !arg_bool(args, "enabled", &enabled))
        return NULL;
    if (enabled)
        return UNSUPPORTED("lwIP never forwards a packet out of the interface it came in on "
                           "(IP_FORWARD_ALLOW_TX_ON_RX_NETIF=0), and the test link is its only interface");
    return cJSON_CreateNull();  /* with one interface it forwards nothing: forwarding is off */
}

static cJSON *route(cJSON *args, int add)
{
    const char *cidr, *via = NULL;
    ip_addr_t net, gw;
    int len;
    if (!arg_str(args, "cidr", &cidr) || !parse_cidr(cidr, &net, &len))
        return NULL;
    cJSON *v = arg(args, "via"), *mtu = arg(args, "mtu");
    if (add && v && !cJSON_IsNull(v) && !arg_str(args, "via", &via))
        return NULL;
    int default4 = IP_IS_V4(&net) && len == 0;
    if (!default4 || (add && (via == NULL || (mtu && !cJSON_IsNull(mtu)))))
        return UNSUPPORTED("lwIP has no routing table: off-link IPv4 goes to the interface's one gateway "
                           "(add_route 0.0.0.0/0 via G sets it), IPv6 only where Router Advertisements say");
    if (add && (!ipaddr_aton(via, &gw) || !IP_IS_V4(&gw)))
        return BAD("via must be an IPv4 address");
    netif_set_gw(&dut, add ? ip_2_ip4(&gw) : IP4_ADDR_ANY4);
    return cJSON_CreateNull();
}

static cJSON *set_link_mtu(cJSON *args)
{
    double mtu;
    if (!arg_num(args, "mtu", &mtu))
        return NULL;
    if (mtu < 68 || mtu > 65535)
        return BAD("an MTU is between 68 and 65535, got %g", mtu);
    dut.mtu = dut.mtu6 = (u16_t)mtu;
    return cJSON_CreateNull();
}

static cJSON *set_icmp_rate_limit(cJSON *args)
{
    double family, rate, burst;
    if (!arg_num(args, "family", &family) || !arg_num(args, "per_second", &rate) || !arg_num(args, "burst", &burst))
        return NULL;
    if (rate != 0)
        return UNSUPPORTED("lwIP 2.1 does not rate-limit ICMP errors (only unlimited, per_second=0, is its setting)");
    return cJSON_CreateNull();
}

static cJSON *set_echo_ignore_broadcasts(cJSON *args)
{
    int ignore;
    if (!arg_bool(args, "ignore", &ignore))
        return NULL;
    if (!ignore)
        return UNSUPPORTED("lwIP is built with LWIP_BROADCAST_PING=0: it never answers echo requests to broadcast");
    return cJSON_CreateNull();
}

/* lwIP ignores IPv4 options: a source-routed datagram addressed to it is delivered as if it
 * carried no option (so it is "accepted"), whether or not its route is complete; there is no
 * setting that drops such datagrams. */
static cJSON *set_accept_source_route(cJSON *args)
{
    int accept;
    if (!arg_bool(args, "accept", &accept))
        return NULL;
    if (!accept)
        return UNSUPPORTED("lwIP ignores IPv4 options: it delivers a source-routed datagram addressed to it as "
                           "if it carried no option, and has no setting that drops such datagrams");
    return cJSON_CreateNull();
}

/* An option lwIP fixes at build time: accepted when asked for the build's value. */
static cJSON *fixed(const char *name, double value, double build, const char *why)
{
    if (value == build)
        return cJSON_CreateNull();
    return UNSUPPORTED("lwIP's %s is %g, fixed when it is built (%s)", name, build, why);
}

static cJSON *set_ipv6_option(cJSON *args)
{
    const char *name;
    double value;
    if (!arg_str(args, "name", &name))
        return NULL;
    if (strcmp(name, "stable_secret") == 0)
        return UNSUPPORTED("lwIP forms EUI-64 interface identifiers only (no RFC 7217 stable identifiers)");
    if (!arg_num(args, "value", &value))
        return NULL;
    if (strcmp(name, "autoconf") == 0) {
        dut.ip6_autoconfig_enabled = value != 0;
        return cJSON_CreateNull();
    }
    if (strcmp(name, "router_solicitations") == 0) {
        if (value < 0 || value > 255)
            return BAD("router_solicitations is 0-255");
        router_solicitations = (int)value;  /* sent on the next link-up */
        return cJSON_CreateNull();
    }
    if (strcmp(name, "base_reachable_time") == 0) {
        if (value <= 0)
            return BAD("%s must be positive seconds", name);
        reachable_time = (u32_t)(value * 1000);  /* what nd6.c gives each new REACHABLE entry */
        return cJSON_CreateNull();
    }
    if (strcmp(name, "retrans_time") == 0)  /* nd6.c keeps retrans_timer but never reads it */
        return fixed(name, value, ND6_TMR_INTERVAL / 1000.0, "solicitations go out on its 1-s ND timer tick");
    if (strcmp(name, "accept_ra") == 0)
        return fixed(name, value, 1, "it always processes Router Advertisements");
    if (strcmp(name, "accept_dad") == 0)
        return fixed(name, value, 1, "it runs DAD on every address it forms itself");
    if (strcmp(name, "dad_transmits") == 0)
        return fixed(name, value, LWIP_IPV6_DUP_DETECT_ATTEMPTS, "LWIP_IPV6_DUP_DETECT_ATTEMPTS");
    if (strcmp(name, "rtr_solicit_interval") == 0)
        return fixed(name, value, ND6_RTR_SOLICITATION_INTERVAL / 1000.0, "ND6_RTR_SOLICITATION_INTERVAL");
    if (strcmp(name, "use_tempaddr") == 0)
        return fixed(name, value, 0, "lwIP 2.1 has no RFC 8981 temporary addresses");
    if (strcmp(name, "addr_gen_mode") == 0)
        return fixed(name, value, 0, "lwIP forms EUI-64 interface identifiers only");
    if (strcmp(name, "force_mld_version") == 0)
        return value == 2 ? UNSUPPORTED("lwIP 2.1 implements MLDv1 only (RFC 2710)") : cJSON_CreateNull();
    if (strcmp(name, "delay_first_probe_time") == 0)
        return fixed(name, value, LWIP_ND6_DELAY_FIRST_PROBE_TIME / 1000.0, "LWIP_ND6_DELAY_FIRST_PROBE_TIME");
    if (strcmp(name, "mcast_solicit") == 0)
        return fixed(name, value, LWIP_ND6_MAX_MULTICAST_SOLICIT, "LWIP_ND6_MAX_MULTICAST_SOLICIT");
    if (strcmp(name, "ucast_solicit") == 0)
        return fixed(name, value, LWIP_ND6_MAX_UNICAST_SOLICIT, "LWIP_ND6_MAX_UNICAST_SOLICIT");
    if (strcmp(name, "accept_ra_rt_info_max_plen") == 0)
        return fixed(name, value, 0, "it ignores Route Information options");
    if (strcmp(name, "temp_valid_lft") == 0 || strcmp(name, "temp_prefered_lft") == 0)
        return UNSUPPORTED("lwIP 2.1 has no RFC 8981 temporary addresses");
    if (strcmp(name, "rtr_solicit_delay") == 0 || strcmp(name, "mldv1_unsolicited_report_interval") == 0 ||
        strcmp(name, "mldv2_unsolicited_report_interval") == 0 || strcmp(name, "max_addresses") == 0 ||
        strcmp(name, "max_dst_opts_number") == 0 || strcmp(name, "max_hbh_opts_number") == 0 ||
        strcmp(name, "max_dst_opts_length") == 0 || strcmp(name, "max_hbh_length") == 0 ||
        strcmp(name, "ndisc_notify") == 0 || strcmp(name, "mldv1_done_suppression") == 0 ||
        strcmp(name, "send_dest_unreachable") == 0)
        return UNSUPPORTED("lwIP has no setting for %s", name);
    return BAD("unknown IPv6 option %s", name);
}

static cJSON *restart_link(void)
{
    netif_set_link_down(&dut);
    netif_set_link_up(&dut);
    dut.rs_count = (u8_t)router_solicitations;
    return cJSON_CreateNull();
}

/* Arguments a verb takes; any other is refused as bad-arguments. */
static const struct {
    const char *verb;
    const char *args[9];
} signatures[] = {
    {"reset", {NULL}}, {"add_address", {"cidr", "dad", "valid_lifetime", "preferred_lifetime", NULL}},
    {"remove_address", {"cidr", NULL}}, {"udp_bind", {"port", "family", NULL}},
    {"udp_recv", {"port", "within", NULL}}, {"udp_send", {"port", "data", "dst", "dport", NULL}},
    {"udp_recvmsg", {"port", "within", NULL}},
    {"udp_sendmsg", {"port", "data", "dst", "dport", "src", "ttl", "tos", "options", NULL}},
    {"udp_close", {"port", NULL}}, {"join_group", {"group", NULL}}, {"leave_group", {"group", NULL}},
    {"tcp_listen", {"port", "family", "backlog", "options", NULL}}, {"tcp_accept", {"port", "family", "within", NULL}},
    {"tcp_close_listener", {"port", "family", NULL}}, {"tcp_connect", {"dst", "dport", "sport", "options", NULL}},
    {"tcp_send", {"conn", "data", NULL}}, {"tcp_recv", {"conn", "max", "within", NULL}},
    {"tcp_shutdown", {"conn", NULL}}, {"tcp_close", {"conn", NULL}}, {"tcp_abort", {"conn", NULL}},
    {"tcp_set_option", {"conn", "name", "value", NULL}}, {"tcp_state", {"conn", NULL}},
    {"set_forwarding", {"family", "enabled", NULL}}, {"add_route", {"cidr", "via", "mtu", NULL}},
    {"remove_route", {"cidr", NULL}}, {"set_link_mtu", {"mtu", NULL}},
    {"set_icmp_rate_limit", {"family", "per_second", "burst", NULL}},
    {"set_echo_ignore_broadcasts", {"ignore", NULL}}, {"set_accept_source_route", {"accept", NULL}},
    {"set_ipv6_option", {"name", "value", NULL}},
    {"restart_link", {NULL}}, {"ipv6_addresses", {NULL}}, {NULL, {NULL}}};

static int known_arguments(const char *verb, cJSON *args)
{
    for (int i = 0; signatures[i].verb; i++) {
        if (strcmp(signatures[i].verb, verb) != 0)
            continue;
        cJSON *a;
        cJSON_ArrayForEach(a, args) {
            int known = strncmp(a->string, "x-", 2) == 0;  /* extensions it does not know: ignored */
            for (int j = 0; signatures[i].args[j]; j++)
                known |= strcmp(signatures[i].args[j], a->string) == 0;
            if (!known)
                return BAD("%s takes no argument %s", verb, a->string), 0;
        }
        return 1;
    }
    return 1;
}

cJSON *agent_call(const char *verb, cJSON *args, double *wait_until)
{
    for (int i = 0; lacks[i][0]; i++)
        if (strcmp(verb, lacks[i][0]) == 0)
            return UNSUPPORTED("%s", lacks[i][1]);
    if (!known_arguments(verb, args))
        return NULL;
#define IS(name) (strcmp(verb, name) == 0)
    if (IS("reset")) return reset();
    if (IS("add_address")) return add_address(args);
    if (IS("remove_address")) return remove_address(args);
    if (IS("ipv6_addresses")) return ipv6_addresses(args);
    if (IS("udp_bind")) return udp_bind_verb(args);
    if (IS("udp_recv")) return udp_recv_verb(args, wait_until, 0);
    if (IS("udp_recvmsg")) return udp_recv_verb(args, wait_until, 1);
    if (IS("udp_send")) return udp_send_verb(args, 0);
    if (IS("udp_sendmsg")) return udp_send_verb(args, 1);
    if (IS("udp_close")) return udp_close_verb(args);
    if (IS("tcp_listen")) return tcp_listen_verb(args);
    if (IS("tcp_accept")) return tcp_accept_verb(args, wait_until);
    if (IS("tcp_close_listener")) return tcp_close_listener_verb(args);
    if (IS("tcp_connect")) return tcp_connect_verb(args);
    if (IS("tcp_send")) return tcp_send_verb(args);
    if (IS("tcp_recv")) return tcp_recv_verb(args, wait_until);
    if (IS("tcp_shutdown")) return tcp_end_verb(args, "shutdown");
    if (IS("tcp_close")) return tcp_end_verb(args, "close");
    if (IS("tcp_abort")) return tcp_end_verb(args, "abort");
    if (IS("tcp_set_option")) return tcp_set_option_verb(args);
    if (IS("tcp_state")) return tcp_state_verb(args);
    if (IS("join_group")) return group_verb(args, 1);
    if (IS("leave_group")) return group_verb(args, 0);
    if (IS("set_forwarding")) return set_forwarding(args);
    if (IS("add_route")) return route(args, 1);
    if (IS("remove_route")) return route(args, 0);
    if (IS("set_link_mtu")) return set_link_mtu(args);
    if (IS("set_icmp_rate_limit")) return set_icmp_rate_limit(args);
    if (IS("set_echo_ignore_broadcasts")) return set_echo_ignore_broadcasts(args);
    if (IS("set_accept_source_route")) return set_accept_source_route(args);
    if (IS("set_ipv6_option")) return set_ipv6_option(args);
    if (IS("restart_link")) return restart_link();
#undef IS
    verb_error("unknown-verb", "the lwIP agent has no verb %s", verb);
    return NULL;
}
