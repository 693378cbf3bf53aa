#ifndef KOMMO_TESTS_SUPPORT_TEST_CERT_H_
#define KOMMO_TESTS_SUPPORT_TEST_CERT_H_

// Certificates made at test time with the OpenSSL API (no key material in the repository).

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace kommo::testing {

// A certificate and its key, as PEM files (paths).
struct CertFiles {
  std::string cert;
  std::string key;
};

inline bool WritePem(const std::string& path, const std::function<int(FILE*)>& write) {
  FILE* file = std::fopen(path.c_str(), "w");
  if (file == nullptr) return false;
  const bool ok = write(file) == 1;
  return std::fclose(file) == 0 && ok;
}

// Makes a new P-256 key and a certificate for it valid for a day, with subject CN `common_name`,
// `serial` and `extensions` (OpenSSL's configuration syntax), signed by `issuer` and its key, or
// self-signed when they are null; writes both under `dir` as NAME.crt and NAME.key. Empty paths
// on failure.
inline CertFiles WriteCert(const std::string& dir, const std::string& name,
                           const std::string& common_name, long serial,  // NOLINT(runtime/int)
                           X509* issuer, EVP_PKEY* issuer_key,
                           const std::vector<std::pair<int, std::string>>& extensions) {
  CertFiles files{dir + "/" + name + ".crt", dir + "/" + name + ".key"};
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  bool ok = key != nullptr && cert != nullptr;
  if (ok) {
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), serial);
    X509_gmtime_adj(X509_getm_notBefore(cert), -60);
    X509_gmtime_adj(X509_getm_notAfter(cert), 24 * 3600);
    X509_set_pubkey(cert, key);
    X509_NAME* subject = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                               0);
    X509_set_issuer_name(cert, issuer != nullptr ? X509_get_subject_name(issuer) : subject);
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer != nullptr ? issuer : cert, cert, nullptr, nullptr, 0);
    for (const auto& [nid, value] : extensions) {
      X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
      ok = ok && extension != nullptr && X509_add_ext(cert, extension, -1) == 1;
      X509_EXTENSION_free(extension);
    }
    ok = ok && X509_sign(cert, issuer_key != nullptr ? issuer_key : key, EVP_sha256()) > 0 &&
         WritePem(files.cert, [&](FILE* f) { return PEM_write_X509(f, cert); }) &&
         WritePem(files.key, [&](FILE* f) {
           return PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
         });
  }
  X509_free(cert);
  EVP_PKEY_free(key);
  if (!ok) return CertFiles{};
  return files;
}

// A self-signed certificate for IP 127.0.0.1 (its own CA): the files under `dir` with names
// starting `name`; empty paths on failure.
inline CertFiles MakeSelfSignedCert(const std::string& dir, const std::string& name) {
  return WriteCert(dir, name, "kommo-emulator test", 1, nullptr, nullptr,
                   {{NID_basic_constraints, "critical,CA:TRUE"},
                    {NID_subject_alt_name, "IP:127.0.0.1"},
                    {NID_subject_key_identifier, "hash"}});
}

// A certificate authority for TLS tests: MakeCa makes one (self-signed, CA:TRUE), MakeSignedCert a
// leaf it signs. Files only: a test points servers and clients at the paths.
//
//   CertFiles ca = MakeCa(dir, "ca");
//   CertFiles server = MakeSignedCert(ca, dir, "server", "kommo-grpc", "IP:127.0.0.1");
//   CertFiles client = MakeSignedCert(ca, dir, "chatbot", "chatbot", "URI:spiffe://crm/chatbot");
inline CertFiles MakeCa(const std::string& dir, const std::string& name) {
  static long serial = 1000;  // NOLINT(runtime/int): OpenSSL's type
  return WriteCert(dir, name, "kommo test CA " + name, ++serial, nullptr, nullptr,
                   {{NID_basic_constraints, "critical,CA:TRUE"},
                    {NID_key_usage, "critical,keyCertSign,cRLSign"},
                    {NID_subject_key_identifier, "hash"}});
}

// A leaf certificate signed by `ca` (from MakeCa), usable by a server and by a client, with the
// subject CN `common_name` and the subjectAltName list `sans` in OpenSSL's syntax
// ("IP:127.0.0.1,DNS:localhost,URI:spiffe://x"). Each call gets a new serial and key. Empty paths
// on failure.
inline CertFiles MakeSignedCert(const CertFiles& ca, const std::string& dir,
                                const std::string& name, const std::string& common_name,
                                const std::string& sans) {
  FILE* ca_cert_file = std::fopen(ca.cert.c_str(), "r");
  FILE* ca_key_file = std::fopen(ca.key.c_str(), "r");
  X509* ca_cert =
      ca_cert_file != nullptr ? PEM_read_X509(ca_cert_file, nullptr, nullptr, nullptr) : nullptr;
  EVP_PKEY* ca_key = ca_key_file != nullptr
                         ? PEM_read_PrivateKey(ca_key_file, nullptr, nullptr, nullptr)
                         : nullptr;
  if (ca_cert_file != nullptr) std::fclose(ca_cert_file);
  if (ca_key_file != nullptr) std::fclose(ca_key_file);
  CertFiles files;
  if (ca_cert != nullptr && ca_key != nullptr) {
    static long serial = 5000;  // NOLINT(runtime/int): OpenSSL's type
    std::vector<std::pair<int, std::string>> extensions = {
        {NID_basic_constraints, "critical,CA:FALSE"},
        {NID_key_usage, "critical,digitalSignature,keyEncipherment"},
        {NID_ext_key_usage, "serverAuth,clientAuth"},
        {NID_subject_key_identifier, "hash"},
        {NID_authority_key_identifier, "keyid:always"}};
    if (!sans.empty()) extensions.emplace_back(NID_subject_alt_name, sans);
    files = WriteCert(dir, name, common_name, ++serial, ca_cert, ca_key, extensions);
  }
  X509_free(ca_cert);
  EVP_PKEY_free(ca_key);
  return files;
}

}  // namespace kommo::testing

#endif  // KOMMO_TESTS_SUPPORT_TEST_CERT_H_
