#----------------------------------------------------------------
# Generated CMake target import file for configuration "Release".
#----------------------------------------------------------------

# Commands may need to know the format version.
set(CMAKE_IMPORT_FILE_VERSION 1)

# Import target "tessera::tessera" for configuration "Release"
set_property(TARGET tessera::tessera APPEND PROPERTY IMPORTED_CONFIGURATIONS RELEASE)
set_target_properties(tessera::tessera PROPERTIES
  IMPORTED_LINK_INTERFACE_LANGUAGES_RELEASE "CXX"
  IMPORTED_LOCATION_RELEASE "${_IMPORT_PREFIX}/lib/libtessera.a"
  )

list(APPEND _cmake_import_check_targets tessera::tessera )
list(APPEND _cmake_import_check_files_for_tessera::tessera "${_IMPORT_PREFIX}/lib/libtessera.a" )

# Commands beyond this point should not need to know the version.
set(CMAKE_IMPORT_FILE_VERSION)
