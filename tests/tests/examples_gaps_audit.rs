//! The example programs and the benchmark scripts as a harness runs them,
//! attacked where `examples_as_run.rs` stops short: arguments that are not
//! UTF-8 (legal file names on Linux), a result line printed into a pipe
//! whose reader has gone, an `echo_load` SIZE no memory can hold, extra
//! arguments and the usage of the NOP and reactor drivers, `cat` into a
//! non-blocking socket and into `/dev/full`, `cp` and `cat` across tmpfs
//! and ext4 at the block's edges and over sparse files, the largest
//! options they accept and every form of option (`--qd=N`, options first,
//! `--`), `randread` on one-block, tmpfs and sysfs files and at its
//! largest depth, `http` compared byte for byte with its tokio baseline
//! (HTTP/1.0, headers many buffers long, a request sent byte by byte,
//! chunked bodies, garbage, 100 pipelined requests, a client that
//! half-closes after its request), servers whose clients vanish mid-request
//! or reset with their echo unread, 1000 connections at once, the exact
//! `echo_load` line against the tokio baselines and with 1000 connections,
//! and the bad command lines of `nop-compare.sh`, `io-compare.sh`,
//! `reactor-compare.sh` and `net-compare.sh`.
//!
//! Read against Linux 6.18: `io_uring/rw.c` (`io_rw_init_file`, which
//! lets a write to an `O_NONBLOCK` file that supports nowait, a socket or
//! a pipe, wait through poll instead of failing with `EAGAIN`;
//! `io_write`), `net/ipv4/tcp.c` (a close with unread data sends a reset),
//! `fs/read_write.c` and `mm/shmem.c` (reads of holes give zeros), and
//! `drivers/char/mem.c` (`/dev/full` fails every write with `ENOSPC`).
//!
//! The examples are built once with `cargo build --release` into the
//! target directory of this test binary and started as processes, as
//! `examples_as_run.rs` does. Every run is bounded; a run still going at
//! its bound fails its test.

use std::ffi::{OsStr, OsString};
use std::fs::{self, File};
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use uring_tests::examples::{
    assert_same_bytes, loopback, random_bytes, target_dir, wait_bounded, workspace,
};

/// The examples, built once for the suite.
fn examples_dir() -> Option<&'static Path> {
    uring_tests::examples::dir()
}

/// How long a run that ends by itself may take.
const BOUND: Duration = Duration::from_secs(40);

/// How long a run that should end at once may take.
const SHORT_BOUND: Duration = Duration::from_secs(10);

/// How a run ended.
#[derive(Debug)]
struct Run {
    what: String,
    /// `None`: killed at its bound.
    status: Option<ExitStatus>,
    stdout: Vec<u8>,
    stderr: String,
}

impl Run {
    fn out(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Asserts the run ended by itself, by an exit (not a signal), without
    /// a panic; its exit code.
    #[track_caller]
    fn code(&self) -> i32 {
        let status = self.status.unwrap_or_else(|| {
            panic!("{}: still running at its bound: {}", self.what, self.stderr)
        });
        assert!(
            !self.stderr.contains("panicked at"),
            "{}: panicked ({status:?}): {}",
            self.what,
            first_lines(&self.stderr)
        );
        let code = status
            .code()
            .unwrap_or_else(|| panic!("{}: killed by {status:?}: {}", self.what, self.stderr));
        assert_ne!(
            code, 101,
            "{}: exit 101 (a panic): {}",
            self.what, self.stderr
        );
        code
    }

    #[track_caller]
    fn success(&self) -> String {
        let code = self.code();
        assert_eq!(code, 0, "{}: exit {code}: {}", self.what, self.stderr);
        self.out()
    }
}

/// The first lines of a long stderr (a backtrace), for messages.
fn first_lines(text: &str) -> String {
    text.lines().take(4).collect::<Vec<_>>().join(" | ")
}

/// Where a run's stdout goes: a pipe the test reads, or this.
fn run_full(
    program: &Path,
    args: &[&OsStr],
    stdout: Option<Stdio>,
    cwd: Option<&Path>,
    env: &[(&str, OsString)],
    bound: Duration,
) -> Run {
    let what = format!(
        "{} {}",
        program.file_name().unwrap_or_default().to_string_lossy(),
        args.iter()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ")
    );
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .env("RUST_BACKTRACE", "0");
    for (k, v) in env {
        cmd.env(k, v);
    }
    if let Some(cwd) = cwd {
        cmd.current_dir(cwd);
    }
    let piped = stdout.is_none();
    cmd.stdout(stdout.unwrap_or_else(Stdio::piped));
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    let out = piped.then(|| {
        let mut pipe = child.stdout.take().expect("stdout is piped");
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    });
    let mut err_pipe = child.stderr.take().expect("stderr is piped");
    let err = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = err_pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    });
    let status = wait_bounded(&mut child, bound);
    Run {
        what,
        status,
        stdout: out
            .map(|t| t.join().expect("the stdout reader"))
            .unwrap_or_default(),
        stderr: err.join().expect("the stderr reader"),
    }
}

/// Runs example `name` with UTF-8 `args`, stdout to the test.
fn run(dir: &Path, name: &str, args: &[&str]) -> Run {
    let args: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
    run_full(&dir.join(name), &args, None, None, &[], BOUND)
}

fn s(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 temp path")
}

fn free_port() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    // Another range than examples_as_run's, below the ephemeral ports.
    let base = (std::process::id() % 500) as u16 * 10;
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = 14_000 + (base + n) % 5_000;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// A server example in the background, killed on drop.
struct Server {
    what: String,
    child: Child,
    stderr: File,
}

