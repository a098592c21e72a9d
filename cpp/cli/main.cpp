// multilogit: train and predict from the command line (see arguments.hpp and `multilogit -h`).
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "arguments.hpp"
#include "commands.hpp"

int main(int argc, char** argv) {
  using namespace multilogit::cli;
  const std::vector<std::string> args(argv + 1, argv + argc);
  try {
    const Command command = parse_arguments(args);
    if (const auto* train = std::get_if<TrainArguments>(&command)) return run_train(*train);
    if (const auto* predict = std::get_if<PredictArguments>(&command)) return run_predict(*predict);
    std::fputs(help().c_str(), stdout);
    return 0;
  } catch (const UsageError& error) {
    std::fprintf(stderr, "multilogit: %s\n%s", error.what(), usage().c_str());
    return 2;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "multilogit: %s\n", error.what());
    return 1;
  }
}
