# CMake generated Testfile for 
# Source directory: /work/wt-linalg
# Build directory: /work/wt-linalg/build
# 
# This file includes the relevant testing commands required for 
# testing this directory and lists subdirectories to be tested as well.
include("/work/wt-linalg/build/tessera_tests[1]_include.cmake")
