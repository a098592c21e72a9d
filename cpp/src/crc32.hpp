// CRC-32 as in zlib, PNG and gzip (CRC-32/ISO-HDLC: reflected polynomial 0xEDB88320, initial
// value and final xor 0xFFFFFFFF), so Python's zlib.crc32 gives the same value.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace multilogit::detail {

inline constexpr std::array<std::uint32_t, 256> kCrc32Table = [] {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t n = 0; n < 256; ++n) {
    std::uint32_t c = n;
    for (int bit = 0; bit < 8; ++bit) c = (c & 1u) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    table[n] = c;
  }
  return table;
}();

// `crc` continues a previous call's result (0 to start), as zlib.crc32(data, crc).
inline std::uint32_t crc32(const std::uint8_t* data, std::size_t size, std::uint32_t crc = 0) {
  crc = ~crc;
  for (std::size_t i = 0; i < size; ++i) crc = kCrc32Table[(crc ^ data[i]) & 0xFFu] ^ (crc >> 8);
  return ~crc;
}

}  // namespace multilogit::detail
