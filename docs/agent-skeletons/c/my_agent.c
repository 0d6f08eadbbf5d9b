/*
 * A DUT control agent for YOUR stack, in C: copy this file, attach your stack where it says
 * "YOUR STACK", and serve the verbs your stack can (docs/control-protocol.md).
 *
 * As it stands it is the smallest correct agent: it speaks the protocol (hello, reset, errors)
 * and lists every DUT verb as lacking with a reason, so the harness runs the tests that need no
 * control verb and skips the others saying why. Serve a verb by adding it to `served`, giving
 * it a branch in call_verb() and removing nothing else: `lacks` is everything not served.
 *
 * Build (Debian: apt-get install gcc pkg-config libcjson-dev):
 *     cc -Wall -Wextra -o my-agent my_agent.c $(pkg-config --cflags --libs libcjson)
 * Run beside your stack (the harness starts it from your DUT config's [dut] table):
 *     ./my-agent --control /run/my-agent.sock [--tap tap0 --mac ... --ipv4 ... --ipv6 ...]
 * Check it against the protocol:
 *     .venv/bin/pytest harness/control/agent_check.py --agent unix:/run/my-agent.sock
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
#include <unistd.h>

#include <cjson/cJSON.h>

#define MAX_LINE (1 << 20)

/* Every DUT verb of harness/dut.py (docs/control-protocol.md, "DUT verbs"). */
static const char *const dut_verbs[] = {
    "add_address", "remove_address", "add_second_interface_address", "udp_bind", "udp_recv", "udp_send",
    "udp_close", "udp_recvmsg", "udp_sendmsg", "udp_errors", "join_group", "join_source_group", "leave_group", "set_forwarding", "set_timer", "add_route",
    "remove_route", "set_link_mtu", "set_link_address", "set_icmp_rate_limit", "set_default_ttl", "set_echo_ignore_broadcasts",
    "set_accept_source_route", "set_ipv6_option",
    "restart_link", "ipv6_addresses", "tcp_listen", "tcp_accept", "tcp_close_listener", "tcp_connect",
    "tcp_send", "tcp_recv", "tcp_shutdown", "tcp_close", "tcp_abort", "tcp_set_option", "tcp_state", NULL};

/* The DUT verbs this agent serves, e.g. "join_group", "leave_group". None yet. */
static const char *const served[] = {NULL};

/* Optional features and protocol versions YOUR STACK implements, by the names of
 * harness/control/protocol.py FEATURES, e.g. "mldv2", "igmpv3", "slaac". */
static const char *const features[] = {NULL};

static const char *lack_reason = "my-stack's agent does not serve this verb yet";

static volatile sig_atomic_t stopping;
static int client = -1;
static char *inbuf;
static size_t inlen;

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

static int listed(const char *const *list, const char *name)
{
    for (int i = 0; list[i]; i++)
        if (strcmp(list[i], name) == 0)
            return 1;
    return 0;
}

/* ---- the protocol's messages ---------------------------------------------------------------- */

static void send_message(cJSON *message)
{
    char *text = cJSON_PrintUnformatted(message);
    if (text != NULL && client >= 0) {
        size_t len = strlen(text);
        text[len] = '\n'; /* cJSON's buffer holds the terminating NUL: reuse it for the newline */
        for (size_t off = 0; off < len + 1;) {
            ssize_t n = write(client, text + off, len + 1 - off);
            if (n <= 0)
                break;
            off += (size_t)n;
        }
    }
    free(text);
    cJSON_Delete(message);
}

static cJSON *answer(const cJSON *id, cJSON *result)
{
    cJSON *m = cJSON_CreateObject();
    cJSON_AddItemToObject(m, "id", id ? cJSON_Duplicate(id, 1) : cJSON_CreateNull());
    cJSON_AddBoolToObject(m, "ok", 1);
    cJSON_AddItemToObject(m, "result", result);
    return m;
}

static cJSON *failure(const cJSON *id, const char *code, const char *message)
{
    cJSON *m = cJSON_CreateObject();
    cJSON_AddItemToObject(m, "id", id ? cJSON_Duplicate(id, 1) : cJSON_CreateNull());
    cJSON_AddBoolToObject(m, "ok", 0);
    cJSON *e = cJSON_AddObjectToObject(m, "error");
    cJSON_AddStringToObject(e, "code", code);
    cJSON_AddStringToObject(e, "message", message);
    return m;
}

static cJSON *hello(const cJSON *id, const cJSON *args)
{
    const cJSON *versions = cJSON_GetObjectItemCaseSensitive(args, "versions");
    int one = versions == NULL;
    const cJSON *v;
    cJSON_ArrayForEach(v, versions) one |= cJSON_IsNumber(v) && v->valuedouble == 1;
    if (!one)
        return failure(id, "version", "this agent speaks protocol version 1 only");
    cJSON *r = cJSON_CreateObject();
    cJSON_AddNumberToObject(r, "protocol", 1);
    cJSON *agent = cJSON_AddObjectToObject(r, "agent");
    cJSON_AddStringToObject(agent, "name", "my-stack-agent"); /* YOUR STACK's name and version */
    cJSON_AddStringToObject(agent, "version", "0.1");
    cJSON *verbs = cJSON_AddArrayToObject(r, "verbs");
    cJSON_AddItemToArray(verbs, cJSON_CreateString("hello"));
    cJSON_AddItemToArray(verbs, cJSON_CreateString("reset"));
    for (int i = 0; served[i]; i++)
        cJSON_AddItemToArray(verbs, cJSON_CreateString(served[i]));
    cJSON *f = cJSON_AddArrayToObject(r, "features");
    for (int i = 0; features[i]; i++)
        cJSON_AddItemToArray(f, cJSON_CreateString(features[i]));
    cJSON *lacks = cJSON_AddObjectToObject(r, "lacks");
    for (int i = 0; dut_verbs[i]; i++)
        if (!listed(served, dut_verbs[i]))
            cJSON_AddStringToObject(lacks, dut_verbs[i], lack_reason);
    /* The DUT's timer values in seconds, if a test may wait them out, e.g.
     * cJSON_AddNumberToObject(timers, "ipv4_reassembly_timeout", 30); */
    cJSON_AddObjectToObject(r, "timers");
    return answer(id, r);
}

