// A fixed set of worker threads running indexed tasks with static partitioning.
//
// Tasks are assigned to threads by index (task t runs on thread t % n_threads), and callers keep
// one output slot per task, so results never depend on how many threads run them. std::thread
// rather than OpenMP: OpenMP runtimes from different wheels clash inside one Python process.
#pragma once

#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include <Eigen/Core>

namespace multilogit::detail {

class ThreadPool {
 public:
  explicit ThreadPool(int n_threads) : n_threads_(n_threads < 1 ? 1 : n_threads) {
    for (int t = 1; t < n_threads_; ++t) workers_.emplace_back([this, t] { work(t); });
  }

  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  ~ThreadPool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
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
    {
      std::lock_guard<std::mutex> lock(mutex_);
      task_ = &task;
      n_tasks_ = n_tasks;
      pending_ = n_threads_ - 1;
      error_ = nullptr;
      ++generation_;
    }
    wake_.notify_all();
    run_share(0);
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [this] { return pending_ == 0; });
    task_ = nullptr;
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void run_share(int thread) {
    try {
      for (Eigen::Index i = thread; i < n_tasks_; i += n_threads_) (*task_)(i);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!error_) error_ = std::current_exception();
    }
  }

  void work(int thread) {
    unsigned long seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
        if (stopping_) return;
        seen = generation_;
      }
      run_share(thread);
      {
        std::lock_guard<std::mutex> lock(mutex_);
        --pending_;
      }
      done_.notify_one();
    }
  }

  const int n_threads_;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  const std::function<void(Eigen::Index)>* task_ = nullptr;
  Eigen::Index n_tasks_ = 0;
  int pending_ = 0;
  unsigned long generation_ = 0;
  bool stopping_ = false;
  std::exception_ptr error_;
};

}  // namespace multilogit::detail
