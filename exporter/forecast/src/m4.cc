#include "foresight/forecast/m4.h"

#include <charconv>
#include <fstream>

namespace foresight::forecast {

Result<std::vector<M4Series>> ReadM4Csv(const std::string& path) {
  std::ifstream in(path);
  if (!in) return NotFound(path + ": cannot open");
  std::vector<M4Series> out;
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line_no == 1 || line.empty()) continue;  // the header
    M4Series s;
    size_t pos = 0;
    int col = 0;
    while (pos <= line.size()) {
      size_t comma = line.find(',', pos);
      if (comma == std::string::npos) comma = line.size();
      std::string_view field(line.data() + pos, comma - pos);
      ++col;
      if (field.size() >= 2 && field.front() == '"' && field.back() == '"') {
        field = field.substr(1, field.size() - 2);
      }
      if (col == 1) {
        s.id = std::string(field);
      } else if (!field.empty()) {
        double v = 0;
        auto [ptr, ec] = std::from_chars(field.data(), field.data() + field.size(), v);
        if (ec != std::errc() || ptr != field.data() + field.size()) {
          return InvalidArgument(path + ":" + std::to_string(line_no) + ": column " +
                                 std::to_string(col) + ": \"" + std::string(field) +
                                 "\" is not a number");
        }
        s.values.push_back(v);
      }
      pos = comma + 1;
    }
    if (s.id.empty()) {
      return InvalidArgument(path + ":" + std::to_string(line_no) + ": missing series id");
    }
    out.push_back(std::move(s));
  }
  if (out.empty()) return InvalidArgument(path + ": no series");
  return out;
}

}  // namespace foresight::forecast
