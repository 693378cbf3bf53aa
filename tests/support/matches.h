#ifndef KOMMO_TESTS_SUPPORT_MATCHES_H_
#define KOMMO_TESTS_SUPPORT_MATCHES_H_

#include <regex>
#include <string>
#include <vector>

namespace kommo::testing {

// The first capture group of every match of `pattern` in `text`, in order: how the fake Kommos
// read request ids, ids and fields out of the bodies the client sends.
inline std::vector<std::string> AllMatches(const std::string& text, const std::string& pattern) {
  std::vector<std::string> found;
  const std::regex re(pattern);
  for (auto it = std::sregex_iterator(text.begin(), text.end(), re); it != std::sregex_iterator();
       ++it) {
    found.push_back((*it)[1]);
  }
  return found;
}

}  // namespace kommo::testing

#endif  // KOMMO_TESTS_SUPPORT_MATCHES_H_
