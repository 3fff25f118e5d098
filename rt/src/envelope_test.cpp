// Envelopes: the compact layout (sizes, the sender word's flags, the
// optional extension) and what a handler reads through envelope() for every
// combination of send options, payloads above and below the pool's block
// sizes, and asks whose extension carries the reply slot.
#include <airssys/rt/system.hpp>
#include <airssys/testing/eventually.hpp>
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace rt = airssys::rt;
namespace d = airssys::rt::detail;
using namespace std::chrono_literals;
using airssys::testing::eventually;

namespace {

struct Empty {};
struct Two { std::uint64_t a, b; };
struct Three { std::uint64_t a, b, c; };

// What the pool's 64-byte classes make of them (docs/rt.md, Envelopes).
static_assert(sizeof(d::Envelope) == 48);
static_assert(sizeof(d::TypedEnvelope<Empty>) <= 64);
static_assert(sizeof(d::TypedEnvelope<Two>) == 64);
static_assert(sizeof(d::TypedEnvelope<Three>) == 72);  // past 16 bytes: a 128-byte block
static_assert(sizeof(d::WideTypedEnvelope<Empty>) <= 80);
static_assert(sizeof(d::TypedEnvelope<d::SysMsg>) <= 128);

TEST(Envelope, SenderWordKeepsFlagsAndSenderApart) {
  auto e = std::make_unique<d::TypedEnvelope<int>>(5);
  EXPECT_FALSE(e->wide());
  EXPECT_FALSE(e->has_deadline());
  EXPECT_EQ(e->ext(), nullptr);
  EXPECT_EQ(e->reply_slot(), nullptr);
  e->set_priority(rt::Priority::system);
  e->set_sender(d::Envelope::kSenderMask);  // the largest id it holds
  EXPECT_EQ(e->sender(), d::Envelope::kSenderMask);
  EXPECT_EQ(e->priority(), rt::Priority::system);
  e->set_sender(~std::uint64_t{0});  // bits above the mask never reach the flags
  EXPECT_FALSE(e->wide());
  EXPECT_FALSE(e->has_deadline());
  EXPECT_EQ(e->priority(), rt::Priority::system);
  e->set_sender(42);
  e->set_priority(rt::Priority::normal);
  EXPECT_EQ(e->sender(), 42u);
  EXPECT_EQ(e->priority(), rt::Priority::normal);
  EXPECT_EQ(d::payload<int>(*e), 5);
  const rt::EnvelopeHeader h = e->header();
  EXPECT_EQ(h.sender, 42u);
  EXPECT_EQ(h.correlation_id, 0u);
  EXPECT_EQ(h.deadline_ns, 0);
}

TEST(Envelope, WideEnvelopeCarriesItsExtension) {
  auto w = std::make_unique<d::WideTypedEnvelope<std::string>>(std::string(300, 'w'));
  w->x.correlation_id = 77;
  w->set_deadline(123'456'789);
  w->set_sender(9);
  w->set_priority(rt::Priority::system);
  d::Envelope& e = *w;
  EXPECT_TRUE(e.wide());
  EXPECT_TRUE(e.has_deadline());
  EXPECT_EQ(e.deadline_ns(), 123'456'789);
  EXPECT_EQ(d::payload<std::string>(e), std::string(300, 'w'));
  const rt::EnvelopeHeader h = e.header();
  EXPECT_EQ(h.sender, 9u);
  EXPECT_EQ(h.correlation_id, 77u);
  EXPECT_EQ(h.deadline_ns, 123'456'789);
  EXPECT_EQ(h.priority, rt::Priority::system);
  w->set_deadline(0);
  EXPECT_FALSE(e.has_deadline());
  EXPECT_TRUE(e.wide());
}

// Payloads: below a block, past the pool's largest class (512 bytes: the
// global operator new), and one that owns heap memory.
using Big = std::array<char, 1000>;
struct Seen {
  rt::EnvelopeHeader h;
  std::string what;
};

class Recorder : public rt::Actor<Recorder, Empty, Two, Big, std::string> {
 public:
  explicit Recorder(std::vector<Seen>* out) : out_(out) {}
  void handle(Empty&) { out_->push_back({envelope(), "empty"}); }
  void handle(Two& t) { out_->push_back({envelope(), "two " + std::to_string(t.a) + " " + std::to_string(t.b)}); }
  void handle(Big& b) { out_->push_back({envelope(), "big " + std::string(b.data(), 4) + b[999]}); }
  void handle(std::string& s) { out_->push_back({envelope(), s}); }

