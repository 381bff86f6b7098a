// SPDX-License-Identifier: Apache-2.0
// Tests of include/ropescale/safetensors.hpp: round trips of tensors written by the test-side
// writer (tests/support/safetensors_writer.hpp) in every readable dtype, exact BF16/F16 decoding
// against hand-derived values, and every rejection of docs/reference.md §6 on crafted buffers and
// files.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "ropescale/safetensors.hpp"
#include "support/safetensors_writer.hpp"

namespace st = ropescale::safetensors;
using namespace ropescale_test;

namespace {

std::string error_of(const bytes& image, const std::string& label) {
  try {
    st::file::from_buffer(image, label);
  } catch (const ropescale::invalid_parameter& e) {
    return e.what();
  }
  return "<no error>";
}

std::string file_error_of(const bytes& image, const std::string& file_name) {
  const auto path = scratch_dir("safetensors_reject") / file_name;
  write_bytes(path, image);
  try {
    st::file::open(path);
  } catch (const ropescale::invalid_parameter& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(path.string()), std::string::npos) << msg;  // names the file
    return msg;
  }
  return "<no error>";
}

// Both the buffer and the file path must reject `image`, with every fragment in the message.
void expect_reject(const bytes& image, const std::vector<std::string>& fragments,
                   const std::string& tag) {
  SCOPED_TRACE(tag);
  const std::string a = error_of(image, "buf-" + tag);
  const std::string b = file_error_of(image, tag + ".safetensors");
  EXPECT_NE(a.find("buf-" + tag), std::string::npos) << a;
  for (const auto& f : fragments) {
    EXPECT_NE(a.find(f), std::string::npos) << "buffer message: " << a << "\nmissing: " << f;
    EXPECT_NE(b.find(f), std::string::npos) << "file message: " << b << "\nmissing: " << f;
  }
}

bytes entry_image(const std::string& entry_json, std::size_t data_bytes) {
  return st_raw("{\"w\":" + entry_json + "}", bytes(data_bytes, 0));
}

}  // namespace

TEST(SafetensorsDecode, Bf16ExactValues) {
  // (bits, exact value) derived by hand from sign/exponent/mantissa.
  const std::vector<std::pair<std::uint16_t, double>> cases = {
      {0x3f80, 1.0},
      {0xc000, -2.0},
      {0x3e20, 0.15625},
      {0x0001, std::ldexp(1.0, -133)},
      {0x007f, 127 * std::ldexp(1.0, -133)},
      {0x0080, std::ldexp(1.0, -126)},
      {0x7f7f, 255 * std::ldexp(1.0, 120)},
      {0x8000, -0.0},
      {0x4049, 3.140625},
      {0x7f80, INFINITY},
      {0xff80, -INFINITY}};
  std::vector<std::uint16_t> bits;
  for (auto& c : cases) bits.push_back(c.first);
  auto f = st::file::from_buffer(
      st_image({{"x", "BF16", {static_cast<std::int64_t>(bits.size())}, u16_bytes(bits)}}));
  const auto d = f.read_double("x");
  const auto s = f.read_float("x");
  ASSERT_EQ(d.values.size(), cases.size());
  for (std::size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ(d.values[i], cases[i].second) << std::hex << cases[i].first;
    EXPECT_EQ(static_cast<double>(s.values[i]), cases[i].second);
    EXPECT_EQ(std::signbit(d.values[i]), std::signbit(cases[i].second));
  }
  auto nan = st::file::from_buffer(st_image({{"n", "BF16", {1}, u16_bytes({0x7fc1})}}));
  EXPECT_TRUE(std::isnan(nan.read_double("n").values[0]));
}

TEST(SafetensorsDecode, F16ExactValues) {
  const std::vector<std::pair<std::uint16_t, double>> cases = {
      {0x3c00, 1.0},
      {0xc000, -2.0},
      {0x0001, std::ldexp(1.0, -24)},         // smallest subnormal
      {0x03ff, 1023 * std::ldexp(1.0, -24)},  // largest subnormal
      {0x0400, std::ldexp(1.0, -14)},         // smallest normal
      {0x7bff, 65504.0},                      // largest finite
      {0x3555, 0.333251953125},
      {0x8000, -0.0},
      {0x7c00, INFINITY},
      {0xfc00, -INFINITY},
      {0x5640, 100.0}};
  std::vector<std::uint16_t> bits;
  for (auto& c : cases) bits.push_back(c.first);
  auto f = st::file::from_buffer(
      st_image({{"x", "F16", {static_cast<std::int64_t>(bits.size())}, u16_bytes(bits)}}));
  const auto d = f.read_double("x");
  const auto s = f.read_float("x");
  for (std::size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ(d.values[i], cases[i].second) << std::hex << cases[i].first;
    EXPECT_EQ(static_cast<double>(s.values[i]), cases[i].second);
    EXPECT_EQ(std::signbit(d.values[i]), std::signbit(cases[i].second));
  }
  auto nan = st::file::from_buffer(st_image({{"n", "F16", {1}, u16_bytes({0x7e00})}}));
  EXPECT_TRUE(std::isnan(nan.read_float("n").values[0]));
}

