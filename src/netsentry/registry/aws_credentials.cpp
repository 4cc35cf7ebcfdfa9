#include "netsentry/registry/aws_credentials.hpp"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <pwd.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "netsentry/core/error.hpp"
#include "netsentry/core/fs.hpp"
#include "netsentry/core/text.hpp"
#include "netsentry/registry/aws_profiles.hpp"
#include "netsentry/table/time_text.hpp"

namespace netsentry::aws {

namespace {

constexpr const char* kEcsAgent = "http://169.254.170.2";
constexpr const char* kImdsDefault = "http://169.254.169.254";
constexpr const char* kImdsIpv6 = "http://[fd00:ec2::254]";
constexpr long kImdsConnectMs = 1000, kImdsRequestMs = 3000;
constexpr long kEcsConnectMs = 2000, kEcsRequestMs = 5000;
constexpr std::size_t kMaxAnswer = 64 * 1024;
constexpr const char* kImdsCredentialsPath = "/latest/meta-data/iam/security-credentials/";

std::string trim(std::string_view s) {
  auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && blank(s.back())) s.remove_suffix(1);
  return std::string(s);
}

std::optional<std::string> region_from_environment() {
  if (auto r = env_text("AWS_REGION"); !r.empty()) return r;
  if (auto d = env_text("AWS_DEFAULT_REGION"); !d.empty()) return d;
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------------
// HTTP for the container endpoint and the instance metadata service (never through a proxy, no
// redirects, http and https only, answers up to 64 KiB).

struct CurlGlobal {
  CurlGlobal() { curl_global_init(CURL_GLOBAL_DEFAULT); }
  ~CurlGlobal() { curl_global_cleanup(); }
};

struct Answer {
  long status = 0;
  std::string body;
};

// No connection, a timeout, an answer cut short: the message is libcurl's (no header is in it).
struct TransportFailure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Capture {
  std::string body;
  bool too_large = false;
};

size_t on_write(char* ptr, size_t size, size_t nmemb, void* user) {
  auto* cap = static_cast<Capture*>(user);
  const std::size_t n = size * nmemb;
  if (cap->body.size() + n > kMaxAnswer) {
    cap->too_large = true;
    return 0;
  }
  cap->body.append(ptr, n);
  return n;
}

Answer http_request(const std::string& method, const std::string& url,
                    const std::vector<std::string>& headers, long connect_ms, long request_ms) {
  static CurlGlobal global;
  std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) throw TransportFailure("cannot initialise libcurl");
  curl_slist* list = nullptr;
  for (const auto& h : headers) list = curl_slist_append(list, h.c_str());
  if (method == "PUT") list = curl_slist_append(list, "Content-Type:");
  std::unique_ptr<curl_slist, void (*)(curl_slist*)> list_guard(list, curl_slist_free_all);

  Capture cap;
  std::array<char, CURL_ERROR_SIZE> errbuf{};
  CURL* h = curl.get();
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &cap);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf.data());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, request_ms);
  curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  if (method == "PUT") {
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "PUT");
  }
  const CURLcode rc = curl_easy_perform(h);
  if (rc != CURLE_OK) {
    if (cap.too_large) throw TransportFailure("the answer is larger than 64 KiB");
    throw TransportFailure(errbuf[0] ? std::string(errbuf.data()) : std::string(curl_easy_strerror(rc)));
  }
  Answer a;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &a.status);
  a.body = std::move(cap.body);
  return a;
}

struct UrlParts {
  std::string scheme, host, port;
};

// scheme, host (IPv6 without brackets) and port of an absolute URL; nullopt if it is not one.
std::optional<UrlParts> url_parts(const std::string& url) {
  std::unique_ptr<CURLU, void (*)(CURLU*)> u(curl_url(), curl_url_cleanup);
  if (!u || curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) return std::nullopt;
  auto part = [&](CURLUPart which) {
    char* p = nullptr;
    std::string out;
    if (curl_url_get(u.get(), which, &p, 0) == CURLUE_OK && p) out = p;
    curl_free(p);
    return out;
  };
  UrlParts parts{ascii_lower(part(CURLUPART_SCHEME)), ascii_lower(part(CURLUPART_HOST)),
                 part(CURLUPART_PORT)};
  if (parts.host.size() >= 2 && parts.host.front() == '[' && parts.host.back() == ']')
    parts.host = parts.host.substr(1, parts.host.size() - 2);
  if (parts.scheme.empty() || parts.host.empty()) return std::nullopt;
  return parts;
}

