#include "test_certs.h"

#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace pounce::test {

namespace {

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path);
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// "YYYYMMDDHHMMSSZ", `offset_s` from now, as `openssl ca -startdate` takes.
std::string utc_stamp(long offset_s) {
  const time_t t = time(nullptr) + offset_s;
  tm parts{};
  gmtime_r(&t, &parts);
  char buf[32];
  strftime(buf, sizeof(buf), "%Y%m%d%H%M%SZ", &parts);
  return buf;
}

std::string hex_serial(uint64_t serial) {
  char buf[32];
  snprintf(buf, sizeof(buf), "%llX", static_cast<unsigned long long>(serial));
  std::string s = buf;
  if (s.size() % 2) s = "0" + s;  // openssl's serial file wants whole bytes
  return s;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) {
    if (!out.empty()) out += ",";
    out += item;
  }
  return out;
}

X509* read_cert(const std::string& path) {
  FILE* f = fopen(path.c_str(), "r");
  if (f == nullptr) throw std::runtime_error("cannot open " + path);
  X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
  fclose(f);
  if (cert == nullptr) throw std::runtime_error("no certificate in " + path);
  return cert;
}

// One configuration per CA, used by `openssl req` (no system openssl.cnf
// involved) and `openssl ca` (which keeps index.txt, the database that
// `openssl ocsp` answers from).
std::string ca_config(const std::string& dir) {
  return "[ca]\n"
         "default_ca = CA_default\n"
         "[CA_default]\n"
         "dir = " +
         dir +
         "\n"
         "database = $dir/index.txt\n"
         "new_certs_dir = $dir/newcerts\n"
         "serial = $dir/serial\n"
         "certificate = $dir/ca.pem\n"
         "private_key = $dir/ca.key\n"
         "default_md = sha256\n"
         "default_days = 30\n"
         "policy = policy_any\n"
         "unique_subject = no\n"
         "copy_extensions = none\n"
         "email_in_dn = no\n"
         "[policy_any]\n"
         "commonName = supplied\n"
         "[req]\n"
         "distinguished_name = req_dn\n"
         "prompt = no\n"
         "[req_dn]\n"
         "CN = unused\n"
         "[v3_ca]\n"
         "basicConstraints = critical,CA:TRUE\n"
         "keyUsage = critical,keyCertSign,cRLSign\n"
         "subjectKeyIdentifier = hash\n"
         "authorityKeyIdentifier = keyid:always\n";
}

}  // namespace

void TestPki::run(const std::vector<std::string>& argv) {
  const std::string log = dir_ + "/openssl.log";
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    std::vector<char*> args;
    args.push_back(const_cast<char*>("openssl"));
    for (const std::string& a : argv)
      args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp("openssl", args.data());
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::string cmd = "openssl";
    for (const std::string& a : argv) cmd += " " + a;
    throw std::runtime_error(cmd + " failed:\n" + read_text(log));
  }
}

void TestPki::make_ca(Ca* ca, const std::string& dir, const std::string& name) {
  ca->dir = dir;
  ca->cert = dir + "/ca.pem";
  ca->key = dir + "/ca.key";
  mkdir(dir.c_str(), 0755);
  mkdir((dir + "/newcerts").c_str(), 0755);
  write_text(dir + "/index.txt", "");
  write_text(dir + "/index.txt.attr", "unique_subject = no\n");
  write_text(dir + "/ca.cnf", ca_config(dir));
  run({"genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
       "-out", ca->key});
  run({"req", "-config", dir + "/ca.cnf", "-x509", "-new", "-key", ca->key,
       "-subj", "/CN=" + name, "-days", "3650", "-extensions", "v3_ca", "-out",
       ca->cert});
}

TestPki TestPki::create(const std::string& dir) {
  TestPki pki;
  pki.dir_ = dir;
  pki.make_ca(&pki.ca_, dir + "/ca", "Pounce Test CA");
  pki.make_ca(&pki.other_, dir + "/other-ca", "Pounce Other CA");
  return pki;
}

std::string TestPki::ca_cert() const {
  return ca_.cert;
}
std::string TestPki::other_ca_cert() const {
  return other_.cert;
}

