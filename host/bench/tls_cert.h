// The throwaway certificate of `pounce-host bench --tls`: an ECDSA P-256
// key and a self-signed certificate for "localhost" and 127.0.0.1, made in
// process (no openssl binary, nothing committed), written into the run's
// private work directory and removed with it. Every server of the run is
// given the same pair, so that their handshakes cost the same signature.
#pragma once

#include <string>

namespace pounce::bench {

struct TlsCertificate {
  std::string cert_path;  // PEM
  std::string key_path;   // PEM (PKCS#8), mode 0600
  std::string sha256;     // of the DER certificate, lower-case hex
  // What it is, for the artifact: "ECDSA P-256, self-signed, SHA-256".
  std::string description;
};

// Writes cert.pem and key.pem into `dir` (which must exist and should be
// private). False with a reason on failure.
bool make_throwaway_certificate(const std::string& dir, TlsCertificate* out,
                                std::string* error);

}  // namespace pounce::bench
