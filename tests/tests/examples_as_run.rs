//! The examples as a user runs them: each program of `examples/examples/`
//! is built once with `cargo build --release` and started as a process,
//! the way `cargo run --release --example NAME -- ARGS` starts it.
//!
//! The suite checks what the README and each example's own comment say it
//! does: `cp` and `cat` produce exactly the bytes of their input (empty
//! files, sizes that are not a multiple of the block, 64 MiB of random
//! bytes, pipes and files as standard output, destinations longer than
//! the source), `randread` and the NOP and reactor drivers print their
//! result line, `tour` runs every step, the echo servers echo exactly what
//! concurrent clients send, `http` answers a real HTTP/1.1 client on a
//! keep-alive connection, and `echo_load` measures real servers. Every bad
//! input a user may give (missing, special and unwritable files, a file
//! copied onto itself, out-of-range and unknown options, bad addresses,
//! ports already taken, nothing listening) must end the program with a
//! non-zero status and a line saying what is wrong: never a panic, never
//! a hang (every run is killed after a bound, which fails the test),
//! never wrong bytes. A server is killed at the end of its test.

use std::fs::{self, File, OpenOptions};
use std::io::{Read as _, Seek as _, Write as _};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use uring_tests::examples::{assert_same_bytes, loopback, random_bytes, wait_bounded};

/// The examples, built once for the suite.
fn examples_dir() -> Option<&'static Path> {
    uring_tests::examples::dir()
}

/// How long a run that ends by itself may take before it counts as a hang
/// (generous: the machine is shared with other builds).
const BOUND: Duration = Duration::from_secs(60);

/// How long a run that should end at once (a refused input) may take.
const SHORT_BOUND: Duration = Duration::from_secs(10);

/// How a run ended.
#[derive(Debug)]
struct Run {
    /// What was run, for messages.
    what: String,
    /// `None` when it was killed after its bound.
    status: Option<ExitStatus>,
    stdout: Vec<u8>,
    stderr: String,
}

impl Run {
    fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Asserts that the run ended by itself, without a panic or a signal;
    /// returns its exit code.
    #[track_caller]
    fn code(&self) -> i32 {
        let status = self.status.unwrap_or_else(|| {
            panic!(
                "{}: still running after its bound (a hang); stderr: {}",
                self.what, self.stderr
            )
        });
        assert!(
            !self.stderr.contains("panicked at"),
            "{}: panicked: {}",
            self.what,
            self.stderr
        );
        status
            .code()
            .unwrap_or_else(|| panic!("{}: killed by a signal: {status:?}", self.what))
    }

    /// Asserts a clean success; returns stdout as text.
    #[track_caller]
    fn success(&self) -> String {
        let code = self.code();
        assert_eq!(
            code, 0,
            "{}: exit {code}; stderr: {}",
            self.what, self.stderr
        );
        self.stdout_text()
    }

    /// Asserts that the run refused its input: a non-zero exit, nothing on
    /// stdout, and a first stderr line that contains `needle`. With
    /// `one_line`, stderr is that line alone (runtime errors; usage errors
    /// follow theirs with the usage).
    #[track_caller]
    fn refused(&self, needle: &str, one_line: bool) {
        let code = self.code();
        assert_ne!(
            code, 0,
            "{}: accepted bad input: {}",
            self.what, self.stderr
        );
        assert!(
            self.stdout.is_empty(),
            "{}: refused, but printed {:?}",
            self.what,
            self.stdout_text()
        );
        let first = self.stderr.lines().next().unwrap_or("");
        assert!(
            first.contains(needle),
            "{}: exit {code}, first error line {first:?} does not say {needle:?}",
            self.what
        );
        if one_line {
            assert_eq!(
                self.stderr.lines().count(),
                1,
                "{}: more than one error line: {}",
                self.what,
                self.stderr
            );
        }
    }
}

/// Where a run's standard streams go.
struct Io {
    stdin: Stdio,
    /// `None`: a pipe the test reads.
    stdout: Option<File>,
}

impl Io {
    fn null() -> Io {
        Io {
            stdin: Stdio::null(),
            stdout: None,
        }
    }
}

