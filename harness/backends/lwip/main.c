/*
 * stackcheck-lwip-agent main: arguments, lwIP start-up, the poll loop over the TAP and the
 * control socket (JSON lines, docs/control-protocol.md).
 *
 *   stackcheck-lwip-agent --tap NAME --control PATH --mac 02:00:00:00:00:01 \
 *       --ipv4 198.51.100.1/24 --ipv6 2001:db8:1::1/64 [--mtu 1500]
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "lwip/init.h"
#include "lwip/tcpip.h"
#include "netif/ethernet.h"

#include "agent.h"

#define MAX_LINE (1 << 20)

struct agent_config config = {.mtu = 1500};
struct netif dut;

static volatile sig_atomic_t stopping;
static int client = -1;
static char *inbuf;
static size_t inlen;
static cJSON *pending_id;  /* the request id of a verb still waiting (udp_recv, tcp_recv, ...), or NULL */
static double pending_until;

double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

static int usage(const char *why)
{
    fprintf(stderr, "error: %s\nusage: stackcheck-lwip-agent --tap NAME --control PATH --mac MAC "
                    "--ipv4 ADDR/LEN --ipv6 ADDR/64 [--mtu N]\n", why);
    return 2;
}

static int parse_mac(const char *text, u8_t mac[6])
{
    unsigned int b[6];
    if (sscanf(text, "%2x:%2x:%2x:%2x:%2x:%2x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6)
        return 0;
    for (int i = 0; i < 6; i++)
        mac[i] = (u8_t)b[i];
    return 1;
}

static int parse_args(int argc, char **argv)
{
    for (int i = 1; i < argc; i += 2) {
        const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (val == NULL)
            return usage("every option takes a value");
        if (strcmp(opt, "--tap") == 0) {
            config.tap = val;
        } else if (strcmp(opt, "--control") == 0) {
            config.control = val;
        } else if (strcmp(opt, "--mac") == 0) {
            if (!parse_mac(val, config.mac))
                return usage("--mac is not a MAC address like 02:00:00:00:00:01");
        } else if (strcmp(opt, "--mtu") == 0) {
            config.mtu = (u16_t)atoi(val);
            if (config.mtu < 576)
                return usage("--mtu must be 576 or more");
        } else if (strcmp(opt, "--ipv4") == 0 || strcmp(opt, "--ipv6") == 0) {
            char addr[64];
            const char *slash = strchr(val, '/');
            int len = slash ? atoi(slash + 1) : -1;
            snprintf(addr, sizeof addr, "%.*s", slash ? (int)(slash - val) : (int)strlen(val), val);
            if (opt[5] == '4') {
                if (len < 0 || len > 32 || !ip4addr_aton(addr, &config.ipv4))
                    return usage("--ipv4 is not an address with prefix length like 198.51.100.1/24");
                config.netmask.addr = len ? lwip_htonl(0xffffffffUL << (32 - len)) : 0;
                config.have_ipv4 = 1;
            } else {
                if (len != 64 || !ip6addr_aton(addr, &config.ipv6))
                    return usage("--ipv6 must be an address with prefix length 64 (lwIP keeps no other)");
                config.have_ipv6 = 1;
            }
        } else {
            return usage("unknown option");
        }
    }
    if (config.tap == NULL || config.control == NULL)
        return usage("--tap and --control are required");
    return 0;
}

static int listen_on(const char *path)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sun.sun_path) {
        fprintf(stderr, "error: control socket path too long: %s\n", path);
        return -1;
    }
    strcpy(sun.sun_path, path);
    unlink(path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof sun) < 0 || listen(fd, 4) < 0) {
        fprintf(stderr, "error: cannot listen on %s: %s\n", path, strerror(errno));
        return -1;
    }
    return fd;
}

static void settle(int tap);