impl Server {
    /// Starts `name ADDR THREADS` on a free port and waits until it
    /// accepts connections.
    fn start(dir: &Path, name: &str, threads: &str) -> (Server, SocketAddr) {
        let addr = loopback(free_port());
        let stderr = tempfile::tempfile().expect("a temp file");
        let child = Command::new(dir.join(name))
            .args([&addr.to_string(), threads])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr.try_clone().expect("dup"))
            .spawn()
            .unwrap_or_else(|e| panic!("{name}: cannot start: {e}"));
        let mut server = Server {
            what: format!("{name} {addr} {threads}"),
            child,
            stderr,
        };
        let deadline = Instant::now() + BOUND;
        loop {
            if let Some(status) = server.child.try_wait().expect("wait") {
                let err = server.err();
                panic!("{}: exited ({status:?}): {err}", server.what);
            }
            if TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok() {
                return (server, addr);
            }
            assert!(Instant::now() < deadline, "{}: not listening", server.what);
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn err(&mut self) -> String {
        use std::io::Seek as _;
        let mut text = String::new();
        let _ = self.stderr.rewind();
        let _ = self.stderr.read_to_string(&mut text);
        text
    }

    /// Asserts the server is still running and never panicked.
    #[track_caller]
    fn assert_alive(&mut self) {
        let status = self.child.try_wait().expect("wait");
        let err = self.err();
        assert!(
            status.is_none(),
            "{}: exited ({status:?}): {err}",
            self.what
        );
        assert!(!err.contains("panicked at"), "{}: {err}", self.what);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Arguments that are not UTF-8 (a file name with byte 0xFF, legal on
/// Linux) must be taken (cp(1) copies such a file) or refused with status
/// 2; the examples read their command line with `std::env::args`, which
/// panics on them, so every program exits 101 with a backtrace.
#[test]
fn arguments_that_are_not_utf8_are_no_panic() {
    let Some(dir) = examples_dir() else { return };
    let _watch = uring_tests::watchdog();
    let tmp = tempfile::tempdir().expect("a temp dir");
    let src = tmp.path().join(OsStr::from_bytes(b"bad\xffname"));
    let dst = tmp.path().join(OsStr::from_bytes(b"out\xff"));
    fs::write(&src, b"abc").unwrap();
    let ff = OsStr::from_bytes(b"\xff");
    let one = OsStr::new("1");
    let cases: Vec<(&str, Vec<&OsStr>)> = vec![
        ("cp", vec![src.as_os_str(), dst.as_os_str()]),
        ("cat", vec![src.as_os_str()]),
        ("randread", vec![src.as_os_str()]),
        ("randread_io_uring", vec![src.as_os_str()]),
        ("nop", vec![ff, one]),
        ("reactor_nop", vec![OsStr::new("push"), ff]),
        ("echo_load", vec![ff, one, one, one]),
        ("echo_server", vec![ff]),
        ("http", vec![ff]),
    ];
    let mut failures = Vec::new();
    for (name, args) in cases {
        let r = run_full(&dir.join(name), &args, None, None, &[], SHORT_BOUND);
        let panicked = r.stderr.contains("panicked at")
            || r.status.and_then(|s| s.code()) == Some(101)
            || r.status.is_none();
        if panicked {
            failures.push(format!(
                "{}: {:?}: {}",
                r.what,
                r.status,
                first_lines(&r.stderr)
            ));
            continue;
        }
        let code = r.code();
        assert!(code == 0 || code == 2, "{}: exit {code}", r.what);
        if name == "cp" && code == 0 {
            assert_eq!(fs::read(&dst).unwrap(), b"abc", "{}", r.what);
        }
    }
    assert!(failures.is_empty(), "panics:\n{}", failures.join("\n"));
}

/// A result line printed into a pipe whose reader has gone (`cp ... |
/// head -c0`, a harness that stopped reading) ends the program with an
/// error or by `SIGPIPE`, not with a panic: `println!` panics on `EPIPE`
/// (Rust ignores `SIGPIPE`), so `cp` exits 101 after a complete copy.
#[test]
fn result_lines_into_a_closed_pipe_are_no_panic() {
    let Some(dir) = examples_dir() else { return };
    let _watch = uring_tests::watchdog();
    let tmp = tempfile::tempdir().expect("a temp dir");
    let src = tmp.path().join("src");
    let data = random_bytes(10_000, 3);
    fs::write(&src, &data).unwrap();
    let dst = tmp.path().join("dst");
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("cp", vec![s(&src), s(&dst)]),
        ("randread", vec![s(&src), "--bs", "512", "--ios", "10"]),
        ("nop", vec!["10", "1"]),
        ("reactor_nop", vec!["push", "10"]),
        ("echo_load", vec!["127.0.0.1:1", "1", "1", "1"]),
    ];
    let mut failures = Vec::new();
    for (name, args) in cases {
        let (reader, writer) = std::io::pipe().expect("a pipe");
        drop(reader);
        let args: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
        let r = run_full(
            &dir.join(name),
            &args,
            Some(Stdio::from(writer)),
            None,
            &[],
            SHORT_BOUND,
        );
        if r.stderr.contains("panicked at") || r.status.and_then(|s| s.code()) == Some(101) {
            failures.push(format!("{}: {}", r.what, first_lines(&r.stderr)));
        }
    }
    // The copy itself was whole.
    assert_same_bytes(&fs::read(&dst).unwrap(), &data, "cp into a closed pipe");
    assert!(failures.is_empty(), "panics:\n{}", failures.join("\n"));
}

/// `cat` whose standard output takes no bytes: `/dev/full` (every write
/// fails with `ENOSPC`) and a pipe whose reader has gone (`EPIPE`, Rust
/// ignoring `SIGPIPE`): status 1, one line naming the error, no panic.
#[test]
fn cat_reports_a_stdout_that_takes_no_bytes() {
    let Some(dir) = examples_dir() else { return };
    let _watch = uring_tests::watchdog();
    let tmp = tempfile::tempdir().expect("a temp dir");
    let src = tmp.path().join("src");
    fs::write(&src, random_bytes(300_000, 4)).unwrap();
    let full = File::options().write(true).open("/dev/full");
    if let Ok(full) = full {
        let r = run_full(
            &dir.join("cat"),
            &[src.as_os_str()],
            Some(Stdio::from(full)),
            None,
            &[],
            SHORT_BOUND,
        );
        assert_eq!(r.code(), 1, "{}: {}", r.what, r.stderr);
        assert_eq!(r.stderr.lines().count(), 1, "{}: {}", r.what, r.stderr);
        assert!(r.stderr.contains("No space left on device"), "{}", r.stderr);
    } else {
        uring_tests::skip("no /dev/full");
    }
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    let r = run_full(
        &dir.join("cat"),
        &[src.as_os_str()],
        Some(Stdio::from(writer)),
        None,
        &[],
        SHORT_BOUND,
    );
    assert_eq!(r.code(), 1, "{}: {}", r.what, r.stderr);
    assert!(r.stderr.contains("Broken pipe"), "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "{}: {}", r.what, r.stderr);
}

/// `cat` into a non-blocking socket (as a harness that reads the child's
/// output with an event loop hands it): every byte, in order. The kernel
/// lets an io_uring write to an `O_NONBLOCK` file that supports nowait
/// wait through poll (`io_rw_init_file`), so no `EAGAIN` reaches `cat`.
#[test]
fn cat_into_a_nonblocking_socket_writes_every_byte() {
    let Some(dir) = examples_dir() else { return };
    let _watch = uring_tests::watchdog();
    let tmp = tempfile::tempdir().expect("a temp dir");
    let src = tmp.path().join("src");
    let data = random_bytes((8 << 20) + 3, 5);
    fs::write(&src, &data).unwrap();
    for opts in [&[][..], &["--qd", "32", "--bs", "1048576"][..]] {
        let (theirs, mut ours) = UnixStream::pair().expect("a socket pair");
        theirs.set_nonblocking(true).expect("O_NONBLOCK");
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            ours.read_to_end(&mut got).map(|_| got)
        });
        let mut args = vec![src.as_os_str()];
        args.extend(opts.iter().map(OsStr::new));
        let r = run_full(
            &dir.join("cat"),
            &args,
            Some(Stdio::from(OwnedFd::from(theirs))),
            None,
            &[],
            BOUND,
        );
        r.success();
        let got = reader.join().expect("the reader").expect("read the socket");
        assert_same_bytes(&got, &data, &r.what);
        assert!(
            r.stderr.starts_with(&format!("cat bytes={} ", data.len())),
            "{}",
            r.stderr
        );
    }
}

/// `echo_load` with a SIZE no memory can hold must be refused as a bad
/// command line; it builds its message with `(0..size).collect()`, which
/// panics ("capacity overflow", exit 101) for `usize::MAX` and aborts
/// (SIGABRT) for 10^12, once a connection is up.
#[test]
fn echo_load_refuses_a_size_no_memory_holds() {
    let Some(dir) = examples_dir() else { return };
    let _watch = uring_tests::watchdog();
    let listener = TcpListener::bind("127.0.0.1:0").expect("a listener");
    let addr = listener.local_addr().unwrap().to_string();
    for size in ["18446744073709551615", "1000000000000"] {
        let r = run(dir, "echo_load", &[&addr, "1", size, "1"]);
        let code = r.code();
        assert_ne!(code, 0, "{}: accepted", r.what);
    }
    drop(listener);
}

/// The reactor drivers refuse extra arguments with status 2, as the NOP
/// drivers do (`nop 10 1 extra`); they ignore them and run.
#[test]
fn reactor_drivers_refuse_extra_arguments() {
    let Some(dir) = examples_dir() else { return };
    let _watch = uring_tests::watchdog();
    for name in ["reactor_nop", "reactor_read"] {
        let r = run(dir, name, &["push", "5", "extra"]);
        assert_eq!(r.code(), 2, "{}: {}", r.what, r.out());
        assert!(r.stdout.is_empty(), "{}: {}", r.what, r.out());
        assert!(r.stderr.starts_with("usage:"), "{}: {}", r.what, r.stderr);
    }
}

/// Each NOP driver's usage names the program that was run; all six print
/// `usage: nop TOTAL BATCH`, so `nop_scope` tells its user to run `nop`.
#[test]
fn nop_drivers_name_themselves_in_their_usage() {
    let Some(dir) = examples_dir() else { return };
    let _watch = uring_tests::watchdog();
    for name in [
        "nop",
        "nop_for_each",
        "nop_scope",
        "nop_scope_for_each",
        "nop_io_uring",
        "nop_io_uring_for_each",
    ] {
        let r = run(dir, name, &[]);
        assert_eq!(r.code(), 2, "{}", r.what);
        assert!(
            r.stderr.starts_with(&format!("usage: {name} ")),
            "{}: {:?}",
            r.what,
            r.stderr
        );
    }
}

/// Is `/dev/shm` a tmpfs we can write? (The other side is the temp dir.)
fn shm_dir() -> Option<tempfile::TempDir> {
    let mounts = fs::read_to_string("/proc/mounts").unwrap_or_default();
    if !mounts
        .lines()
        .any(|l| l.split_whitespace().nth(1) == Some("/dev/shm") && l.contains(" tmpfs "))
    {
        uring_tests::skip("no tmpfs on /dev/shm");
        return None;
    }
    tempfile::tempdir_in("/dev/shm").ok()
}

/// `cp` and `cat` between tmpfs and the disk's file system (both ways and
/// within tmpfs) give exactly the source's bytes at every size around a
/// block (0, 1, 4095, 4096, 4097, 1 MiB + 1) with the default block, a
/// 4096-byte block and a 512-byte block; and sparse files (holes in the
/// middle and at the end) read as their zeros.
#[test]
fn cp_and_cat_across_tmpfs_and_disk_at_block_edges() {
    let Some(dir) = examples_dir() else { return };
    let _watch = uring_tests::watchdog();
    let disk = tempfile::tempdir().expect("a temp dir");
    let Some(shm) = shm_dir() else { return };
    let places = [
        (shm.path(), disk.path()),
        (disk.path(), shm.path()),
        (shm.path(), shm.path()),
    ];
    let sizes = [0usize, 1, 4095, 4096, 4097, (1 << 20) + 1];
    let opts: [&[&str]; 3] = [&[], &["--bs", "4096", "--qd", "1"], &["--bs", "512"]];
    for (k, len) in sizes.into_iter().enumerate() {
        let data = random_bytes(len, 100 + k as u64);
        for (from, to) in places {
            let src = from.join("src");
            let dst = to.join("dst");
            fs::write(&src, &data).unwrap();
            for o in opts {
                let _ = fs::remove_file(&dst);
                let mut args = vec![s(&src), s(&dst)];
                args.extend_from_slice(o);
                let r = run(dir, "cp", &args);
                let out = r.success();
                assert!(
                    out.starts_with(&format!("cp bytes={len} secs=")) && out.lines().count() == 1,
                    "{}: {out:?}",
                    r.what
                );
                assert_same_bytes(&fs::read(&dst).unwrap(), &data, &r.what);
                let mut args = vec![s(&src)];
                args.extend_from_slice(o);
                let r = run(dir, "cat", &args);
                r.success();
                assert_same_bytes(&r.stdout, &data, &r.what);
            }
        }
    }
    // Sparse: 5 bytes at 1 MiB in a 3 MiB file, on both file systems.
    for place in [shm.path(), disk.path()] {
        let src = place.join("sparse");
        let f = File::create(&src).unwrap();
        f.set_len(3 << 20).unwrap();
        std::os::unix::fs::FileExt::write_all_at(&f, b"hello", 1 << 20).unwrap();
        drop(f);
        let want = fs::read(&src).unwrap();
        assert_eq!(want.len(), 3 << 20);
        let dst = disk.path().join("sparse-copy");
        let r = run(dir, "cp", &[s(&src), s(&dst), "--bs", "65536"]);
        r.success();
        assert_same_bytes(&fs::read(&dst).unwrap(), &want, &r.what);
        let r = run(dir, "cat", &[s(&src)]);
        r.success();
        assert_same_bytes(&r.stdout, &want, &r.what);
    }
}

/// `cat` at the largest options it accepts (`--qd 1024 --bs 16777216`:
/// 16 GiB of buffers, touched only where the file is), and `cp` and `cat`
/// with every form of option the usage allows: `--qd=N`, options before the
/// paths, `--` before a path that starts with `--`. One past the largest
/// is refused with status 2; `--help` prints the usage on stderr with
/// status 2 and nothing on stdout.
#[test]
fn cp_and_cat_take_their_largest_options_and_every_form() {
    let Some(dir) = examples_dir() else { return };
    let _watch = uring_tests::watchdog();
    let tmp = tempfile::tempdir().expect("a temp dir");
    let src = tmp.path().join("src");
    let dst = tmp.path().join("dst");
    let data = random_bytes((1 << 20) + 1, 7);
    fs::write(&src, &data).unwrap();

    // `cat`'s buffers are vectors, zeroed lazily: 16 GiB of them cost
    // nothing untouched (for `cp`, see the DEFECT test below).
    let r = run(dir, "cat", &[s(&src), "--qd", "1024", "--bs", "16777216"]);
    r.success();
    assert_same_bytes(&r.stdout, &data, &r.what);

    for args in [
        vec!["--qd=3", "--bs=4097", s(&src), s(&dst)],
        vec!["--bs", "1000", s(&src), "--qd", "2", s(&dst)],
        vec!["--qd", "1", "--", s(&src), s(&dst)],
    ] {
        let _ = fs::remove_file(&dst);
        let r = run(dir, "cp", &args);
        r.success();
        assert_same_bytes(&fs::read(&dst).unwrap(), &data, &r.what);
    }
    // A path that starts with `--`, after `--`.
    fs::write(tmp.path().join("--odd"), b"odd bytes").unwrap();
    let r = run_full(
        &dir.join("cat"),
        &[OsStr::new("--"), OsStr::new("--odd")],
        None,
        Some(tmp.path()),
        &[],
        BOUND,
    );
    r.success();
    assert_eq!(r.stdout, b"odd bytes", "{}", r.what);

    for (name, args, needle) in [
        ("cp", vec![s(&src), s(&dst), "--qd", "1025"], "--qd 1025"),
        (
            "cp",
            vec![s(&src), s(&dst), "--bs", "16777217"],
            "--bs 16777217",
        ),
        (
            "cp",
            vec![s(&src), s(&dst), "--qd", "1", "--qd", "2"],
            "given twice",
        ),
        ("cp", vec![s(&src), s(&dst), "--qd", "-1"], "--qd -1"),
        ("cat", vec![s(&src), "--bs="], "--bs : not a number"),
        ("cat", vec![s(&src), "--=5"], "unknown option --"),
        ("cat", vec!["--help"], "usage: cat"),
        ("cp", vec!["--help"], "usage: cp"),
    ] {
        let r = run(dir, name, &args);
        assert_eq!(r.code(), 2, "{}: {}", r.what, r.stderr);
        assert!(r.stdout.is_empty(), "{}: {}", r.what, r.out());
        assert!(
            r.stderr.lines().next().unwrap_or("").contains(needle),
            "{}: {:?}",
            r.what,
            r.stderr
        );
    }
}

/// The fields of a result line `name=value ...`, in order.
fn fields(line: &str) -> Vec<(&str, &str)> {
    line.split_whitespace()
        .map(|w| w.split_once('=').unwrap_or((w, "")))
        .collect()
}

/// `randread` at its edges: a file of exactly one block, its largest
/// queue depth with one read, a file on tmpfs with 512-byte blocks, every
/// seed; each result line has exactly the fields `io-compare.sh` reads,
/// each a number. A sysfs attribute (which states 4096 bytes and holds a
/// few) ends with status 1 and one line saying the read was short.
#[test]
fn randread_at_its_edges() {
    let Some(dir) = examples_dir() else { return };
    let _watch = uring_tests::watchdog();
    let tmp = tempfile::tempdir().expect("a temp dir");
    let one = tmp.path().join("one");
    fs::write(&one, random_bytes(4096, 8)).unwrap();
    let shm = shm_dir();
    let on_shm = shm.as_ref().map(|d| {
        let p = d.path().join("data");
        fs::write(&p, random_bytes(1 << 20, 9)).unwrap();
        p
    });
    let mut runs: Vec<(&str, Vec<&str>, &str, &str)> = vec![
        ("randread", vec![s(&one), "--ios", "100"], "100", "32"),
        (
            "randread",
            vec![s(&one), "--qd", "4096", "--ios", "1"],
            "1",
            "4096",
        ),
        (
            "randread",
            vec![s(&one), "--mode", "scope", "--qd", "4096", "--ios", "5000"],
            "5000",
            "4096",
        ),
        (
            "randread_io_uring",
            vec![s(&one), "--qd", "4096", "--ios", "5000"],
            "5000",
            "4096",
        ),
        (
            "randread",
            vec![s(&one), "--seed", "0", "--ios", "7"],
            "7",
            "32",
        ),
        (
            "randread",
            vec![s(&one), "--seed", "18446744073709551615", "--ios", "7"],
            "7",
            "32",
        ),
    ];
    if let Some(p) = &on_shm {
        runs.push((
            "randread",
            vec![s(p), "--bs", "512", "--mode", "scope", "--ios", "3000"],
            "3000",
            "32",
        ));
        runs.push((
            "randread_io_uring",
            vec![s(p), "--bs", "512", "--ios", "3000"],
            "3000",
            "32",
        ));
    }
    for (name, args, ios, qd) in runs {
        let r = run(dir, name, &args);
        let out = r.success();
        assert_eq!(out.lines().count(), 1, "{}: {out:?}", r.what);
        let f = fields(out.trim_end());
        let names: Vec<&str> = f.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            [
                "randread",
                "engine",
                "qd",
                "bs",
                "ios",
                "secs",
                "iops",
                "usr_ns_per_io",
                "sys_ns_per_io",
                "cpu_ns_per_io"
            ],
            "{}: {out:?}",
            r.what
        );
        for (n, v) in &f[2..] {
            assert!(v.parse::<f64>().is_ok(), "{}: {n}={v:?}", r.what);
        }
        assert_eq!(f[4].1, ios, "{}: {out:?}", r.what);
        assert_eq!(f[2].1, qd, "{}: {out:?}", r.what);
    }

    let sys = "/sys/devices/system/cpu/online";
    if fs::metadata(sys).is_ok_and(|m| m.len() == 4096) {
        for name in ["randread", "randread_io_uring"] {
            let r = run(dir, name, &[sys, "--ios", "10"]);
            assert_eq!(r.code(), 1, "{}: {}", r.what, r.stderr);
            assert!(r.stdout.is_empty(), "{}: {}", r.what, r.out());
            assert_eq!(r.stderr.lines().count(), 1, "{}: {}", r.what, r.stderr);
            assert!(
                r.stderr.contains("instead of 4096"),
                "{}: {}",
                r.what,
                r.stderr
            );
        }
    } else {
        uring_tests::skip("no sysfs attribute stating 4096 bytes");
    }
}

/// What a client got back from one connection: the bytes until the end of
/// the stream, with a marker for how it ended; hyper's `date` header
/// lines are dropped so that two servers can be compared.
fn exchange(addr: SocketAddr, chunks: &[Vec<u8>], pace: Duration, half_close: bool) -> Vec<u8> {
    let mut c = TcpStream::connect(addr).expect("connect");
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    for chunk in chunks {
        c.write_all(chunk).expect("send");
        if !pace.is_zero() {
            std::thread::sleep(pace);
        }
    }
    if half_close {
        c.shutdown(std::net::Shutdown::Write).expect("shutdown");
    }
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        match c.read(&mut buf) {
            Ok(0) => {
                out.extend_from_slice(b"<EOF>");
                break;
            }
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) => {
                out.extend_from_slice(format!("<{:?}>", e.kind()).as_bytes());
                break;
            }
        }
    }
    let mut kept = Vec::new();
    for line in out.split_inclusive(|&b| b == b'\n') {
        if !line.to_ascii_lowercase().starts_with(b"date: ") {
            kept.extend_from_slice(line);
        }
    }
    kept
}

