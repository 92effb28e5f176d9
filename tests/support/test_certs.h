// Test certificates made at run time with the `openssl` command line (no
// private key is ever committed): a test CA, server and client certificates
// it signs, a second CA for "signed by someone else", expired and
// not-yet-valid certificates, and OCSP responses. Used by the TLS unit
// tests and by integration tests (curl --cacert, openssl s_client, python
// ssl, chromium --ignore-certificate-errors-spki-list).
//
//   TestPki pki = TestPki::create(dir);  // dir must exist
//   CertFiles srv = pki.server_cert({"localhost", "*.example.test"},
//                                   KeyType::Ecdsa, 0x1001);
//   // srv.cert_path: PEM leaf (the CA is not in it), srv.key_path: PEM key
//   curl --cacert pki.ca_cert() ...
//
// Every call runs openssl and throws std::runtime_error (with openssl's
// output) when it fails; a GoogleTest test reports that as a failure.
// Serials are unique per CA: issuing the same serial twice throws. Chosen
// serials below 0x10000 never meet automatic ones.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pounce::test {

enum class KeyType { Ecdsa, Rsa };  // ECDSA P-256, RSA 2048

struct CertFiles {
  std::string cert_path;  // PEM certificate (the leaf only)
  std::string key_path;   // PEM private key, unencrypted
};

enum class Validity {
  Current,      // valid from an hour ago for 30 days
  Expired,      // expired yesterday
  NotYetValid,  // valid from tomorrow
};

struct CertRequest {
  // subjectAltName DNS names; the first is also the subject CN.
  std::vector<std::string> dns_names = {"localhost"};
  // Also in the subjectAltName, e.g. "127.0.0.1", "::1".
  std::vector<std::string> ip_addresses;
  KeyType key_type = KeyType::Ecdsa;
  uint64_t serial = 0;    // 0: the next unused one (from 0x10000)
  bool san = true;        // false: no subjectAltName, the CN only
  bool client = false;    // extendedKeyUsage clientAuth (else serverAuth)
  bool other_ca = false;  // signed by the second CA
  Validity validity = Validity::Current;
  // File stem in dir() ("<stem>.pem", "<stem>.key"); default from the
  // serial ("server-1001", "client-010000", "other-client-010001").
  std::string stem;
};

class TestPki {
 public:
  // Makes both CAs (EC P-256 keys) in `dir`, which must exist.
  static TestPki create(const std::string& dir);

  const std::string& dir() const { return dir_; }
  // The CA's certificate (PEM): trust it in clients, or pass it as
  // --tls-client-ca.
  std::string ca_cert() const;
  std::string other_ca_cert() const;  // the second, unrelated CA

  CertFiles issue(const CertRequest& request);

  // Shorthands for issue().
  CertFiles server_cert(const std::vector<std::string>& dns_names,
                        KeyType key_type = KeyType::Ecdsa, uint64_t serial = 0);
  CertFiles expired_cert(const std::vector<std::string>& dns_names,
                         KeyType key_type = KeyType::Ecdsa);
  // A client certificate with subject CN `common_name`, signed by the CA,
  // or by the other CA.
  CertFiles client_cert(const std::string& common_name, bool other_ca = false);

  // A DER OCSP response ("good", or "revoked" when `revoke`) for a
  // certificate this CA issued, signed by the CA, valid for a day. Written
  // to "<cert stem>.ocsp.der"; returns the path.
  std::string ocsp_response(const CertFiles& cert, bool revoke = false);

  // base64(SHA-256(SubjectPublicKeyInfo)) of a PEM certificate: the value
  // of chromium's --ignore-certificate-errors-spki-list.
  static std::string spki_sha256_base64(const std::string& cert_path);

  // The serial number of a PEM certificate, in upper-case hex ("1001").
  static std::string serial_hex(const std::string& cert_path);

 private:
  struct Ca {
    std::string dir;  // holds ca.pem, ca.key, index.txt, serial, ca.cnf
    std::string cert;
    std::string key;
  };
  TestPki() = default;
  void make_ca(Ca* ca, const std::string& dir, const std::string& name);
  void run(const std::vector<std::string>& argv);

  std::string dir_;
  Ca ca_;
  Ca other_;
  uint64_t next_serial_ = 0x10000;
};

}  // namespace pounce::test
