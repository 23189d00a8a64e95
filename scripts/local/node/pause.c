/* The pod sandbox's pause process for the local node: holds the pod's namespaces, reaps zombies
 * (it is PID 1 of a pod that shares its PID namespace) and exits 0 on SIGINT/SIGTERM.
 * Built static (gcc -static -Os) by scripts/local/node/pause-image.ts and pushed to the local registry. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_stop(int sig) { (void)sig; _exit(0); }

static void on_child(int sig) {
  (void)sig;
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "-v") == 0) {
    static const char version[] = "piggy-local pause\n";
    return write(STDOUT_FILENO, version, sizeof version - 1) < 0;
  }
  struct sigaction stop = {0}, child = {0};
  stop.sa_handler = on_stop;
  child.sa_handler = on_child;
  child.sa_flags = SA_NOCLDSTOP;
  if (sigaction(SIGINT, &stop, NULL) < 0 || sigaction(SIGTERM, &stop, NULL) < 0 || sigaction(SIGCHLD, &child, NULL) < 0) return 1;
  for (;;) pause();
}
