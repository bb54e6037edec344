// Tests of engine/packet.hpp: the stateless packet work of the router and acceptor. Real client
// Initials come from an ngtcp2 client driven through engine::QuicConn, in memory.
#include "engine/packet.hpp"

#include <gtest/gtest.h>
#include <ngtcp2/ngtcp2.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "asioquic/error.hpp"
#include "asioquic/settings.hpp"
#include "engine/quic_conn.hpp"
#include "engine/retry_token_key.hpp"
#include "engine/silent_events.hpp"
#include "engine/tls_context.hpp"
#include "engine_end.hpp"
#include "quic/stream_table.hpp"

namespace asioquic::engine {
namespace {

using quic::Cid;
using Bytes = std::vector<uint8_t>;

constexpr size_t kOurCidLen = quic::CidGenerator::kLength;

using test::addr;

Cid seq_cid(size_t len, uint8_t first) {
  Bytes b(len);
  for (size_t i = 0; i < len; ++i)
    b[i] = static_cast<uint8_t>(first + i);
  return Cid(b.data(), b.size());
}

bool same(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}

// Long header types as encoded in QUIC v1 (RFC 9000 §17.2).
enum LongType : uint8_t { kInitial = 0, kZeroRtt = 1, kHandshake = 2, kRetry = 3 };

// A v1-style long header packet built by hand: header fields as given, then a 2-byte Length,
// a packet number byte and zero padding up to `total` bytes. Only the header is meaningful;
// that is all parse_header and check_initial look at.
Bytes long_packet(uint8_t type, uint32_t version, std::span<const uint8_t> dcid,
                  std::span<const uint8_t> scid, size_t total, std::span<const uint8_t> token = {},
                  bool with_token_field = true) {
  Bytes p;
  p.push_back(static_cast<uint8_t>(0xc0 | (type << 4)));
  for (int s = 24; s >= 0; s -= 8)
    p.push_back(static_cast<uint8_t>(version >> s));
  p.push_back(static_cast<uint8_t>(dcid.size()));
  p.insert(p.end(), dcid.begin(), dcid.end());
  p.push_back(static_cast<uint8_t>(scid.size()));
  p.insert(p.end(), scid.begin(), scid.end());
  if (type == kInitial && with_token_field) {
    // Two-byte varint token length.
    p.push_back(static_cast<uint8_t>(0x40 | (token.size() >> 8)));
    p.push_back(static_cast<uint8_t>(token.size()));
    p.insert(p.end(), token.begin(), token.end());
  }
  if (type != kRetry) {
    const size_t rest = total > p.size() + 2 ? total - p.size() - 2 : 1;
    p.push_back(static_cast<uint8_t>(0x40 | ((rest >> 8) & 0x3f)));
    p.push_back(static_cast<uint8_t>(rest));
    p.push_back(0);  // packet number
  }
  if (p.size() < total) p.resize(total, 0);
  return p;
}

Bytes short_packet(std::span<const uint8_t> dcid, size_t total) {
  // Built by push_back: g++ 12 -O3 warns falsely (-Warray-bounds) on insert into a
  // one-element vector.
  Bytes p;
  p.reserve(1 + dcid.size());
  p.push_back(0x41);
  for (uint8_t b : dcid)
    p.push_back(b);
  p.resize(std::max(total, p.size()), 0xaa);
  return p;
}

// ---------------------------------------------------------------------------------------------
// An ngtcp2 client (through our engine adapter) whose packets are collected in memory.

class TestClient final : public engine::SilentEvents {
 public:
  TestClient(const Cid& dcid, const Cid& scid, uint32_t version = kQuicV1)
      : streams_(1 << 20), buf_(256 * 1024) {
    settings_.tls.alpn = {"echo"};
    settings_.tls.use_system_trust = false;
    settings_.tls.insecure_skip_verify = true;
    std::error_code ec;
    tls_ = TlsContext::create(TlsContext::Role::client, settings_.tls, ec);
    EXPECT_TRUE(tls_) << ec.message();
    if (!tls_) return;
    ConnParams p;
    p.settings = &settings_;
    p.server = false;
    p.local = local();
    p.remote = remote();
    p.dcid = dcid;
    p.scid = scid;
    p.tls = tls_;
    p.verify_host = "localhost";
    p.version = version;
    p.initial_ts = now_ns();
    conn_ = QuicConn::create(p, *this, ec);
    EXPECT_TRUE(conn_) << ec.message();
  }

  static net::Address local() { return addr("192.0.2.7", 50123); }
  static net::Address remote() { return addr("198.51.100.1", 4433); }

  bool ok() const { return conn_ != nullptr; }
  QuicConn& conn() { return *conn_; }

  // Everything the client wants to send now, one element per datagram.
  std::vector<Bytes> flush() {
    if (!conn_) return {};
    QuicConn::Status status;
    return test::write_datagrams(*conn_, streams_, *this, buf_, now_ns(), status);
  }

  QuicConn::Status read(std::span<const uint8_t> pkt) {
    return conn_->read(local(), remote(), 0, pkt, now_ns());
  }

  // The first datagram of the connection: the client Initial.
  Bytes initial() {
    auto d = flush();
    EXPECT_FALSE(d.empty());
    return d.empty() ? Bytes{} : d.front();
  }

