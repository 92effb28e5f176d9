// Files and bytes the integration tests make and read back: a body of
// seeded random bytes, a file written or read whole.
#pragma once

#include <fstream>
#include <random>
#include <sstream>
#include <string>

namespace pounce::test {

// `n` bytes from a generator seeded with `seed`: the same every run.
inline std::string random_bytes(size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(gen());
  return s;
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Replaces the file's contents with `bytes`.
inline void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace pounce::test
