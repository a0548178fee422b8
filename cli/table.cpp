#include "cli/table.h"

#include <algorithm>
#include <sstream>

namespace bpfproxy::cli {

namespace {
std::vector<std::string> splitLines(const std::string& cell) {
  std::vector<std::string> lines;
  std::istringstream in(cell);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  if (lines.empty()) lines.push_back("");
  return lines;
}
}  // namespace

void Table::print(std::ostream& out) const {
  std::vector<size_t> widths(headers_.size());
  for (size_t c = 0; c < headers_.size(); ++c) widths[c] = headers_[c].size();
  for (const auto& row : rows_)
    for (size_t c = 0; c < row.size() && c < widths.size(); ++c)
      for (const auto& line : splitLines(row[c])) widths[c] = std::max(widths[c], line.size());

  auto printLine = [&](const std::vector<std::string>& cells) {
    std::string text;
    for (size_t c = 0; c < widths.size(); ++c) {
      std::string cell = c < cells.size() ? cells[c] : "";
      text += cell;
      if (c + 1 < widths.size()) text += std::string(widths[c] - cell.size() + 3, ' ');
    }
    text.erase(text.find_last_not_of(' ') + 1);
    out << text << '\n';
  };
  printLine(headers_);
  for (const auto& row : rows_) {
    std::vector<std::vector<std::string>> cellLines;
    size_t height = 1;
    for (const auto& cell : row) {
      cellLines.push_back(splitLines(cell));
      height = std::max(height, cellLines.back().size());
    }
    for (size_t line = 0; line < height; ++line) {
      std::vector<std::string> cells;
      for (const auto& lines : cellLines) cells.push_back(line < lines.size() ? lines[line] : "");
      printLine(cells);
    }
  }
}

}  // namespace bpfproxy::cli
