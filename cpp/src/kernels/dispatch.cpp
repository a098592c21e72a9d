// Chooses the build of the kernels (kernels_isa.cpp) that this CPU runs best, once.
#include <cstdlib>
#include <cstring>
#include <initializer_list>

#include "kernels.hpp"
#include "multilogit/instruction_set.hpp"

namespace multilogit::detail {

// One declaration per build of kernels_isa.cpp; MULTILOGIT_KERNELS_AVX2 and
// MULTILOGIT_KERNELS_AVX512 say which were compiled.
namespace generic {
template <typename Scalar>
const KernelTable<Scalar>& kernel_table();
}
#ifdef MULTILOGIT_KERNELS_AVX2
namespace avx2 {
template <typename Scalar>
const KernelTable<Scalar>& kernel_table();
}
#endif
#ifdef MULTILOGIT_KERNELS_AVX512
namespace avx512 {
template <typename Scalar>
const KernelTable<Scalar>& kernel_table();
}
#endif

namespace {

bool cpu_supports(InstructionSet set) {
  switch (set) {
    case InstructionSet::Generic:
      return true;
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    // __builtin_cpu_supports also checks that the OS saves the wider registers (XCR0).
    case InstructionSet::Avx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case InstructionSet::Avx512:
      return cpu_supports(InstructionSet::Avx2) && __builtin_cpu_supports("avx512f") &&
             __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl");
#endif
    default:
      return false;
  }
}

// The highest set allowed by MULTILOGIT_ISA (unset or unknown: no limit).
InstructionSet requested_limit() {
  const char* value = std::getenv("MULTILOGIT_ISA");
  if (!value) return InstructionSet::Avx512;
  if (std::strcmp(value, "generic") == 0) return InstructionSet::Generic;
  if (std::strcmp(value, "avx2") == 0) return InstructionSet::Avx2;
  return InstructionSet::Avx512;
}

template <typename Scalar>
const KernelTable<Scalar>& choose_kernels() {
  const InstructionSet limit = requested_limit();
  for (InstructionSet set : {InstructionSet::Avx512, InstructionSet::Avx2}) {
    if (set > limit) continue;
    if (const KernelTable<Scalar>* table = kernels_for<Scalar>(set)) return *table;
  }
  return generic::kernel_table<Scalar>();
}

}  // namespace

template <typename Scalar>
const KernelTable<Scalar>* kernels_for(InstructionSet set) {
  if (!cpu_supports(set)) return nullptr;
  switch (set) {
    case InstructionSet::Generic:
      return &generic::kernel_table<Scalar>();
#ifdef MULTILOGIT_KERNELS_AVX2
    case InstructionSet::Avx2:
      return &avx2::kernel_table<Scalar>();
#endif
#ifdef MULTILOGIT_KERNELS_AVX512
    case InstructionSet::Avx512:
      return &avx512::kernel_table<Scalar>();
#endif
    default:
      return nullptr;
  }
}

template <typename Scalar>
const KernelTable<Scalar>& kernels() {
  static const KernelTable<Scalar>& chosen = choose_kernels<Scalar>();
  return chosen;
}

template const KernelTable<float>* kernels_for<float>(InstructionSet);
template const KernelTable<double>* kernels_for<double>(InstructionSet);
template const KernelTable<float>& kernels<float>();
template const KernelTable<double>& kernels<double>();

}  // namespace multilogit::detail

namespace multilogit {

const char* active_instruction_set() { return detail::kernels<double>().instruction_set; }

}  // namespace multilogit
