// AWS Signature V4 against the worked examples in AWS's S3 documentation ("Signature Calculations for
// the Authorization Header: Transferring Payload in a Single Chunk"): the expected values below are the
// ones AWS publishes for its example credentials, not values produced by this code.
#include <gtest/gtest.h>

#include "netsentry/core/fs.hpp"
#include "netsentry/registry/s3.hpp"

using namespace netsentry;
using namespace netsentry::s3;

namespace {

const char* kDate = "20130524T000000Z";
const char* kHost = "examplebucket.s3.amazonaws.com";

Credentials example_credentials() {
  Credentials c;
  c.access_key = "AKIAIOSFODNN7EXAMPLE";
  c.secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
  c.region = "us-east-1";
  return c;
}

}  // namespace

TEST(SigV4, AwsGetObjectExample) {
  sigv4::Request r;
  r.method = "GET";
  r.path = "/test.txt";
  r.payload_sha256 = sigv4::kEmptySha256;
  r.headers = {{"Host", kHost},
               {"Range", "bytes=0-9"},
               {"x-amz-content-sha256", sigv4::kEmptySha256},
               {"x-amz-date", kDate}};
  EXPECT_EQ(sigv4::signed_headers(r), "host;range;x-amz-content-sha256;x-amz-date");
  EXPECT_EQ(sha256_hex(sigv4::canonical_request(r)),
            "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
  EXPECT_EQ(sigv4::signature(r, example_credentials(), kDate),
            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  EXPECT_EQ(sigv4::authorization(r, example_credentials(), kDate),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(SigV4, AwsPutObjectExample) {
  const std::string body = "Welcome to Amazon S3.";
  sigv4::Request r;
  r.method = "PUT";
  r.path = "/test$file.text";
  r.payload_sha256 = sha256_hex(body);
  ASSERT_EQ(r.payload_sha256, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  r.headers = {{"Host", kHost},
               {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
               {"x-amz-date", kDate},
               {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
               {"x-amz-content-sha256", r.payload_sha256}};
  EXPECT_EQ(sha256_hex(sigv4::canonical_request(r)),
            "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d");
  EXPECT_EQ(sigv4::signature(r, example_credentials(), kDate),
            "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

TEST(SigV4, AwsGetBucketLifecycleExample) {
  sigv4::Request r;
  r.method = "GET";
  r.path = "/";
  r.query = {{"lifecycle", ""}};
  r.payload_sha256 = sigv4::kEmptySha256;
  r.headers = {{"Host", kHost}, {"x-amz-content-sha256", sigv4::kEmptySha256}, {"x-amz-date", kDate}};
  EXPECT_EQ(sigv4::signature(r, example_credentials(), kDate),
            "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
}

TEST(SigV4, AwsListObjectsExampleSortsTheQuery) {
  sigv4::Request r;
  r.method = "GET";
  r.path = "/";
  r.query = {{"prefix", "J"}, {"max-keys", "2"}};  // out of order on purpose
  r.payload_sha256 = sigv4::kEmptySha256;
  r.headers = {{"Host", kHost}, {"x-amz-content-sha256", sigv4::kEmptySha256}, {"x-amz-date", kDate}};
  EXPECT_EQ(sigv4::canonical_query(r), "max-keys=2&prefix=J");
  EXPECT_EQ(sha256_hex(sigv4::canonical_request(r)),
            "df57d21db20da04d7fa30298dd4488ba3a2b47ca3a489c74750e0f1e7df1b9b7");
  EXPECT_EQ(sigv4::signature(r, example_credentials(), kDate),
            "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

TEST(SigV4, UriEncoding) {
  EXPECT_EQ(sigv4::uri_encode("/b/a b$c~_-.txt", false), "/b/a%20b%24c~_-.txt");
  EXPECT_EQ(sigv4::uri_encode("a/b=c&d", true), "a%2Fb%3Dc%26d");
  EXPECT_EQ(sigv4::uri_encode("caf\xc3\xa9", true), "caf%C3%A9");
}

TEST(S3Location, Parse) {
  auto l = Location::parse("s3://bucket/models/netsentry/");
  EXPECT_EQ(l.bucket, "bucket");
  EXPECT_EQ(l.prefix, "models/netsentry");
  EXPECT_EQ(l.key("v1/manifest.json"), "models/netsentry/v1/manifest.json");
  EXPECT_EQ(l.uri(), "s3://bucket/models/netsentry");
  auto b = Location::parse("s3://only");
  EXPECT_EQ(b.prefix, "");
  EXPECT_EQ(b.key("x"), "x");
  EXPECT_THROW(Location::parse("http://bucket/x"), std::exception);
  EXPECT_THROW(Location::parse("s3:///x"), std::exception);
}

TEST(S3Xml, ListObjectsV2Response) {
  const std::string doc =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult><Name>b</Name><Prefix>p/</Prefix>"
      "<KeyCount>2</KeyCount><IsTruncated>true</IsTruncated>"
      "<NextContinuationToken>tok&amp;1</NextContinuationToken>"
      "<Contents><Key>p/a&amp;b.txt</Key><Size>12</Size><ETag>&quot;abc&quot;</ETag></Contents>"
      "<Contents><Key>p/&lt;x&gt;</Key><Size>0</Size></Contents></ListBucketResult>";
  auto keys = xml::all(doc, "Key");
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys[0], "p/a&b.txt");
  EXPECT_EQ(keys[1], "p/<x>");
  EXPECT_EQ(xml::first(doc, "KeyCount"), "2");
  EXPECT_EQ(xml::first(doc, "IsTruncated"), "true");
  EXPECT_EQ(xml::first(doc, "NextContinuationToken"), "tok&1");
  EXPECT_EQ(xml::first(doc, "ETag"), "\"abc\"");
  EXPECT_EQ(xml::first(doc, "Missing"), "");
  EXPECT_EQ(xml::unescape("&#65;&#x42;&#233;"), "AB\xc3\xa9");
}
