#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <vector>

#include "thread_pool.hpp"

namespace multilogit {
namespace {

TEST(ThreadPool, RunsEveryTaskOnce) {
  for (int threads : {1, 2, 3, 8}) {
    detail::ThreadPool pool(threads);
    for (Eigen::Index n_tasks : {0, 1, 2, 5, 100}) {
      for (int run = 0; run < 3; ++run) {
        std::vector<std::atomic<int>> runs(static_cast<size_t>(n_tasks));
        pool.run(n_tasks, [&](Eigen::Index i) { runs[static_cast<size_t>(i)].fetch_add(1); });
        for (Eigen::Index i = 0; i < n_tasks; ++i) {
          EXPECT_EQ(runs[static_cast<size_t>(i)].load(), 1)
              << "task " << i << " of " << n_tasks << ", " << threads << " threads";
        }
      }
    }
  }
}

// A task that waits for all the others completes only if the other threads take the tasks of
// its thread's share: a thread held up does not hold up the tasks it has not started.
TEST(ThreadPool, OtherThreadsTakeTheTasksOfAThreadHeldUp) {
  for (int threads : {2, 3}) {
    detail::ThreadPool pool(threads);
    const Eigen::Index n_tasks = 4 * threads;
    std::mutex mutex;
    std::condition_variable finished;
    int done = 0;
    bool waited_in_vain = false;
    pool.run(n_tasks, [&](Eigen::Index) {
      std::unique_lock<std::mutex> lock(mutex);
      if (done == 0 && !waited_in_vain) {  // the first task to start waits for all the others
        ++done;
        waited_in_vain = !finished.wait_for(lock, std::chrono::seconds(30),
                                            [&] { return done == n_tasks; });
        return;
      }
      if (++done == n_tasks) finished.notify_all();
    });
    EXPECT_FALSE(waited_in_vain) << threads << " threads";
    EXPECT_EQ(done, n_tasks);
  }
}

TEST(ThreadPool, RethrowsATaskException) {
  detail::ThreadPool pool(2);
  std::atomic<int> ran{0};
  EXPECT_THROW(pool.run(6,
                        [&](Eigen::Index i) {
                          ran.fetch_add(1);
                          if (i == 3) throw std::runtime_error("task 3");
                        }),
               std::runtime_error);
  EXPECT_GE(ran.load(), 1);
  // The pool still runs after a failed run.
  std::atomic<int> after{0};
  pool.run(6, [&](Eigen::Index) { after.fetch_add(1); });
  EXPECT_EQ(after.load(), 6);
}

}  // namespace
}  // namespace multilogit
