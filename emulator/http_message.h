// HTTP/1.1 request and response values of the emulator's server, and URL helpers.
#ifndef KOMMO_EMULATOR_HTTP_MESSAGE_H_
#define KOMMO_EMULATOR_HTTP_MESSAGE_H_

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kommo::emulator {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method;     // as sent, e.g. "GET"
  std::string target;     // raw request-target, e.g. "/api/v4/leads?page=2"
  std::string path;       // target up to '?', not decoded; absolute-form targets are reduced to it
  std::string query;      // raw query string without '?', not decoded
  int version_minor = 1;  // HTTP/1.<version_minor>
  HeaderList headers;     // names lower-cased, values trimmed, in arrival order
  std::string body;
  std::string request_id;  // assigned by the server; sent back as X-Request-Id
  std::string peer;        // "ip:port" of the client

  // First header with this lower-case name, or nullptr.
  const std::string* Header(std::string_view lower_name) const;
};

struct HttpResponse {
  int status = 200;
  HeaderList headers;  // Content-Length, Connection, Date and X-Request-Id are added by the server
  std::string body;
  bool close_connection = false;          // send "Connection: close" and close after writing
  bool add_request_id = true;             // false: no X-Request-Id (like an nginx error page)
  std::string server = "kommo-emulator";  // the Server header ("nginx" for nginx-style pages)

  // Faulty delivery (both ignored for HEAD requests and bodyless statuses):
  // cut_body_at: the head declares the whole body's Content-Length, but only this many body bytes
  // are sent before the connection closes.
  std::optional<size_t> cut_body_at;
  // trickle_bytes > 0: the head goes out at once, then the body in pieces of this many bytes,
  // one every trickle_interval (timers, no thread waits). The connection then stays usable.
  size_t trickle_bytes = 0;
  std::chrono::milliseconds trickle_interval{0};

  // A response with a body and its content type (no body and no type for 204/304).
  static HttpResponse WithBody(int status, std::string content_type, std::string body);
};

// "OK", "Not Found", ...; "Unknown" for codes without a phrase here.
std::string_view ReasonPhrase(int status);

// Decodes %XX escapes and, when `plus_is_space`, '+' as ' '. Malformed escapes stay literal.
std::string UrlDecode(std::string_view in, bool plus_is_space);
// Percent-encodes everything except RFC 3986 unreserved characters.
std::string UrlEncode(std::string_view in);

// A decoded query string: key/value pairs in order; a key without '=' has an empty value.
using QueryParams = std::vector<std::pair<std::string, std::string>>;
QueryParams ParseQuery(std::string_view query);

}  // namespace kommo::emulator

#endif  // KOMMO_EMULATOR_HTTP_MESSAGE_H_
