// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * How a trace starts on its VM, as a script starts it: a command that cannot start is the
 * trace's failure (status 1, the command named with the reason), never an empty trace that
 * ends with 0; --pid of a VMM that has not created its VM yet fails at once with what to
 * do, or with --wait is waited for (said while waiting) until the VM appears, the process
 * exits or the time is up.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "demo_vm.h"
#include "trace_run.h"

TestSuite(target, .init = test_clock_start, .timeout = TEST_LIMIT_S);

static void expect_cannot_start(const char *cmd)
{
	char *out;
	int rc = run_capture(cmd, &out);

	cr_assert_eq(rc, 1, "%s: exit %d, output: %s", cmd, rc, out);
	cr_assert(strstr(out, "cannot start '/nonexistent/vmm': No such file or directory"),
		  "%s: %s", cmd, out);
	cr_assert_null(strstr(out, "tracing VM pid"), "%s claims a trace: %s", cmd, out);
	cr_assert_null(strstr(out, "watching VM pid"), "%s claims a trace: %s", cmd, out);
	free(out);
}

Test(target, a_command_that_cannot_start_fails_the_trace)
{
	expect_cannot_start(GMA_OUTPUT "/gma-trace rings -- /nonexistent/vmm 2>&1");
	expect_cannot_start(GMA_OUTPUT "/gma-trace rings --json -- /nonexistent/vmm 2>&1");
	expect_cannot_start(GMA_OUTPUT "/gma-trace health -- /nonexistent/vmm 2>&1");
}

Test(target, a_process_without_a_vm_fails_at_once_and_says_wait)
{
	pid_t idle = spawn_shell("exec sleep 600");
	char cmd[256], *out;
	int rc;

	snprintf(cmd, sizeof(cmd), GMA_OUTPUT "/gma-trace rings --pid %d 2>&1", idle);
	rc = run_capture(cmd, &out);
	kill(idle, SIGKILL);
	wait_exit(idle);
	cr_assert_eq(rc, 1, "exit %d: %s", rc, out);
	cr_assert(strstr(out, "runs no KVM VM"), "%s", out);
	cr_assert(strstr(out, "--wait waits for it"), "no hint of --wait: %s", out);
	free(out);
}

Test(target, wait_gives_up_when_the_process_exits_or_the_time_is_up)
{
	pid_t brief = spawn_shell("exec sleep 2");
	char cmd[256], *out;
	int rc;

	/* the process exits while gma-trace waits: no process, status 1 */
	snprintf(cmd, sizeof(cmd), GMA_OUTPUT "/gma-trace rings --pid %d --wait=300 2>&1", brief);
	rc = run_capture(cmd, &out);
	wait_exit(brief);
	cr_assert_eq(rc, 1, "exit %d: %s", rc, out);
	cr_assert(strstr(out, "waiting up to 300 s"), "%s", out);
	cr_assert(strstr(out, "no process"), "%s", out);
	free(out);

	/* the time is up first */
	brief = spawn_shell("exec sleep 600");
	snprintf(cmd, sizeof(cmd), GMA_OUTPUT "/gma-trace health --pid %d --wait=1 2>&1", brief);
	rc = run_capture(cmd, &out);
	kill(brief, SIGKILL);
	wait_exit(brief);
	cr_assert_eq(rc, 1, "exit %d: %s", rc, out);
	cr_assert(strstr(out, "created no KVM VM in 1 s (--wait)"), "%s", out);
	free(out);
}

/*
 * The race a script has: a VMM started, then traced by its pid before it made its VM. The
 * shell execs the demo VMM only after gma-trace has begun to wait (it waits for gma-trace's
 * "waiting" line), so the VM surely appears during the wait.
 */
Test(target, wait_traces_a_vm_created_after_the_trace_started)
{
	char err_path[] = "/tmp/gma-test-wait.XXXXXX", cmd[1024];
	int fd = mkstemp(err_path);
	pid_t vmm, tracer;
	int rc;

	cr_assert_geq(fd, 0);
	close(fd);
	/* the shell's pid becomes the VMM's at exec */
	snprintf(cmd, sizeof(cmd),
		 "while ! grep -q 'waiting up to' %s 2>/dev/null; do sleep 0.05; done; "
		 "exec " GMA_OUTPUT "/demo-vmm --seconds %s >/dev/null 2>&1",
		 err_path, vmm_seconds());
	vmm = spawn_shell(cmd);
	snprintf(cmd, sizeof(cmd),
		 "exec " GMA_OUTPUT "/gma-trace rings --json --pid %d --wait=%d --duration 2 "
		 ">/dev/null 2>%s",
		 vmm, SAFETY_SECONDS / 2, err_path);
	tracer = spawn_shell(cmd);
	rc = wait_exit_by_deadline(tracer, "gma-trace rings --wait");
	kill(vmm, SIGTERM);
	wait_exit(vmm);
	cr_assert_eq(rc, 0, "gma-trace exited %d (stderr in %s)", rc, err_path);
	cr_assert_eq(count_lines(err_path, "waiting up to"), 1, "stderr in %s", err_path);
	unlink(err_path);
}
