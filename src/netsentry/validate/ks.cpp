// Two-sample two-sided Kolmogorov-Smirnov test with scipy.stats.ks_2samp's default method ('auto'):
//
//  * max(n1, n2) <= 10000: the exact null distribution of D_{m,n} (continuous data assumed), from
//    lattice paths between the two diagonal boundaries (Hodges 1958). For m == n the closed form
//    2 * sum_k (-1)^(k+1) C(2n, n-kh) / C(2n, n) is used; otherwise a dynamic programme over the
//    lattice that carries, for every point, the probability that a uniformly random path to it has
//    already touched a boundary. Working with that probability (instead of path counts) keeps every
//    number in [0, 1]: no overflow, no cancellation, and small p-values keep their relative accuracy.
//  * larger samples, or if the exact computation is not possible: the one-sample Kolmogorov
//    distribution evaluated at n = round(m n / (m + n)), computed as Simard & L'Ecuyer (2011) advise
//    (Ruben-Gambino tails, Durbin's matrix in the Marsaglia-Tsang-Wang form, Pelz-Good expansion,
//    and twice the one-sided Smirnov tail for large n x^2).
#include "netsentry/validate/ks.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "netsentry/core/parallel.hpp"

namespace netsentry {
namespace {

constexpr std::int64_t kMaxExactN = 10000;
constexpr double kPi = 3.14159265358979323846;

double clip01(double p) { return std::clamp(p, 0.0, 1.0); }

// floor(a / b) for b > 0 and any sign of a.
std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}

// ---- exact two-sample distribution -------------------------------------------------------------

// P(D_{n,n} >= h/n), both samples of size n. Terms A_k = C(2n, n-(k+1)h) / C(2n, n-kh) are
// products of h factors below one; P = 2 A_0 (1 - A_1 (1 - A_2 (1 - ...))) evaluated innermost first.
double prob_outside_square(std::int64_t n, std::int64_t h) {
  double nested = 0.0;
  for (std::int64_t k = n / h; k >= 0; --k) {
    double a = 1.0;
    for (std::int64_t j = 0; j < h; ++j) {
      a = a * static_cast<double>(n - k * h - j) / static_cast<double>(n + k * h + j + 1);
    }
    nested = a * (1.0 - nested);
  }
  return 2.0 * nested;
}

// P(D_{m,n} >= h / lcm(m, n)) for a path from (0,0) to (m,n): a point (i, j) lies on or beyond a
// boundary when |i * n/g - j * m/g| >= h. q[j] holds, for the current column i, the probability that
// a uniformly random path from the origin to (i, j) has met a boundary (1 for points beyond one).
// A random path reaches (i, j) from (i-1, j) with probability i/(i+j), from (i, j-1) with j/(i+j).
//
// Column i only needs rows lo(i)..hi(i) (both bounds grow with i): rows below lo(i) are never read
// again and rows above hi(i-1) still hold their initial 1. Each cell depends on the one below it, so a
// single column is one long chain of dependent operations; kLanes consecutive columns are therefore
// swept together on a skewed front (column i + t works on row r - t at step r), which gives the CPU
// kLanes independent chains. Every cell is still computed from the same two inputs by the same
// formula, so the result does not depend on the sweep order.
double prob_outside_band(std::int64_t m, std::int64_t n, std::int64_t g, std::int64_t h) {
  if (m < n) std::swap(m, n);  // symmetric; columns run along the larger sample
  const std::int64_t mg = m / g, ng = n / g;
  // lo(i) = floor((ng i - h) / mg) + 1 and hi(i) = ceil((ng i + h) / mg) - 1 = floor((ng i + h - 1) / mg),
  // clamped to [0, n]; tracked incrementally (ng <= mg) because an integer division per column
  // would cost as much as the sweep itself.
  struct FloorTracker {  // floor((ng i + c) / mg) as i counts up
    std::int64_t quot, rem, ng, mg;
    FloorTracker(std::int64_t c, std::int64_t ng_, std::int64_t mg_)
        : quot(floor_div(c, mg_)), rem(c - floor_div(c, mg_) * mg_), ng(ng_), mg(mg_) {}
    void advance() {
      rem += ng;
      if (rem >= mg) {
        rem -= mg;
        ++quot;
      }
    }
  };
  FloorTracker lo_t(-h, ng, mg), hi_t(h - 1, ng, mg);
  auto lo_now = [&] { return std::max<std::int64_t>(lo_t.quot + 1, 0); };
  auto hi_now = [&] { return std::min<std::int64_t>(hi_t.quot, n); };
  if (lo_now() > hi_now()) return 1.0;

  std::vector<double> q(static_cast<std::size_t>(n + 1), 1.0);
  for (std::int64_t j = 0; j <= hi_now(); ++j) q[static_cast<std::size_t>(j)] = 0.0;  // straight up
  std::vector<double> inv(static_cast<std::size_t>(m + n + 1), 0.0);                  // 1/(i+j)
  for (std::size_t t = 1; t < inv.size(); ++t) inv[t] = 1.0 / static_cast<double>(t);

  constexpr int kLanes = 8;
  double* const qd = q.data();
  const double* const invd = inv.data();
  for (std::int64_t i0 = 1; i0 <= m; i0 += kLanes) {
    const int lanes = static_cast<int>(std::min<std::int64_t>(kLanes, m - i0 + 1));
    std::int64_t a[kLanes], b[kLanes];
    double below[kLanes], di[kLanes];
    for (int t = 0; t < lanes; ++t) {
      lo_t.advance();
      hi_t.advance();
      a[t] = lo_now();
      b[t] = hi_now();
      if (a[t] > b[t]) return 1.0;         // every path has crossed by then
      below[t] = (a[t] == 0) ? 0.0 : 1.0;  // q(i, lo - 1): beyond the boundary, unless it does not exist
      di[t] = static_cast<double>(i0 + t);
    }
    auto step = [&](int t, std::int64_t j) {
      const double v = (qd[j] * di[t] + below[t] * static_cast<double>(j)) * invd[i0 + t + j];
      below[t] = v;
      qd[j] = v;
    };
    auto checked_steps = [&](std::int64_t r_from, std::int64_t r_to) {
      for (std::int64_t r = r_from; r <= r_to; ++r)
        for (int t = 0; t < lanes; ++t)
          if (r - t >= a[t] && r - t <= b[t]) step(t, r - t);
    };
    // Steps where every lane is inside its band run without checks; the ramps on either side check.
    std::int64_t full_from = a[0], full_to = b[0];
    for (int t = 0; t < lanes; ++t) {
      full_from = std::max(full_from, a[t] + t);
      full_to = std::min(full_to, b[t] + t);
    }
    const std::int64_t r_end = b[lanes - 1] + lanes - 1;
    if (lanes == kLanes && full_from <= full_to) {
      checked_steps(a[0], full_from - 1);
      // Lane t's input at step r is lane t-1's output of step r-1: carried in registers (lanes
      // updated from the last down), stored to q only for the later columns and the ramp.
      for (std::int64_t r = full_from; r <= full_to; ++r) {
        const double inv_r = invd[i0 + r];  // i + j is the same for every lane of a step
        const double rd = static_cast<double>(r);
#pragma GCC unroll 16
        for (int t = kLanes - 1; t >= 1; --t) {
          below[t] = (below[t - 1] * di[t] + below[t] * (rd - static_cast<double>(t))) * inv_r;
          qd[r - t] = below[t];
        }
        below[0] = (qd[r] * di[0] + below[0] * rd) * inv_r;
        qd[r] = below[0];
      }
      checked_steps(full_to + 1, r_end);
    } else {
      checked_steps(a[0], r_end);
    }
  }
  return q[static_cast<std::size_t>(n)];
}

// ---- one-sample Kolmogorov distribution (asymptotic mode) --------------------------------------

// log(n! / n^n) by Stirling's series, with n log n removed analytically to avoid cancellation.
double log_factorial_over_power(double n) {
  const double r = 1.0 / n, r2 = r * r;
  // Bernoulli-number terms B_{2j} / (2j (2j-1) n^(2j-1)), j = 1..6.
  const double series =
      r *
      (1.0 / 12 + r2 * (-1.0 / 360 +
                        r2 * (1.0 / 1260 + r2 * (-1.0 / 1680 + r2 * (1.0 / 1188 + r2 * (-691.0 / 360360))))));
  return 0.5 * std::log(n) - n + 0.5 * std::log(2 * kPi) + series;
}

// One-sided Smirnov tail P(D+_n >= x), Birnbaum-Tingey sum, terms evaluated in log space.
double smirnov_sf(std::int64_t n, double x) {
  if (x <= 0) return 1.0;
  if (x >= 1) return 0.0;
  const double dn = static_cast<double>(n);
  const auto jmax = static_cast<std::int64_t>(std::floor(dn * (1.0 - x)));
  const double lgn1 = std::lgamma(dn + 1.0);
  double sum = 0.0;
  for (std::int64_t j = 0; j <= jmax; ++j) {
    const double dj = static_cast<double>(j);
    const double u = 1.0 - x - dj / dn;  // > 0 up to rounding at j = jmax
    const double v = x + dj / dn;
    if (u <= 0) {
      if (j == n) sum += 1.0 * std::pow(v, dj - 1.0);  // 0^0 = 1
      continue;
    }
    const double lt = lgn1 - std::lgamma(dj + 1.0) - std::lgamma(dn - dj + 1.0) + (dn - dj) * std::log(u) +
                      (dj - 1.0) * std::log(v);
    sum += std::exp(lt);
  }
  return clip01(x * sum);
}

// P(D_n < d) by Durbin's matrix method as Marsaglia, Tsang & Wang (2003) formulate it: with
// k = ceil(n d), m = 2k - 1 and h = k - n d, the answer is n!/n^n times entry (k, k) of H^n.
double kolmogorov_cdf_durbin(std::int64_t n, double d) {
  const double nd = static_cast<double>(n) * d;
  if (d >= 1.0) return 1.0;
  if (nd <= 0.5) return 0.0;
  const auto k = static_cast<std::int64_t>(std::ceil(nd));
  const std::size_t m = static_cast<std::size_t>(2 * k - 1);
  const double h = static_cast<double>(k) - nd;
  using Mat = std::vector<double>;
  Mat H(m * m, 0.0);
  // H[i][j] = 1/(i-j+1)! for i-j+1 >= 0, with boundary corrections on the first column and last row.
  std::vector<double> inv_fact(m + 2, 1.0);
  for (std::size_t t = 1; t < inv_fact.size(); ++t) inv_fact[t] = inv_fact[t - 1] / static_cast<double>(t);
  for (std::size_t i = 0; i < m; ++i)
    for (std::size_t j = 0; j < m; ++j)
      if (i + 1 >= j) H[i * m + j] = inv_fact[i + 1 - j];
  std::vector<double> hp(m + 1, 1.0);  // h^t
  for (std::size_t t = 1; t <= m; ++t) hp[t] = hp[t - 1] * h;
  for (std::size_t i = 0; i < m; ++i) {
    H[i * m + 0] -= hp[i + 1] * inv_fact[i + 1];
    H[(m - 1) * m + i] -= hp[m - i] * inv_fact[m - i];
  }
  if (2 * h - 1 > 0) H[(m - 1) * m + 0] += std::pow(2 * h - 1, static_cast<double>(m)) * inv_fact[m];

  // H^n by squaring; both factors carry a power-of-two exponent so that nothing overflows.
  auto mul = [m](const Mat& A, const Mat& B) {
    Mat C(m * m, 0.0);
    for (std::size_t i = 0; i < m; ++i)
      for (std::size_t l = 0; l < m; ++l) {
        const double a = A[i * m + l];
        if (a == 0.0) continue;
        for (std::size_t j = 0; j < m; ++j) C[i * m + j] += a * B[l * m + j];
      }
    return C;
  };
  auto rescale = [](Mat& A, long& e) {
    double mx = 0;
    for (double x : A) mx = std::max(mx, std::abs(x));
    if (mx > 0x1p400 || (mx < 0x1p-400 && mx > 0)) {
      int ex = 0;
      std::frexp(mx, &ex);
      for (double& x : A) x = std::ldexp(x, -ex);
      e += ex;
    }
  };
  Mat result(m * m, 0.0);
  for (std::size_t i = 0; i < m; ++i) result[i * m + i] = 1.0;
  long result_e = 0, base_e = 0;
  Mat base = H;
  for (std::int64_t p = n; p > 0; p >>= 1) {
    if (p & 1) {
      result = mul(result, base);
      result_e += base_e;
      rescale(result, result_e);
    }
    if (p > 1) {
      base = mul(base, base);
      base_e *= 2;
      rescale(base, base_e);
    }
  }
  const double v = result[static_cast<std::size_t>(k - 1) * m + static_cast<std::size_t>(k - 1)];
  if (v <= 0) return 0.0;
  const double logp = std::log(v) + static_cast<double>(result_e) * std::log(2.0) +
                      log_factorial_over_power(static_cast<double>(n));
  return clip01(std::exp(logp));
}

// Pelz-Good (1976) expansion P(D_n <= x) ~ K0(z) + K1(z)/sqrt(n) + K2(z)/n + K3(z)/n^1.5, z = x sqrt(n),
// each K written with theta-function sums that converge fast for small z.
double kolmogorov_cdf_pelz_good(std::int64_t n, double x) {
  if (x <= 0) return 0.0;
  if (x >= 1) return 1.0;
  const double dn = static_cast<double>(n);
  const double z = std::sqrt(dn) * x;
  const double z2 = z * z, z4 = z2 * z2, z6 = z4 * z2, z8 = z4 * z4;
  const double pi2 = kPi * kPi, pi4 = pi2 * pi2, pi6 = pi4 * pi2;
  const double log_q = -pi2 / (8 * z2);
  if (log_q < -708.0) return 0.0;
  const auto kmax = static_cast<std::int64_t>(std::ceil(16 * z / kPi));
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0, t2 = 0, t3 = 0;
  for (std::int64_t kk = kmax; kk >= 1; --kk) {
    const double mo = static_cast<double>(2 * kk - 1);  // odd integers
    const double mo2 = mo * mo, mo4 = mo2 * mo2, mo6 = mo4 * mo2;
    const double w = std::exp(log_q * mo2);
    s0 += w;
    s1 += (pi2 * mo2 / 4 - z2) * w;
    s2 += ((6 * z6 + 2 * z4) + (2 * z4 - 5 * z2) * pi2 * mo2 / 4 + pi4 * (1 - 2 * z2) * mo4 / 16) * w;
    s3 += ((-30 * z6 - 90 * z8) + pi2 * (135 * z4 - 96 * z6) * mo2 / 4 +
           pi4 * (212 * z4 - 60 * z2) * mo4 / 16 + pi6 * (5 - 30 * z2) * mo6 / 64) *
          w;
    const double ki = static_cast<double>(kk), ki2 = ki * ki;
    const double u = std::exp(-pi2 * ki2 / (2 * z2));
    t2 += ki2 * u;
    t3 += (3 * z2 - pi2 * ki2) * ki2 * u;
  }
  const double c = std::sqrt(2 * kPi);
  const double K0 = c * s0 / z;
  const double K1 = c * s1 / (6 * z4);
  const double K2 = c * s2 / (72 * z6 * z) - c * pi2 * t2 / (36 * z2 * z);
  const double K3 = c * s3 / (6480 * z8 * z2) + c * pi2 * t3 / (216 * z6);
  return K0 + K1 / std::sqrt(dn) + K2 / dn + K3 / (dn * std::sqrt(dn));
}

// P(D_n >= x) for the one-sample two-sided statistic (scipy's kstwo.sf).
double kolmogorov_sf(std::int64_t n, double x) {
  if (n <= 0 || std::isnan(x)) return std::nan("");
  if (x >= 1.0) return 0.0;
  if (x <= 0.0) return 1.0;
  const double dn = static_cast<double>(n);
  const double t = dn * x;
  if (t <= 1.0) {  // Ruben-Gambino: P(D_n < x) = n!/n^n (2t - 1)^n
    if (t <= 0.5) return 1.0;
    const double cdf = std::exp(log_factorial_over_power(dn) + dn * std::log(2 * t - 1));
    return clip01(1.0 - cdf);
  }
  if (t >= dn - 1) return clip01(2 * std::pow(1.0 - x, dn));  // Ruben-Gambino upper tail
  if (x >= 0.5) return clip01(2 * smirnov_sf(n, x));          // the two one-sided events are disjoint
  const double nx2 = t * x;
  if (n <= 140) {
    if (nx2 <= 4) return clip01(1.0 - kolmogorov_cdf_durbin(n, x));
    return clip01(2 * smirnov_sf(n, x));
  }
  if (nx2 >= 370.0) return 0.0;
  if (nx2 >= 2.2) return clip01(2 * smirnov_sf(n, x));
  double cdf;
  if (nx2 >= 18.0)
    cdf = 1.0;
  else if (n <= 100000 && dn * std::pow(x, 1.5) <= 1.4)
    cdf = kolmogorov_cdf_durbin(n, x);
  else
    cdf = kolmogorov_cdf_pelz_good(n, x);
  return clip01(1.0 - cdf);
}

// The two empirical distributions on the merged distinct values: after each distinct value v (in
// increasing order), how many elements of a and of b are <= v. NaN is ignored.
struct EcdfSteps {
  std::int64_t n1 = 0, n2 = 0;
  std::vector<std::pair<std::int64_t, std::int64_t>> cum;
};

// Samples with few distinct values (categorical codes such as the UCI features' -1/0/1) are counted
// in one pass, without sorting; returns false as soon as there are more than kMaxDistinct values.
bool ecdf_steps_few_values(std::span<const double> a, std::span<const double> b, EcdfSteps& out) {
  constexpr std::size_t kMaxDistinct = 32;
  std::vector<double> values;
  std::vector<std::int64_t> ca, cb;
  std::size_t last = 0;
  auto count = [&](std::span<const double> v, std::vector<std::int64_t>& own, std::int64_t& total) {
    for (double x : v) {
      if (std::isnan(x)) continue;
      if (last >= values.size() || values[last] != x) {
        last = 0;
        while (last < values.size() && values[last] != x) ++last;
        if (last == values.size()) {
          if (values.size() == kMaxDistinct) return false;
          values.push_back(x);
          ca.push_back(0);
          cb.push_back(0);
        }
      }
      ++own[last];
      ++total;
    }
    return true;
  };
  if (!count(a, ca, out.n1) || !count(b, cb, out.n2)) return false;
  std::vector<std::size_t> order(values.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) { return values[x] < values[y]; });
  std::int64_t i = 0, j = 0;
  for (std::size_t k : order) {
    i += ca[k];
    j += cb[k];
    out.cum.emplace_back(i, j);
  }
  return true;
}

