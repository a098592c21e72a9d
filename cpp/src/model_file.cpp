// The model file format, version 1 (docs/model-format.md is the specification).
//
// Every multi-byte field is little-endian, written and read byte by byte so the result does not
// depend on the host. The reader trusts nothing: the checksum is verified before the payload is
// parsed, and every count is checked against the bytes that remain before anything is allocated.
#include "multilogit/model_file.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <istream>
#include <ostream>
#include <stdexcept>
#include <type_traits>

#include "crc32.hpp"

namespace multilogit {
namespace {

constexpr std::uint8_t kMagic[8] = {0x89, 'M', 'L', 'O', 'G', 'I', 'T', '\n'};
constexpr std::size_t kHeaderSize = 24;  // magic, version, checksum, payload size

// Codes of the enumerated payload fields; 0 is never valid, so zeroed bytes are caught.
enum StrategyCode : std::uint8_t { kSoftmax = 1, kOneVsAll = 2, kOneVsOne = 3 };
enum ScalarCode : std::uint8_t { kFloat32 = 1, kFloat64 = 2 };
enum LabelCode : std::uint8_t { kInt64Labels = 1, kUtf8Labels = 2 };
enum Flags : std::uint8_t { kFitIntercept = 1, kHasFeatureNames = 2, kKnownFlags = 3 };

const std::string kReadError = "invalid model file: ";
const std::string kWriteError = "cannot save model: ";

[[noreturn]] void fail(const std::string& prefix, const std::string& message) {
  throw std::invalid_argument(prefix + message);
}

std::string hex32(std::uint32_t value) {
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "0x%08x", static_cast<unsigned>(value));
  return buffer;
}

StrategyCode strategy_code(Strategy strategy) {
  switch (strategy) {
    case Strategy::Softmax: return kSoftmax;
    case Strategy::OneVsAll: return kOneVsAll;
    case Strategy::OneVsOne: return kOneVsOne;
  }
  throw std::invalid_argument(kWriteError + "unknown strategy");
}

// Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF.
bool is_valid_utf8(const std::string& text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  std::size_t i = 0;
  while (i < n) {
    const unsigned c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t length;
    unsigned low = 0x80, high = 0xBF;  // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      length = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      length = 3;
      if (c == 0xE0) low = 0xA0;
      if (c == 0xED) high = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      length = 4;
      if (c == 0xF0) low = 0x90;
      if (c == 0xF4) high = 0x8F;
    } else {
      return false;
    }
    if (n - i < length) return false;
    if (s[i + 1] < low || s[i + 1] > high) return false;
    for (std::size_t k = 2; k < length; ++k) {
      if (s[i + k] < 0x80 || s[i + k] > 0xBF) return false;
    }
    i += length;
  }
  return true;
}

void check_strings(const std::vector<std::string>& strings, const char* what,
                   const std::string& prefix) {
  for (std::size_t k = 0; k < strings.size(); ++k) {
    if (strings[k].size() > kModelFileMaxStringBytes) {
      fail(prefix, std::string(what) + " " + std::to_string(k) + " has " +
                       std::to_string(strings[k].size()) + " bytes, more than the limit of " +
                       std::to_string(kModelFileMaxStringBytes));
    }
    if (!is_valid_utf8(strings[k])) {
      fail(prefix, std::string(what) + " " + std::to_string(k) + " is not valid UTF-8");
    }
  }
}

template <typename T>
void check_increasing(const std::vector<T>& labels, const std::string& prefix) {
  for (std::size_t k = 1; k < labels.size(); ++k) {
    if (!(labels[k - 1] < labels[k])) {
      fail(prefix, "class labels must be strictly increasing, but label " + std::to_string(k) +
                       " is not greater than label " + std::to_string(k - 1));
    }
  }
}

void check_dimensions(std::uint64_t n_classes, std::uint64_t n_features,
                      const std::string& prefix) {
  if (n_classes < 2 || n_classes > static_cast<std::uint64_t>(kModelFileMaxClasses)) {
    fail(prefix, "n_classes is " + std::to_string(n_classes) + ", outside [2, " +
                     std::to_string(kModelFileMaxClasses) + "]");
  }
  if (n_features < 1 || n_features > static_cast<std::uint64_t>(kModelFileMaxFeatures)) {
    fail(prefix, "n_features is " + std::to_string(n_features) + ", outside [1, " +
                     std::to_string(kModelFileMaxFeatures) + "]");
  }
}

