// Container tasks against a real engine: the test starts its own
// `podman --runtime runc system service` on a socket in a temp dir, with its
// own storage (--root/--runroot/--tmpdir, vfs), builds a one-file image with
// `podman import` from a rootfs holding tw-payload (a static program this
// project builds; nothing is pulled), and drives the task-watchdog binary
// with DOCKER_HOST pointing at it. It stops the service it started (by pid)
// and removes its storage. Label: container (ctest -L container).
//
// crun fails on this machine's hybrid cgroup layout, hence --runtime runc;
// there is no systemd, hence cgroupfs and the file events backend. Tasks run
// with NetworkMode "none" (TASK_WATCHDOG_CONTAINER_NETWORK) so the test does
// not set up host networking.

#include "harness.hpp"

#include "container/docker_client.hpp"
#include "container/engine.hpp"

#include <airssys/osl/cgroup.hpp>

#include <sys/mount.h>
#include <sys/stat.h>

#include <algorithm>
#include <set>

using namespace wdtest;
namespace ct = airssys::watchdog::container;

namespace {

constexpr const char* kImage = "localhost/task-watchdog-test:1";

// Starts a program (argv, no shell; searched in PATH) as our child, stdout
// and stderr appended to files (they may be one file).
Child start_program(const std::vector<std::string>& argv, const fs::path& out, const fs::path& err) {
  return Child(argv, {.stdout_path = out, .stderr_path = err});
}

// Runs a program to completion; returns its exit status and output.
Result run_program(const fs::path& dir, const std::vector<std::string>& argv) {
  const auto out = dir / "prog.out";
  const auto err = dir / "prog.err";
  fs::remove(out);
  fs::remove(err);
  auto child = start_program(argv, out, err);
  Result r;
  r.rc = wait_child(child, 300s);
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

// The podman service of this test binary, shared by its tests.
struct Podman {
  fs::path dir;
  fs::path socket;
  std::optional<Child> service;
  std::string problem;  // why it could not be set up (the tests then fail with it)

  std::vector<std::string> global() const {
    return {"podman",         "--root",           (dir / "root").string(), "--runroot", (dir / "runroot").string(),
            "--tmpdir",       (dir / "tmp").string(), "--storage-driver", "vfs",     "--runtime", "runc",
            "--cgroup-manager", "cgroupfs",       "--events-backend",  "file"};
  }

  // podman's cgroupfs manager makes <controller mount>/libpod_parent (with
  // a conmon child) in every hierarchy and leaves them; those that were not
  // there before the test are removed after it (rmdir: only if empty).
  std::vector<fs::path> new_cgroups;

  // Every hierarchy's mount point, from osl's layout (mountinfo).
  static std::vector<fs::path> libpod_cgroups() {
    const auto layout = airssys::osl::cgroup::detect_layout();
    std::set<fs::path> mounts;
    if (layout.v2_mount) mounts.insert(*layout.v2_mount);
    for (const auto& [controller, mount] : layout.v1_mounts) mounts.insert(mount);
    std::vector<fs::path> out;
    std::error_code ec;
    for (const auto& m : mounts) {
      if (fs::is_directory(m / "libpod_parent", ec)) out.push_back(m / "libpod_parent");
    }
    return out;
  }

  void setup() {
    const auto before = libpod_cgroups();
    find_new_cgroups = [this, before] {
      for (const auto& p : libpod_cgroups()) {
        if (std::find(before.begin(), before.end(), p) == before.end()) new_cgroups.push_back(p);
      }
    };
    const char* payload = std::getenv("TW_PAYLOAD");
    if (payload == nullptr || bin().empty()) {
      problem = "TW_PAYLOAD / TASK_WATCHDOG_BIN not set (run through ctest)";
      return;
    }
    std::string tmpl = (fs::temp_directory_path() / "wd-podman-XXXXXX").string();
    dir = ::mkdtemp(tmpl.data());
    socket = dir / "podman.sock";
    // The image: a rootfs with just /tw-payload.
    fs::create_directories(dir / "rootfs");
    fs::copy_file(payload, dir / "rootfs" / "tw-payload");
    auto tar = run_program(dir, {"tar", "-C", (dir / "rootfs").string(), "-cf", (dir / "rootfs.tar").string(), "."});
    if (tar.rc != 0) {
      problem = "tar: " + tar.err;
      return;
    }
    auto args = global();
    args.insert(args.end(), {"import", (dir / "rootfs.tar").string(), kImage});
    auto imp = run_program(dir, args);
    if (imp.rc != 0) {
      problem = "podman import failed: " + imp.err;
      return;
    }
    // The service: podman ... system service --time=0 unix://SOCKET.
    args = global();
    args.insert(args.end(), {"system", "service", "--time=0", "unix://" + socket.string()});
    const auto log = dir / "service.log";
    service = start_program(args, log, log);
    const ct::DockerClient client(socket.string());
    if (!eventually([&] { return client.ping().has_value(); }, 60s)) {
      problem = "podman system service did not answer on " + socket.string() + ": " + slurp(log);
    }
  }

  void teardown() {
    if (service) {
      service->signal(SIGTERM);
      if (wait_child(*service, 60s) < 0) ADD_FAILURE() << "podman service did not stop";
    }
    if (dir.empty()) return;
    // Anything podman left mounted below our storage (container shm) goes first.
    std::vector<std::string> mounts;
    std::istringstream mi(slurp("/proc/self/mountinfo"));
    for (std::string line; std::getline(mi, line);) {
      std::istringstream f(line);
      std::string id, parent, devno, root, point;
      f >> id >> parent >> devno >> root >> point;
      if (point.starts_with(dir.string() + "/")) mounts.push_back(point);
    }
    for (auto it = mounts.rbegin(); it != mounts.rend(); ++it) ::umount2(it->c_str(), MNT_DETACH);
    std::error_code ec;
    fs::remove_all(dir, ec);
    if (find_new_cgroups) find_new_cgroups();
    for (const auto& p : new_cgroups) {
      ::rmdir((p / "conmon").c_str());
      ::rmdir(p.c_str());
    }
  }
  std::function<void()> find_new_cgroups;

  std::vector<std::string> env() const {
    return {"DOCKER_HOST=unix://" + socket.string(), "TASK_WATCHDOG_CONTAINER_NETWORK=none"};
  }
  ct::DockerClient client() const { return ct::DockerClient(socket.string()); }
};

Podman* g_podman = nullptr;

class PodmanEnv : public ::testing::Environment {
 public:
  void SetUp() override {
    if (::geteuid() != 0) return;  // the tests skip themselves
    g_podman = new Podman();
    g_podman->setup();
  }
  void TearDown() override {
    if (g_podman == nullptr) return;
    g_podman->teardown();
    delete g_podman;
    g_podman = nullptr;
  }
};
const auto* const kEnv = ::testing::AddGlobalTestEnvironment(new PodmanEnv);

class Container : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "rootful podman needs root";
    ASSERT_NE(g_podman, nullptr);
    ASSERT_TRUE(g_podman->problem.empty()) << g_podman->problem;
    reg = d.path / "registry.json";
  }
  Result wd(std::vector<std::string> args) {
    args.insert(args.end() - (std::find(args.begin(), args.end(), "--") != args.end()
                                  ? std::distance(std::find(args.begin(), args.end(), "--"), args.end())
                                  : 0),
                {"--registry", reg.string()});
    return run(d.path, args, g_podman->env());
  }
  std::optional<nlohmann::json> inspect(const std::string& name) {
    auto r = ct::inspect_container(g_podman->client(), name);
    EXPECT_TRUE(r) << (r ? "" : r.error().message);
    return r ? *r : std::nullopt;
  }
  bool removed(const std::string& name) {
    auto r = ct::inspect_container(g_podman->client(), name);
    return r && !*r;
  }
  std::string state(const std::string& id) {
    auto j = status_json(d.path, reg, id);
    return j && !j->is_discarded() ? (*j)["state"].get<std::string>() : "?";
  }
  // Edits task `id`'s record in place (the test's registry; nobody else writes it then).
  void edit_record(const std::string& id, const std::function<void(nlohmann::json&)>& f) { edit_task_record(reg, id, f); }
  // Kills the background monitor of task `id` (a descendant of our `start`).
  void kill_monitor(const std::string& id) {
    auto st = status_json(d.path, reg, id);
    ASSERT_TRUE(st && (*st)["monitor_pid"].is_number());
    const pid_t monitor = (*st)["monitor_pid"].get<pid_t>();
    ASSERT_EQ(::kill(monitor, SIGKILL), 0);
    ASSERT_TRUE(eventually([&] { return gone(monitor); }, 30s));
  }
  // True once the engine says container `name` has exited (bounded wait).
  bool container_exited(const std::string& name) {
    return eventually([&] {
      auto in = inspect(name);
      return in && (*in)["State"]["Status"] == "exited";
    }, 60s);
  }
  // The same and makes its record look as if it had died between creating the container
  // and recording its id: no id, state starting.
  void lose_monitor_before_the_id_is_recorded(const std::string& id) {
    kill_monitor(id);
    edit_record(id, [](nlohmann::json& t) {
      t["container"].erase("id");
      t["state"] = "starting";
    });
  }
  // Every kill task-watchdog makes is in its audit trail (kill_audit.hpp):
  // the engine request that stopped task `id`'s container, made for
  // `reason`, has a start record and an end record "ok" in
  // <registry dir>/audit.jsonl (0600), with the container named.
  void expect_stop_audited(const std::string& id, const std::string& reason) {
    const auto file = d.path / "audit.jsonl";
    struct stat sb{};
    ASSERT_EQ(::stat(file.c_str(), &sb), 0) << file;
    EXPECT_EQ(sb.st_mode & 0777, 0600U);
    std::vector<nlohmann::json> recs;
    std::istringstream in(slurp(file));
    for (std::string line; std::getline(in, line);) recs.push_back(nlohmann::json::parse(line));
    std::optional<std::uint64_t> op;
    for (const auto& r : recs) {
      if (r["event"] != "start" || r["op"] != "process.kill" || !r.contains("detail")) continue;
      const auto& det = r["detail"];
      if (det.value("task", "") != id || det.value("reason", "") != reason) continue;
      if (det.value("request", "").find("/stop?t=") == std::string::npos) continue;
      EXPECT_EQ(r["resources"], nlohmann::json::array({"task-" + id})) << r.dump();
      EXPECT_EQ(det["container"], "task-" + id) << r.dump();
      EXPECT_EQ(r["decision"], "allow") << r.dump();
      EXPECT_EQ(r["rule"], "task-watchdog-containers") << r.dump();  // decided by osl's policy check (kill_audit.hpp)
      op = r["op_id"].get<std::uint64_t>();
    }
    ASSERT_TRUE(op) << "no stop of task-" << id << " for " << reason << " in " << file << ":\n" << slurp(file);
    const bool ended_ok = std::any_of(recs.begin(), recs.end(), [&](const nlohmann::json& r) {
      return r["event"] == "end" && r["op_id"] == *op && r["outcome"] == "ok";
    });
    EXPECT_TRUE(ended_ok) << "the stop of task-" << id << " has no end record 'ok':\n" << slurp(file);
  }
  TempDir d;
  fs::path reg;
};

}  // namespace

