// Splitting a command line into options and operands, for both tools.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace asioquic::tools {

/// One option a tool accepts: `-x` and/or `--name`, with or without a value.
struct OptionSpec {
  char short_name;  // '\0' if none
  std::string_view long_name;
  bool takes_value;
};

/// An option found on the command line (`spec` set) or an operand (`spec` null, text in
/// `value`), in command-line order.
struct ParsedArg {
  const OptionSpec* spec;
  std::string value;
};

/// Parses argv[1..argc): `--name VALUE`, `--name=VALUE`, `-x VALUE`, `-xVALUE`, bundled flags
/// (`-sS`), `--` ending the options and `-` as an operand. On an unknown option or a missing
/// value returns an empty vector and sets `error` to a message naming the option.
std::vector<ParsedArg> parse_command_line(int argc, char** argv, std::span<const OptionSpec> specs,
                                          std::string& error);

}  // namespace asioquic::tools
