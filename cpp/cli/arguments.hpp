// The command line, LIBLINEAR style (the Python console script takes the same arguments):
//
//   multilogit train [-s softmax|ovr|ovo] [-c C] [-l l1_ratio] [-e tol] [-i max_iter] [-t threads] DATA MODEL
//   multilogit predict [-p] DATA MODEL OUTPUT
//
// Options come before the file arguments, each value as the next argument; "--" ends the
// options. -h or --help anywhere among the options asks for the help text.
#pragma once

#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include <multilogit/options.hpp>
#include <multilogit/strategy.hpp>

namespace multilogit::cli {

struct HelpRequest {};

struct TrainArguments {
  Strategy strategy = Strategy::Softmax;
  TrainOptions options;  // the estimator's defaults, except the options given
  std::string data, model;
};

struct PredictArguments {
  bool probabilities = false;  // -p
  std::string data, model, output;
};

using Command = std::variant<HelpRequest, TrainArguments, PredictArguments>;

// A command line that cannot be run: unknown command or option, missing or invalid value, wrong
// number of file arguments. The message names the problem.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// `args` excludes the program name. Throws UsageError.
Command parse_arguments(const std::vector<std::string>& args);

// The two usage lines, and the full help text.
std::string usage();
std::string help();

}  // namespace multilogit::cli