// scheme://host[:port] of a URL, for messages: no user info, path or query.
std::string origin_of(const std::string& url) {
  auto p = url_parts(url);
  if (!p) return "(an unparsable URL)";
  const bool v6 = p->host.find(':') != std::string::npos;
  return p->scheme + "://" + (v6 ? "[" + p->host + "]" : p->host) + (p->port.empty() ? "" : ":" + p->port);
}

bool loopback_address(const std::string& host) {
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

// ---------------------------------------------------------------------------------------------------
// The credentials JSON of the container endpoint and of IMDS.

s3::Credentials credentials_from_json(const std::string& body, const std::string& what) {
  // Parsed without exceptions: a parse error's message quotes the text around it.
  const nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw UnreachableError(what + ": the answer is not a JSON object");
  auto field = [&](const char* name, bool required) -> std::string {
    auto it = j.find(name);
    if (it == j.end() || it->is_null()) {
      if (required) throw UnreachableError(what + ": the answer has no " + name);
      return {};
    }
    if (!it->is_string()) throw UnreachableError(what + ": the answer's " + name + " is not a string");
    std::string v = it->get<std::string>();
    if (required && v.empty()) throw UnreachableError(what + ": the answer's " + name + " is empty");
    return v;
  };
  if (auto code = field("Code", false); !code.empty() && code != "Success")
    throw UnreachableError(what + ": the answer's Code is " + quote_value(code));
  s3::Credentials c;
  c.access_key = field("AccessKeyId", true);
  c.secret_key = field("SecretAccessKey", true);
  c.session_token = field("Token", false);
  if (auto e = field("Expiration", false); !e.empty()) {
    auto seconds = parse_iso8601(e);
    // Between 1970 and 2255: what the clock's nanoseconds hold.
    if (!seconds || !(*seconds >= 0 && *seconds < 9e9))
      throw UnreachableError(what + ": the answer's Expiration " + quote_value(e) + " is not a time");
    c.expiration =
        std::chrono::system_clock::time_point(std::chrono::duration_cast<std::chrono::system_clock::duration>(
            std::chrono::duration<double>(*seconds)));
  }
  return c;
}

// ---------------------------------------------------------------------------------------------------
// The shared files.

std::filesystem::path home_dir() {
  if (auto h = env_text("HOME"); !h.empty()) return h;
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* found = nullptr;
  if (getpwuid_r(getuid(), &pw, buf.data(), buf.size(), &found) == 0 && found && found->pw_dir)
    return found->pw_dir;
  return "~";
}

std::filesystem::path shared_file_path(const char* variable, const char* default_name) {
  std::string p = env_text(variable);
  if (p.empty()) return home_dir() / ".aws" / default_name;
  if (p == "~") return home_dir();
  if (p.rfind("~/", 0) == 0) return home_dir() / p.substr(2);
  return p;
}

struct Found {
  std::string value;
  std::string file;
  int line = 0;
};

class SharedFiles {
 public:
  // Reads both files once; UsageError for a malformed file or an AWS_PROFILE that neither has.
  void load() {
    if (loaded_) return;
    credentials_path_ = shared_file_path("AWS_SHARED_CREDENTIALS_FILE", "credentials");
    config_path_ = shared_file_path("AWS_CONFIG_FILE", "config");
    const std::string chosen = env_text("AWS_PROFILE");
    profile_ = chosen.empty() ? "default" : chosen;
    credentials_ = load_profile_file(credentials_path_, ProfileFileKind::Credentials);
    config_ = load_profile_file(config_path_, ProfileFileKind::Config);
    if (credentials_)
      if (auto it = credentials_->find(profile_); it != credentials_->end()) in_credentials_ = &it->second;
    if (config_)
      if (auto it = config_->find(profile_); it != config_->end()) in_config_ = &it->second;
    loaded_ = true;
    if (!chosen.empty() && !found())
      throw UsageError("AWS_PROFILE names the profile " + quote_value(profile_) + ", which is in neither " +
                       credentials_path_.string() + (credentials_ ? "" : " (absent)") + " nor " +
                       config_path_.string() + (config_ ? "" : " (absent)"));
  }

  bool found() const { return in_credentials_ || in_config_; }
  const std::string& profile() const { return profile_; }
  std::string both_files() const { return credentials_path_.string() + " and " + config_path_.string(); }

  // The profile's value of `key` (lower case): the credentials file's, else the config file's.
  std::optional<Found> get(const std::string& key) const {
    if (in_credentials_)
      if (auto it = in_credentials_->find(key); it != in_credentials_->end())
        return Found{it->second.value, credentials_path_.string(), it->second.line};
    if (in_config_)
      if (auto it = in_config_->find(key); it != in_config_->end())
        return Found{it->second.value, config_path_.string(), it->second.line};
    return std::nullopt;
  }

 private:
  bool loaded_ = false;
  std::filesystem::path credentials_path_, config_path_;
  std::string profile_;
  std::optional<ProfileFile> credentials_, config_;
  const Profile* in_credentials_ = nullptr;
  const Profile* in_config_ = nullptr;
};

// Keys of profiles whose credentials come from somewhere netsentry does not go (assumed roles, web
// identity, SSO, an external process): refused by name rather than skipped.
constexpr std::array<const char*, 9> kUnsupportedKeys = {
    "role_arn",           "source_profile", "credential_source", "web_identity_token_file",
    "credential_process", "sso_session",    "sso_start_url",     "sso_account_id",
    "sso_role_name"};

std::optional<ResolvedCredentials> from_shared_files(SharedFiles& files, std::vector<std::string>& tried) {
  files.load();
  const std::string name = quote_value(files.profile());
  if (!files.found()) {
    tried.push_back("the shared files " + files.both_files() + " (no profile " + name + ")");
    return std::nullopt;
  }
  for (const char* key : kUnsupportedKeys)
    if (auto f = files.get(key))
      throw UsageError("profile " + name + " of " + f->file + " (line " + std::to_string(f->line) +
                       ") sets " + key +
                       ", which netsentry does not support: give the profile aws_access_key_id and " +
                       "aws_secret_access_key, or use the environment, a container or an instance role");
  auto nonempty = [&](const char* key) {
    auto f = files.get(key);
    return f && !f->value.empty() ? f : std::nullopt;
  };
  auto id = nonempty("aws_access_key_id");
  auto secret = nonempty("aws_secret_access_key");
  if (!id && !secret) {
    tried.push_back("profile " + name + " of " + files.both_files() + " (no aws_access_key_id)");
    return std::nullopt;
  }
  if (!secret)
    throw UsageError("profile " + name + " of " + id->file + " (line " + std::to_string(id->line) +
                     ") has aws_access_key_id but no aws_secret_access_key");
  if (!id)
    throw UsageError("profile " + name + " of " + secret->file + " (line " + std::to_string(secret->line) +
                     ") has aws_secret_access_key but no aws_access_key_id");
  ResolvedCredentials r;
  r.provider = Provider::SharedFiles;
  r.source = "profile " + name + " of " + id->file;
  r.credentials.access_key = id->value;
  r.credentials.secret_key = secret->value;
  if (auto token = files.get("aws_session_token")) r.credentials.session_token = token->value;
  return r;
}

// ---------------------------------------------------------------------------------------------------
// The container endpoint.

// The Authorization header's value: AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (read on every call: the
// agent rotates it), else AWS_CONTAINER_AUTHORIZATION_TOKEN.
std::optional<std::string> container_authorization() {
  std::string token;
  std::string from;
  if (auto file = env_text("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"); !file.empty()) {
    std::ifstream in(file, std::ios::binary);
    if (!in)
      throw UsageError("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE " + file +
                       ": cannot read it: " + std::strerror(errno));
    std::ostringstream ss;
    ss << in.rdbuf();
    token = trim(ss.str());
    from = "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE " + file;
  } else {
    token = env_text("AWS_CONTAINER_AUTHORIZATION_TOKEN");
    from = "AWS_CONTAINER_AUTHORIZATION_TOKEN";
  }
  if (token.empty()) return std::nullopt;
  if (token.find_first_of("\r\n") != std::string::npos)
    throw UsageError(from + ": the token holds a line break, which cannot go into an HTTP header");
  return token;
}

std::optional<ResolvedCredentials> from_container(std::vector<std::string>& tried) {
  const std::string url = container_credentials_url();
  if (url.empty()) {
    tried.push_back(
        "the ECS container endpoint (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and "
        "AWS_CONTAINER_CREDENTIALS_FULL_URI are not set)");
    return std::nullopt;
  }
  const std::string what = "ECS container credentials at " + origin_of(url);
  std::vector<std::string> headers = {"Accept: application/json"};
  if (auto auth = container_authorization()) headers.push_back("Authorization: " + *auth);
  Answer a;
  try {
    a = http_request("GET", url, headers, kEcsConnectMs, kEcsRequestMs);
  } catch (const TransportFailure& e) {
    throw UnreachableError(what + ": " + e.what());
  }
  if (a.status != 200) throw UnreachableError(what + ": HTTP " + std::to_string(a.status));
  ResolvedCredentials r;
  r.provider = Provider::Container;
  r.source = "the ECS container endpoint " + origin_of(url);
  r.credentials = credentials_from_json(a.body, what);
  return r;
}

// ---------------------------------------------------------------------------------------------------
// EC2 instance metadata, IMDSv2 only (a session token first; IMDSv1's plain GETs are never sent).

bool imds_disabled() { return ascii_lower(trim(env_text("AWS_EC2_METADATA_DISABLED"))) == "true"; }

std::string imds_endpoint() {
  std::string ep = env_text("AWS_EC2_METADATA_SERVICE_ENDPOINT");
  if (ep.empty()) {
    const std::string mode = ascii_lower(trim(env_text("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE")));
    if (!mode.empty() && mode != "ipv4" && mode != "ipv6")
      throw UsageError("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE " + quote_value(mode) +
                       ": expected IPv4 or IPv6");
    ep = mode == "ipv6" ? kImdsIpv6 : kImdsDefault;
  }
  while (!ep.empty() && ep.back() == '/') ep.pop_back();
  auto parts = url_parts(ep);
  if (!parts || (parts->scheme != "http" && parts->scheme != "https"))
    throw UsageError("AWS_EC2_METADATA_SERVICE_ENDPOINT " + quote_value(ep) +
                     ": expected http://HOST[:PORT]");
  return ep;
}

class Imds {
 public:
  explicit Imds(std::string endpoint) : endpoint_(std::move(endpoint)) {}
  const std::string& endpoint() const { return endpoint_; }
  std::string what() const { return "EC2 instance metadata at " + endpoint_; }

  // false when the service does not answer (no instance metadata here).
  bool open(std::string& why_not) {
    Answer a;
    try {
      a = http_request("PUT", endpoint_ + "/latest/api/token",
                       {"X-aws-ec2-metadata-token-ttl-seconds: 21600"}, kImdsConnectMs, kImdsRequestMs);
    } catch (const TransportFailure& e) {
      why_not = e.what();
      return false;
    }
    if (a.status != 200)
      throw UnreachableError(what() + ": PUT /latest/api/token: HTTP " + std::to_string(a.status));
    token_ = trim(a.body);
    if (token_.empty() || token_.find_first_of("\r\n") != std::string::npos)
      throw UnreachableError(what() + ": PUT /latest/api/token: the answer is not a token");
    return true;
  }

  Answer get(const std::string& path) const {
    try {
      return http_request("GET", endpoint_ + path, {"X-aws-ec2-metadata-token: " + token_}, kImdsConnectMs,
                          kImdsRequestMs);
    } catch (const TransportFailure& e) {
      throw UnreachableError(what() + ": GET " + path + ": " + e.what());
    }
  }

  std::string get_ok(const std::string& path) const {
    Answer a = get(path);
    if (a.status != 200)
      throw UnreachableError(what() + ": GET " + path + ": HTTP " + std::to_string(a.status));
    return a.body;
  }

 private:
  std::string endpoint_;
  std::string token_;
};

bool valid_role_name(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) {
    return std::isalnum(c) || std::strchr("+=,.@_-", c) != nullptr;
  });
}