TEST(SafetensorsRoundTrip, EveryReadableDtypeFromBufferAndFile) {
  std::mt19937 rng(1234);
  std::normal_distribution<float> nd(0.0f, 3.0f);
  std::vector<float> f32(6);
  for (auto& v : f32) v = nd(rng);
  f32[0] = std::numeric_limits<float>::denorm_min();
  std::vector<double> f64 = {1.0 / 3.0, -1e300, 5e-324, 2.5, 0.1, -0.0};
  std::vector<std::uint16_t> bf(12);
  for (auto& b : bf) b = bf16_round(nd(rng));
  std::vector<std::uint16_t> h = {0x3c00, 0x0001, 0xbc00, 0x7bff};

  const std::vector<st_entry> entries = {
      {"odd_u8", "U8", {3}, bytes{1, 2, 3}},  // makes the following data unaligned
      {"a.f32", "F32", {2, 3}, f32_bytes(f32)},   {"b.f64", "F64", {3, 2}, f64_bytes(f64)},
      {"c.bf16", "BF16", {3, 4}, u16_bytes(bf)},  {"d.f16", "F16", {2, 1, 2}, u16_bytes(h)},
      {"e.scalar", "F32", {}, f32_bytes({7.5f})}, {"f.empty", "F32", {0, 5}, bytes{}},
  };
  const bytes image = st_image(entries, R"({"format":"pt","note":"x"})");
  const auto path = scratch_dir("safetensors_roundtrip") / "rt.safetensors";
  write_bytes(path, image);

  for (int mode = 0; mode < 2; ++mode) {
    SCOPED_TRACE(mode ? "file" : "buffer");
    st::file f = mode ? st::file::open(path) : st::file::from_buffer(image, "rt");
    ASSERT_EQ(f.tensors().size(), entries.size());
    EXPECT_EQ(f.tensors()[0].name, "a.f32");  // sorted by name
    EXPECT_EQ(f.metadata().at("format"), "pt");
    EXPECT_TRUE(f.contains("d.f16"));
    EXPECT_FALSE(f.contains("zzz"));

    const auto a = f.read_float("a.f32");
    EXPECT_EQ(a.shape, (std::vector<std::int64_t>{2, 3}));
    for (std::size_t i = 0; i < f32.size(); ++i) {
      EXPECT_EQ(std::memcmp(&a.values[i], &f32[i], 4), 0);
      EXPECT_EQ(f.read_double("a.f32").values[i], static_cast<double>(f32[i]));
    }
    const auto b = f.read_double("b.f64");
    for (std::size_t i = 0; i < f64.size(); ++i) {
      EXPECT_EQ(std::memcmp(&b.values[i], &f64[i], 8), 0);
      EXPECT_EQ(f.read_float("b.f64").values[i], static_cast<float>(f64[i]));
    }
    const auto c = f.read_double("c.bf16");
    EXPECT_EQ(c.shape, (std::vector<std::int64_t>{3, 4}));
    for (std::size_t i = 0; i < bf.size(); ++i) EXPECT_EQ(c.values[i], bf16_value(bf[i]));
    const auto d = f.read_float("d.f16");
    EXPECT_EQ(d.shape, (std::vector<std::int64_t>{2, 1, 2}));
    EXPECT_EQ(d.values, (std::vector<float>{1.0f, std::ldexp(1.0f, -24), -1.0f, 65504.0f}));
    const auto e = f.read_double("e.scalar");
    EXPECT_TRUE(e.shape.empty());
    EXPECT_EQ(e.values, std::vector<double>{7.5});
    const auto z = f.read_float("f.empty");
    EXPECT_EQ(z.shape, (std::vector<std::int64_t>{0, 5}));
    EXPECT_TRUE(z.values.empty());
    EXPECT_EQ(f.read_bytes("odd_u8"), (bytes{1, 2, 3}));
  }
}

