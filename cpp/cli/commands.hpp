// The two commands. Each prints its report on stdout and returns the exit status; errors are
// thrown (std::exception with a message naming the file and the problem).
#pragma once

#include "arguments.hpp"

namespace multilogit::cli {

int run_train(const TrainArguments& arguments);
int run_predict(const PredictArguments& arguments);

}  // namespace multilogit::cli