std::optional<ResolvedCredentials> from_instance_metadata(std::optional<Imds>& session,
                                                          std::vector<std::string>& tried) {
  if (imds_disabled()) {
    tried.push_back("EC2 instance metadata (AWS_EC2_METADATA_DISABLED=true)");
    return std::nullopt;
  }
  session.emplace(imds_endpoint());
  std::string why_not;
  if (!session->open(why_not)) {
    tried.push_back(session->what() + " (no answer: " + why_not + ")");
    session.reset();
    return std::nullopt;
  }
  Answer list = session->get(kImdsCredentialsPath);
  if (list.status == 404) {
    tried.push_back(session->what() + " (the instance has no IAM role)");
    return std::nullopt;
  }
  if (list.status != 200)
    throw UnreachableError(session->what() + ": GET " + kImdsCredentialsPath + ": HTTP " +
                           std::to_string(list.status));
  const std::string role = trim(list.body.substr(0, list.body.find('\n')));
  if (role.empty()) {
    tried.push_back(session->what() + " (the instance has no IAM role)");
    return std::nullopt;
  }
  if (!valid_role_name(role))
    throw UnreachableError(session->what() + ": GET " + kImdsCredentialsPath + ": " + quote_value(role) +
                           " is not a role name");
  ResolvedCredentials r;
  r.provider = Provider::InstanceMetadata;
  r.source = session->what() + ", role " + quote_value(role);
  r.credentials = credentials_from_json(session->get_ok(kImdsCredentialsPath + role), session->what());
  return r;
}