 private:
  Settings settings_;
  std::shared_ptr<TlsContext> tls_;
  quic::StreamTable streams_;
  Bytes buf_;
  std::unique_ptr<QuicConn> conn_;
};

// Versions listed in a Version Negotiation packet.
std::vector<uint32_t> vn_versions(std::span<const uint8_t> pkt, const HeaderInfo& hdr) {
  std::vector<uint32_t> v;
  const size_t start = 7 + hdr.dcid.size() + hdr.scid.size();
  for (size_t i = start; i + 4 <= pkt.size(); i += 4) {
    v.push_back(uint32_t{pkt[i]} << 24 | uint32_t{pkt[i + 1]} << 16 | uint32_t{pkt[i + 2]} << 8 |
                pkt[i + 3]);
  }
  return v;
}

// ---------------------------------------------------------------------------------------------
// parse_header

TEST(ParseHeader, ShortHeaderWithOurCid) {
  const Cid ours = seq_cid(kOurCidLen, 0x10);
  const Bytes pkt = short_packet(ours.view(), 40);
  HeaderInfo h;
  ASSERT_EQ(parse_header(pkt, kOurCidLen, h), ParseResult::ok);
  EXPECT_EQ(h.form, HeaderInfo::Form::short_header);
  EXPECT_TRUE(same(h.dcid, ours.view()));
  EXPECT_TRUE(h.scid.empty());
  EXPECT_EQ(h.dcid.data(), pkt.data() + 1);  // no copy: points into the packet
}

TEST(ParseHeader, ShortHeaderJustLongEnoughForTheCid) {
  const Cid ours = seq_cid(kOurCidLen, 0x20);
  HeaderInfo h;
  EXPECT_EQ(parse_header(short_packet(ours.view(), 1 + kOurCidLen), kOurCidLen, h),
            ParseResult::ok);
  Bytes cut = short_packet(ours.view(), 1 + kOurCidLen);
  cut.pop_back();
  EXPECT_EQ(parse_header(cut, kOurCidLen, h), ParseResult::invalid);
}

TEST(ParseHeader, EveryV1LongHeaderType) {
  const Cid d = seq_cid(8, 1), s = seq_cid(5, 0x40);
  const std::pair<uint8_t, HeaderInfo::Form> cases[] = {
      {kInitial, HeaderInfo::Form::initial},
      {kZeroRtt, HeaderInfo::Form::zero_rtt},
      {kHandshake, HeaderInfo::Form::handshake},
      {kRetry, HeaderInfo::Form::retry},
  };
  for (const auto& [type, form] : cases) {
    const Bytes pkt = long_packet(type, kQuicV1, d.view(), s.view(), 1200);
    HeaderInfo h;
    ASSERT_EQ(parse_header(pkt, kOurCidLen, h), ParseResult::ok) << int(type);
    EXPECT_EQ(h.form, form) << int(type);
    EXPECT_EQ(h.version, kQuicV1);
    EXPECT_TRUE(same(h.dcid, d.view()));
    EXPECT_TRUE(same(h.scid, s.view()));
  }
}

TEST(ParseHeader, RealClientInitial) {
  const Cid d = seq_cid(18, 0x30), s = seq_cid(kOurCidLen, 0x60);
  TestClient client(d, s);
  ASSERT_TRUE(client.ok());
  const Bytes pkt = client.initial();
  ASSERT_GE(pkt.size(), 1200u);
  HeaderInfo h;
  ASSERT_EQ(parse_header(pkt, kOurCidLen, h), ParseResult::ok);
  EXPECT_EQ(h.form, HeaderInfo::Form::initial);
  EXPECT_EQ(h.version, kQuicV1);
  EXPECT_TRUE(same(h.dcid, d.view()));
  EXPECT_TRUE(same(h.scid, s.view()));
}

// Chromium's client uses a zero-length source CID: its long headers carry an empty SCID.
TEST(ParseHeader, ZeroLengthClientCid) {
  const Cid d = seq_cid(8, 0x70);
  TestClient client(d, Cid());
  ASSERT_TRUE(client.ok());
  const Bytes pkt = client.initial();
  HeaderInfo h;
  ASSERT_EQ(parse_header(pkt, kOurCidLen, h), ParseResult::ok);
  EXPECT_EQ(h.form, HeaderInfo::Form::initial);
  EXPECT_TRUE(same(h.dcid, d.view()));
  EXPECT_TRUE(h.scid.empty());
  std::span<const uint8_t> token;
  EXPECT_TRUE(check_initial(pkt, token));

  // Its Handshake packets to our CID, also with an empty SCID.
  const Cid ours = seq_cid(kOurCidLen, 0x80);
  const Bytes hs = long_packet(kHandshake, kQuicV1, ours.view(), {}, 100);
  ASSERT_EQ(parse_header(hs, kOurCidLen, h), ParseResult::ok);
  EXPECT_EQ(h.form, HeaderInfo::Form::handshake);
  EXPECT_TRUE(same(h.dcid, ours.view()));
  EXPECT_TRUE(h.scid.empty());
}

// ngtcp2 0.12 also speaks the QUIC v2 draft, whose long header types are rotated
// (draft-ietf-quic-v2 §3.2): its Initial must not pass for a 0-RTT packet.
TEST(ParseHeader, V2DraftInitial) {
  const Cid d = seq_cid(18, 0x30), s = seq_cid(kOurCidLen, 0x60);
  TestClient client(d, s, NGTCP2_PROTO_VER_V2_DRAFT);
  ASSERT_TRUE(client.ok());
  const Bytes pkt = client.initial();
  HeaderInfo h;
  ASSERT_EQ(parse_header(pkt, kOurCidLen, h), ParseResult::ok);
  EXPECT_EQ(h.version, NGTCP2_PROTO_VER_V2_DRAFT);
  EXPECT_EQ(h.form, HeaderInfo::Form::initial);
  std::span<const uint8_t> token;
  EXPECT_TRUE(check_initial(pkt, token));
  // And the other types: v2 Initial=1, 0-RTT=2, Handshake=3, Retry=0.
  const std::pair<uint8_t, HeaderInfo::Form> cases[] = {
      {1, HeaderInfo::Form::initial},
      {2, HeaderInfo::Form::zero_rtt},
      {3, HeaderInfo::Form::handshake},
      {0, HeaderInfo::Form::retry},
  };
  for (const auto& [type, form] : cases) {
    ASSERT_EQ(parse_header(long_packet(type, NGTCP2_PROTO_VER_V2_DRAFT, d.view(), s.view(), 1200),
                           kOurCidLen, h),
              ParseResult::ok);
    EXPECT_EQ(h.form, form) << int(type);
  }
}

TEST(ParseHeader, VersionNegotiation) {
  const Cid d = seq_cid(8, 1), s = seq_cid(12, 0x50);
  std::array<uint8_t, 256> out;
  const size_t n = write_version_negotiation(out, d.view(), s.view());
  ASSERT_GT(n, 0u);
  HeaderInfo h;
  ASSERT_EQ(parse_header({out.data(), n}, kOurCidLen, h), ParseResult::ok);
  EXPECT_EQ(h.form, HeaderInfo::Form::version_negotiation);
  EXPECT_EQ(h.version, 0u);
}

TEST(ParseHeader, UnknownVersionAsksForVersionNegotiation) {
  const Cid d = seq_cid(8, 1), s = seq_cid(8, 9);
  for (uint32_t version : {0xdeadbeefu, 0x1a2a3a4au, 0x00000002u}) {
    const Bytes pkt = long_packet(kInitial, version, d.view(), s.view(), 1200);
    HeaderInfo h;
    ASSERT_EQ(parse_header(pkt, kOurCidLen, h), ParseResult::unsupported_version) << version;
    EXPECT_EQ(h.version, version);
    EXPECT_TRUE(same(h.dcid, d.view()));
    EXPECT_TRUE(same(h.scid, s.view()));
  }
  // Other versions may use CIDs up to 255 bytes (RFC 8999 §5.1); VN must still echo them.
  const Cid big_d = seq_cid(20, 1);
  Bytes dcid255(255, 0x5a);
  const Bytes pkt = long_packet(kInitial, 0xdeadbeef, dcid255, big_d.view(), 1300);
  HeaderInfo h;
  ASSERT_EQ(parse_header(pkt, kOurCidLen, h), ParseResult::unsupported_version);
  EXPECT_EQ(h.dcid.size(), 255u);
  EXPECT_TRUE(same(h.scid, big_d.view()));
}

// A small datagram with an unknown version must not be answered (amplification, RFC 9000 §6.1).
TEST(ParseHeader, SmallUnknownVersionIsNotOk) {
  const Cid d = seq_cid(8, 1), s = seq_cid(8, 9);
  HeaderInfo h;
  EXPECT_NE(parse_header(long_packet(kInitial, 0xdeadbeef, d.view(), s.view(), 100), kOurCidLen, h),
            ParseResult::ok);
}

// Found by the bad-input flood: two bit flips turn a v1 Initial into a VN packet (version 0)
// with an 82-byte DCID, which overflowed the router's Cid.
TEST(ParseHeader, VersionNegotiationWithCidOver20BytesIsInvalid) {
  const Bytes cid21(21, 0x42), cid255(255, 0x43);
  const Cid ok = seq_cid(8, 1);
  HeaderInfo h;
  EXPECT_EQ(
      parse_header(long_packet(kInitial, 0, cid21, ok.view(), 1200, {}, false), kOurCidLen, h),
      ParseResult::invalid);
  EXPECT_EQ(
      parse_header(long_packet(kInitial, 0, ok.view(), cid255, 1200, {}, false), kOurCidLen, h),
      ParseResult::invalid);
}

TEST(ParseHeader, EmptyAndOneByte) {
  HeaderInfo h;
  EXPECT_EQ(parse_header({}, kOurCidLen, h), ParseResult::invalid);
  for (int b = 0; b < 256; ++b) {
    const uint8_t one = static_cast<uint8_t>(b);
    EXPECT_EQ(parse_header({&one, 1}, kOurCidLen, h), ParseResult::invalid) << b;
  }
}

TEST(ParseHeader, TruncatedLongHeaders) {
  const Cid d = seq_cid(20, 1), s = seq_cid(20, 0x40);
  const Bytes full = long_packet(kInitial, kQuicV1, d.view(), s.view(), 1200);
  const size_t header = 7 + d.len + s.len;  // first byte, version, both CIDs with lengths
  for (size_t len = 1; len < header; ++len) {
    HeaderInfo h;
    EXPECT_EQ(parse_header({full.data(), len}, kOurCidLen, h), ParseResult::invalid) << len;
  }
}

TEST(ParseHeader, BogusCidLengths) {
  const Cid d = seq_cid(8, 1), s = seq_cid(8, 9);
  HeaderInfo h;
  // DCID length pointing past the end of the datagram.
  Bytes pkt = long_packet(kHandshake, kQuicV1, d.view(), s.view(), 60);
  pkt[5] = 200;
  EXPECT_EQ(parse_header(pkt, kOurCidLen, h), ParseResult::invalid);
  // SCID length pointing past the end.
  pkt = long_packet(kHandshake, kQuicV1, d.view(), s.view(), 60);
  pkt[6 + d.len] = 255;
  EXPECT_EQ(parse_header(pkt, kOurCidLen, h), ParseResult::invalid);
}

TEST(ParseHeader, CidOver20BytesInV1LongHeaderIsInvalid) {
  const Bytes cid21(21, 0x77);
  const Cid ok = seq_cid(8, 1);
  HeaderInfo h;
  for (uint8_t type : {kInitial, kZeroRtt, kHandshake}) {
    EXPECT_EQ(parse_header(long_packet(type, kQuicV1, cid21, ok.view(), 1200), kOurCidLen, h),
              ParseResult::invalid)
        << int(type);
    EXPECT_EQ(parse_header(long_packet(type, kQuicV1, ok.view(), cid21, 1200), kOurCidLen, h),
              ParseResult::invalid)
        << int(type);
  }
}

// Whatever the bytes, parse_header returns spans inside the datagram and, for ok v1 long
// headers, CIDs of at most 20 bytes.
TEST(ParseHeader, RandomAndMutatedBytesStayInBounds) {
  std::mt19937 rng(12345);
  TestClient client(seq_cid(18, 3), seq_cid(kOurCidLen, 4));
  ASSERT_TRUE(client.ok());
  const Bytes real = client.initial();
  auto inside = [](std::span<const uint8_t> pkt, std::span<const uint8_t> part) {
    return part.empty() ||
           (part.data() >= pkt.data() && part.data() + part.size() <= pkt.data() + pkt.size());
  };
  int ok = 0;
  for (int i = 0; i < 20000; ++i) {
    Bytes pkt;
    if (i % 2 == 0) {
      pkt.resize(1 + rng() % 1500);
      for (auto& b : pkt)
        b = static_cast<uint8_t>(rng());
    } else {
      pkt = real;
      for (int f = 1 + rng() % 4; f > 0; --f)
        pkt[rng() % 64] ^= static_cast<uint8_t>(1u << (rng() % 8));
      pkt.resize(1 + rng() % pkt.size());
    }
    HeaderInfo h;
    const auto r = parse_header(pkt, kOurCidLen, h);
    if (r == ParseResult::invalid) continue;
    ASSERT_TRUE(inside(pkt, h.dcid)) << i;
    ASSERT_TRUE(inside(pkt, h.scid)) << i;
    if (r == ParseResult::ok) {
      ++ok;
      if ((pkt[0] & 0x80) == 0) {
        EXPECT_EQ(h.form, HeaderInfo::Form::short_header);
        EXPECT_EQ(h.dcid.size(), kOurCidLen);
      } else {
        // Any ok long header (VN included): the router copies its DCID into a quic::Cid.
        ASSERT_LE(h.dcid.size(), 20u) << i;
        ASSERT_LE(h.scid.size(), 20u) << i;
      }
    }
  }
  EXPECT_GT(ok, 1000);  // the mutations do reach the parser's success paths
}

// ---------------------------------------------------------------------------------------------
// check_initial

TEST(CheckInitial, AcceptsRealInitials) {
  for (size_t dlen : {8u, 18u, 20u}) {
    TestClient client(seq_cid(dlen, 1), seq_cid(kOurCidLen, 2));
    ASSERT_TRUE(client.ok());
    const Bytes pkt = client.initial();
    std::span<const uint8_t> token{pkt.data(), 1};
    EXPECT_TRUE(check_initial(pkt, token)) << dlen;
    EXPECT_TRUE(token.empty());
  }
}

TEST(CheckInitial, MinimumDatagramSizeIs1200) {
  const Cid d = seq_cid(8, 1), s = seq_cid(8, 9);
  std::span<const uint8_t> token;
  EXPECT_TRUE(check_initial(long_packet(kInitial, kQuicV1, d.view(), s.view(), 1200), token));
  for (size_t n : {1199u, 1000u, 100u, 30u}) {
    EXPECT_FALSE(check_initial(long_packet(kInitial, kQuicV1, d.view(), s.view(), n), token)) << n;
  }
  // A real Initial cut below 1200 bytes as well.
  TestClient client(seq_cid(18, 1), seq_cid(kOurCidLen, 2));
  ASSERT_TRUE(client.ok());
  Bytes pkt = client.initial();
  pkt.resize(1199);
  EXPECT_FALSE(check_initial(pkt, token));
}

TEST(CheckInitial, DcidShorterThan8IsRejected) {
  const Cid s = seq_cid(8, 9);
  std::span<const uint8_t> token;
  for (size_t dlen : {0u, 1u, 4u, 7u}) {
    const Cid d = seq_cid(dlen, 1);
    EXPECT_FALSE(check_initial(long_packet(kInitial, kQuicV1, d.view(), s.view(), 1200), token))
        << dlen;
  }
  EXPECT_TRUE(
      check_initial(long_packet(kInitial, kQuicV1, seq_cid(8, 1).view(), s.view(), 1200), token));
}

// A token does not excuse a short DCID: ours are 16 bytes after a Retry, and a client using a
// NEW_TOKEN chooses a fresh random DCID of at least 8 bytes.
TEST(CheckInitial, DcidShorterThan8IsRejectedEvenWithAToken) {
  const Cid d = seq_cid(7, 1), s = seq_cid(8, 9);
  const Bytes tok{0x36, 1, 2, 3, 4, 5, 6, 7, 8};
  std::span<const uint8_t> token;
  EXPECT_FALSE(check_initial(long_packet(kInitial, kQuicV1, d.view(), s.view(), 1200, tok), token));
}

TEST(CheckInitial, ReturnsTheToken) {
  const Cid d = seq_cid(8, 1), s = seq_cid(8, 9);
  const Bytes tok{0xb6, 9, 8, 7, 6, 5, 4, 3, 2, 1};
  const Bytes pkt = long_packet(kInitial, kQuicV1, d.view(), s.view(), 1200, tok);
  std::span<const uint8_t> token;
  ASSERT_TRUE(check_initial(pkt, token));
  EXPECT_TRUE(same(token, tok));
  EXPECT_GE(token.data(), pkt.data());  // points into the packet
  EXPECT_LE(token.data() + token.size(), pkt.data() + pkt.size());
}

TEST(CheckInitial, RejectsOtherPacketTypesAndGarbage) {
  const Cid d = seq_cid(8, 1), s = seq_cid(8, 9);
  std::span<const uint8_t> token;
  for (uint8_t type : {kZeroRtt, kHandshake, kRetry}) {
    EXPECT_FALSE(check_initial(long_packet(type, kQuicV1, d.view(), s.view(), 1200), token))
        << int(type);
  }
  EXPECT_FALSE(check_initial(short_packet(seq_cid(kOurCidLen, 1).view(), 1200), token));
  EXPECT_FALSE(check_initial({}, token));
  // Token length running past the end of the datagram.
  Bytes pkt = long_packet(kInitial, kQuicV1, d.view(), s.view(), 1200);
  const size_t tok_len_at = 7 + d.len + s.len;
  pkt[tok_len_at] = 0x7f;  // 2-byte varint 0x3fff = 16383
  pkt[tok_len_at + 1] = 0xff;
  EXPECT_FALSE(check_initial(pkt, token));
  // Bogus DCID length.
  pkt = long_packet(kInitial, kQuicV1, d.view(), s.view(), 1200);
  pkt[5] = 21;
  EXPECT_FALSE(check_initial(pkt, token));
}

// ---------------------------------------------------------------------------------------------
// Version Negotiation

TEST(VersionNegotiation, EchoesCidsSwappedAndListsV1) {
  const Cid d = seq_cid(8, 1), s = seq_cid(12, 0x50);
  std::array<uint8_t, 256> out;
  const size_t n = write_version_negotiation(out, d.view(), s.view());
  ASSERT_GT(n, 0u);
  const std::span<const uint8_t> pkt{out.data(), n};
  HeaderInfo h;
  ASSERT_EQ(parse_header(pkt, kOurCidLen, h), ParseResult::ok);
  ASSERT_EQ(h.form, HeaderInfo::Form::version_negotiation);
  // RFC 9000 §17.2.1: the client's SCID becomes our DCID and vice versa.
  EXPECT_TRUE(same(h.dcid, s.view()));
  EXPECT_TRUE(same(h.scid, d.view()));
  EXPECT_EQ((n - 7 - d.len - s.len) % 4, 0u);
  const auto versions = vn_versions(pkt, h);
  EXPECT_NE(std::find(versions.begin(), versions.end(), kQuicV1), versions.end());
  EXPECT_EQ(std::find(versions.begin(), versions.end(), 0u), versions.end());
}

// A client of another version may use CIDs up to 255 bytes (RFC 8999 §5.1): echoed as they are.
TEST(VersionNegotiation, LongAndEmptyCids) {
  const Bytes long_dcid(255, 0x11);
  std::array<uint8_t, 1500> out;
  size_t n = write_version_negotiation(out, long_dcid, {});
  ASSERT_GT(n, 7 + long_dcid.size());
  EXPECT_EQ((n - 7 - long_dcid.size()) % 4, 0u);
  EXPECT_EQ(out[0] & 0x80, 0x80);
  EXPECT_EQ(out[1] | out[2] | out[3] | out[4], 0);  // version 0
  EXPECT_EQ(out[5], 0);                             // our DCID: the client's empty SCID
  EXPECT_EQ(out[6], 255);                           // our SCID: the client's DCID
  EXPECT_TRUE(same({out.data() + 7, 255}, long_dcid));
  HeaderInfo h;
  h.scid = long_dcid;
  const auto versions = vn_versions({out.data(), n}, h);
  EXPECT_NE(std::find(versions.begin(), versions.end(), kQuicV1), versions.end());
  // Too small a buffer: nothing.
  EXPECT_EQ(write_version_negotiation({out.data(), 10}, long_dcid, {}), 0u);
}

// ---------------------------------------------------------------------------------------------
// Retry tokens

class RetryToken : public testing::Test {
 protected:
  void SetUp() override {
    for (size_t i = 0; i < secret_.size(); ++i)
      secret_[i] = static_cast<uint8_t>(i * 7 + 1);
    key_ = std::make_unique<RetryTokenKey>(secret_);
    len_ = key_->make(token_, client_, retry_scid_, odcid_, ts_);
    ASSERT_GT(len_, 0u);
    ASSERT_LE(len_, kMaxRetryTokenLen);
  }
  bool verify(std::span<const uint8_t> tok, const net::Address& client, uint64_t at,
              std::span<const uint8_t> secret) {
    Cid got;
    return RetryTokenKey(secret).verify(tok, client, retry_scid_, kLifetime, at, got);
  }
  std::span<const uint8_t> token() const { return {token_.data(), len_}; }

