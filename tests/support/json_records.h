// A deterministic JSON API response of about `n` bytes: an array of user
// records with ids, names, e-mail addresses, dates, amounts and tags drawn
// from small vocabularies, so that it compresses like a real API listing
// (zlib level 1 gives about 6x), not like a repeated byte. The same seed
// always gives the same bytes: the compression bench, the json_body test
// plugin and the tests all see one document. Header-only, no host code.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace pounce::testdata {

inline uint64_t json_records_random(uint64_t& s) {  // splitmix64
  uint64_t z = (s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Whole records only, so the result is valid JSON; its size is the largest
// that does not pass `n` (and at least one record).
inline std::string json_records(size_t n, uint64_t seed = 58) {
  static constexpr std::string_view kFirst[] = {
      "Ada",   "Grace",  "Alan",    "Edsger", "Barbara", "Ken",
      "Linus", "Donald", "Frances", "John",   "Radia",   "Leslie"};
  static constexpr std::string_view kLast[] = {
      "Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov",  "Thompson",
      "Torvalds", "Knuth",  "Allen",  "Backus",   "Perlman", "Lamport"};
  static constexpr std::string_view kCity[] = {
      "Paris", "Berlin", "Lisbon", "Oslo", "Madrid", "Vienna", "Dublin"};
  static constexpr std::string_view kTag[] = {
      "admin", "beta", "trial", "premium", "staff", "legacy", "support"};
  static constexpr std::string_view kStatus[] = {"active", "suspended",
                                                 "pending"};
  auto pick = [](const auto& table, uint64_t r) -> std::string_view {
    return table[r % (sizeof table / sizeof table[0])];
  };
  uint64_t r = seed;
  std::string out = "{\"users\":[";
  std::string rec;
  for (uint64_t i = 0;; ++i) {
    const std::string_view first = pick(kFirst, json_records_random(r));
    const std::string_view last = pick(kLast, json_records_random(r));
    const uint64_t id = 100000 + i * 7 + json_records_random(r) % 7;
    rec.clear();
    rec += i ? ",\n" : "\n";
    rec += "{\"id\":" + std::to_string(id);
    rec += ",\"name\":\"" + std::string(first) + ' ' + std::string(last);
    rec += "\",\"email\":\"";
    for (char c : first) rec += static_cast<char>(c | 0x20);
    rec += '.';
    for (char c : last) rec += static_cast<char>(c | 0x20);
    rec += std::to_string(json_records_random(r) % 100) + "@example.com\"";
    rec +=
        ",\"status\":\"" + std::string(pick(kStatus, json_records_random(r)));
    rec += "\",\"created\":\"2026-" +
           std::to_string(10 + json_records_random(r) % 3) + '-' +
           std::to_string(10 + json_records_random(r) % 19) + 'T' +
           std::to_string(10 + json_records_random(r) % 14) + ':' +
           std::to_string(10 + json_records_random(r) % 50) + ":00Z\"";
    rec += ",\"balance\":" + std::to_string(json_records_random(r) % 100000) +
           '.' + std::to_string(10 + json_records_random(r) % 90);
    rec += ",\"address\":{\"city\":\"" +
           std::string(pick(kCity, json_records_random(r))) + "\",\"zip\":\"" +
           std::to_string(10000 + json_records_random(r) % 90000) + "\"}";
    rec += ",\"tags\":[\"" + std::string(pick(kTag, json_records_random(r)));
    rec += "\",\"" + std::string(pick(kTag, json_records_random(r))) + "\"]}";
    if (i > 0 && out.size() + rec.size() + 3 > n) break;
    out += rec;
  }
  out += "\n]}";
  return out;
}

// The response body of issue 15's compression figures: 58 KiB.
inline constexpr size_t kJsonBodySize = 58 * 1024;

}  // namespace pounce::testdata
