# Executables are linked to <target>.part and renamed over <target>, so the
# path always holds a whole program: the old one or the new one.
#
# Why: GNU ld unlinks its output and writes the new file in place. For the
# ASan daemoneye-agent (200 MiB) that takes 4 s idle and 12-40 s on this
# busy two-core machine, and an exec of the path meanwhile fails (ENOENT,
# then ETXTBSY). Tests run from a tree another build is relinking (a shared
# working tree; ctest beside scripts/build) then fail for no fault of the
# code: daemoneye.agent_realtime's agent "never started" and its case waited
# 60 s for a scan with an empty log; another run's agent found no procmond
# beside it ("procmond not found or not executable"). rename(2) replaces the
# path in one step; a process already running keeps its own inode either way.
set(CMAKE_C_LINK_EXECUTABLE
    "<CMAKE_C_COMPILER> <FLAGS> <CMAKE_C_LINK_FLAGS> <LINK_FLAGS> <OBJECTS> -o <TARGET>.part <LINK_LIBRARIES> && mv -f <TARGET>.part <TARGET>")
set(CMAKE_CXX_LINK_EXECUTABLE
    "<CMAKE_CXX_COMPILER> <FLAGS> <CMAKE_CXX_LINK_FLAGS> <LINK_FLAGS> <OBJECTS> -o <TARGET>.part <LINK_LIBRARIES> && mv -f <TARGET>.part <TARGET>")
