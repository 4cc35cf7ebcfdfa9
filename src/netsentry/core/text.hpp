#pragma once
// Text helpers for messages and for bytes of unknown encoding: UTF-8 validation, Latin-1 to UTF-8,
// a user's value quoted for a message (escaped and cut short, so that a megabyte field or an
// embedded newline cannot flood or forge a log line), case folding and environment variables.
#include <cstddef>
#include <string>
#include <string_view>

namespace netsentry {

// Whether `s` is well-formed UTF-8 (no overlong forms, surrogates or code points past U+10FFFF).
bool valid_utf8(std::string_view s);

// Each byte as the Latin-1 character of that value, in UTF-8 (ASCII stays as it is).
std::string latin1_to_utf8(std::string_view s);

// 'v' in single quotes for a message: control characters, quotes, backslashes and bytes that are not
// UTF-8 escaped (\n, \t, \', \\, \xNN); past `max` bytes cut, with the full size said:
// 'aaaa...' (1048576 bytes).
std::string quote_value(std::string_view v, std::size_t max = 40);

// ASCII letters in lower case (other bytes as they are): for names compared without case.
std::string ascii_lower(std::string_view s);

// The text of environment variable `name`; empty when it is unset.
std::string env_text(const char* name);

}  // namespace netsentry