/// `http` (hyper over `uring::net`) answers, byte for byte, what
/// `http_tokio` (the same hyper service over tokio's epoll streams)
/// answers: HTTP/1.0 with and without keep-alive, headers 8 and 32 times
/// the 2 KiB receive buffer, a request sent one byte at a time, a chunked
/// body before the next request, bytes that are no HTTP, and 100
/// pipelined requests in one write.
#[test]
fn http_answers_as_its_tokio_baseline_does() {
    let Some(dir) = examples_dir() else { return };
    let _watch = uring_tests::watchdog();
    let (mut ours, a) = Server::start(dir, "http", "1");
    let (mut theirs, b) = Server::start(dir, "http_tokio", "1");
    let close = b"Connection: close\r\n\r\n".to_vec();
    let header = |n: usize| {
        let mut r = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: ".to_vec();
        r.extend(std::iter::repeat_n(b'a', n));
        r.extend_from_slice(b"\r\n");
        r.extend_from_slice(&close);
        r
    };
    let mut pipelined = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".repeat(100);
    pipelined.extend_from_slice(b"GET /missing HTTP/1.1\r\n");
    pipelined.extend_from_slice(&close);
    let bytewise: Vec<Vec<u8>> = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        .iter()
        .map(|&b| vec![b])
        .collect();
    let cases: Vec<(&str, Vec<Vec<u8>>, Duration)> = vec![
        ("HTTP/1.0", vec![b"GET / HTTP/1.0\r\n\r\n".to_vec()], Duration::ZERO),
        (
            "HTTP/1.0 keep-alive, then close",
            vec![
                b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n".to_vec(),
                b"GET / HTTP/1.0\r\n\r\n".to_vec(),
            ],
            Duration::from_millis(50),
        ),
        ("16 KiB header", vec![header(16 << 10)], Duration::ZERO),
        ("64 KiB header", vec![header(64 << 10)], Duration::ZERO),
        ("byte by byte", bytewise, Duration::from_millis(1)),
        (
            "chunked body",
            vec![
                b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1\r\nConnection: close\r\n\r\n"
                    .to_vec(),
            ],
            Duration::ZERO,
        ),
        ("no HTTP", vec![b"\x00\x01garbage\r\n\r\n".to_vec()], Duration::ZERO),
        ("101 pipelined", vec![pipelined], Duration::ZERO),
    ];
    for (what, chunks, pace) in cases {
        let got = exchange(a, &chunks, pace, false);
        let want = exchange(b, &chunks, pace, false);
        assert!(
            got == want,
            "{what}: http gave {:?}\n http_tokio gave {:?}",
            String::from_utf8_lossy(&got[..got.len().min(300)]),
            String::from_utf8_lossy(&want[..want.len().min(300)])
        );
        assert!(
            got.ends_with(b"<EOF>"),
            "{what}: {:?}",
            String::from_utf8_lossy(&got)
        );
    }
    ours.assert_alive();
    theirs.assert_alive();
}

