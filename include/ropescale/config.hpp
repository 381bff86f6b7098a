// SPDX-License-Identifier: Apache-2.0
// Version, debug assertion and architecture macros. Architecture macros come from the target
// architecture (__x86_64__, __aarch64__), never from -m flags: AVX-512 code compiles on every
// x86-64 build and is chosen (or skipped) at run time.
#ifndef ROPESCALE_CONFIG_HPP
#define ROPESCALE_CONFIG_HPP

#define ROPESCALE_VERSION_MAJOR 0
#define ROPESCALE_VERSION_MINOR 1
#define ROPESCALE_VERSION_PATCH 0

#if defined(__x86_64__) || defined(_M_X64)
#define ROPESCALE_ARCH_X86_64 1
#else
#define ROPESCALE_ARCH_X86_64 0
#endif

#if defined(__aarch64__) || defined(_M_ARM64)
#define ROPESCALE_ARCH_AARCH64 1
#else
#define ROPESCALE_ARCH_AARCH64 0
#endif

#ifndef ROPESCALE_DISABLE_SIMD
#define ROPESCALE_DISABLE_SIMD 0
#endif

/// ROPESCALE_HAS_BUILTIN(name): 1 when the compiler documents __builtin name (g++ >= 10,
/// clang); 0 otherwise, and every use then takes a portable path. Predefine it (e.g. as 0) to
/// force the portable paths.
#ifndef ROPESCALE_HAS_BUILTIN
#if defined(__has_builtin)
#define ROPESCALE_HAS_BUILTIN(name) __has_builtin(name)
#else
#define ROPESCALE_HAS_BUILTIN(name) 0
#endif
#endif

/// ROPESCALE_EXCEPTIONS: 1 when the translation unit is compiled with C++ exceptions (errors are
/// thrown as ropescale::invalid_parameter), 0 under -fno-exceptions (errors go to the handler
/// installed with ropescale::set_error_handler). Every TU of a program must agree.
#ifndef ROPESCALE_EXCEPTIONS
#if defined(__cpp_exceptions) || defined(__EXCEPTIONS) || defined(_CPPUNWIND)
#define ROPESCALE_EXCEPTIONS 1
#else
#define ROPESCALE_EXCEPTIONS 0
#endif
#endif

/// Debug-only invariant check for hot paths (kernels trust their entry checks). Define
/// ROPESCALE_ASSERT before including ropescale to route it elsewhere.
#ifndef ROPESCALE_ASSERT
#ifdef NDEBUG
#define ROPESCALE_ASSERT(cond) static_cast<void>(0)
#else
#include <cassert>
#define ROPESCALE_ASSERT(cond) assert(cond)
#endif
#endif

#endif  // ROPESCALE_CONFIG_HPP
