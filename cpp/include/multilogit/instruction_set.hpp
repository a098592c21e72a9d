// Which build of the compute kernels runs on this CPU.
#pragma once

namespace multilogit {

// The instruction set the training and prediction kernels use: "avx512", "avx2" (with FMA) or
// "generic" (baseline x86-64, or any other architecture). It is the best one this CPU supports
// among those compiled into the library, or a lower one named by the environment variable
// MULTILOGIT_ISA (read once, at the first use of the kernels).
const char* active_instruction_set();

}  // namespace multilogit
