#include "netsentry/registry/crash_point.hpp"

#include <unistd.h>
#include <csignal>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>

namespace netsentry {

void crash_point(const char* name) {
  const char* spec = std::getenv("NETSENTRY_CRASH_AT");
  if (spec == nullptr || *spec == '\0') return;
  std::string s(spec), point = s;
  long nth = 1;
  if (auto colon = s.rfind(':'); colon != std::string::npos) {
    point = s.substr(0, colon);
    nth = std::strtol(s.c_str() + colon + 1, nullptr, 10);
  }
  if (point != name) return;
  static std::mutex mu;
  static std::map<std::string, long> hits;
  std::lock_guard lock(mu);
  if (++hits[point] < nth) return;
  ::raise(SIGKILL);
  ::_exit(137);  // not reached
}

}  // namespace netsentry
