// Problems whose L-BFGS solvers advance together in steps (lbfgs_steps.hpp), all driven from the
// calling thread: each call of the batch loss evaluates every running problem at the point its
// solver names, one pass over X for all of them, and the solvers' steps between passes are
// spread over the pool's threads. Unlike BatchedProblems, which runs each solver on a thread of
// its own, no thread hands over to another between passes but the pool's.
//
// Which problems share a pass follows from the solvers' own steps, so results are as
// deterministic as the batch loss, whatever the number of threads.
#pragma once

#include <algorithm>
#include <functional>
#include <optional>
#include <vector>

#include "lbfgs_steps.hpp"
#include "multilogit/options.hpp"
#include "thread_pool.hpp"

namespace multilogit::detail {

// Solves problems [0, n_problems), at most max_together at a time, taking slots in order as
// they free up. start(problem) makes the problem's LbfgsSteps; finish(problem, steps) takes its
// solver once it has ended. should_stop (may be empty) is polled after every pass; true
// abandons the fit with Interrupted.
template <class BatchLoss, class Start, class Finish>
void solve_in_steps(BatchLoss& loss, int n_problems, int max_together, ThreadPool& pool,
                    const std::function<bool()>& should_stop, Start&& start, Finish&& finish) {
  using Request = typename BatchLoss::Request;
  const size_t n_slots = static_cast<size_t>(std::max(1, std::min(max_together, n_problems)));
  std::vector<std::optional<LbfgsSteps>> solvers(n_slots);
  std::vector<Request> requests(n_slots);
  std::vector<char> going(n_slots);  // whether the slot's solver wants another point
  std::vector<Request*> batch;
  int next_problem = 0;
  for (;;) {
    batch.clear();
    for (size_t s = 0; s < n_slots; ++s) {
      Request& request = requests[s];
      if (!solvers[s] && next_problem < n_problems) {
        request = Request{};
        request.slot = static_cast<int>(s);
        request.problem = next_problem++;
        solvers[s].emplace(start(request.problem));
      }
      if (!solvers[s]) continue;
      request.input = &solvers[s]->point();
      request.vector_out = &solvers[s]->gradient_room();
      batch.push_back(&request);
    }
    if (batch.empty()) break;
    loss.serve(batch);
    if (should_stop && should_stop()) throw Interrupted();
    pool.run(static_cast<Index>(batch.size()), [&](Index j) {
      const Request& request = *batch[static_cast<size_t>(j)];
      const size_t s = static_cast<size_t>(request.slot);
      going[s] = solvers[s]->tell(request.value);
    });
    for (const Request* request : batch) {
      const size_t s = static_cast<size_t>(request->slot);
      if (going[s]) continue;
      finish(request->problem, *solvers[s]);
      solvers[s].reset();
    }
  }
}

}  // namespace multilogit::detail
