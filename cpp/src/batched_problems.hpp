// Problems whose solvers advance together, so that one pass over X serves all of them.
//
// Each problem's solver runs unchanged on a thread of its own, against a BatchedObjective: its
// evaluate, hessian_product, precondition and hessian calls post a request and wait. Once every
// problem still running has a request waiting, the coordinating thread (the one that called
// run()) serves the waiting requests with a single call of the batch loss, one pass over X for
// all of them, and lets their solvers go on. Evaluations and Hessian-vector products share
// passes, so problems whose solvers are at different stages (a line search here, conjugate
// gradient steps there) still advance together; Hessians and their diagonals, which take passes
// of other kinds, wait until nothing of an earlier kind does. Problems that have stopped drop
// out of later passes, and the next problems take their slots.
//
// Which requests share a pass follows from the solvers' own sequences of requests, never from
// thread timing, so results are as deterministic as the batch loss. Threads: one per slot
// (at most max_together problems are solved at a time), of which at most max_running run solver
// code at any moment; the passes themselves are threaded by the batch loss.
//
// The batch loss provides a Request type (ask, slot, problem, keep_curvature, input, vector_out,
// matrix_out, value) and its Ask (Evaluate, HessianProduct, HessianDiagonal, Hessian);
// pass_kind(ask) < kPassKinds, the kind of pass that serves an ask; serve(requests), which
// serves requests of one kind together; precondition(problem, diagonal, r, z), which applies the
// preconditioner of a HessianDiagonal's answer; and dimension(), relative_precision() and
// l1_penalty(problem) of one problem.
#pragma once

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include <Eigen/Core>

#include "multilogit/objective.hpp"
#include "multilogit/options.hpp"

namespace multilogit::detail {

template <class BatchLoss>
class BatchedProblems {
  using Request = typename BatchLoss::Request;
  using Ask = typename BatchLoss::Ask;

 public:
  // What one problem's solver minimises: the problem's share of the batch loss.
  class Objective final : public SecondOrderObjective {
   public:
    Objective(BatchedProblems& batch, int slot, int problem)
        : batch_(batch), slot_(slot), problem_(problem) {}

    Eigen::Index dimension() const override { return batch_.loss_.dimension(); }
    double relative_precision() const override { return batch_.loss_.relative_precision(); }
    Eigen::VectorXd l1_penalty() const { return batch_.loss_.l1_penalty(problem_); }
    void keep_curvature(bool keep) { keep_curvature_ = keep; }
    // The identity: a batch's L-BFGS solvers without an L1 part go in steps instead
    // (solve_in_steps.hpp) and take their H0 from the batch loss there.
    std::function<void(Eigen::VectorXd&)> lbfgs_initial_inverse_hessian() { return {}; }

    double evaluate(const Eigen::VectorXd& w, Eigen::VectorXd& gradient) override {
      diagonal_is_current_ = false;
      return batch_.request(slot_, Ask::Evaluate, keep_curvature_, &w, &gradient, nullptr);
    }
    void hessian_product(const Eigen::VectorXd& v, Eigen::VectorXd& product) override {
      batch_.request(slot_, Ask::HessianProduct, keep_curvature_, &v, &product, nullptr);
    }
    void hessian(Eigen::MatrixXd& hessian) override {
      batch_.request(slot_, Ask::Hessian, keep_curvature_, nullptr, nullptr, &hessian);
    }
    // Jacobi preconditioning, as LinearLoss's: the diagonal is asked for once per point.
    void precondition(const Eigen::VectorXd& residual, Eigen::VectorXd& preconditioned) override {
      if (!diagonal_is_current_) {
        hessian_diagonal_.resize(dimension());
        batch_.request(slot_, Ask::HessianDiagonal, keep_curvature_, nullptr, &hessian_diagonal_,
                       nullptr);
        diagonal_is_current_ = true;
      }
      batch_.loss_.precondition(problem_, hessian_diagonal_, residual, preconditioned);
    }

   private:
    BatchedProblems& batch_;
    int slot_;
    int problem_;
    bool keep_curvature_ = false;
    Eigen::VectorXd hessian_diagonal_;  // at the last evaluated point when diagonal_is_current_
    bool diagonal_is_current_ = false;
  };

