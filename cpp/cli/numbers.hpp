// The number syntax of data files and option values. The Python command line
// (multilogit/_data_files.py) accepts exactly the same texts, so both read a file the same way.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace multilogit::cli {

// A finite decimal number: [+-] digits [. [digits]] or [+-] . digits, then optionally
// (e|E) [+-] digits; correctly rounded to double. Nothing else is accepted (no spaces, "inf",
// "nan" or hexadecimal), nor a value too large for a double.
std::optional<double> parse_decimal(std::string_view text);

// A decimal integer, [+-] digits, that fits in int64.
std::optional<std::int64_t> parse_integer(std::string_view text);

// Digits only, no sign (a feature index). Values beyond int64 saturate at its maximum, so any
// limit the caller checks refuses them.
std::optional<std::int64_t> parse_digits(std::string_view text);

}  // namespace multilogit::cli
