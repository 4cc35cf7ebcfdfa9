#pragma once
// Which training data a client of POST /api/v1/train may name. Only what the operator configured:
// files (CSV, SQLite databases) under serve.training_data_roots, and sources whose URI starts with
// one of serve.training_source_uris (e.g. "mongodb://db.internal:27017/netsentry"). With neither
// configured, a request can only train on the configuration's own data.source. Without this a token
// holder could make the server read any file it can (/etc/shadow) or connect to any host.
#include <filesystem>
#include <string>
#include <variant>
#include <vector>

namespace netsentry::serve {

struct TrainingSources {
  std::vector<std::filesystem::path> data_roots;  // directories; made absolute and canonical on use
  std::vector<std::string> uri_prefixes;
};

// The source to train on for what a client sent: the file's canonical path (symbolic links and ".."
// resolved, so the job reads what was checked) or the URI as given; else the reason it is refused,
// which names the setting and never anything read from the file.
struct Refused {
  std::string reason;
};
std::variant<std::string, Refused> allowed_training_source(const std::string& requested,
                                                           const TrainingSources& allowed);

}  // namespace netsentry::serve
