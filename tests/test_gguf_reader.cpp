// SPDX-License-Identifier: Apache-2.0
// The GGUF reader (include/ropescale/gguf.hpp) against files written by the tests' own writer
// (tests/support/gguf_writer.hpp, from ggml's format description): every value type, nested
// arrays, v2 and v3, general.alignment, tensor infos, F32 tensor reads by seek (also behind a
// sparse multi-GB tensor), and the bad-file table (each row one broken rule, one message).
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "ropescale/gguf.hpp"
#include "support/bad_input_table.hpp"
#include "support/gguf_writer.hpp"

namespace {

namespace gg = ropescale::gguf;
using ropescale_test::gguf_writer;
using bytes_t = std::vector<unsigned char>;

std::string tmp_path(const std::string& name) {
  const std::filesystem::path dir = ROPESCALE_TEST_TMPDIR;
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

gg::file parse(const bytes_t& b) { return gg::file::from_buffer(b.data(), b.size(), "t.gguf"); }

TEST(GgufReader, EveryValueTypeV3) {
  gguf_writer w;
  bytes_t p;
  w.kv_raw("u8", gguf_writer::t_u8, {200});
  w.kv_raw("i8", gguf_writer::t_i8, {0xfe});
  w.kv_raw("u16", gguf_writer::t_u16, {0x34, 0x12});
  w.kv_raw("i16", gguf_writer::t_i16, {0xff, 0xff});
  w.kv_u32("u32", 4000000000u);
  w.kv_i32("i32", -7);
  w.kv_f32("f32", 0.1f);
  w.kv_bool("bool", true);
  w.kv_str("string", "hello");
  w.kv_u64("u64", 0xfedcba9876543210ull);
  p.clear();
  gguf_writer::put_u64(p, static_cast<std::uint64_t>(-5));
  w.kv_raw("i64", gguf_writer::t_i64, p);
  w.kv_f64("f64", 1e300);
  w.kv_u32_array("arr_u32", {1, 2, 3});
  w.kv_str_array("arr_str", {"a", "", "ccc"});
  // Array of arrays of u8: [[1, 2], []].
  p.clear();
  gguf_writer::put_u32(p, gguf_writer::t_array);
  gguf_writer::put_u64(p, 2);
  gguf_writer::put_u32(p, gguf_writer::t_u8);
  gguf_writer::put_u64(p, 2);
  p.push_back(1);
  p.push_back(2);
  gguf_writer::put_u32(p, gguf_writer::t_u8);
  gguf_writer::put_u64(p, 0);
  w.kv_raw("nested", gguf_writer::t_array, p);

  const gg::file f = parse(w.bytes());
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.alignment(), 32u);
  ASSERT_EQ(f.metadata().size(), 15u);
  EXPECT_EQ(f.metadata()[0].key, "u8");  // file order kept
  EXPECT_EQ(f.find("u8")->uint_value, 200u);
  EXPECT_EQ(f.find("i8")->int_value, -2);
  EXPECT_EQ(f.find("u16")->uint_value, 0x1234u);
  EXPECT_EQ(f.find("i16")->int_value, -1);
  EXPECT_EQ(f.find("u32")->uint_value, 4000000000u);
  EXPECT_EQ(f.find("i32")->int_value, -7);
  EXPECT_EQ(f.find("f32")->float_value, static_cast<double>(0.1f));
  EXPECT_EQ(f.find("f32")->type, gg::value_type::f32);
  EXPECT_TRUE(f.find("bool")->bool_value);
  EXPECT_EQ(f.find("string")->text, "hello");
  EXPECT_EQ(f.find("u64")->uint_value, 0xfedcba9876543210ull);
  EXPECT_EQ(f.find("i64")->int_value, -5);
  EXPECT_EQ(f.find("f64")->float_value, 1e300);
  const gg::value* a = f.find("arr_u32");
  ASSERT_TRUE(a && a->elements_kept);
  EXPECT_EQ(a->element_type, gg::value_type::u32);
  ASSERT_EQ(a->elements.size(), 3u);
  EXPECT_EQ(a->elements[2].uint_value, 3u);
  const gg::value* s = f.find("arr_str");
  ASSERT_EQ(s->elements.size(), 3u);
  EXPECT_EQ(s->elements[2].text, "ccc");
  EXPECT_EQ(s->elements[1].text, "");
  const gg::value* n = f.find("nested");
  ASSERT_EQ(n->elements.size(), 2u);
  EXPECT_EQ(n->elements[0].element_type, gg::value_type::u8);
  ASSERT_EQ(n->elements[0].elements.size(), 2u);
  EXPECT_EQ(n->elements[0].elements[1].uint_value, 2u);
  EXPECT_EQ(n->elements[1].count, 0u);
  EXPECT_EQ(f.find("absent"), nullptr);
  EXPECT_TRUE(f.tensors().empty());
}

TEST(GgufReader, V2AlignmentAndTensors) {
  gguf_writer w;
  w.version = 2;
  w.alignment = 64;
  w.kv_u32("general.alignment", 64);
  w.kv_str("general.architecture", "llama");
  w.tensor_raw("tok_embd.weight", gguf_writer::ggml_q8_0, {64, 3}, bytes_t(3 * 2 * 34, 7));
  w.tensor_f32("rope_freqs.weight", {1.0f, 2.5f, 8.0f, -0.0f});
  w.tensor_raw("blk.0.attn_q.weight", gguf_writer::ggml_f16, {4, 4}, bytes_t(32, 1));
  const bytes_t b = w.bytes();
  const gg::file f = parse(b);
  EXPECT_EQ(f.version(), 2u);
  EXPECT_EQ(f.alignment(), 64u);
  EXPECT_EQ(f.data_offset() % 64, 0u);
  ASSERT_EQ(f.tensors().size(), 3u);
  const gg::tensor_info* q = f.find_tensor("tok_embd.weight");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->bytes, 204u);
  EXPECT_EQ(q->elements(), 192u);
  const gg::tensor_info* r = f.find_tensor("rope_freqs.weight");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->offset, 256u);  // 204 padded to 64
  const std::vector<float> v = f.read_f32("rope_freqs.weight");
  ASSERT_EQ(v.size(), 4u);
  EXPECT_EQ(v[1], 2.5f);
  EXPECT_EQ(v[2], 8.0f);
  EXPECT_THROW(f.read_f32("blk.0.attn_q.weight"), ropescale::invalid_parameter);
  EXPECT_THROW(f.read_f32("missing"), ropescale::invalid_parameter);

  // Same bytes through a file.
  const std::string path = tmp_path("reader_v2.gguf");
  gguf_writer::write_file(path, b);
  const gg::file g = gg::file::open(path);
  EXPECT_EQ(g.read_f32("rope_freqs.weight"), v);
  EXPECT_TRUE(gg::has_gguf_magic(path));
}