  static constexpr uint64_t kLifetime = 10'000'000'000;  // 10 s
  std::array<uint8_t, 32> secret_;
  const net::Address client_ = addr("203.0.113.5", 40000);
  const Cid retry_scid_ = seq_cid(kOurCidLen, 0x90);
  const Cid odcid_ = seq_cid(18, 0x20);
  const uint64_t ts_ = 1'000'000'000'000;
  std::unique_ptr<RetryTokenKey> key_;
  std::array<uint8_t, kMaxRetryTokenLen> token_{};
  size_t len_ = 0;
};

TEST_F(RetryToken, ValidTokenYieldsOriginalDcid) {
  EXPECT_TRUE(is_retry_token(token()));
  Cid got;
  ASSERT_TRUE(key_->verify(token(), client_, retry_scid_, kLifetime, ts_ + 1, got));
  EXPECT_EQ(got, odcid_);
  EXPECT_TRUE(verify(token(), client_, ts_ + kLifetime / 2, secret_));
}

TEST_F(RetryToken, ExpiredTokenIsRejected) {
  EXPECT_TRUE(verify(token(), client_, ts_ + kLifetime - 1, secret_));
  EXPECT_FALSE(verify(token(), client_, ts_ + kLifetime + 1, secret_));
  EXPECT_FALSE(verify(token(), client_, ts_ + 100 * kLifetime, secret_));
}

TEST_F(RetryToken, OtherClientAddressOrPortIsRejected) {
  EXPECT_FALSE(verify(token(), addr("203.0.113.6", 40000), ts_, secret_));
  EXPECT_FALSE(verify(token(), addr("203.0.113.5", 40001), ts_, secret_));
  EXPECT_FALSE(verify(token(), addr("::ffff:203.0.113.5", 40000), ts_, secret_));
  EXPECT_FALSE(verify(token(), addr("2001:db8::5", 40000), ts_, secret_));
}

TEST_F(RetryToken, OtherDcidIsRejected) {
  Cid got;
  EXPECT_FALSE(key_->verify(token(), client_, seq_cid(kOurCidLen, 0x91), kLifetime, ts_, got));
  EXPECT_FALSE(key_->verify(token(), client_, odcid_, kLifetime, ts_, got));
}

TEST_F(RetryToken, EveryTamperedByteIsRejected) {
  for (size_t i = 0; i < len_; ++i) {
    for (uint8_t bit : {0x01, 0x80}) {
      Bytes t(token().begin(), token().end());
      t[i] ^= bit;
      EXPECT_FALSE(verify(t, client_, ts_, secret_)) << "byte " << i << " bit " << int(bit);
    }
  }
}

TEST_F(RetryToken, WrongLengthIsRejected) {
  Bytes t(token().begin(), token().end());
  for (size_t n = 0; n < len_; ++n)
    EXPECT_FALSE(verify({t.data(), n}, client_, ts_, secret_)) << n;
  t.push_back(0);
  EXPECT_FALSE(verify(t, client_, ts_, secret_));
  t.resize(kMaxRetryTokenLen, 0);
  EXPECT_FALSE(verify(t, client_, ts_, secret_));
}

TEST_F(RetryToken, OtherSecretIsRejected) {
  auto other = secret_;
  other[31] ^= 1;
  EXPECT_FALSE(verify(token(), client_, ts_, other));
}

TEST_F(RetryToken, NotARetryToken) {
  EXPECT_FALSE(is_retry_token({}));
  const Bytes regular{0x36, 1, 2, 3};
  EXPECT_FALSE(is_retry_token(regular));
  EXPECT_FALSE(verify(regular, client_, ts_, secret_));
  Bytes t(token().begin(), token().end());
  t[0] = 0x36;
  EXPECT_FALSE(is_retry_token(t));
  EXPECT_FALSE(verify(t, client_, ts_, secret_));
}

TEST_F(RetryToken, TokensDifferEachTime) {
  std::array<uint8_t, kMaxRetryTokenLen> again{};
  const size_t n = key_->make(again, client_, retry_scid_, odcid_, ts_);
  ASSERT_EQ(n, len_);
  EXPECT_FALSE(same({again.data(), n}, token()));  // random nonce per token
  EXPECT_TRUE(verify({again.data(), n}, client_, ts_, secret_));
}

TEST_F(RetryToken, LengthFollowsTheOriginalDcid) {
  // magic, nonce, issued-at, DCID length, DCID, tag
  EXPECT_EQ(len_, 1 + 12 + 8 + 1 + odcid_.len + 16);
  std::array<uint8_t, kMaxRetryTokenLen> out{};
  for (size_t n : {0, 8, 20}) {
    const Cid od = seq_cid(n, 0x30);
    const size_t got = key_->make(out, client_, retry_scid_, od, ts_);
    ASSERT_EQ(got, 38 + n);
    Cid back;
    ASSERT_TRUE(key_->verify({out.data(), got}, client_, retry_scid_, kLifetime, ts_, back));
    EXPECT_EQ(back, od);
  }
}

TEST_F(RetryToken, ThreadsShareOneKey) {
  constexpr int kThreads = 4, kEach = 2000;
  std::vector<std::vector<Bytes>> made(kThreads);
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::array<uint8_t, kMaxRetryTokenLen> out{};
      for (int i = 0; i < kEach; ++i) {
        const size_t n = key_->make(out, client_, retry_scid_, odcid_, ts_);
        Cid back;
        if (!key_->verify({out.data(), n}, client_, retry_scid_, kLifetime, ts_, back) ||
            back != odcid_) {
          ++bad;
        }
        made[t].emplace_back(out.begin(), out.begin() + n);
      }
    });
  }
  for (auto& th : threads)
    th.join();
  EXPECT_EQ(bad.load(), 0);
  std::set<Bytes> nonces;
  for (const auto& v : made)
    for (const auto& tok : v)
      nonces.insert(Bytes(tok.begin() + 1, tok.begin() + 13));
  EXPECT_EQ(nonces.size(), size_t{kThreads} * kEach) << "a nonce was used twice";
}

