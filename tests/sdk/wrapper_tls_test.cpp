// pounce::Request::tls() (issue 12 §4) against a fake host table: the C
// struct's fields as string views, std::nullopt on cleartext, and on a host
// whose table ends before request_tls (a 1.1 host before TLS, or 1.0).
#include <gtest/gtest.h>
#include <pounce/pounce.hpp>

#include <cstring>

#include "fake_host.h"

namespace {

using namespace pounce_test;

bool g_tls = false;
uint32_t g_seen_size = 0;

int fake_request_tls(const pounce_request_t*, pounce_tls_info_t* out) {
  g_seen_size = out->size;
  if (!g_tls) {
    out->version = {nullptr, 0};
    return 0;
  }
  out->resumed = 1;
  out->version = POUNCE_STR("TLSv1.3");
  out->cipher = POUNCE_STR("TLS_AES_256_GCM_SHA384");
  out->sni = POUNCE_STR("api.example.test");
  out->alpn = {nullptr, 0};
  out->client_cert = 1;
  out->verify_result = 21;
  out->client_subject = POUNCE_STR("CN=alice");
  out->client_issuer = POUNCE_STR("CN=Pounce Test CA");
  out->client_serial = POUNCE_STR("1A2B");
  out->client_sha256 = POUNCE_STR("ab");
  out->verify_text = POUNCE_STR("unable to verify the first certificate");
  return 1;
}

class WrapperTls : public FakeHostTest {
 protected:
  void SetUp() override {
    FakeHostTest::SetUp();
    api_.request_tls = fake_request_tls;
    memset(&view_, 0, sizeof view_);
    view_.size = sizeof view_;
  }
  pounce_request_view_t view_;
};

TEST_F(WrapperTls, CleartextIsNullopt) {
  g_tls = false;
  EXPECT_FALSE(pounce::Request(&view_).tls());
  EXPECT_EQ(g_seen_size, sizeof(pounce_tls_info_t));
}

TEST_F(WrapperTls, TlsFieldsBecomeStringViews) {
  g_tls = true;
  auto t = pounce::Request(&view_).tls();
  ASSERT_TRUE(t);
  EXPECT_EQ(t->version, "TLSv1.3");
  EXPECT_EQ(t->cipher, "TLS_AES_256_GCM_SHA384");
  EXPECT_EQ(t->sni, "api.example.test");
  EXPECT_TRUE(t->alpn.empty());
  EXPECT_TRUE(t->resumed);
  EXPECT_TRUE(t->client_cert);
  EXPECT_EQ(t->verify_result, 21);
  EXPECT_EQ(t->verify_text, "unable to verify the first certificate");
  EXPECT_EQ(t->subject, "CN=alice");
  EXPECT_EQ(t->issuer, "CN=Pounce Test CA");
  EXPECT_EQ(t->serial, "1A2B");
  EXPECT_EQ(t->sha256, "ab");
}

TEST_F(WrapperTls, AHostWithoutRequestTlsIsNullopt) {
  g_tls = true;
  api_.size = static_cast<uint32_t>(offsetof(pounce_host_api_t, request_tls));
  EXPECT_FALSE(pounce::Request(&view_).tls());
}

}  // namespace
