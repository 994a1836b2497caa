/* mw_rulecode.h - what the core knows of rule code without seeing Lua
 *
 * The resource limits of one rule's sandbox and the classes of failure of
 * a call into rule code. The engine, the rule object and the commands use
 * these; only src/lua/ (mw_sandbox.h) knows how they are enforced.
 */
#ifndef MW_RULECODE_H
#define MW_RULECODE_H

#include <stddef.h>
#include <stdint.h>

#define MW_SANDBOX_DEFAULT_MEM (64u * 1024 * 1024)
#define MW_SANDBOX_DEFAULT_MEM_TOTAL ((size_t)1024 * 1024 * 1024) /* all rules */
#define MW_SANDBOX_DEFAULT_INSN 1000000
#define MW_SANDBOX_DEFAULT_LOAD_INSN 50000000
#define MW_SANDBOX_DEFAULT_TIME_US (50 * 1000)            /* per event per rule */
#define MW_SANDBOX_DEFAULT_LOAD_TIME_US (2 * 1000 * 1000) /* loading one rule file */

struct mw_sandbox_limits {
    size_t mem_max;            /* bytes; 0 = default */
    int64_t insn_per_call;     /* Lua VM instructions per predicate/hook call */
    int64_t insn_load;         /* instructions for running the rule file */
    int64_t time_per_event_us; /* wall time per event per rule (all its predicates)
                                  and per hook call; 0 = default */
    int64_t time_load_us;      /* wall time for loading the rule file; 0 = default */
    size_t mem_total_max;      /* bytes of all rule states of the process together
                                  (the largest value any sandbox was made with
                                  counts); 0 = default */
};

/* Why a call into rule code failed. MEMORY, INSTRUCTIONS and BLOCKED are
 * the sandbox's caps and walls; SCRIPT is an error the code raised (often
 * data-dependent: a field of another type than the rule expects). */
enum mw_fail {
    MW_FAIL_NONE = 0,
    MW_FAIL_MEMORY,
    MW_FAIL_INSTRUCTIONS,
    MW_FAIL_BLOCKED,
    MW_FAIL_SCRIPT,
    MW_FAIL__COUNT,
};

/* "none", "memory", "instructions", "blocked", "script". */
const char *mw_fail_name(enum mw_fail f);

#endif