void check_options(double C, double l1_ratio, double tol, std::int64_t max_iter,
                   const std::string& prefix) {
  if (!(C > 0.0)) fail(prefix, "C must be positive (or infinite), got " + std::to_string(C));
  if (!(l1_ratio >= 0.0 && l1_ratio <= 1.0)) {
    fail(prefix, "l1_ratio must be in [0, 1], got " + std::to_string(l1_ratio));
  }
  if (!(tol >= 0.0) || !std::isfinite(tol)) {
    fail(prefix, "tol must be finite and >= 0, got " + std::to_string(tol));
  }
  if (max_iter < 1 || max_iter > 2147483647) {
    fail(prefix, "max_iter must be in [1, 2^31 - 1], got " + std::to_string(max_iter));
  }
}

// Every rule the format imposes besides the layout, applied before writing and after reading.
void check_contents(const SavedModel& saved, const std::string& prefix) {
  const int n_classes = saved.n_classes();
  check_dimensions(static_cast<std::uint64_t>(n_classes),
                   static_cast<std::uint64_t>(saved.n_features()), prefix);
  std::visit(
      [&](const auto& labels) {
        if (labels.size() != static_cast<std::size_t>(n_classes)) {
          fail(prefix, "the model has " + std::to_string(n_classes) + " classes but " +
                           std::to_string(labels.size()) + " class labels");
        }
        if constexpr (std::is_same_v<std::decay_t<decltype(labels)>, std::vector<std::string>>) {
          check_strings(labels, "class label", prefix);
        }
        check_increasing(labels, prefix);
      },
      saved.classes);
  if (!saved.feature_names.empty()) {
    if (saved.feature_names.size() != static_cast<std::size_t>(saved.n_features())) {
      fail(prefix, "the model has " + std::to_string(saved.n_features()) + " features but " +
                       std::to_string(saved.feature_names.size()) + " feature names");
    }
    check_strings(saved.feature_names, "feature name", prefix);
  }
  const TrainOptions& o = saved.options;
  check_options(o.C, o.l1_ratio, o.tol, o.max_iter, prefix);
}

// ---------------------------------------------------------------------------------------------
// Writing

class ByteWriter {
 public:
  void u8(std::uint8_t v) { bytes_.push_back(v); }
  void u32(std::uint32_t v) {
    for (int shift = 0; shift < 32; shift += 8) bytes_.push_back(static_cast<std::uint8_t>(v >> shift));
  }
  void u64(std::uint64_t v) {
    for (int shift = 0; shift < 64; shift += 8) bytes_.push_back(static_cast<std::uint8_t>(v >> shift));
  }
  void f32(float v) {
    std::uint32_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    u32(bits);
  }
  void f64(double v) {
    std::uint64_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    u64(bits);
  }
  void string(const std::string& s) {
    u32(static_cast<std::uint32_t>(s.size()));
    bytes_.insert(bytes_.end(), s.begin(), s.end());
  }
  template <typename Scalar>
  void scalar(Scalar v) {
    if constexpr (std::is_same_v<Scalar, float>) f32(v); else f64(v);
  }
  std::vector<std::uint8_t>& bytes() { return bytes_; }

 private:
  std::vector<std::uint8_t> bytes_;
};

template <typename Scalar>
void write_coefficients(const Model<Scalar>& model, ByteWriter& out) {
  const auto& coef = model.coef();  // row-major: storage order is file order
  for (Index i = 0; i < coef.size(); ++i) out.scalar(coef.data()[i]);
  for (Index i = 0; i < model.intercept().size(); ++i) out.scalar(model.intercept()[i]);
}

// ---------------------------------------------------------------------------------------------
// Reading

class ByteReader {
 public:
  ByteReader(const std::uint8_t* data, std::size_t size) : data_(data), left_(size) {}

  std::size_t remaining() const { return left_; }

