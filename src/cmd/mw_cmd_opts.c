/* mw_cmd_opts.c - the option defaults every command starts from
 *
 * `run`, `replay`, `test` and `explain` take their engine and run options
 * from mw_cmd_defaults and then apply their own flags, so a rule test runs
 * with the lateness, future bound and key cap production runs with (the
 * merge policy itself is mw_merge.h). The numbers are written once, here and
 * as the MW_*_DEFAULT_* macros the help texts print.
 */
#include "mw_cmd.h"
#include "mw_input.h"
#include "mw_merge.h"

#include <string.h>

void mw_cmd_defaults(struct mw_engine_opts *eo, struct mw_run_opts *ro)
{
    struct mw_merge_opts mo;
    mw_merge_opts_default(&mo);
    if (eo) {
        memset(eo, 0, sizeof(*eo));
        eo->max_open_keys = MW_DEFAULT_MAX_OPEN_KEYS;
        eo->lateness = mo.max_lateness;
        eo->quarantine_after = MW_DEFAULT_QUARANTINE_AFTER;
        eo->max_state_bytes = MW_ENGINE_DEFAULT_STATE_BYTES;
        eo->max_total_state_bytes = MW_ENGINE_DEFAULT_TOTAL_STATE_BYTES;
    }
    if (ro) {
        memset(ro, 0, sizeof(*ro));
        ro->max_lateness = mo.max_lateness;
        ro->max_future = mo.max_future;
        ro->max_skew = mo.max_skew;
        ro->time_confirm = mo.time_confirm;
        ro->max_jump = mo.max_jump;
        ro->metrics_interval_ms = MW_DEFAULT_METRICS_INTERVAL_MS;
        ro->timestamp_field = "@timestamp";
        ro->max_line = MW_DEFAULT_MAX_LINE;
        ro->summary = MW_SUMMARY_TEXT;
        ro->max_reports_per_input = MW_DEFAULT_MAX_REPORTS;
    }
}

void mw_cmd_merge_opts(const struct mw_engine_opts *eo, const struct mw_run_opts *ro,
                       struct mw_merge_opts *mo)
{
    mw_merge_opts_default(mo);
    if (eo)
        mo->max_lateness = eo->lateness;
    if (ro) {
        mo->max_future = ro->max_future;
        mo->max_skew = ro->max_skew;
        mo->time_confirm = ro->time_confirm;
        mo->max_jump = ro->max_jump;
    }
}
