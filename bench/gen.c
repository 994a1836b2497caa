/* gen.c - realistic Azure ECS corpora for the benchmark and the prefilter tests
 *
 *   gen --out DIR --events N [--relevant PCT] [--chains C] [--seed S] [--hours H]
 *
 * Writes NDJSON in the shapes of Elastic's Azure integration (as in
 * examples/azure-arc/, which examples/gen_story.lua documents), sorted keys,
 * "@timestamp" first, events in time order per file:
 *
 *   --relevant 100 (default): DIR/signinlogs.ndjson and DIR/activitylogs.ndjson,
 *       every event in the Arc rule's data sets (two exports, merged by time);
 *   --relevant P < 100: DIR/eventhub.ndjson, one Event Hub export where P% of
 *       the events are sign-in or activity logs and the rest are AKS
 *       kube-audit and Key Vault platform logs, Graph activity, Entra audit
 *       and Azure Firewall logs.
 *
 * Key cardinality: 400 service principals that sign in every few minutes,
 * 3,000 users, 150 managed identities, 40 subscriptions' worth of resources.
 * Into this noise go C attack chains (a service principal that signs in and
 * lists an Arc cluster's user credentials within 30 minutes; variants: a
 * repeated sign-in, a Start record before the Success, a gap of exactly
 * 30m) and near misses that must not alert (failed sign-in, a listing 30m
 * and 1ms later, a failed listing). Each chain and near miss has its own app
 * id, and no noise principal ever lists credentials successfully, so the
 * Arc rule must raise exactly C alerts. DIR/expected.json records C and the
 * corpus sizes.
 *
 * Deterministic: SplitMix64 from --seed; no clock, no locale.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------- */
/* randomness, ids, time                                                   */

static uint64_t rng_s;

