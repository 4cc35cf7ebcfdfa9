#pragma once
// The message of what `f` throws ("(no error)" when it throws nothing), for tests that check it.
#include <exception>
#include <functional>
#include <string>

namespace netsentry::test {

inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace netsentry::test
