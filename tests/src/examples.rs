//! The example programs of `uring-examples`, built once per test binary
//! with the release profile and run as a user runs them, and what the
//! suites that run them share.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// What building the examples gave.
enum Built {
    /// The directory of the release binaries.
    Dir(PathBuf),
    /// Cargo cannot be run here.
    NoCargo(String),
    /// The build failed.
    Failed(String),
}

/// Builds every example once per test binary, into the target directory
/// the binary was built in; returns the directory of the binaries, or
/// `None` (with the reason printed) when cargo is not there. A failed
/// build fails the test.
pub fn dir() -> Option<&'static Path> {
    static BUILT: OnceLock<Built> = OnceLock::new();
    match BUILT.get_or_init(build) {
        Built::Dir(dir) => Some(dir),
        Built::NoCargo(reason) => {
            crate::skip(reason);
            None
        }
        Built::Failed(log) => panic!("building the examples failed:\n{log}"),
    }
}

/// The target directory the running test binary was built in (a test
/// binary is `<target>/<profile>/deps/<name>-<hash>`).
pub fn target_dir() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    exe.ancestors().nth(3).map(Path::to_path_buf)
}

/// The workspace's root directory.
pub fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
}

fn build() -> Built {
    let cargo = PathBuf::from(env!("CARGO"));
    if !cargo.exists() {
        return Built::NoCargo(format!("cargo is not at {}", cargo.display()));
    }
    let Some(target) = target_dir() else {
        return Built::NoCargo("no target dir above the test binary".into());
    };
    let out = Command::new(&cargo)
        .current_dir(workspace())
        .env("CARGO_TARGET_DIR", &target)
        .args(["build", "--release", "-p", "uring-examples", "--examples"])
        .stdin(Stdio::null())
        .output();
    match out {
        Err(e) => Built::NoCargo(format!("cannot run {}: {e}", cargo.display())),
        Ok(out) if !out.status.success() => {
            Built::Failed(String::from_utf8_lossy(&out.stderr).into_owned())
        }
        Ok(_) => Built::Dir(target.join("release").join("examples")),
    }
}

/// Waits for `child` up to `bound`; kills it (and returns `None`) after.
pub fn wait_bounded(child: &mut Child, bound: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + bound;
    loop {
        if let Some(status) = child.try_wait().expect("wait for the example") {
            return Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `n` bytes from xorshift64*, seeded: random-looking, reproducible.
pub fn random_bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(n + 8);
    while out.len() < n {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    out.truncate(n);
    out
}

/// Asserts that `got` is exactly `want`, naming the first difference
/// (without printing megabytes).
#[track_caller]
pub fn assert_same_bytes(got: &[u8], want: &[u8], what: &str) {
    if got == want {
        return;
    }
    let first = got.iter().zip(want).position(|(a, b)| a != b);
    panic!(
        "{what}: {} bytes, expected {}; first difference at {first:?}",
        got.len(),
        want.len()
    );
}

/// `127.0.0.1:port`.
pub fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}