TEST_F(Container, StartedLimitedStoppedAtItsDeadlineAndRemoved) {
  auto r = wd({"start", "--id", "c1", "--container", kImage, "--timeout", "10s", "--grace", "1s", "--memory", "64M", "--cpus",
               "0.5", "--pids", "32", "--env", "X=y", "--", "/tw-payload", "print", "hello", "env", "TASK_ID", "env", "X",
               "eprint", "oops", "sleep", "1000"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out, "c1\n");
  // The container as the engine sees it: name, label, environment, limits.
  // (The 10 s deadline leaves room for a slow engine: with 4 s a clean-clone
  // CI run on a loaded machine found the container already removed here.)
  auto in = inspect("task-c1");
  ASSERT_TRUE(in);
  const auto& j = *in;
  EXPECT_EQ(j["Config"]["Labels"]["task-watchdog.id"], "c1");
  const auto& env = j["Config"]["Env"];
  EXPECT_NE(std::find(env.begin(), env.end(), "TASK_ID=c1"), env.end()) << env.dump();
  EXPECT_EQ(j["HostConfig"]["Memory"], 64 << 20);
  EXPECT_EQ(j["HostConfig"]["NanoCpus"], 500'000'000);
  EXPECT_EQ(j["HostConfig"]["PidsLimit"], 32);
  // status: running, with the engine's view.
  auto st = status_json(d.path, reg, "c1");
  ASSERT_TRUE(st && !st->is_discarded());
  if ((*st)["container"]["state"] == "running") {  // it may already have met its deadline on a slow machine
    EXPECT_EQ((*st)["containment"]["kind"], "container");
    EXPECT_EQ((*st)["container"]["name"], "task-c1");
    EXPECT_EQ((*st)["container"]["pids_limit"], 32);
  }
  // The deadline: stopped (SIGTERM is ignored by PID 1, so SIGKILL after the grace) and removed.
  EXPECT_TRUE(eventually([&] { return state("c1") == "timed_out"; }, 120s)) << state("c1");
  EXPECT_TRUE(removed("task-c1"));
  st = status_json(d.path, reg, "c1");
  ASSERT_TRUE(st);
  EXPECT_EQ((*st)["exit_code"], 137);
  EXPECT_EQ((*st)["container"]["state"], "removed");
  expect_stop_audited("c1", "deadline");  // by the background monitor
  // The monitor copied the container's output to the task's log files.
  r = wd({"logs", "c1"});
  EXPECT_EQ(r.out, "hello\nc1\ny\n");
  EXPECT_EQ(r.err, "oops\n");
}

TEST_F(Container, WaitReturns124AtTheDeadline) {
  auto r = wd({"start", "--wait", "--id", "w1", "--container", kImage, "--timeout", "2s", "--grace", "1s", "--", "/tw-payload",
               "sleep", "1000"});
  EXPECT_EQ(r.rc, 124) << r.err;
  EXPECT_EQ(state("w1"), "timed_out");
  EXPECT_TRUE(removed("task-w1"));
  expect_stop_audited("w1", "deadline");
}

TEST_F(Container, WaitReturnsTheContainersExitCode) {
  auto r = wd({"start", "--wait", "--id", "w2", "--container", kImage, "--", "/tw-payload", "print", "done", "exit", "7"});
  EXPECT_EQ(r.rc, 7) << r.err;
  EXPECT_EQ(state("w2"), "exited") << r.err;
  EXPECT_TRUE(removed("task-w2"));
  EXPECT_EQ(wd({"logs", "w2"}).out, "done\n") << slurp(d.path / "logs" / "w2.monitor.log") << wd({"status", "w2"}).out;
}

TEST_F(Container, KillStopsAndRemoves) {
  auto r = wd({"start", "--id", "k1", "--container", kImage, "--", "/tw-payload", "sleep", "1000"});
  ASSERT_EQ(r.rc, 0) << r.err;
  auto in = inspect("task-k1");
  ASSERT_TRUE(in);
  EXPECT_EQ((*in)["State"]["Status"], "running");
  // status and rehydrate while it runs (no deadline: nothing races them).
  const auto text = wd({"status", "k1"}).out;
  EXPECT_NE(text.find("container:   task-k1 ("), std::string::npos) << text;
  EXPECT_NE(text.find("engine: running"), std::string::npos) << text;
  EXPECT_NE(text.find("processes:   1 alive"), std::string::npos) << text;
  const auto summary = wd({"rehydrate", "--json"}).out;
  auto rj = nlohmann::json::parse(summary, nullptr, false);
  ASSERT_TRUE(rj.is_object() && rj["live"].size() == 1) << summary;
  EXPECT_EQ(rj["live"][0]["processes_alive"], 1) << summary;
  r = wd({"kill", "k1", "--grace", "1s"});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("stopped and removed"), std::string::npos) << r.out;
  EXPECT_TRUE(removed("task-k1"));
  EXPECT_TRUE(eventually([&] { return state("k1") == "killed"; }, 60s)) << state("k1");
  expect_stop_audited("k1", "kill");
  // The monitor saw the container end and left.
  auto st = status_json(d.path, reg, "k1");
  ASSERT_TRUE(st && (*st)["monitor_pid"].is_number());
  EXPECT_TRUE(eventually([&] { return gone((*st)["monitor_pid"].get<pid_t>()); }, 60s));
}

