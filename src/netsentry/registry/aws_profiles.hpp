#pragma once
// The AWS shared `config` and `credentials` files (~/.aws/config, ~/.aws/credentials): INI-style
// profiles, read the way the AWS SDKs specify it (the SDKs' shared profile-parser tests):
//   [default]              a credentials-file profile; in the config file `[profile NAME]`, where
//   [profile ci]           `[profile default]` wins over `[default]`; other sections are skipped
//   key = value            whitespace around '=' and the value trimmed; key names case-insensitive
//   # comment / ; comment  whole lines; after a section header; after a value when preceded by blanks
//     sub = value          indented lines continue the property above (the config file's `s3 =` blocks)
// Duplicate profiles merge and the last value of a key wins; invalid profile or key names (blanks,
// other punctuation) are ignored. A line that is none of these is a UsageError naming the file and
// the line (never its text, which may hold a secret).
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace netsentry::aws {

enum class ProfileFileKind { Credentials, Config };

struct ProfileValue {
  std::string value;
  int line = 0;  // 1-based line of the key in its file
};

// A profile's properties by lower-case key name.
using Profile = std::map<std::string, ProfileValue>;
// The profiles of one file by name.
using ProfileFile = std::map<std::string, Profile>;

// `file_name` is only for messages.
ProfileFile parse_profile_file(std::string_view text, ProfileFileKind kind, const std::string& file_name);

// nullopt when the file does not exist; UsageError when it cannot be read or is malformed.
std::optional<ProfileFile> load_profile_file(const std::filesystem::path& path, ProfileFileKind kind);

}  // namespace netsentry::aws
