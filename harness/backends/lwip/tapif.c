/*
 * An lwIP netif over a TAP file descriptor (our own, instead of lwIP's contrib tapif, which
 * hard-codes its MAC address and configures the host side with ifconfig).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "lwip/etharp.h"
#include "lwip/ethip6.h"
#include "lwip/pbuf.h"
#include "lwip/tcpip.h"
#include "netif/ethernet.h"

#include "agent.h"

#define MAX_FRAME 65536

static u8_t out_frame[MAX_FRAME];
static u8_t in_frame[MAX_FRAME];

int tap_open(const char *name)
{
    struct ifreq ifr;
    int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK);
    if (fd < 0) {
        fprintf(stderr, "error: cannot open /dev/net/tun: %s\n", strerror(errno));
        return -1;
    }
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        fprintf(stderr, "error: cannot attach to TAP device %s: %s\n", name, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static err_t tap_linkoutput(struct netif *netif, struct pbuf *p)
{
    int fd = *(int *)netif->state;
    u16_t len = pbuf_copy_partial(p, out_frame, (u16_t)(sizeof out_frame - 1), 0);
    /* A full queue or a down link loses the frame, as a real wire would. */
    if (write(fd, out_frame, len) < 0)
        return ERR_IF;
    return ERR_OK;
}

err_t tap_netif_init(struct netif *netif)
{
    netif->name[0] = 't';
    netif->name[1] = 'p';
    netif->output = etharp_output;
    netif->output_ip6 = ethip6_output;
    netif->linkoutput = tap_linkoutput;
    netif->mtu = config.mtu;
    netif->mtu6 = config.mtu;
    netif->hwaddr_len = 6;
    memcpy(netif->hwaddr, config.mac, 6);
    netif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET | NETIF_FLAG_IGMP |
                   NETIF_FLAG_MLD6;
    return ERR_OK;
}

/* Read every frame waiting on the TAP and hand it to lwIP (core lock held by the caller).
 * Received frames are PBUF_RAM: Debian's liblwip0 hands out PBUF_POOL blocks smaller than the
 * segment size it fills, so a pool pbuf for a full-size frame overruns the heap. */
void tap_input(struct netif *netif, int fd)
{
    for (int budget = 0; budget < 64; budget++) {
        ssize_t n = read(fd, in_frame, sizeof in_frame);
        if (n <= 0)
            return;
        struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)n, PBUF_RAM);
        if (p == NULL)
            continue;
        pbuf_take(p, in_frame, (u16_t)n);
        if (netif->input(p, netif) != ERR_OK)
            pbuf_free(p);
    }
}
