// The webhook sink: each alert's JSON is POSTed (Content-Type
// application/json) by one background thread, so a slow or hanging
// endpoint never delays a scan.
//
// Queue: bounded (SinkConfig::queue); when full, the oldest waiting alert is
// dropped and counted (webhook_dropped). deliver() only takes the lock and
// appends.
// Sending: one libcurl easy handle, created and used by the sender thread
// only; http and https only, no redirects followed, CURLOPT_NOSIGNAL, the
// configured timeout per attempt (CURLOPT_QUICK_EXIT: a name lookup still
// running at the timeout is not waited for). Connection failures, timeouts, HTTP 5xx,
// 408 and 429 are retried (SinkConfig::retries times) with exponential
// backoff from 500 ms up to 30 s; any other answer (a 4xx, a 3xx, a TLS
// verification failure) is final. Alerts are sent in order: a retrying
// alert holds the ones behind it.
// Shutdown: the destructor wakes the thread out of any backoff; every
// queued alert then gets one last attempt, all of them within one timeout
// from the destructor's start (the transfer in flight at that moment ends
// within its own timeout); what is left after that is counted as failed.
// Logs name the URL without user:password, query or fragment.
#include <curl/curl.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "alert_sink.hpp"
#include "webhook_url.hpp"

namespace airssys::daemoneye::detail {

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr std::chrono::milliseconds kFirstBackoff = 500ms;
constexpr std::chrono::milliseconds kMaxBackoff = 30s;

struct EasyDeleter {
  void operator()(CURL* h) const noexcept { curl_easy_cleanup(h); }
};
using Easy = std::unique_ptr<CURL, EasyDeleter>;

struct SlistDeleter {
  void operator()(curl_slist* l) const noexcept { curl_slist_free_all(l); }
};
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

std::size_t discard_body(char*, std::size_t size, std::size_t n, void*) { return size * n; }

bool retryable(CURLcode rc) {
  switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
      return true;
    default:
      return false;
  }
}

class WebhookSink final : public Sink {
 public:
  WebhookSink(const SinkConfig& config, std::shared_ptr<SinkCounters> counters, SinkLog log)
      : url_(config.url),
        timeout_(config.timeout),
        retries_(config.retries),
        capacity_(config.queue),
        counters_(counters),
        report_(fmt::format("webhook {}", redact_url(config.url)), std::move(counters), std::move(log)) {
    thread_ = std::thread([this] { run(); });
  }

  ~WebhookSink() override {
    {
      const std::lock_guard lock(mu_);
      stopping_ = true;
      shutdown_deadline_ = Clock::now() + timeout_;
    }
    cv_.notify_all();
    thread_.join();
  }

  WebhookSink(const WebhookSink&) = delete;
  WebhookSink& operator=(const WebhookSink&) = delete;

  void deliver(std::span<const Delivery> batch) override {
    std::uint64_t dropped = 0;
    {
      const std::lock_guard lock(mu_);
      for (const Delivery& d : batch) {
        if (queue_.size() >= capacity_) {
          queue_.pop_front();
          ++dropped;
        }
        queue_.push_back(*d.json);
      }
    }
    cv_.notify_one();
    if (dropped > 0) {
      counters_->webhook_dropped.fetch_add(dropped, std::memory_order_relaxed);
      if (!overflowing_.exchange(true)) {
        report_.log(fmt::format("{}: queue full ({} alerts waiting); dropping the oldest", report_.name(), capacity_));
      }
    }
  }

 private:
  enum class Result { delivered, retry, final_failure };

  struct Attempt {
    Result result;
    std::string error;
  };