// A 6 GiB sparse file: a huge F16 tensor first, rope_freqs after it. Opening and reading the
// small tensor must not touch the big one (time and memory stay tiny).
TEST(GgufReader, SeeksPastMultiGigabyteTensor) {
  gguf_writer w;
  w.kv_str("general.architecture", "llama");
  const std::uint64_t big_elems = std::uint64_t{3} << 30;  // 3 Gi F16 values = 6 GiB
  // Write the info by hand: the writer would materialise the data otherwise.
  bytes_t info;
  gguf_writer::put_str(info, "big.weight");
  gguf_writer::put_u32(info, 1);
  gguf_writer::put_u64(info, big_elems);
  gguf_writer::put_u32(info, gguf_writer::ggml_f16);
  gguf_writer::put_u64(info, 0);
  gguf_writer::put_str(info, "rope_freqs.weight");
  gguf_writer::put_u32(info, 1);
  gguf_writer::put_u64(info, 2);
  gguf_writer::put_u32(info, gguf_writer::ggml_f32);
  gguf_writer::put_u64(info, big_elems * 2);
  bytes_t b = w.bytes(2);
  b.insert(b.end(), info.begin(), info.end());
  while (b.size() % 32 != 0) b.push_back(0);
  const std::uint64_t data = b.size();
  const std::string path = tmp_path("sparse_big.gguf");
  gguf_writer::write_file(path, b);
  {
    std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(static_cast<std::streamoff>(data + big_elems * 2));
    const float vals[2] = {3.0f, 0.5f};
    f.write(reinterpret_cast<const char*>(vals), sizeof vals);
  }
  const auto t0 = std::chrono::steady_clock::now();
  const gg::file f = gg::file::open(path);
  const std::vector<float> v = f.read_f32("rope_freqs.weight");
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0], 3.0f);
  EXPECT_EQ(v[1], 0.5f);
  EXPECT_LT(secs, 1.0);
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  EXPECT_LT(ru.ru_maxrss, 512L * 1024) << "max RSS in KiB";
  std::filesystem::remove(path);
}

