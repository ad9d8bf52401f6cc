# tests/fs/shell_tests.cmake - registers the shell tests of tests/fs (real
# tools on a real pmxcfs mount), label fs.  Included by tests/fs/CMakeLists.txt.
#   tools_test.sh: the daemon driven by ordinary tools, tests "tools.<case>";
#   ipc_test.sh: the IPC (change feed, status, cluster log) through the real
#   client tools, tests "ipc.<case>".
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${CMAKE_CURRENT_SOURCE_DIR}/lib.sh")
pve_script_cases(${CMAKE_CURRENT_SOURCE_DIR}/tools_test.sh tools fs 300
  "PMXCFS_BIN=$<TARGET_FILE:pmxcfs>")
pve_script_cases(${CMAKE_CURRENT_SOURCE_DIR}/ipc_test.sh ipc fs 300
  "PMXCFS_BIN=$<TARGET_FILE:pmxcfs>;PMXCFS_WATCH=$<TARGET_FILE:pmxcfs-watch>;PVECM=$<TARGET_FILE:pvecm>;PMXCFS_LOG=$<TARGET_FILE:pmxcfs-log>;IPC_GARBAGE=$<TARGET_FILE:ipc_garbage>")
#   pct_test.sh: pct config/set/pending on a real mount, tests "pct.<case>".
pve_script_cases(${CMAKE_CURRENT_SOURCE_DIR}/pct_test.sh pct fs 300
  "PMXCFS_BIN=$<TARGET_FILE:pmxcfs>;PCT=$<TARGET_FILE:pct>")