  // Fails unless `count` items of `item_size` bytes remain; the product cannot overflow.
  void need(std::uint64_t count, std::size_t item_size, const std::string& what) const {
    if (count > left_ / item_size) {
      fail(kReadError, "truncated payload: only " + std::to_string(left_) + " bytes remain for " +
                           what + " (" + std::to_string(count) + " x " +
                           std::to_string(item_size) + " bytes)");
    }
  }
  std::uint8_t u8(const char* what) {
    need(1, 1, what);
    return take(1)[0];
  }
  std::uint32_t u32(const char* what) {
    need(1, 4, what);
    const std::uint8_t* p = take(4);
    std::uint32_t v = 0;
    for (int k = 3; k >= 0; --k) v = (v << 8) | p[k];
    return v;
  }
  std::uint64_t u64(const char* what) {
    need(1, 8, what);
    const std::uint8_t* p = take(8);
    std::uint64_t v = 0;
    for (int k = 7; k >= 0; --k) v = (v << 8) | p[k];
    return v;
  }
  float f32(const char* what) {
    const std::uint32_t bits = u32(what);
    float v;
    std::memcpy(&v, &bits, sizeof v);
    return v;
  }
  double f64(const char* what) {
    const std::uint64_t bits = u64(what);
    double v;
    std::memcpy(&v, &bits, sizeof v);
    return v;
  }
  template <typename Scalar>
  Scalar scalar(const char* what) {
    if constexpr (std::is_same_v<Scalar, float>) return f32(what); else return f64(what);
  }
  std::string string(const std::string& what) {
    const std::uint32_t length = u32(what.c_str());
    if (length > kModelFileMaxStringBytes) {
      fail(kReadError, what + " has " + std::to_string(length) + " bytes, more than the limit of " +
                           std::to_string(kModelFileMaxStringBytes));
    }
    need(length, 1, what);
    const auto* p = reinterpret_cast<const char*>(take(length));
    return std::string(p, length);
  }
  // `count` length-prefixed strings; each takes at least its 4-byte length.
  std::vector<std::string> strings(std::uint64_t count, const char* what) {
    need(count, 4, std::string(what) + "s");
    std::vector<std::string> out;
    out.reserve(static_cast<std::size_t>(count));
    for (std::uint64_t k = 0; k < count; ++k) out.push_back(string(what + (" " + std::to_string(k))));
    return out;
  }

 private:
  const std::uint8_t* take(std::size_t n) {
    const std::uint8_t* p = data_;
    data_ += n;
    left_ -= n;
    return p;
  }

  const std::uint8_t* data_;
  std::size_t left_;
};

struct Header {
  std::uint32_t checksum = 0;
  std::uint64_t payload_size = 0;
};

// `data` holds at least the 8 magic bytes.
void check_magic(const std::uint8_t* data) {
  if (std::memcmp(data, kMagic, sizeof kMagic) != 0) {
    fail(kReadError, "wrong magic bytes (this is not a multilogit model file)");
  }
}

// Checks magic and version of the first kHeaderSize bytes.
Header parse_header(const std::uint8_t* data) {
  check_magic(data);
  ByteReader reader(data + sizeof kMagic, kHeaderSize - sizeof kMagic);
  const std::uint32_t version = reader.u32("format version");
  if (version != kModelFormatVersion) {
    fail(kReadError, "format version " + std::to_string(version) + " is not supported; this " +
                         "build of multilogit reads version " + std::to_string(kModelFormatVersion) +
                         (version > kModelFormatVersion ? " (the file was written by a newer release)"
                                                        : ""));
  }
  Header header;
  header.checksum = reader.u32("checksum");
  header.payload_size = reader.u64("payload size");
  return header;
}

template <typename Scalar>
SavedModel read_model(ByteReader& in, Strategy strategy, int n_classes, Index n_features,
                      ClassLabels classes, TrainOptions options,
                      std::vector<std::string> feature_names) {
  const auto units = static_cast<std::uint64_t>(n_units(strategy, n_classes));
  const auto features = static_cast<std::uint64_t>(n_features);
  // units <= 2^29 and features < 2^31: the product fits in 64 bits.
  in.need(units * features, sizeof(Scalar), "coefficients");
  RowMatrix<Scalar> coef(static_cast<Index>(units), n_features);
  for (Index i = 0; i < coef.size(); ++i) coef.data()[i] = in.scalar<Scalar>("coefficients");
  in.need(units, sizeof(Scalar), "intercepts");
  Vector<Scalar> intercept(static_cast<Index>(units));
  for (Index i = 0; i < intercept.size(); ++i) intercept[i] = in.scalar<Scalar>("intercepts");
  if (in.remaining() != 0) {
    fail(kReadError, std::to_string(in.remaining()) +
                         " unexpected bytes after the intercepts (the payload size is wrong)");
  }
  try {
    return SavedModel(Model<Scalar>(strategy, n_classes, std::move(coef), std::move(intercept)),
                      std::move(classes), std::move(options), std::move(feature_names));
  } catch (const std::invalid_argument& error) {
    fail(kReadError, error.what());
  }
}