std::string instance_region(const Imds& session) {
  const std::string path = "/latest/meta-data/placement/region";
  const std::string region = trim(session.get_ok(path));
  const bool ok = !region.empty() && std::all_of(region.begin(), region.end(),
                                                 [](unsigned char c) { return std::isalnum(c) || c == '-'; });
  if (!ok)
    throw UnreachableError(session.what() + ": GET " + path + ": " + quote_value(region) +
                           " is not a region");
  return region;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
std::string ResolvedCredentials::log_line() const {
  const std::string& id = credentials.access_key;
  std::string out = "S3 credentials from " + source + " (access key ****" +
                    (id.size() > 8 ? id.substr(id.size() - 4) : std::string());
  if (credentials.expiration) out += ", temporary, expire at " + utc_iso8601(*credentials.expiration);
  return out + ")";
}

std::optional<s3::Credentials> credentials_from_environment() {
  const std::string id = env_text("AWS_ACCESS_KEY_ID"), secret = env_text("AWS_SECRET_ACCESS_KEY");
  if (id.empty() && secret.empty()) return std::nullopt;
  if (id.empty())
    throw UsageError("S3: AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not (the access key)");
  if (secret.empty())
    throw UsageError(
        "S3: AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not (the secret for the access key)");
  s3::Credentials c;
  c.access_key = id;
  c.secret_key = secret;
  c.session_token = env_text("AWS_SESSION_TOKEN");
  if (auto r = region_from_environment()) c.region = *r;
  return c;
}

std::string container_credentials_url() {
  if (auto rel = env_text("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"); !rel.empty())
    return std::string(kEcsAgent) + (rel.front() == '/' ? "" : "/") + rel;
  const std::string full = env_text("AWS_CONTAINER_CREDENTIALS_FULL_URI");
  if (full.empty()) return {};
  auto p = url_parts(full);
  if (!p || (p->scheme != "http" && p->scheme != "https"))
    throw UsageError("AWS_CONTAINER_CREDENTIALS_FULL_URI: expected an http:// or https:// URL");
  if (p->scheme == "https") return full;
  static const std::array<const char*, 4> kAgents = {"localhost", "169.254.170.2", "169.254.170.23",
                                                     "fd00:ec2::23"};
  const bool allowed = loopback_address(p->host) || std::any_of(kAgents.begin(), kAgents.end(),
                                                                [&](const char* a) { return p->host == a; });
  if (!allowed)
    throw UsageError("AWS_CONTAINER_CREDENTIALS_FULL_URI: plain http to " + quote_value(p->host) +
                     " is refused (the credentials would cross the network unencrypted): use https, or http "
                     "to a loopback host (127.0.0.0/8, ::1, localhost) or the ECS/EKS agent (169.254.170.2, "
                     "169.254.170.23, fd00:ec2::23)");
  return full;
}

ResolvedCredentials resolve_credentials() {
  std::vector<std::string> tried;
  SharedFiles files;
  std::optional<Imds> imds;

  std::optional<ResolvedCredentials> r;
  if (auto c = credentials_from_environment()) {
    r.emplace();
    r->provider = Provider::Environment;
    r->source = "the environment (AWS_ACCESS_KEY_ID)";
    r->credentials = *c;
  } else {
    tried.push_back("the environment (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set)");
  }
  if (!r) r = from_shared_files(files, tried);
  if (!r) r = from_container(tried);
  if (!r) r = from_instance_metadata(imds, tried);
  if (!r) {
    std::string list;
    for (const auto& t : tried) list += (list.empty() ? "" : "; ") + t;
    throw UsageError("S3: no credentials found; tried " + list +
                     ". Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, give a profile in the shared "
                     "files (AWS_PROFILE), or run with a container or instance role");
  }

  if (auto region = region_from_environment()) {
    r->credentials.region = *region;
  } else {
    files.load();
    if (auto f = files.get("region"); f && !f->value.empty())
      r->credentials.region = f->value;
    else if (r->provider == Provider::InstanceMetadata && imds)
      r->credentials.region = instance_region(*imds);
    else
      r->credentials.region = "us-east-1";
  }
  return *r;
}

s3::Client::Refresh refresh_by_resolving() {
  return [] {
    ResolvedCredentials r = resolve_credentials();
    spdlog::info("{} (refreshed)", r.log_line());
    return r.credentials;
  };
}

}  // namespace netsentry::aws