TEST(SafetensorsRoundTrip, UnreadableDtypeAndMissingTensor) {
  auto f = st::file::from_buffer(st_image({{"q", "I32", {1}, bytes{1, 0, 0, 0}}}), "lbl");
  try {
    f.read_float("q");
    FAIL();
  } catch (const ropescale::invalid_parameter& e) {
    EXPECT_NE(std::string(e.what()).find("'q'"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("I32"), std::string::npos);
  }
  try {
    f.read_double("missing.name");
    FAIL();
  } catch (const ropescale::invalid_parameter& e) {
    EXPECT_NE(std::string(e.what()).find("missing.name"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("missing tensor"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("lbl"), std::string::npos);
  }
}

TEST(SafetensorsRoundTrip, GapsAndTrailingBytesTolerated) {
  const std::string h =
      R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[4,6]},"b":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})";
  auto f = st::file::from_buffer(st_raw(h, bytes{9, 0, 0, 0, 5, 6, 0, 0, 0}));
  EXPECT_EQ(f.read_bytes("a"), (bytes{5, 6}));
  EXPECT_EQ(f.read_bytes("b"), (bytes{9}));
  // An empty tensor inside another's range owns no bytes: not an overlap.
  const std::string h2 =
      R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"e":{"dtype":"F32","shape":[0],"data_offsets":[2,2]}})";
  EXPECT_NO_THROW(st::file::from_buffer(st_raw(h2, bytes(4, 0))));
}

TEST(SafetensorsReject, LengthPrefixAndHeader) {
  expect_reject(bytes{}, {"shorter than the 8-byte"}, "empty");
  expect_reject(bytes{1, 0, 0, 0, 0, 0, 0}, {"7 bytes"}, "seven");
  expect_reject(st_raw("{}", bytes{}, false, 1000), {"header length 1000 exceeds"}, "len-beyond");
  expect_reject(st_raw("{}", bytes{}, false, 100'000'001), {"100 MB"}, "len-cap");
  expect_reject(st_raw("{}", bytes{}, false, std::numeric_limits<std::int64_t>::max()), {"100 MB"},
                "len-huge");
  expect_reject(st_raw("[1, 2]", bytes{}), {"not a JSON object"}, "array");
  expect_reject(st_raw("  {}", bytes{}, false), {"does not start with '{'"}, "leading-space");
  expect_reject(st_raw("{\"a\":", bytes{}), {"malformed JSON"}, "truncated-json");
  expect_reject(st_raw("{\"\xff\xfe\":1}", bytes{}), {"malformed JSON"}, "bad-utf8");
  expect_reject(st_raw("{} x", bytes{}), {"malformed JSON"}, "trailing-garbage");
  expect_reject(st_raw(R"({"__metadata__":[1]})", bytes{}), {"__metadata__", "object of strings"},
                "meta-array");
  expect_reject(st_raw(R"({"__metadata__":{"k":1}})", bytes{}),
                {"__metadata__.k", "must be a string"}, "meta-value");
  // Trailing spaces after the object are the writers' padding: accepted.
  EXPECT_NO_THROW(st::file::from_buffer(st_raw("{}      ", bytes{}, false)));
}

TEST(SafetensorsReject, EntryFields) {
  expect_reject(entry_image("[1]", 0), {"tensor 'w'", "entry must be an object"}, "entry-array");
  expect_reject(entry_image(R"({"shape":[1],"data_offsets":[0,4]})", 4),
                {"tensor 'w'", "missing field 'dtype'"}, "no-dtype");
  expect_reject(entry_image(R"({"dtype":"F32","data_offsets":[0,4]})", 4),
                {"tensor 'w'", "missing field 'shape'"}, "no-shape");
  expect_reject(entry_image(R"({"dtype":"F32","shape":[1]})", 4),
                {"tensor 'w'", "missing field 'data_offsets'"}, "no-offsets");
  expect_reject(entry_image(R"({"dtype":7,"shape":[1],"data_offsets":[0,4]})", 4),
                {"tensor 'w'", "dtype must be a string"}, "dtype-number");
  expect_reject(entry_image(R"({"dtype":"Q4_K","shape":[1],"data_offsets":[0,4]})", 4),
                {"tensor 'w'", "unknown dtype", "Q4_K"}, "dtype-unknown");
  expect_reject(entry_image(R"({"dtype":"f32","shape":[1],"data_offsets":[0,4]})", 4),
                {"unknown dtype"}, "dtype-lowercase");
  expect_reject(entry_image(R"({"dtype":"F32","shape":3,"data_offsets":[0,12]})", 12),
                {"tensor 'w'", "shape must be an array"}, "shape-number");
}

