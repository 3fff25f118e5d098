// The container create request and the log stream demultiplexer (no engine needed).

#include "container/engine.hpp"

#include <gtest/gtest.h>

using namespace airssys::watchdog::container;

TEST(Engine, CreateBodyCarriesNameLabelLimitsUlimitsAndTaskId) {
  ContainerSpec spec;
  spec.id = "job-1";
  spec.image = "localhost/x:1";
  spec.argv = {"/prog", "a b"};
  spec.env = {"K=V"};
  spec.workdir = "/w";
  spec.memory_bytes = 64ull << 20;
  spec.cpus = 0.5;
  spec.pids = 32;
  const auto j = create_body(spec);
  EXPECT_EQ(container_name(spec.id), "task-job-1");
  EXPECT_EQ(j["Image"], "localhost/x:1");
  EXPECT_EQ(j["Cmd"], nlohmann::json({"/prog", "a b"}));
  EXPECT_EQ(j["Env"], nlohmann::json({"K=V", "TASK_ID=job-1"}));
  EXPECT_EQ(j["Labels"]["task-watchdog.id"], "job-1");
  EXPECT_EQ(j["WorkingDir"], "/w");
  EXPECT_EQ(j["HostConfig"]["Memory"], 64ull << 20);
  EXPECT_EQ(j["HostConfig"]["NanoCpus"], 500'000'000);
  EXPECT_EQ(j["HostConfig"]["PidsLimit"], 32);
  EXPECT_FALSE(j["HostConfig"].contains("NetworkMode"));
  const auto& ul = j["HostConfig"]["Ulimits"];
  ASSERT_EQ(ul.size(), 2u);
  EXPECT_EQ(ul[0]["Name"], "nofile");
  EXPECT_EQ(ul[0]["Soft"], kContainerNofile);
  EXPECT_EQ(ul[0]["Hard"], kContainerNofile);
  EXPECT_EQ(ul[1]["Name"], "nproc");
  EXPECT_EQ(ul[1]["Hard"], kContainerNproc);
}

TEST(Engine, CreateBodyWithoutLimitsSendsNone) {
  ContainerSpec spec;
  spec.id = "x";
  spec.image = "i";
  spec.argv = {"p"};
  const auto j = create_body(spec);
  EXPECT_FALSE(j["HostConfig"].contains("Memory"));
  EXPECT_FALSE(j["HostConfig"].contains("NanoCpus"));
  EXPECT_FALSE(j["HostConfig"].contains("PidsLimit"));
  EXPECT_FALSE(j.contains("WorkingDir"));
}

TEST(Engine, LogDemuxSplitsFramesFedInPieces) {
  std::string out, err;
  LogDemux d([&](int stream, std::string_view s) { (stream == 2 ? err : out).append(s); });
  const std::string frames = std::string("\x01\0\0\0\0\0\0\x06hello\n", 14) + std::string("\x02\0\0\0\0\0\0\x04oops", 12) +
                             std::string("\x01\0\0\0\0\0\0\x00", 8) + std::string("\x01\0\0\0\0\0\0\x02!\n", 10);
  for (char c : frames) d.feed(std::string_view(&c, 1));  // the worst split: one byte at a time
  EXPECT_EQ(out, "hello\n!\n");
  EXPECT_EQ(err, "oops");
}

// A header may claim up to 4 GiB: its data is handed on as it arrives, so
// the demultiplexer holds nothing of it (the monitor's memory stays bounded).
TEST(Engine, LogDemuxHandsOnAHugeFrameAsItArrives) {
  std::string out, err;
  LogDemux d([&](int stream, std::string_view s) { (stream == 2 ? err : out).append(s); });
  d.feed(std::string("\x02\0\0\0\xff\xff\xff\xff", 8));  // stderr, 4 GiB - 1
  const std::string piece(64 * 1024, 'e');
  for (int i = 1; i <= 16; ++i) {
    d.feed(piece);
    ASSERT_EQ(err.size(), piece.size() * static_cast<std::size_t>(i));
  }
  EXPECT_EQ(out, "");
}

TEST(Engine, DockerHostMustBeUnix) {
  ::setenv("DOCKER_HOST", "tcp://127.0.0.1:2375", 1);
  auto c = DockerClient::from_env();
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("only unix:///PATH"), std::string::npos);
  ::setenv("DOCKER_HOST", "unix:///tmp/x.sock", 1);
  c = DockerClient::from_env();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->endpoint(), "unix:///tmp/x.sock");
  ::unsetenv("DOCKER_HOST");
  c = DockerClient::from_env();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->endpoint(), "unix:///var/run/docker.sock");
}

TEST(Engine, NothingOnTheSocketIsAPlainError) {
  DockerClient c("/nonexistent/dir/engine.sock");
  auto r = c.ping();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "no container engine at unix:///nonexistent/dir/engine.sock: No such file or directory");
}