/// A client that sends `GET /` and at once shuts its sending side (as
/// `printf ... | nc -N` and HTTP/1.0-era tools do) gets its answer from
/// both servers, 100 times. hyper closes a connection whose end of stream
/// it reads mid-request unless told to keep half-closed ones; over
/// `uring::net`, whose multishot receive has the request and the end of
/// the stream ready together, it read the end before answering almost
/// every time, where over tokio's epoll the end came later. Both servers
/// keep half-closed connections (`half_close(true)`).
#[test]
fn http_answers_a_client_that_half_closed() {
    let Some(dir) = examples_dir() else { return };
    let _watch = uring_tests::watchdog();
    let (_ours, a) = Server::start(dir, "http", "1");
    let (_theirs, b) = Server::start(dir, "http_tokio", "1");
    let request = vec![b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec()];
    let want = exchange(b, &request, Duration::ZERO, true);
    assert!(
        want.starts_with(b"HTTP/1.1 200 OK\r\n"),
        "the baseline: {:?}",
        String::from_utf8_lossy(&want)
    );
    for attempt in 0..100 {
        let got = exchange(a, &request, Duration::ZERO, true);
        assert!(
            got == want,
            "attempt {attempt}: http gave {:?}, http_tokio {:?}",
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&want)
        );
    }
}

