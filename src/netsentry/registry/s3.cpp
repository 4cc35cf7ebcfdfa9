#include "netsentry/registry/s3.hpp"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <thread>

#include "netsentry/core/error.hpp"
#include "netsentry/core/fs.hpp"
#include "netsentry/core/text.hpp"

namespace netsentry::s3 {

namespace {

// Header values: leading/trailing spaces removed, runs of spaces collapsed to one.
std::string trim_value(std::string_view v) {
  std::string out;
  bool space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

std::string amz_date_now() {
  auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

struct CurlGlobal {
  CurlGlobal() { curl_global_init(CURL_GLOBAL_DEFAULT); }
  ~CurlGlobal() { curl_global_cleanup(); }
};

void ensure_curl() { static CurlGlobal g; }

size_t on_write(char* ptr, size_t size, size_t nmemb, void* user) {
  static_cast<std::string*>(user)->append(ptr, size * nmemb);
  return size * nmemb;
}

struct Upload {
  std::string_view data;
  std::size_t pos = 0;
};

size_t on_read(char* buffer, size_t size, size_t nitems, void* user) {
  auto* up = static_cast<Upload*>(user);
  std::size_t n = std::min(size * nitems, up->data.size() - up->pos);
  std::copy_n(up->data.data() + up->pos, n, buffer);
  up->pos += n;
  return n;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
Location Location::parse(const std::string& uri) {
  const std::string scheme = "s3://";
  if (uri.rfind(scheme, 0) != 0)
    throw UsageError("'" + uri + "': expected an S3 URI like s3://BUCKET/PREFIX");
  std::string rest = uri.substr(scheme.size());
  Location loc;
  auto slash = rest.find('/');
  loc.bucket = rest.substr(0, slash);
  if (slash != std::string::npos) loc.prefix = rest.substr(slash + 1);
  while (!loc.prefix.empty() && loc.prefix.back() == '/') loc.prefix.pop_back();
  while (!loc.prefix.empty() && loc.prefix.front() == '/') loc.prefix.erase(0, 1);
  if (loc.bucket.empty()) throw UsageError("'" + uri + "': the bucket name is missing (s3://BUCKET/PREFIX)");
  return loc;
}

std::string Location::key(const std::string& rel) const { return prefix.empty() ? rel : prefix + "/" + rel; }

std::string Location::uri() const { return "s3://" + bucket + (prefix.empty() ? "" : "/" + prefix); }

// ---------------------------------------------------------------------------------------------------
namespace sigv4 {

std::string uri_encode(std::string_view s, bool encode_slash) {
  static const char* hexd = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    bool keep =
        std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || (c == '/' && !encode_slash);
    if (keep) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hexd[c >> 4];
      out += hexd[c & 15];
    }
  }
  return out;
}

std::string hex(std::string_view raw) {
  static const char* hexd = "0123456789abcdef";
  std::string out;
  out.reserve(raw.size() * 2);
  for (unsigned char c : raw) {
    out += hexd[c >> 4];
    out += hexd[c & 15];
  }
  return out;
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), md, &n);
  return std::string(reinterpret_cast<const char*>(md), n);
}

std::string canonical_query(const Request& r) {
  std::vector<std::pair<std::string, std::string>> q;
  for (auto& [k, v] : r.query) q.emplace_back(uri_encode(k, true), uri_encode(v, true));
  std::sort(q.begin(), q.end());
  std::string out;
  for (auto& [k, v] : q) {
    if (!out.empty()) out += '&';
    out += k + "=" + v;
  }
  return out;
}

namespace {
std::vector<std::pair<std::string, std::string>> canonical_headers(const Request& r) {
  std::vector<std::pair<std::string, std::string>> h;
  for (auto& [k, v] : r.headers) h.emplace_back(ascii_lower(k), trim_value(v));
  std::sort(h.begin(), h.end(), [](auto& a, auto& b) { return a.first < b.first; });
  // Same-named headers: one line, values joined with commas.
  std::vector<std::pair<std::string, std::string>> out;
  for (auto& kv : h) {
    if (!out.empty() && out.back().first == kv.first)
      out.back().second += "," + kv.second;
    else
      out.push_back(kv);
  }
  return out;
}
}  // namespace

std::string signed_headers(const Request& r) {
  std::string out;
  for (auto& [k, v] : canonical_headers(r)) {
    if (!out.empty()) out += ';';
    out += k;
  }
  return out;
}

std::string canonical_request(const Request& r) {
  std::string out =
      r.method + "\n" + uri_encode(r.path.empty() ? "/" : r.path, false) + "\n" + canonical_query(r) + "\n";
  for (auto& [k, v] : canonical_headers(r)) out += k + ":" + v + "\n";
  out += "\n" + signed_headers(r) + "\n" + r.payload_sha256;
  return out;
}

std::string string_to_sign(const std::string& amz_date, const std::string& scope,
                           const std::string& canonical) {
  return "AWS4-HMAC-SHA256\n" + amz_date + "\n" + scope + "\n" + sha256_hex(canonical);
}

std::string signing_key(const std::string& secret, const std::string& date, const std::string& region,
                        const std::string& service) {
  std::string k = hmac_sha256("AWS4" + secret, date);
  k = hmac_sha256(k, region);
  k = hmac_sha256(k, service);
  return hmac_sha256(k, "aws4_request");
}

namespace {
std::string scope_of(const Credentials& c, const std::string& amz_date, const std::string& service) {
  return amz_date.substr(0, 8) + "/" + c.region + "/" + service + "/aws4_request";
}
}  // namespace

std::string signature(const Request& r, const Credentials& c, const std::string& amz_date,
                      const std::string& service) {
  const std::string sts = string_to_sign(amz_date, scope_of(c, amz_date, service), canonical_request(r));
  return hex(hmac_sha256(signing_key(c.secret_key, amz_date.substr(0, 8), c.region, service), sts));
}

std::string authorization(const Request& r, const Credentials& c, const std::string& amz_date,
                          const std::string& service) {
  return "AWS4-HMAC-SHA256 Credential=" + c.access_key + "/" + scope_of(c, amz_date, service) +
         ",SignedHeaders=" + signed_headers(r) + ",Signature=" + signature(r, c, amz_date, service);
}

}  // namespace sigv4

// ---------------------------------------------------------------------------------------------------
namespace xml {

std::string unescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '&') {
      out += s[i];
      continue;
    }
    auto semi = s.find(';', i);
    if (semi == std::string_view::npos) {
      out += s[i];
      continue;
    }
    std::string_view ent = s.substr(i + 1, semi - i - 1);
    if (ent == "amp")
      out += '&';
    else if (ent == "lt")
      out += '<';
    else if (ent == "gt")
      out += '>';
    else if (ent == "quot")
      out += '"';
    else if (ent == "apos")
      out += '\'';
    else if (!ent.empty() && ent[0] == '#') {
      long cp = ent.size() > 1 && (ent[1] == 'x' || ent[1] == 'X')
                    ? std::strtol(std::string(ent.substr(2)).c_str(), nullptr, 16)
                    : std::strtol(std::string(ent.substr(1)).c_str(), nullptr, 10);
      // UTF-8 encode
      if (cp < 0x80) {
        out += static_cast<char>(cp);
      } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      }
    } else {
      out.append(s.substr(i, semi - i + 1));
    }
    i = semi;
  }
  return out;
}