static void send_message(cJSON *message)
{
    char *text = cJSON_PrintUnformatted(message);
    if (text != NULL && client >= 0) {
        size_t len = strlen(text);
        text[len] = '\n';  /* cJSON's buffer holds the terminating NUL: reuse it for the newline */
        size_t off = 0;
        while (off < len + 1) {
            ssize_t n = write(client, text + off, len + 1 - off);
            if (n <= 0)
                break;
            off += (size_t)n;
        }
    }
    free(text);
    cJSON_Delete(message);
}

static cJSON *answer(cJSON *id, cJSON *result)
{
    cJSON *m = cJSON_CreateObject();
    cJSON_AddItemToObject(m, "id", id ? cJSON_Duplicate(id, 1) : cJSON_CreateNull());
    cJSON_AddBoolToObject(m, "ok", 1);
    cJSON_AddItemToObject(m, "result", result);
    return m;
}

/* An error answer; a tcp-error also carries the failure's kind (docs/control-protocol.md). */
static cJSON *failure(cJSON *id, const char *code, const char *message)
{
    cJSON *m = cJSON_CreateObject();
    cJSON_AddItemToObject(m, "id", id ? cJSON_Duplicate(id, 1) : cJSON_CreateNull());
    cJSON_AddBoolToObject(m, "ok", 0);
    cJSON *e = cJSON_AddObjectToObject(m, "error");
    cJSON_AddStringToObject(e, "code", code);
    cJSON_AddStringToObject(e, "message", message);
    if (error_kind != NULL && strcmp(code, "tcp-error") == 0)
        cJSON_AddStringToObject(e, "kind", error_kind);
    return m;
}

static cJSON *verb_failure(cJSON *id)
{
    return failure(id, error_code ? error_code : "failed", error_message);
}

static void handle_line(char *line, int tap)
{
    cJSON *req = cJSON_Parse(line);
    if (req == NULL || !cJSON_IsObject(req)) {
        send_message(failure(NULL, "bad-request", req ? "a message is a JSON object" : "not JSON"));
        cJSON_Delete(req);
        return;
    }
    cJSON *id = cJSON_GetObjectItemCaseSensitive(req, "id");
    cJSON *verb = cJSON_GetObjectItemCaseSensitive(req, "verb");
    cJSON *args = cJSON_GetObjectItemCaseSensitive(req, "args");
    if (!cJSON_IsString(verb) || verb->valuestring[0] == '\0') {
        send_message(failure(id, "bad-request", "a request needs \"verb\", a non-empty string"));
    } else if (args != NULL && !cJSON_IsObject(args)) {
        send_message(failure(id, "bad-request", "\"args\" must be a JSON object of named arguments"));
    } else {
        cJSON *empty = cJSON_CreateObject();
        double wait_until = 0;
        cJSON *result;
        error_code = NULL;
        LOCK_TCPIP_CORE();
        result = strcmp(verb->valuestring, "hello") == 0
                     ? agent_hello(args ? args : empty)
                     : agent_call(verb->valuestring, args ? args : empty, &wait_until);
        UNLOCK_TCPIP_CORE();
        if (result != NULL && strcmp(verb->valuestring, "reset") == 0)
            settle(tap);
        if (wait_until > 0) {
            pending_id = id ? cJSON_Duplicate(id, 1) : cJSON_CreateNull();
            pending_until = wait_until;
        } else if (result != NULL) {
            send_message(answer(id, result));
        } else {
            send_message(verb_failure(id));
        }
        cJSON_Delete(empty);
    }
    cJSON_Delete(req);
}

static void check_pending(void)
{
    if (pending_id == NULL)
        return;
    int final = now_seconds() >= pending_until;
    error_code = NULL;
    LOCK_TCPIP_CORE();
    cJSON *result = agent_pending_result(final);
    UNLOCK_TCPIP_CORE();
    if (result != NULL || error_code != NULL) {
        send_message(result != NULL ? answer(pending_id, result) : verb_failure(pending_id));
        cJSON_Delete(pending_id);
        pending_id = NULL;
    }
}