// An audit record that cannot be written fails `kill` (exit 1, said on
// stderr), but does not stand in for the engine's answer: the stop is not
// escalated as if it had failed, the container is removed, and the task is
// recorded as killed.
TEST_F(Container, KillWhoseAuditRecordCannotBeWrittenStillRemovesAndRecords) {
  auto r = wd({"start", "--id", "k3", "--container", kImage, "--", "/tw-payload", "sleep", "1000"});
  ASSERT_EQ(r.rc, 0) << r.err;
  const fs::path log = reg.parent_path() / "audit.jsonl";
  fs::remove(log);
  fs::create_directory(log);  // the sinks cannot open it
  r = wd({"kill", "k3", "--grace", "1s"});
  fs::remove(log);
  EXPECT_EQ(r.rc, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("audit"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("was not removed"), std::string::npos) << r.err;
  EXPECT_TRUE(removed("task-k3"));
  EXPECT_TRUE(eventually([&] { return state("k3") == "killed"; }, 60s)) << state("k3");
}

// The monitor dies (SIGKILL: it is a descendant of our `start`) as if
// between creating the container and recording its id: the daemon `run`
// finds the container by name and label, stops it at the deadline and
// removes it.
TEST_F(Container, RunEnforcesTheDeadlineWhenTheMonitorIsGone) {
  auto r = wd({"start", "--id", "orphan", "--container", kImage, "--timeout", "5s", "--grace", "1s", "--", "/tw-payload",
               "sleep", "1000"});
  ASSERT_EQ(r.rc, 0) << r.err;
  lose_monitor_before_the_id_is_recorded("orphan");
  auto in = inspect("task-orphan");
  ASSERT_TRUE(in);
  EXPECT_EQ((*in)["State"]["Status"], "running");  // nobody stopped it yet
  auto daemon = spawn({"run", "--interval", "1s", "--registry", reg.string()}, d.path / "daemon.out",
                             d.path / "daemon.err", g_podman->env());
  EXPECT_TRUE(eventually([&] { return state("orphan") == "timed_out"; }, 120s)) << state("orphan") << slurp(d.path / "daemon.out");
  EXPECT_TRUE(eventually([&] { return removed("task-orphan"); }, 30s));
  expect_stop_audited("orphan", "run");
  daemon.signal(SIGTERM);
  EXPECT_EQ(wait_child(daemon, 60s), 0) << slurp(d.path / "daemon.err");
}

// The monitor dies and no `run` sweeps: once the container has ended on its
// own, `cleanup` removes it (the monitor would have) and then the record.
TEST_F(Container, CleanupRemovesTheContainerOfADeadMonitor) {
  auto r = wd({"start", "--id", "dead1", "--container", kImage, "--", "/tw-payload", "sleep", "2"});
  ASSERT_EQ(r.rc, 0) << r.err;
  kill_monitor("dead1");
  ASSERT_TRUE(container_exited("task-dead1"));
  r = wd({"cleanup"});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("task 'dead1': its monitor died and its container had ended: container removed, marked exited"),
            std::string::npos) << r.out;
  EXPECT_NE(r.out.find("removed 1 ended task(s)"), std::string::npos) << r.out;
  EXPECT_TRUE(removed("task-dead1"));
  EXPECT_EQ(wd({"status", "dead1"}).rc, 3);
}

