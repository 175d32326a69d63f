//! Shared helpers of the integration tests.
//!
//! The tests run against the kernel of the machine they run on. A test that
//! needs something this kernel lacks calls [`skip`] (through one of the
//! `require_*` helpers), which says why on stderr, and returns: it never
//! passes silently.

use std::collections::HashMap;
use std::io;
use std::os::fd::RawFd;

use uring::op::Entry;
use uring::{Cqe, Features, Ring};

/// Says on stderr that the calling test is skipped, and why. The caller
/// returns right after.
pub fn skip(reason: impl std::fmt::Display) {
    eprintln!("skipped: {reason}");
}

/// Whether the running kernel is at least `major.minor`; `false` (with a skip
/// message naming `what`) otherwise.
pub fn require_kernel(major: u32, minor: u32, what: &str) -> bool {
    let (have_major, have_minor) = kernel_version();
    if (have_major, have_minor) >= (major, minor) {
        true
    } else {
        skip(format_args!(
            "{what} needs Linux {major}.{minor}, this is {have_major}.{have_minor}"
        ));
        false
    }
}

/// Whether `ring`'s kernel has `features`; `false` (with a skip message
/// naming `what`) otherwise.
pub fn require_features(ring: &Ring, features: Features, what: &str) -> bool {
    if ring.params().has(features) {
        true
    } else {
        skip(format_args!(
            "{what} needs {features:?}, which this kernel lacks"
        ));
        false
    }
}

/// Whether the kernel supports the op `E`; `false` (with a skip message)
/// otherwise.
pub fn require_op<E: Entry>(ring: &Ring) -> bool {
    match ring.probe() {
        Ok(probe) if probe.supports::<E>() => true,
        Ok(_) => {
            skip(format_args!(
                "this kernel does not support the {} op (opcode {})",
                E::NAME,
                E::CODE
            ));
            false
        }
        Err(e) => {
            skip(format_args!("cannot probe the kernel's ops: {e}"));
            false
        }
    }
}

/// Whether this process may create SQPOLL rings: Linux 5.11 lets anyone,
/// before that it needs root. `false` (with a skip message) otherwise.
pub fn require_sqpoll() -> bool {
    // SAFETY: geteuid has no preconditions.
    if kernel_version() >= (5, 11) || unsafe { libc::geteuid() } == 0 {
        true
    } else {
        skip("SQPOLL needs Linux 5.11 or root");
        false
    }
}

/// The kinds of ring whose completions come from different places: the
/// submitting task's task work (plain), task work that runs only in the
/// ring's own enters (`defer_taskrun`), or the SQ thread (SQPOLL).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RingKind {
    /// A ring with no setup flags.
    Plain,
    /// A single-issuer `defer_taskrun` ring.
    Defer,
    /// An SQPOLL ring (20 ms of idle time).
    Sqpoll,
}

/// Every [`RingKind`].
pub const RING_KINDS: [RingKind; 3] = [RingKind::Plain, RingKind::Defer, RingKind::Sqpoll];

/// A ring of `kind` with `sq` SQ entries and `cq` CQ entries, or `None`
/// (with a skip message) where the machine has none.
pub fn ring_of_kind(kind: RingKind, sq: u32, cq: u32) -> Option<Ring> {
    let builder = match kind {
        RingKind::Plain => Ring::builder(),
        RingKind::Defer => Ring::builder().single_issuer().defer_taskrun(),
        RingKind::Sqpoll => {
            if !require_sqpoll() {
                return None;
            }
            Ring::builder().sqpoll(std::time::Duration::from_millis(20))
        }
    };
    match builder.cq_entries(cq).build(sq) {
        Ok(ring) => {
            assert_eq!(ring.cq_entries(), cq, "{kind:?}");
            Some(ring)
        }
        Err(e) => {
            skip(format_args!("no {kind:?} ring of {sq}/{cq} entries: {e}"));
            None
        }
    }
}

/// The running kernel's `major.minor`, from `uname(2)`.
pub fn kernel_version() -> (u32, u32) {
    // SAFETY: all-zero bytes are a valid `utsname`.
    let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `uts` is a valid, writable `utsname`.
    let rc = unsafe { libc::uname(&mut uts) };
    assert_eq!(rc, 0, "uname: {}", io::Error::last_os_error());
    let release: String = uts
        .release
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8 as char)
        .collect();
    parse_version(&release).unwrap_or_else(|| panic!("cannot parse kernel release {release:?}"))
}

/// `"6.18.44-foo"` → `(6, 18)`; `"5.6"` → `(5, 6)`.
pub fn parse_version(text: &str) -> Option<(u32, u32)> {
    let mut parts = text.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// The errno of `fcntl(fd, F_GETFD)`: `None` when `fd` is open.
pub fn fd_errno(fd: RawFd) -> Option<i32> {
    // SAFETY: F_GETFD only reads the descriptor table.
    let rc = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    if rc == -1 {
        io::Error::last_os_error().raw_os_error()
    } else {
        None
    }
}

/// Whether `fd` names an open descriptor.
pub fn fd_is_open(fd: RawFd) -> bool {
    fd_errno(fd).is_none()
}

/// `(user_data, res)` of each completion, in order.
pub fn pairs<C: AsRef<Cqe>>(cqes: &[C]) -> Vec<(u64, i32)> {
    cqes.iter()
        .map(|c| (c.as_ref().user_data(), c.as_ref().res()))
        .collect()
}

/// Submits what is pushed and waits until `n` completions have arrived,
/// each wait bounded by [`PATIENCE`]; returns them in CQ order.
pub fn wait_cqes(ring: &mut Ring, n: usize) -> Vec<Cqe> {
    ring.submit().unwrap();
    let mut got = Vec::new();
    while got.len() < n {
        ring.submit_and_wait_timeout(1, PATIENCE)
            .unwrap_or_else(|e| panic!("{e} after {:?}", pairs(&got)));
        got.extend(ring.completions().take(n - got.len()));
    }
    got
}

/// Opens `path` with `O_DIRECT`, for reading and, with `write`, writing;
/// `None` (with a skip message) where its file system refuses direct I/O.
pub fn open_direct(path: &std::path::Path, write: bool) -> Option<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    match std::fs::OpenOptions::new()
        .read(true)
        .write(write)
        .custom_flags(libc::O_DIRECT)
        .open(path)
    {
        Ok(file) => Some(file),
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::EINVAL | libc::EPERM | libc::EACCES)
            ) =>
        {
            skip(format_args!("no O_DIRECT on {}: {e}", path.display()));
            None
        }
        Err(e) => panic!("open {}: {e}", path.display()),
    }
}

/// Submits what is pushed and returns `n` completions as `(user_data,
/// res)`, sorted by `user_data` (see [`submit_and_reap`]).
pub fn reap_sorted(ring: &mut Ring, n: usize) -> Vec<(u64, i32)> {
    let mut got = pairs(&submit_and_reap(ring, n));
    got.sort_unstable();
    got
}