/// Clients that vanish mid-request (half a request line, then close),
/// that connect and close at once, and that reset their connection with
/// data unread (a close with bytes in the receive queue sends a reset):
/// the servers stay up and answer the next client whole.
#[test]
fn servers_survive_clients_that_vanish_mid_request() {
    let Some(dir) = examples_dir() else { return };
    let _watch = uring_tests::watchdog();
    for name in ["echo_server", "echo_async", "http"] {
        let (mut server, addr) = Server::start(dir, name, "1");
        for i in 0..40 {
            let mut c = TcpStream::connect(addr).expect("connect");
            match i % 4 {
                0 => drop(c),
                1 => {
                    let _ = c.write_all(b"GET / HT");
                }
                2 => {
                    // Unread answers in our receive queue: close resets.
                    c.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
                    let big = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".repeat(2000);
                    let _ = c.write_all(&big);
                    std::thread::sleep(Duration::from_millis(5));
                }
                _ => {
                    let _ = c.write_all(&vec![0x5a; 200_000]);
                }
            }
        }
        server.assert_alive();
        let mut c = TcpStream::connect(addr).expect("connect");
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        if name == "http" {
            c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .unwrap();
            let mut got = Vec::new();
            c.read_to_end(&mut got).expect("the answer");
            assert!(
                got.starts_with(b"HTTP/1.1 200 OK") && got.ends_with(b"Hello from uring!\n"),
                "{name}: {:?}",
                String::from_utf8_lossy(&got)
            );
        } else {
            let data = random_bytes(100_000, 11);
            let mut w = c.try_clone().unwrap();
            let sent = data.clone();
            let writer = std::thread::spawn(move || {
                w.write_all(&sent)?;
                w.shutdown(std::net::Shutdown::Write)
            });
            let mut got = Vec::new();
            c.read_to_end(&mut got).expect("the echo");
            writer.join().unwrap().expect("send");
            assert_same_bytes(&got, &data, name);
        }
        server.assert_alive();
    }
}

