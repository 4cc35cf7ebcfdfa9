#include "netsentry/demo/sample_data.hpp"

#include <array>
#include <random>

#include "netsentry/core/error.hpp"

namespace netsentry {

namespace {

struct FeatureFrequencies {
  const char* name;
  std::array<int, 3> phishing;    // counts of -1, 0, 1 among rows with Result = -1
  std::array<int, 3> legitimate;  // counts of -1, 0, 1 among rows with Result = 1
};

// Measured on the UCI "Phishing Websites" file (11,055 rows: 4,898 phishing, 6,157 legitimate).
constexpr FeatureFrequencies kFrequencies[] = {
    {"having_IP_Address", {{1926, 0, 2972}}, {{1867, 0, 4290}}},
    {"URL_Length", {{4079, 83, 736}}, {{4881, 52, 1224}}},
    {"Shortining_Service", {{514, 0, 4384}}, {{930, 0, 5227}}},
    {"having_At_Symbol", {{837, 0, 4061}}, {{818, 0, 5339}}},
    {"double_slash_redirecting", {{562, 0, 4336}}, {{867, 0, 5290}}},
    {"Prefix_Suffix", {{4898, 0, 0}}, {{4692, 0, 1465}}},
    {"having_Sub_Domain", {{1836, 2252, 810}}, {{1527, 1370, 3260}}},
    {"SSLfinal_State", {{3051, 1146, 701}}, {{506, 21, 5630}}},
    {"Domain_registeration_length", {{2690, 0, 2208}}, {{4699, 0, 1458}}},
    {"Favicon", {{909, 0, 3989}}, {{1144, 0, 5013}}},
    {"port_no", {{734, 0, 4164}}, {{768, 0, 5389}}},
    {"HTTPS_token", {{715, 0, 4183}}, {{1081, 0, 5076}}},
    {"Request_URL", {{2675, 0, 2223}}, {{1820, 0, 4337}}},
    {"URL_of_Anchor", {{3246, 1502, 150}}, {{36, 3835, 2286}}},
    {"Links_in_tags", {{2387, 1744, 767}}, {{1569, 2705, 1883}}},
    {"SFH", {{4238, 263, 397}}, {{4202, 498, 1457}}},
    {"Submitting_to_email", {{931, 0, 3967}}, {{1083, 0, 5074}}},
    {"Abnormal_URL", {{604, 0, 4294}}, {{1025, 0, 5132}}},
    {"Redirect", {{0, 4296, 602}}, {{0, 5480, 677}}},
    {"on_mouseover", {{657, 0, 4241}}, {{658, 0, 5499}}},
    {"RightClick", {{225, 0, 4673}}, {{251, 0, 5906}}},
    {"popUpWidnow", {{947, 0, 3951}}, {{1190, 0, 4967}}},
    {"Iframe", {{443, 0, 4455}}, {{569, 0, 5588}}},
    {"age_of_domain", {{2632, 0, 2266}}, {{2557, 0, 3600}}},
    {"DNSRecord", {{1718, 0, 3180}}, {{1725, 0, 4432}}},
    {"web_traffic", {{1673, 1718, 1507}}, {{982, 851, 4324}}},
    {"Page_Rank", {{3885, 0, 1013}}, {{4316, 0, 1841}}},
    {"Google_Index", {{927, 0, 3971}}, {{612, 0, 5545}}},
    {"Links_pointing_to_page", {{193, 2929, 1776}}, {{355, 3227, 2575}}},
    {"Statistical_report", {{839, 0, 4059}}, {{711, 0, 5446}}},
};

constexpr double kLegitimateShare = 6157.0 / 11055.0;

}  // namespace

Table sample_phishing_data(std::size_t rows, std::uint64_t seed) {
  if (rows < 10) throw UsageError("sample-data needs at least 10 rows");
  std::mt19937_64 rng(seed);
  std::bernoulli_distribution legit(kLegitimateShare);
  Table t;
  t.source = "sample-data";
  constexpr std::size_t n_features = std::size(kFrequencies);
  for (auto& f : kFrequencies)
    t.columns.push_back({f.name, ColumnType::Numeric, std::vector<double>(rows), {}});
  t.columns.push_back({"Result", ColumnType::Numeric, std::vector<double>(rows), {}});
  std::vector<std::discrete_distribution<int>> phish, good;
  for (auto& f : kFrequencies) {
    phish.emplace_back(f.phishing.begin(), f.phishing.end());
    good.emplace_back(f.legitimate.begin(), f.legitimate.end());
  }
  for (std::size_t i = 0; i < rows; ++i) {
    // Both classes are always present: the first two rows take one of each.
    const bool is_legit = i < 2 ? i == 1 : legit(rng);
    for (std::size_t j = 0; j < n_features; ++j)
      t.columns[j].num[i] = (is_legit ? good[j] : phish[j])(rng)-1.0;
    t.columns[n_features].num[i] = is_legit ? 1.0 : -1.0;
  }
  return t;
}

}  // namespace netsentry