TEST(SafetensorsReject, Shapes) {
  expect_reject(entry_image(R"({"dtype":"F32","shape":[-1],"data_offsets":[0,4]})", 4),
                {"tensor 'w'", "shape entries", "-1"}, "shape-negative");
  expect_reject(entry_image(R"({"dtype":"F32","shape":[1.5],"data_offsets":[0,4]})", 4),
                {"shape entries", "1.5"}, "shape-float");
  expect_reject(entry_image(R"({"dtype":"F32","shape":[2.0],"data_offsets":[0,8]})", 8),
                {"shape entries"}, "shape-integral-float");
  expect_reject(entry_image(R"({"dtype":"F32","shape":["2"],"data_offsets":[0,8]})", 8),
                {"shape entries"}, "shape-string");
  expect_reject(
      entry_image(R"({"dtype":"F32","shape":[18446744073709551615],"data_offsets":[0,4]})", 4),
      {"shape entries"}, "shape-u64max");
  expect_reject(
      entry_image(R"({"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]})", 4),
      {"tensor 'w'", "overflows"}, "shape-overflow-count");
  expect_reject(
      entry_image(R"({"dtype":"F64","shape":[2305843009213693952,2],"data_offsets":[0,4]})", 4),
      {"overflows"}, "shape-overflow-bytes");
  expect_reject(entry_image(R"({"dtype":"F32","shape":[2,3],"data_offsets":[0,20]})", 20),
                {"tensor 'w'", "needs 24"}, "shape-size-mismatch");
}

TEST(SafetensorsReject, DataOffsets) {
  expect_reject(entry_image(R"({"dtype":"F32","shape":[1],"data_offsets":[0]})", 4),
                {"tensor 'w'", "data_offsets must be two"}, "off-one");
  expect_reject(entry_image(R"({"dtype":"F32","shape":[1],"data_offsets":[0,4,8]})", 8),
                {"data_offsets must be two"}, "off-three");
  expect_reject(entry_image(R"({"dtype":"F32","shape":[1],"data_offsets":{"a":0}})", 4),
                {"data_offsets must be two"}, "off-object");
  expect_reject(entry_image(R"({"dtype":"F32","shape":[1],"data_offsets":[-4,0]})", 4),
                {"data_offsets must be two"}, "off-negative");
  expect_reject(entry_image(R"({"dtype":"F32","shape":[1],"data_offsets":[0.0,4]})", 4),
                {"data_offsets must be two"}, "off-float");
  expect_reject(entry_image(R"({"dtype":"F32","shape":[1],"data_offsets":[8,4]})", 8),
                {"tensor 'w'", "begin 8 > end 4"}, "off-reversed");
  expect_reject(entry_image(R"({"dtype":"F32","shape":[1],"data_offsets":[4,8]})", 6),
                {"tensor 'w'", "past the data buffer (6 bytes)"}, "off-past-end");
  expect_reject(
      entry_image(
          R"({"dtype":"F32","shape":[1],"data_offsets":[18446744073709551612,18446744073709551615]})",
          4),
      {"data_offsets must be two"}, "off-huge");
  expect_reject(entry_image(R"({"dtype":"F32","shape":[1],"data_offsets":[0,8]})", 8),
                {"tensor 'w'", "span 8 bytes", "needs 4"}, "off-span");
  const std::string overlap =
      R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})";
  expect_reject(st_raw(overlap, bytes(12, 0)), {"tensor 'b'", "overlap tensor 'a'"}, "overlap");
  const std::string same =
      R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}})";
  expect_reject(st_raw(same, bytes(4, 0)), {"overlap"}, "overlap-identical");
}

TEST(SafetensorsReject, NonFiniteWeightsNamedWithIndex) {
  auto f =
      st::file::from_buffer(st_image({{"w", "F32", {3}, f32_bytes({1.0f, 2.0f, NAN})}}), "lbl");
  const auto t = f.read_double("w");
  try {
    st::require_finite("lbl", "w", t.values);
    FAIL();
  } catch (const ropescale::invalid_parameter& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("'w'"), std::string::npos) << m;
    EXPECT_NE(m.find("flat index 2"), std::string::npos) << m;
  }
}

