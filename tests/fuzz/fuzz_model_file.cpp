// libFuzzer target for the model file reader (multilogit::decode_model and load_model).
//
// Every input is read twice: as it is, and with the header's payload size and checksum
// repaired, so mutations reach the parser behind the checksum instead of stopping at it.
// Besides the sanitizers' findings, these are errors:
// - any exception other than std::invalid_argument (std::bad_alloc from a huge allocation,
//   std::length_error, ...), which escapes and aborts;
// - an accepted file that does not re-encode to the same bytes (the format is canonical);
// - the stream reader disagreeing with the in-memory reader.
// An accepted model is also used for predictions, to exercise what a loaded model feeds into;
// they may refuse (std::invalid_argument) only where the model's scores could overflow.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include <multilogit/model_file.hpp>

#include "crc32.hpp"

namespace {

constexpr std::size_t kHeaderSize = 24;

[[noreturn]] void violated(const char* what) {
  std::fprintf(stderr, "fuzz_model_file: %s\n", what);
  std::abort();
}

void use(const multilogit::SavedModel& saved) {
  for (int k = 0; k < saved.n_classes(); ++k) (void)saved.label_text(k);
  // Scoring costs n_features per unit: skip the rare wide models so runs stay fast.
  if (saved.n_features() > 4096) return;
  std::visit(
      [](const auto& model) {
        using Matrix = std::decay_t<decltype(model.coef())>;
        using Scalar = typename Matrix::Scalar;
        const Matrix X = Matrix::Constant(2, model.n_features(), Scalar(0.5));
        try {
          (void)model.decision_function(X, 1);
          (void)model.predict_proba(X, 1);
          (void)model.predict(X, 1);
        } catch (const std::invalid_argument&) {
          // The largest sum of |terms| of a score: below half the range, no partial sum can
          // overflow, whatever the order of the additions.
          const long double bound =
              0.5L * static_cast<long double>(model.coef().cwiseAbs().rowwise().sum().maxCoeff()) +
              static_cast<long double>(model.intercept().cwiseAbs().maxCoeff());
          if (bound < static_cast<long double>(std::numeric_limits<Scalar>::max()) / 2) {
            violated("prediction refused a model whose scores cannot overflow");
          }
        }
      },
      saved.model);
}

void check(const std::uint8_t* data, std::size_t size) {
  std::optional<multilogit::SavedModel> decoded;
  try {
    decoded.emplace(multilogit::decode_model(data, size));
  } catch (const std::invalid_argument&) {
  }

  std::istringstream stream(std::string(reinterpret_cast<const char*>(data), size));
  bool streamed = false;
  try {
    (void)multilogit::load_model(stream);
    streamed = true;
  } catch (const std::invalid_argument&) {
  }
  if (decoded && !streamed) violated("load_model(istream) refused what decode_model accepted");

  if (!decoded) return;
  const std::vector<std::uint8_t> encoded = multilogit::encode_model(*decoded);
  if (encoded.size() != size || !std::equal(encoded.begin(), encoded.end(), data)) {
    violated("an accepted file does not re-encode to the same bytes");
  }
  use(*decoded);
}

void put_le(std::uint8_t* out, std::uint64_t value, int bytes) {
  for (int k = 0; k < bytes; ++k) out[k] = static_cast<std::uint8_t>(value >> (8 * k));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  check(data, size);
  if (size >= kHeaderSize) {
    std::vector<std::uint8_t> repaired(data, data + size);
    const std::size_t payload = size - kHeaderSize;
    put_le(&repaired[16], payload, 8);
    put_le(&repaired[12], multilogit::detail::crc32(repaired.data() + kHeaderSize, payload), 4);
    check(repaired.data(), repaired.size());
  }
  return 0;
}
