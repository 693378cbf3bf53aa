#include "server/watch/webhook_receiver.h"

#include <civetweb.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/common/listen_address.h"
#include "server/common/log.h"

namespace kommo::watch {
namespace {

constexpr absl::string_view kPathPrefix = "/kommo/webhook/";

// Compares without stopping at the first difference, so the time taken says nothing about how
// much of a guessed secret was right.
bool SameSecret(absl::string_view given, absl::string_view secret) {
  unsigned char difference = given.size() == secret.size() ? 0 : 1;
  for (size_t i = 0; i < given.size(); ++i) {
    difference |= static_cast<unsigned char>(given[i] ^ secret[i % secret.size()]);
  }
  return difference == 0;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

absl::StatusOr<std::string> FormDecode(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out.push_back(' ');
    } else if (text[i] == '%') {
      if (i + 2 >= text.size()) {
        return absl::InvalidArgumentError("a percent escape is cut short");
      }
      const int high = HexValue(text[i + 1]);
      const int low = HexValue(text[i + 2]);
      if (high < 0 || low < 0) return absl::InvalidArgumentError("a percent escape is not hex");
      out.push_back(static_cast<char>(high * 16 + low));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

void SendStatus(mg_connection* connection, int status, absl::string_view text) {
  mg_printf(connection,
            "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
            "Connection: close\r\n\r\n%s",
            status, std::string(text).c_str(), text.size(), std::string(text).c_str());
}

// civetweb's own messages may name the request's path, which holds the secret.
int Quiet(const mg_connection*, const char*) { return 1; }

}  // namespace

size_t WebhookDelivery::count() const {
  size_t total = 0;
  for (const auto& [key, ids] : entities) total += ids.size();
  return total;
}

absl::StatusOr<WebhookDelivery> ParseWebhookDelivery(absl::string_view body) {
  WebhookDelivery delivery;
  for (absl::string_view pair : absl::StrSplit(body, '&', absl::SkipEmpty())) {
    const size_t equals = pair.find('=');
    absl::StatusOr<std::string> key = FormDecode(pair.substr(0, equals));
    if (!key.ok()) return key.status();
    absl::StatusOr<std::string> value =
        FormDecode(equals == absl::string_view::npos ? "" : pair.substr(equals + 1));
    if (!value.ok()) return value.status();
    // entity[action][index][field]
    const size_t open = key->find('[');
    if (open == std::string::npos || key->back() != ']') continue;
    const std::string entity = key->substr(0, open);
    std::vector<std::string> parts =
        absl::StrSplit(key->substr(open + 1, key->size() - open - 2), "][");
    if (parts.size() != 3 || parts[2] != "id") continue;
    int64_t id = 0;
    size_t index = 0;
    if (!absl::SimpleAtoi(parts[1], &index) || !absl::SimpleAtoi(*value, &id) || id <= 0) {
      continue;
    }
    delivery.entities[{entity, parts[0]}].push_back(id);
  }
  return delivery;
}

absl::StatusOr<std::unique_ptr<WebhookReceiver>> WebhookReceiver::Start(Options options,
                                                                        OnDelivery on_delivery) {
  if (options.secret.empty()) return absl::InvalidArgumentError("the webhook secret is empty");
  absl::StatusOr<std::string> listening = CivetwebListeningPort("webhook", options.listen);
  if (!listening.ok()) return listening.status();
  std::unique_ptr<WebhookReceiver> receiver(
      new WebhookReceiver(std::move(options), std::move(on_delivery)));
  mg_init_library(0);
  mg_callbacks callbacks{};
  callbacks.log_message = &Quiet;
  const char* civet_options[] = {"listening_ports",
                                 listening->c_str(),
                                 "num_threads",
                                 "2",
                                 "request_timeout_ms",
                                 "2000",
                                 nullptr};
  receiver->context_ = mg_start(&callbacks, nullptr, civet_options);
  if (receiver->context_ == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", receiver->options_.listen, " for webhooks"));
  }
  mg_set_request_handler(receiver->context_, "/", &WebhookReceiver::Handle, receiver.get());
  mg_server_port ports[2] = {};
  if (mg_get_server_ports(receiver->context_, 2, ports) > 0) receiver->port_ = ports[0].port;
  return receiver;
}

WebhookReceiver::~WebhookReceiver() {
  if (context_ != nullptr) mg_stop(context_);
}

int WebhookReceiver::Handle(mg_connection* connection, void* self) {
  return static_cast<WebhookReceiver*>(self)->Handle(connection);
}

int WebhookReceiver::Handle(mg_connection* connection) {
  const mg_request_info* request = mg_get_request_info(connection);
  const absl::string_view path = request->local_uri != nullptr ? request->local_uri : "";
  if (!absl::StartsWith(path, kPathPrefix) ||
      !SameSecret(path.substr(kPathPrefix.size()), options_.secret)) {
    log::Warning("webhook refused: not the configured path");
    SendStatus(connection, 404, "not found");
    return 404;
  }
  if (std::string(request->request_method) != "POST") {
    SendStatus(connection, 405, "method not allowed");
    return 405;
  }
  if (request->content_length > static_cast<long long>(options_.max_body_bytes)) {
    log::Warning("webhook refused: body too large",
                 {{"bytes", static_cast<long long>(request->content_length)}});
    SendStatus(connection, 413, "too large");
    return 413;
  }
  std::string body;
  char chunk[8192];
  int read = 0;
  while ((read = mg_read(connection, chunk, sizeof(chunk))) > 0) {
    body.append(chunk, static_cast<size_t>(read));
    if (body.size() > options_.max_body_bytes) {
      SendStatus(connection, 413, "too large");
      return 413;
    }
  }
  // Answered before any work: Kommo gives a receiver 2 s.
  SendStatus(connection, 200, "ok");
  absl::StatusOr<WebhookDelivery> delivery = ParseWebhookDelivery(body);
  if (!delivery.ok()) {
    log::Warning("webhook delivery could not be read; the events poller covers it",
                 {{"error", delivery.status().message()}});
    return 200;
  }
  log::Info("webhook delivery", {{"entities", static_cast<long long>(delivery->count())}});
  if (on_delivery_) on_delivery_(*delivery);
  return 200;
}

}  // namespace kommo::watch