static uint64_t rnd(void)
{
    uint64_t z = (rng_s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static int rint_(int lo, int hi)
{
    return lo + (int)(rnd() % (uint64_t)(hi - lo + 1));
}

static bool chance(int pct)
{
    return rint_(1, 100) <= pct;
}

typedef char guid_t[37];

static void guid_from(uint64_t a, uint64_t b, guid_t out)
{
    snprintf(out, 37, "%08" PRIx64 "-%04" PRIx64 "-4%03" PRIx64 "-%" PRIx64 "%03" PRIx64
             "-%012" PRIx64, a >> 32, (a >> 16) & 0xffff, a & 0xfff, (uint64_t)8 + (b >> 62),
             (b >> 48) & 0xfff, b & UINT64_C(0xffffffffffff));
}

static void guid(guid_t out)
{
    uint64_t a = rnd(), b = rnd();
    guid_from(a, b, out);
}

static void nodash(const char *g, char *out)
{
    for (; *g; g++)
        if (*g != '-')
            *out++ = *g;
    *out = '\0';
}

static void token(char *out, int n)
{
    static const char a[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for (int i = 0; i < n; i++)
        out[i] = a[rnd() % 64];
    out[n] = '\0';
}

/* civil date from days since the epoch (Howard Hinnant's algorithm) */
static void civil(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

/* ms since the epoch -> "2025-10-14T13:01:19.134Z" (frac digits: 3, 7 or 9);
 * out holds ISO_LEN bytes */
#define ISO_LEN 40
static void iso(int64_t ms, int frac, char *out)
{
    int y, mo, d;
    int64_t days = ms / 86400000, rem = ms % 86400000;
    civil(days, &y, &mo, &d);
    int s = (int)(rem / 1000);
    if (frac == 3)
        snprintf(out, ISO_LEN, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", y, mo, d, s / 3600,
                s / 60 % 60, s % 60, (int)(rem % 1000));
    else if (frac == 7)
        snprintf(out, ISO_LEN, "%04d-%02d-%02dT%02d:%02d:%02d.%03d%04d+00:00", y, mo, d, s / 3600,
                s / 60 % 60, s % 60, (int)(rem % 1000), rint_(0, 9999));
    else
        snprintf(out, ISO_LEN, "%04d-%02d-%02dT%02d:%02d:%02d.%03d%06dZ", y, mo, d, s / 3600,
                s / 60 % 60, s % 60, (int)(rem % 1000), rint_(0, 999999));
}

/* ---------------------------------------------------------------------- */
/* output                                                                  */

struct out {
    FILE *fp;
    uint64_t events, bytes;
};

static char line[65536];
static size_t llen;

static void put(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void put(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line + llen, sizeof(line) - llen, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(line) - llen) {
        fprintf(stderr, "gen: event too long\n");
        exit(1);
    }
    llen += (size_t)n;
}

static void emit(struct out *o)
{
    line[llen++] = '\n';
    fwrite(line, 1, llen, o->fp);
    o->events++;
    o->bytes += llen;
    llen = 0;
}

/* ---------------------------------------------------------------------- */
/* the tenant                                                              */

#define TENANT "4bbb79f7-5724-4c9e-95f3-de075f6ec090"
#define CLI_APP "04b07795-8ddb-461a-bbee-02f9e1bf7b46"
#define ARC_OP "Microsoft.Kubernetes/connectedClusters/listClusterUserCredential/action"
#define NSP 400
#define NUSER 3000
#define NMI 150
#define NSUB 40

struct principal {
    guid_t app, spid, key, oid;
    char name[64];
    char ip[16];
};

static struct principal sps[NSP], users[NUSER], mis[NMI];
static guid_t subs[NSUB];

static const char *const sp_names[] = {
    "Terraform", "GitHub-Actions", "AzDO-Pipeline", "Backup-Automation", "Datadog",
    "Splunk-Ingest", "ArgoCD", "Velero", "Cert-Manager", "External-DNS",
    "Grafana-Reader", "Cost-Export", "Defender-Connector", "Sentinel-Playbook",
};
static const char *const first[] = {"priya", "liam", "noah", "olivia", "ava", "mia",
                                    "lucas", "zara", "ethan", "chloe", "jack", "isla",
                                    "leo", "ruby", "oscar", "grace", "hugo", "ella"};
static const char *const last[] = {"raman", "smith", "nguyen", "jones", "chen", "brown",
                                   "wilson", "taylor", "singh", "martin", "lee", "walker"};
static const char *const regions[] = {"australiaeast", "australiasoutheast", "westeurope",
                                      "eastus2", "southeastasia"};

/* out holds 16 bytes (struct member ip[16]) */
static void ip_in(char *out, int kind)
{
    if (kind == 0)
        snprintf(out, 16, "198.51.100.%d", rint_(2, 254));
    else if (kind == 1)
        snprintf(out, 16, "192.0.2.%d", rint_(2, 254));
    else
        snprintf(out, 16, "203.0.113.%d", rint_(2, 254));
}

static void tenant_init(void)
{
    for (int i = 0; i < NSP; i++) {
        guid(sps[i].app);
        guid(sps[i].spid);
        guid(sps[i].key);
        guid(sps[i].oid);
        snprintf(sps[i].name, sizeof(sps[i].name), "%s-%s-%03d",
                 sp_names[i % (int)(sizeof(sp_names) / sizeof(*sp_names))],
                 i % 3 ? "prod" : "nonprod", i);
        ip_in(sps[i].ip, i % 3);
    }
    for (int i = 0; i < NUSER; i++) {
        guid(users[i].oid);
        snprintf(users[i].name, sizeof(users[i].name), "%s.%s%d@example.com",
                 first[rnd() % 18], last[rnd() % 12], i);
        ip_in(users[i].ip, i % 3);
    }
    for (int i = 0; i < NMI; i++) {
        guid(mis[i].app);
        guid(mis[i].spid);
        snprintf(mis[i].name, sizeof(mis[i].name), "id-%s-%03d", i % 2 ? "aks" : "func", i);
    }
    for (int i = 0; i < NSUB; i++)
        guid(subs[i]);
}

/* ---------------------------------------------------------------------- */
/* azure.signinlogs                                                        */

enum signin_kind {
    SI_SP,
    SI_USER,
    SI_MI,
};

static void signin(struct out *o, int64_t t, enum signin_kind kind,
                   const struct principal *p, int error_code, const char *ip)
{
    char ts[40], created[40], ingested[40], tok[32];
    guid_t id, corr;
    const char *cat = kind == SI_SP ? "ServicePrincipalSignInLogs"
                    : kind == SI_MI ? "ManagedIdentitySignInLogs"
                    : chance(60) ? "NonInteractiveUserSignInLogs" : "SignInLogs";
    iso(t, 3, ts);
    iso(t, 7, created);
    iso(t + rint_(30000, 120000), 9, ingested);
    guid(id);
    guid(corr);
    token(tok, 22);
    put("{\"@timestamp\":\"%s\",\"azure\":{\"correlation_id\":\"%s\",\"resource\":{\"id\":"
        "\"/tenants/" TENANT "/providers/Microsoft.aadiam\",\"provider\":\"Microsoft.aadiam\"},"
        "\"signinlogs\":{", ts, corr);
    if (kind != SI_MI)
        put("\"caller_ip_address\":\"%s\",", ip);
    put("\"category\":\"%s\",\"identity\":\"%s\",\"operation_name\":\"Sign-in activity\","
        "\"operation_version\":\"1.0\",\"properties\":{\"app_display_name\":\"%s\",\"app_id\":\"%s\","
        "\"authentication_protocol\":\"none\",\"client_app_used\":\"%s\","
        "\"client_credential_type\":\"%s\",\"conditional_access_status\":\"%s\","
        "\"correlation_id\":\"%s\",\"created_at\":\"%s\",\"cross_tenant_access_type\":\"none\","
        "\"flagged_for_review\":false,\"id\":\"%s\",\"incoming_token_type\":\"none\","
        "\"is_interactive\":%s,\"is_tenant_restricted\":false,\"processing_time_ms\":%d,"
        "\"resource_display_name\":\"Windows Azure Service Management API\","
        "\"resource_id\":\"797f4846-ba00-4fd7-ba43-dac1f8f63013\",\"risk_detail\":\"none\","
        "\"risk_level_aggregated\":\"%s\",\"risk_level_during_signin\":\"%s\","
        "\"risk_state\":\"none\",",
        cat, kind == SI_USER ? p->name : p->name, kind == SI_USER ? "Azure CLI" : p->name,
        kind == SI_USER ? CLI_APP : p->app, kind == SI_USER ? "Mobile Apps and Desktop clients"
                                                             : "",
        kind == SI_SP ? "clientSecret" : kind == SI_MI ? "managedIdentity" : "none",
        kind == SI_USER ? "success" : "notApplied", corr, created, id,
        kind == SI_USER && cat[0] == 'S' ? "true" : "false", rint_(20, 400),
        chance(97) ? "none" : "low", chance(98) ? "none" : "medium");
    if (kind == SI_SP)
        put("\"service_principal_credential_key_id\":\"%s\",", p->key);
    if (kind != SI_USER)
        put("\"service_principal_id\":\"%s\",\"service_principal_name\":\"%s\",", p->spid,
            p->name);
    put("\"status\":{\"error_code\":%d%s},\"token_issuer_type\":\"AzureAD\","
        "\"unique_token_identifier\":\"%s\"",
        error_code, error_code ? ",\"failure_reason\":\"Invalid client secret provided.\"" : "",
        tok);
    if (kind == SI_USER)
        put(",\"user_display_name\":\"%s\",\"user_id\":\"%s\",\"user_principal_name\":\"%s\","
            "\"user_type\":\"Member\"", p->name, p->oid, p->name);
    put("},\"result_signature\":\"None\",\"result_type\":\"%d\"},\"tenant_id\":\"" TENANT
        "\"},", error_code);
    if (kind != SI_MI)
        put("\"client\":{\"ip\":\"%s\"},", ip);
    put("\"cloud\":{\"provider\":\"azure\"},\"data_stream\":{\"dataset\":\"azure.signinlogs\","
        "\"namespace\":\"default\",\"type\":\"logs\"},\"ecs\":{\"version\":\"8.11.0\"},"
        "\"event\":{\"action\":\"Sign-in activity\",\"category\":[\"authentication\"],"
        "\"dataset\":\"azure.signinlogs\",\"duration\":0,\"id\":\"%s\",\"ingested\":\"%s\","
        "\"kind\":\"event\",\"outcome\":\"%s\",\"type\":[\"info\"]},"
        "\"geo\":{\"city_name\":\"Melbourne\",\"country_iso_code\":\"AU\",\"location\":"
        "{\"lat\":-37.8159,\"lon\":144.9669},\"region_name\":\"Victoria\"},"
        "\"log\":{\"level\":\"4\"},\"related\":{\"entity\":[\"%s\"]",
        id, ingested, error_code ? "failure" : "success", kind == SI_USER ? p->oid : p->app);
    if (kind != SI_MI)
        put(",\"ip\":[\"%s\"]", ip);
    put("},\"service\":{\"name\":\"%s\"},", p->name);
    if (kind != SI_MI)
        put("\"source\":{\"address\":\"%s\",\"as\":{\"number\":64500,\"organization\":"
            "{\"name\":\"Contoso Pty Ltd\"}},\"geo\":{\"city_name\":\"Melbourne\","
            "\"continent_name\":\"Oceania\",\"country_iso_code\":\"AU\",\"country_name\":"
            "\"Australia\",\"location\":{\"lat\":-37.8159,\"lon\":144.9669},\"region_iso_code\":"
            "\"AU-VIC\",\"region_name\":\"Victoria\"},\"ip\":\"%s\"},", ip, ip);
    put("\"tags\":[\"azure-signinlogs\",\"forwarded\"]");
    if (kind == SI_USER)
        put(",\"user\":{\"domain\":\"example.com\",\"id\":\"%s\",\"name\":\"%s\"}", p->oid,
            p->name);
    put("}");
    emit(o);
}

/* ---------------------------------------------------------------------- */
/* azure.activitylogs                                                      */

static const char *const ops[] = {
    "Microsoft.Compute/virtualMachines/write",
    "Microsoft.Compute/virtualMachines/start/action",
    "Microsoft.Network/loadBalancers/write",
    "Microsoft.Network/networkSecurityGroups/write",
    "Microsoft.Storage/storageAccounts/listKeys/action",
    "Microsoft.KeyVault/vaults/write",
    "Microsoft.Resources/deployments/write",
    "Microsoft.ContainerService/managedClusters/read",
    "Microsoft.ContainerService/managedClusters/listClusterUserCredential/action",
    "Microsoft.Kubernetes/connectedClusters/read",
    "Microsoft.Insights/diagnosticSettings/write",
    "Microsoft.Authorization/roleAssignments/write",
    "Microsoft.Web/sites/config/list/action",
    "Microsoft.EventHub/namespaces/authorizationRules/listKeys/action",
};

static void upper(const char *s, char *out)
{
    for (; *s; s++)
        *out++ = (char)(*s >= 'a' && *s <= 'z' ? *s - 32 : *s);
    *out = '\0';
}

/* result: "Start", "Success" or "Failure" */
static void activity(struct out *o, int64_t t, const struct principal *caller, bool user,
                     const char *op, const char *result, const char *ip)
{
    char ts[40], ingested[40], opu[160], oid[40], sub_nd[40], rg[64], name[64], tok[32], aio[48];
    guid_t id, corr, req, ra, rd;
    const char *sub = subs[rnd() % NSUB];
    const char *provider = strstr(op, "Kubernetes") ? "Microsoft.Kubernetes/connectedClusters"
                         : strstr(op, "ContainerService") ? "Microsoft.ContainerService/managedClusters"
                         : "Microsoft.Compute/virtualMachines";
    char provu[96], rgu[64], nameu[64];
    iso(t, 3, ts);
    iso(t + rint_(60000, 180000), 9, ingested);
    guid(id);
    guid(corr);
    guid(req);
    guid(ra);
    guid(rd);
    nodash(caller->oid, oid);
    nodash(sub, sub_nd);
    upper(op, opu);
    token(tok, 22);
    token(aio, 40);
    snprintf(rg, sizeof(rg), "rg-%s-%02d", strstr(op, "Kubernetes") ? "arc-edge" : "prod",
             rint_(1, 30));
    snprintf(name, sizeof(name), "%s-%s-%02d", strstr(op, "Kubernetes") ? "arc" : "res",
             regions[rnd() % 5], rint_(1, 20));
    upper(provider, provu);
    upper(rg, rgu);
    upper(name, nameu);
    put("{\"@timestamp\":\"%s\",\"azure\":{\"activitylogs\":{\"category\":\"%s\","
        "\"event_category\":\"Administrative\",\"identity\":{\"authorization\":{\"action\":\"%s\","
        "\"evidence\":{\"principal_id\":\"%s\",\"principal_type\":\"%s\",\"role\":\"%s\","
        "\"role_assignment_id\":\"%.32s\",\"role_assignment_scope\":\"/subscriptions/%s\","
        "\"role_definition_id\":\"%.32s\"},\"scope\":\"/subscriptions/%s/resourceGroups/%s/"
        "providers/%s/%s\"},\"claims\":{",
        ts, strstr(op, "/action") ? "Action" : "Write", op, oid,
        user ? "User" : "ServicePrincipal", user ? "Owner" : "Contributor", ra, sub, rd, sub,
        rg, provider, name);
    if (user)
        put("\"acr\":\"1\",");
    put("\"aio\":\"%s\",\"appid\":\"%s\",\"appidacr\":\"%s\",\"aud\":"
        "\"https://management.core.windows.net/\",\"exp\":\"%" PRId64 "\","
        "\"http://schemas_microsoft_com/identity/claims/objectidentifier\":\"%s\","
        "\"http://schemas_microsoft_com/identity/claims/tenantid\":\"" TENANT "\",",
        aio, user ? CLI_APP : caller->app, user ? "0" : "2", t / 1000 + 3600, caller->oid);
    if (user)
        put("\"http://schemas_xmlsoap_org/ws/2005/05/identity/claims/upn\":\"%s\",",
            caller->name);
    put("\"iat\":\"%" PRId64 "\",\"idtyp\":\"%s\",\"ipaddr\":\"%s\",\"iss\":"
        "\"https://sts.windows.net/" TENANT "/\",\"nbf\":\"%" PRId64 "\",\"uti\":\"%s\","
        "\"ver\":\"1.0\"}},\"operation_name\":\"%s\",\"properties\":{\"message\":\"%s\","
        "\"service_request_id\":\"%s\",\"status_code\":\"%s\"},\"result_signature\":\"%s\","
        "\"result_type\":\"%s\"},\"correlation_id\":\"%s\",\"resource\":{\"group\":\"%s\","
        "\"id\":\"/SUBSCRIPTIONS/%s/RESOURCEGROUPS/%s/PROVIDERS/%s/%s\",\"name\":\"%s\","
        "\"provider\":\"%s\"},\"subscription_id\":\"%s\",\"tenant_id\":\"" TENANT "\"},",
        t / 1000 - 300, user ? "user" : "app", ip, t / 1000 - 300, tok, opu, op, req,
        result[1] == 'u' ? "OK" : result[1] == 'a' ? "Forbidden" : "Accepted",
        result[1] == 'u' ? "Succeeded.OK" : result[1] == 'a' ? "Failed.Forbidden" : "Started.",
        result, corr, rgu, sub, rgu, provu, nameu, nameu, provu, sub);
    put("\"client\":{\"ip\":\"%s\"},\"cloud\":{\"account\":{\"id\":\"%s\"},\"provider\":\"azure\"},"
        "\"data_stream\":{\"dataset\":\"azure.activitylogs\",\"namespace\":\"default\","
        "\"type\":\"logs\"},\"ecs\":{\"version\":\"8.11.0\"},\"event\":{\"action\":\"%s\","
        "\"dataset\":\"azure.activitylogs\",\"duration\":0,\"id\":\"%s\",\"ingested\":\"%s\","
        "\"kind\":\"event\",", ip, sub, opu, id, ingested);
    if (result[1] != 't')
        put("\"outcome\":\"%s\",", result[1] == 'u' ? "success" : "failure");
    put("\"type\":[\"change\"]},\"log\":{\"level\":\"%s\"},\"related\":{\"ip\":[\"%s\"]},"
        "\"source\":{\"address\":\"%s\",\"as\":{\"number\":64500,\"organization\":{\"name\":"
        "\"Contoso Pty Ltd\"}},\"geo\":{\"city_name\":\"Melbourne\",\"continent_name\":"
        "\"Oceania\",\"country_iso_code\":\"AU\",\"country_name\":\"Australia\",\"location\":"
        "{\"lat\":-37.8159,\"lon\":144.9669},\"region_iso_code\":\"AU-VIC\",\"region_name\":"
        "\"Victoria\"},\"ip\":\"%s\"},\"tags\":[\"azure-activitylogs\",\"forwarded\"]}",
        result[1] == 'a' ? "Error" : "Informational", ip, ip, ip);
    emit(o);
}

/* ---------------------------------------------------------------------- */
/* the other data sets of the Event Hub export                             */

static void kube_audit(struct out *o, int64_t t)
{
    char ts[40], ing[40], stage[40];
    guid_t audit, id, uid;
    static const char *const verbs[] = {"get", "list", "watch", "update", "patch", "create"};
    static const char *const res[] = {"pods", "configmaps", "leases", "secrets", "nodes",
                                      "deployments", "events", "endpoints"};
    const char *verb = verbs[rnd() % 6], *r = res[rnd() % 8];
    int c = rint_(1, 12);
    iso(t, 3, ts);
    iso(t, 9, stage);
    iso(t + rint_(20000, 90000), 9, ing);
    guid(audit);
    guid(id);
    guid(uid);
    put("{\"@timestamp\":\"%s\",\"azure\":{\"platformlogs\":{\"category\":\"kube-audit\","
        "\"ccp_namespace\":\"%024" PRIx64 "\",\"properties\":{\"containerID\":\"%016" PRIx64
        "%016" PRIx64 "\",\"log\":\"{\\\"kind\\\":\\\"Event\\\",\\\"apiVersion\\\":"
        "\\\"audit.k8s.io/v1\\\",\\\"level\\\":\\\"Metadata\\\",\\\"auditID\\\":\\\"%s\\\","
        "\\\"stage\\\":\\\"ResponseComplete\\\",\\\"requestURI\\\":\\\"/api/v1/namespaces/"
        "team-%02d/%s?resourceVersion=%d\\\",\\\"verb\\\":\\\"%s\\\",\\\"user\\\":{"
        "\\\"username\\\":\\\"system:serviceaccount:team-%02d:app-%02d\\\",\\\"uid\\\":"
        "\\\"%s\\\",\\\"groups\\\":[\\\"system:serviceaccounts\\\",\\\"system:authenticated\\\"]"
        "},\\\"sourceIPs\\\":[\\\"10.244.%d.%d\\\"],\\\"userAgent\\\":\\\"kubectl/v1.29.2 "
        "(linux/amd64) kubernetes/4b8e819\\\",\\\"objectRef\\\":{\\\"resource\\\":\\\"%s\\\","
        "\\\"namespace\\\":\\\"team-%02d\\\",\\\"apiVersion\\\":\\\"v1\\\"},\\\"responseStatus"
        "\\\":{\\\"metadata\\\":{},\\\"code\\\":200},\\\"requestReceivedTimestamp\\\":\\\"%s"
        "\\\",\\\"stageTimestamp\\\":\\\"%s\\\"}\",\"pod\":\"kube-apiserver-%08" PRIx64
        "-%05d\",\"stream\":\"stdout\"}},\"resource\":{\"group\":\"RG-AKS-PROD\",\"id\":"
        "\"/SUBSCRIPTIONS/%s/RESOURCEGROUPS/RG-AKS-PROD/PROVIDERS/MICROSOFT.CONTAINERSERVICE/"
        "MANAGEDCLUSTERS/AKS-PROD-AUE\",\"name\":\"AKS-PROD-AUE\",\"provider\":"
        "\"MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS\"},\"subscription_id\":\"%s\"},"
        "\"cloud\":{\"provider\":\"azure\"},\"data_stream\":{\"dataset\":\"azure.platformlogs\","
        "\"namespace\":\"default\",\"type\":\"logs\"},\"ecs\":{\"version\":\"8.11.0\"},"
        "\"event\":{\"dataset\":\"azure.platformlogs\",\"id\":\"%s\",\"ingested\":\"%s\","
        "\"kind\":\"event\"},\"tags\":[\"azure-platformlogs\",\"forwarded\"]}",
        ts, rnd() >> 16, rnd(), rnd(), audit, c, r, rint_(100000, 999999), verb, c,
        rint_(1, 40), uid, rint_(0, 3), rint_(2, 250), r, c, stage, stage, rnd() >> 32,
        rint_(10000, 99999), subs[0], subs[0], id, ing);
    emit(o);
}

static void keyvault(struct out *o, int64_t t)
{
    char ts[40], ing[40];
    guid_t id, corr, req;
    const struct principal *p = &mis[rnd() % NMI];
    static const char *const opn[] = {"SecretGet", "SecretList", "KeyGet", "KeySign",
                                      "VaultGet", "CertificateGet"};
    iso(t, 3, ts);
    iso(t + rint_(20000, 90000), 9, ing);
    guid(id);
    guid(corr);
    guid(req);
    put("{\"@timestamp\":\"%s\",\"azure\":{\"platformlogs\":{\"caller_ip_address\":"
        "\"10.1.%d.%d\",\"category\":\"AuditEvent\",\"correlation_id\":\"%s\",\"duration_ms\":%d,"
        "\"identity\":{\"claim\":{\"appid\":\"%s\",\"http_schemas_microsoft_com_identity_claims_"
        "objectidentifier\":\"%s\",\"xms_mirid\":\"/subscriptions/%s/resourcegroups/rg-apps/"
        "providers/Microsoft.ManagedIdentity/userAssignedIdentities/%s\"}},\"operation_name\":"
        "\"%s\",\"operation_version\":\"7.4\",\"properties\":{\"client_info\":"
        "\"azsdk-net-Security.KeyVault.Secrets/4.5.0 (.NET 8.0.1; Ubuntu 22.04)\",\"id\":"
        "\"https://kv-prod-%02d.vault.azure.net/secrets/app-secret-%03d\",\"is_access_policy_match\":"
        "false,\"request_uri\":\"https://kv-prod-%02d.vault.azure.net/secrets/app-secret-%03d?"
        "api-version=7.4\"},\"result_signature\":\"OK\",\"result_type\":\"Success\"},"
        "\"resource\":{\"group\":\"RG-SECURITY\",\"id\":\"/SUBSCRIPTIONS/%s/RESOURCEGROUPS/"
        "RG-SECURITY/PROVIDERS/MICROSOFT.KEYVAULT/VAULTS/KV-PROD-%02d\",\"name\":\"KV-PROD-%02d\","
        "\"provider\":\"MICROSOFT.KEYVAULT/VAULTS\"},\"subscription_id\":\"%s\"},\"cloud\":"
        "{\"provider\":\"azure\"},\"data_stream\":{\"dataset\":\"azure.platformlogs\","
        "\"namespace\":\"default\",\"type\":\"logs\"},\"ecs\":{\"version\":\"8.11.0\"},"
        "\"event\":{\"action\":\"%s\",\"dataset\":\"azure.platformlogs\",\"duration\":%d000000,"
        "\"id\":\"%s\",\"ingested\":\"%s\",\"kind\":\"event\",\"outcome\":\"success\"},"
        "\"source\":{\"ip\":\"10.1.%d.%d\"},\"tags\":[\"azure-platformlogs\",\"forwarded\"]}",
        ts, rint_(0, 9), rint_(2, 250), corr, rint_(1, 90), p->app, p->spid, subs[1], p->name,
        opn[rnd() % 6], rint_(1, 12), rint_(1, 400), rint_(1, 12), rint_(1, 400), subs[1],
        rint_(1, 12), rint_(1, 12), subs[1], opn[rnd() % 6], rint_(1, 90), id, ing,
        rint_(0, 9), rint_(2, 250));
    emit(o);
}

static void graph(struct out *o, int64_t t)
{
    char ts[40], ing[40];
    guid_t id, req, sess;
    const struct principal *u = &users[rnd() % NUSER];
    static const char *const uris[] = {"/v1.0/me", "/v1.0/me/messages?$top=25",
                                       "/v1.0/users?$select=id,displayName",
                                       "/v1.0/groups/members", "/beta/me/drive/root/children",
                                       "/v1.0/me/calendarView?startDateTime=2025-10-14"};
    char uri[160];
    iso(t, 3, ts);
    iso(t + rint_(20000, 90000), 9, ing);
    guid(id);
    guid(req);
    guid(sess);
    int which = (int)(rnd() % 6);
    if (which == 3)
        snprintf(uri, sizeof(uri), "/v1.0/groups/%s/members", id);
    else
        snprintf(uri, sizeof(uri), "%s", uris[which]);
    put("{\"@timestamp\":\"%s\",\"azure\":{\"graphactivitylogs\":{\"category\":"
        "\"MicrosoftGraphActivityLogs\",\"properties\":{\"api_version\":\"v1.0\",\"app_id\":"
        "\"%s\",\"billed_size\":0,\"client_auth_method\":0,\"c_id\":\"%s\",\"identity_provider\":"
        "\"https://sts.windows.net/" TENANT "/\",\"ip_address\":\"%s\",\"location\":"
        "\"Australia East\",\"operation_id\":\"%s\",\"request_id\":\"%s\",\"request_method\":"
        "\"GET\",\"request_uri\":\"https://graph.microsoft.com%s\",\"response_size_bytes\":%d,"
        "\"response_status_code\":200,\"roles\":\"\",\"scopes\":\"User.Read Mail.Read "
        "Calendars.Read\",\"service_principal_id\":\"\",\"session_id\":\"%s\",\"token_issued_at\":"
        "\"%s\",\"user_agent\":\"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/129.0.0.0 Safari/537.36 Edg/129.0.0.0\",\"user_id\":\"%s\"},"
        "\"result_signature\":\"200\",\"time_generated\":\"%s\"},\"tenant_id\":\"" TENANT "\"},"
        "\"cloud\":{\"provider\":\"azure\"},\"data_stream\":{\"dataset\":"
        "\"azure.graphactivitylogs\",\"namespace\":\"default\",\"type\":\"logs\"},\"ecs\":"
        "{\"version\":\"8.11.0\"},\"event\":{\"dataset\":\"azure.graphactivitylogs\",\"duration\":"
        "%d000000,\"id\":\"%s\",\"ingested\":\"%s\",\"kind\":\"event\",\"outcome\":\"success\"},"
        "\"http\":{\"request\":{\"method\":\"GET\"},\"response\":{\"status_code\":200}},"
        "\"source\":{\"ip\":\"%s\"},\"tags\":[\"azure-graphactivitylogs\",\"forwarded\"],"
        "\"url\":{\"original\":\"https://graph.microsoft.com%s\"},\"user\":{\"id\":\"%s\"}}",
        ts, chance(50) ? "00000003-0000-0ff1-ce00-000000000000" : "de8bc8b5-d9f9-48b1-a8ad-b748da725064",
        id, u->ip, id, req, uri, rint_(200, 90000), sess, ts, u->oid, ts, rint_(5, 900), id, ing,
        u->ip, uri, u->oid);
    emit(o);
}

static void auditlog(struct out *o, int64_t t)
{
    char ts[40], ing[40];
    guid_t id, corr, target;
    const struct principal *u = &users[rnd() % NUSER];
    static const char *const acts[] = {"Update user", "Add member to group",
                                       "Update application", "Add service principal",
                                       "Update conditional access policy",
                                       "Reset user password", "Update group"};
    static const char *const cats[] = {"UserManagement", "GroupManagement",
                                       "ApplicationManagement", "ApplicationManagement",
                                       "Policy", "UserManagement", "GroupManagement"};
    int a = (int)(rnd() % 7);
    iso(t, 3, ts);
    iso(t + rint_(20000, 90000), 9, ing);
    guid(id);
    guid(corr);
    guid(target);
    put("{\"@timestamp\":\"%s\",\"azure\":{\"auditlogs\":{\"category\":\"AuditLogs\","
        "\"identity\":\"Core Directory\",\"operation_name\":\"%s\",\"operation_version\":\"1.0\","
        "\"properties\":{\"activity_datetime\":\"%s\",\"activity_display_name\":\"%s\","
        "\"category\":\"%s\",\"correlation_id\":\"%s\",\"id\":\"Directory_%s\","
        "\"initiated_by\":{\"user\":{\"displayName\":null,\"id\":\"%s\",\"ipAddress\":\"%s\","
        "\"userPrincipalName\":\"%s\"}},\"logged_by_service\":\"Core Directory\","
        "\"operation_type\":\"Update\",\"result_reason\":\"\",\"target_resources\":{\"0\":{"
        "\"display_name\":\"target-%05d\",\"id\":\"%s\",\"modified_properties\":{\"0\":{"
        "\"display_name\":\"AccountEnabled\",\"new_value\":\"[true]\",\"old_value\":\"[false]\"}},"
        "\"type\":\"User\"}}},\"result_signature\":\"None\"},\"tenant_id\":\"" TENANT "\"},"
        "\"client\":{\"ip\":\"%s\"},\"cloud\":{\"provider\":\"azure\"},\"data_stream\":"
        "{\"dataset\":\"azure.auditlogs\",\"namespace\":\"default\",\"type\":\"logs\"},"
        "\"ecs\":{\"version\":\"8.11.0\"},\"event\":{\"action\":\"%s\",\"category\":[\"iam\"],"
        "\"dataset\":\"azure.auditlogs\",\"duration\":0,\"id\":\"%s\",\"ingested\":\"%s\","
        "\"kind\":\"event\",\"outcome\":\"success\",\"type\":[\"change\"]},\"source\":{\"ip\":"
        "\"%s\"},\"tags\":[\"azure-auditlogs\",\"forwarded\"],\"user\":{\"id\":\"%s\",\"name\":"
        "\"%s\"}}",
        ts, acts[a], ts, acts[a], cats[a], corr, id, u->oid, u->ip, u->name, rint_(0, 99999),
        target, u->ip, acts[a], id, ing, u->ip, u->oid, u->name);
    emit(o);
}

static void firewall(struct out *o, int64_t t)
{
    char ts[40], ing[40];
    guid_t id;
    static const char *const acts[] = {"Allow", "Allow", "Allow", "Deny"};
    const char *act = acts[rnd() % 4];
    int sport = rint_(1024, 65535), dport = chance(70) ? 443 : chance(50) ? 53 : 22;
    int d1 = rint_(36, 52), d2 = rint_(0, 255), d3 = rint_(1, 254);
    int s1 = rint_(0, 31), s2 = rint_(2, 254);
    iso(t, 3, ts);
    iso(t + rint_(20000, 90000), 9, ing);
    guid(id);
    put("{\"@timestamp\":\"%s\",\"azure\":{\"firewall\":{\"action\":\"%s\",\"category\":"
        "\"AzureFirewallNetworkRule\",\"icmp\":{},\"operation_name\":"
        "\"AzureFirewallNetworkRuleLog\"},\"resource\":{\"group\":\"RG-HUB\",\"id\":"
        "\"/SUBSCRIPTIONS/%s/RESOURCEGROUPS/RG-HUB/PROVIDERS/MICROSOFT.NETWORK/AZUREFIREWALLS/"
        "FW-HUB-AUE\",\"name\":\"FW-HUB-AUE\",\"provider\":\"MICROSOFT.NETWORK/AZUREFIREWALLS\"},"
        "\"subscription_id\":\"%s\"},\"cloud\":{\"provider\":\"azure\"},\"data_stream\":"
        "{\"dataset\":\"azure.firewall_logs\",\"namespace\":\"default\",\"type\":\"logs\"},"
        "\"destination\":{\"address\":\"20.%d.%d.%d\",\"ip\":\"20.%d.%d.%d\",\"port\":%d},"
        "\"ecs\":{\"version\":\"8.11.0\"},\"event\":{\"category\":[\"network\"],\"dataset\":"
        "\"azure.firewall_logs\",\"id\":\"%s\",\"ingested\":\"%s\",\"kind\":\"event\","
        "\"type\":[\"connection\",\"%s\"]},\"network\":{\"iana_number\":\"6\",\"transport\":"
        "\"tcp\"},\"observer\":{\"name\":\"FW-HUB-AUE\",\"product\":\"Network Firewall\","
        "\"type\":\"firewall\",\"vendor\":\"Azure\"},\"related\":{\"ip\":[\"10.2.%d.%d\","
        "\"20.%d.%d.%d\"]},\"rule\":{\"ruleset\":\"DefaultNetworkRuleCollectionGroup\"},"
        "\"source\":{\"address\":\"10.2.%d.%d\",\"ip\":\"10.2.%d.%d\",\"port\":%d},"
        "\"tags\":[\"azure-firewall\",\"forwarded\"]}",
        ts, act, subs[2], subs[2], d1, d2, d3, d1, d2, d3, dport, id, ing,
        act[0] == 'A' ? "allowed" : "denied", s1, s2, d1, d2, d3, s1, s2, s1, s2, sport);
    emit(o);
}

/* ---------------------------------------------------------------------- */
/* injected chains and near misses                                         */

struct pending {
    int64_t t;
    int kind;           /* 0 sign-in ok, 1 sign-in failed, 2 listing ok, 3 listing
                         * start, 4 listing failed */
    int who;            /* index into attackers */
};

static struct principal *attackers;
static struct pending *pend;
static size_t npend, cappend;

static void schedule(int64_t t, int kind, int who)
{
    if (npend == cappend) {
        cappend = cappend ? cappend * 2 : 64;
        pend = realloc(pend, cappend * sizeof(*pend));
        if (pend == NULL)
            abort();
    }
    size_t i = npend++;
    while (i > 0 && pend[i - 1].t > t) {
        pend[i] = pend[i - 1];
        i--;
    }
    pend[i].t = t;
    pend[i].kind = kind;
    pend[i].who = who;
}

static void emit_pending(struct out *si, struct out *al, int64_t upto, size_t *next)
{
    while (*next < npend && pend[*next].t <= upto) {
        struct pending *p = &pend[(*next)++];
        struct principal *a = &attackers[p->who];
        switch (p->kind) {
        case 0:
            signin(si, p->t, SI_SP, a, 0, a->ip);
            break;
        case 1:
            signin(si, p->t, SI_SP, a, 7000215, a->ip);
            break;
        case 2:
            activity(al, p->t, a, false, ARC_OP, "Success", a->ip);
            break;
        case 3:
            activity(al, p->t, a, false, ARC_OP, "Start", a->ip);
            break;
        default:
            activity(al, p->t, a, false, ARC_OP, "Failure", a->ip);
            break;
        }
    }
}

/* ---------------------------------------------------------------------- */

static void usage(void)
{
    fprintf(stderr, "usage: gen --out DIR --events N [--relevant PCT] [--chains C] "
                    "[--seed S] [--hours H]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *dir = NULL;
    long events = 0, relevant = 100, chains = 20, hours = 24;
    uint64_t seed = 7;
    char path[4096];

    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--out") == 0)
            dir = argv[i + 1];
        else if (strcmp(argv[i], "--events") == 0)
            events = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--relevant") == 0)
            relevant = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--chains") == 0)
            chains = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--seed") == 0)
            seed = strtoull(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--hours") == 0)
            hours = atol(argv[i + 1]);
        else
            usage();
    }
    if (dir == NULL || events <= 0 || relevant < 1 || relevant > 100 || chains < 0 ||
        hours <= 0)
        usage();
    rng_s = seed * 0x2545F4914F6CDD1DULL + 1;
    tenant_init();

    struct out si = {0}, al = {0}, *mixed = NULL;
    if (relevant == 100) {
        snprintf(path, sizeof(path), "%s/signinlogs.ndjson", dir);
        si.fp = fopen(path, "w");
        snprintf(path, sizeof(path), "%s/activitylogs.ndjson", dir);
        al.fp = fopen(path, "w");
    } else {
        snprintf(path, sizeof(path), "%s/eventhub.ndjson", dir);
        si.fp = fopen(path, "w");
        mixed = &si;
    }
    if (si.fp == NULL || (mixed == NULL && al.fp == NULL)) {
        fprintf(stderr, "gen: cannot write into %s\n", dir);
        return 2;
    }
    struct out *alp = mixed ? mixed : &al;

    /* 2025-10-14T00:00:00Z */
    const int64_t start = INT64_C(1760400000000), span = (int64_t)hours * 3600000;
    /* chains: one attacker per chain or near miss, evenly spread */
    int nnear = (int)chains, natt = (int)chains * 2;
    attackers = calloc((size_t)natt + 1, sizeof(*attackers));
    for (int i = 0; i < natt; i++) {
        guid(attackers[i].app);
        guid(attackers[i].spid);
        guid(attackers[i].key);
        guid(attackers[i].oid);
        snprintf(attackers[i].name, sizeof(attackers[i].name), "svc-arc-%s-%03d",
                 i < chains ? "ops" : "sync", i);
        snprintf(attackers[i].ip, sizeof(attackers[i].ip), "203.0.113.%d", 10 + i % 200);
    }
    for (int i = 0; i < chains; i++) {
        int64_t t0 = start + span * (2 * i + 1) / (2 * (chains + nnear) + 1);
        int64_t gap = 1000 + (int64_t)(rnd() % 1700000);
        switch (i % 4) {
        case 0:
            schedule(t0, 0, i);
            schedule(t0 + gap, 2, i);
            break;
        case 1: /* signs in twice: the newer sign-in replaces the older */
            schedule(t0, 0, i);
            schedule(t0 + 60000, 0, i);
            schedule(t0 + 60000 + gap / 2, 2, i);
            break;
        case 2: /* exactly maxspan: inclusive */
            schedule(t0, 0, i);
            schedule(t0 + 1800000, 2, i);
            break;
        default: /* the Start record of the call, then its Success */
            schedule(t0, 0, i);
            schedule(t0 + gap, 3, i);
            schedule(t0 + gap + 800, 2, i);
            break;
        }
    }
    for (int i = 0; i < nnear; i++) {
        int who = (int)chains + i;
        int64_t t0 = start + span * (2 * (chains + i) + 1) / (2 * (chains + nnear) + 1);
        switch (i % 3) {
        case 0: /* failed sign-in */
            schedule(t0, 1, who);
            schedule(t0 + 120000, 2, who);
            break;
        case 1: /* 30m and 1ms: too late */
            schedule(t0, 0, who);
            schedule(t0 + 1800001, 2, who);
            break;
        default: /* the listing fails */
            schedule(t0, 0, who);
            schedule(t0 + 300000, 4, who);
            break;
        }
    }

    uint64_t injected = npend;
    long noise = events - (long)injected;
    if (noise < 1)
        noise = 1;
    size_t next = 0;
    for (long k = 0; k < noise; k++) {
        int64_t step = span / noise > 1 ? span / noise : 1;
        int64_t t = start + span * k / noise + (int64_t)(rnd() % (uint64_t)step);
        emit_pending(&si, alp, t, &next);
        int r = rint_(1, 10000);
        bool rel = mixed == NULL || r <= relevant * 100;
        if (rel) {
            int w = rint_(1, 100);
            if (w <= 22) {
                const struct principal *p = &sps[rnd() % NSP];
                signin(&si, t, SI_SP, p, chance(96) ? 0 : 7000222, p->ip);
            } else if (w <= 36) {
                const struct principal *p = &users[rnd() % NUSER];
                signin(&si, t, SI_USER, p, chance(95) ? 0 : 50126, p->ip);
            } else if (w <= 44) {
                signin(&si, t, SI_MI, &mis[rnd() % NMI], 0, "");
            } else if (w <= 80) {
                const struct principal *p = &sps[rnd() % NSP];
                activity(alp, t, p, false, ops[rnd() % 14], chance(50) ? "Start" : "Success",
                         p->ip);
            } else if (w <= 84) {
                /* service principals' listings of Arc credentials in the noise
                 * never succeed: Start records, or denied */
                const struct principal *p = &sps[rnd() % NSP];
                activity(alp, t, p, false, ARC_OP, chance(70) ? "Start" : "Failure", p->ip);
            } else if (w <= 90) {
                const struct principal *p = &users[rnd() % NUSER];
                activity(alp, t, p, true, ARC_OP, chance(50) ? "Start" : "Success", p->ip);
            } else {
                const struct principal *p = &users[rnd() % NUSER];
                activity(alp, t, p, true, ops[rnd() % 14], "Success", p->ip);
            }
        } else {
            int w = rint_(1, 100);
            if (w <= 35)
                kube_audit(mixed, t);
            else if (w <= 50)
                keyvault(mixed, t);
            else if (w <= 72)
                graph(mixed, t);
            else if (w <= 82)
                auditlog(mixed, t);
            else
                firewall(mixed, t);
        }
    }
    emit_pending(&si, alp, INT64_MAX, &next);

    uint64_t total = si.events + al.events, bytes = si.bytes + al.bytes;
    fclose(si.fp);
    if (al.fp)
        fclose(al.fp);
    snprintf(path, sizeof(path), "%s/expected.json", dir);
    FILE *ej = fopen(path, "w");
    if (ej == NULL)
        return 2;
    fprintf(ej, "{\"chains\":%ld,\"near_misses\":%d,\"events\":%" PRIu64 ",\"bytes\":%" PRIu64
                ",\"relevant_pct\":%ld,\"files\":[%s]}\n",
            chains, nnear, total, bytes, relevant,
            mixed ? "\"eventhub.ndjson\"" : "\"signinlogs.ndjson\",\"activitylogs.ndjson\"");
    fclose(ej);
    free(attackers);
    free(pend);
    return 0;
}
