# CMake generated Testfile for 
# Source directory: /work/wt-elementwise
# Build directory: /work/wt-elementwise/build
# 
# This file includes the relevant testing commands required for 
# testing this directory and lists subdirectories to be tested as well.
include("/work/wt-elementwise/build/tessera_tests[1]_include.cmake")
