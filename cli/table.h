#pragma once
// Aligned text tables for people. A cell may hold several lines; the row grows to fit.
#include <ostream>
#include <string>
#include <vector>

namespace bpfproxy::cli {

class Table {
public:
  explicit Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}
  void addRow(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
  void print(std::ostream& out) const;
  bool empty() const { return rows_.empty(); }

private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace bpfproxy::cli
