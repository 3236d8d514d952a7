/* Pure naming and classification helpers of the off-CPU source (include/offcpu.h): reason and
 * syscall names, the Python call behind a syscall, library-vs-application frames, and the callee
 * of a source line. */
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "offcpu.h"

static const char *const reason_names[PM_OFF_ALL_REASONS] = {
	[PM_OFF_RUNQ] = "runq",   [PM_OFF_DISK] = "disk",   [PM_OFF_NET] = "net",   [PM_OFF_LOCK] = "lock",
	[PM_OFF_GIL] = "gil",     [PM_OFF_SLEEP] = "sleep", [PM_OFF_POLL] = "poll", [PM_OFF_PIPE] = "pipe",
	[PM_OFF_OTHER] = "other", [PM_OFF_WAIT] = "wait",
};

const char *offcpu_reason_name(unsigned reason)
{
	return reason < PM_OFF_ALL_REASONS ? reason_names[reason] : "?";
}

enum verdict_cat offcpu_reason_cat(unsigned reason)
{
	switch (reason) {
	case PM_OFF_RUNQ:
		return VC_RUNQ;
	case PM_OFF_DISK:
		return VC_DISK;
	case PM_OFF_NET:
		return VC_NET;
	case PM_OFF_LOCK:
	case PM_OFF_GIL:
		return VC_LOCK;
	case PM_OFF_SLEEP:
		return VC_SLEEP;
	case PM_OFF_POLL:
		return VC_POLL;
	case PM_OFF_PIPE:
		return VC_PIPE;
	case PM_OFF_WAIT:
		return VC_WAIT;
	default:
		return VC_OTHER;
	}
}

struct sysname {
	unsigned nr;
	const char *name;
	const char *pycall;
};

/* The x86_64 syscalls a Python thread commonly blocks in. */
static const struct sysname sysnames[] = {
	{ 0, "read", "read" },
	{ 1, "write", "write" },
	{ 2, "open", "open" },
	{ 3, "close", "close" },
	{ 7, "poll", "select.poll" },
	{ 9, "mmap", NULL },
	{ 16, "ioctl", NULL },
	{ 17, "pread64", "os.pread" },
	{ 18, "pwrite64", "os.pwrite" },
	{ 19, "readv", "readv" },
	{ 20, "writev", "writev" },
	{ 23, "select", "select.select" },
	{ 34, "pause", "signal.pause" },
	{ 35, "nanosleep", "time.sleep" },
	{ 40, "sendfile", "os.sendfile" },
	{ 42, "connect", "socket.connect" },
	{ 43, "accept", "socket.accept" },
	{ 44, "sendto", "socket.send" },
	{ 45, "recvfrom", "socket.recv" },
	{ 46, "sendmsg", "socket.sendmsg" },
	{ 47, "recvmsg", "socket.recvmsg" },
	{ 48, "shutdown", "socket.shutdown" },
	{ 56, "clone", NULL },
	{ 57, "fork", "os.fork" },
	{ 58, "vfork", "subprocess.Popen" },
	{ 59, "execve", NULL },
	{ 61, "wait4", "os.waitpid" },
	{ 72, "fcntl", NULL },
	{ 74, "fsync", "os.fsync" },
	{ 75, "fdatasync", "os.fdatasync" },
	{ 76, "truncate", "os.truncate" },
	{ 77, "ftruncate", "os.ftruncate" },
	{ 78, "getdents", "os.listdir" },
	{ 82, "rename", "os.rename" },
	{ 87, "unlink", "os.unlink" },
	{ 128, "rt_sigtimedwait", "signal.sigtimedwait" },
	{ 130, "rt_sigsuspend", "signal.pause" },
	{ 162, "sync", "os.sync" },
	{ 202, "futex", "lock.acquire" },
	{ 217, "getdents64", "os.listdir" },
	{ 230, "clock_nanosleep", "time.sleep" },
	{ 232, "epoll_wait", "select.epoll.poll" },
	{ 247, "waitid", "os.waitid" },
	{ 257, "openat", "open" },
	{ 262, "newfstatat", "os.stat" },
	{ 270, "pselect6", "select.select" },
	{ 271, "ppoll", "select.poll" },
	{ 275, "splice", "os.splice" },
	{ 277, "sync_file_range", NULL },
	{ 281, "epoll_pwait", "select.epoll.poll" },
	{ 288, "accept4", "socket.accept" },
	{ 295, "preadv", "os.preadv" },
	{ 296, "pwritev", "os.pwritev" },
	{ 299, "recvmmsg", NULL },
	{ 306, "syncfs", NULL },
	{ 307, "sendmmsg", NULL },
	{ 318, "getrandom", "os.urandom" },
	{ 332, "statx", "os.stat" },
	{ 441, "epoll_pwait2", "select.epoll.poll" },
	{ 449, "futex_waitv", "lock.acquire" },
};