// The payload, once its checksum has been verified.
SavedModel parse_payload(const std::uint8_t* data, std::size_t size) {
  ByteReader in(data, size);
  Strategy strategy;
  switch (in.u8("strategy")) {
    case kSoftmax: strategy = Strategy::Softmax; break;
    case kOneVsAll: strategy = Strategy::OneVsAll; break;
    case kOneVsOne: strategy = Strategy::OneVsOne; break;
    default: fail(kReadError, "unknown strategy code");
  }
  const std::uint8_t scalar_type = in.u8("scalar type");
  if (scalar_type != kFloat32 && scalar_type != kFloat64) {
    fail(kReadError, "unknown scalar type code " + std::to_string(scalar_type));
  }
  const std::uint8_t label_type = in.u8("label type");
  if (label_type != kInt64Labels && label_type != kUtf8Labels) {
    fail(kReadError, "unknown label type code " + std::to_string(label_type));
  }
  const std::uint8_t flags = in.u8("flags");
  if (flags & ~kKnownFlags) fail(kReadError, "unknown flag bits " + hex32(flags));

  const std::uint32_t n_classes = in.u32("n_classes");
  const std::uint64_t n_features = in.u64("n_features");
  check_dimensions(n_classes, n_features, kReadError);

  TrainOptions options;
  options.C = in.f64("C");
  options.l1_ratio = in.f64("l1_ratio");
  options.tol = in.f64("tol");
  const std::uint32_t max_iter = in.u32("max_iter");
  check_options(options.C, options.l1_ratio, options.tol, max_iter, kReadError);
  options.max_iter = static_cast<int>(max_iter);
  options.fit_intercept = (flags & kFitIntercept) != 0;

  ClassLabels classes;
  if (label_type == kInt64Labels) {
    in.need(n_classes, 8, "class labels");
    std::vector<std::int64_t> labels(n_classes);
    for (auto& label : labels) label = static_cast<std::int64_t>(in.u64("class labels"));
    classes = std::move(labels);
  } else {
    classes = in.strings(n_classes, "class label");
  }
  std::vector<std::string> feature_names;
  if (flags & kHasFeatureNames) feature_names = in.strings(n_features, "feature name");

  const int k = static_cast<int>(n_classes);
  const auto d = static_cast<Index>(n_features);
  SavedModel saved = scalar_type == kFloat32
                         ? read_model<float>(in, strategy, k, d, std::move(classes), options,
                                             std::move(feature_names))
                         : read_model<double>(in, strategy, k, d, std::move(classes), options,
                                              std::move(feature_names));
  check_contents(saved, kReadError);
  return saved;
}

void verify_checksum(const Header& header, const std::uint8_t* payload, std::size_t size) {
  const std::uint32_t computed = detail::crc32(payload, size);
  if (computed != header.checksum) {
    fail(kReadError, "checksum mismatch (stored " + hex32(header.checksum) + ", computed " +
                         hex32(computed) + "): the file is corrupted");
  }
}

std::string truncated_header(std::size_t size) {
  return "truncated: " + std::to_string(size) + " bytes, fewer than the " +
         std::to_string(kHeaderSize) + "-byte header";
}

}  // namespace

// ---------------------------------------------------------------------------------------------

Strategy SavedModel::strategy() const {
  return std::visit([](const auto& m) { return m.strategy(); }, model);
}

int SavedModel::n_classes() const {
  return std::visit([](const auto& m) { return m.n_classes(); }, model);
}

Index SavedModel::n_features() const {
  return std::visit([](const auto& m) { return m.n_features(); }, model);
}

std::string SavedModel::label_text(int k) const {
  return std::visit(
      [k](const auto& labels) -> std::string {
        const auto& label = labels.at(static_cast<std::size_t>(k));
        if constexpr (std::is_same_v<std::decay_t<decltype(label)>, std::string>) {
          return label;
        } else {
          return std::to_string(label);
        }
      },
      classes);
}