TEST(SafetensorsCheckpoint, ShardedIndex) {
  const auto dir = scratch_dir("safetensors_sharded");
  write_bytes(dir / "model-00001-of-00002.safetensors",
              st_image({{"x", "F32", {2}, f32_bytes({1.0f, 2.0f})}}));
  write_bytes(dir / "model-00002-of-00002.safetensors",
              st_image({{"y", "BF16", {1}, u16_bytes({0x3f80})}}));
  write_text(dir / "model.safetensors.index.json",
             R"({"metadata":{"total_size":10},"weight_map":{"x":"model-00001-of-00002.safetensors",
                 "y":"model-00002-of-00002.safetensors","z":"model-00001-of-00002.safetensors"}})");
  for (const auto& p : {dir, dir / "model.safetensors.index.json"}) {
    auto c = st::checkpoint::open(p);
    EXPECT_TRUE(c.contains("x"));
    EXPECT_FALSE(c.contains("w"));
    EXPECT_EQ(c.read_double("x").values, (std::vector<double>{1.0, 2.0}));
    EXPECT_EQ(c.read_float("y").values, (std::vector<float>{1.0f}));
    EXPECT_THROW(c.read_double("w"), ropescale::invalid_parameter);
    try {  // listed, but the shard does not hold it
      c.read_double("z");
      FAIL();
    } catch (const ropescale::invalid_parameter& e) {
      EXPECT_NE(std::string(e.what()).find("model-00001-of-00002.safetensors"), std::string::npos);
      EXPECT_NE(std::string(e.what()).find("'z'"), std::string::npos);
    }
  }
  // Single-file directory.
  const auto single = scratch_dir("safetensors_single");
  write_bytes(single / "model.safetensors", st_image({{"x", "F32", {1}, f32_bytes({3.0f})}}));
  EXPECT_EQ(st::checkpoint::open(single).read_double("x").values, std::vector<double>{3.0});
  EXPECT_THROW(st::checkpoint::open(scratch_dir("safetensors_emptydir")),
               ropescale::invalid_parameter);
}

TEST(SafetensorsCheckpoint, ShardNamesMustBePlain) {
  const auto dir = scratch_dir("safetensors_badshard");
  for (const std::string bad :
       {"../evil.safetensors", "sub/x.safetensors", "..", "a\\\\b.safetensors", ""}) {
    SCOPED_TRACE(bad);
    write_text(dir / "model.safetensors.index.json", R"({"weight_map":{"x":")" + bad + R"("}})");
    try {
      st::checkpoint::open(dir);
      FAIL();
    } catch (const ropescale::invalid_parameter& e) {
      EXPECT_NE(std::string(e.what()).find("plain file name"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("weight_map.x"), std::string::npos) << e.what();
    }
  }
  write_text(dir / "model.safetensors.index.json", R"({"weight_map":{"x":1}})");
  EXPECT_THROW(st::checkpoint::open(dir), ropescale::invalid_parameter);
  write_text(dir / "model.safetensors.index.json", R"({"nothing":{}})");
  EXPECT_THROW(st::checkpoint::open(dir), ropescale::invalid_parameter);
  write_text(dir / "model.safetensors.index.json", R"({"weight_map":)");
  EXPECT_THROW(st::checkpoint::open(dir), ropescale::invalid_parameter);
}

TEST(SafetensorsReject, UnreadablePath) {
  try {
    st::file::open("/nonexistent/dir/w.safetensors");
    FAIL();
  } catch (const ropescale::invalid_parameter& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/dir/w.safetensors"), std::string::npos);
  }
}

TEST(SafetensorsReject, DeeplyNestedValuesDoNotOverflowTheStack) {
  // Past the header's nesting cap (docs/limits.md) the text is refused before it is parsed.
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  const std::string cap = "nesting deeper than 16 levels";
  expect_reject(entry_image(R"({"dtype":)" + deep + R"(,"shape":[1],"data_offsets":[0,4]})", 4),
                {cap}, "deep-dtype");
  expect_reject(entry_image(R"({"dtype":"F32","shape":)" + deep + R"(,"data_offsets":[0,4]})", 4),
                {cap}, "deep-shape");
  expect_reject(entry_image(R"({"dtype":"F32","shape":[1],"data_offsets":)" + deep + "}", 4), {cap},
                "deep-offsets");
  expect_reject(entry_image(deep, 0), {cap}, "deep-entry");
  expect_reject(st_raw(R"({"__metadata__":{"k":)" + deep + "}}", bytes{}), {cap}, "deep-meta");
  // Within the cap, a nested value is summarised in the message, not printed in full.
  const std::string nested = std::string(12, '[') + std::string(12, ']');
  expect_reject(entry_image(R"({"dtype":)" + nested + R"(,"shape":[1],"data_offsets":[0,4]})", 4),
                {"dtype must be a string", "[[[...]]]"}, "nested-dtype");
  expect_reject(entry_image(R"({"dtype":"F32","shape":)" + nested + R"(,"data_offsets":[0,4]})", 4),
                {"shape entries"}, "nested-shape");
  const std::string long_string(5000, 'x');
  const std::string msg = error_of(
      entry_image(R"({"dtype":")" + long_string + R"(","shape":[1],"data_offsets":[0,4]})", 4),
      "long");
  EXPECT_LT(msg.size(), 300u) << msg;
}