  // Sender thread only.
  Attempt post(CURL* h, const std::string& body, std::chrono::milliseconds limit) {
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(limit.count()));
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(limit.count()));
    const CURLcode rc = curl_easy_perform(h);
    if (rc != CURLE_OK) {
      return {retryable(rc) ? Result::retry : Result::final_failure, curl_easy_strerror(rc)};
    }
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && status < 300) return {Result::delivered, {}};
    const bool again = status >= 500 || status == 429 || status == 408;
    return {again ? Result::retry : Result::final_failure, fmt::format("HTTP {}", status)};
  }

  // Sender thread only. Null on failure (reported).
  Easy make_handle(Slist& headers) {
    Easy h(curl_easy_init());
    if (!h) return nullptr;
    headers.reset(curl_slist_append(nullptr, "Content-Type: application/json"));
    // No "Expect: 100-continue" round trip for larger bodies.
    if (headers) headers.reset(curl_slist_append(headers.release(), "Expect:"));
    if (!headers) return nullptr;
    CURL* e = h.get();
    bool ok = curl_easy_setopt(e, CURLOPT_URL, url_.c_str()) == CURLE_OK;
    ok = ok && curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) == CURLE_OK;
    // A transfer that times out while the name is still being resolved does
    // not wait for the resolver's thread (getaddrinfo has no timeout; curl
    // issue #2975): it is left to finish on its own, so an attempt ends
    // within its timeout and the agent's stop budget holds (libcurl 7.87).
    ok = ok && curl_easy_setopt(e, CURLOPT_QUICK_EXIT, 1L) == CURLE_OK;
    ok = ok && curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK;
    ok = ok && curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") == CURLE_OK;
    ok = ok && curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK;
    ok = ok && curl_easy_setopt(e, CURLOPT_POST, 1L) == CURLE_OK;
    ok = ok && curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers.get()) == CURLE_OK;
    ok = ok && curl_easy_setopt(e, CURLOPT_USERAGENT, "daemoneye-agent") == CURLE_OK;
    ok = ok && curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &discard_body) == CURLE_OK;
    if (!ok) return nullptr;
    return h;
  }

  // How long the next attempt may take: the configured timeout, or what is
  // left of the shutdown budget (zero: give up).
  std::chrono::milliseconds attempt_limit() {
    const std::lock_guard lock(mu_);
    if (!stopping_) return timeout_;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(shutdown_deadline_ - Clock::now());
    return std::max(left, 0ms);
  }

  // Each failure names its cause (curl's error or "HTTP 404"), so an
  // endpoint that starts answering 404 after being unreachable is logged
  // again (FailureReporter), not hidden under "Couldn't connect".
  void send_with_retries(CURL* h, const std::string& body) {
    auto backoff = kFirstBackoff;
    for (int attempt = 0;; ++attempt) {
      const auto limit = attempt_limit();
      if (limit <= 0ms) {
        report_.failed("not delivered before shutdown");
        return;
      }
      const Attempt a = post(h, body, limit);
      if (a.result == Result::delivered) {
        counters_->webhook_delivered.fetch_add(1, std::memory_order_relaxed);
        report_.succeeded();
        return;
      }
      if (a.result == Result::final_failure) {
        report_.failed(fmt::format("{} (not retried)", a.error), 1, a.error);
        return;
      }
      std::unique_lock lock(mu_);
      if (attempt >= retries_ || stopping_) {
        lock.unlock();
        report_.failed(fmt::format("{} (after {} attempts)", a.error, attempt + 1), 1, a.error);
        return;
      }
      cv_.wait_for(lock, backoff, [this] { return stopping_; });
      if (stopping_) {
        lock.unlock();
        report_.failed(fmt::format("{} (shutting down; after {} attempts)", a.error, attempt + 1), 1, a.error);
        return;
      }
      backoff = std::min(backoff * 2, kMaxBackoff);
    }
  }

  void run() {
    Slist headers;
    const Easy h = make_handle(headers);
    for (;;) {
      std::string body;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping, nothing left
        body = std::move(queue_.front());
        queue_.pop_front();
        if (queue_.empty()) overflowing_ = false;
      }
      if (!h) {
        report_.failed("cannot set up a libcurl handle");
        continue;
      }
      send_with_retries(h.get(), body);
    }
  }

  const std::string url_;
  const std::chrono::milliseconds timeout_;
  const int retries_;
  const std::size_t capacity_;
  const std::shared_ptr<SinkCounters> counters_;
  FailureReporter report_;  // sender thread, except report_.log() and name()

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;  // guarded by mu_
  bool stopping_ = false;          // guarded by mu_
  Clock::time_point shutdown_deadline_{};  // guarded by mu_
  std::atomic<bool> overflowing_{false};
  std::thread thread_;  // last: started when everything above exists
};

}  // namespace

Result<std::unique_ptr<Sink>> make_webhook_sink(const SinkConfig& config, std::shared_ptr<SinkCounters> counters,
                                                SinkLog log) {
  if (auto ok = check_webhook_url(config.url); !ok) return std::unexpected(ok.error().prefixed("webhook sink: url"));
  // libcurl's global state is set up once, before any sender thread uses it.
  static const CURLcode global = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (global != CURLE_OK) {
    return fail(ErrorCategory::unavailable, fmt::format("webhook sink: libcurl: {}", curl_easy_strerror(global)));
  }
  return std::make_unique<WebhookSink>(config, std::move(counters), std::move(log));
}

}  // namespace airssys::daemoneye::detail
