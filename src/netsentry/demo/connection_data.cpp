#include "netsentry/demo/connection_data.hpp"

#include <array>
#include <cmath>
#include <random>
#include <utility>

#include "netsentry/core/error.hpp"

namespace netsentry {

namespace {

struct Count {
  const char* value;
  int n;
};

struct ClassProfile {
  const char* label;
  int rows;
  std::array<Count, 3> protocol;
  int protocol_rest;
  std::array<Count, 6> service;
  int service_rest;  // drawn from kOtherServices
  std::array<Count, 4> flag;
  int flag_rest;                                    // drawn from kOtherFlags
  std::array<std::array<double, 6>, 13> quantiles;  // per number: 0, 25, 50, 75, 95, 100 %
};

constexpr double kLevels[] = {0, 0.25, 0.5, 0.75, 0.95, 1};
constexpr const char* kOtherServices[] = {"ftp",  "finger", "telnet", "pop_3", "imap4", "ssh",
                                          "auth", "whois",  "domain", "time",  "uucp",  "netstat"};
constexpr const char* kOtherFlags[] = {"RSTO", "S1", "S2", "OTH", "SH"};
constexpr const char* kProtocols[] = {"tcp", "udp", "icmp"};
// Numbers that are counts, flags or bytes (whole), the others are rates in [0, 1] (two decimals).
constexpr bool kWhole[] = {true, true, true, true, true, true, false, false, false, false, true, true, false};

// Generated from ../shared/data/nsl-kdd/KDDTrain+_20Percent.txt (per attack name: its count,
// category counts, and the quantiles 0, 25, 50, 75, 95, 100 % of each number).
constexpr const char* kNumeric[] = {"duration",
                                    "src_bytes",
                                    "dst_bytes",
                                    "logged_in",
                                    "count",
                                    "srv_count",
                                    "serror_rate",
                                    "rerror_rate",
                                    "same_srv_rate",
                                    "diff_srv_rate",
                                    "dst_host_count",
                                    "dst_host_srv_count",
                                    "dst_host_same_srv_rate"};
constexpr ClassProfile kProfiles[] = {
    {"normal",
     13449,
     {{{"tcp", 10681}, {"udp", 2507}, {"icmp", 261}}},
     0,
     {{{"http", 7564},
       {"domain_u", 1817},
       {"smtp", 1390},
       {"ftp_data", 1001},
       {"other", 519},
       {"telnet", 209}}},
     949,
     {{{"SF", 12663}, {"REJ", 515}, {"S1", 86}, {"S0", 80}}},
     105,
     {{{{0, 0, 0, 0, 25, 29053}},
       {{0, 127, 234, 325, 2276.6, 7.66588e+06}},
       {{0, 102, 382, 2056, 12884, 5.13142e+06}},
       {{0, 0, 1, 1, 1, 1}},
       {{1, 1, 4, 14, 146, 511}},
       {{1, 2, 6, 18, 171, 497}},
       {{0, 0, 0, 0, 0, 1}},
       {{0, 0, 0, 0, 0, 1}},
       {{0, 1, 1, 1, 1, 1}},
       {{0, 0, 0, 0, 0.03, 1}},
       {{0, 41, 158, 255, 255, 255}},
       {{0, 118, 255, 255, 255, 255}},
       {{0, 0.74, 1, 1, 1, 1}}}}},
    {"neptune",
     8282,
     {{{"tcp", 8282}}},
     0,
     {{{"private", 3029},
       {"telnet", 252},
       {"ftp_data", 249},
       {"finger", 238},
       {"http", 238},
       {"Z39_50", 170}}},
     4106,
     {{{"S0", 6900}, {"REJ", 1142}, {"RSTO", 240}}},
     0,
     {{{{0, 0, 0, 0, 0, 0}},
       {{0, 0, 0, 0, 0, 0}},
       {{0, 0, 0, 0, 0, 0}},
       {{0, 0, 0, 0, 0, 0}},
       {{1, 115, 179, 245, 287, 301}},
       {{1, 5, 11, 17, 21, 49}},
       {{0, 1, 1, 1, 1, 1}},
       {{0, 0, 0, 0, 1, 1}},
       {{0, 0.03, 0.07, 0.11, 0.32, 1}},
       {{0, 0.06, 0.06, 0.07, 0.12, 1}},
       {{2, 255, 255, 255, 255, 255}},
       {{1, 5, 12, 18, 40, 153}},
       {{0, 0.02, 0.05, 0.07, 0.21, 1}}}}},
    {"smurf",
     529,
     {{{"icmp", 529}}},
     0,
     {{{"ecr_i", 529}}},
     0,
     {{{"SF", 529}}},
     0,
     {{{{0, 0, 0, 0, 0, 0}},
       {{520, 520, 1032, 1032, 1032, 1032}},
       {{0, 0, 0, 0, 0, 0}},
       {{0, 0, 0, 0, 0, 0}},
       {{1, 239, 480, 511, 511, 511}},
       {{1, 239, 480, 511, 511, 511}},
       {{0, 0, 0, 0, 0, 0}},
       {{0, 0, 0, 0, 0, 0}},
       {{1, 1, 1, 1, 1, 1}},
       {{0, 0, 0, 0, 0, 0}},
       {{5, 255, 255, 255, 255, 255}},
       {{2, 77, 158, 255, 255, 255}},
       {{0.01, 0.4, 0.76, 1, 1, 1}}}}},
    {"satan",
     691,
     {{{"tcp", 418}, {"udp", 264}, {"icmp", 9}}},
     0,
     {{{"private", 396}, {"other", 233}, {"ftp_data", 7}, {"smtp", 4}, {"eco_i", 4}, {"ecr_i", 4}}},
     43,
     {{{"REJ", 379}, {"SF", 297}, {"S0", 13}, {"RSTO", 2}}},
     0,
     {{{{0, 0, 0, 0, 0, 11}},
       {{0, 0, 0, 1, 5.5, 1710}},
       {{0, 0, 0, 0, 0, 18056}},
       {{0, 0, 0, 0, 0, 1}},
       {{1, 21, 143, 480, 511, 511}},
       {{1, 1, 1, 3, 24.5, 146}},
       {{0, 0, 0.02, 0.08, 0.19, 0.44}},
       {{0, 0, 0.85, 0.91, 0.95, 1}},
       {{0, 0, 0.01, 0.28, 1, 1}},
       {{0, 0.14, 1, 1, 1, 1}},
       {{1, 255, 255, 255, 255, 255}},
       {{1, 1, 1, 4, 100.5, 215}},
       {{0, 0, 0, 0.02, 0.415, 1}}}}},
    {"ipsweep",
     710,
     {{{"icmp", 609}, {"tcp", 101}}},
     0,
     {{{"eco_i", 606}, {"private", 65}, {"finger", 4}, {"gopher", 4}, {"ftp", 4}, {"ftp_data", 4}}},
     23,
     {{{"SF", 622}, {"REJ", 82}, {"RSTO", 6}}},
     0,
     {{{{0, 0, 0, 0, 0, 12743}},
       {{0, 8, 8, 8, 18, 4113}},
       {{0, 0, 0, 0, 0, 51633}},
       {{0, 0, 0, 0, 0, 1}},
       {{1, 1, 1, 1, 1, 2}},
       {{1, 1, 15, 34, 49, 52}},
       {{0, 0, 0, 0, 0, 0}},
       {{0, 0, 0, 0, 1, 1}},
       {{0.5, 1, 1, 1, 1, 1}},
       {{0, 0, 0, 0, 0, 1}},
       {{1, 1, 2, 2, 42.1, 72}},
       {{1, 26, 75, 129, 247, 255}},
       {{0.01, 1, 1, 1, 1, 1}}}}},
    {"portsweep",
     587,
     {{{"tcp", 586}, {"icmp", 1}}},
     0,
     {{{"private", 388}, {"other", 100}, {"supdup", 5}, {"time", 4}, {"remote_job", 4}, {"echo", 4}}},
     82,
     {{{"RSTR", 446}, {"REJ", 98}, {"RSTOS0", 21}, {"S0", 15}}},
     7,
     {{{{0, 0, 1, 15487.5, 39486.3, 42862}},
       {{0, 0, 0, 1, 1, 3.81709e+08}},
       {{0, 0, 0, 0, 0, 0}},
       {{0, 0, 0, 0, 0, 0}},
       {{1, 1, 2, 2, 311.5, 448}},
       {{1, 1, 1, 2, 2, 3}},
       {{0, 0, 0, 0, 0.64, 1}},
       {{0, 1, 1, 1, 1, 1}},
       {{0, 0.5, 1, 1, 1, 1}},
       {{0, 0, 0, 0.37, 1, 1}},
       {{49, 255, 255, 255, 255, 255}},
       {{1, 1, 1, 2, 2, 151}},
       {{0, 0, 0.01, 0.01, 0.01, 0.52}}}}},
    {"back",
     196,
     {{{"tcp", 196}}},
     0,
     {{{"http", 196}}},
     0,
     {{{"SF", 169}, {"RSTR", 23}, {"S2", 3}, {"S1", 1}}},
     0,
     {{{{0, 0, 0, 0, 0, 13}},
       {{21048, 54540, 54540, 54540, 54540, 54540}},
       {{0, 8314, 8314, 8314, 8314, 8315}},
       {{1, 1, 1, 1, 1, 1}},
       {{1, 2, 3, 4, 6, 11}},
       {{1, 2, 4, 5, 6, 11}},
       {{0, 0, 0, 0, 0, 0.5}},
       {{0, 0, 0, 0.17, 0.5, 0.75}},
       {{0.75, 1, 1, 1, 1, 1}},
       {{0, 0, 0, 0, 0, 0.5}},
       {{1, 67.75, 142.5, 255, 255, 255}},
       {{1, 67.75, 142.5, 255, 255, 255}},
       {{1, 1, 1, 1, 1, 1}}}}},
    {"warezclient",
     181,
     {{{"tcp", 181}}},
     0,
     {{{"ftp_data", 123}, {"ftp", 57}, {"other", 1}}},
     0,
     {{{"SF", 180}, {"S2", 1}}},
     0,
     {{{{0, 0, 0, 2, 5057, 15168}},
       {{30, 334, 334, 1232, 5.13388e+06, 5.13568e+06}},
       {{0, 0, 0, 2447, 2451, 2453}},
       {{1, 1, 1, 1, 1, 1}},
       {{1, 1, 1, 2, 2, 3}},
       {{1, 1, 1, 2, 2, 7}},
       {{0, 0, 0, 0, 0, 1}},
       {{0, 0, 0, 0, 0, 0}},
       {{0.5, 1, 1, 1, 1, 1}},
       {{0, 0, 0, 0, 0, 1}},
       {{1, 4, 8, 248, 255, 255}},
       {{1, 22, 38, 54, 132, 142}},
       {{0.01, 0.37, 1, 1, 1, 1}}}}},
    {"teardrop",
     188,
     {{{"udp", 188}}},
     0,
     {{{"private", 188}}},
     0,
     {{{"SF", 188}}},
     0,
     {{{{0, 0, 0, 0, 0, 0}},
       {{28, 28, 28, 28, 28, 28}},
       {{0, 0, 0, 0, 0, 0}},
       {{0, 0, 0, 0, 0, 0}},
       {{1, 29.75, 51.5, 81, 140.95, 192}},
       {{1, 24.5, 46, 70.5, 94, 99}},
       {{0, 0, 0, 0, 0.673, 0.96}},
       {{0, 0, 0, 0, 0.02, 0.04}},
       {{0.04, 1, 1, 1, 1, 1}},
       {{0, 0, 0, 0, 0.05, 0.07}},
       {{76, 252.75, 255, 255, 255, 255}},
       {{1, 27, 49.5, 81, 149.65, 182}},
       {{0, 0.13, 0.22, 0.35, 0.5865, 0.71}}}}},
    {"nmap",
     301,
     {{{"icmp", 208}, {"udp", 51}, {"tcp", 42}}},
     0,
     {{{"eco_i", 205}, {"private", 86}, {"ecr_i", 3}, {"gopher", 1}, {"sql_net", 1}, {"netbios_ns", 1}}},
     4,
     {{{"SF", 259}, {"SH", 42}}},
     0,
     {{{{0, 0, 0, 0, 0, 0}},
       {{0, 8, 8, 8, 215, 215}},
       {{0, 0, 0, 0, 0, 0}},
       {{0, 0, 0, 0, 0, 0}},
       {{1, 1, 1, 1, 2, 46}},
       {{1, 1, 12, 28, 46, 52}},
       {{0, 0, 0, 0, 1, 1}},
       {{0, 0, 0, 0, 0, 0}},
       {{0.02, 1, 1, 1, 1, 1}},
       {{0, 0, 0, 0, 0, 1}},
       {{1, 2, 3, 49, 220, 255}},
       {{1, 28, 80, 161, 229, 255}},
       {{0, 0.85, 1, 1, 1, 1}}}}},
};

// A category: one of the profile's counts, or (the remainder) one of the shared rarer values.
template <std::size_t N, std::size_t M>
const char* draw_category(const std::array<Count, N>& top, int rest, const char* const (&others)[M],
                          std::mt19937_64& rng) {
  std::vector<double> w;
  for (auto& c : top) w.push_back(c.value ? c.n : 0);
  w.push_back(rest);
  std::discrete_distribution<std::size_t> pick(w.begin(), w.end());
  const std::size_t k = pick(rng);
  if (k < N) return top[k].value;
  return others[std::uniform_int_distribution<std::size_t>(0, M - 1)(rng)];
}

// A number by the inverse of the piecewise-linear distribution through the measured quantiles.
double draw_number(const std::array<double, 6>& q, bool whole, std::mt19937_64& rng) {
  const double u = std::uniform_real_distribution<double>(0, 1)(rng);
  std::size_t s = 0;
  while (s + 2 < std::size(kLevels) && u > kLevels[s + 1]) ++s;
  const double t = (u - kLevels[s]) / (kLevels[s + 1] - kLevels[s]);
  const double v = q[s] + t * (q[s + 1] - q[s]);
  return whole ? std::round(v) : std::round(v * 100) / 100;
}

}  // namespace

Table sample_connection_data(std::size_t rows, std::uint64_t seed) {
  if (rows < std::size(kProfiles)) throw UsageError("sample-data --kind connections needs at least 10 rows");
  std::mt19937_64 rng(seed);
  std::vector<double> share;
  for (auto& p : kProfiles) share.push_back(p.rows);
  std::discrete_distribution<std::size_t> which(share.begin(), share.end());
  Table t;
  t.source = "sample-data";
  t.columns.push_back({"duration", ColumnType::Numeric, {}, {}});
  for (const char* c : {"protocol_type", "service", "flag"})
    t.columns.push_back({c, ColumnType::Text, {}, {}});
  for (std::size_t j = 1; j < std::size(kNumeric); ++j)
    t.columns.push_back({kNumeric[j], ColumnType::Numeric, {}, {}});
  t.columns.push_back({"label", ColumnType::Text, {}, {}});
  for (std::size_t i = 0; i < rows; ++i) {
    // Every attack name is present: the first rows take one of each.
    const ClassProfile& p = kProfiles[i < std::size(kProfiles) ? i : which(rng)];
    t.columns[1].text.push_back(draw_category(p.protocol, p.protocol_rest, kProtocols, rng));
    t.columns[2].text.push_back(draw_category(p.service, p.service_rest, kOtherServices, rng));
    t.columns[3].text.push_back(draw_category(p.flag, p.flag_rest, kOtherFlags, rng));
    t.columns[0].num.push_back(draw_number(p.quantiles[0], kWhole[0], rng));
    for (std::size_t j = 1; j < std::size(kNumeric); ++j)
      t.columns[3 + j].num.push_back(draw_number(p.quantiles[j], kWhole[j], rng));
    t.columns.back().text.push_back(p.label);
  }
  return t;
}

}  // namespace netsentry