/* reset: back to the common baseline (docs/control-protocol.md): the test link's addresses
 * usable at once, no Router Solicitations, no sockets or groups a test made, empty neighbor and
 * destination caches, routers and prefixes forgotten; answer once the DUT is quiet. */
static cJSON *reset(const cJSON *id)
{
    /* YOUR STACK: restart it, or clear what the last test changed. */
    return answer(id, cJSON_CreateNull());
}

/* A served DUT verb: check its arguments (bad-arguments for a missing, unknown or ill-typed
 * one; names starting "x-" are extensions to ignore), do it, answer its result. */
static cJSON *call_verb(const cJSON *id, const char *verb, const cJSON *args)
{
    (void)args;
    /* if (strcmp(verb, "join_group") == 0) { ... YOUR STACK joins ...; return answer(id, cJSON_CreateNull()); } */
    char why[128];
    snprintf(why, sizeof why, "%s is served but not written", verb);
    return failure(id, "failed", why);
}

static void handle_line(const char *line)
{
    cJSON *req = cJSON_Parse(line);
    if (req == NULL || !cJSON_IsObject(req)) {
        send_message(failure(NULL, "bad-request", req ? "a message is a JSON object" : "not JSON"));
        cJSON_Delete(req);
        return;
    }
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(req, "id");
    const cJSON *verb = cJSON_GetObjectItemCaseSensitive(req, "verb");
    const cJSON *args = cJSON_GetObjectItemCaseSensitive(req, "args");
    if (!cJSON_IsString(verb) || verb->valuestring[0] == '\0') {
        send_message(failure(id, "bad-request", "a request needs \"verb\", a non-empty string"));
    } else if (args != NULL && !cJSON_IsObject(args)) {
        send_message(failure(id, "bad-request", "\"args\" must be a JSON object of named arguments"));
    } else if (strcmp(verb->valuestring, "hello") == 0) {
        send_message(hello(id, args));
    } else if (strcmp(verb->valuestring, "reset") == 0) {
        send_message(reset(id));
    } else if (listed(served, verb->valuestring)) {
        send_message(call_verb(id, verb->valuestring, args));
    } else if (listed(dut_verbs, verb->valuestring)) {
        send_message(failure(id, "unsupported", lack_reason));
    } else {
        char why[160];
        snprintf(why, sizeof why, "the agent has no verb %.100s", verb->valuestring);
        send_message(failure(id, "unknown-verb", why));
    }
    cJSON_Delete(req);
}

/* ---- the socket and the poll loop ------------------------------------------------------------- */

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
    char *nl;
    while ((nl = memchr(inbuf, '\n', inlen)) != NULL) {
        size_t len = (size_t)(nl - inbuf);
        *nl = '\0';
        if (len > 0)
            handle_line(inbuf);
        memmove(inbuf, nl + 1, inlen - len - 1);
        inlen -= len + 1;
    }
}

int main(int argc, char **argv)
{
    const char *control = NULL;
    for (int i = 1; i + 1 < argc; i += 2)
        if (strcmp(argv[i], "--control") == 0)
            control = argv[i + 1];
    /* YOUR STACK: read --tap, --mac, --ipv4, --ipv6, --mtu (the [dut] command's placeholders)
     * and start it on that link here. */
    if (control == NULL) {
        fprintf(stderr, "error: --control PATH is required\nusage: my-agent --control PATH [--tap NAME ...]\n");
        return 2;
    }
    inbuf = malloc(MAX_LINE);
    int listener = listen_on(control);
    if (inbuf == NULL || listener < 0)
        return 2;
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGPIPE, SIG_IGN);
    printf("my-agent ready: control unix:%s\n", control); /* the [dut] table's `ready` matches this */
    fflush(stdout);

    while (!stopping) {
        /* YOUR STACK: add its descriptors (the TAP, timers) to the poll set and serve them. */
        struct pollfd fds[2] = {{.fd = listener, .events = POLLIN}, {.fd = client, .events = POLLIN}};
        if (poll(fds, client >= 0 ? 2 : 1, 1000) < 0 && errno != EINTR)
            break;
        if (fds[0].revents & POLLIN) {
            int c = accept(listener, NULL, NULL);
            if (c >= 0) {
                if (client >= 0)
                    close(client); /* one harness at a time: the newest connection wins */
                client = c;
                inlen = 0;
            }
        }
        if (client >= 0 && (fds[1].revents & (POLLIN | POLLHUP)))
            read_client();
    }
    unlink(control);
    return 0;
}
