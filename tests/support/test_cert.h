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

namespace kommo::testing {

// A self-signed certificate for IP 127.0.0.1 (its own CA) and its key, as PEM files.
struct CertFiles {
  std::string cert;
  std::string key;
};

inline bool AddExtension(X509* cert, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (extension == nullptr) return false;
  const bool ok = X509_add_ext(cert, extension, -1) == 1;
  X509_EXTENSION_free(extension);
  return ok;
}

inline bool WritePem(const std::string& path, const std::function<int(FILE*)>& write) {
  FILE* file = std::fopen(path.c_str(), "w");
  if (file == nullptr) return false;
  const bool ok = write(file) == 1;
  return std::fclose(file) == 0 && ok;
}

// Makes the files under `dir` with names starting `name`; empty paths on failure.
inline CertFiles MakeSelfSignedCert(const std::string& dir, const std::string& name) {
  CertFiles files{dir + "/" + name + ".crt", dir + "/" + name + ".key"};
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  bool ok = key != nullptr && cert != nullptr;
  if (ok) {
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), -60);
    X509_gmtime_adj(X509_getm_notAfter(cert), 24 * 3600);
    X509_set_pubkey(cert, key);
    X509_NAME* subject = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("kommo-emulator test"), -1,
                               -1, 0);
    X509_set_issuer_name(cert, subject);
    ok = AddExtension(cert, NID_basic_constraints, "critical,CA:TRUE") &&
         AddExtension(cert, NID_subject_alt_name, "IP:127.0.0.1") &&
         AddExtension(cert, NID_subject_key_identifier, "hash") &&
         X509_sign(cert, key, EVP_sha256()) > 0 &&
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

}  // namespace kommo::testing

#endif  // KOMMO_TESTS_SUPPORT_TEST_CERT_H_