// A container task's record carries this boot's id, as a native one's does,
// and is judged by it: after a reboot its monitor pid may belong to another
// process even with the same start time (early boot is deterministic); one
// stands in here (a live `sleep` with its real start time). With another
// boot's id the monitor is gone, so `cleanup` removes the ended container;
// before, the live pid and start time made the monitor look alive and the
// container was left.
TEST_F(Container, ARecordFromAnotherBootHasNoMonitor) {
  auto r = wd({"start", "--id", "boot1", "--container", kImage, "--", "/tw-payload", "sleep", "2"});
  ASSERT_EQ(r.rc, 0) << r.err;
  auto st = status_json(d.path, reg, "boot1");
  ASSERT_TRUE(st);
  EXPECT_EQ((*st)["boot_id"], slurp("/proc/sys/kernel/random/boot_id").substr(0, 36)) << st->dump();
  kill_monitor("boot1");
  ASSERT_TRUE(container_exited("task-boot1"));
  Child stand_in({"sleep", "1000"});
  ASSERT_GT(stand_in.pid(), 0);
  const auto start = start_time_of(stand_in.pid());
  ASSERT_GT(start, 0u);
  edit_record("boot1", [&](nlohmann::json& t) {
    t["monitor_pid"] = stand_in.pid();
    t["monitor_start_time"] = start;
    t["boot_id"] = "00000000-1111-2222-3333-444444444444";
  });
  r = wd({"cleanup"});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("task 'boot1': its monitor died and its container had ended: container removed, marked exited"),
            std::string::npos) << r.out;
  EXPECT_TRUE(removed("task-boot1"));
}

