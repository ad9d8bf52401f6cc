# tests/fs/shell_tests.cmake - registers the shell tests of tests/fs/tools_test.sh
# (real tools on a real pmxcfs mount) as CTest tests "tools.<case>", label fs.
# Included by tests/fs/CMakeLists.txt.  The cases are the script's t_<case>
# functions, read from the script itself so the list cannot drift.

set(_tools_script "${CMAKE_CURRENT_SOURCE_DIR}/tools_test.sh")
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
  "${_tools_script}" "${CMAKE_CURRENT_SOURCE_DIR}/lib.sh")
file(STRINGS "${_tools_script}" _tools_lines REGEX "^t_[a-z0-9_]+\\(\\)")
foreach(_line ${_tools_lines})
  string(REGEX REPLACE "^t_([a-z0-9_]+)\\(\\).*" "\\1" _case "${_line}")
  add_test(NAME tools.${_case} COMMAND bash ${_tools_script} ${_case})
  set_tests_properties(tools.${_case} PROPERTIES LABELS "fs" TIMEOUT 300
    ENVIRONMENT "PMXCFS_BIN=$<TARGET_FILE:pmxcfs>")
endforeach()

# tests/fs/ipc_test.sh: the IPC (change feed, status, cluster log) through the
# real client tools, as CTest tests "ipc.<case>", label fs.
set(_ipc_script "${CMAKE_CURRENT_SOURCE_DIR}/ipc_test.sh")
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${_ipc_script}")
file(STRINGS "${_ipc_script}" _ipc_lines REGEX "^t_[a-z0-9_]+\\(\\)")
foreach(_line ${_ipc_lines})
  string(REGEX REPLACE "^t_([a-z0-9_]+)\\(\\).*" "\\1" _case "${_line}")
  add_test(NAME ipc.${_case} COMMAND bash ${_ipc_script} ${_case})
  set_tests_properties(ipc.${_case} PROPERTIES LABELS "fs" TIMEOUT 300
    ENVIRONMENT "PMXCFS_BIN=$<TARGET_FILE:pmxcfs>;PMXCFS_WATCH=$<TARGET_FILE:pmxcfs-watch>;PVECM=$<TARGET_FILE:pvecm>;PMXCFS_LOG=$<TARGET_FILE:pmxcfs-log>;IPC_GARBAGE=$<TARGET_FILE:ipc_garbage>")
endforeach()