static const struct sysname *sys_find(unsigned nr)
{
	for (size_t i = 0; i < sizeof(sysnames) / sizeof(sysnames[0]); i++)
		if (sysnames[i].nr == nr)
			return &sysnames[i];
	return NULL;
}

const char *offcpu_syscall_name(unsigned nr)
{
	const struct sysname *s = sys_find(nr);

	return s ? s->name : NULL;
}

const char *offcpu_syscall_pycall(unsigned nr)
{
	const struct sysname *s = sys_find(nr);

	return s ? s->pycall : NULL;
}

bool offcpu_is_library_file(const char *file)
{
	if (!file || !*file)
		return true;
	return file[0] == '<' || strstr(file, "/site-packages/") || strstr(file, "/dist-packages/") ||
	       strstr(file, "/lib/python3") || strstr(file, "/lib/python2") || strstr(file, "/lib64/python3");
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcmp(s + n - m, suffix);
}

/* name is a qualname (3.11+) or a bare co_name (older): compare the last component too */
static bool name_is(const char *name, const char *qual)
{
	const char *dot = strrchr(qual, '.');

	return !strcmp(name, qual) || (dot && !strcmp(name, dot + 1) && !strchr(name, '.'));
}

bool offcpu_is_idle_wait(const char *name, const char *file)
{
	if (!name || !file)
		return false;
	if (ends_with(file, "/threading.py"))
		return name_is(name, "Condition.wait") || name_is(name, "Event.wait") ||
		       name_is(name, "Thread.join") || name_is(name, "Thread._wait_for_tstate_lock") ||
		       name_is(name, "Barrier.wait");
	if (ends_with(file, "/concurrent/futures/thread.py"))
		return name_is(name, "_worker");
	if (ends_with(file, "/queue.py"))
		return name_is(name, "Queue.get");
	return false;
}

static bool ident_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '.';
}

size_t offcpu_src_callee(const char *line, char *out, size_t len)
{
	const char *p = line;

	if (!len)
		return 0;
	out[0] = 0;
	while (p && *p && *p != '#') {
		const char *start, *end;

		if (*p == '"' || *p == '\'') { /* skip a string literal */
			char q = *p++;

			while (*p && *p != q)
				p += (*p == '\\' && p[1]) ? 2 : 1;
			if (*p)
				p++;
			continue;
		}
		if (!(isalpha((unsigned char)*p) || *p == '_')) {
			p++;
			continue;
		}
		start = p;
		while (ident_char(*p))
			p++;
		end = p;
		while (*p == ' ')
			p++;
		if (*p == '(' && end[-1] != '.' && (size_t)(end - start) < len) {
			static const char *const keywords[] = { "if", "elif", "while", "for", "return", "await",
								"and", "or", "not", "in", "yield", "assert",
								"lambda", "with", "del", "raise" };
			bool kw = false;

			for (size_t i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++)
				kw |= (size_t)(end - start) == strlen(keywords[i]) &&
				      !strncmp(start, keywords[i], end - start);
			if (!kw) {
				memcpy(out, start, end - start);
				out[end - start] = 0;
				return end - start;
			}
		}
	}
	return 0;
}

int offcpu_src_line(const char *text, size_t len, int lineno, char *out, size_t outlen)
{
	const char *p = text, *end = text + len, *nl;
	size_t n;

	if (lineno < 1 || !outlen)
		return -ENOENT;
	for (int i = 1; i < lineno; i++) {
		nl = memchr(p, '\n', end - p);
		if (!nl)
			return -ENOENT;
		p = nl + 1;
	}
	if (p >= end)
		return -ENOENT;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	nl = memchr(p, '\n', end - p);
	n = (nl ? nl : end) - p;
	if (n && p[n - 1] == '\r')
		n--;
	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, p, n);
	out[n] = 0;
	return 0;
}