namespace {
// The raw (still escaped) inner text of every <tag> element.
std::vector<std::string> all_raw(std::string_view doc, std::string_view tag) {
  std::vector<std::string> out;
  const std::string open = "<" + std::string(tag), close = "</" + std::string(tag) + ">";
  std::size_t pos = 0;
  while ((pos = doc.find(open, pos)) != std::string_view::npos) {
    std::size_t after = pos + open.size();
    if (after >= doc.size()) break;
    // "<Key>" or "<Key attr=...>", not "<KeyMarker>"; "<Key/>" is an empty element.
    char c = doc[after];
    if (c != '>' && c != ' ' && c != '/') {
      pos = after;
      continue;
    }
    auto gt = doc.find('>', after);
    if (gt == std::string_view::npos) break;
    if (doc[gt - 1] == '/') {
      out.emplace_back();
      pos = gt + 1;
      continue;
    }
    auto end = doc.find(close, gt + 1);
    if (end == std::string_view::npos) break;
    out.emplace_back(doc.substr(gt + 1, end - gt - 1));
    pos = end + close.size();
  }
  return out;
}
}  // namespace

std::vector<std::string> all(std::string_view doc, std::string_view tag) {
  auto out = all_raw(doc, tag);
  for (auto& s : out) s = unescape(s);
  return out;
}

