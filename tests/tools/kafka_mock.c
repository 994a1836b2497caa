/* kafka_mock.c - librdkafka's mock cluster on 127.0.0.1 and a producer to
 * it, driven by commands on stdin (the Kafka input tests, t_kafka*.sh)
 *
 *   kafka_mock BOOTFILE TOPIC:PARTITIONS...
 *
 * Starts a mock cluster of one broker (rd_kafka_mock_cluster_new, loopback
 * only), creates the topics, then writes the bootstrap address to BOOTFILE
 * (renamed into place: once it exists, the cluster is ready) and reads one
 * command a line from stdin, answering each with one "ok ..." line on
 * stdout:
 *
 *   produce FILE    each line "TOPIC<TAB>PARTITION<TAB>PAYLOAD" is one
 *                   message (PARTITION -1: the partitioner's choice;
 *                   PAYLOAD "@PATH": the file PATH as one message); the
 *                   messages get increasing timestamps, one ms apart, in
 *                   file order; queued, not waited for (see flush)
 *   flush           waits until every message is delivered; "ok flushed
 *                   N failed F"
 *   down / up       every broker refuses connections / accepts them again
 *                   (rd_kafka_mock_broker_set_down/up)
 *   committed GROUP TOPIC:PARTITIONS...
 *                   the group's committed offsets, "ok TOPIC/P=OFFSET ..."
 *   quit            "ok quit", then exits at once
 *
 * Other processes (moonwatch, kcat) connect to the bootstrap address.
 */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long delivered, failed;

static void on_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    if (m->err)
        failed++;
    else
        delivered++;
}

static void die(const char *what, const char *why)
{
    fprintf(stderr, "kafka_mock: %s: %s\n", what, why);
    exit(1);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, n = 0;
    if (f == NULL)
        return NULL;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 65536;
            buf = realloc(buf, cap);
            if (buf == NULL)
                die("memory", "out");
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    fclose(f);
    *len = n;
    return buf;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t next_ts;

static long produce(rd_kafka_t *p, const char *path)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long count = 0;
    if (f == NULL)
        return -1;
    while ((n = getline(&line, &cap, f)) > 0) {
        if (line[n - 1] == '\n')
            line[--n] = '\0';
        char *t1 = strchr(line, '\t');
        char *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
        if (t2 == NULL)
            continue;
        *t1 = *t2 = '\0';
        int32_t part = atoi(t1 + 1);
        char *payload = t2 + 1;
        size_t plen = strlen(payload);
        char *owned = NULL;
        if (payload[0] == '@') {
            owned = slurp(payload + 1, &plen);
            if (owned == NULL)
                die(payload + 1, "cannot read");
            payload = owned;
        }
        int64_t ts = next_ts > now_ms() - 1000 ? next_ts : now_ms();
        next_ts = ts + 1;
        rd_kafka_resp_err_t e;
        while ((e = rd_kafka_producev(p, RD_KAFKA_V_TOPIC(line),
                                      RD_KAFKA_V_PARTITION(part < 0 ? RD_KAFKA_PARTITION_UA : part),
                                      RD_KAFKA_V_VALUE(payload, plen),
                                      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                      RD_KAFKA_V_TIMESTAMP(ts), RD_KAFKA_V_END)) ==
               RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(p, 100);
        if (e)
            die("produce", rd_kafka_err2str(e));
        rd_kafka_poll(p, 0);
        free(owned);
        count++;
    }
    free(line);
    fclose(f);
    return count;
}

static void committed(const char *boot, char *args)
{
    char es[512];
    char *group = strtok_r(args, " ", &args);
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(8);
    if (group == NULL)
        die("committed", "want GROUP TOPIC:PARTITIONS...");
    rd_kafka_conf_set(c, "bootstrap.servers", boot, es, sizeof(es));
    rd_kafka_conf_set(c, "group.id", group, es, sizeof(es));
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, es, sizeof(es));
    if (rk == NULL)
        die("consumer", es);
    for (char *tp; (tp = strtok_r(NULL, " ", &args)) != NULL;) {
        char *colon = strchr(tp, ':');
        if (colon == NULL)
            continue;
        *colon = '\0';
        for (int i = 0; i < atoi(colon + 1); i++)
            rd_kafka_topic_partition_list_add(l, tp, i);
    }
    rd_kafka_resp_err_t e = rd_kafka_committed(rk, l, 10000);
    printf("ok");
    for (int i = 0; i < l->cnt; i++)
        printf(" %s/%d=%lld", l->elems[i].topic, (int)l->elems[i].partition,
               e ? -1LL : (long long)l->elems[i].offset);
    printf("\n");
    fflush(stdout);
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_destroy(rk);
}

