// Every way to name a file: `&File`, `BorrowedFd`, a raw fd, `Fd`, a `Fixed`
// slot of the registration handle; `AT_FDCWD` for OPENAT's directory.
use std::os::fd::{AsFd, AsRawFd, FromRawFd};
use uring::{Fd, Ring, ops::{Close, OpenAt, Read}};

fn main() {
    let mut ring = Ring::new(16).unwrap();
    let file = std::fs::File::open("/dev/zero").unwrap();
    let files = ring.register_files(&[file.as_fd()]).unwrap();
    let fixed = files.get(0).unwrap();
    let mut a = [1u8; 8];
    let mut b = [1u8; 8];
    let mut c = [1u8; 8];
    let mut d = [1u8; 8];
    let mut e = [1u8; 8];
    // SAFETY: the buffers outlive the wait for all five completions below.
    unsafe {
        ring.push_unchecked(Read::new(&file, &mut a[..]).user_data(1)).unwrap();
        ring.push_unchecked(Read::new(file.as_fd(), &mut b[..]).user_data(2)).unwrap();
        ring.push_unchecked(Read::new(file.as_raw_fd(), &mut c[..]).user_data(3)).unwrap();
        ring.push_unchecked(Read::new(Fd::from(file.as_fd()), &mut d[..]).user_data(4)).unwrap();
        ring.push_unchecked(Read::new(fixed, &mut e[..]).user_data(5)).unwrap();
    }
    ring.submit_and_wait(5).unwrap();
    let mut done: Vec<(u64, i32)> = ring.completions().map(|c| (c.user_data(), c.res())).collect();
    done.sort();
    assert_eq!(done, [(1, 8), (2, 8), (3, 8), (4, 8), (5, 8)]);
    assert_eq!([a, b, c, d, e], [[0u8; 8]; 5]);

    ring.push(OpenAt::new(libc::AT_FDCWD, c"/dev/null").user_data(6)).unwrap();
    ring.submit_and_wait(1).unwrap();
    let fd = ring.completions().next().unwrap().result().unwrap() as i32;
    // SAFETY: OPENAT's result is a new descriptor nothing else owns.
    let fd = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
    ring.push(Close::new(fd).user_data(7)).unwrap();
    ring.push(Close::new(fixed).user_data(8)).unwrap();
    ring.submit_and_wait(2).unwrap();
    let mut done: Vec<(u64, i32)> = ring.completions().map(|c| (c.user_data(), c.res())).collect();
    done.sort();
    assert_eq!(done, [(7, 0), (8, 0)]);
}
