# CMake generated Testfile for 
# Source directory: /work/wt-indexing
# Build directory: /work/wt-indexing/build
# 
# This file includes the relevant testing commands required for 
# testing this directory and lists subdirectories to be tested as well.
include("/work/wt-indexing/build/tessera_tests[1]_include.cmake")