TEST_F(RetryToken, TooSmallOutputBufferFails) {
  std::array<uint8_t, 16> small{};
  EXPECT_EQ(key_->make(small, client_, retry_scid_, odcid_, ts_), 0u);
}

// A whole Retry round trip with a real client: Retry -> new Initial with the token, addressed
// to our retry SCID -> the token verifies and gives back the original DCID.
TEST(Retry, RoundTripWithRealClient) {
  const Cid odcid = seq_cid(18, 0x21), client_scid = seq_cid(kOurCidLen, 0x41);
  TestClient client(odcid, client_scid);
  ASSERT_TRUE(client.ok());
  ASSERT_FALSE(client.initial().empty());  // the first flight, which the Retry answers

  std::array<uint8_t, 32> secret{};
  secret.fill(0x5c);
  const Cid retry_scid = seq_cid(kOurCidLen, 0xa0);
  const uint64_t ts = now_ns();
  std::array<uint8_t, kMaxRetryTokenLen> tok;
  RetryTokenKey key(secret);
  const size_t tlen = key.make(tok, TestClient::local(), retry_scid, odcid, ts);
  ASSERT_GT(tlen, 0u);
  std::array<uint8_t, 1500> out;
  const size_t n = write_retry(out, kQuicV1, client_scid, retry_scid, odcid, {tok.data(), tlen});
  ASSERT_GT(n, 0u);
  HeaderInfo h;
  ASSERT_EQ(parse_header({out.data(), n}, kOurCidLen, h), ParseResult::ok);
  EXPECT_EQ(h.form, HeaderInfo::Form::retry);
  EXPECT_TRUE(same(h.dcid, client_scid.view()));
  EXPECT_TRUE(same(h.scid, retry_scid.view()));

  ASSERT_EQ(client.read({out.data(), n}), QuicConn::Status::ok);
  const Bytes second = client.initial();
  ASSERT_EQ(parse_header(second, kOurCidLen, h), ParseResult::ok);
  EXPECT_EQ(h.form, HeaderInfo::Form::initial);
  EXPECT_TRUE(same(h.dcid, retry_scid.view()));
  std::span<const uint8_t> token;
  ASSERT_TRUE(check_initial(second, token));
  EXPECT_TRUE(same(token, {tok.data(), tlen}));
  Cid got;
  ASSERT_TRUE(key.verify(token, TestClient::local(), Cid(h.dcid.data(), h.dcid.size()),
                         10'000'000'000, ts, got));
  EXPECT_EQ(got, odcid);
}

// ---------------------------------------------------------------------------------------------
// Stateless reset

TEST(StatelessResetToken, DeterministicPerSecretAndCid) {
  std::array<uint8_t, 32> s1{}, s2{};
  s1.fill(1);
  s2.fill(1);
  s2[0] = 2;
  const Cid c1 = seq_cid(kOurCidLen, 1), c2 = seq_cid(kOurCidLen, 2);
  const ResetTokenKey k1(s1), k1_again(s1), k2(s2);
  const ResetToken a = k1.token(c1.view());
  EXPECT_EQ(a, k1_again.token(c1.view()));  // another process with the same secret
  EXPECT_EQ(a, k1.token(c1.view()));
  EXPECT_NE(a, k1.token(c2.view()));
  EXPECT_NE(a, k2.token(c1.view()));
  EXPECT_NE(a, ResetToken{});
}

// Pins the construction, computed independently with OpenSSL:
//   KEY=$(openssl kdf -keylen 16 -kdfopt digest:SHA256 -kdfopt hexkey:0101...01 (32 bytes)
//         -kdfopt info:"asioquic stateless reset token key" HKDF)
//   openssl mac -cipher AES-128-CBC -macopt hexkey:$KEY -in CID CMAC
// Tokens must not change between releases: a restarted server resets its predecessor's
// connections only if it derives the same ones.
TEST(StatelessResetToken, KnownAnswers) {
  std::array<uint8_t, 32> secret{};
  secret.fill(1);
  const ResetTokenKey key(secret);
  const std::array<uint8_t, 15> cid{0x0f, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06,
                                    0x07, 0x08, 0x09, 0xaa, 0xbb, 0xcc, 0xdd};
  const ResetToken want{0xe2, 0x72, 0x43, 0x26, 0x1a, 0x20, 0xd6, 0x5c,
                        0x3c, 0x00, 0xeb, 0x06, 0x05, 0x40, 0x22, 0xd2};
  EXPECT_EQ(key.token(cid), want);
  const ResetToken want_empty{0x76, 0x49, 0xbe, 0x93, 0xd9, 0x42, 0xcb, 0xeb,
                              0x92, 0x2b, 0x00, 0xd0, 0xfb, 0xc7, 0xd4, 0xf9};
  EXPECT_EQ(key.token({}), want_empty);
}

TEST(StatelessResetToken, DistinctAcrossManyCids) {
  std::array<uint8_t, 32> secret{};
  secret.fill(9);
  const ResetTokenKey key(secret);
  quic::CidGenerator gen(7, 0);
  std::set<ResetToken> seen;
  for (int i = 0; i < 1000; ++i)
    seen.insert(key.token(gen.generate().view()));
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(StatelessResetToken, SharedKeyAcrossThreads) {
  std::array<uint8_t, 32> secret{};
  secret.fill(5);
  const ResetTokenKey key(secret);
  const Cid c = seq_cid(kOurCidLen, 7);
  const ResetToken want = key.token(c.view());
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i)
        if (key.token(c.view()) != want) mismatches.fetch_add(1);
    });
  }
  for (auto& th : threads)
    th.join();
  EXPECT_EQ(mismatches.load(), 0);
}

