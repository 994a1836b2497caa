/* mw_sandbox.h - one capped, locked-down lua_State per rule
 *
 * mw_sandbox_new is the only place a lua_State is created. The state gets
 * base (without dofile, loadfile, load, collectgarbage; print is mw.log),
 * table, string (without dump), math, utf8, a safe `os` (clock, date, time,
 * difftime), and a `require` that serves only modules from the project's lua/
 * folder, in text mode, as read-only proxies (nested tables too, rawset
 * refused). Reading io, debug, coroutine or package raises "blocked: global
 * 'x' ..." instead of giving nil. A custom allocator caps memory; a count hook caps
 * instructions per call and re-arms itself with count 1 once tripped, and
 * pcall/xpcall re-raise while a limit is tripped, so a script cannot swallow
 * the kill. Failures are classified for counting and quarantine.
 */
#ifndef MW_SANDBOX_H
#define MW_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mw_mem.h"

/* Only src/lua/ includes lua.h; everyone else sees the state as an opaque
 * pointer (lua.h's typedef names the same struct). */
struct lua_State;

#include "mw_rulecode.h" /* limits and failure classes */

struct mw_sandbox;

/* lua_dir is the folder `require` serves modules from (copied). */
struct mw_sandbox *mw_sandbox_new(const struct mw_sandbox_limits *limits,
                                  const char *lua_dir);
void mw_sandbox_free(struct mw_sandbox *sb);
struct lua_State *mw_sandbox_lua(struct mw_sandbox *sb);
struct mw_sandbox *mw_sandbox_from_lua(struct lua_State *L);
size_t mw_sandbox_mem_used(const struct mw_sandbox *sb);
/* Bytes the state may still grow by: the least of its own cap's and the
 * all-rules cap's room. Host memory made for the rule (JSON converted from
 * its tables) is held to it too. */
size_t mw_sandbox_mem_free(const struct mw_sandbox *sb);
/* Bytes held by all rule states of the process together (checked against
 * mem_total_max, --rules-memory). */
size_t mw_sandbox_total_used(void);

/* Runs f(args) under lua_pcall with a traceback handler, the given
 * instruction budget, and failure classification. The function and its
 * nargs arguments are on the stack; on success nres results replace them,
 * on failure the stack is restored to below the function and msg holds the
 * error (first line of the message, traceback dropped). [-(nargs+1), +nres|0, -] */
enum mw_fail mw_sandbox_pcall(struct mw_sandbox *sb, int nargs, int nres, int64_t budget,
                              char *msg, size_t msgsize);

/* mw_sandbox_pcall with a time bound: the call stops (class instructions,
 * "time budget exceeded") at the monotonic time deadline_us (mw_mono_us),
 * or after the sandbox's per-call time when deadline_us is 0. A deadline
 * already past runs nothing. Time is checked every 1000 instructions, at
 * every function call (C functions and metamethods included) and inside
 * the long-running library functions (patterns, table.sort/insert/remove/
 * move), so one C call cannot outlast it by much. [-(nargs+1), +nres|0, -] */
enum mw_fail mw_sandbox_pcall_until(struct mw_sandbox *sb, int nargs, int nres,
                                    int64_t budget, int64_t deadline_us, char *msg,
                                    size_t msgsize);

/* Loads and runs a rule file in the sandbox under the load budgets
 * (instructions and time); leaves its single return value on the stack on
 * success. chunkname is "@path". [-0, +1|0, -] */
enum mw_fail mw_sandbox_dofile(struct mw_sandbox *sb, const char *path, char *msg,
                               size_t msgsize);

int64_t mw_sandbox_call_budget(const struct mw_sandbox *sb);
/* Time budget of one call (and of one event's predicates), microseconds. */
int64_t mw_sandbox_time_budget(const struct mw_sandbox *sb);

/* Async-signal-safe: every running and later call into rule code stops at
 * its next check ("interrupted"). For SIGTERM/SIGINT, so a rule stuck in a
 * load or a predicate never delays shutdown. */
void mw_sandbox_interrupt(void);
/* Lets calls run again (the shutdown's own last dispatches). */
void mw_sandbox_interrupt_clear(void);

/* Rule log lines (print, mw.log): at most MW_SANDBOX_LOG_RATE lines a
 * second per rule (the rest dropped and counted), each cut at
 * MW_SANDBOX_LOG_MAX bytes, control characters escaped, prefixed with the
 * sandbox's name (docs/SECURITY.md, item 14). */
#define MW_SANDBOX_LOG_RATE 20
#define MW_SANDBOX_LOG_MAX 2048

/* The name log lines carry: the rule file while it loads, then the rule id
 * (copied; bytes that could break a line are escaped). */
void mw_sandbox_set_name(struct mw_sandbox *sb, const char *name);
/* Log lines dropped by the rate limit since the sandbox was made. */
uint64_t mw_sandbox_log_dropped(const struct mw_sandbox *sb);

#endif
