# Install layout and the Debian package (included from the top-level CMakeLists.txt once the
# gemrun target exists). `cmake --install build [--prefix P]` lays out:
#   bin/gemrun, share/man/man1/gemrun.1, share/bash-completion/completions/gemrun,
#   share/zsh/vendor-completions/_gemrun, lib/systemd/system/gemrun.service,
#   share/doc/gemrun/*, and under the sysconfdir (/etc for prefix /usr):
#   gemrun/serve.toml (serve's options) and default/gemrun (the unit's environment).
# `cpack -G DEB` (from the build directory, configured with -DCMAKE_INSTALL_PREFIX=/usr)
# builds the .deb. Docs: docs/install.md.
include(GNUInstallDirs)

set(GEMRUN_SERVE_CONFIG "${CMAKE_INSTALL_FULL_SYSCONFDIR}/gemrun/serve.toml")
set(GEMRUN_ENV_FILE "${CMAKE_INSTALL_FULL_SYSCONFDIR}/default/gemrun")
set(GEMRUN_BIN "${CMAKE_INSTALL_FULL_BINDIR}/gemrun")
# serve's default --config (only cmd_serve.cc sees it).
set_property(SOURCE ${CMAKE_SOURCE_DIR}/src/cli/cmd_serve.cc APPEND PROPERTY COMPILE_DEFINITIONS
             GEMRUN_SERVE_CONFIG="${GEMRUN_SERVE_CONFIG}")

# Man page and completions from the binary's --help (packaging/gen_docs.sh), rebuilt with it.
# A cross build cannot run the binary: it installs without them.
set(gemrun_gen_dir ${CMAKE_BINARY_DIR}/generated/packaging)
if(NOT CMAKE_CROSSCOMPILING)
  add_custom_command(
    OUTPUT ${gemrun_gen_dir}/gemrun.1 ${gemrun_gen_dir}/gemrun.bash ${gemrun_gen_dir}/_gemrun
    COMMAND sh ${CMAKE_SOURCE_DIR}/packaging/gen_docs.sh $<TARGET_FILE:gemrun> ${gemrun_gen_dir} ${PROJECT_VERSION}
    DEPENDS gemrun ${CMAKE_SOURCE_DIR}/packaging/gen_docs.sh
    COMMENT "Generating the man page and shell completions from gemrun --help"
    VERBATIM)
  add_custom_target(gemrun_docs ALL DEPENDS ${gemrun_gen_dir}/gemrun.1 ${gemrun_gen_dir}/gemrun.bash ${gemrun_gen_dir}/_gemrun)
  install(FILES ${gemrun_gen_dir}/gemrun.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
  install(FILES ${gemrun_gen_dir}/gemrun.bash DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions
          RENAME gemrun)
  install(FILES ${gemrun_gen_dir}/_gemrun DESTINATION ${CMAKE_INSTALL_DATADIR}/zsh/vendor-completions)
endif()

configure_file(${CMAKE_SOURCE_DIR}/packaging/gemrun.service.in ${gemrun_gen_dir}/gemrun.service @ONLY)

install(TARGETS gemrun RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# The unit under the prefix's lib/systemd/system (/usr/lib/systemd/system for the .deb:
# Debian 12 has a merged /usr).
install(FILES ${gemrun_gen_dir}/gemrun.service DESTINATION lib/systemd/system)
install(FILES ${CMAKE_SOURCE_DIR}/packaging/serve.toml DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/gemrun)
install(FILES ${CMAKE_SOURCE_DIR}/packaging/gemrun.env DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/default
        RENAME gemrun)
install(FILES ${CMAKE_SOURCE_DIR}/README.md ${CMAKE_SOURCE_DIR}/docs/install.md ${CMAKE_SOURCE_DIR}/docs/fit.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR})

# --- Debian package (cpack -G DEB).
set(CPACK_PACKAGE_NAME gemrun)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "gemrun maintainers <gemrun@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "run Gemma 3 / Gemma 4 GGUF models locally on the CPU")
set(CPACK_PACKAGE_DESCRIPTION "gemrun runs Gemma 3 and Gemma 4 models in GGUF files on laptop and server CPUs:
 a CLI (run, chat, ask, check, bench, fit), a local model store (pull, list, export,
 import) and an OpenAI- and Ollama-compatible HTTP server with a hardened systemd unit.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION utils)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Run-time libraries (libcurl, libssl, libpoppler-cpp, libsndfile, ...) found by dpkg-shlibdeps
# from the binary's NEEDED entries, with the versions it was built against.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "ca-certificates")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "bash-completion")
# conffiles: dpkg keeps an admin's edits of these on upgrade.
file(WRITE ${gemrun_gen_dir}/conffiles "${GEMRUN_SERVE_CONFIG}\n${GEMRUN_ENV_FILE}\n")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${gemrun_gen_dir}/conffiles
    ${CMAKE_SOURCE_DIR}/packaging/postinst
    ${CMAKE_SOURCE_DIR}/packaging/prerm
    ${CMAKE_SOURCE_DIR}/packaging/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
set(CPACK_GENERATOR DEB)
# The paths compiled into the binary and the unit (sysconfdir, bindir) follow the configured
# prefix: package under the same one (configure with -DCMAKE_INSTALL_PREFIX=/usr for a .deb).
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
# Only the application: no static libraries or headers of the layers are installed.
include(CPack)