EcdfSteps ecdf_steps(std::span<const double> a_in, std::span<const double> b_in) {
  EcdfSteps out;
  if (ecdf_steps_few_values(a_in, b_in, out)) return out;
  auto sorted_finite = [](std::span<const double> v) {
    std::vector<double> s;
    s.reserve(v.size());
    for (double x : v)
      if (!std::isnan(x)) s.push_back(x);
    std::sort(s.begin(), s.end());
    return s;
  };
  const std::vector<double> a = sorted_finite(a_in), b = sorted_finite(b_in);
  out = EcdfSteps{static_cast<std::int64_t>(a.size()), static_cast<std::int64_t>(b.size()), {}};
  std::size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    const double v = (j >= b.size() || (i < a.size() && a[i] <= b[j])) ? a[i] : b[j];
    while (i < a.size() && a[i] == v) ++i;
    while (j < b.size() && b[j] == v) ++j;
    out.cum.emplace_back(static_cast<std::int64_t>(i), static_cast<std::int64_t>(j));
  }
  return out;
}

}  // namespace

KsResult ks_2samp(std::span<const double> a_in, std::span<const double> b_in) {
  const EcdfSteps steps = ecdf_steps(a_in, b_in);
  const std::int64_t n1 = steps.n1, n2 = steps.n2;
  if (n1 == 0 || n2 == 0) return {};
  const std::int64_t g = std::gcd(n1, n2);
  const std::int64_t w1 = n2 / g, w2 = n1 / g;  // F_a - F_b = (i*w1 - j*w2) / lcm

  double dmax = 0.0, dmin = 0.0;  // max and -min of F_a - F_b, as scipy computes them in floating point
  std::int64_t hmax = 0, hmin = 0;
  const double dn1 = static_cast<double>(n1), dn2 = static_cast<double>(n2);
  for (const auto& [i, j] : steps.cum) {
    const double diff = static_cast<double>(i) / dn1 - static_cast<double>(j) / dn2;
    const std::int64_t hd = i * w1 - j * w2;
    if (diff > dmax) dmax = diff;
    if (-diff > dmin) dmin = -diff;
    hmax = std::max(hmax, hd);
    hmin = std::max(hmin, -hd);
  }
  const double d = (dmin > dmax) ? dmin : dmax;

  if (std::max(n1, n2) <= kMaxExactN) {
    const std::int64_t lcm = w2 * n2;
    const std::int64_t h = std::max(hmax, hmin);
    const double dexact = static_cast<double>(h) / static_cast<double>(lcm);
    if (h == 0) return {dexact, 1.0};
    const double p = (n1 == n2) ? prob_outside_square(n1, h) : prob_outside_band(n1, n2, g, h);
    if (p >= 0.0 && p <= 1.0) return {dexact, p};
    // Otherwise fall through to the asymptotic distribution, as scipy does.
  }
  const double m = std::max(dn1, dn2), n = std::min(dn1, dn2);
  const auto en = static_cast<std::int64_t>(std::nearbyint(m * n / (m + n)));
  return {d, clip01(kolmogorov_sf(en, d))};
}

std::vector<KsResult> ks_2samp_columns(const Matrix& a, const Matrix& b) {
  if (a.cols != b.cols)
    throw std::invalid_argument("ks_2samp_columns: " + std::to_string(a.cols) + " columns against " +
                                std::to_string(b.cols));
  std::vector<KsResult> out(a.cols);
  // A column per item, its result in its own slot: the same results on any number of threads.
  parallel_for(a.cols, [&](std::size_t c) {
    std::vector<double> x(a.rows), y(b.rows);
    for (std::size_t r = 0; r < a.rows; ++r) x[r] = a(r, c);
    for (std::size_t r = 0; r < b.rows; ++r) y[r] = b(r, c);
    out[c] = ks_2samp(x, y);
  });
  return out;
}

}  // namespace netsentry