 private:
  std::vector<Seen>* out_;
};

struct Go {};
class Sender : public rt::Actor<Sender, Go> {
 public:
  explicit Sender(Recorder::ref_type to) : to_(std::move(to)) {}
  void handle(Go&) {
    Big big{};
    big.fill('b');
    big[0] = 'B';
    big[999] = 'z';
    (void)to_.tell(Empty{});
    (void)to_.tell(Two{1, 2}, {.priority = rt::Priority::system});
    (void)to_.tell(Two{3, 4}, {.ttl = 1h, .correlation_id = 11});
    (void)to_.tell(big);
    (void)to_.tell(big, {.ttl = 2h, .correlation_id = 12, .priority = rt::Priority::system});
    (void)to_.tell(std::string(200, 's'), {.correlation_id = 13});
    (void)to_.tell(std::string("short"));
  }

 private:
  Recorder::ref_type to_;
};

TEST(Envelope, HandlerReadsEveryOptionForEveryPayloadSize) {
  rt::ActorSystem sys{{.deterministic = true}};
  std::vector<Seen> seen;
  auto r = sys.spawn<Recorder>(&seen).value();
  auto s = sys.spawn<Sender>(r).value();
  const std::int64_t before = d::now_ns();
  ASSERT_TRUE(s.tell(Go{}).has_value());
  sys.run_until_idle();
  ASSERT_EQ(seen.size(), 7u);

  const std::vector<std::string> what{"empty", "two 1 2", "two 3 4", "big Bbbbz", "big Bbbbz",
                                      std::string(200, 's'), "short"};
  const std::vector<std::uint64_t> corr{0, 0, 11, 0, 12, 13, 0};
  const std::vector<std::int64_t> ttl{0, 0, std::chrono::nanoseconds(1h).count(), 0,
                                      std::chrono::nanoseconds(2h).count(), 0, 0};
  const std::vector<rt::Priority> prio{rt::Priority::normal, rt::Priority::system, rt::Priority::normal,
                                       rt::Priority::normal, rt::Priority::system, rt::Priority::normal,
                                       rt::Priority::normal};
  for (std::size_t i = 0; i < seen.size(); ++i) {
    SCOPED_TRACE(i);
    const rt::EnvelopeHeader& h = seen[i].h;
    EXPECT_EQ(seen[i].what, what[i]);
    EXPECT_EQ(h.sender, s.id());
    EXPECT_NE(h.id, 0u);
    if (i > 0) {
      EXPECT_EQ(h.id, seen[i - 1].h.id + 1);  // one sending thread: consecutive ids
    }
    EXPECT_GE(h.timestamp_ns, before);
    EXPECT_EQ(h.correlation_id, corr[i]);
    EXPECT_EQ(h.deadline_ns, ttl[i] == 0 ? 0 : h.timestamp_ns + ttl[i]);
    EXPECT_EQ(h.priority, prio[i]);
  }
}

// A tell from a plain thread has sender 0.
TEST(Envelope, PlainThreadSendsAsNoActor) {
  rt::ActorSystem sys{{.deterministic = true}};
  std::vector<Seen> seen;
  auto r = sys.spawn<Recorder>(&seen).value();
  ASSERT_TRUE(r.tell(Empty{}, {.correlation_id = 5}).has_value());
  sys.run_until_idle();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].h.sender, 0u);
  EXPECT_EQ(seen[0].h.correlation_id, 5u);
}