TEST(WriteStatelessReset, ShorterThanTriggerAndEndsWithToken) {
  std::array<uint8_t, 32> secret{};
  secret.fill(3);
  const Cid dcid = seq_cid(kOurCidLen, 0x33);
  const ResetTokenKey key(secret);
  const ResetToken token = key.token(dcid.view());
  for (size_t trigger : {22u, 23u, 30u, 43u, 44u, 45u, 100u, 1200u, 1500u}) {
    std::array<uint8_t, 1500> out;
    const size_t n = write_stateless_reset(out, key, dcid.view(), trigger);
    ASSERT_GT(n, 0u) << trigger;
    EXPECT_LT(n, trigger);
    // At least 5 unpredictable bytes + the token (RFC 9000 §10.3).
    EXPECT_GE(n, 21u);
    // Small triggers get a reset one byte shorter, so it looks like a short packet (§10.3).
    if (trigger <= 44) {
      EXPECT_EQ(n, trigger - 1) << trigger;
    }
    EXPECT_EQ(out[0] & 0xc0, 0x40);  // short header form with the fixed bit
    EXPECT_TRUE(same({out.data() + n - kStatelessResetTokenLen, kStatelessResetTokenLen}, token));
  }
}

TEST(WriteStatelessReset, NothingForTooShortTriggers) {
  const ResetTokenKey key(std::array<uint8_t, 32>{});
  const Cid dcid = seq_cid(kOurCidLen, 0x33);
  std::array<uint8_t, 1500> out;
  // No reset of 21 bytes or more can be shorter than these.
  for (size_t trigger = 0; trigger <= 21; ++trigger)
    EXPECT_EQ(write_stateless_reset(out, key, dcid.view(), trigger), 0u) << trigger;
}