std::string first(std::string_view doc, std::string_view tag) {
  auto v = all(doc, tag);
  return v.empty() ? std::string() : v.front();
}

}  // namespace xml

// ---------------------------------------------------------------------------------------------------
Client::Client(std::string endpoint, Credentials creds, Refresh refresh)
    : creds_(std::move(creds)), refresh_(std::move(refresh)) {
  if (endpoint.empty()) endpoint = env_text("AWS_ENDPOINT_URL_S3");
  if (endpoint.empty()) endpoint = env_text("AWS_ENDPOINT_URL");
  if (endpoint.empty()) endpoint = "https://s3." + creds_.region + ".amazonaws.com";
  while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
  auto sep = endpoint.find("://");
  if (sep == std::string::npos || (endpoint.substr(0, sep) != "http" && endpoint.substr(0, sep) != "https"))
    throw UsageError("--endpoint '" + endpoint + "': expected http://HOST[:PORT] or https://HOST[:PORT]");
  host_ = endpoint.substr(sep + 3);
  if (host_.empty() || host_.find('/') != std::string::npos)
    throw UsageError("--endpoint '" + endpoint +
                     "': expected http://HOST[:PORT] with no path (path-style requests)");
  endpoint_ = endpoint;
  ensure_curl();
}

void Client::refresh_if_expiring() {
  if (!refresh_ || !creds_.expiration) return;
  const auto now = std::chrono::system_clock::now();
  if (now + kRefreshAhead < *creds_.expiration) return;
  const auto tick = std::chrono::steady_clock::now();
  if (last_refresh_try_ && tick - *last_refresh_try_ < std::chrono::seconds(30) && now < *creds_.expiration)
    return;
  last_refresh_try_ = tick;
  try {
    Credentials fresh = refresh_();
    fresh.region = creds_.region;  // the endpoint and the signing scope were chosen for it
    creds_ = std::move(fresh);
  } catch (const std::exception& e) {
    if (now >= *creds_.expiration) throw;
    spdlog::warn("S3: cannot refresh the credentials, which expire at {}: {}; using them until then",
                 utc_iso8601(*creds_.expiration), e.what());
  }
}

Client::Response Client::perform_once(const std::string& method, const std::string& path,
                                      const std::vector<std::pair<std::string, std::string>>& query,
                                      std::string_view body) {
  refresh_if_expiring();
  sigv4::Request req;
  req.method = method;
  req.path = path;
  req.query = query;
  req.payload_sha256 = body.empty() ? std::string(sigv4::kEmptySha256) : sha256_hex(body);
  const std::string amz_date = amz_date_now();
  req.headers = {{"host", host_}, {"x-amz-date", amz_date}, {"x-amz-content-sha256", req.payload_sha256}};
  if (!creds_.session_token.empty()) req.headers.emplace_back("x-amz-security-token", creds_.session_token);
  const std::string auth = sigv4::authorization(req, creds_, amz_date);

  std::string url = endpoint_ + sigv4::uri_encode(path, false);
  if (auto q = sigv4::canonical_query(req); !q.empty()) url += "?" + q;

  std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) throw Error("S3: cannot initialise libcurl", 0, "");
  curl_slist* headers = nullptr;
  for (auto& [k, v] : req.headers) headers = curl_slist_append(headers, (k + ": " + v).c_str());
  headers = curl_slist_append(headers, ("Authorization: " + auth).c_str());
  headers = curl_slist_append(headers, "Expect:");
  std::unique_ptr<curl_slist, void (*)(curl_slist*)> header_guard(headers, curl_slist_free_all);

  Response resp;
  Upload up{body, 0};
  CURL* h = curl.get();
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp.body);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 15L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
  if (method == "PUT") {
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(h, CURLOPT_READDATA, &up);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(body.size()));
  } else if (method != "GET") {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method.c_str());
  }
  CURLcode rc = curl_easy_perform(h);
  if (rc != CURLE_OK) throw Error("S3 " + method + " " + url + ": " + curl_easy_strerror(rc), 0, "");
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp.status);
  return resp;
}

