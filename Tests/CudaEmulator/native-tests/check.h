// The smallest test framework that will do: CHECK counts and prints failures with their line,
// CHECK_STATUS also checks that the failing call left a detail message mentioning `needle`.
#pragma once

#include "stub_runtime.h"

#include <cstdio>
#include <string>

namespace check {
inline int passed = 0;
inline int failed = 0;

inline void report(bool ok, const char* file, int line, const std::string& what)
{
    if (ok) { passed++; return; }
    failed++;
    std::printf("FAIL %s:%d: %s\n", file, line, what.c_str());
}
} // namespace check

#define CHECK(cond, what) check::report((cond), __FILE__, __LINE__, std::string(#cond) + " -- " + (what))

// The call must return `code`; a failing code must also leave a detail containing `needle`.
#define CHECK_STATUS(call, code, needle)                                                                               \
    do {                                                                                                               \
        int got_ = (call);                                                                                             \
        bool ok_ = got_ == (code) && (got_ == 0 || stub::last_detail().find(needle) != std::string::npos);             \
        check::report(ok_, __FILE__, __LINE__, std::string(#call) + " returned " + std::to_string(got_) + ", expected " + \
            std::to_string(code) + " with \"" + (needle) + "\"; detail: " + stub::last_detail());                       \
    } while (0)

void test_numeric();
void test_blas();
void test_fft();
