// The four ways a test reaches the host, for suites run once over each:
// HTTP/1.1 and HTTP/2, cleartext and TLS.
#pragma once

#include <gtest/gtest.h>

#include <string>

namespace pounce::test {

enum class Proto { Http11, Https11, H2c, H2Tls };

// The suffix of a parameterised test's name.
inline std::string proto_name(const ::testing::TestParamInfo<Proto>& p) {
  switch (p.param) {
    case Proto::Http11:
      return "Http11";
    case Proto::Https11:
      return "Https11";
    case Proto::H2c:
      return "H2c";
    case Proto::H2Tls:
      return "H2Tls";
  }
  return "?";
}

inline bool is_tls(Proto p) {
  return p == Proto::Https11 || p == Proto::H2Tls;
}
inline bool is_h2(Proto p) {
  return p == Proto::H2c || p == Proto::H2Tls;
}

}  // namespace pounce::test
