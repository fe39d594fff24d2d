include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS discovery discovery_server discovery_testing EXPORT discoveryTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/libdiscovery/include/discovery
                  ${PROJECT_SOURCE_DIR}/libdiscovery/testing/include/discovery
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT discoveryTargets NAMESPACE discovery::
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/discovery)

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/discoveryConfig.cmake.in
  ${PROJECT_BINARY_DIR}/discoveryConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/discovery)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/discoveryConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/discoveryConfig.cmake
              ${PROJECT_BINARY_DIR}/discoveryConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/discovery)