Client::Response Client::perform(const std::string& method, const std::string& bucket, const std::string& key,
                                 const std::vector<std::pair<std::string, std::string>>& query,
                                 std::string_view body) {
  const std::string path = "/" + bucket + (key.empty() ? std::string() : "/" + key);
  const std::string what = "S3 " + method + " s3://" + bucket + (key.empty() ? "" : "/" + key);
  constexpr int kAttempts = 4;
  for (int attempt = 1;; ++attempt) {
    bool retry = false;
    std::string err;
    try {
      Response r = perform_once(method, path, query, body);
      if (r.status >= 200 && r.status < 300) return r;
      if (r.status == 404 || r.status < 500 || attempt == kAttempts) {
        std::string code = xml::first(r.body, "Code"), msg = xml::first(r.body, "Message");
        throw Error(what + " (" + endpoint_ + "): HTTP " + std::to_string(r.status) +
                        (code.empty() ? "" : " " + code) + (msg.empty() ? "" : ": " + msg),
                    r.status, code);
      }
      retry = true;
      err = "HTTP " + std::to_string(r.status);
    } catch (const Error& e) {
      if (e.status != 0) throw;
      // No answer at all after every attempt: the store is unreachable (exit 5), not an internal error.
      if (attempt == kAttempts)
        throw UnreachableError(std::string(e.what()) + " (" + std::to_string(kAttempts) + " attempts)");
      retry = true;
      err = e.what();
    }
    if (retry) {
      spdlog::warn("{}: {} (attempt {}/{}), retrying", what, err, attempt, kAttempts);
      std::this_thread::sleep_for(std::chrono::milliseconds(200 << attempt));
    }
  }
}

void Client::put_object(const std::string& bucket, const std::string& key, std::string_view body) {
  perform("PUT", bucket, key, {}, body);
}

std::string Client::get_object(const std::string& bucket, const std::string& key) {
  return perform("GET", bucket, key, {}, {}).body;
}

std::optional<std::string> Client::get_object_if_exists(const std::string& bucket, const std::string& key) {
  try {
    return get_object(bucket, key);
  } catch (const Error& e) {
    if (e.status == 404) return std::nullopt;
    throw;
  }
}

void Client::delete_object(const std::string& bucket, const std::string& key) {
  perform("DELETE", bucket, key, {}, {});
}

void Client::create_bucket(const std::string& bucket) { perform("PUT", bucket, "", {}, {}); }

std::vector<Object> Client::list_objects(const std::string& bucket, const std::string& prefix,
                                         int page_size) {
  std::vector<Object> out;
  std::string token;
  for (int page = 0; page < 100000; ++page) {
    std::vector<std::pair<std::string, std::string>> q = {
        {"list-type", "2"}, {"prefix", prefix}, {"max-keys", std::to_string(page_size)}};
    if (!token.empty()) q.emplace_back("continuation-token", token);
    Response r = perform("GET", bucket, "", q, {});
    for (auto& c : xml::all_raw(r.body, "Contents")) {
      Object o;
      o.key = xml::first(c, "Key");
      o.etag = xml::first(c, "ETag");
      auto size = xml::first(c, "Size");
      o.size = size.empty() ? 0 : std::strtoull(size.c_str(), nullptr, 10);
      out.push_back(std::move(o));
    }
    if (xml::first(r.body, "IsTruncated") != "true") break;
    token = xml::first(r.body, "NextContinuationToken");
    if (token.empty()) break;
  }
  return out;
}

}  // namespace netsentry::s3