/// The completions that arrive within a short while (30 ms), submitting
/// nothing: a test that expects none asserts this is empty.
pub fn stray_cqes(ring: &mut Ring) -> Vec<Cqe> {
    let _ = ring.wait_timeout(1, std::time::Duration::from_millis(30));
    ring.completions().collect()
}

/// [`stray_cqes`] as `(user_data, res)`.
pub fn stray(ring: &mut Ring) -> Vec<(u64, i32)> {
    pairs(&stray_cqes(ring))
}

/// Submits what is pushed and reaps completions until `n` have arrived,
/// waiting for them in batches no larger than the CQ; panics on any ring
/// error. Returns them in the order the CQ delivered them.
pub fn submit_and_reap(ring: &mut Ring, n: usize) -> Vec<Cqe> {
    let mut out = Vec::with_capacity(n);
    ring.submit().expect("submit");
    while out.len() < n {
        let want = (n - out.len()).min(ring.cq_entries() as usize) as u32;
        ring.submit_and_wait(want).expect("submit_and_wait");
        out.extend(ring.completions());
    }
    assert_eq!(out.len(), n, "more completions than ops: {out:?}");
    out
}

/// Submits what is pushed and returns its one completion (see
/// [`submit_and_reap`]).
pub fn reap_one(ring: &mut Ring) -> Cqe {
    submit_and_reap(ring, 1)[0]
}

/// Pushes an op that borrows memory or descriptors outside a scope, for the
/// tests of kernel behaviour that drive the ring by hand: `push_lent!(ring,
/// op)` is `ring.push_unchecked(op)`. Every test that uses it reaps the op's
/// last completion (or drops the ring after the op was cancelled and
/// reaped) before what the op borrows goes out of scope.
#[macro_export]
macro_rules! push_lent {
    ($ring:expr, $op:expr $(,)?) => {{
        // SAFETY: the calling test keeps what the op borrows alive and
        // untouched until it has reaped the op's last completion (see the
        // macro's documentation).
        unsafe { $ring.push_unchecked($op) }
    }};
}

/// A target that names no descriptor (-1): the kernel answers `EBADF`.
pub fn bad_fd() -> uring::Fd<'static> {
    // SAFETY: -1 is never an open descriptor, so the op names no file and
    // the kernel fails it with EBADF; nothing can close or reuse it.
    unsafe { uring::Fd::borrow_raw(-1) }
}

/// How long a test waits for an op that should complete before it fails.
pub const PATIENCE: std::time::Duration = std::time::Duration::from_secs(10);

/// Runs one op in a scope, which lends it what it borrows, and returns its
/// completion; panics on a full queue, a ring error, another op's
/// completion coming first, or no completion after [`PATIENCE`] (the scope
/// then cancels the op before the panic unwinds).
pub fn complete<'r, S>(ring: &'r mut Ring, op: S) -> Cqe
where
    S: uring::Submission + uring::Scoped + 'r,
{
    assert_eq!(S::SQES, 1, "complete() runs one op");
    ring.scope(|s| {
        if s.push(op).is_err() {
            panic!("the submission queue is full");
        }
        s.submit().expect("submit");
        s.wait_timeout(1, PATIENCE)
            .unwrap_or_else(|e| panic!("no completion after {PATIENCE:?}: {e}"));
        let cqe = s.completions().next().expect("a completion");
        assert!(
            cqe.is_scope_op(),
            "the completion of another op came first: {cqe:?}"
        );
        cqe.cqe()
    })
}

/// The completions by `user_data`, asserting each `user_data` came once.
pub fn by_user_data(cqes: &[Cqe]) -> HashMap<u64, Cqe> {
    let mut map = HashMap::with_capacity(cqes.len());
    for cqe in cqes {
        if let Some(earlier) = map.insert(cqe.user_data(), *cqe) {
            panic!(
                "user_data {} completed twice: {earlier:?} and {cqe:?}",
                cqe.user_data()
            );
        }
    }
    map
}

/// Asserts that `cqes` holds exactly one completion for each of `expected`
/// (in any order) and nothing else.
pub fn assert_user_data_once(cqes: &[Cqe], expected: impl IntoIterator<Item = u64>) {
    let map = by_user_data(cqes);
    let mut expected: Vec<u64> = expected.into_iter().collect();
    expected.sort_unstable();
    let mut got: Vec<u64> = map.keys().copied().collect();
    got.sort_unstable();
    assert_eq!(got, expected, "user_data of the completions");
}

/// A value that counts its drops into the counter it holds: an output
/// whose drop the tests count.
#[derive(Debug)]
pub struct Counted(pub std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// `n` bytes of a recognisable, position-dependent pattern (never all one
/// value), seeded so that different calls give different bytes.
pub fn pattern(n: usize, seed: u8) -> Vec<u8> {
    // The bytes repeat every 64 KiB: one period is computed, the rest
    // copied, so that many MiB of it cost little in a debug build and
    // under valgrind.
    const PERIOD: usize = 1 << 16;
    let period: Vec<u8> = (0..n.min(PERIOD))
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ ((i >> 8) as u8))
        .collect();
    let mut bytes = Vec::with_capacity(n);
    while bytes.len() < n {
        let take = period.len().min(n - bytes.len());
        bytes.extend_from_slice(&period[..take]);
    }
    bytes
}

/// Whether every byte of `buf` is `byte`. Compared a block at a time
/// (`memcmp`): a byte loop over many MiB takes seconds in a debug build
/// under valgrind.
pub fn all_bytes(buf: &[u8], byte: u8) -> bool {
    let block = [byte; 4096];
    buf.chunks(block.len()).all(|c| c == &block[..c.len()])
}

/// Whether each byte of `buf` is either 0 or `source`'s byte at its place
/// (as far as both go): what a read into a zeroed buffer that may or may
/// not have run leaves. A block at a time where it can be.
pub fn zero_or_source(buf: &[u8], source: &[u8]) -> bool {
    const BLOCK: usize = 4096;
    buf.chunks(BLOCK).zip(source.chunks(BLOCK)).all(|(b, s)| {
        let n = b.len().min(s.len());
        let (b, s) = (&b[..n], &s[..n]);
        b == s || all_bytes(b, 0) || b.iter().zip(s).all(|(&b, &s)| b == 0 || b == s)
    })
}

/// A pipe: `(read end, write end)`, both close-on-exec.
pub fn pipe() -> (std::os::fd::OwnedFd, std::os::fd::OwnedFd) {
    use std::os::fd::FromRawFd;
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(rc, 0, "pipe2: {}", io::Error::last_os_error());
    // SAFETY: pipe2 just returned these two descriptors, owned by no one else.
    unsafe {
        (
            std::os::fd::OwnedFd::from_raw_fd(fds[0]),
            std::os::fd::OwnedFd::from_raw_fd(fds[1]),
        )
    }
}

