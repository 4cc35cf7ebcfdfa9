#pragma once
// Test hook for the crash-safety tests: NETSENTRY_CRASH_AT=<point>[:<n>] makes the process kill itself
// with SIGKILL the n-th time (default: the first time) execution reaches the named point, exactly as
// an outside `kill -9` would at that moment. Unset (the normal case) it costs one getenv per call.
// Points: register.staged, register.claimed, register.published, promote.state_written,
// promote.symlink_created, push.object (each uploaded object), push.before_manifest,
// pull.object (each downloaded object), pull.staged. README: "Crash safety".
namespace netsentry {

void crash_point(const char* name);

}  // namespace netsentry