// What a handler keeps of envelope() stays its own message's header while
// other handlers run on the same thread inside it (here another system's
// run_until_idle()). 09dd72f returned a reference to one per-thread copy,
// which the inner handler's envelope() overwrote (correlation id 7 read
// back as 0).
struct Nest {
  rt::ActorSystem* inner;
  Recorder::ref_type to;
};
class Nester : public rt::Actor<Nester, Nest> {
 public:
  explicit Nester(std::uint64_t* kept) : kept_(kept) {}
  void handle(Nest& n) {
    const auto& h = envelope();
    (void)n.to.tell(Empty{}, {.correlation_id = 99});
    n.inner->run_until_idle();
    *kept_ = h.correlation_id;
  }

 private:
  std::uint64_t* kept_;
};

TEST(Envelope, AKeptHeaderSurvivesHandlersRunInside) {
  rt::ActorSystem outer{{.deterministic = true}};
  rt::ActorSystem inner{{.deterministic = true}};
  std::vector<Seen> seen;
  auto r = inner.spawn<Recorder>(&seen).value();
  std::uint64_t kept = 0;
  auto n = outer.spawn<Nester>(&kept).value();
  ASSERT_TRUE(n.tell(Nest{&inner, r}, {.correlation_id = 7}).has_value());
  outer.run_until_idle();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].h.correlation_id, 99u);
  EXPECT_EQ(kept, 7u);
}

// Asks carry their reply slot in the extension, with or without options.
struct Get {
  using reply_type = std::string;
  std::string key;
};
struct Block {};
class Answerer : public rt::Actor<Answerer, Get, Block> {
 public:
  Answerer(std::atomic<bool>* entered, std::atomic<bool>* release) : entered_(entered), release_(release) {}
  std::string handle(Get& g) {
    const rt::EnvelopeHeader& h = envelope();
    return g.key + " " + std::to_string(h.correlation_id) + " " + (h.deadline_ns != 0 ? "ttl" : "none");
  }
  void handle(Block&) {
    entered_->store(true);
    while (!release_->load()) std::this_thread::sleep_for(1ms);
  }

 private:
  std::atomic<bool>* entered_;
  std::atomic<bool>* release_;
};

TEST(Envelope, AsksWorkWithAndWithoutOptions) {
  rt::ActorSystem sys{{.workers = 2}};
  std::atomic<bool> entered{false}, release{true};
  auto a = sys.spawn<Answerer>(&entered, &release).value();
  EXPECT_EQ(a.ask(Get{"plain"}, 60s).value(), "plain 0 none");
  EXPECT_EQ(a.ask(Get{std::string(600, 'k')}, 60s).value(), std::string(600, 'k') + " 0 none");
  EXPECT_EQ(a.ask(Get{"opts"}, 60s, {.ttl = 1h, .correlation_id = 21}).value(), "opts 21 ttl");
}

// An ask whose TTL passes while it waits is dropped and counted, and the
// asker hears broken_promise (the extension's reply slot went with it).
TEST(Envelope, ExpiredAskIsABrokenPromise) {
  rt::ActorSystem sys{{.workers = 2}};
  std::atomic<bool> entered{false}, release{false};
  auto a = sys.spawn<Answerer>(&entered, &release).value();
  ASSERT_TRUE(a.tell(Block{}).has_value());
  ASSERT_TRUE(eventually([&] { return entered.load(); }));
  // What the running batch consumed counts until it ends: the ask is the one more.
  const std::uint32_t depth = a.stats().mailbox_depth;
  std::expected<std::string, rt::Error> got;
  std::thread asker([&] { got = a.ask(Get{"late"}, 60s, {.ttl = 1ns}); });
  const bool queued = eventually([&] { return a.stats().mailbox_depth > depth; });
  std::this_thread::sleep_for(30ms);  // several ticks of the coarse clock
  release.store(true);
  asker.join();
  ASSERT_TRUE(queued);
  ASSERT_FALSE(got.has_value());
  EXPECT_EQ(got.error().category, rt::ErrorCategory::broken_promise);
  EXPECT_EQ(a.stats().expired, 1u);
}

}  // namespace