TEST(GgufReader, LargeArraysAreValidatedNotKept) {
  gguf_writer w;
  std::vector<std::string> many(70000, "tok");
  w.kv_str_array("tokenizer.ggml.tokens", many);
  w.kv_u32("after", 5);
  const gg::file f = parse(w.bytes());
  const gg::value* t = f.find("tokenizer.ggml.tokens");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->count, 70000u);
  EXPECT_FALSE(t->elements_kept);
  EXPECT_EQ(f.find("after")->uint_value, 5u);
}

// ---- bad files ----

struct bad_case {
  const char* what;               // the table's "input" column
  std::function<bytes_t()> make;  // the file
  const char* expect;             // substring of the message
};

bytes_t header(std::uint32_t version, std::uint64_t n_tensors, std::uint64_t n_kv) {
  bytes_t b = {'G', 'G', 'U', 'F'};
  gguf_writer::put_u32(b, version);
  gguf_writer::put_u64(b, n_tensors);
  gguf_writer::put_u64(b, n_kv);
  return b;
}

bytes_t with_kv(const std::function<void(gguf_writer&)>& add) {
  gguf_writer w;
  add(w);
  return w.bytes();
}

bytes_t with_tensor(const std::string& name, std::uint32_t type, std::vector<std::uint64_t> dims,
                    std::uint64_t data_bytes, long long offset = -1) {
  gguf_writer w;
  w.tensor_raw(name, type, dims, bytes_t(data_bytes, 0), offset);
  return w.bytes();
}

