#pragma once
// Where the S3 client's credentials come from: the AWS SDKs' default provider chain, first match wins
// (written here: no AWS SDK is packaged for Debian).
//   1. environment   AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN)
//   2. shared files  AWS_SHARED_CREDENTIALS_FILE (~/.aws/credentials) [NAME] and AWS_CONFIG_FILE
//                    (~/.aws/config) [profile NAME], NAME = AWS_PROFILE or "default":
//                    aws_access_key_id, aws_secret_access_key, aws_session_token
//   3. ECS container AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (on http://169.254.170.2) or
//                    AWS_CONTAINER_CREDENTIALS_FULL_URI (https, or http to a loopback host or the
//                    ECS/EKS agent addresses), Authorization from AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE
//                    or AWS_CONTAINER_AUTHORIZATION_TOKEN
//   4. EC2 IMDSv2    AWS_EC2_METADATA_SERVICE_ENDPOINT (http://169.254.169.254; ..._ENDPOINT_MODE=IPv6:
//                    http://[fd00:ec2::254]) unless AWS_EC2_METADATA_DISABLED=true; 1 s to connect,
//                    3 s per request
// Region: AWS_REGION, AWS_DEFAULT_REGION, the profile's `region`, the instance's region (when the
// credentials came from IMDS), us-east-1.
// Not supported (a UsageError naming the key, never a silent fall-through): role_arn,
// source_profile, credential_source, web_identity_token_file, credential_process and SSO profiles.
// No message or log line ever holds a secret key, a session token or an authorization token.
#include <optional>
#include <string>

#include "netsentry/registry/s3.hpp"

namespace netsentry::aws {

enum class Provider { Environment, SharedFiles, Container, InstanceMetadata };

struct ResolvedCredentials {
  s3::Credentials credentials;
  Provider provider = Provider::Environment;
  // Where they came from, e.g. "profile 'ci' of /home/me/.aws/credentials"; no secret.
  std::string source;
  // "S3 credentials from <source> (access key ****WXYZ[, temporary, expire at <UTC time>])"
  std::string log_line() const;
};

// The chain above. UsageError for a misconfiguration (a variable without its pair, an unknown
// profile, a malformed file, a refused container URI) and when no provider has credentials (the
// message lists what was tried); UnreachableError when a configured container endpoint or a reachable
// instance metadata service fails.
ResolvedCredentials resolve_credentials();

// The environment provider alone: nullopt when neither AWS_ACCESS_KEY_ID nor AWS_SECRET_ACCESS_KEY is
// set, UsageError naming the missing one when only one is. Region from AWS_REGION / AWS_DEFAULT_REGION.
std::optional<s3::Credentials> credentials_from_environment();

// An s3::Client refresh hook: resolves the chain again and logs where the new credentials came from.
s3::Client::Refresh refresh_by_resolving();

// The container credentials URL the environment names ("" when neither variable is set); UsageError for
// a FULL_URI that is not https or http to an allowed host. Exposed for the tests.
std::string container_credentials_url();

}  // namespace netsentry::aws
