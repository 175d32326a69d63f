//! FIFOs, whose opens block in io-wq workers: what the attacks on blocked
//! workers share.

use std::fs::File;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use crate::skip;

/// A FIFO in a new temporary directory (`mkfifo(3)`), or `None` with a skip
/// message.
pub fn temp_fifo() -> Option<(tempfile::TempDir, PathBuf)> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fifo");
    let c = crate::cpath(&path);
    // SAFETY: a NUL-terminated path that outlives the call.
    if unsafe { libc::mkfifo(c.as_ptr(), 0o600) } != 0 {
        skip(format_args!("no FIFO: {}", std::io::Error::last_os_error()));
        return None;
    }
    Some((dir, path))
}

/// Whether the FIFO at `path` has a reader (a non-blocking open for writing
/// fails with `ENXIO` without one). Ask only once no open waits for a
/// writer: the probe is one, and would end such a wait.
pub fn has_reader(path: &Path) -> bool {
    match std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
    {
        Ok(_) => true,
        Err(e) if e.raw_os_error() == Some(libc::ENXIO) => false,
        Err(e) => panic!("opening the FIFO: {e}"),
    }
}

/// Opens the FIFO at `path` for writing (waiting for a reader) on a thread
/// of its own, which lets an open for reading blocked on it complete; the
/// thread hands the writer back.
pub fn open_writer(path: &Path) -> JoinHandle<File> {
    let path = path.to_owned();
    std::thread::spawn(move || std::fs::OpenOptions::new().write(true).open(path).unwrap())
}

/// How many io-wq workers the calling thread's worker pool runs (threads
/// named `iou-wrk-<tid>`, the name cut to the 15 bytes a task's name
/// holds).
pub fn my_workers() -> usize {
    let me = std::fs::read_link("/proc/thread-self").unwrap();
    let tid = me.file_name().unwrap().to_string_lossy().into_owned();
    let name: String = format!("iou-wrk-{tid}").chars().take(15).collect();
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("comm")).ok())
        .filter(|comm| comm.trim_end() == name)
        .count()
}