const std::vector<bad_case>& bad_cases() {
  static const std::vector<bad_case> cases = {
      {"empty file", [] { return bytes_t{}; }, "magic: must be \"GGUF\""},
      {"3 bytes",
       [] {
         return bytes_t{'G', 'G', 'U'};
       },
       "magic"},
      {"wrong magic (safetensors-like)",
       [] {
         bytes_t b = header(3, 0, 0);
         b[0] = '{';
         return b;
       },
       "magic: must be \"GGUF\" (47 47 55 46), got 7b 47 55 46"},
      {"version 1", [] { return header(1, 0, 0); }, "version: must be 2 or 3, got 1 (GGUF v1"},
      {"version 4", [] { return header(4, 0, 0); }, "version: must be 2 or 3, got 4"},
      {"big-endian file", [] { return header(0x03000000u, 0, 0); }, "big-endian"},
      {"truncated header",
       [] {
         bytes_t b = header(3, 0, 0);
         b.resize(12);
         return b;
       },
       "truncated"},
      {"absurd metadata count", [] { return header(3, 0, ~0ull); },
       "metadata_kv_count: must be at most"},
      {"absurd tensor count", [] { return header(3, 1ull << 40, 0); },
       "tensor_count: must be at most"},
      {"key length past the end",
       [] {
         bytes_t b = header(3, 0, 1);
         gguf_writer::put_u64(b, 1000);
         b.insert(b.end(), 20, 'k');
         return b;
       },
       "a key length must be in [1, 1024]"},
      {"string value past the end",
       [] {
         bytes_t p;
         gguf_writer::put_u64(p, 1ull << 40);
         p.push_back('x');
         return with_kv(
             [&](gguf_writer& w) { w.kv_raw("general.name", gguf_writer::t_string, p); });
       },
       "key 'general.name': a string length must fit"},
      {"array past the end",
       [] {
         bytes_t p;
         gguf_writer::put_u32(p, gguf_writer::t_u32);
         gguf_writer::put_u64(p, 1ull << 62);
         return with_kv([&](gguf_writer& w) { w.kv_raw("a", gguf_writer::t_array, p); });
       },
       "an array of u32 must fit"},
      {"string array past the end",
       [] {
         bytes_t p;
         gguf_writer::put_u32(p, gguf_writer::t_string);
         gguf_writer::put_u64(p, 3);
         gguf_writer::put_str(p, "x");
         return with_kv([&](gguf_writer& w) { w.kv_raw("a", gguf_writer::t_array, p); });
       },
       "an array of string must fit"},
      {"arrays nested 9 deep",
       [] {
         bytes_t p;
         for (int i = 0; i < 9; ++i) {
           gguf_writer::put_u32(p, gguf_writer::t_array);
           gguf_writer::put_u64(p, 1);
         }
         gguf_writer::put_u32(p, gguf_writer::t_u8);
         gguf_writer::put_u64(p, 0);
         return with_kv([&](gguf_writer& w) { w.kv_raw("deep", gguf_writer::t_array, p); });
       },
       "arrays may nest at most 8 deep"},
      {"unknown value type 13",
       [] { return with_kv([](gguf_writer& w) { w.kv_raw("k", 13, {0}); }); },
       "a value type must be 0..12, got 13"},
      {"bool value 2",
       [] { return with_kv([](gguf_writer& w) { w.kv_raw("b", gguf_writer::t_bool, {2}); }); },
       "a bool must be 0 or 1, got 2"},
      {"duplicate key",
       [] {
         return with_kv([](gguf_writer& w) {
           w.kv_u32("k", 1);
           w.kv_u32("k", 2);
         });
       },
       "key 'k': must appear once"},
      {"key with control bytes",
       [] { return with_kv([](gguf_writer& w) { w.kv_raw("\x1b[31mk", 99, {}); }); },
       "key '\\x1b[31mk'"},
      {"alignment not a power of two",
       [] { return with_kv([](gguf_writer& w) { w.kv_u32("general.alignment", 48); }); },
       "key 'general.alignment': must be a u32 power of two, got 48"},
      {"alignment stored as u64",
       [] { return with_kv([](gguf_writer& w) { w.kv_u64("general.alignment", 32); }); },
       "must be a u32 power of two, got a u64"},
      {"tensor name of 64 bytes", [] { return with_tensor(std::string(64, 'n'), 0, {1}, 4); },
       "a tensor name must be at most 63 bytes"},
      {"5 dimensions",
       [] {
         return with_tensor("t", 0, {1, 1, 1, 1, 1}, 4);
       },
       "tensor 't': must have at most 4 dimensions, got 5"},
      {"unknown tensor type 4", [] { return with_tensor("t", 4, {32}, 18); },
       "must have a known ggml type, got 4"},
      {"Q8_0 row not a multiple of 32", [] { return with_tensor("t", 8, {33}, 68); },
       "dimension 0 must be a multiple of the Q8_0 block size 32, got 33"},
      {"element count overflows int64",
       [] {
         return with_tensor("t", 0, {1ull << 32, 1ull << 32}, 0);
       },
       "the element count must fit in int64"},
      {"tensor offset not the running offset", [] { return with_tensor("t", 0, {4}, 16, 32); },
       "the data offset must follow the previous tensor's (0"},
      {"tensor data past the end of the file",
       [] {
         bytes_t b = with_tensor("t", 0, {8}, 32);
         b.resize(b.size() - 16);
         return b;
       },
       "tensor 't': the tensor data must lie inside the file"},
      {"duplicate tensor name",
       [] {
         gguf_writer w;
         w.tensor_f32("t", {1.0f});
         w.tensor_f32("t", {1.0f});
         return w.bytes();
       },
       "tensor 't': must appear once"},
  };
  return cases;
}

