/* mock_http.c - a small HTTP/1.1 server on loopback for the output tests
 *
 *   mock_http --port-file FILE --log FILE [--port N] [--plan LIST]
 *             [--bulk] [--item-status N=STATUS,...]
 *
 * Listens on 127.0.0.1 (port N, default any free port, written to
 * --port-file once listening) and records every request as one JSON line in
 * --log: {"n", "t" (ms since the epoch), "method", "path", "headers": {lower-case name: value},
 * "body", "status"} where status is the number answered, or "hang"/"close".
 *
 * --plan answers requests in arrival order, one entry each, then 200:
 *   200, 201, 400, 500, 503 ...  that status
 *   STATUS:S                     that status with Retry-After: S (seconds),
 *                                e.g. 429:1, 503:0
 *   301, 302, 307 ...            that redirect, Location: http://127.0.0.1:9/moved
 *   big                          200 with a body of 17 MiB (in --bulk mode a
 *                                _bulk answer "errors":false padded to that)
 *   garbage                      200 with a body that is not JSON
 *   echo                         400 whose body echoes the request's headers
 *                                and path (a server that quotes credentials)
 *   hang                         read the request, never answer (until the
 *                                client gives up and closes)
 *   close                        close the connection without an answer
 *   ENTRY*N                      ENTRY, N times (503:0*100000)
 * --bulk answers a 2xx like Elasticsearch's _bulk API: one item per action
 * line, status 201, except items whose ordinal (1-based, counted over every
 * item ever received) is listed in --item-status, which get that status and
 * an error object. "Refuse" is simply: no server on the port.
 *
 * One thread per connection; keep-alive is honoured. Written in C because
 * the CI image may have no Python.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_ITEMS 1024
#define BIG_BODY (17u * 1024 * 1024)

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static FILE *log_fp;
struct step {
    char *act;
    long times;
};
static struct step *plan;
static int nplan, next_plan;
static int bulk;
static long item_ord[MAX_ITEMS], item_st[MAX_ITEMS];
static int nitem_st;
static long items_seen;
static long requests;

struct buf {
    char *p;
    size_t n, cap;
};

static void put(struct buf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
        if (b->p == NULL)
            abort();
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void puts_json(struct buf *b, const char *s, size_t n)
{
    char tmp[8];
    put(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            tmp[0] = '\\';
            tmp[1] = (char)c;
            put(b, tmp, 2);
        } else if (c == '\n') {
            put(b, "\\n", 2);
        } else if (c == '\r') {
            put(b, "\\r", 2);
        } else if (c == '\t') {
            put(b, "\\t", 2);
        } else if (c < 0x20) {
            snprintf(tmp, sizeof(tmp), "\\u%04x", c);
            put(b, tmp, 6);
        } else {
            put(b, (const char *)&s[i], 1);
        }
    }
    put(b, "\"", 1);
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0) {
            if (w < 0 && errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Builds the _bulk answer for body; returns whether any item failed. */
static int bulk_answer(const char *body, struct buf *out)
{
    int errors = 0, first = 1;
    struct buf items = {0};
    const char *line = body;
    int is_action = 1;
    put(&items, "", 0);
    while (*line) {
        const char *eol = strchr(line, '\n');
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        if (len > 0 && is_action) {
            char id[128] = "", index[128] = "";
            const char *q = strstr(line, "\"_id\":\"");
            long st = 201;
            if (q && q < line + len)
                sscanf(q + 7, "%127[^\"]", id);
            q = strstr(line, "\"_index\":\"");
            if (q && q < line + len)
                sscanf(q + 10, "%127[^\"]", index);
            long ord = ++items_seen;
            for (int i = 0; i < nitem_st; i++)
                if (item_ord[i] == ord)
                    st = item_st[i];
            char tmp[768];
            if (st >= 200 && st < 300)
                snprintf(tmp, sizeof(tmp), "%s{\"create\":{\"_index\":\"%s\",\"_id\":\"%s\","
                         "\"_version\":1,\"result\":\"created\",\"status\":%ld}}",
                         first ? "" : ",", index, id, st);
            else
                snprintf(tmp, sizeof(tmp), "%s{\"create\":{\"_index\":\"%s\",\"_id\":\"%s\","
                         "\"status\":%ld,\"error\":{\"type\":\"%s\",\"reason\":\"mock "
                         "failure\"}}}", first ? "" : ",", index, id, st,
                         st == 429 ? "es_rejected_execution_exception"
                                   : "mapper_parsing_exception");
            if (!(st >= 200 && st < 300))
                errors = 1;
            first = 0;
            put(&items, tmp, strlen(tmp));
        }
        if (len > 0)
            is_action = !is_action;
        if (!eol)
            break;
        line = eol + 1;
    }
    char head[64];
    snprintf(head, sizeof(head), "{\"took\":1,\"errors\":%s,\"items\":[",
             errors ? "true" : "false");
    put(out, head, strlen(head));
    put(out, items.p, items.n);
    put(out, "]}", 2);
    free(items.p);
    return errors;
}

