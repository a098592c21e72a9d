#include "arguments.hpp"

#include <climits>
#include <cstdio>
#include <limits>
#include <optional>

#include "numbers.hpp"

namespace multilogit::cli {
namespace {

bool is_help(const std::string& arg) { return arg == "-h" || arg == "--help"; }

std::string quoted(const std::string& text) { return "'" + text + "'"; }

// A real number, or "inf" where infinity has a meaning (C).
double number_option(const std::string& option, const std::string& value, bool allow_inf) {
  if (allow_inf && value == "inf") return std::numeric_limits<double>::infinity();
  const std::optional<double> number = parse_decimal(value);
  if (!number) throw UsageError("option " + option + " needs a number, got " + quoted(value));
  return *number;
}

int positive_integer_option(const std::string& option, const std::string& value) {
  const std::optional<std::int64_t> number = parse_integer(value);
  if (!number || *number < 1 || *number > INT_MAX) {
    throw UsageError("option " + option + " needs a positive integer, got " + quoted(value));
  }
  return static_cast<int>(*number);
}

Strategy strategy_option(const std::string& value) {
  // parse_strategy also takes the alias "ova"; the command line keeps to the three names.
  if (value != "softmax" && value != "ovr" && value != "ovo") {
    throw UsageError("option -s must be softmax, ovr or ovo, got " + quoted(value));
  }
  return parse_strategy(value);
}

// Walks the arguments after the command: options first, then the file arguments.
class ArgumentList {
 public:
  explicit ArgumentList(const std::vector<std::string>& args) : args_(args) {}

  // The next option ("-x"), or nullopt once the options end.
  std::optional<std::string> next_option() {
    if (at_ == args_.size()) return std::nullopt;
    const std::string& arg = args_[at_];
    if (arg == "--") {
      ++at_;
      return std::nullopt;
    }
    if (arg.size() < 2 || arg[0] != '-') return std::nullopt;
    ++at_;
    return arg;
  }

  const std::string& value_of(const std::string& option) {
    if (at_ == args_.size()) throw UsageError("option " + option + " needs a value");
    return args_[at_++];
  }

  // The remaining arguments, which must be exactly `names` (e.g. "DATA MODEL").
  std::vector<std::string> files(const std::string& command, std::size_t count,
                                 const std::string& names) const {
    std::vector<std::string> files(args_.begin() + static_cast<std::ptrdiff_t>(at_), args_.end());
    if (files.size() != count) {
      throw UsageError(command + " takes " + names + ", got " + std::to_string(files.size()) +
                       " file argument(s)");
    }
    return files;
  }

 private:
  const std::vector<std::string>& args_;
  std::size_t at_ = 1;  // after the command
};

Command parse_train(const std::vector<std::string>& args) {
  TrainArguments train;
  ArgumentList list(args);
  while (const std::optional<std::string> option = list.next_option()) {
    if (is_help(*option)) return HelpRequest{};
    if (*option == "-s") {
      train.strategy = strategy_option(list.value_of(*option));
    } else if (*option == "-c") {
      train.options.C = number_option(*option, list.value_of(*option), true);
    } else if (*option == "-l") {
      train.options.l1_ratio = number_option(*option, list.value_of(*option), false);
    } else if (*option == "-e") {
      train.options.tol = number_option(*option, list.value_of(*option), false);
    } else if (*option == "-t") {
      train.options.n_threads = positive_integer_option(*option, list.value_of(*option));
    } else if (*option == "-i") {
      train.options.max_iter = positive_integer_option(*option, list.value_of(*option));
    } else {
      throw UsageError("unknown option " + quoted(*option) + " for train");
    }
  }
  try {
    train.options.validate();
  } catch (const std::invalid_argument& error) {
    throw UsageError(error.what());
  }
  const std::vector<std::string> files = list.files("train", 2, "DATA MODEL");
  train.data = files[0];
  train.model = files[1];
  return train;
}

Command parse_predict(const std::vector<std::string>& args) {
  PredictArguments predict;
  ArgumentList list(args);
  while (const std::optional<std::string> option = list.next_option()) {
    if (is_help(*option)) return HelpRequest{};
    if (*option == "-p") {
      predict.probabilities = true;
    } else {
      throw UsageError("unknown option " + quoted(*option) + " for predict");
    }
  }
  const std::vector<std::string> files = list.files("predict", 3, "DATA MODEL OUTPUT");
  predict.data = files[0];
  predict.model = files[1];
  predict.output = files[2];
  return predict;
}

}  // namespace

Command parse_arguments(const std::vector<std::string>& args) {
  if (args.empty()) throw UsageError("missing command: train or predict");
  if (is_help(args[0])) return HelpRequest{};
  if (args[0] == "train") return parse_train(args);
  if (args[0] == "predict") return parse_predict(args);
  throw UsageError("unknown command " + quoted(args[0]) + " (train or predict)");
}

std::string usage() {
  return "usage: multilogit train [-s softmax|ovr|ovo] [-c C] [-l l1_ratio] [-e tol] "
         "[-i max_iter] [-t threads] DATA MODEL\n"
         "       multilogit predict [-p] DATA MODEL OUTPUT\n";
}

std::string help() {
  char default_tol[32];
  std::snprintf(default_tol, sizeof default_tol, "%g", TrainOptions{}.tol);
  return usage() +
         "\n"
         "Multi-class logistic regression.\n"
         "\n"
         "train: fit a model to the labelled rows of DATA and save it to MODEL.\n"
         "  -s strategy   softmax (default), ovr (one-vs-rest) or ovo (one-vs-one)\n"
         "  -c C          inverse regularisation strength: a number > 0, or inf (default 1)\n"
         "  -l l1_ratio   elastic-net mixing in [0, 1]: 0 is the L2 penalty, 1 the L1 (default 0)\n"
         "  -e tol        stop when the gradient's max-norm is at most tol (default " +
         default_tol +
         ")\n"
         "  -i max_iter   solver iterations per optimisation problem (default " +
         std::to_string(TrainOptions{}.max_iter) +
         ")\n"
         "  -t threads    number of threads (default: all cores)\n"
         "\n"
         "predict: write the label MODEL predicts for each row of DATA to OUTPUT, one per line,\n"
         "and print the accuracy when DATA has labels.\n"
         "  -p            also write probabilities: a first line \"labels L1 L2 ...\", then\n"
         "                \"label p1 p2 ...\" for each row (LIBLINEAR's -b 1 format)\n"
         "\n"
         "DATA is an svmlight/LIBSVM file: a line \"label index:value ...\" per row, indices\n"
         "from 1. Integer labels (1, -1, +1) are stored as integers, other labels as text.\n";
}

}  // namespace multilogit::cli
