//! Loop devices for the tests of block-device commands.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use crate::skip;

/// `LOOP_CTL_GET_FREE` of `<linux/loop.h>`.
const LOOP_CTL_GET_FREE: libc::c_ulong = 0x4C82;
/// `LOOP_CONFIGURE` of `<linux/loop.h>`.
const LOOP_CONFIGURE: libc::c_ulong = 0x4C0A;
/// `LO_FLAGS_AUTOCLEAR` of `<linux/loop.h>`.
const LO_FLAGS_AUTOCLEAR: u32 = 4;

/// The logical block size of the loop devices made here.
pub const LBA: u64 = 512;

/// `struct loop_config` of `<linux/loop.h>` (its `loop_info64` as bytes,
/// `lo_flags` at offset 52).
#[repr(C)]
struct LoopConfig {
    fd: u32,
    block_size: u32,
    info: [u8; 232],
    reserved: [u64; 8],
}

/// A loop device over a sparse file of `bytes` in `dir`, with blocks of
/// [`LBA`] bytes, detached by the kernel once the last descriptor of it is
/// closed (`LO_FLAGS_AUTOCLEAR`): its path and a descriptor, opened for
/// reads and writes with `open_flags` (`O_DIRECT`, say), that keeps it
/// attached. `None` (with a skip message) where no loop device can be
/// attached.
pub fn loop_device(dir: &Path, bytes: u64, open_flags: i32) -> Option<(PathBuf, File)> {
    let backing = dir.join("backing");
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&backing)
        .unwrap();
    file.set_len(bytes).unwrap();
    let control = match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/loop-control")
    {
        Ok(control) => control,
        Err(e) => {
            skip(format_args!("no loop devices: {e}"));
            return None;
        }
    };
    for _ in 0..16 {
        // SAFETY: an ioctl without argument memory on an open descriptor.
        let n = unsafe { libc::ioctl(control.as_raw_fd(), LOOP_CTL_GET_FREE) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            skip(format_args!("no free loop device: {e}"));
            return None;
        }
        let path = PathBuf::from(format!("/dev/loop{n}"));
        let Ok(device) = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(open_flags)
            .open(&path)
        else {
            continue;
        };
        let mut config = LoopConfig {
            fd: file.as_raw_fd() as u32,
            block_size: LBA as u32,
            info: [0; 232],
            reserved: [0; 8],
        };
        config.info[52..56].copy_from_slice(&LO_FLAGS_AUTOCLEAR.to_ne_bytes());
        // SAFETY: LOOP_CONFIGURE reads a `loop_config` that outlives the
        // call; both descriptors are open.
        let rc = unsafe { libc::ioctl(device.as_raw_fd(), LOOP_CONFIGURE, &config) };
        if rc == 0 {
            return Some((path, device));
        }
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EBUSY) {
            skip(format_args!("cannot attach a loop device: {e}"));
            return None;
        }
        // Another process took it first: ask for the next free one.
    }
    skip("no loop device could be attached");
    None
}