int main(int argc, char **argv)
{
    char es[512];
    if (argc < 3) {
        fprintf(stderr, "usage: kafka_mock BOOTFILE TOPIC:PARTITIONS...\n");
        return 2;
    }
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    /* the cluster's owner connects nowhere: no warning about it */
    rd_kafka_conf_set(conf, "log_level", "3", es, sizeof(es));
    rd_kafka_t *owner = rd_kafka_new(RD_KAFKA_PRODUCER, conf, es, sizeof(es));
    if (owner == NULL)
        die("rd_kafka_new", es);
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(owner, 1);
    if (mc == NULL)
        die("mock cluster", "cannot start");
    for (int i = 2; i < argc; i++) {
        char *colon = strchr(argv[i], ':');
        if (colon == NULL)
            die(argv[i], "want TOPIC:PARTITIONS");
        *colon = '\0';
        rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(mc, argv[i], atoi(colon + 1), 1);
        if (e)
            die(argv[i], rd_kafka_err2str(e));
    }
    const char *boot = rd_kafka_mock_cluster_bootstraps(mc);

    conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", boot, es, sizeof(es)) ||
        rd_kafka_conf_set(conf, "linger.ms", "5", es, sizeof(es)) ||
        rd_kafka_conf_set(conf, "message.timeout.ms", "120000", es, sizeof(es)))
        die("conf", es);
    rd_kafka_conf_set_dr_msg_cb(conf, on_dr);
    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, conf, es, sizeof(es));
    if (p == NULL)
        die("producer", es);

    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp", argv[1]);
    FILE *bf = fopen(tmp, "w");
    if (bf == NULL || fprintf(bf, "%s\n", boot) < 0 || fclose(bf) != 0 || rename(tmp, argv[1]))
        die(argv[1], "cannot write");

    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, stdin)) > 0) {
        if (line[n - 1] == '\n')
            line[--n] = '\0';
        if (strncmp(line, "produce ", 8) == 0) {
            long c = produce(p, line + 8);
            if (c < 0)
                die(line + 8, "cannot read");
            printf("ok produced %ld\n", c);
        } else if (strcmp(line, "flush") == 0) {
            while (rd_kafka_flush(p, 1000) == RD_KAFKA_RESP_ERR__TIMED_OUT)
                ;
            printf("ok flushed %ld failed %ld\n", delivered, failed);
        } else if (strcmp(line, "down") == 0 || strcmp(line, "up") == 0) {
            if (line[0] == 'd')
                rd_kafka_mock_broker_set_down(mc, 1);
            else
                rd_kafka_mock_broker_set_up(mc, 1);
            printf("ok %s\n", line);
        } else if (strncmp(line, "committed ", 10) == 0) {
            committed(boot, line + 10);
            continue;
        } else if (strcmp(line, "quit") == 0) {
            printf("ok quit\n");
            break;
        } else {
            printf("error: unknown command '%s'\n", line);
        }
        fflush(stdout);
    }
    free(line);
    rd_kafka_flush(p, 5000);
    /* no orderly teardown: destroying a mock cluster that consumers of other
     * processes are still connected to can take a minute */
    fflush(stdout);
    _exit(0);
}
