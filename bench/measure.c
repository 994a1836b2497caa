/* measure.c - runs a command and reports its wall time and peak RSS
 *
 *   measure RESULT.json CMD [ARG...]
 *
 * fork + exec + wait4: wall time from CLOCK_MONOTONIC, user and system CPU
 * and the peak resident set (ru_maxrss) from the child's rusage. Writes
 * {"wall_s", "user_s", "sys_s", "maxrss_kb", "exit"} to RESULT.json; the
 * command's own stdin, stdout and stderr are inherited. Exits with the
 * command's status.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    struct timespec a, b;
    struct rusage ru;
    int status = 0;

    if (argc < 3) {
        fprintf(stderr, "usage: measure RESULT.json CMD [ARG...]\n");
        return 2;
    }
    clock_gettime(CLOCK_MONOTONIC, &a);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 2;
    }
    if (pid == 0) {
        execvp(argv[2], argv + 2);
        perror(argv[2]);
        _exit(127);
    }
    if (wait4(pid, &status, 0, &ru) < 0) {
        perror("wait4");
        return 2;
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    FILE *fp = fopen(argv[1], "w");
    if (fp == NULL) {
        perror(argv[1]);
        return 2;
    }
    fprintf(fp, "{\"wall_s\":%.6f,\"user_s\":%.6f,\"sys_s\":%.6f,\"maxrss_kb\":%ld,\"exit\":%d}\n",
            (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9,
            (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6,
            (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6, ru.ru_maxrss,
            code);
    fclose(fp);
    return code;
}