/// A connected pair of loopback TCP streams, `(client, server)`: the
/// client has `TCP_NODELAY` set so that small writes leave at once, and
/// the server's blocking reads give up after [`watchdog_bound`] (longer
/// under the memcheck script) rather than hang a test.
pub fn tcp_pair() -> (std::net::TcpStream, std::net::TcpStream) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback listener");
    let client =
        std::net::TcpStream::connect(listener.local_addr().expect("the listener's address"))
            .expect("connect to the loopback listener");
    let (server, _) = listener.accept().expect("accept the loopback connection");
    client.set_nodelay(true).expect("TCP_NODELAY");
    server
        .set_read_timeout(Some(watchdog_bound()))
        .expect("a read timeout");
    (client, server)
}

/// A new, unconnected socket of `domain` (`AF_INET`, `AF_INET6`) and `ty`
/// (`SOCK_STREAM`, `SOCK_DGRAM`), close-on-exec.
pub fn socket(domain: i32, ty: i32) -> io::Result<std::os::fd::OwnedFd> {
    socket_with(domain, ty, 0)
}

/// [`socket`] of `protocol` (`IPPROTO_MPTCP`, `NETLINK_ROUTE`, ...): a
/// socket of any family, as one another process may have handed over.
pub fn socket_with(domain: i32, ty: i32, protocol: i32) -> io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: socket(2) takes plain integers.
    let fd = unsafe { libc::socket(domain, ty | libc::SOCK_CLOEXEC, protocol) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: socket(2) just returned this descriptor, owned by no one else.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })
}

/// The local address of a socket, from `getsockname(2)`.
pub fn local_addr(fd: std::os::fd::BorrowedFd<'_>) -> io::Result<std::net::SocketAddr> {
    use std::os::fd::AsRawFd;
    // SAFETY: all-zero bytes are a valid `sockaddr_storage`.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: `storage` has room for `len` bytes, and `len` is writable.
    let rc = unsafe {
        libc::getsockname(
            fd.as_raw_fd(),
            (&mut storage as *mut libc::sockaddr_storage).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    match storage.ss_family as i32 {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a `sockaddr_in`.
            let sin = unsafe { &*(&storage as *const _ as *const libc::sockaddr_in) };
            Ok(std::net::SocketAddr::new(
                std::net::Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes()).into(),
                u16::from_be(sin.sin_port),
            ))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says the storage holds a `sockaddr_in6`.
            let sin6 = unsafe { &*(&storage as *const _ as *const libc::sockaddr_in6) };
            Ok(std::net::SocketAddr::new(
                std::net::Ipv6Addr::from(sin6.sin6_addr.s6_addr).into(),
                u16::from_be(sin6.sin6_port),
            ))
        }
        family => Err(io::Error::other(format!("address family {family}"))),
    }
}

/// The `SqThread` and `SqThreadCpu` lines of the ring's `/proc/self/fdinfo`
/// entry: the pid of its SQ polling thread (-1 without one) and its CPU.
pub fn sq_thread_info(ring: &Ring) -> (i64, i64) {
    use std::os::fd::AsRawFd;
    let path = format!("/proc/self/fdinfo/{}", ring.as_raw_fd());
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let field = |name: &str| -> i64 {
        text.lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim_start_matches(':').trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {path}:\n{text}"))
    };
    (field("SqThread:"), field("SqThreadCpu:"))
}

/// How long a test guarded by [`watchdog`] may run before the process is
/// aborted: `URING_TEST_WATCHDOG_SECS` seconds when that is set (a run under
/// valgrind needs longer), else 60.
pub fn watchdog_bound() -> std::time::Duration {
    let secs = std::env::var("URING_TEST_WATCHDOG_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    std::time::Duration::from_secs(secs)
}

/// Guards a test that could hang (a wait for a completion that never
/// comes, a scope that cannot settle): if the returned guard is still alive
/// after [`watchdog_bound`], the whole test process is aborted with a
/// message naming the test, so that the run fails at once instead of
/// hanging. Dropping the guard, as the test returns or unwinds, stops the
/// watch at once: a passing test is not slowed. A test starts with
/// `let _watch = uring_tests::watchdog();`.
#[must_use = "the watch ends when the guard is dropped"]
pub fn watchdog() -> Watchdog {
    let bound = watchdog_bound();
    let name = std::thread::current().name().unwrap_or("a test").to_owned();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    std::thread::Builder::new()
        .name(format!("watchdog of {name}"))
        .spawn(move || {
            if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(bound) {
                eprintln!("{name}: still running after {bound:?}; aborting the test process");
                std::process::abort();
            }
        })
        .expect("spawn the watchdog thread");
    Watchdog { _alive: tx }
}

/// The guard of [`watchdog`]: the watch lasts as long as it does.
#[derive(Debug)]
pub struct Watchdog {
    _alive: std::sync::mpsc::Sender<()>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse() {
        assert_eq!(parse_version("6.18.44-fc-v669"), Some((6, 18)));
        assert_eq!(parse_version("5.6"), Some((5, 6)));
        assert_eq!(parse_version("6"), None);
        assert!(kernel_version() >= (5, 1));
    }

    #[test]
    fn patterns_differ() {
        assert_ne!(pattern(64, 1), pattern(64, 2));
        let p = pattern(512, 0);
        assert!(p.iter().any(|&b| b != p[0]));
    }
}

/// The process's soft and hard `RLIMIT_NOFILE`.
pub fn nofile_limits() -> (u64, u64) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the struct it is given, which lives here.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    assert_eq!(rc, 0, "getrlimit: {}", io::Error::last_os_error());
    (limit.rlim_cur, limit.rlim_max)
}

/// How many descriptors this process has open (`/proc/self/fd`, the
/// directory's own descriptor included).
pub fn open_fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// What the property tests share (`tests/tests/prop_*.rs`).
pub mod prop;

/// Loop devices for block-device commands.
pub mod block;

pub mod examples;
pub mod fifo;
pub mod multishot;
/// What the attacks on `uring::net` share.
pub mod net;
pub mod reactor;
pub mod signals;

/// A small deterministic generator (xorshift64*) for the random walks, so
/// that a failing walk can be replayed from its seed. The state must not be
/// 0 (xorshift stays there).
pub struct Rng(pub u64);

impl Rng {
    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A value below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// The `user_data` of the SQEs and completions waiting in the ring whose
/// descriptor is `fd`, as the kernel shows them to anyone who reads
/// `/proc/self/fdinfo` (a scope's raw tags among them).
pub fn fdinfo_user_data(fd: i32) -> Vec<u64> {
    let path = format!("/proc/self/fdinfo/{fd}");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .filter_map(|line| {
            let rest = line.split("user_data:").nth(1)?;
            rest.split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()
        })
        .collect()
}

/// A registration's result, or `None` (with a skip message naming `what`)
/// where the kernel refuses it with `EINVAL` because it predates that kind
/// of registration; any other error fails the test.
pub fn or_skip<T>(made: uring::Result<T>, what: &str) -> Option<T> {
    match made {
        Ok(made) => Some(made),
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            skip(format_args!("no {what}: {e}"));
            None
        }
        Err(e) => panic!("{what}: {e}"),
    }
}

