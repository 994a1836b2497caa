/* test_event.c - cmocka tests for mw_event: references and compaction
 *
 * A retained event may give up its tree for its line's text
 * (mw_event_compact); mw_event_root parses the text again on first use and
 * keeps the tree, mw_event_doc gives a document without keeping one, and
 * framing (CR, BOM) is trimmed as at ingest. The event's own fields (time,
 * line, arrival) never change. jansson runs on cmocka's allocator, so a leak
 * of a tree or of the text fails the test.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "mw_event.h"
#include "mw_field.h"
#include "mw_input.h"

#include "cmocka_json.h"

static const char LINE[] =
    "\xef\xbb\xbf{\"@timestamp\":\"2025-10-14T09:00:00.000Z\",\"event\":{\"dataset\":"
    "\"azure.signinlogs\"},\"n\":[1,2.5,null,true],\"s\":\"caf\\u00e9\"}\r";

static struct mw_event *ingest(void)
{
    struct mw_path *ts = mw_path_new("@timestamp");
    enum mw_reject reason;
    struct mw_error err;
    struct mw_event *ev =
        mw_ingest_parse(LINE, sizeof(LINE) - 1, ts, "in", 7, 100, 3, &reason, &err);
    mw_path_free(ts);
    assert_non_null(ev);
    return ev;
}

static void test_compact_then_root(void **state)
{
    (void)state;
    struct mw_event *ev = ingest();
    char *before = json_dumps(ev->root, JSON_COMPACT | JSON_SORT_KEYS);
    mw_time_t ts = ev->ts;

    mw_event_ref(ev); /* a window holds it */
    mw_event_compact(ev, LINE, sizeof(LINE) - 1);
    assert_null(ev->root);
    assert_non_null(ev->raw);
    /* the text without its framing */
    assert_int_equal(ev->rawlen, sizeof(LINE) - 1 - 3 - 1);
    assert_int_equal(ev->raw[0], '{');
    assert_int_equal(ev->ts, ts);
    assert_int_equal(ev->line, 7);
    assert_int_equal(ev->offset, 100);

    /* a document without keeping the tree */
    json_t *doc = mw_event_doc(ev);
    char *again = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(again, before);
    json_decref(doc);
    json_test_free(again);
    assert_null(ev->root);

    /* the tree, kept from now on */
    json_t *root = mw_event_root(ev);
    assert_non_null(root);
    assert_ptr_equal(mw_event_root(ev), root);
    assert_null(ev->raw);
    again = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(again, before);
    json_test_free(again);
    json_test_free(before);

    /* compacting twice, or a tree-less event, is harmless */
    mw_event_compact(ev, NULL, 0);
    assert_non_null(ev->root);
    mw_event_unref(ev);
    mw_event_unref(ev);
}

static void test_compacted_event_freed(void **state)
{
    (void)state;
    struct mw_event *ev = ingest();
    mw_event_compact(ev, LINE, sizeof(LINE) - 1);
    mw_event_unref(ev); /* frees the text; cmocka checks nothing leaks */
}

static void test_doc_of_a_parsed_event(void **state)
{
    (void)state;
    struct mw_event *ev = ingest();
    json_t *doc = mw_event_doc(ev);
    assert_ptr_equal(doc, ev->root); /* a new reference to the same tree */
    json_decref(doc);
    mw_event_unref(ev);
}

/* a freed record is reused by the next event: no allocation per event */
static void test_records_are_reused(void **state)
{
    (void)state;
    struct mw_event *a = ingest();
    mw_event_unref(a);
    struct mw_event *b = ingest();
    assert_ptr_equal(a, b);
    assert_int_equal(b->refcount, 1);
    assert_null(b->raw);
    assert_non_null(b->root);
    /* more than the cache holds: the rest go back to malloc */
    struct mw_event *many[300];
    for (int i = 0; i < 300; i++)
        many[i] = ingest();
    for (int i = 0; i < 300; i++)
        mw_event_unref(many[i]);
    mw_event_unref(b);
    mw_event_cache_flush();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_compact_then_root, setup),
        cmocka_unit_test_setup(test_compacted_event_freed, setup),
        cmocka_unit_test_setup(test_doc_of_a_parsed_event, setup),
        cmocka_unit_test_setup(test_records_are_reused, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
