// A fixed set of worker threads running indexed tasks.
//
// Thread t first runs its own tasks t, t + n_threads, ... (the same ones in every run, so that
// data a task left in that thread's caches last time is still there), then the tasks of other
// threads that they have not started: on a shared machine a thread kept from its core for a
// while does not hold up the whole run. Callers keep one output slot per task, so results never
// depend on how many threads run the tasks or which thread runs which. std::thread rather than
// OpenMP: OpenMP runtimes from different wheels clash inside one Python process.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <Eigen/Core>

namespace multilogit::detail {

class ThreadPool {
 public:
  explicit ThreadPool(int n_threads)
      : n_threads_(n_threads < 1 ? 1 : n_threads),
        taken_(std::make_unique<std::atomic<Eigen::Index>[]>(static_cast<size_t>(n_threads_))) {
    for (int t = 1; t < n_threads_; ++t) workers_.emplace_back([this, t] { work(t); });
  }

  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  ~ThreadPool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_.store(true, std::memory_order_relaxed);
    }
    wake_.notify_all();
    for (auto& worker : workers_) worker.join();
  }

  int size() const { return n_threads_; }

  // Runs task(i) for i in [0, n_tasks) and returns when all are done. The calling thread takes
  // part. The first exception thrown by a task is rethrown here after all threads finish.
  void run(Eigen::Index n_tasks, const std::function<void(Eigen::Index)>& task) {
    if (n_threads_ == 1 || n_tasks <= 1) {
      for (Eigen::Index i = 0; i < n_tasks; ++i) task(i);
      return;
    }
    const auto start = std::chrono::steady_clock::now();
    task_ = &task;
    n_tasks_ = n_tasks;
    error_ = nullptr;
    pending_.store(n_threads_ - 1, std::memory_order_relaxed);
    for (int t = 0; t < n_threads_; ++t) taken_[t].store(0, std::memory_order_relaxed);
    {
      // Under the lock: a worker about to sleep either sees the new generation or is woken.
      std::lock_guard<std::mutex> lock(mutex_);
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    run_share(0);
    const auto finished = [this] { return pending_.load(std::memory_order_acquire) == 0; };
    if (!(poll_.load(std::memory_order_relaxed) && spin_until(finished))) {
      std::unique_lock<std::mutex> lock(mutex_);
      done_.wait(lock, finished);
    }
    task_ = nullptr;
    poll_.store(std::chrono::steady_clock::now() - start < kPollBelow, std::memory_order_relaxed);
    if (error_) std::rethrow_exception(error_);
  }

 private:
  // Waking a sleeping thread takes 50-100 us on a busy or virtualised machine, as long as a
  // whole pass over a small data set, and the solvers call run() once or twice per iteration.
  // So after a run shorter than kPollBelow, threads poll for up to kSpin before they sleep.
  // After longer runs they do not: a polling thread slowed the softmax passes over the 100000 x
  // 100 benchmark set (about 11 ms each) by 15-25%. A polling thread yields between polls, which
  // leaves its core to any other thread that can run: spinning on the processor's pause
  // instruction instead was as fast in fits run back to back, but 2-4x slower in small fits
  // after the machine had been idle for a moment.
  static constexpr std::chrono::microseconds kSpin{100};
  static constexpr std::chrono::microseconds kPollBelow{2000};

  // Polls ready() for up to kSpin; whether it became true.
  template <class Ready>
  static bool spin_until(Ready&& ready) {
    const auto deadline = std::chrono::steady_clock::now() + kSpin;
    while (!ready()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::yield();
    }
    return true;
  }

  // Runs the thread's own tasks, then those the others have not taken.
  void run_share(int thread) {
    try {
      for (int shift = 0; shift < n_threads_; ++shift) {
        const int owner = (thread + shift) % n_threads_;
        for (Eigen::Index i; (i = take(owner)) < n_tasks_;) (*task_)(i);
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!error_) error_ = std::current_exception();
    }
  }

  // The next task of owner's share that no thread has taken yet (n_tasks_ or more: none).
  Eigen::Index take(int owner) {
    return owner + n_threads_ * taken_[owner].fetch_add(1, std::memory_order_relaxed);
  }

  void work(int thread) {
    unsigned long seen = 0;
    for (;;) {
      const auto started = [&] {
        return generation_.load(std::memory_order_acquire) != seen;
      };
      // A polling thread stops polling when the pool is destroyed, whose join would otherwise
      // wait out the whole kSpin.
      const auto started_or_stopping = [&] {
        return stopping_.load(std::memory_order_relaxed) || started();
      };
      if (!(poll_.load(std::memory_order_relaxed) && spin_until(started_or_stopping))) {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, started_or_stopping);
      }
      if (stopping_.load(std::memory_order_relaxed)) return;
      seen = generation_.load(std::memory_order_acquire);
      run_share(thread);
      if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        // The lock orders this notification after a waiting run() has checked pending_.
        std::lock_guard<std::mutex> lock(mutex_);
        done_.notify_one();
      }
    }
  }

  const int n_threads_;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  // Set by run() before the generation moves on, read by the workers after they see it move.
  const std::function<void(Eigen::Index)>* task_ = nullptr;
  Eigen::Index n_tasks_ = 0;
  std::unique_ptr<std::atomic<Eigen::Index>[]> taken_;  // tasks of each thread's share taken
  std::exception_ptr error_;
  std::atomic<unsigned long> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> poll_{true};  // whether the last run was short enough to poll after
  std::atomic<bool> stopping_{false};  // set under mutex_
};

}  // namespace multilogit::detail