// A 1.5 GB sparse file whose header is a 1 GiB u8 array and a 512 MiB string (zeros): the reader
// skips the array by seeking and keeps a 1 MiB prefix of the string, within the budget.
TEST(GgufReader, HugeMetadataStaysWithinBudget) {
  const std::uint64_t array_len = std::uint64_t{1} << 30, string_len = std::uint64_t{512} << 20;
  bytes_t b = header(3, 0, 3);
  gguf_writer::put_str(b, "big.array");
  gguf_writer::put_u32(b, gguf_writer::t_array);
  gguf_writer::put_u32(b, gguf_writer::t_u8);
  gguf_writer::put_u64(b, array_len);
  const std::uint64_t array_at = b.size();
  bytes_t tail;
  gguf_writer::put_str(tail, "big.string");
  gguf_writer::put_u32(tail, gguf_writer::t_string);
  gguf_writer::put_u64(tail, string_len);
  bytes_t last;
  gguf_writer::put_str(last, "after");
  gguf_writer::put_u32(last, gguf_writer::t_u32);
  gguf_writer::put_u32(last, 7);
  const std::string path = tmp_path("huge_header.gguf");
  gguf_writer::write_file(path, b);
  {
    std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(static_cast<std::streamoff>(array_at + array_len));
    f.write(reinterpret_cast<const char*>(tail.data()), static_cast<std::streamsize>(tail.size()));
    f.seekp(static_cast<std::streamoff>(array_at + array_len + tail.size() + string_len));
    f.write(reinterpret_cast<const char*>(last.data()), static_cast<std::streamsize>(last.size()));
  }
  const auto t0 = std::chrono::steady_clock::now();
  const gg::file f = gg::file::open(path);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(secs, 10.0);
  EXPECT_EQ(f.find("big.array")->count, array_len);
  EXPECT_FALSE(f.find("big.array")->elements_kept);
  EXPECT_EQ(f.find("big.string")->string_length, string_len);
  EXPECT_TRUE(f.find("big.string")->string_truncated);
  EXPECT_EQ(f.find("big.string")->text.size(), gg::limits::max_kept_string_bytes);
  EXPECT_EQ(f.find("after")->uint_value, 7u);
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  EXPECT_LT(ru.ru_maxrss, 1024L * 1024) << "max RSS in KiB";
  std::filesystem::remove(path);
}

TEST(GgufReader, BadFiles) {
  for (const bad_case& c : bad_cases()) {
    SCOPED_TRACE(c.what);
    const bytes_t b = c.make();
    std::string message;
    try {
      (void)parse(b);
    } catch (const ropescale::invalid_parameter& e) {
      message = e.what();
    }
    ASSERT_FALSE(message.empty()) << "accepted";
    EXPECT_NE(message.find(c.expect), std::string::npos) << message;
    EXPECT_NE(message.find("(t.gguf)"), std::string::npos) << message;
    EXPECT_LT(message.size(), 400u) << message;
    for (const char ch : message) {
      const auto u = static_cast<unsigned char>(ch);
      EXPECT_FALSE(u < 0x20 || u == 0x7f) << "control byte in " << message;
    }
    support::rows_out().push_back({std::string("GGUF: ") + c.what, "rejected", message});
  }
}

TEST(GgufReader, EveryPrefixOfAValidFileIsRejectedCleanly) {
  gguf_writer w;
  w.kv_str("general.architecture", "llama");
  w.kv_u32_array("a", {1, 2});
  w.tensor_f32("rope_freqs.weight", {1.0f, 2.0f});
  const bytes_t b = w.bytes();
  // Everything up to the end of the tensor data is needed; the final padding is not.
  const std::size_t needed = static_cast<std::size_t>(parse(b).data_offset()) + 8;
  for (std::size_t n = 0; n < needed; ++n) {
    const bytes_t prefix(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_THROW((void)parse(prefix), ropescale::invalid_parameter) << n;
  }
  EXPECT_NO_THROW((void)parse(b));
}

TEST(GgufReader, SpecialFilesAreRejectedBeforeOpening) {
  EXPECT_THROW((void)gg::file::open(tmp_path("does-not-exist.gguf")), ropescale::invalid_parameter);
  EXPECT_THROW((void)gg::file::open(ROPESCALE_TEST_TMPDIR), ropescale::invalid_parameter);
  const std::string fifo = tmp_path("reader.fifo");
  std::filesystem::remove(fifo);
  if (::mkfifo(fifo.c_str(), 0600) == 0) {
    EXPECT_THROW((void)gg::file::open(fifo), ropescale::invalid_parameter);
    EXPECT_FALSE(gg::has_gguf_magic(fifo));
    std::filesystem::remove(fifo);
  }
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new support::table_writer("gguf_reader.md"));
  return RUN_ALL_TESTS();
}