static void read_client(void)
{
    char chunk[65536];
    ssize_t n = read(client, chunk, sizeof chunk);
    if (n <= 0) {
        close(client);
        client = -1;
        inlen = 0;
        return;
    }
    if (inlen + (size_t)n + 1 > MAX_LINE) {
        send_message(failure(NULL, "bad-request", "line too long"));
        inlen = 0;
        return;
    }
    memcpy(inbuf + inlen, chunk, (size_t)n);
    inlen += (size_t)n;
}

static void run_lines(int tap)
{
    char *nl;
    while (pending_id == NULL && (nl = memchr(inbuf, '\n', inlen)) != NULL) {
        size_t len = (size_t)(nl - inbuf);
        *nl = '\0';
        if (len > 0)
            handle_line(inbuf, tap);
        memmove(inbuf, nl + 1, inlen - len - 1);
        inlen -= len + 1;
    }
}

/* Run lwIP (frames in, its timers in the tcpip thread) until the reports that the baseline
 * made due have gone out, so that none lands in the test that follows; 0.5 s at most. */
static void settle(int tap)
{
    double until = now_seconds() + 0.5;
    for (;;) {
        LOCK_TCPIP_CORE();
        int pending = reports_pending();
        UNLOCK_TCPIP_CORE();
        if (!pending || now_seconds() >= until)
            return;
        struct pollfd p = {.fd = tap, .events = POLLIN};
        if (poll(&p, 1, 5) > 0) {
            LOCK_TCPIP_CORE();
            tap_input(&dut, tap);
            UNLOCK_TCPIP_CORE();
        }
    }
}

static void started(void *arg)
{
    sys_sem_signal((sys_sem_t *)arg);
}

int main(int argc, char **argv)
{
    int rc = parse_args(argc, argv);
    if (rc)
        return rc;
    int tap = tap_open(config.tap);
    if (tap < 0)
        return 2;
    inbuf = malloc(MAX_LINE);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGPIPE, SIG_IGN);

    sys_sem_t ready;
    sys_sem_new(&ready, 0);
    tcpip_init(started, &ready);
    sys_sem_wait(&ready);
    sys_sem_free(&ready);

    static int tap_fd;
    tap_fd = tap;
    LOCK_TCPIP_CORE();
    netif_add(&dut, &config.ipv4, &config.netmask, IP4_ADDR_ANY4, &tap_fd, tap_netif_init, ethernet_input);
    agent_baseline();
    UNLOCK_TCPIP_CORE();

    int listener = listen_on(config.control);
    if (listener < 0)
        return 2;
    settle(tap);
    printf("lwip agent (lwIP %s) on %s: control unix:%s\n", LWIP_VERSION_STRING, config.tap, config.control);
    fflush(stdout);

    while (!stopping) {
        struct pollfd fds[3] = {{.fd = tap, .events = POLLIN}, {.fd = listener, .events = POLLIN},
                                {.fd = client, .events = POLLIN}};
        int timeout = 1000;
        if (pending_id != NULL) {
            double left = pending_until - now_seconds();
            timeout = left <= 0 ? 0 : left < 0.01 ? 1 : (int)(left * 1000);
            if (timeout > 10)
                timeout = 10;  /* look at what a waiting verb waits for often */
        }
        if (poll(fds, client >= 0 ? 3 : 2, timeout) < 0 && errno != EINTR)
            break;
        if (fds[0].revents & POLLIN) {
            LOCK_TCPIP_CORE();
            tap_input(&dut, tap);
            UNLOCK_TCPIP_CORE();
        }
        if (fds[1].revents & POLLIN) {
            int c = accept(listener, NULL, NULL);
            if (c >= 0) {
                if (client >= 0)
                    close(client);  /* one harness at a time: the newest connection wins */
                client = c;
                inlen = 0;
                cJSON_Delete(pending_id);
                pending_id = NULL;
            }
        }
        if (client >= 0 && (fds[2].revents & (POLLIN | POLLHUP)))
            read_client();
        check_pending();
        if (client >= 0)
            run_lines(tap);
    }
    unlink(config.control);
    return 0;
}