// `kill` finds a container whose id was never recorded by its name and label.
TEST_F(Container, KillFindsTheContainerByNameWhenNoIdIsRecorded) {
  auto r = wd({"start", "--id", "k2", "--container", kImage, "--", "/tw-payload", "sleep", "1000"});
  ASSERT_EQ(r.rc, 0) << r.err;
  lose_monitor_before_the_id_is_recorded("k2");
  r = wd({"kill", "k2", "--grace", "1s"});
  EXPECT_EQ(r.rc, 0) << r.err;
  EXPECT_TRUE(removed("task-k2"));
  EXPECT_EQ(state("k2"), "killed");
}

// The log files are opened as native tasks' are: a symbolic link in their
// place fails the start before any container is made.
TEST_F(Container, ASymbolicLinkAtALogPathFailsTheStart) {
  const auto victim = d.path / "victim";
  std::ofstream(victim) << "keep\n";
  fs::create_directories(d.path / "logs");
  fs::create_symlink(victim, d.path / "logs" / "s.stderr.log");
  auto r = wd({"start", "--id", "s", "--container", kImage, "--", "/tw-payload", "eprint", "overwritten"});
  EXPECT_EQ(r.rc, 6) << r.err;
  EXPECT_NE(r.err.find("s.stderr.log: it is a symbolic link; refused"), std::string::npos) << r.err;
  EXPECT_EQ(state("s"), "failed");
  EXPECT_TRUE(removed("task-s"));
  EXPECT_EQ(slurp(victim), "keep\n");
}