/// 1000 connections open at once on a one-thread server (what
/// `net-compare.sh` loads with `echo_load 1000`): each sends its request
/// before any answer is read, and each gets its own answer whole.
#[test]
fn a_thousand_connections_at_once_are_each_answered() {
    let Some(dir) = examples_dir() else { return };
    let _watch = uring_tests::watchdog();
    for name in ["echo_server", "echo_async", "http"] {
        let (mut server, addr) = Server::start(dir, name, "1");
        let mut conns = Vec::with_capacity(1000);
        for i in 0..1000u32 {
            let mut c =
                TcpStream::connect(addr).unwrap_or_else(|e| panic!("{name}: connect {i}: {e}"));
            c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            let request = if name == "http" {
                b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec()
            } else {
                format!("connection {i:04} says hello;").into_bytes()
            };
            c.write_all(&request).expect("send");
            conns.push((c, request));
        }
        for (i, (mut c, request)) in conns.into_iter().enumerate() {
            if name == "http" {
                let mut got = Vec::new();
                c.read_to_end(&mut got)
                    .unwrap_or_else(|e| panic!("{name}: connection {i}: {e}"));
                assert!(
                    got.starts_with(b"HTTP/1.1 200 OK") && got.ends_with(b"Hello from uring!\n"),
                    "{name}: connection {i}: {:?}",
                    String::from_utf8_lossy(&got)
                );
            } else {
                let mut got = vec![0u8; request.len()];
                c.read_exact(&mut got)
                    .unwrap_or_else(|e| panic!("{name}: connection {i}: {e}"));
                assert_eq!(got, request, "{name}: connection {i}");
            }
        }
        server.assert_alive();
    }
}

