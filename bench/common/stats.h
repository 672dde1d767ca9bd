// Summary statistics for benchmark samples (header-only; benches include it by relative path).
//
//   nlohmann::json j = bench::summary({812.0, 790.5, 801.2});
//   // {"median": 801.2, "min": 790.5, "max": 812.0, "samples": [812.0, 790.5, 801.2]}
#pragma once

#include <algorithm>
#include <nlohmann/json.hpp>
#include <vector>

namespace lobster::bench {

// Median of `v` (the mean of the two middle values for an even count); 0 when empty.
inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  if (n == 0)
    return 0;
  return n % 2 != 0 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// {"median", "min", "max", "samples"} of `v` in the order measured; zeros when empty.
inline nlohmann::json summary(const std::vector<double>& v) {
  auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  return {{"median", median(v)},
          {"min", v.empty() ? 0.0 : *lo},
          {"max", v.empty() ? 0.0 : *hi},
          {"samples", v}};
}

}  // namespace lobster::bench