/// A provided-buffer ring of `count` buffers of `len` bytes under `group`,
/// or `None` (with a skip message) on a kernel without them (5.19).
pub fn plain_buf_ring(ring: &mut Ring, group: u16, count: u16, len: u32) -> Option<uring::BufRing> {
    or_skip(
        ring.register_buf_ring(uring::BufferGroup::new(group), count, len),
        "provided-buffer rings (5.19)",
    )
}

/// [`plain_buf_ring`], consumed incrementally, or `None` (with a skip
/// message) on a kernel without incremental rings (6.12).
pub fn incremental_buf_ring(
    ring: &mut Ring,
    group: u16,
    count: u16,
    len: u32,
) -> Option<uring::BufRing> {
    or_skip(
        ring.register_buf_ring_incremental(uring::BufferGroup::new(group), count, len),
        "incremental buffer rings (6.12)",
    )
}

/// A raw buffer ring of `entries` descriptors under `group`, its buffers
/// the caller's to add, or `None` (with a skip message) on a kernel
/// without buffer rings (5.19).
pub fn raw_buf_ring(ring: &mut Ring, group: u16, entries: u16) -> Option<uring::RawBufRing> {
    or_skip(
        ring.register_buf_ring_raw(uring::BufferGroup::new(group), entries),
        "provided-buffer rings (5.19)",
    )
}

/// [`raw_buf_ring`], consumed incrementally, its descriptors allocated by
/// the kernel if `mmap`, or `None` (with a skip message) on a kernel
/// without incremental rings (6.12).
pub fn incremental_raw_buf_ring(
    ring: &mut Ring,
    group: u16,
    entries: u16,
    mmap: bool,
) -> Option<uring::RawBufRing> {
    let group = uring::BufferGroup::new(group);
    if mmap {
        or_skip(
            ring.register_buf_ring_raw_incremental_mmap(group, entries),
            "incremental rings the kernel allocates (6.12)",
        )
    } else {
        or_skip(
            ring.register_buf_ring_raw_incremental(group, entries),
            "incremental buffer rings (6.12)",
        )
    }
}

/// Writes to every stream after a scope has returned, waits a little and
/// checks that no buffer the scope lent changed from `canary`: no read was
/// left in flight.
pub fn assert_nothing_writes_after(
    writers: &mut [&mut std::os::unix::net::UnixStream],
    bufs: &[&[u8]],
    canary: u8,
) {
    use std::io::Write as _;
    for w in writers.iter_mut() {
        let _ = w.write_all(b"late data, after the scope");
    }
    std::thread::sleep(std::time::Duration::from_millis(50));
    for (i, b) in bufs.iter().enumerate() {
        assert!(
            b.iter().all(|&x| x == canary),
            "buffer {i} was written after its scope ended: {b:?}"
        );
    }
}

/// A waker that counts its wakes (`Waker::from(Arc<WakeCount>)`).
#[derive(Default)]
pub struct WakeCount(pub std::sync::atomic::AtomicUsize);

impl std::task::Wake for WakeCount {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Polls `future` once with a waker that does nothing.
pub fn poll_once<F: std::future::Future + Unpin>(future: &mut F) -> std::task::Poll<F::Output> {
    std::pin::Pin::new(future).poll(&mut std::task::Context::from_waker(std::task::Waker::noop()))
}

/// Runs `reactor` for `ms` milliseconds (a timeout op), handling every
/// completion that arrives meanwhile, without polling anything else.
pub fn run_for(reactor: &uring::reactor::Reactor, ms: u64) {
    let (r, ()) = reactor
        .run_until(reactor.op(uring::reactor::ops::Timeout::new(
            std::time::Duration::from_millis(ms),
        )))
        .unwrap();
    assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::ETIME));
    let_peers_run();
}

/// Sleeps 100 µs. Valgrind runs one thread at a time and keeps the other
/// threads waiting while one waits in `io_uring_enter` (which it does not
/// know may block): loops that wait on a ring in rounds call this between
/// rounds so that the test's peer threads run under memcheck too.
pub fn let_peers_run() {
    std::thread::sleep(std::time::Duration::from_micros(100));
}

/// A new epoll instance that watches `fd` for `EPOLLIN`, reporting `data`
/// with each event.
pub fn epoll_watching(fd: std::os::fd::BorrowedFd<'_>, data: u64) -> std::os::fd::OwnedFd {
    use std::os::fd::{AsRawFd, FromRawFd};
    // SAFETY: epoll_create1 takes a flag and returns a new descriptor.
    let raw = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    assert!(raw >= 0, "epoll_create1: {}", io::Error::last_os_error());
    // SAFETY: just made, owned by no one else.
    let epoll = unsafe { std::os::fd::OwnedFd::from_raw_fd(raw) };
    let mut event = libc::epoll_event {
        events: libc::EPOLLIN as u32,
        u64: data,
    };
    // SAFETY: both descriptors are open, the event outlives the call.
    let rc = unsafe {
        libc::epoll_ctl(
            epoll.as_raw_fd(),
            libc::EPOLL_CTL_ADD,
            fd.as_raw_fd(),
            &mut event,
        )
    };
    assert_eq!(rc, 0, "epoll_ctl: {}", io::Error::last_os_error());
    epoll
}

/// A raw SQE with the fields the ports of C tests set by hand (`opcode`,
/// `fd`, `addr`, `len`, `flags`, `user_data`), zero elsewhere.
pub fn raw_sqe(
    opcode: u8,
    fd: i32,
    addr: u64,
    len: u32,
    flags: u8,
    user_data: u64,
) -> uring::sys::io_uring_sqe {
    let mut sqe = uring::sys::io_uring_sqe {
        opcode,
        fd,
        len,
        flags,
        user_data,
        ..Default::default()
    };
    sqe.addr = uring::sys::io_uring_sqe_addr { addr };
    sqe
}

/// Moves a child, between `fork` and `exec` (a `pre_exec` closure), into a
/// new time namespace whose monotonic and boot-time clocks run 10 s behind
/// the host's.
///
/// # Safety
///
/// Only in a child between `fork` and `exec`: it makes async-signal-safe
/// system calls on static bytes alone.
pub unsafe fn time_namespace_10s_behind() -> io::Result<()> {
    // SAFETY: plain system calls on static, NUL-terminated and sized bytes;
    // the descriptor opened here is closed here.
    unsafe {
        if libc::unshare(libc::CLONE_NEWTIME) != 0 {
            return Err(io::Error::last_os_error());
        }
        let fd = libc::open(c"/proc/self/timens_offsets".as_ptr(), libc::O_WRONLY);
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        for line in [&b"monotonic -10 0\n"[..], &b"boottime -10 0\n"[..]] {
            if libc::write(fd, line.as_ptr().cast(), line.len()) != line.len() as isize {
                let e = io::Error::last_os_error();
                libc::close(fd);
                return Err(e);
            }
        }
        libc::close(fd);
    }
    Ok(())
}

