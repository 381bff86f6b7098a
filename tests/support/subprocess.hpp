// SPDX-License-Identifier: Apache-2.0
// Runs a CLI as a subprocess for the CLI tests (posix_spawn; stdout and stderr to files next to
// `base`; a 60 s timeout, so a hang fails the test instead of stalling it).
#ifndef ROPESCALE_TESTS_SUPPORT_SUBPROCESS_HPP
#define ROPESCALE_TESTS_SUPPORT_SUBPROCESS_HPP

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace support {

struct run_result {
  int status = -1;  // exit status, or -1 if killed/abnormal
  std::string out, err;
};

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

/// Runs exe with args; stdout/stderr go to base + ".out" / ".err" and come back in the result.
inline run_result run_process(const std::string& exe, const std::vector<std::string>& args,
                              const std::string& base) {
  const std::string out_path = base + ".out", err_path = base + ".err";
  std::vector<std::string> storage{exe};
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : storage) argv.push_back(s.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  pid_t pid = 0;
  run_result r;
  const int rc = posix_spawn(&pid, exe.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    ADD_FAILURE() << "cannot start " << exe;
    return r;
  }
  int wstatus = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (::waitpid(pid, &wstatus, WNOHANG) != pid) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &wstatus, 0);
      ADD_FAILURE() << exe << " timed out";
      return r;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  if (WIFEXITED(wstatus)) r.status = WEXITSTATUS(wstatus);
  r.out = slurp(out_path);
  r.err = slurp(err_path);
  return r;
}

}  // namespace support

#endif  // ROPESCALE_TESTS_SUPPORT_SUBPROCESS_HPP
