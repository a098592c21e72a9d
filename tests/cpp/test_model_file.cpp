// Model files: round trips, the exact bytes of the format, and a reader that refuses every
// truncated, corrupted or hostile file with std::invalid_argument.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <multilogit/multilogit.hpp>

#include "blobs.hpp"
#include "crc32.hpp"

namespace {

using namespace multilogit;
using test_data::make_blobs;
using Bytes = std::vector<std::uint8_t>;

const Strategy kStrategies[] = {Strategy::Softmax, Strategy::OneVsAll, Strategy::OneVsOne};

template <typename A, typename B>
bool same_bits(const A& a, const B& b) {
  return a.rows() == b.rows() && a.cols() == b.cols() &&
         std::memcmp(a.data(), b.data(), sizeof(typename A::Scalar) * a.size()) == 0;
}

Bytes from_hex(const std::string& hex) {
  Bytes out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<std::uint8_t>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

std::string to_hex(const Bytes& bytes) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  for (auto b : bytes) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

// Expects decode_model to refuse `bytes` with a message containing `fragment`.
void expect_rejected(const Bytes& bytes, const std::string& fragment) {
  try {
    decode_model(bytes);
    ADD_FAILURE() << "accepted a bad file; expected an error containing '" << fragment << "'";
  } catch (const std::invalid_argument& error) {
    EXPECT_NE(std::string(error.what()).find(fragment), std::string::npos)
        << "message: " << error.what() << "\nexpected to contain: " << fragment;
  }
}

// Builds payloads field by field, as docs/model-format.md lays them out, and wraps them in a
// header with a correct checksum: hostile files that the checksum does not catch.
class PayloadBuilder {
 public:
  PayloadBuilder& u8(std::uint8_t v) { bytes_.push_back(v); return *this; }
  PayloadBuilder& u32(std::uint32_t v) {
    for (int s = 0; s < 32; s += 8) bytes_.push_back(static_cast<std::uint8_t>(v >> s));
    return *this;
  }
  PayloadBuilder& u64(std::uint64_t v) {
    for (int s = 0; s < 64; s += 8) bytes_.push_back(static_cast<std::uint8_t>(v >> s));
    return *this;
  }
  PayloadBuilder& f64(double v) {
    std::uint64_t bits;
    std::memcpy(&bits, &v, 8);
    return u64(bits);
  }
  PayloadBuilder& str(const std::string& s) {
    u32(static_cast<std::uint32_t>(s.size()));
    bytes_.insert(bytes_.end(), s.begin(), s.end());
    return *this;
  }
  // The fixed fields, with defaults making a valid softmax float64 model with int labels.
  PayloadBuilder& fixed(std::uint8_t strategy = 1, std::uint8_t scalar = 2, std::uint8_t labels = 1,
                        std::uint8_t flags = 1, std::uint32_t n_classes = 3,
                        std::uint64_t n_features = 2, double C = 1.0, double l1_ratio = 0.0,
                        double tol = 1e-4, std::uint32_t max_iter = 100) {
    return u8(strategy).u8(scalar).u8(labels).u8(flags).u32(n_classes).u64(n_features).f64(C)
        .f64(l1_ratio).f64(tol).u32(max_iter);
  }
  PayloadBuilder& int_labels(std::vector<std::int64_t> labels) {
    for (auto v : labels) u64(static_cast<std::uint64_t>(v));
    return *this;
  }
  PayloadBuilder& doubles(std::size_t count, double value = 0.5) {
    for (std::size_t k = 0; k < count; ++k) f64(value);
    return *this;
  }

  Bytes file(std::uint64_t announced_size = ~std::uint64_t{0}) const {
    Bytes out = {0x89, 'M', 'L', 'O', 'G', 'I', 'T', '\n', 1, 0, 0, 0};
    PayloadBuilder header;
    header.u32(detail::crc32(bytes_.data(), bytes_.size()));
    header.u64(announced_size == ~std::uint64_t{0} ? bytes_.size() : announced_size);
    out.insert(out.end(), header.bytes_.begin(), header.bytes_.end());
    out.insert(out.end(), bytes_.begin(), bytes_.end());
    return out;
  }

 private:
  Bytes bytes_;
};

// A valid softmax model, 3 classes, 2 features, float64, labels 0 1 2.
PayloadBuilder valid_payload() {
  PayloadBuilder p;
  p.fixed().int_labels({0, 1, 2}).doubles(6).doubles(3);
  return p;
}

template <typename Scalar>
SavedModel trained(Strategy strategy, int n_classes, bool string_labels, bool names) {
  const auto data = make_blobs(n_classes, 30, 4, 2.0);
  TrainOptions options;
  options.C = 0.75;
  options.tol = 1e-6;
  options.max_iter = 321;
  options.fit_intercept = true;
  Model<Scalar> model = train(strategy, data.X.cast<Scalar>().eval(), data.y, n_classes, options);
  ClassLabels labels;
  if (string_labels) {
    std::vector<std::string> text;
    for (int k = 0; k < n_classes; ++k) text.push_back("class \xc3\xa9" + std::string(1, char('a' + k)));
    labels = text;
  } else {
    std::vector<std::int64_t> ints;
    for (int k = 0; k < n_classes; ++k) ints.push_back(-1000000000000LL + 7 * k);
    labels = ints;
  }
  std::vector<std::string> feature_names;
  if (names) feature_names = {"f0", "f1", "", "\xe2\x82\xac"};
  return SavedModel(std::move(model), labels, options, feature_names);
}

template <typename Scalar>
void expect_same_model(const SavedModel& a, const SavedModel& b) {
  const auto& ma = std::get<Model<Scalar>>(a.model);
  const auto& mb = std::get<Model<Scalar>>(b.model);
  EXPECT_EQ(ma.strategy(), mb.strategy());
  EXPECT_EQ(ma.n_classes(), mb.n_classes());
  EXPECT_TRUE(same_bits(ma.coef(), mb.coef()));
  EXPECT_TRUE(same_bits(ma.intercept(), mb.intercept()));
  EXPECT_EQ(a.classes, b.classes);
  EXPECT_EQ(a.feature_names, b.feature_names);
  EXPECT_EQ(a.options.C, b.options.C);
  EXPECT_EQ(a.options.l1_ratio, b.options.l1_ratio);
  EXPECT_EQ(a.options.tol, b.options.tol);
  EXPECT_EQ(a.options.max_iter, b.options.max_iter);
  EXPECT_EQ(a.options.fit_intercept, b.options.fit_intercept);
  const auto data = make_blobs(ma.n_classes(), 10, static_cast<int>(ma.n_features()), 3.0, 99);
  const RowMatrix<Scalar> X = data.X.template cast<Scalar>();
  EXPECT_TRUE(same_bits(ma.decision_function(X), mb.decision_function(X)));
  EXPECT_TRUE(same_bits(ma.predict_proba(X), mb.predict_proba(X)));
  EXPECT_EQ(ma.predict(X), mb.predict(X));
}

template <typename Scalar>
void check_round_trips() {
  for (Strategy strategy : kStrategies) {
    for (int n_classes : {2, 4}) {
      for (bool string_labels : {false, true}) {
        for (bool names : {false, true}) {
          SCOPED_TRACE(std::string(to_string(strategy)) + " K=" + std::to_string(n_classes) +
                       (string_labels ? " string labels" : " int labels") +
                       (names ? " with names" : ""));
          const SavedModel saved = trained<Scalar>(strategy, n_classes, string_labels, names);
          const Bytes bytes = encode_model(saved);
          const SavedModel loaded = decode_model(bytes);
          EXPECT_EQ(loaded.is_float32(), (std::is_same_v<Scalar, float>));
          expect_same_model<Scalar>(saved, loaded);
          EXPECT_EQ(encode_model(loaded), bytes);  // the encoding is canonical
        }
      }
    }
  }
}

TEST(ModelFile, RoundTripDouble) { check_round_trips<double>(); }
TEST(ModelFile, RoundTripFloat) { check_round_trips<float>(); }

TEST(ModelFile, Crc32MatchesTheStandardCheckValue) {
  const std::string check = "123456789";
  EXPECT_EQ(detail::crc32(reinterpret_cast<const std::uint8_t*>(check.data()), check.size()),
            0xCBF43926u);
  EXPECT_EQ(detail::crc32(nullptr, 0), 0u);
}

// The same bytes appear in tests/python/test_model_file.py and docs/model-format.md.
const char* const kGoldenOvr =
    // header: magic, version 1, CRC-32, payload size 159
    "894d4c4f4749540a" "01000000" "d5ea9457" "9f00000000000000"
    // ovr, float64, UTF-8 labels, fit_intercept | feature names, K = 3, d = 2
    "02" "02" "02" "03" "03000000" "0200000000000000"
    // C = 0.5, l1_ratio = 0.25, tol = 1e-4, max_iter = 100
    "000000000000e03f" "000000000000d03f" "2d431cebe2361a3f" "64000000"
    // labels "cat" "dog" "\u00e9meu", feature names "height" "weight"
    "03000000636174" "03000000646f67" "05000000c3a96d6575"
    "06000000686569676874" "06000000776569676874"
    // coef (3 x 2, row-major), intercept (3)
    "000000000000f03f" "00000000000000c0" "000000000000e03f" "000000000000d03f"
    "000000000000f8bf" "0000000000000840"
    "000000000000c03f" "000000000000f0bf" "0000000000000040";

SavedModel golden_ovr_model() {
  RowMatrix<double> coef(3, 2);
  coef << 1, -2, 0.5, 0.25, -1.5, 3;
  Vector<double> intercept(3);
  intercept << 0.125, -1, 2;
  TrainOptions options;
  options.C = 0.5;
  options.l1_ratio = 0.25;
  options.tol = 1e-4;
  options.max_iter = 100;
  return SavedModel(Model<double>(Strategy::OneVsAll, 3, coef, intercept),
                    std::vector<std::string>{"cat", "dog", "\xc3\xa9meu"}, options,
                    {"height", "weight"});
}

const char* const kGoldenBinary =
    "894d4c4f4749540a" "01000000" "4601ffa3" "4c00000000000000"
    // ovo, float32, int64 labels, no flags, K = 2, d = 3,
    // C = inf, l1_ratio = 0, tol = 1e-4, max_iter = 10
    "03" "01" "01" "00" "02000000" "0300000000000000"
    "000000000000f07f" "0000000000000000" "2d431cebe2361a3f" "0a000000"
    // labels -1, 7; coef (1 x 3); intercept (1)
    "ffffffffffffffff" "0700000000000000"
    "0000803f" "000000c0" "0000c0bf" "0000003f";

SavedModel golden_binary_model() {
  RowMatrix<float> coef(1, 3);
  coef << 1.0f, -2.0f, -1.5f;
  Vector<float> intercept(1);
  intercept << 0.5f;
  TrainOptions options;
  options.C = std::numeric_limits<double>::infinity();
  options.fit_intercept = false;
  options.tol = 1e-4;
  options.max_iter = 10;
  return SavedModel(Model<float>(Strategy::OneVsOne, 2, coef, intercept),
                    std::vector<std::int64_t>{-1, 7}, options);
}

TEST(ModelFile, GoldenBytes) {
  EXPECT_EQ(to_hex(encode_model(golden_ovr_model())), kGoldenOvr);
  EXPECT_EQ(to_hex(encode_model(golden_binary_model())), kGoldenBinary);
  expect_same_model<double>(decode_model(from_hex(kGoldenOvr)), golden_ovr_model());
  expect_same_model<float>(decode_model(from_hex(kGoldenBinary)), golden_binary_model());
}

TEST(ModelFile, LabelText) {
  const SavedModel ovr = golden_ovr_model();
  EXPECT_EQ(ovr.label_text(2), "\xc3\xa9meu");
  const SavedModel binary = golden_binary_model();
  EXPECT_EQ(binary.label_text(0), "-1");
  EXPECT_EQ(binary.label_text(1), "7");
  EXPECT_EQ(binary.strategy(), Strategy::OneVsOne);
  EXPECT_EQ(binary.n_classes(), 2);
  EXPECT_EQ(binary.n_features(), 3);
  EXPECT_TRUE(binary.is_float32());
  EXPECT_THROW(binary.label_text(2), std::out_of_range);
}

TEST(ModelFile, StreamsAndFiles) {
  const SavedModel first = trained<double>(Strategy::OneVsOne, 3, true, false);
  const SavedModel second = trained<float>(Strategy::Softmax, 4, false, true);

  // Two models back to back in one stream: each load stops at the end of its model.
  std::stringstream stream;
  save_model(first, stream);
  save_model(second, stream);
  stream << "tail";
  expect_same_model<double>(first, load_model(stream));
  expect_same_model<float>(second, load_model(stream));
  std::string tail;
  stream >> tail;
  EXPECT_EQ(tail, "tail");

  // A name of its own, so concurrent test runs do not share the file.
  const auto path = std::filesystem::temp_directory_path() /
                    ("multilogit_test_model_" + std::to_string(std::random_device{}()) + ".mlogit");
  save_model(first, path);
  expect_same_model<double>(first, load_model(path));
  {
    std::ofstream append(path, std::ios::binary | std::ios::app);
    append << 'x';
  }
  EXPECT_THROW(load_model(path), std::invalid_argument);  // trailing bytes
  std::filesystem::remove(path);
  EXPECT_THROW(load_model(path), std::runtime_error);  // missing file
  EXPECT_THROW(save_model(first, path / "no" / "such" / "dir"), std::runtime_error);
}

TEST(ModelFile, EveryTruncationIsRejected) {
  for (const Bytes& file : {encode_model(golden_ovr_model()), encode_model(golden_binary_model()),
                            encode_model(trained<float>(Strategy::OneVsOne, 4, true, true))}) {
    for (std::size_t size = 0; size < file.size(); ++size) {
      const Bytes prefix(file.begin(), file.begin() + static_cast<std::ptrdiff_t>(size));
      expect_rejected(prefix, "truncated");
      std::istringstream stream(std::string(prefix.begin(), prefix.end()));
      EXPECT_THROW(load_model(stream), std::invalid_argument) << "prefix of " << size << " bytes";
    }
    Bytes longer = file;
    longer.push_back(0);
    expect_rejected(longer, "unexpected bytes after the end of the model");
  }
}

TEST(ModelFile, EveryBitFlipIsRejected) {
  const Bytes file = encode_model(golden_ovr_model());
  for (std::size_t i = 0; i < file.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      Bytes corrupted = file;
      corrupted[i] ^= static_cast<std::uint8_t>(1u << bit);
      EXPECT_THROW(decode_model(corrupted), std::invalid_argument) << "byte " << i << " bit " << bit;
    }
  }
  Bytes corrupted = file;
  corrupted[60] ^= 0x40;  // inside the payload
  expect_rejected(corrupted, "checksum mismatch");
}

TEST(ModelFile, WrongMagicOrVersion) {
  Bytes file = encode_model(golden_binary_model());
  Bytes bad = file;
  bad[1] = 'X';
  expect_rejected(bad, "wrong magic bytes");
  expect_rejected(Bytes{'P', 'K', 3, 4, 0, 0, 0, 0, 0, 0}, "wrong magic bytes");
  expect_rejected(Bytes{}, "truncated");
  bad = file;
  bad[8] = 2;
  expect_rejected(bad, "format version 2 is not supported");
  expect_rejected(bad, "newer release");
  bad[8] = 0;
  expect_rejected(bad, "format version 0 is not supported");
}

TEST(ModelFile, ValidPayloadBuilderIsAccepted) {
  // Guards the hostile-file tests below: the builder's baseline file is valid.
  const SavedModel saved = decode_model(valid_payload().file());
  EXPECT_EQ(saved.n_classes(), 3);
  EXPECT_EQ(saved.n_features(), 2);
}

TEST(ModelFile, AbsurdSizesAreRejectedBeforeAllocating) {
  expect_rejected(valid_payload().file(~std::uint64_t{0} - 1), "announces a payload of");
  expect_rejected(PayloadBuilder().fixed(1, 2, 1, 1, 0xFFFFFFFFu).file(), "n_classes is 4294967295");
  expect_rejected(PayloadBuilder().fixed(1, 2, 1, 1, 1).file(), "n_classes is 1");
  expect_rejected(PayloadBuilder().fixed(1, 2, 1, 1, 3, ~std::uint64_t{0}).file(), "n_features is");
  expect_rejected(PayloadBuilder().fixed(1, 2, 1, 1, 3, 0).file(), "n_features is 0");
  // Plausible counts that the remaining bytes cannot hold.
  expect_rejected(PayloadBuilder().fixed(3, 2, 1, 1, 32768, 2147483647).file(),
                  "remain for class labels (");
  expect_rejected(PayloadBuilder().fixed(3, 2, 1, 1, 3, 2147483647).int_labels({0, 1, 2}).file(),
                  "remain for coefficients (");
  expect_rejected(PayloadBuilder().fixed(1, 2, 2, 1, 32768).file(), "remain for class labels (");
  expect_rejected(PayloadBuilder().fixed(1, 2, 2, 1).u32(0xFFFFFFFFu).u32(0).u32(0).file(),
                  "class label 0 has 4294967295 bytes");
  expect_rejected(PayloadBuilder().fixed(1, 2, 2, 1).u32(1000).u32(0).u32(0).file(),
                  "remain for class label 0 (1000 x 1 bytes)");
  expect_rejected(PayloadBuilder().fixed(1, 2, 1, 3, 3, 2147483647).int_labels({0, 1, 2}).file(),
                  "remain for feature names (");

  // The stream reader does not trust the announced size either.
  const Bytes huge = valid_payload().file(std::uint64_t{1} << 62);
  std::istringstream stream(std::string(huge.begin(), huge.end()));
  try {
    load_model(stream);
    ADD_FAILURE() << "accepted";
  } catch (const std::invalid_argument& error) {
    EXPECT_NE(std::string(error.what()).find("truncated"), std::string::npos) << error.what();
  }
}

TEST(ModelFile, InvalidFieldsWithAValidChecksumAreRejected) {
  auto with = [](auto&& edit) {
    PayloadBuilder p;
    edit(p);
    return p.file();
  };
  expect_rejected(with([](auto& p) { p.fixed(0).int_labels({0, 1, 2}).doubles(9); }), "strategy");
  expect_rejected(with([](auto& p) { p.fixed(4).int_labels({0, 1, 2}).doubles(9); }), "strategy");
  expect_rejected(with([](auto& p) { p.fixed(1, 3).int_labels({0, 1, 2}).doubles(9); }),
                  "scalar type");
  expect_rejected(with([](auto& p) { p.fixed(1, 2, 0).int_labels({0, 1, 2}).doubles(9); }),
                  "label type");
  expect_rejected(with([](auto& p) { p.fixed(1, 2, 1, 5).int_labels({0, 1, 2}).doubles(9); }),
                  "unknown flag bits");
  expect_rejected(with([](auto& p) { p.fixed(1, 2, 1, 1, 3, 2, 0.0).int_labels({0, 1, 2}).doubles(9); }),
                  "C must be positive");
  expect_rejected(with([](auto& p) {
                    p.fixed(1, 2, 1, 1, 3, 2, std::nan("")).int_labels({0, 1, 2}).doubles(9);
                  }),
                  "C must be positive");
  expect_rejected(with([](auto& p) {
                    p.fixed(1, 2, 1, 1, 3, 2, 1.0, 0.0, HUGE_VAL).int_labels({0, 1, 2}).doubles(9);
                  }),
                  "tol must be finite");
  for (double l1_ratio : {-0.5, 1.5, std::nan("")}) {
    expect_rejected(with([l1_ratio](auto& p) {
                      p.fixed(1, 2, 1, 1, 3, 2, 1.0, l1_ratio).int_labels({0, 1, 2}).doubles(9);
                    }),
                    "l1_ratio must be in [0, 1]");
  }
  for (std::uint32_t max_iter : {0u, 0x80000000u}) {
    expect_rejected(with([max_iter](auto& p) {
                      p.fixed(1, 2, 1, 1, 3, 2, 1.0, 0.0, 1e-4, max_iter).int_labels({0, 1, 2}).doubles(9);
                    }),
                    "max_iter");
  }
  expect_rejected(with([](auto& p) { p.fixed().int_labels({0, 2, 1}).doubles(9); }),
                  "strictly increasing");
  expect_rejected(with([](auto& p) { p.fixed().int_labels({0, 1, 1}).doubles(9); }),
                  "strictly increasing");
  expect_rejected(with([](auto& p) { p.fixed(1, 2, 2).str("a").str("c").str("b").doubles(9); }),
                  "strictly increasing");
  expect_rejected(with([](auto& p) { p.fixed(1, 2, 2).str("a").str("b").str("c\xff").doubles(9); }),
                  "class label 2 is not valid UTF-8");
  // Overlong encoding of '/', a UTF-16 surrogate, and a code point above U+10FFFF.
  for (const char* bad : {"\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82"}) {
    expect_rejected(with([bad](auto& p) { p.fixed(1, 2, 2).str("a").str("b").str(bad).doubles(9); }),
                    "not valid UTF-8");
  }
  expect_rejected(with([](auto& p) {
                    p.fixed(1, 2, 1, 3).int_labels({0, 1, 2}).str("x").str("\x80").doubles(9);
                  }),
                  "feature name 1 is not valid UTF-8");
  expect_rejected(with([](auto& p) {
                    p.fixed().int_labels({0, 1, 2}).doubles(4).f64(std::nan("")).doubles(4);
                  }),
                  "NaN or infinity");
  expect_rejected(with([](auto& p) { p.fixed().int_labels({0, 1, 2}).doubles(9).u8(0); }),
                  "1 unexpected bytes after the intercepts");
  expect_rejected(with([](auto& p) { p.fixed().int_labels({0, 1, 2}).doubles(8); }),
                  "remain for intercepts (");
}

TEST(ModelFile, WriterRefusesWhatTheReaderWouldRefuse) {
  SavedModel saved = golden_ovr_model();
  auto refused = [](const SavedModel& s, const std::string& fragment) {
    try {
      encode_model(s);
      ADD_FAILURE() << "encoded an invalid model";
    } catch (const std::invalid_argument& error) {
      EXPECT_NE(std::string(error.what()).find(fragment), std::string::npos) << error.what();
      EXPECT_EQ(std::string(error.what()).rfind("cannot save model: ", 0), 0u) << error.what();
    }
  };
  saved.classes = std::vector<std::string>{"a", "b"};
  refused(saved, "3 classes but 2 class labels");
  saved.classes = std::vector<std::int64_t>{3, 2, 1};
  refused(saved, "strictly increasing");
  saved.classes = std::vector<std::string>{"a", "b", "\xff"};
  refused(saved, "not valid UTF-8");
  saved.classes = std::vector<std::string>{"a", "b", std::string(kModelFileMaxStringBytes + 1, 'c')};
  refused(saved, "more than the limit");
  saved = golden_ovr_model();
  saved.feature_names = {"x"};
  refused(saved, "2 features but 1 feature names");
  saved = golden_ovr_model();
  saved.options.C = -1;
  refused(saved, "C must be positive");
  saved = golden_ovr_model();
  saved.options.l1_ratio = 2;
  refused(saved, "l1_ratio must be in [0, 1]");
  saved = golden_ovr_model();
  saved.options.tol = std::nan("");
  refused(saved, "tol must be finite");
  saved = golden_ovr_model();
  saved.options.max_iter = 0;
  refused(saved, "max_iter");
}

}  // namespace