/// The `user_data` the kernel shows (`/proc/self/fdinfo`) for a NOP pushed
/// with `user_data` 2 in a scope of `ring`: `[2]` while the scope leaves
/// its ops untagged, a tag once every op of the ring's scopes is tagged.
/// Asserts that the NOP's completion comes back as 2.
pub fn scope_nop_user_data(ring: &mut Ring) -> Vec<u64> {
    use std::os::fd::AsRawFd;
    let fd = ring.as_raw_fd();
    ring.scope(|s| {
        s.push(uring::ops::Nop::new().user_data(2)).unwrap();
        s.submit_and_wait(1).unwrap();
        let shown = fdinfo_user_data(fd);
        assert_eq!(
            s.completions().map(|c| c.user_data()).collect::<Vec<_>>(),
            [2]
        );
        shown
    })
}

/// `setsockopt(fd, level, name, &value)` of an `int` option.
pub fn set_int_option(
    fd: impl std::os::fd::AsFd,
    level: i32,
    name: i32,
    value: i32,
) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: `fd` is open (borrowed for the call) and the value is an
    // `int` that outlives the call.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_fd().as_raw_fd(),
            level,
            name,
            (&value as *const i32).cast(),
            std::mem::size_of::<i32>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The page size the guard pages of [`Guarded`] take.
pub const GUARD_PAGE: usize = 4096;

/// Anonymous memory of whole pages followed by a `PROT_NONE` page: a read
/// or write one byte past the usable memory faults.
pub struct Guarded {
    base: *mut u8,
    len: usize,
    map_len: usize,
}

impl Guarded {
    /// At least `len` usable bytes (whole pages, zeroed) and the guard page.
    pub fn new(len: usize) -> Guarded {
        Guarded::map(len, false).expect("mmap")
    }

    /// As [`new`](Guarded::new); with `lazy`, the pages are not reserved (for
    /// gigabytes of address space the kernel only reads as zeros). `None`
    /// if the mapping cannot be made.
    pub fn map(len: usize, lazy: bool) -> Option<Guarded> {
        let len = len.max(1).next_multiple_of(GUARD_PAGE);
        let map_len = len + GUARD_PAGE;
        let flags =
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | if lazy { libc::MAP_NORESERVE } else { 0 };
        // SAFETY: a fresh anonymous mapping at an address the kernel picks.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                flags,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return None;
        }
        let base = base.cast::<u8>();
        // SAFETY: the last page of the mapping just made.
        let rc = unsafe { libc::mprotect(base.add(len).cast(), GUARD_PAGE, libc::PROT_NONE) };
        assert_eq!(rc, 0, "mprotect: {}", std::io::Error::last_os_error());
        Some(Guarded { base, len, map_len })
    }

    /// Every usable byte, up to the guard page.
    pub fn bytes(&mut self) -> &mut [u8] {
        // SAFETY: `len` readable and writable bytes of a mapping this value
        // owns, borrowed mutably through `self`.
        unsafe { std::slice::from_raw_parts_mut(self.base, self.len) }
    }

    /// The last `n` usable bytes: they end at the guard page (for `n` of 0,
    /// an empty slice at the guard page's first byte).
    pub fn tail(&mut self, n: usize) -> &mut [u8] {
        let len = self.len;
        &mut self.bytes()[len - n..]
    }

    /// `bytes` as the last bytes before the guard page.
    pub fn tail_of(&mut self, bytes: &[u8]) -> &mut [u8] {
        let tail = self.tail(bytes.len());
        tail.copy_from_slice(bytes);
        tail
    }

    /// `bytes` and a NUL, its last byte the last before the guard page.
    pub fn cstr(&mut self, bytes: &[u8]) -> &std::ffi::CStr {
        let tail = self.tail(bytes.len() + 1);
        tail[..bytes.len()].copy_from_slice(bytes);
        tail[bytes.len()] = 0;
        std::ffi::CStr::from_bytes_with_nul(tail).expect("no NUL inside")
    }

    /// `items`, moved to end at the guard page (their drops never run).
    pub fn place<T>(&mut self, items: Vec<T>) -> &mut [T] {
        let n = items.len();
        let size = n * std::mem::size_of::<T>();
        assert!(size <= self.len, "{size} bytes do not fit");
        // A size is a multiple of the alignment, and the end is a page's.
        // SAFETY: in bounds (checked just above).
        let at = unsafe { self.base.add(self.len - size) }.cast::<T>();
        assert!(at.is_aligned());
        let mut items = std::mem::ManuallyDrop::new(items);
        // SAFETY: `n` values move into writable, aligned memory this value
        // owns, from a vector that forgets them (its buffer is freed below
        // without dropping them).
        unsafe {
            std::ptr::copy_nonoverlapping(items.as_ptr(), at, n);
            items.set_len(0);
            std::mem::ManuallyDrop::drop(&mut items);
            std::slice::from_raw_parts_mut(at, n)
        }
    }

    /// `value`, moved to end at the guard page.
    pub fn place_one<T>(&mut self, value: T) -> &mut T {
        &mut self.place(vec![value])[0]
    }

    /// The usable bytes, for good: the mapping is never unmapped.
    pub fn leak(self) -> &'static mut [u8] {
        let me = std::mem::ManuallyDrop::new(self);
        // SAFETY: the mapping is never unmapped (the value is forgotten),
        // and nothing else refers to it.
        unsafe { std::slice::from_raw_parts_mut(me.base, me.len) }
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        // SAFETY: the mapping this value made; nothing borrows it any more.
        unsafe { libc::munmap(self.base.cast(), self.map_len) };
    }
}

/// Makes closing `socket` reset its connection (`SO_LINGER` of zero)
/// rather than end its stream.
pub fn reset_on_close(socket: impl std::os::fd::AsFd) {
    use std::os::fd::AsRawFd;
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: `socket` is open (borrowed for the call) and the value is a
    // `linger` that outlives the call.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_fd().as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "SO_LINGER: {}", io::Error::last_os_error());
}

/// Raises this process's descriptor limit to `want`; false if it cannot
/// be.
pub fn raise_nofile(want: u64) -> bool {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the limits into `lim`, alive for the call.
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    if lim.rlim_cur >= want {
        return true;
    }
    lim.rlim_cur = want;
    lim.rlim_max = lim.rlim_max.max(want);
    // SAFETY: setrlimit reads the limits from `lim`, alive for the call.
    unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) == 0 }
}