std::vector<std::uint8_t> encode_model(const SavedModel& saved) {
  check_contents(saved, kWriteError);
  ByteWriter payload;
  payload.u8(strategy_code(saved.strategy()));
  payload.u8(saved.is_float32() ? kFloat32 : kFloat64);
  const bool string_labels = std::holds_alternative<std::vector<std::string>>(saved.classes);
  payload.u8(string_labels ? kUtf8Labels : kInt64Labels);
  payload.u8(static_cast<std::uint8_t>((saved.options.fit_intercept ? kFitIntercept : 0) |
                                       (saved.feature_names.empty() ? 0 : kHasFeatureNames)));
  payload.u32(static_cast<std::uint32_t>(saved.n_classes()));
  payload.u64(static_cast<std::uint64_t>(saved.n_features()));
  payload.f64(saved.options.C);
  payload.f64(saved.options.l1_ratio);
  payload.f64(saved.options.tol);
  payload.u32(static_cast<std::uint32_t>(saved.options.max_iter));
  if (string_labels) {
    for (const auto& label : std::get<std::vector<std::string>>(saved.classes)) payload.string(label);
  } else {
    for (const auto label : std::get<std::vector<std::int64_t>>(saved.classes)) {
      payload.u64(static_cast<std::uint64_t>(label));
    }
  }
  for (const auto& name : saved.feature_names) payload.string(name);
  std::visit([&](const auto& model) { write_coefficients(model, payload); }, saved.model);

  const std::vector<std::uint8_t>& body = payload.bytes();
  ByteWriter file;
  file.bytes().assign(std::begin(kMagic), std::end(kMagic));
  file.u32(kModelFormatVersion);
  file.u32(detail::crc32(body.data(), body.size()));
  file.u64(body.size());
  file.bytes().insert(file.bytes().end(), body.begin(), body.end());
  return std::move(file.bytes());
}

SavedModel decode_model(const std::uint8_t* data, std::size_t size) {
  if (size < kHeaderSize) {
    // Magic bytes first, so that a short file of another kind is reported as such.
    if (size >= sizeof kMagic) check_magic(data);
    fail(kReadError, truncated_header(size));
  }
  const Header header = parse_header(data);
  const std::size_t available = size - kHeaderSize;
  if (header.payload_size > available) {
    fail(kReadError, "truncated: the header announces a payload of " +
                         std::to_string(header.payload_size) + " bytes but only " +
                         std::to_string(available) + " follow");
  }
  if (header.payload_size < available) {
    fail(kReadError, std::to_string(available - header.payload_size) +
                         " unexpected bytes after the end of the model");
  }
  verify_checksum(header, data + kHeaderSize, available);
  return parse_payload(data + kHeaderSize, available);
}

SavedModel decode_model(const std::vector<std::uint8_t>& bytes) {
  return decode_model(bytes.data(), bytes.size());
}

void save_model(const SavedModel& saved, std::ostream& out) {
  const std::vector<std::uint8_t> bytes = encode_model(saved);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot save model: writing to the stream failed");
}

void save_model(const SavedModel& saved, const std::filesystem::path& path) {
  const std::vector<std::uint8_t> bytes = encode_model(saved);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error("cannot open '" + path.string() + "' for writing");
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) throw std::runtime_error("cannot save model: writing '" + path.string() + "' failed");
}

SavedModel load_model(std::istream& in) {
  std::uint8_t head[kHeaderSize];
  in.read(reinterpret_cast<char*>(head), kHeaderSize);
  const auto got = static_cast<std::size_t>(in.gcount());
  if (got < kHeaderSize) return decode_model(head, got);  // reports what is wrong
  const Header header = parse_header(head);
  // Grow with the bytes that actually arrive, never to the announced size up front.
  constexpr std::size_t kMinChunk = std::size_t{1} << 16;
  std::vector<std::uint8_t> payload;
  while (payload.size() < header.payload_size) {
    const std::uint64_t wanted = header.payload_size - payload.size();
    const std::size_t chunk =
        static_cast<std::size_t>(std::min<std::uint64_t>(wanted, std::max(kMinChunk, payload.size())));
    const std::size_t start = payload.size();
    payload.resize(start + chunk);
    in.read(reinterpret_cast<char*>(payload.data() + start), static_cast<std::streamsize>(chunk));
    if (static_cast<std::size_t>(in.gcount()) < chunk) {
      fail(kReadError, "truncated: the header announces a payload of " +
                           std::to_string(header.payload_size) + " bytes but only " +
                           std::to_string(start + static_cast<std::size_t>(in.gcount())) +
                           " follow");
    }
  }
  verify_checksum(header, payload.data(), payload.size());
  return parse_payload(payload.data(), payload.size());
}

SavedModel load_model(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open model file '" + path.string() + "'");
  SavedModel saved = load_model(in);
  if (in.peek() != std::ifstream::traits_type::eof()) {
    fail(kReadError, "unexpected bytes after the end of the model in '" + path.string() + "'");
  }
  return saved;
}

}  // namespace multilogit
