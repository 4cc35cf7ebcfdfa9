#pragma once
// A small S3 client: PUT / GET / DELETE object and ListObjectsV2 over libcurl, signed with AWS
// Signature Version 4 (written here: no AWS SDK is packaged for Debian). Path-style URLs
// (<endpoint>/<bucket>/<key>), so any S3-compatible endpoint works (`--endpoint http://127.0.0.1:4568`).
// Credentials come from the caller: aws_credentials.hpp resolves them the way the AWS SDKs do.
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace netsentry::s3 {

struct Credentials {
  std::string access_key;
  std::string secret_key;
  std::string session_token;  // optional (temporary credentials): sent as x-amz-security-token
  std::string region = "us-east-1";
  // Temporary credentials (a container or instance role): when they stop being valid.
  std::optional<std::chrono::system_clock::time_point> expiration;
};

// "s3://bucket/some/prefix" -> {bucket, "some/prefix"} (no leading/trailing slash in the prefix).
struct Location {
  std::string bucket;
  std::string prefix;
  static Location parse(const std::string& uri);  // UsageError on anything else
  // prefix + "/" + rel (or rel when the prefix is empty)
  std::string key(const std::string& rel) const;
  std::string uri() const;
};

// An S3 error response (HTTP status, the XML <Code>/<Message>) or a transport failure (status 0).
struct Error : std::runtime_error {
  Error(const std::string& what, long status, std::string code)
      : std::runtime_error(what), status(status), code(std::move(code)) {}
  long status;
  std::string code;
};

namespace sigv4 {

inline constexpr const char* kEmptySha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// RFC 3986 percent-encoding as SigV4 wants it: A-Z a-z 0-9 - _ . ~ kept, '/' kept unless
// `encode_slash`, every other byte as %XX (upper-case hex).
std::string uri_encode(std::string_view s, bool encode_slash);
std::string hex(std::string_view raw);
std::string hmac_sha256(std::string_view key, std::string_view data);  // raw 32 bytes

struct Request {
  std::string method;                                        // "GET", "PUT", ...
  std::string path;                                          // decoded path, e.g. "/bucket/a b.txt"
  std::vector<std::pair<std::string, std::string>> query;    // decoded names and values
  std::vector<std::pair<std::string, std::string>> headers;  // must include host and x-amz-date
  std::string payload_sha256;                                // hex; also sent as x-amz-content-sha256
};

std::string canonical_query(const Request& r);
std::string signed_headers(const Request& r);
std::string canonical_request(const Request& r);
std::string string_to_sign(const std::string& amz_date, const std::string& scope,
                           const std::string& canonical);
// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")
std::string signing_key(const std::string& secret, const std::string& date, const std::string& region,
                        const std::string& service);
std::string signature(const Request& r, const Credentials& c, const std::string& amz_date,
                      const std::string& service = "s3");
// The whole Authorization header value.
std::string authorization(const Request& r, const Credentials& c, const std::string& amz_date,
                          const std::string& service = "s3");

}  // namespace sigv4

struct Object {
  std::string key;
  std::uint64_t size = 0;
  std::string etag;
};

class Client {
 public:
  // New credentials for ones that are about to expire (the region stays the client's).
  using Refresh = std::function<Credentials()>;
  // Credentials with an expiration are refreshed this long before it, on the next request.
  static constexpr std::chrono::minutes kRefreshAhead{5};

  // `endpoint` like "http://127.0.0.1:4568" or "https://s3.eu-west-1.amazonaws.com"; empty:
  // AWS_ENDPOINT_URL_S3, then AWS_ENDPOINT_URL, then https://s3.<region>.amazonaws.com.
  // With `refresh`, credentials that expire are replaced before a request when within kRefreshAhead of
  // their expiration (at most one try every 30 s; a failed try keeps the current ones while valid).
  Client(std::string endpoint, Credentials creds, Refresh refresh = {});

  void put_object(const std::string& bucket, const std::string& key, std::string_view body);
  std::string get_object(const std::string& bucket, const std::string& key);
  // nullopt on 404 (NoSuchKey)
  std::optional<std::string> get_object_if_exists(const std::string& bucket, const std::string& key);
  void delete_object(const std::string& bucket, const std::string& key);
  // Every object under `prefix` (follows continuation tokens; `page_size` objects per request).
  std::vector<Object> list_objects(const std::string& bucket, const std::string& prefix,
                                   int page_size = 1000);
  void create_bucket(const std::string& bucket);

  const std::string& endpoint() const { return endpoint_; }

 private:
  struct Response {
    long status = 0;
    std::string body;
  };
  Response perform(const std::string& method, const std::string& bucket, const std::string& key,
                   const std::vector<std::pair<std::string, std::string>>& query, std::string_view body);
  Response perform_once(const std::string& method, const std::string& path,
                        const std::vector<std::pair<std::string, std::string>>& query, std::string_view body);
  void refresh_if_expiring();

  std::string endpoint_;  // scheme://host[:port], no trailing slash
  std::string host_;      // host[:port] as sent in the Host header
  Credentials creds_;
  Refresh refresh_;
  std::optional<std::chrono::steady_clock::time_point> last_refresh_try_;
};

// Minimal XML helpers for S3 responses (exposed for the tests).
namespace xml {
// Text of every <tag>...</tag> element in `doc`, entity-decoded, in document order.
std::vector<std::string> all(std::string_view doc, std::string_view tag);
std::string first(std::string_view doc, std::string_view tag);
std::string unescape(std::string_view s);
}  // namespace xml

}  // namespace netsentry::s3