/// A buffer ring the kernel allocates, registered on `ring`, or `None`
/// (with a skip message) on a kernel without them (6.4), or without
/// incremental rings (6.12) if `incremental`.
pub fn mmap_buf_ring(
    ring: &mut Ring,
    group: u16,
    count: u16,
    len: u32,
    incremental: bool,
) -> Option<uring::BufRing> {
    let group = uring::BufferGroup::new(group);
    let made = if incremental {
        ring.register_buf_ring_incremental_mmap(group, count, len)
    } else {
        ring.register_buf_ring_mmap(group, count, len)
    };
    match made {
        Ok(pool) => {
            assert!(pool.is_mmap());
            assert_eq!(pool.is_incremental(), incremental);
            Some(pool)
        }
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            let what = if incremental {
                "incremental buffer rings the kernel allocates (6.12)"
            } else {
                "buffer rings the kernel allocates (6.4)"
            };
            skip(format_args!("no {what}: {e}"));
            None
        }
        Err(e) => panic!("register a kernel-allocated buffer ring: {e}"),
    }
}

/// The environment variable that names the test whose checks a copy of a
/// test binary, started by [`run_in_child`] or [`child_command`], runs.
pub const CHILD_TEST: &str = "URING_TESTS_CHILD";

/// Whether this process is the copy of its test binary that runs test
/// `name`'s checks (for tests that change what a whole process shares:
/// resource limits, namespaces).
pub fn in_child(name: &str) -> bool {
    std::env::var(CHILD_TEST).is_ok_and(|v| v == name)
}

/// The command that runs test `name` of this binary alone in a new process
/// (ignored or not, its output shown), with [`CHILD_TEST`] naming it.
pub fn child_command(name: &str) -> std::process::Command {
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args([
        name,
        "--exact",
        "--include-ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(CHILD_TEST, name);
    cmd
}

/// The output of a process of [`child_command`]; panics unless its test
/// ran and passed there.
pub fn child_output(out: &std::process::Output) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "in the child process:\n{text}");
    assert!(text.contains("1 passed"), "the checks did not run:\n{text}");
    text
}

/// Runs test `name` of this binary in a new process ([`child_command`])
/// and asserts that its checks ran and passed there; their output.
pub fn run_in_child(name: &str) -> String {
    child_output(&child_command(name).output().unwrap())
}

/// Runs `body` as test `name` in a process of its own (this test binary,
/// running that test alone), for a test whose failure may be a hang: the
/// child is killed, and the test fails naming `hang`, when it has not ended
/// within 15 seconds (120 under valgrind, and where the watchdog is
/// lengthened with `URING_TEST_WATCHDOG_SECS`, as under ThreadSanitizer).
/// What the child printed (a skip says why) shows with the test's output.
pub fn in_own_process(name: &str, hang: &str, body: impl FnOnce()) {
    use std::time::{Duration, Instant};
    if in_child(name) {
        body();
        return;
    }
    let _watch = watchdog();
    let mut child = child_command(name)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let slowed = under_valgrind() || std::env::var_os("URING_TEST_WATCHDOG_SECS").is_some();
    let patience = Duration::from_secs(if slowed { 120 } else { 15 });
    let deadline = Instant::now() + patience;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            panic!(
                "the test never ended: {hang}?\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    eprint!("{}", child_output(&child.wait_with_output().unwrap()));
}

/// A directory for the files of one test, on the target directory's file
/// system (which, unlike tmpfs, takes `O_DIRECT`). A macro, so that
/// `CARGO_TARGET_TMPDIR` (set only for integration tests) is read where
/// the test is compiled.
#[macro_export]
macro_rules! test_dir {
    () => {
        tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap()
    };
}

/// A path as the C string the `*at` ops take.
pub fn cpath(path: &std::path::Path) -> std::ffi::CString {
    use std::os::unix::ffi::OsStrExt;
    std::ffi::CString::new(path.as_os_str().as_bytes()).expect("a path without NUL")
}

/// A page-aligned 4 KiB block, so that buffers made of them suit
/// `O_DIRECT`.
#[derive(Clone, Copy)]
#[repr(C, align(4096))]
pub struct Block(pub [u8; 4096]);

/// `len` bytes (a multiple of 4096) of page-aligned zeroed memory.
pub fn aligned_blocks(len: usize) -> Vec<Block> {
    assert_eq!(len % 4096, 0);
    vec![Block([0; 4096]); len / 4096]
}

/// The bytes of `blocks`.
pub fn block_bytes(blocks: &mut [Block]) -> &mut [u8] {
    let len = std::mem::size_of_val(blocks);
    // SAFETY: `Block` is plain bytes with no padding; the slice covers
    // exactly the blocks, borrowed mutably for as long as it lives.
    unsafe { std::slice::from_raw_parts_mut(blocks.as_mut_ptr().cast::<u8>(), len) }
}

/// Skips with `what` and the error when `e` is how `mmap` refuses huge
/// pages the system has not reserved (`ENOMEM`, `EINVAL`, `EPERM`); any
/// other error fails the test.
pub fn skip_without_huge_pages(e: &uring::Error, what: std::fmt::Arguments<'_>) {
    assert!(
        matches!(
            e.raw_os_error(),
            Some(libc::ENOMEM | libc::EINVAL | libc::EPERM)
        ),
        "{e}"
    );
    skip(format_args!("{what}: {e}"));
}

/// A memfd of `len` bytes named `name` (`/memfd:NAME` in the process's
/// maps).
pub fn memfd(name: &str, len: usize) -> std::fs::File {
    use std::os::fd::{FromRawFd as _, OwnedFd};
    let cname = std::ffi::CString::new(name).unwrap();
    // SAFETY: a valid C string; the result is checked.
    let fd = unsafe { libc::memfd_create(cname.as_ptr(), libc::MFD_CLOEXEC) };
    assert!(fd >= 0, "memfd_create: {}", std::io::Error::last_os_error());
    // SAFETY: a fresh descriptor, owned here.
    let file = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    file.set_len(len as u64).unwrap();
    file
}

/// Whether this process runs under valgrind (its preloaded libraries are
/// mapped): a test whose second thread must run while the first waits in
/// the kernel skips there, since valgrind runs one thread at a time.
pub fn under_valgrind() -> bool {
    std::fs::read_to_string("/proc/self/maps").is_ok_and(|maps| maps.contains("vgpreload"))
}

/// Runs `peer` (a client that connects, and perhaps writes, to a listener
/// the test then accepts from) on a thread of its own, or, under valgrind,
/// at once on this one, the thread only handing its result over: valgrind
/// lets no other thread run while this one waits in `io_uring_enter`, and
/// the listener's backlog holds the connection until the accept.
pub fn peer_thread<T: Send + 'static>(
    peer: impl FnOnce() -> T + Send + 'static,
) -> std::thread::JoinHandle<T> {
    if under_valgrind() {
        let done = peer();
        return std::thread::spawn(move || done);
    }
    std::thread::spawn(peer)
}

/// A ring of `entries` SQEs with deferred task work (a single issuer), or
/// `None` with a skip message where the kernel has none (before 6.1).
pub fn defer_ring(entries: u32) -> Option<uring::Ring> {
    match uring::Ring::builder()
        .single_issuer()
        .defer_taskrun()
        .build(entries)
    {
        Ok(ring) => Some(ring),
        Err(e) => {
            skip(format_args!("no deferred task work: {e}"));
            None
        }
    }
}