/// `echo_load`'s line is exactly `requests=N secs=S req/s=R errors=E`
/// (S with three decimals, at most SECS; R the rounded N / S), with status
/// 0, against the tokio baselines `net-compare.sh` measures and with the
/// 1000 connections of 1 KiB it loads `echo_server` with.
#[test]
fn echo_load_prints_its_exact_line_against_every_server() {
    let Some(dir) = examples_dir() else { return };
    let _watch = uring_tests::watchdog();
    for (name, args) in [
        ("echo_tokio", &["100", "128", "0.5"][..]),
        ("http_tokio", &["100", "0", "0.5", "http"][..]),
        ("echo_server", &["1000", "1024", "1"][..]),
        ("echo_async", &["1000", "1024", "1"][..]),
    ] {
        let (mut server, addr) = Server::start(dir, name, "1");
        let a = addr.to_string();
        let mut all = vec![a.as_str()];
        all.extend_from_slice(args);
        let r = run(dir, "echo_load", &all);
        let out = r.success();
        assert_eq!(out.lines().count(), 1, "{}: {out:?}", r.what);
        let f = fields(out.trim_end());
        let names: Vec<&str> = f.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["requests", "secs", "req/s", "errors"], "{out:?}");
        let requests: u64 = f[0].1.parse().expect("requests");
        let secs: f64 = f[1].1.parse().expect("secs");
        let rate: u64 = f[2].1.parse().expect("req/s, a whole number");
        assert_eq!(f[1].1.split('.').nth(1).map(str::len), Some(3), "{out:?}");
        let limit: f64 = args[2].parse().unwrap();
        assert!(secs > 0.0 && secs <= limit, "{}: {out:?}", r.what);
        assert!(requests > 0, "{}: {out:?}", r.what);
        assert_eq!(f[3].1, "0", "{}: {out:?}: {}", r.what, r.stderr);
        let expected = requests as f64 / secs;
        assert!(
            (rate as f64 - expected).abs() <= 1.0 + expected * 0.002,
            "{}: req/s {rate}, requests / secs {expected}",
            r.what
        );
        server.assert_alive();
    }
}

/// Runs `examples/SCRIPT` with `args` under bash, from the workspace, with
/// this test's target directory and cargo.
fn script(name: &str, args: &[&str], bound: Duration) -> Run {
    let mut path = OsString::new();
    if let Some(cargo_dir) = Path::new(env!("CARGO")).parent() {
        path.push(cargo_dir);
        path.push(":");
    }
    path.push(std::env::var_os("PATH").unwrap_or_default());
    let mut env = vec![("PATH", path)];
    if let Some(target) = target_dir() {
        env.push(("CARGO_TARGET_DIR", target.into_os_string()));
    }
    let file = workspace().join("examples").join(name);
    let mut all: Vec<&OsStr> = vec![file.as_os_str()];
    all.extend(args.iter().map(OsStr::new));
    run_full(
        Path::new("/bin/bash"),
        &all,
        None,
        Some(workspace()),
        &env,
        bound,
    )
}