static void *serve(void *arg)
{
    int fd = (int)(long)arg;
    struct buf in = {0};

    for (;;) {
        char chunk[65536];
        char *hdr_end;
        /* read headers */
        while ((hdr_end = in.p ? strstr(in.p, "\r\n\r\n") : NULL) == NULL) {
            ssize_t r = recv(fd, chunk, sizeof(chunk), 0);
            if (r <= 0)
                goto done;
            put(&in, chunk, (size_t)r);
        }
        size_t hlen = (size_t)(hdr_end - in.p) + 4;
        long clen = 0;
        char method[16] = "", path[1024] = "";
        sscanf(in.p, "%15s %1023s", method, path);
        struct buf hj = {0};
        put(&hj, "{", 1);
        int firsth = 1;
        char *line = strstr(in.p, "\r\n") + 2;
        while (line < hdr_end) {
            char *eol = strstr(line, "\r\n");
            char *colon = memchr(line, ':', (size_t)(eol - line));
            if (colon) {
                char name[128];
                size_t nl = (size_t)(colon - line) < sizeof(name) - 1
                                ? (size_t)(colon - line) : sizeof(name) - 1;
                for (size_t i = 0; i < nl; i++)
                    name[i] = (char)tolower((unsigned char)line[i]);
                name[nl] = '\0';
                const char *v = colon + 1;
                while (*v == ' ')
                    v++;
                if (strcmp(name, "content-length") == 0)
                    clen = atol(v);
                if (!firsth)
                    put(&hj, ",", 1);
                firsth = 0;
                puts_json(&hj, name, nl);
                put(&hj, ":", 1);
                puts_json(&hj, v, (size_t)(eol - v));
            }
            line = eol + 2;
        }
        put(&hj, "}", 1);
        while (in.n < hlen + (size_t)clen) {
            ssize_t r = recv(fd, chunk, sizeof(chunk), 0);
            if (r <= 0) {
                free(hj.p);
                goto done;
            }
            put(&in, chunk, (size_t)r);
        }
        char *body = strndup(in.p + hlen, (size_t)clen);

        pthread_mutex_lock(&mu);
        const char *act = "200";
        if (next_plan < nplan) {
            act = plan[next_plan].act;
            if (--plan[next_plan].times == 0)
                next_plan++;
        }
        int big = strcmp(act, "big") == 0, garbage = strcmp(act, "garbage") == 0;
        int echo = strcmp(act, "echo") == 0;
        if (big || garbage)
            act = "200";
        if (echo)
            act = "400";
        long n = ++requests;
        long status = atol(act);
        int retry_after = -1;
        struct buf resp = {0};
        put(&resp, "", 0);
        if (status > 0 && strchr(act, ':'))
            retry_after = atoi(strchr(act, ':') + 1);
        if (echo) {
            put(&resp, "{\"error\":\"bad credentials\",\"path\":", 34);
            puts_json(&resp, path, strlen(path));
            put(&resp, ",\"headers\":", 11);
            put(&resp, hj.p, hj.n);
            put(&resp, "}", 1);
        } else if (garbage) {
            put(&resp, "<html>not json</html>", 21);
        } else if (big) {
            /* a valid document, padded past 16 MiB */
            struct buf b2 = {0};
            put(&b2, "", 0);
            if (bulk)
                bulk_answer(body, &b2);
            else
                put(&b2, "{\"ok\":true}", 11);
            put(&resp, b2.p, 1); /* "{" */
            put(&resp, "\"took\":1,\"errors\":false,\"pad\":\"", 31);
            char *pad = malloc(BIG_BODY);
            if (pad == NULL)
                abort();
            memset(pad, 'x', BIG_BODY);
            put(&resp, pad, BIG_BODY);
            free(pad);
            put(&resp, "\",", 2);
            put(&resp, b2.p + 1, b2.n - 1);
            free(b2.p);
        } else if (status >= 200 && status < 300 && bulk)
            bulk_answer(body, &resp);
        else if (status >= 200 && status < 300)
            put(&resp, "{\"ok\":true}", 11);
        else if (status > 0)
            put(&resp, "{\"error\":\"mock\"}", 16);
        struct buf rec = {0};
        char num[64];
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        snprintf(num, sizeof(num), "{\"n\":%ld,\"t\":%lld,\"method\":", n,
                 (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000);
        put(&rec, num, strlen(num));
        puts_json(&rec, method, strlen(method));
        put(&rec, ",\"path\":", 8);
        puts_json(&rec, path, strlen(path));
        put(&rec, ",\"headers\":", 11);
        put(&rec, hj.p, hj.n);
        put(&rec, ",\"body\":", 8);
        puts_json(&rec, body, (size_t)clen);
        if (status > 0)
            snprintf(num, sizeof(num), ",\"status\":%ld}\n", status);
        else
            snprintf(num, sizeof(num), ",\"status\":\"%s\"}\n", act);
        put(&rec, num, strlen(num));
        fputs(rec.p, log_fp);
        fflush(log_fp);
        pthread_mutex_unlock(&mu);
        free(rec.p);
        free(hj.p);
        free(body);

        memmove(in.p, in.p + hlen + clen, in.n - hlen - (size_t)clen);
        in.n -= hlen + (size_t)clen;
        in.p[in.n] = '\0';

        if (strcmp(act, "hang") == 0) {
            /* hold the connection until the client gives up */
            while (recv(fd, chunk, sizeof(chunk), 0) > 0)
                ;
            free(resp.p);
            goto done;
        }
        if (status <= 0) {      /* close */
            free(resp.p);
            goto done;
        }
        char head[256];
        int hl = snprintf(head, sizeof(head),
                          "HTTP/1.1 %ld Mock\r\nContent-Type: application/json\r\n"
                          "Content-Length: %zu\r\n", status, resp.n);
        if (retry_after >= 0)
            hl += snprintf(head + hl, sizeof(head) - (size_t)hl, "Retry-After: %d\r\n",
                           retry_after);
        if (status >= 300 && status < 400)
            hl += snprintf(head + hl, sizeof(head) - (size_t)hl,
                           "Location: http://127.0.0.1:9/moved\r\n");
        hl += snprintf(head + hl, sizeof(head) - (size_t)hl, "\r\n");
        int bad = write_all(fd, head, (size_t)hl) < 0 || write_all(fd, resp.p, resp.n) < 0;
        free(resp.p);
        if (bad)
            goto done;
    }
done:
    free(in.p);
    close(fd);
    return NULL;
}

int main(int argc, char **argv)
{
    const char *port_file = NULL, *log_path = NULL;
    int port = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--bulk") == 0) {
            bulk = 1;
        } else if (v == NULL) {
            fprintf(stderr, "mock_http: %s needs a value\n", a);
            return 2;
        } else if (strcmp(a, "--port-file") == 0) {
            port_file = v, i++;
        } else if (strcmp(a, "--log") == 0) {
            log_path = v, i++;
        } else if (strcmp(a, "--port") == 0) {
            port = atoi(v), i++;
        } else if (strcmp(a, "--plan") == 0) {
            char *s = strdup(v), *save = NULL, *t;
            for (t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                char *star = strchr(t, '*');
                plan = realloc(plan, (size_t)(nplan + 1) * sizeof(*plan));
                if (plan == NULL)
                    abort();
                plan[nplan].times = star ? atol(star + 1) : 1;
                if (star)
                    *star = '\0';
                if (plan[nplan].times < 1)
                    plan[nplan].times = 1;
                plan[nplan++].act = strdup(t);
            }
            free(s);
            i++;
        } else if (strcmp(a, "--item-status") == 0) {
            char *s = strdup(v), *save = NULL, *t;
            for (t = strtok_r(s, ",", &save); t && nitem_st < MAX_ITEMS; t = strtok_r(NULL, ",", &save))
                if (sscanf(t, "%ld=%ld", &item_ord[nitem_st], &item_st[nitem_st]) == 2)
                    nitem_st++;
            free(s);
            i++;
        } else {
            fprintf(stderr, "mock_http: unknown option %s\n", a);
            return 2;
        }
    }
    if (port_file == NULL || log_path == NULL) {
        fprintf(stderr, "usage: mock_http --port-file FILE --log FILE [--port N] "
                "[--plan LIST] [--bulk] [--item-status N=ST,...]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    log_fp = fopen(log_path, "a");
    if (log_fp == NULL) {
        perror(log_path);
        return 2;
    }
    int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in sa = {0};
    socklen_t sl = sizeof(sa);
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons((unsigned short)port);
    if (bind(ls, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(ls, 64) < 0) {
        perror("mock_http: bind/listen");
        return 2;
    }
    getsockname(ls, (struct sockaddr *)&sa, &sl);
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp", port_file);
    FILE *pf = fopen(tmp, "w");
    if (pf == NULL || fprintf(pf, "%d\n", ntohs(sa.sin_port)) < 0 || fclose(pf) != 0 ||
        rename(tmp, port_file) != 0) {
        perror(port_file);
        return 2;
    }
    for (;;) {
        int fd = accept(ls, NULL, NULL);
        pthread_t t;
        if (fd < 0) {
            if (errno == EINTR)
                continue;
            perror("mock_http: accept");
            return 1;
        }
        /* head and body are two sends: without this, Nagle and the client's
         * delayed ACK add 40 ms to every answer */
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (pthread_create(&t, NULL, serve, (void *)(long)fd) != 0) {
            close(fd);
            continue;
        }
        pthread_detach(t);
    }
}