TEST_F(Container, AMissingImageIsAClearError) {
  auto r = wd({"start", "--id", "bad", "--container", "localhost/no-such-image:1", "--", "/tw-payload"});
  EXPECT_EQ(r.rc, 6);
  EXPECT_NE(r.err.find("no-such-image"), std::string::npos) << r.err;
  EXPECT_EQ(state("bad"), "failed");
}

// Needs no engine: an empty socket path.
TEST(ContainerNoEngine, SaysSoPlainlyAndNativeTasksStillWork) {
  ASSERT_FALSE(bin().empty());
  TempDir d;
  const auto reg = (d.path / "registry.json").string();
  const auto sock = d.path / "nothing.sock";
  const std::vector<std::string> env{"DOCKER_HOST=unix://" + sock.string()};
  auto r = run(d.path, {"start", "--registry", reg, "--id", "c", "--container", kImage, "--", "/tw-payload"}, env);
  EXPECT_EQ(r.rc, 6);
  EXPECT_EQ(r.err, "task-watchdog: no container engine at unix://" + sock.string() + ": No such file or directory\n");
  r = run(d.path, {"start", "--wait", "--registry", reg, "--id", "c", "--container", kImage, "--", "/tw-payload"}, env);
  EXPECT_EQ(r.rc, 125);
  EXPECT_NE(r.err.find("no container engine at"), std::string::npos);
  r = run(d.path, {"start", "--registry", reg, "--id", "c", "--container", kImage, "--", "/tw-payload"},
          {"DOCKER_HOST=tcp://127.0.0.1:1"});
  EXPECT_EQ(r.rc, 2) << "a DOCKER_HOST this client cannot use is a usage error, as documented (it was 6)";
  EXPECT_NE(r.err.find("only unix:///PATH"), std::string::npos) << r.err;
  r = run(d.path, {"start", "--wait", "--registry", reg, "--id", "n", "--", "/bin/sh", "-c", "exit 3"}, env);
  EXPECT_EQ(r.rc, 3) << r.err;
}

// `kill` when the engine does not answer: the engine's error, exit 1, and the
// record stays live — with its monitor gone, a record saying `killed` would
// leave the container running with nobody enforcing its deadline.
TEST(ContainerNoEngine, AKillThatFailsLeavesTheRecordLive) {
  ASSERT_FALSE(bin().empty());
  TempDir d;
  const auto reg = d.path / "registry.json";
  const auto sock = d.path / "nothing.sock";
  const nlohmann::json task{{"id", "x"},
                            {"argv", {"/tw-payload", "sleep", "1000"}},
                            {"state", "running"},
                            {"containment", {{"kind", "container"}}},
                            {"container", {{"id", "0123456789ab"}, {"name", "task-x"}, {"image", kImage}, {"engine", "unix://" + sock.string()}}}};
  std::ofstream(reg) << nlohmann::json{{"schema_version", 1}, {"tasks", {{"x", task}}}}.dump();
  auto r = run(d.path, {"kill", "x", "--registry", reg.string()});
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("container task-x was not removed: no container engine at unix://" + sock.string()), std::string::npos) << r.err;
  EXPECT_TRUE(state_is(d.path, reg, "x", "running"));
}