/// A ring of `entries` SQEs the kernel can resize (6.13, deferred task
/// work), or `None` with a skip message.
pub fn resizable_ring(entries: u32) -> Option<uring::Ring> {
    if !require_kernel(6, 13, "resizing a ring") {
        return None;
    }
    defer_ring(entries)
}

/// A ring of `entries` SQEs with an SQ thread that idles after 10 ms, or
/// `None` (with a skip message) where this process cannot have one.
pub fn sqpoll_ring(entries: u32) -> Option<uring::Ring> {
    if !require_sqpoll() {
        return None;
    }
    uring::Ring::builder()
        .sqpoll(std::time::Duration::from_millis(10))
        .build(entries)
        .ok()
}

/// Waits for the scope's next completion and returns it, asserting it is
/// one of the scope's own ops'.
pub fn next_scope_cqe<'s>(s: &mut uring::Scope<'s, '_>) -> uring::ScopeCqe<'s> {
    s.submit().unwrap();
    s.wait_timeout(1, PATIENCE)
        .unwrap_or_else(|e| panic!("no completion after {PATIENCE:?}: {e}"));
    let cqe = s.completions().next().expect("a completion");
    assert!(
        cqe.is_scope_op(),
        "another op's completion: {:?}",
        cqe.cqe()
    );
    cqe
}

/// An ancillary record: `(level, type, data)`.
pub type Record = (i32, i32, Vec<u8>);

/// One `recvmsg(2)` of `fd` with `flags`, into `len` bytes and 1 KiB of
/// control room: the payload received and the ancillary records, or the
/// call's error.
pub fn recvmsg_records(
    fd: &impl std::os::fd::AsRawFd,
    flags: i32,
    len: usize,
) -> io::Result<(Vec<u8>, Vec<Record>)> {
    let mut data = vec![0u8; len];
    let mut control = [0u64; 128];
    let mut iov = libc::iovec {
        iov_base: data.as_mut_ptr().cast(),
        iov_len: data.len(),
    };
    // SAFETY: all-zero bytes are a valid, empty `msghdr`.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control);
    // SAFETY: the header points to the iovec and the control room above,
    // which outlive the call; the descriptor is open.
    let n = unsafe { libc::recvmsg(fd.as_raw_fd(), &mut msg, flags) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel wrote `msg_controllen` bytes of the room, whose
    // bytes are all initialized (zeroed before).
    let room =
        unsafe { std::slice::from_raw_parts(control.as_ptr().cast::<u8>(), msg.msg_controllen) };
    let records = uring::ControlMessages::new(room)
        .map(|m| (m.level(), m.kind(), m.data().to_vec()))
        .collect();
    data.truncate(n as usize);
    Ok((data, records))
}

/// The payload of the panics the tests raise on purpose: it unwinds
/// without the panic hook's message.
pub struct Stop;

/// Unwinds out of the caller with [`Stop`].
pub fn stop() -> ! {
    std::panic::resume_unwind(Box::new(Stop))
}

/// Runs `f`, which must unwind with [`Stop`].
pub fn expect_stop(f: impl FnOnce()) {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(()) => panic!("the reader returned instead of unwinding"),
        Err(payload) => assert!(
            payload.is::<Stop>(),
            "the reader unwound with another panic"
        ),
    }
}

/// Pushes `n` NOPs from `first` on, outside any scope, and submits them,
/// leaving their completions unread.
pub fn complete_nops(ring: &mut Ring, first: u64, n: u64) {
    for i in first..first + n {
        if ring.push(uring::ops::Nop::new().user_data(i)).is_err() {
            ring.submit().unwrap();
            ring.push(uring::ops::Nop::new().user_data(i)).unwrap();
        }
    }
    ring.submit().unwrap();
}

/// A ring of 8 CQ entries whose CQ is full of the completions of NOPs
/// `100..108`, which a scope's end set aside (a copy the ring reads in
/// place of the kernel's CQ) to make room for its own read.
pub fn ring_reading_a_copy() -> Ring {
    use std::io::Write as _;
    let mut ring = Ring::new(4).unwrap();
    assert_eq!(ring.cq_entries(), 8);
    complete_nops(&mut ring, 100, 8);
    assert_eq!(ring.ready(), 8);
    let (rx, mut tx) = std::os::unix::net::UnixStream::pair().unwrap();
    tx.write_all(b"r").unwrap();
    let mut buf = [0u8; 1];
    ring.scope(|s| {
        s.push(uring::ops::Read::new(&rx, &mut buf[..]).user_data(1))
            .unwrap();
        s.submit().unwrap();
    });
    assert_eq!(&buf, b"r", "the scope's read ran");
    assert_eq!(ring.ready(), 8, "the foreign completions stay");
    ring
}

/// Every completion that arrives until none has for `quiet`, as
/// `(user_data, res)`, after waiting up to [`PATIENCE`] for the first `n`:
/// for a test that must also see what should not come.
pub fn drain_until_quiet(ring: &mut Ring, n: usize, quiet: std::time::Duration) -> Vec<(u64, i32)> {
    let mut out = Vec::new();
    let end = std::time::Instant::now() + PATIENCE;
    while out.len() < n && std::time::Instant::now() < end {
        let _ = ring.submit_and_wait_timeout(1, std::time::Duration::from_millis(20));
        out.extend(ring.completions().map(|c| (c.user_data(), c.res())));
    }
    loop {
        let _ = ring.submit_and_wait_timeout(1, quiet);
        let before = out.len();
        out.extend(ring.completions().map(|c| (c.user_data(), c.res())));
        if out.len() == before {
            return out;
        }
    }
}

/// Submits what a scope has queued and waits until `n` completions have
/// arrived, [`PATIENCE`] at most for each; returns them in CQ order, and
/// fails on more.
pub fn scope_reap(s: &mut uring::Scope<'_, '_>, n: usize) -> Vec<Cqe> {
    s.submit().unwrap();
    let mut got = Vec::new();
    while got.len() < n {
        s.wait_timeout(1, PATIENCE)
            .unwrap_or_else(|e| panic!("{e} after {:?}", pairs(&got)));
        got.extend(s.completions().map(|c| c.cqe()));
    }
    assert_eq!(got.len(), n, "more completions than expected: {got:?}");
    got
}

/// `n` native-endian `u64`s counting up from `from`: the byte sequence
/// liburing's buffer-ring tests (`recvsend_bundle.c`) send.
pub fn seq_bytes(from: u64, n: usize) -> Vec<u8> {
    (from..from + n as u64).flat_map(u64::to_ne_bytes).collect()
}