CertFiles TestPki::issue(const CertRequest& r) {
  if (r.dns_names.empty()) throw std::runtime_error("issue: no DNS name");
  const uint64_t serial = r.serial ? r.serial : next_serial_++;
  const Ca& ca = r.other_ca ? other_ : ca_;
  std::string stem = r.stem;
  if (stem.empty()) {
    stem = std::string(r.other_ca ? "other-" : "") +
           (r.client ? "client-" : "server-") + hex_serial(serial);
  }
  CertFiles files{dir_ + "/" + stem + ".pem", dir_ + "/" + stem + ".key"};
  const std::string csr = dir_ + "/" + stem + ".csr";
  const std::string ext = dir_ + "/" + stem + ".ext";

  if (r.key_type == KeyType::Rsa) {
    run({"genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
         "-out", files.key_path});
  } else {
    run({"genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-out", files.key_path});
  }
  run({"req", "-config", ca.dir + "/ca.cnf", "-new", "-key", files.key_path,
       "-subj", "/CN=" + r.dns_names.front(), "-out", csr});

  std::vector<std::string> sans;
  for (const std::string& n : r.dns_names) sans.push_back("DNS:" + n);
  for (const std::string& ip : r.ip_addresses) sans.push_back("IP:" + ip);
  std::string text =
      "[ext]\n"
      "basicConstraints = critical,CA:FALSE\n"
      "subjectKeyIdentifier = hash\n"
      "authorityKeyIdentifier = keyid\n";
  text += r.key_type == KeyType::Rsa
              ? "keyUsage = critical,digitalSignature,keyEncipherment\n"
              : "keyUsage = critical,digitalSignature\n";
  text += r.client ? "extendedKeyUsage = clientAuth\n"
                   : "extendedKeyUsage = serverAuth\n";
  if (r.san) text += "subjectAltName = " + join(sans) + "\n";
  write_text(ext, text);
  write_text(ca.dir + "/serial", hex_serial(serial) + "\n");

  std::string start = utc_stamp(-3600);
  std::string end = utc_stamp(30L * 86400);
  if (r.validity == Validity::Expired) {
    start = utc_stamp(-30L * 86400);
    end = utc_stamp(-86400);
  } else if (r.validity == Validity::NotYetValid) {
    start = utc_stamp(86400);
    end = utc_stamp(30L * 86400);
  }
  run({"ca", "-batch", "-config", ca.dir + "/ca.cnf", "-in", csr, "-out",
       files.cert_path, "-notext", "-extfile", ext, "-extensions", "ext",
       "-startdate", start, "-enddate", end});
  return files;
}

CertFiles TestPki::server_cert(const std::vector<std::string>& dns_names,
                               KeyType key_type, uint64_t serial) {
  CertRequest r;
  r.dns_names = dns_names;
  r.key_type = key_type;
  r.serial = serial;
  return issue(r);
}

CertFiles TestPki::expired_cert(const std::vector<std::string>& dns_names,
                                KeyType key_type) {
  CertRequest r;
  r.dns_names = dns_names;
  r.key_type = key_type;
  r.validity = Validity::Expired;
  return issue(r);
}

CertFiles TestPki::client_cert(const std::string& common_name, bool other_ca) {
  CertRequest r;
  r.dns_names = {common_name};
  r.san = false;
  r.client = true;
  r.other_ca = other_ca;
  return issue(r);
}

std::string TestPki::ocsp_response(const CertFiles& cert, bool revoke) {
  std::string base = cert.cert_path;
  if (base.size() > 4 && base.compare(base.size() - 4, 4, ".pem") == 0) {
    base.resize(base.size() - 4);
  }
  const std::string request = base + ".ocsp-req.der";
  const std::string response = base + ".ocsp.der";
  if (revoke) {
    run({"ca", "-config", ca_.dir + "/ca.cnf", "-revoke", cert.cert_path});
  }
  run({"ocsp", "-issuer", ca_.cert, "-cert", cert.cert_path, "-no_nonce",
       "-reqout", request});
  run({"ocsp", "-index", ca_.dir + "/index.txt", "-CA", ca_.cert, "-rsigner",
       ca_.cert, "-rkey", ca_.key, "-reqin", request, "-respout", response,
       "-ndays", "1"});
  return response;
}

std::string TestPki::spki_sha256_base64(const std::string& cert_path) {
  X509* cert = read_cert(cert_path);
  unsigned char* der = nullptr;
  const int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
  X509_free(cert);
  if (len <= 0) throw std::runtime_error("no public key in " + cert_path);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  EVP_Digest(der, static_cast<size_t>(len), digest, &digest_len, EVP_sha256(),
             nullptr);
  OPENSSL_free(der);
  unsigned char b64[4 * EVP_MAX_MD_SIZE];
  const int n = EVP_EncodeBlock(b64, digest, static_cast<int>(digest_len));
  return std::string(reinterpret_cast<char*>(b64), static_cast<size_t>(n));
}

std::string TestPki::serial_hex(const std::string& cert_path) {
  X509* cert = read_cert(cert_path);
  BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr);
  X509_free(cert);
  char* hex = bn ? BN_bn2hex(bn) : nullptr;
  BN_free(bn);
  if (hex == nullptr) throw std::runtime_error("bad serial in " + cert_path);
  std::string out = hex;
  OPENSSL_free(hex);
  return out;
}

}  // namespace pounce::test