TEST(WriteStatelessReset, RandomPartDiffers) {
  const ResetTokenKey key(std::array<uint8_t, 32>{});
  const Cid dcid = seq_cid(kOurCidLen, 0x33);
  std::array<uint8_t, 1500> a, b;
  const size_t na = write_stateless_reset(a, key, dcid.view(), 1200);
  const size_t nb = write_stateless_reset(b, key, dcid.view(), 1200);
  ASSERT_EQ(na, nb);
  EXPECT_FALSE(
      same({a.data(), na - kStatelessResetTokenLen}, {b.data(), nb - kStatelessResetTokenLen}));
}

// ---------------------------------------------------------------------------------------------
// Refusal

TEST(WriteRefusal, ClientReadsConnectionRefused) {
  for (const Cid& client_scid : {seq_cid(kOurCidLen, 0x41), Cid()}) {
    const Cid odcid = seq_cid(18, 0x21);
    TestClient client(odcid, client_scid);
    ASSERT_TRUE(client.ok());
    const Bytes first = client.initial();
    HeaderInfo h;
    ASSERT_EQ(parse_header(first, kOurCidLen, h), ParseResult::ok);

    std::array<uint8_t, 1500> out;
    const size_t n = write_refusal(out, h.version, h.dcid, h.scid, 0x2);
    ASSERT_GT(n, 0u);
    HeaderInfo r;
    ASSERT_EQ(parse_header({out.data(), n}, kOurCidLen, r), ParseResult::ok);
    EXPECT_EQ(r.form, HeaderInfo::Form::initial);
    EXPECT_TRUE(same(r.dcid, client_scid.view()));

    EXPECT_EQ(client.read({out.data(), n}), QuicConn::Status::draining);
    EXPECT_TRUE(client.conn().close_info().by_peer);
    EXPECT_EQ(client.conn().close_info().code, 0x2u);
    EXPECT_EQ(client.conn().close_info().error, errc::connection_refused);
  }
}

}  // namespace
}  // namespace asioquic::engine