/// Fills every buffer of the plain ring `pool` (of `ring`) with the
/// matching `pool.buf_len()` bytes of `bytes`, in the order the kernel
/// will pick them next: uring provides no way to write into a buffer
/// before the kernel takes it, so each is filled by a receive from a
/// socket pair carrying `bytes`, and its claim, dropped, hands it back
/// full.
pub fn fill_send_buffers(ring: &mut Ring, pool: &uring::BufRing, bytes: &[u8]) {
    use std::io::Write as _;
    use std::os::unix::net::UnixStream;
    let len = pool.buf_len() as usize;
    assert_eq!(bytes.len(), len * usize::from(pool.count()));
    let (mut feed, src) = UnixStream::pair().unwrap();
    feed.write_all(bytes).unwrap();
    ring.scope(|s| {
        for (i, chunk) in bytes.chunks(len).enumerate() {
            s.push(uring::ops::Recv::new(&src, pool.select()).user_data(i as u64))
                .unwrap();
            s.submit_and_wait(1).unwrap();
            let mut cqe = s.completions().next().expect("a completion");
            let buf = pool.claim(&mut cqe).unwrap();
            assert_eq!(&buf[..], chunk, "fill {i}");
        }
    });
}

/// The descriptors open in this process, not counting the one that listed
/// them.
pub fn open_fd_set() -> std::collections::BTreeSet<RawFd> {
    let listed: std::collections::BTreeSet<RawFd> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    listed.into_iter().filter(|&fd| fd_is_open(fd)).collect()
}

/// Waits until an io-wq worker of this thread sleeps reading an empty pipe
/// (its `wchan` in `/proc`, `pipe_wait_readable`), failing after
/// [`PATIENCE`]: a splice it was handed is running. Only then does the
/// kernel know the file the splice writes, which a cancel key naming a
/// descriptor matches (a splice still queued for a worker has none yet).
pub fn wait_for_a_worker_blocked_on_a_pipe() {
    // SAFETY: gettid has no preconditions.
    let tid = unsafe { libc::gettid() };
    // The kernel keeps 15 bytes of a thread's name.
    let name: String = format!("iou-wrk-{tid}").chars().take(15).collect();
    let start = std::time::Instant::now();
    loop {
        let blocked = std::fs::read_dir("/proc/self/task")
            .unwrap()
            .flatten()
            .any(|task| {
                let read =
                    |what| std::fs::read_to_string(task.path().join(what)).unwrap_or_default();
                read("comm").trim_end() == name && read("wchan") == "pipe_wait_readable"
            });
        if blocked {
            return;
        }
        assert!(
            start.elapsed() < PATIENCE,
            "no io-wq worker of thread {tid} blocks on the empty pipe"
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// Fills the send buffer of the stream `tx` with `0xEE` bytes until a
/// write would block; returns how many it took. The stream is left
/// blocking.
pub fn fill_unix_send_side(tx: &std::os::unix::net::UnixStream) -> usize {
    use std::io::Write as _;
    tx.set_nonblocking(true).unwrap();
    let chunk = [0xEEu8; 4096];
    let mut sent = 0;
    loop {
        match (&*tx).write(&chunk) {
            Ok(n) => sent += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("fill: {e}"),
        }
    }
    tx.set_nonblocking(false).unwrap();
    sent
}

/// Reads exactly `n` bytes from the stream `rx`.
pub fn read_exactly(rx: &std::os::unix::net::UnixStream, n: usize) -> Vec<u8> {
    use std::io::Read as _;
    let mut got = vec![0; n];
    (&*rx).read_exact(&mut got).unwrap();
    got
}

/// A regular file (unlinked, in the temporary directory) holding `bytes`.
pub fn file_of(bytes: &[u8]) -> std::fs::File {
    use std::io::Write as _;
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(bytes).unwrap();
    file
}

/// Whether the kernel reports a buffer ring's head
/// (`IORING_REGISTER_PBUF_STATUS`, 6.8), with a skip message if not.
pub fn has_pbuf_status() -> bool {
    require_kernel(6, 8, "the status of a buffer ring")
}

/// The byte an [`Arena`] starts filled with.
pub const ARENA_CANARY: u8 = 0xa5;

/// Memory the tests place raw buffers in (whose addresses a `RawBufRing`
/// hands the kernel): filled with [`ARENA_CANARY`], read only while no op
/// that may write there is in flight.
pub struct Arena {
    bytes: Vec<u8>,
    base: *mut u8,
}

impl Arena {
    /// `len` bytes of [`ARENA_CANARY`].
    pub fn new(len: usize) -> Arena {
        let mut bytes = vec![ARENA_CANARY; len];
        let base = bytes.as_mut_ptr();
        Arena { bytes, base }
    }

    /// The address `off` bytes in.
    pub fn at(&self, off: usize) -> *mut u8 {
        assert!(off < self.bytes.len());
        // SAFETY: `off` is inside the arena's allocation.
        unsafe { self.base.add(off) }
    }

    /// The bytes `[off, off + len)`.
    pub fn bytes(&self, off: usize, len: usize) -> &[u8] {
        assert!(off + len <= self.bytes.len());
        // SAFETY: inside the allocation; the callers read only after the
        // completions of every op that could write there, so the kernel
        // writes none of it meanwhile.
        unsafe { std::slice::from_raw_parts(self.base.add(off), len) }
    }

    /// Asserts that every byte outside `written` (`(offset, len)` pairs) is
    /// still the canary.
    pub fn assert_untouched_but(&self, written: &[(usize, usize)]) {
        let all = self.bytes(0, self.bytes.len());
        for (i, &b) in all.iter().enumerate() {
            if written
                .iter()
                .any(|&(off, len)| (off..off + len).contains(&i))
            {
                continue;
            }
            assert_eq!(
                b, ARENA_CANARY,
                "byte {i} outside the buffers written changed"
            );
        }
    }
}

/// Whether a descriptor of this process names `target` (what
/// `/proc/self/fd` links to: a file's path, or `socket:[INODE]`): told by
/// what it names, not by a number another test may take once it closes.
pub fn fd_names(target: impl AsRef<std::path::Path>) -> bool {
    let target = target.as_ref();
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(Result::ok)
        .any(|e| std::fs::read_link(e.path()).is_ok_and(|l| l == target))
}

/// An empty vector with room for `n` bytes, its spare bytes zeroed: the
/// kernel's receives fill them, which valgrind cannot see, and zeroed
/// bytes it takes as initialised, so memcheck can run the receive's test.
pub fn zeroed_room(n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    v.clear();
    v
}

/// This process's credentials, and an `SCM_CREDENTIALS` record of them
/// (what a Unix-domain send may carry; the kernel checks it against the
/// sender's own ids).
pub fn our_credentials() -> (libc::ucred, uring::ControlMessagesBuf) {
    // SAFETY: getpid, getuid and getgid have no preconditions.
    let ours = unsafe {
        libc::ucred {
            pid: libc::getpid(),
            uid: libc::getuid(),
            gid: libc::getgid(),
        }
    };
    let bytes = [
        ours.pid.to_ne_bytes(),
        ours.uid.to_ne_bytes(),
        ours.gid.to_ne_bytes(),
    ]
    .concat();
    let mut record = uring::ControlMessagesBuf::new();
    record.push(libc::SOL_SOCKET, libc::SCM_CREDENTIALS, &bytes);
    (ours, record)
}