/// The scripts refuse a bad command line with status 2 and a message, and
/// build nothing: unknown options, numbers that are not positive, a batch
/// larger than the ring.
#[test]
fn scripts_refuse_bad_options_with_status_2() {
    let _watch = uring_tests::watchdog();
    if !Path::new("/bin/bash").exists() {
        uring_tests::skip("no /bin/bash");
        return;
    }
    for (name, args) in [
        ("nop-compare.sh", &["--bogus"][..]),
        ("nop-compare.sh", &["0"][..]),
        ("nop-compare.sh", &["300"][..]),
        ("nop-compare.sh", &["--rounds", "x"][..]),
        ("io-compare.sh", &["--qd", "0"][..]),
        ("io-compare.sh", &["--secs", "0.5"][..]),
        ("io-compare.sh", &["extra"][..]),
        ("reactor-compare.sh", &["--bogus"][..]),
    ] {
        let r = script(name, args, SHORT_BOUND);
        assert_eq!(r.code(), 2, "{}: {}", r.what, r.stderr);
        assert!(!r.stderr.trim().is_empty(), "{}: no message", r.what);
        assert!(r.stdout.is_empty(), "{}: {}", r.what, r.out());
    }
}

/// An option given without its value is a bad command line like any
/// other: status 2 and a message saying so. `nop-compare.sh` and
/// `io-compare.sh` exit 1 through bash's `${2:?}`, and `reactor-compare.sh`
/// exits 1 with bash's "$2: unbound variable".
#[test]
fn scripts_refuse_an_option_without_its_value_with_status_2() {
    let _watch = uring_tests::watchdog();
    for (name, option) in [
        ("nop-compare.sh", "--profile"),
        ("nop-compare.sh", "--rounds"),
        ("io-compare.sh", "--qd"),
        ("io-compare.sh", "--file"),
        ("reactor-compare.sh", "--profile"),
    ] {
        let r = script(name, &[option], SHORT_BOUND);
        assert_eq!(r.code(), 2, "{}: {}", r.what, r.stderr);
        assert!(
            !r.stderr.contains("unbound variable"),
            "{}: {}",
            r.what,
            r.stderr
        );
    }
}

/// `net-compare.sh SECS ROUNDS` with a SECS `echo_load` refuses (0) must
/// fail, not print a table: it ignores each refused load, adds an empty
/// count as 0, and prints every row with blank rates ("Divide by zero"
/// from bc on stderr), with status 0.
#[test]
fn net_compare_fails_when_no_load_can_run() {
    let Some(_dir) = examples_dir() else { return };
    let _watch = uring_tests::watchdog();
    let r = script("net-compare.sh", &["0", "1"], Duration::from_secs(50));
    let code = r.code();
    assert_ne!(
        code,
        0,
        "{}: exit 0 with\n{}\nstderr: {}",
        r.what,
        r.out(),
        first_lines(&r.stderr)
    );
    assert!(
        !r.out().contains("req/s"),
        "{}: a table:\n{}",
        r.what,
        r.out()
    );
}

/// The resident size of process `pid` in bytes, while it runs.
fn rss(pid: u32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// `cp` and `randread` at the largest options they accept copy or read a
/// 1 MiB file with memory of the order of the file, as `cat` does: their
/// buffers (`measure::Region`) come from `alloc_zeroed` with a page's
/// alignment, which std serves with an aligned `malloc` and a `memset`
/// (only an alignment of at most 16 gets `calloc`), so `cp --qd 1024 --bs
/// 16777216` writes 16 GiB of zeros before it copies (25 s and 16 GiB
/// resident for a 1 MiB file here, an OOM kill on a smaller machine), and
/// `randread --qd 4096 --bs 1048576` 4 GiB, which it then pins. Each run
/// is killed once it holds 1 GiB.
#[test]
fn cp_and_randread_at_their_largest_options_touch_what_they_use() {
    let Some(dir) = examples_dir() else { return };
    let _watch = uring_tests::watchdog();
    let tmp = tempfile::tempdir().expect("a temp dir");
    let src = tmp.path().join("src");
    let dst = tmp.path().join("dst");
    let data = random_bytes((1 << 20) + 1, 12);
    fs::write(&src, &data).unwrap();
    const LIMIT: u64 = 1 << 30;
    for (name, args) in [
        (
            "cp",
            vec![s(&src), s(&dst), "--qd", "1024", "--bs", "16777216"],
        ),
        (
            "randread",
            vec![s(&src), "--qd", "4096", "--bs", "1048576", "--ios", "1"],
        ),
    ] {
        let mut child = Command::new(dir.join(name))
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start");
        let deadline = Instant::now() + BOUND;
        let mut most = 0;
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break Some(status);
            }
            most = most.max(rss(child.id()).unwrap_or(0));
            if most > LIMIT || Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        assert!(
            most <= LIMIT,
            "{name} {args:?}: {} MiB resident for a 1 MiB file (killed)",
            most >> 20
        );
        let status =
            status.unwrap_or_else(|| panic!("{name} {args:?}: still running at its bound"));
        assert!(status.success(), "{name} {args:?}: {status:?}");
    }
    assert_same_bytes(&fs::read(&dst).unwrap(), &data, "cp at its largest options");
}
