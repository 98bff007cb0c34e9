# CMake generated Testfile for 
# Source directory: /work/wt-fast
# Build directory: /work/wt-fast/build
# 
# This file includes the relevant testing commands required for 
# testing this directory and lists subdirectories to be tested as well.
include("/work/wt-fast/build/tessera_tests[1]_include.cmake")
