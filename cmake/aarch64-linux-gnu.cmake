# Cross build for 64-bit ARM Linux with Debian's g++-aarch64-linux-gnu; the test binaries run
# under qemu-user (qemu-user-static), "-cpu max" so that dotprod and i8mm are present.
#   cmake -S . -B build-arm64 -G Ninja -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake
# Only the compiler and GoogleTest's sources (libgtest-dev: /usr/src/googletest) are needed;
# the layers above the model (audio, engine, server, CLI) and their libraries are left out
# (GEMRUN_WITH_APP defaults to OFF when cross compiling).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)

set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

find_program(GEMRUN_QEMU_AARCH64 NAMES qemu-aarch64-static qemu-aarch64)
if(GEMRUN_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR "${GEMRUN_QEMU_AARCH64};-L;/usr/aarch64-linux-gnu;-cpu;max")
endif()
