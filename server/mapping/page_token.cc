#include "server/mapping/page_token.h"

#include <string>

#include "absl/strings/escaping.h"
#include "server/common/error_details.h"

namespace kommo::mapping {
namespace {

// Token layout before base64 (13 bytes, 18 characters encoded):
//   [0]      format version (kVersion)
//   [1..4]   page, big-endian uint32
//   [5..12]  check, big-endian: Check(scope, page, query, page_size)
// The check binds the token to the request it was issued for. It is a consistency check, not a
// signature: it is unkeyed so that tokens survive restarts and work on every replica, and a forged
// token can at worst name another page of the caller's own query.
constexpr unsigned char kVersion = 1;
constexpr size_t kPageOffset = 1;
constexpr size_t kCheckOffset = 5;
constexpr size_t kPayloadSize = 13;
// Longer inputs are rejected before decoding, so a huge token costs nothing.
constexpr size_t kMaxTokenLength = 32;
constexpr int64_t kMinPage = 2;
constexpr int64_t kMaxPage = 1000000;

// 64-bit FNV-1a (http://www.isthe.com/chongo/tech/comp/fnv/) with a murmur3 fmix64 finalizer.
// Each step is a bijection of the state for a fixed input byte, so inputs of the same length that
// differ in one byte always hash differently.
class Hasher {
 public:
  void AddByte(unsigned char byte) {
    state_ ^= byte;
    state_ *= kPrime;
  }
  void AddBytes(absl::string_view bytes) {
    for (const char c : bytes) AddByte(static_cast<unsigned char>(c));
  }
  // Little-endian, 8 bytes.
  void AddUint64(uint64_t value) {
    for (int i = 0; i < 8; ++i) AddByte(static_cast<unsigned char>(value >> (8 * i)));
  }
  // Length-prefixed, so ("ab", "c") and ("a", "bc") differ.
  void AddField(absl::string_view bytes) {
    AddUint64(bytes.size());
    AddBytes(bytes);
  }
  uint64_t Finish() const {
    uint64_t h = state_;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
  }

 private:
  static constexpr uint64_t kPrime = 0x100000001b3ULL;
  uint64_t state_ = 0xcbf29ce484222325ULL;
};

uint64_t Check(absl::string_view scope, uint64_t page, absl::string_view query, int32_t page_size) {
  Hasher hasher;
  hasher.AddField("kommo-grpc page token");
  hasher.AddUint64(kVersion);
  hasher.AddField(scope);
  hasher.AddField(query);
  hasher.AddUint64(static_cast<uint32_t>(page_size));
  hasher.AddUint64(page);
  return hasher.Finish();
}

void PutBigEndian(uint64_t value, size_t bytes, std::string& out, size_t offset) {
  for (size_t i = 0; i < bytes; ++i) {
    out[offset + i] = static_cast<char>(value >> (8 * (bytes - 1 - i)));
  }
}

uint64_t GetBigEndian(absl::string_view in, size_t offset, size_t bytes) {
  uint64_t value = 0;
  for (size_t i = 0; i < bytes; ++i) {
    value = (value << 8) | static_cast<unsigned char>(in[offset + i]);
  }
  return value;
}

absl::Status InvalidToken(absl::string_view description) {
  return MakeInvalidArgument("page_token is not valid for this request",
                             {{"page_token", std::string(description)}}, reason::kInvalidPageToken);
}

}  // namespace

std::string EncodePageToken(absl::string_view scope, int64_t page, absl::string_view query,
                            int32_t page_size) {
  // Only the low 32 bits of the page are stored, but the check covers all 64: a page outside
  // uint32 yields a token whose check fails. DecodePageToken rejects pages outside
  // [kMinPage, kMaxPage] in any case.
  std::string payload(kPayloadSize, '\0');
  payload[0] = static_cast<char>(kVersion);
  PutBigEndian(static_cast<uint32_t>(page), 4, payload, kPageOffset);
  PutBigEndian(Check(scope, static_cast<uint64_t>(page), query, page_size), 8, payload,
               kCheckOffset);
  return absl::WebSafeBase64Escape(payload);
}

absl::StatusOr<int64_t> DecodePageToken(absl::string_view token, absl::string_view scope,
                                        absl::string_view query, int32_t page_size) {
  constexpr char kMalformed[] = "is not a page token issued by this service";
  if (token.empty() || token.size() > kMaxTokenLength) return InvalidToken(kMalformed);
  std::string payload;
  if (!absl::WebSafeBase64Unescape(token, &payload)) return InvalidToken(kMalformed);
  // One spelling per token: no padding, no whitespace, no stray bits in the last character.
  if (absl::WebSafeBase64Escape(payload) != token) return InvalidToken(kMalformed);
  if (payload.size() != kPayloadSize || static_cast<unsigned char>(payload[0]) != kVersion) {
    return InvalidToken(kMalformed);
  }
  const auto page = static_cast<uint32_t>(GetBigEndian(payload, kPageOffset, 4));
  if (GetBigEndian(payload, kCheckOffset, 8) != Check(scope, page, query, page_size)) {
    return InvalidToken(
        "was issued for another query or page_size (or another RPC), or is damaged; start again "
        "without a page_token");
  }
  if (page < kMinPage || page > kMaxPage) return InvalidToken(kMalformed);
  return static_cast<int64_t>(page);
}

}  // namespace kommo::mapping