  // should_stop (may be empty) is polled by run()'s thread after every pass; true abandons the
  // fit with Interrupted.
  BatchedProblems(BatchLoss& loss, int max_together, int max_running,
                  std::function<bool()> should_stop)
      : loss_(loss),
        n_slots_(std::max(max_together, 1)),
        max_running_(std::max(max_running, 1)),
        slots_(new Slot[static_cast<size_t>(n_slots_)]),
        should_stop_(std::move(should_stop)) {}

  BatchedProblems(const BatchedProblems&) = delete;
  BatchedProblems& operator=(const BatchedProblems&) = delete;

  // Threads are left only when run() itself failed: they are stopped and joined.
  ~BatchedProblems() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      abandoned_ = true;
      for (int s = 0; s < n_slots_; ++s) slots_[s].wake.notify_all();
    }
    for (int s = 0; s < n_slots_; ++s) {
      if (slots_[s].thread.joinable()) slots_[s].thread.join();
    }
  }

  // Calls solve_problem(problem, objective) for every problem in [0, n_problems), each on a
  // thread of its own, problems taking slots in order as they free up, and serves their
  // requests; returns once all have returned. The first exception of a solver or a pass stops
  // every problem (their pending requests throw) and is rethrown here once all threads ended.
  template <class Solve>
  void run(int n_problems, Solve&& solve_problem) {
    int next_problem = 0;
    std::vector<Request*> batch;
    batch.reserve(static_cast<size_t>(n_slots_));
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      wake_coordinator_.wait(lock, [&] {
        return abandoned_ ? any_in(State::Finished) || all_free() : settled();
      });
      join_finished(lock);
      if (abandoned_) {
        if (all_free()) break;
        continue;
      }
      // Free slots go to the next problems, whose first requests are awaited before any pass.
      bool admitted = false;
      for (int s = 0; s < n_slots_ && next_problem < n_problems && !abandoned_; ++s) {
        if (slots_[s].state != State::Free) continue;
        admit(s, next_problem++, solve_problem);
        admitted = true;
      }
      if (admitted) {
        grant_turns();
        continue;
      }
      if (!collect_pass(batch)) break;  // nothing waits: every problem has finished
      lock.unlock();
      std::exception_ptr error = serve(batch);
      lock.lock();
      if (error) {
        abandon(error);
        continue;
      }
      for (Request* request : batch) slots_[request->slot].state = State::Ready;
      grant_turns();
    }
    lock.unlock();
    if (error_) std::rethrow_exception(error_);
  }

 private:
  // Free: no problem. Ready: its solver may go on when given a turn. Running: its solver runs.
  // Waiting: its request waits for a pass. Finished: its thread has returned (to be joined).
  enum class State { Free, Ready, Running, Waiting, Finished };

  struct Slot {
    State state = State::Free;
    Request request;
    std::condition_variable wake;
    std::thread thread;
  };

  // Thrown out of a pending request when the batch is abandoned, to unwind the solver.
  struct Abandoned {};

  bool any_in(State state) const {
    for (int s = 0; s < n_slots_; ++s) {
      if (slots_[s].state == state) return true;
    }
    return false;
  }

  bool all_free() const {
    for (int s = 0; s < n_slots_; ++s) {
      if (slots_[s].state != State::Free) return false;
    }
    return true;
  }

  // No solver runs or is about to: every slot is free, waits for a pass or has finished.
  bool settled() const { return !any_in(State::Ready) && !any_in(State::Running); }

  // Gives turns to the ready slots, in slot order, while fewer than max_running solvers run.
  void grant_turns() {
    for (int s = 0; s < n_slots_ && running_ < max_running_; ++s) {
      if (slots_[s].state != State::Ready) continue;
      slots_[s].state = State::Running;
      ++running_;
      slots_[s].wake.notify_one();
    }
  }

  // Ends the turn of slot s, which now is in `state`; call with the lock held.
  void end_turn(int s, State state) {
    if (slots_[s].state == State::Running) --running_;
    slots_[s].state = state;
    grant_turns();
    if (abandoned_ || settled()) wake_coordinator_.notify_one();
  }

  // Records the first error and wakes every thread to unwind; call with the lock held.
  void abandon(std::exception_ptr error) {
    if (!error_) error_ = std::move(error);
    abandoned_ = true;
    for (int s = 0; s < n_slots_; ++s) slots_[s].wake.notify_all();
    wake_coordinator_.notify_one();
  }

  // Waits for slot s's turn; throws Abandoned if the batch is abandoned first.
  void wait_for_turn(std::unique_lock<std::mutex>& lock, int s) {
    slots_[s].wake.wait(lock, [&] { return abandoned_ || slots_[s].state == State::Running; });
    if (abandoned_) throw Abandoned();
  }

  double request(int s, Ask ask, bool keep_curvature, const Eigen::VectorXd* input,
                 Eigen::VectorXd* vector_out, Eigen::MatrixXd* matrix_out) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (abandoned_) throw Abandoned();
    Slot& slot = slots_[s];
    slot.request.ask = ask;
    slot.request.keep_curvature = keep_curvature;
    slot.request.input = input;
    slot.request.vector_out = vector_out;
    slot.request.matrix_out = matrix_out;
    end_turn(s, State::Waiting);
    wait_for_turn(lock, s);
    return slot.request.value;
  }

  template <class Solve>
  void admit(int s, int problem, Solve& solve_problem) {
    Slot& slot = slots_[s];
    slot.request = Request{};
    slot.request.slot = s;
    slot.request.problem = problem;
    slot.state = State::Ready;
    try {
      slot.thread = std::thread([this, s, &solve_problem] { solve_in_slot(s, solve_problem); });
    } catch (...) {
      slot.state = State::Free;
      abandon(std::current_exception());
    }
  }

  template <class Solve>
  void solve_in_slot(int s, Solve& solve_problem) {
    std::exception_ptr error;
    try {
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wait_for_turn(lock, s);
      }
      const int problem = slots_[s].request.problem;
      Objective objective(*this, s, problem);
      solve_problem(problem, objective);
    } catch (const Abandoned&) {
    } catch (...) {
      error = std::current_exception();
    }
    std::lock_guard<std::mutex> lock(mutex_);
    if (error) abandon(error);
    end_turn(s, State::Finished);
  }

  // Joins the threads of finished slots, which become free; call with the lock held.
  void join_finished(std::unique_lock<std::mutex>& lock) {
    for (int s = 0; s < n_slots_; ++s) {
      if (slots_[s].state != State::Finished) continue;
      std::thread thread = std::move(slots_[s].thread);
      slots_[s].state = State::Free;
      lock.unlock();  // the thread has only to return
      thread.join();
      lock.lock();
    }
  }

  // The waiting requests of the first pass kind that has any (evaluations and Hessian-vector
  // products, then diagonals, then Hessians), in slot order; false when nothing waits.
  bool collect_pass(std::vector<Request*>& batch) const {
    for (int kind = 0; kind < BatchLoss::kPassKinds; ++kind) {
      batch.clear();
      for (int s = 0; s < n_slots_; ++s) {
        const Request& request = slots_[s].request;
        if (slots_[s].state == State::Waiting && BatchLoss::pass_kind(request.ask) == kind) {
          batch.push_back(&slots_[s].request);
        }
      }
      if (!batch.empty()) return true;
    }
    return false;
  }

  // One pass for the batch, then should_stop; returns what went wrong, if anything.
  std::exception_ptr serve(const std::vector<Request*>& batch) {
    try {
      loss_.serve(batch);
      if (should_stop_ && should_stop_()) throw Interrupted();
    } catch (...) {
      return std::current_exception();
    }
    return nullptr;
  }

  BatchLoss& loss_;
  const int n_slots_;
  const int max_running_;
  std::unique_ptr<Slot[]> slots_;
  std::function<bool()> should_stop_;
  std::mutex mutex_;
  std::condition_variable wake_coordinator_;
  int running_ = 0;  // slots in state Running
  bool abandoned_ = false;
  std::exception_ptr error_;
};

}  // namespace multilogit::detail
