// SPDX-License-Identifier: Apache-2.0
// Collects rows of README's "Bad input" table while a test runs (input, what the library does,
// the message it printed) and, when ROPESCALE_BAD_INPUT_TABLE_DIR is set, writes them as markdown
// rows to <dir>/<file> at the end of the run. With check_readme, each collected row must also
// appear verbatim in README.md (a failure there means README and the code drifted: rerun
// with ROPESCALE_BAD_INPUT_TABLE_DIR and paste the new rows).
#ifndef ROPESCALE_TESTS_SUPPORT_BAD_INPUT_TABLE_HPP
#define ROPESCALE_TESTS_SUPPORT_BAD_INPUT_TABLE_HPP

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

namespace support {

/// One row of the bad-input table; an empty message prints as "–".
struct table_row {
  std::string input;
  std::string behaviour;
  std::string message;
  /// The message names this machine's ISAs (e.g. "best available: avx512"): written to the
  /// table, but not compared with README, which was generated on one particular machine.
  bool machine_dependent = false;
};

/// The rows collected by this test executable.
inline std::vector<table_row>& rows_out() {
  static std::vector<table_row> rows;
  return rows;
}

/// Escapes a cell for a markdown table (pipes escaped, newlines flattened).
inline std::string md_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '|')
      out += "\\|";
    else if (c == '\n')
      out += ' ';
    else
      out += c;
  }
  return out;
}

/// gtest environment writing rows_out() to $ROPESCALE_BAD_INPUT_TABLE_DIR/<file> at teardown.
class table_writer : public ::testing::Environment {
 public:
  /// `check_readme`: fail the run when a collected row is not in README.md verbatim.
  explicit table_writer(std::string file, bool check_readme = false)
      : file_(std::move(file)), check_readme_(check_readme) {}
  void TearDown() override {
    std::vector<std::string> lines;
    std::ifstream readme(std::string(ROPESCALE_SOURCE_DIR) + "/README.md");
    const std::string text((std::istreambuf_iterator<char>(readme)),
                           std::istreambuf_iterator<char>());
    for (const table_row& r : rows_out()) {
      lines.push_back("| " + md_escape(r.input) + " | " + md_escape(r.behaviour) + " | " +
                      (r.message.empty() ? std::string("–") : "`" + md_escape(r.message) + "`") +
                      " |");
      if (check_readme_ && !r.machine_dependent &&
          text.find("\n" + lines.back() + "\n") == std::string::npos)
        ADD_FAILURE() << "README.md lacks this bad-input row (README and code drifted):\n"
                      << lines.back();
    }
    const char* dir = std::getenv("ROPESCALE_BAD_INPUT_TABLE_DIR");
    if (dir == nullptr || *dir == '\0') return;
    std::ofstream out(std::string(dir) + "/" + file_);
    for (const std::string& line : lines) out << line << "\n";
  }

 private:
  std::string file_;
  bool check_readme_ = false;
};

}  // namespace support

#endif  // ROPESCALE_TESTS_SUPPORT_BAD_INPUT_TABLE_HPP