/// Runs example `name` with `args`, killing it after `bound`.
fn run_with(dir: &Path, name: &str, args: &[&str], io: Io, bound: Duration) -> Run {
    let what = format!("{name} {}", args.join(" "));
    let mut cmd = Command::new(dir.join(name));
    cmd.args(args).stdin(io.stdin).stderr(Stdio::piped());
    match io.stdout {
        Some(file) => cmd.stdout(file),
        None => cmd.stdout(Stdio::piped()),
    };
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    let out = child.stdout.take().map(|mut pipe| {
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

/// [`run_with`] with no input, stdout to the test, and [`BOUND`].
fn run(dir: &Path, name: &str, args: &[&str]) -> Run {
    run_with(dir, name, args, Io::null(), BOUND)
}

fn write_file(path: &Path, bytes: &[u8]) {
    fs::write(path, bytes).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 temp path")
}

/// A file or directory made immutable with `chattr +i` (which even root
/// cannot write into), made mutable again on drop.
struct Immutable(Vec<PathBuf>);

impl Immutable {
    /// `None` (with the reason printed) if `chattr` is missing or the file
    /// system does not support the attribute.
    fn set(paths: &[&Path]) -> Option<Immutable> {
        let mut cmd = Command::new("chattr");
        cmd.arg("+i").args(paths);
        match cmd.output() {
            Ok(out) if out.status.success() => {
                Some(Immutable(paths.iter().map(|p| p.to_path_buf()).collect()))
            }
            Ok(out) => {
                uring_tests::skip(format_args!(
                    "read-only destinations: chattr +i failed: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
                None
            }
            Err(e) => {
                uring_tests::skip(format_args!("read-only destinations: no chattr: {e}"));
                None
            }
        }
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        let _ = Command::new("chattr").arg("-i").args(&self.0).status();
    }
}

/// Makes a FIFO at `path` with `mkfifo`; `false` (with the reason
/// printed) if it cannot.
fn make_fifo(path: &Path) -> bool {
    match Command::new("mkfifo").arg(path).status() {
        Ok(status) if status.success() => true,
        other => {
            uring_tests::skip(format_args!("no FIFO: mkfifo gave {other:?}"));
            false
        }
    }
}

/// Copying regular files with `cp`: every byte arrives, whatever the size
/// (empty, smaller than a block, not a multiple of the block, 64 MiB of
/// random bytes), and a longer existing destination is cut to the
/// source's length. What a user copies must arrive whole and alone.
#[test]
fn cp_copies_regular_files_exactly() {
    let Some(dir) = examples_dir() else { return };
    let tmp = tempfile::tempdir().expect("a temp dir");
    let cases: &[(&str, usize, &[&str])] = &[
        ("empty", 0, &[]),
        ("one byte", 1, &[]),
        ("odd size, default block", (3 << 17) + 12_345, &[]),
        (
            "odd size, odd block",
            1_000_003,
            &["--qd", "3", "--bs", "4097"],
        ),
        ("one-byte blocks", 5_000, &["--qd", "1024", "--bs", "1"]),
        ("one chain", 300_001, &["--qd", "1", "--bs", "65536"]),
        ("64 MiB random", 64 << 20, &[]),
    ];
    for (i, (what, len, opts)) in cases.iter().enumerate() {
        let data = random_bytes(*len, i as u64 + 11);
        let (src, dst) = (tmp.path().join("src"), tmp.path().join("dst"));
        write_file(&src, &data);
        let _ = fs::remove_file(&dst);
        let mut args = vec![path_str(&src), path_str(&dst)];
        args.extend_from_slice(opts);
        let out = run(dir, "cp", &args).success();
        assert!(
            out.starts_with(&format!("cp bytes={len} ")) && out.lines().count() == 1,
            "cp {what}: result line {out:?}"
        );
        let copied = fs::read(&dst).expect("read the copy");
        assert_same_bytes(&copied, &data, &format!("cp {what}"));
    }

    // Onto an existing, longer file: it must end where the source ends.
    let (src, dst) = (tmp.path().join("short"), tmp.path().join("long"));
    let data = random_bytes(10_000, 99);
    write_file(&src, &data);
    write_file(&dst, &vec![0xAA; 3 << 20]);
    run(dir, "cp", &[path_str(&src), path_str(&dst)]).success();
    assert_same_bytes(&fs::read(&dst).unwrap(), &data, "cp onto a longer file");
    // And an empty source empties it.
    let empty = tmp.path().join("empty");
    write_file(&empty, b"");
    run(dir, "cp", &[path_str(&empty), path_str(&dst)]).success();
    assert_eq!(
        fs::metadata(&dst).unwrap().len(),
        0,
        "cp of empty onto a file"
    );
}

/// `cp` refuses what it cannot copy, with one line naming the path and a
/// non-zero status, and destroys nothing: a file copied onto itself
/// (directly, through a hard link, through a symlink) keeps its bytes; a
/// directory, a missing source, a destination in a missing directory, a
/// destination that is a directory or a device, an immutable directory
/// or file (read-only even for root), and bad command lines.
#[test]
fn cp_refuses_bad_paths_without_damage() {
    let Some(dir) = examples_dir() else { return };
    let tmp = tempfile::tempdir().expect("a temp dir");
    let p = |name: &str| tmp.path().join(name);
    let data = random_bytes(200_000, 5);
    write_file(&p("src"), &data);
    fs::hard_link(p("src"), p("hard")).expect("a hard link");
    std::os::unix::fs::symlink(p("src"), p("sym")).expect("a symlink");
    fs::create_dir(p("subdir")).expect("a directory");
    let s = |name: &str| p(name).to_str().expect("UTF-8").to_string();

    for (src, dst) in [
        (s("src"), s("src")),
        (s("src"), s("hard")),
        (s("sym"), s("src")),
        (s("src"), s("sym")),
    ] {
        run(dir, "cp", &[&src, &dst]).refused("are the same file", true);
        assert_same_bytes(&fs::read(p("src")).unwrap(), &data, "a self-copy's source");
    }
    let missing_dir = s("missing/dst");
    let cases: &[(&str, &str, &str)] = &[
        (&s("subdir"), &s("dst1"), "not a regular file"),
        (&s("nothing"), &s("dst2"), "No such file"),
        (&s("src"), &missing_dir, "No such file"),
        (&s("src"), &s("subdir"), "Is a directory"),
        (&s("src"), "/dev/null", "not a regular file"),
    ];
    for (src, dst, needle) in cases {
        let r = run(dir, "cp", &[src, dst]);
        r.refused(needle, true);
        assert!(r.stderr.starts_with("cp: "), "{}: {}", r.what, r.stderr);
    }
    assert!(
        !p("dst2").exists(),
        "a missing source created its destination"
    );

    // Read-only for root too: an immutable directory and file.
    fs::create_dir(p("ro")).unwrap();
    write_file(&p("ro/kept"), b"keep me");
    if let Some(_guard) = Immutable::set(&[&p("ro/kept"), &p("ro")]) {
        run(dir, "cp", &[&s("src"), &s("ro/new")]).refused("Operation not permitted", true);
        run(dir, "cp", &[&s("src"), &s("ro/kept")]).refused("Operation not permitted", true);
        assert_eq!(fs::read(p("ro/kept")).unwrap(), b"keep me");
        assert!(!p("ro/new").exists());
    }

    for (args, needle) in [
        (vec![s("src")], "expected 2 argument(s)"),
        (vec![s("src"), s("d"), s("e")], "unexpected argument"),
        (vec![s("src"), s("d"), "--qd".into(), "0".into()], "--qd 0"),
        (vec![s("src"), s("d"), "--bs".into(), "0".into()], "--bs 0"),
        (
            vec![s("src"), s("d"), "--bs".into(), "x".into()],
            "not a number",
        ),
        (
            vec![s("src"), s("d"), "--frob".into(), "1".into()],
            "unknown option",
        ),
        (vec![s("src"), s("d"), "--qd".into()], "needs a value"),
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = run(dir, "cp", &args);
        r.refused(needle, false);
        assert_eq!(r.code(), 2, "{}: a bad command line exits 2", r.what);
    }
    assert!(
        !p("d").exists(),
        "a bad command line created its destination"
    );
}

/// `cat` writes exactly the file's bytes to standard output, whether that
/// is a pipe (short writes of big blocks) or a file, for empty files,
/// odd sizes and block sizes, and 20 MiB of random bytes, and reports
/// `cat bytes=N` on stderr only.
#[test]
fn cat_writes_exactly_the_file() {
    let Some(dir) = examples_dir() else { return };
    let tmp = tempfile::tempdir().expect("a temp dir");
    let src = tmp.path().join("src");
    let cases: &[(usize, &[&str])] = &[
        (0, &[]),
        (1, &[]),
        (4_097, &["--bs", "4096"]),
        (1_000_003, &["--qd", "3", "--bs", "4097"]),
        (5_000, &["--qd", "1024", "--bs", "1"]),
        (20 << 20, &[]),
        ((20 << 20) + 7, &["--qd", "64", "--bs", "1048576"]),
    ];
    for (i, (len, opts)) in cases.iter().enumerate() {
        let data = random_bytes(*len, i as u64 + 40);
        write_file(&src, &data);
        let mut args = vec![path_str(&src)];
        args.extend_from_slice(opts);
        // Into a pipe the test reads.
        let r = run(dir, "cat", &args);
        r.success();
        assert_same_bytes(&r.stdout, &data, &format!("{} into a pipe", r.what));
        assert!(
            r.stderr.starts_with(&format!("cat bytes={len} ")) && r.stderr.lines().count() == 1,
            "{}: stderr {:?}",
            r.what,
            r.stderr
        );
        // Into a file.
        let mut out = tempfile::tempfile().expect("a temp file");
        let io = Io {
            stdin: Stdio::null(),
            stdout: Some(out.try_clone().unwrap()),
        };
        let r = run_with(dir, "cat", &args, io, BOUND);
        r.success();
        let mut got = Vec::new();
        out.rewind().unwrap();
        out.read_to_end(&mut got).unwrap();
        assert_same_bytes(&got, &data, &format!("{} into a file", r.what));
    }
}

/// `cat` of what is not a regular file it can read (`/dev/null`, a
/// directory, a missing path, a FIFO whose writer is there, bad options):
/// either the right bytes (none, for `/dev/null`) or a non-zero status
/// with one line naming the path, and nothing on stdout.
#[test]
fn cat_refuses_what_it_cannot_read() {
    let Some(dir) = examples_dir() else { return };
    let tmp = tempfile::tempdir().expect("a temp dir");
    let r = run(dir, "cat", &["/dev/null"]);
    if r.code() == 0 {
        assert!(r.stdout.is_empty(), "cat /dev/null printed bytes");
    } else {
        r.refused("/dev/null", true);
    }
    run(dir, "cat", &[path_str(tmp.path())]).refused("not a regular file", true);
    let missing = tmp.path().join("missing");
    run(dir, "cat", &[path_str(&missing)]).refused("No such file", true);
    for (args, needle) in [
        (&[][..], "expected 1 argument(s)"),
        (&["/dev/null", "--qd", "0"][..], "--qd 0"),
        (&["/dev/null", "--bs", "99999999"][..], "--bs 99999999"),
        (&["/dev/null", "--bogus"][..], "unknown option"),
    ] {
        let r = run(dir, "cat", args);
        r.refused(needle, false);
        assert_eq!(r.code(), 2, "{}", r.what);
    }

    // A FIFO with a writer waiting on it.
    let fifo = tmp.path().join("fifo");
    if !make_fifo(&fifo) {
        return;
    }
    let writer_path = fifo.clone();
    let writer = std::thread::spawn(move || {
        // Blocks until a reader opens the FIFO.
        let mut w = OpenOptions::new().write(true).open(&writer_path).ok()?;
        Some(w.write_all(b"from the writer\n").is_ok())
    });
    let r = run_with(dir, "cat", &[path_str(&fifo)], Io::null(), SHORT_BOUND);
    // Release the writer if cat never opened the FIFO.
    let _unblock = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo);
    let _ = writer.join();
    if r.code() == 0 {
        assert_eq!(r.stdout, b"from the writer\n", "{}", r.what);
    } else {
        r.refused("not a regular file", true);
    }
}

/// `cat` and `cp` of a file of `/proc` give its bytes, or refuse it; never
/// an empty success. Such files have a size of 0 in `stat` and make their
/// bytes as they are read, so a copy that took that size as the length
/// would print nothing for a user's `cat /proc/version` and still exit 0.
#[test]
fn cat_and_cp_of_proc_files_copy_their_bytes_or_refuse() {
    let Some(dir) = examples_dir() else { return };
    let want = fs::read("/proc/version").expect("read /proc/version");
    assert!(!want.is_empty());
    let r = run(dir, "cat", &["/proc/version"]);
    if r.code() == 0 {
        assert_same_bytes(&r.stdout, &want, "cat /proc/version");
    }
    let r = run(dir, "cat", &["/proc/self/status"]);
    if r.code() == 0 {
        assert!(
            r.stdout_text().starts_with("Name:"),
            "cat /proc/self/status printed {:?}",
            r.stdout_text()
        );
    }
    let tmp = tempfile::tempdir().expect("a temp dir");
    let dst = tmp.path().join("version");
    let r = run(dir, "cp", &["/proc/version", path_str(&dst)]);
    if r.code() == 0 {
        assert_same_bytes(&fs::read(&dst).unwrap(), &want, "cp /proc/version");
    }
}

/// `cat` and `cp` of a file of `/sys` give exactly its bytes and succeed.
/// Every attribute there states a size of 4096 whatever it holds (a few
/// bytes), so a copy that took `stat`'s size as the length would find the
/// file "shrank" and fail, where cat(1) and cp(1) read until a read
/// returns 0.
#[test]
fn cat_and_cp_of_sysfs_files_copy_their_bytes() {
    let Some(dir) = examples_dir() else { return };
    let path = "/sys/devices/system/cpu/online";
    let (Ok(want), Ok(meta)) = (fs::read(path), fs::metadata(path)) else {
        eprintln!("skipped: {path} cannot be read here (no sysfs)");
        return;
    };
    assert!(!want.is_empty());
    if meta.len() == want.len() as u64 {
        eprintln!("note: {path} states its true size here; the case still runs");
    }
    let r = run(dir, "cat", &[path]);
    assert_eq!(r.code(), 0, "{}", r.what);
    assert_same_bytes(&r.stdout, &want, "cat of a sysfs file");
    let tmp = tempfile::tempdir().expect("a temp dir");
    let dst = tmp.path().join("online");
    // A destination longer than the source is cut to the bytes copied.
    fs::write(&dst, vec![b'x'; 10_000]).unwrap();
    let r = run(dir, "cp", &[path, path_str(&dst)]);
    assert_eq!(r.code(), 0, "{}", r.what);
    assert_same_bytes(&fs::read(&dst).unwrap(), &want, "cp of a sysfs file");
}

/// `cat`, `cp` and `randread` refuse a FIFO that no one writes (or, as a
/// destination, reads) as "not a regular file", at once, in one line:
/// opening such a FIFO blocks until a peer comes, so it must be refused
/// before it is opened, not after.
#[test]
fn fifos_without_a_peer_are_refused_not_waited_on() {
    let Some(dir) = examples_dir() else { return };
    let tmp = tempfile::tempdir().expect("a temp dir");
    let fifo = tmp.path().join("fifo");
    if !make_fifo(&fifo) {
        return;
    }
    let src = tmp.path().join("src");
    write_file(&src, b"bytes");
    let f = path_str(&fifo);
    let out = tmp.path().join("out");
    let runs = [
        ("cat", vec![f]),
        ("cp", vec![f, path_str(&out)]),
        ("cp", vec![path_str(&src), f]),
        ("randread", vec![f, "--ios", "1"]),
    ];
    for (name, args) in runs {
        let r = run_with(dir, name, &args, Io::null(), SHORT_BOUND);
        r.refused("not a regular file", true);
    }
}

/// `randread` and `randread_io_uring` run the reads they are given and
/// print their one result line, for block sizes that are not a multiple
/// of 512 and both `--mode`s; and refuse, with status 2 and a line naming
/// the problem, a file smaller than one block, a directory, a missing
/// file, and `--qd 0`, `--bs 0`, `--secs 0`, `--secs inf`, `--ios 0`,
/// unknown flags and `--mode` where it has none.
#[test]
fn randread_runs_and_refuses_bad_input() {
    let Some(dir) = examples_dir() else { return };
    let tmp = tempfile::tempdir().expect("a temp dir");
    let file = tmp.path().join("data");
    write_file(&file, &random_bytes(256 << 10, 3));
    let f = path_str(&file);
    for (name, extra, engine) in [
        ("randread", &[][..], "uring-raw"),
        ("randread", &["--mode", "scope"][..], "uring-scope"),
        (
            "randread",
            &["--mode", "raw", "--bs", "1000"][..],
            "uring-raw",
        ),
        (
            "randread",
            &["--mode", "scope", "--bs", "513"][..],
            "uring-scope",
        ),
        ("randread_io_uring", &["--bs", "513"][..], "io-uring"),
        (
            "randread",
            &["--bs", "262144", "--qd", "1"][..],
            "uring-raw",
        ),
    ] {
        let mut args = vec![f, "--ios", "3000", "--secs", "30"];
        args.extend_from_slice(extra);
        let out = run(dir, name, &args).success();
        assert!(
            out.starts_with(&format!("randread engine={engine} "))
                && out.contains(" ios=3000 ")
                && out.lines().count() == 1,
            "{name} {args:?}: {out:?}"
        );
    }
    // A run bounded by time alone ends on time.
    let start = Instant::now();
    let out = run(dir, "randread", &[f, "--secs", "0.2"]).success();
    assert!(out.starts_with("randread engine=uring-raw "), "{out:?}");
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "--secs 0.2 ran long"
    );

    let small = tmp.path().join("small");
    write_file(&small, &[1; 4095]);
    let missing = tmp.path().join("missing");
    for name in ["randread", "randread_io_uring"] {
        run(dir, name, &[path_str(&small)]).refused("smaller than one block", true);
        run(dir, name, &[path_str(&missing)]).refused("No such file", true);
        run(dir, name, &[path_str(tmp.path())]).refused("not a regular file", true);
        for (opts, needle) in [
            (&["--qd", "0"][..], "--qd 0"),
            (&["--bs", "0"][..], "--bs 0"),
            (&["--secs", "0"][..], "--secs 0"),
            (&["--secs", "inf"][..], "--secs inf"),
            (&["--secs", "NaN"][..], "--secs NaN"),
            (&["--ios", "0"][..], "--ios 0"),
            (&["--qd", "99999"][..], "--qd 99999"),
            (&["--frob", "1"][..], "unknown option --frob"),
        ] {
            let mut args = vec![f];
            args.extend_from_slice(opts);
            let r = run(dir, name, &args);
            r.refused(needle, false);
            assert_eq!(r.code(), 2, "{}", r.what);
        }
    }
    let r = run(dir, "randread_io_uring", &[f, "--mode", "raw"]);
    r.refused("unknown option --mode", false);
    let r = run(dir, "randread", &[]);
    r.refused("expected 1 argument(s)", false);
}

/// The NOP drivers and the reactor drivers complete exactly TOTAL ops and
/// print `ops=TOTAL ...`, including TOTAL 0, and refuse bad command lines
/// with status 2.
#[test]
fn nop_and_reactor_drivers_count_their_ops() {
    let Some(dir) = examples_dir() else { return };
    for name in [
        "nop",
        "nop_for_each",
        "nop_scope",
        "nop_scope_for_each",
        "nop_io_uring",
        "nop_io_uring_for_each",
    ] {
        for (total, batch) in [("100000", "32"), ("1000", "256"), ("7", "1"), ("0", "5")] {
            let out = run(dir, name, &[total, batch]).success();
            assert!(
                out.starts_with(&format!("ops={total} ")) && out.lines().count() == 1,
                "{name} {total} {batch}: {out:?}"
            );
        }
        for args in [
            &[][..],
            &["10"][..],
            &["10", "0"][..],
            &["10", "257"][..],
            &["-1", "1"][..],
            &["x", "1"][..],
            &["10", "1", "extra"][..],
        ] {
            let r = run(dir, name, args);
            r.refused("usage:", false);
            assert_eq!(r.code(), 2, "{}", r.what);
        }
    }
    for name in ["reactor_nop", "reactor_read"] {
        for mode in ["push", "reactor"] {
            for total in ["5000", "1", "0"] {
                let out = run(dir, name, &[mode, total]).success();
                assert!(
                    out.starts_with(&format!("ops={total} ")),
                    "{name} {mode} {total}: {out:?}"
                );
            }
        }
        for args in [
            &[][..],
            &["fly", "3"][..],
            &["push"][..],
            &["push", "-3"][..],
        ] {
            let r = run(dir, name, args);
            r.refused("usage:", false);
            assert_eq!(r.code(), 2, "{}", r.what);
        }
    }
}

/// `tour` runs all twelve of its steps and reports what the kernel did in
/// each: the bytes read back, timeouts in time order, the loopback
/// exchange, the provided buffer the kernel picked, and no step that
/// went otherwise than planned.
#[test]
fn tour_runs_every_step() {
    let Some(dir) = examples_dir() else { return };
    let out = run(dir, "tour", &[]).success();
    for step in 1..=12 {
        assert!(
            out.lines().any(|l| l.starts_with(&format!("{step}. "))),
            "tour: no step {step}:\n{out}"
        );
    }
    for expected in [
        "read back \"io_uring writes in place\"",
        "\"spli\" + \"t in\" + \" two\"",
        "fired in order [10, 20, 30]",
        "received \"ping\"",
        "holds \"pong\"",
        "a ring of 2 hands it back whole",
    ] {
        assert!(out.contains(expected), "tour: no {expected:?}:\n{out}");
    }
    assert!(!out.contains("unexpected"), "tour:\n{out}");
    assert_eq!(out.lines().last(), Some("done."), "tour:\n{out}");
}

/// A port on loopback that nothing listens on now, below the ephemeral
/// range (so that no client connection holds it), different at each call.
fn free_port() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let base = 20_000 + (std::process::id() % 600) as u16 * 20;
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = 20_000 + (base - 20_000 + n) % 12_000;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// A server example running in the background; killed on drop.
struct Server {
    what: String,
    child: Child,
    stdout: File,
    stderr: File,
}

impl Server {
    fn start(dir: &Path, name: &str, args: &[&str]) -> Server {
        let stdout = tempfile::tempfile().expect("a temp file");
        let stderr = tempfile::tempfile().expect("a temp file");
        let child = Command::new(dir.join(name))
            .args(args)
            .stdin(Stdio::null())
            .stdout(stdout.try_clone().unwrap())
            .stderr(stderr.try_clone().unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("{name}: cannot start: {e}"));
        Server {
            what: format!("{name} {}", args.join(" ")),
            child,
            stdout,
            stderr,
        }
    }

    fn read(file: &mut File) -> String {
        let mut text = String::new();
        file.rewind().unwrap();
        let _ = file.read_to_string(&mut text);
        text
    }

    fn stderr(&mut self) -> String {
        Server::read(&mut self.stderr)
    }

    /// Waits until `addr` accepts a connection; fails if the server exits
    /// or does not listen within [`BOUND`].
    fn wait_listening(&mut self, addr: SocketAddr) {
        let deadline = Instant::now() + BOUND;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let err = self.stderr();
                panic!(
                    "{}: exited ({status:?}) instead of listening: {err}",
                    self.what
                );
            }
            if TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{}: not listening on {addr}",
                self.what
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A connection to the server at `addr`, which listens there
    /// ([`wait_listening`](Self::wait_listening) said so): a refusal is
    /// tried again for up to a second while the server runs, and one that
    /// lasts fails the test with the server's state and what it wrote to
    /// stderr.
    fn connect(&mut self, addr: SocketAddr) -> TcpStream {
        let deadline = Instant::now() + Duration::from_secs(1);
        loop {
            let e = match TcpStream::connect(addr) {
                Ok(stream) => return stream,
                Err(e) => e,
            };
            let status = self.child.try_wait().unwrap();
            if status.is_some() || Instant::now() >= deadline {
                let err = self.stderr();
                panic!(
                    "{}: connect to {addr}: {e}; the server {}; its stderr: {err}",
                    self.what,
                    match status {
                        Some(status) => format!("exited ({status:?})"),
                        None => "runs".to_string(),
                    }
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The first line of stdout, waiting for it up to [`BOUND`].
    fn first_line(&mut self) -> String {
        let deadline = Instant::now() + BOUND;
        loop {
            let out = Server::read(&mut self.stdout);
            if let Some((line, _)) = out.split_once('\n') {
                return line.to_string();
            }
            assert!(Instant::now() < deadline, "{}: printed nothing", self.what);
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for the server to exit by itself (killing it after `bound`);
    /// returns how it ended, with its stdout and stderr.
    fn finish(mut self, bound: Duration) -> Run {
        let status = wait_bounded(&mut self.child, bound);
        Run {
            what: self.what.clone(),
            status,
            stdout: Server::read(&mut self.stdout).into_bytes(),
            stderr: self.stderr(),
        }
    }

    /// Stops the server; asserts it never panicked.
    fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let err = self.stderr();
        assert!(!err.contains("panicked at"), "{}: {err}", self.what);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `clients` concurrent connections to `addr`, each writing its own
/// `bytes` random bytes in writes of mixed sizes while it reads the echo,
/// then closing its sending side: each must read back exactly what it
/// sent, then the end of the stream.
fn echo_exactly(addr: SocketAddr, clients: u64, bytes: usize, what: &str) {
    let handles: Vec<_> = (0..clients)
        .map(|c| {
            let what = format!("{what}, client {c}");
            std::thread::spawn(move || {
                let data = random_bytes(bytes, 1000 + c);
                let mut stream = TcpStream::connect(addr).expect("connect");
                stream
                    .set_read_timeout(Some(Duration::from_secs(30)))
                    .unwrap();
                let mut writer = stream.try_clone().unwrap();
                let sent = data.clone();
                let w = std::thread::spawn(move || {
                    let sizes = [1, 7, 1500, 4096, 65536, 333, 100_000];
                    let (mut at, mut k) = (0, 0);
                    while at < sent.len() {
                        let end = (at + sizes[k % sizes.len()]).min(sent.len());
                        writer.write_all(&sent[at..end])?;
                        (at, k) = (end, k + 1);
                    }
                    writer.shutdown(Shutdown::Write)
                });
                let mut got = Vec::with_capacity(bytes);
                let read = stream.read_to_end(&mut got);
                w.join()
                    .expect("the writer")
                    .unwrap_or_else(|e| panic!("{what}: write: {e}"));
                if let Err(e) = read {
                    panic!("{what}: {} of {bytes} bytes back, then {e}", got.len());
                }
                assert_same_bytes(&got, &data, &what);
            })
        })
        .collect();
    for h in handles {
        if let Err(panic) = h.join() {
            std::panic::resume_unwind(panic);
        }
    }
}

/// `echo_server` and `echo_async`, on one and two threads, echo exactly
/// what eight concurrent clients send (1 MiB each, in writes of 1 byte to
/// 100 000), and close each connection after its client's end.
#[test]
fn echo_servers_echo_exactly_under_concurrent_clients() {
    let Some(dir) = examples_dir() else { return };
    for name in ["echo_server", "echo_async"] {
        for threads in ["1", "2"] {
            let addr = loopback(free_port());
            let a = addr.to_string();
            let mut server = Server::start(dir, name, &[&a, threads]);
            server.wait_listening(addr);
            echo_exactly(addr, 8, 1 << 20, &format!("{name} {threads}"));
            // Many short connections after that.
            echo_exactly(addr, 32, 1000, &format!("{name} {threads}, short"));
            server.stop();
        }
    }
}

/// A client of `echo_server` or `echo_async` that sends without reading
/// its echo (until its socket takes no more bytes) does not stop the
/// echo of another client on the same thread: the server holds a bounded
/// part of its thread's buffer ring for one connection (`echo_server`
/// stops receiving for it), instead of queueing what it receives, behind
/// the send that waits on the full socket, until the ring runs dry.
#[test]
fn a_client_that_does_not_read_does_not_starve_the_others() {
    let Some(dir) = examples_dir() else { return };
    for name in ["echo_async", "echo_server"] {
        let addr = loopback(free_port());
        let mut server = Server::start(dir, name, &[&addr.to_string(), "1"]);
        server.wait_listening(addr);
        let mut hog = server.connect(addr);
        hog.set_write_timeout(Some(Duration::from_secs(3))).unwrap();
        let chunk = vec![0x55; 64 << 10];
        let mut sent = 0usize;
        // Until the server stops taking bytes (or 64 MiB).
        while sent < 64 << 20 {
            match hog.write(&chunk) {
                Ok(n) => sent += n,
                Err(_) => break,
            }
        }
        let mut other = server.connect(addr);
        other
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        other.write_all(b"hello").unwrap();
        let mut back = [0u8; 5];
        let got = other.read_exact(&mut back);
        assert!(
            got.is_ok() && &back == b"hello",
            "{name}: no echo for a second client within 10 s while the first \
             ({sent} bytes sent) does not read: {got:?}"
        );
        drop(hog);
        server.stop();
    }
}

/// The servers refuse bad command lines with status 2 and their usage:
/// addresses that are not `IP:PORT`, `THREADS` of 0, negative or not a
/// number, extra arguments.
#[test]
fn servers_refuse_bad_command_lines() {
    let Some(dir) = examples_dir() else { return };
    for name in ["echo_server", "echo_async", "http"] {
        for args in [
            &[][..],
            &["localhost:8080"][..],
            &["127.0.0.1"][..],
            &["127.0.0.1:99999"][..],
            &["garbage", "1"][..],
            &["127.0.0.1:1", "0"][..],
            &["127.0.0.1:1", "-1"][..],
            &["127.0.0.1:1", "two"][..],
            &["127.0.0.1:1", "1", "extra"][..],
        ] {
            let r = run_with(dir, name, args, Io::null(), SHORT_BOUND);
            r.refused(&format!("usage: {name} ADDR"), true);
            assert_eq!(r.code(), 2, "{}", r.what);
        }
    }
}

/// A server whose address cannot be bound (a port another socket holds, an
/// address of no local interface) exits with a non-zero status, at once,
/// without a panic; `echo_server` and `http` say why in one line.
#[test]
fn servers_that_cannot_bind_exit() {
    let Some(dir) = examples_dir() else { return };
    let holder = TcpListener::bind("127.0.0.1:0").expect("a listener");
    let taken = holder.local_addr().unwrap().to_string();
    let cases = [
        (taken.as_str(), "Address already in use"),
        ("192.0.2.1:9", "Cannot assign requested address"),
    ];
    for name in ["echo_server", "echo_async", "http"] {
        for (addr, why) in cases {
            for threads in ["1", "2"] {
                let r = Server::start(dir, name, &[addr, threads]).finish(SHORT_BOUND);
                let code = r.code();
                assert_ne!(code, 0, "{}: exit 0 without a listener", r.what);
                if name != "echo_async" {
                    let errors: Vec<&str> = r.stderr.lines().collect();
                    assert!(
                        !errors.is_empty() && errors.iter().all(|l| l.contains(why)),
                        "{}: stderr {:?}",
                        r.what,
                        r.stderr
                    );
                }
            }
        }
    }
    drop(holder);
}

/// `echo_async` that cannot bind its address (a port another socket
/// holds) exits non-zero and says why on stderr, as `echo_server` and
/// `http` do: a server thread's error is printed, not dropped.
#[test]
fn echo_async_says_why_it_cannot_bind() {
    let Some(dir) = examples_dir() else { return };
    let holder = TcpListener::bind("127.0.0.1:0").expect("a listener");
    let taken = holder.local_addr().unwrap().to_string();
    let r = Server::start(dir, "echo_async", &[&taken, "1"]).finish(SHORT_BOUND);
    assert_ne!(r.code(), 0);
    assert!(
        r.stderr.contains("Address already in use"),
        "{}: stderr {:?}",
        r.what,
        r.stderr
    );
}

/// Every server prints `listening on ADDR` only once it has bound ADDR
/// (never when the bind fails), and names the address it listens on:
/// given port 0, the port the kernel picked (which, with two threads, both
/// listen on), not port 0. The tokio baselines too, which the benchmark
/// scripts start the same way.
#[test]
fn servers_name_the_address_they_listen_on() {
    let Some(dir) = examples_dir() else { return };
    let holder = TcpListener::bind("127.0.0.1:0").expect("a listener");
    let taken = holder.local_addr().unwrap().to_string();
    for name in [
        "echo_server",
        "echo_async",
        "http",
        "echo_tokio",
        "http_tokio",
    ] {
        let r = Server::start(dir, name, &[&taken, "1"]).finish(SHORT_BOUND);
        assert_ne!(r.code(), 0);
        assert!(
            !r.stdout_text().contains("listening on"),
            "{}: claimed {:?} and then failed to bind",
            r.what,
            r.stdout_text()
        );
        let mut server = Server::start(dir, name, &["127.0.0.1:0", "2"]);
        let line = server.first_line();
        let port = line
            .split_whitespace()
            .find_map(|w| w.parse::<SocketAddr>().ok())
            .map(|a| a.port());
        assert!(
            port.is_some_and(|p| p != 0),
            "{name} 127.0.0.1:0 2: {line:?} names no port it listens on"
        );
        server.stop();
    }
}

/// An HTTP/1.1 response as a client reads it.
#[derive(Debug)]
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A minimal HTTP/1.1 client over one connection.
struct Client {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        Client {
            stream,
            buf: Vec::new(),
        }
    }

    fn send(&mut self, request: &[u8]) {
        self.stream.write_all(request).expect("send a request");
    }

    /// Reads more bytes; the count (0 at the end of the stream).
    fn fill(&mut self) -> usize {
        let mut chunk = [0u8; 16384];
        let n = self
            .stream
            .read(&mut chunk)
            .unwrap_or_else(|e| panic!("no answer within 20 s: {e}"));
        self.buf.extend_from_slice(&chunk[..n]);
        n
    }

    fn take_until(&mut self, end: &[u8]) -> Vec<u8> {
        loop {
            if let Some(at) = self.buf.windows(end.len()).position(|w| w == end) {
                let rest = self.buf.split_off(at + end.len());
                let mut line = std::mem::replace(&mut self.buf, rest);
                line.truncate(at);
                return line;
            }
            assert!(
                self.fill() > 0,
                "the server closed the connection mid-response"
            );
        }
    }

    fn take(&mut self, n: usize) -> Vec<u8> {
        while self.buf.len() < n {
            assert!(self.fill() > 0, "the server closed the connection mid-body");
        }
        let rest = self.buf.split_off(n);
        std::mem::replace(&mut self.buf, rest)
    }

    /// Reads one response; `head` for the answer to a HEAD request (no body).
    fn response(&mut self, head: bool) -> Response {
        let head_bytes = self.take_until(b"\r\n\r\n");
        let text = String::from_utf8(head_bytes).expect("an ASCII response head");
        let mut lines = text.split("\r\n");
        let status_line = lines.next().unwrap_or("");
        assert!(
            status_line.starts_with("HTTP/1.1 "),
            "not an HTTP/1.1 status line: {status_line:?}"
        );
        let status: u16 = status_line[9..12].parse().expect("a status code");
        let headers: Vec<(String, String)> = lines
            .map(|l| {
                let (n, v) = l.split_once(':').expect("a header line");
                (n.trim().to_string(), v.trim().to_string())
            })
            .collect();
        let mut response = Response {
            status,
            headers,
            body: Vec::new(),
        };
        if head || status == 204 || status == 304 {
            return response;
        }
        if let Some(len) = response.header("content-length") {
            let len: usize = len.parse().expect("a content-length");
            response.body = self.take(len);
        } else if response
            .header("transfer-encoding")
            .is_some_and(|t| t.eq_ignore_ascii_case("chunked"))
        {
            loop {
                let size = self.take_until(b"\r\n");
                let size = usize::from_str_radix(std::str::from_utf8(&size).unwrap().trim(), 16)
                    .expect("a chunk size");
                if size == 0 {
                    self.take_until(b"\r\n");
                    break;
                }
                let chunk = self.take(size);
                response.body.extend_from_slice(&chunk);
                self.take_until(b"\r\n");
            }
        } else {
            while self.fill() > 0 {}
            response.body = std::mem::take(&mut self.buf);
        }
        response
    }

    /// Whether the server closed the connection, with nothing more sent.
    fn at_end(&mut self) -> bool {
        self.buf.is_empty() && self.fill() == 0
    }
}

fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").into_bytes()
}

#[track_caller]
fn assert_hello(r: &Response) {
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body, b"Hello from uring!\n", "{r:?}");
    assert_eq!(r.header("content-type"), Some("text/plain"), "{r:?}");
}

/// `http` answers a real HTTP/1.1 client: `GET /` with its body, on one
/// keep-alive connection many times; a HEAD request with a head and no
/// body; a POST with a body (404, and the connection still serves the
/// next request); another path (404); pipelined requests in order; a
/// request with `Connection: close`, after which the server closes; and
/// connections in parallel, on one and two threads.
#[test]
fn http_answers_a_real_http11_client() {
    let Some(dir) = examples_dir() else { return };
    for threads in ["1", "2"] {
        let addr = loopback(free_port());
        let mut server = Server::start(dir, "http", &[&addr.to_string(), threads]);
        server.wait_listening(addr);

        let mut c = Client::connect(addr);
        for _ in 0..3 {
            c.send(&get("/"));
            assert_hello(&c.response(false));
        }
        c.send(b"HEAD / HTTP/1.1\r\nHost: test\r\n\r\n");
        let head = c.response(true);
        assert!(head.status == 200 || head.status == 404, "{head:?}");
        c.send(b"POST / HTTP/1.1\r\nHost: test\r\nContent-Length: 11\r\n\r\nhello there");
        let post = c.response(false);
        assert_eq!(post.status, 404, "{post:?}");
        assert!(post.body.is_empty(), "{post:?}");
        c.send(&get("/other/path?q=1"));
        let other = c.response(false);
        assert_eq!(other.status, 404, "{other:?}");
        // Pipelined: three requests in one write, three answers in order.
        let mut three = get("/");
        three.extend_from_slice(&get("/missing"));
        three.extend_from_slice(&get("/"));
        c.send(&three);
        assert_hello(&c.response(false));
        assert_eq!(c.response(false).status, 404);
        assert_hello(&c.response(false));
        c.send(b"GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
        assert_hello(&c.response(false));
        assert!(
            c.at_end(),
            "the connection stayed open after Connection: close"
        );

        // Parallel connections, each with a few requests.
        let clients: Vec<_> = (0..16)
            .map(|_| {
                std::thread::spawn(move || {
                    let mut c = Client::connect(addr);
                    for _ in 0..20 {
                        c.send(&get("/"));
                        assert_hello(&c.response(false));
                    }
                })
            })
            .collect();
        for h in clients {
            if let Err(panic) = h.join() {
                std::panic::resume_unwind(panic);
            }
        }
        server.stop();
    }
}

/// `http` answers `HEAD /` as it answers `GET /`: 200 with the same
/// `content-length` and no body. RFC 9110 (9.1) requires a general-purpose
/// server to support HEAD, and (9.3.2) a HEAD response to carry what a
/// GET would, minus the body.
#[test]
fn http_answers_head_as_it_answers_get() {
    let Some(dir) = examples_dir() else { return };
    let addr = loopback(free_port());
    let mut server = Server::start(dir, "http", &[&addr.to_string()]);
    server.wait_listening(addr);
    let mut c = Client::connect(addr);
    c.send(b"HEAD / HTTP/1.1\r\nHost: test\r\n\r\n");
    let head = c.response(true);
    assert_eq!(head.status, 200, "{head:?}");
    assert_eq!(head.header("content-length"), Some("18"), "{head:?}");
    // No body follows the head: the next response on the connection is
    // the next request's, whole.
    c.send(&get("/"));
    assert_hello(&c.response(false));
    server.stop();
}

/// `echo_load` against real servers (`echo_server`, `echo_async` and, in
/// `http` mode, `http`) counts requests and no errors; against a port
/// nothing listens on it reports every connection as an error, in one
/// line, with status 1; bad command lines (CONNS 0, SECS 0 or negative or
/// NaN, an unknown mode, missing fields) exit 2 with the usage.
#[test]
fn echo_load_measures_servers_and_reports_failures() {
    let Some(dir) = examples_dir() else { return };
    for (server, mode) in [
        ("echo_server", None),
        ("echo_async", None),
        ("http", Some("http")),
    ] {
        let addr = loopback(free_port());
        let a = addr.to_string();
        let mut s = Server::start(dir, server, &[&a, "1"]);
        s.wait_listening(addr);
        for size in ["1", "4096", "0"] {
            let mut args = vec![a.as_str(), "4", size, "0.5"];
            args.extend(mode);
            let r = run(dir, "echo_load", &args);
            let out = r.success();
            let requests: u64 = out
                .split_whitespace()
                .find_map(|w| w.strip_prefix("requests="))
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("{}: no requests= in {out:?}", r.what));
            assert!(requests > 0, "{}: {out:?}", r.what);
            assert!(out.contains(" errors=0"), "{}: {out:?}", r.what);
            if mode.is_some() {
                break;
            }
        }
        s.stop();
    }

    // Nothing listening.
    let nobody = loopback(free_port()).to_string();
    let r = run(dir, "echo_load", &[&nobody, "3", "16", "1"]);
    assert_eq!(r.code(), 1, "{}: {}", r.what, r.stderr);
    assert!(
        r.stdout_text().starts_with("requests=0 ") && r.stdout_text().contains(" errors=3"),
        "{}: {:?}",
        r.what,
        r.stdout_text()
    );
    assert_eq!(r.stderr.lines().count(), 1, "{}: {}", r.what, r.stderr);
    assert!(r.stderr.contains("Connection refused"), "{}", r.stderr);

    for args in [
        &[][..],
        &[nobody.as_str()][..],
        &[nobody.as_str(), "0", "16", "1"][..],
        &[nobody.as_str(), "1", "16", "0"][..],
        &[nobody.as_str(), "1", "16", "-1"][..],
        &[nobody.as_str(), "1", "16", "NaN"][..],
        &[nobody.as_str(), "1", "x", "1"][..],
        &[nobody.as_str(), "1", "16", "1", "ftp"][..],
        &["localhost:1", "1", "16", "1"][..],
    ] {
        let r = run_with(dir, "echo_load", args, Io::null(), SHORT_BOUND);
        r.refused("usage: echo_load", true);
        assert_eq!(r.code(), 2, "{}", r.what);
    }
}

/// `echo_load` refuses, with its usage and no panic, a SECS that a
/// `Duration` cannot hold (`inf`, `1e20`) or whose end time is past what an
/// `Instant` holds (`1e19`).
#[test]
fn echo_load_refuses_durations_it_cannot_hold() {
    let Some(dir) = examples_dir() else { return };
    let nobody = loopback(free_port()).to_string();
    for secs in ["inf", "1e20", "1e19"] {
        let r = run_with(
            dir,
            "echo_load",
            &[&nobody, "1", "16", secs],
            Io::null(),
            SHORT_BOUND,
        );
        r.refused("usage: echo_load", true);
    }
}
