// multilogit: multi-class logistic regression (softmax, one-vs-all, one-vs-one).
#pragma once

#include "multilogit/instruction_set.hpp"
#include "multilogit/lbfgs.hpp"
#include "multilogit/model.hpp"
#include "multilogit/model_file.hpp"
#include "multilogit/newton.hpp"
#include "multilogit/objective.hpp"
#include "multilogit/options.hpp"
#include "multilogit/solver.hpp"
#include "multilogit/strategy.hpp"
#include "multilogit/trainers.hpp"
#include "multilogit/types.hpp"
