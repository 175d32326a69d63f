// Every way to name a file: `&File`, `BorrowedFd`, `Fd`, a `Fixed` slot of
// the registration handle, a raw number through `unsafe`; `Fd::CWD` for
// OPENAT's directory; an owned file or a slot held exclusively for CLOSE.
use std::os::fd::{AsFd, AsRawFd, FromRawFd};
use uring::{Fd, Ring, ops::{Close, OpenAt, Read}};

fn main() {
    let mut ring = Ring::new(16).unwrap();
    let file = std::fs::File::open("/dev/zero").unwrap();
    let mut files = ring.register_files(&[file.as_fd()]).unwrap();
    let mut a = [1u8; 8];
    let mut b = [1u8; 8];
    let mut c = [1u8; 8];
    let mut d = [1u8; 8];
    let mut e = [1u8; 8];
    let done = ring.scope(|s| {
        let fixed = files.get(0).unwrap();
        s.push(Read::new(&file, &mut a[..]).user_data(1)).unwrap();
        s.push(Read::new(file.as_fd(), &mut b[..]).user_data(2)).unwrap();
        // SAFETY: `file` is open for the whole scope, which waits for the op.
        let raw = unsafe { Fd::borrow_raw(file.as_raw_fd()) };
        s.push(Read::new(raw, &mut c[..]).user_data(3)).unwrap();
        s.push(Read::new(Fd::from(file.as_fd()), &mut d[..]).user_data(4)).unwrap();
        s.push(Read::new(fixed, &mut e[..]).user_data(5)).unwrap();
        s.submit_and_wait(5).unwrap();
        let mut done: Vec<(u64, i32)> = s.completions().map(|c| (c.user_data(), c.res())).collect();
        done.sort();
        done
    });
    assert_eq!(done, [(1, 8), (2, 8), (3, 8), (4, 8), (5, 8)]);
    assert_eq!([a, b, c, d, e], [[0u8; 8]; 5]);

    let done = ring.scope(|s| {
        s.push(OpenAt::new(Fd::CWD, c"/dev/null").user_data(6)).unwrap();
        s.submit_and_wait(1).unwrap();
        s.completions().next().unwrap().result().unwrap()
    });
    // SAFETY: OPENAT's result is a new descriptor nothing else owns.
    let fd = unsafe { std::os::fd::OwnedFd::from_raw_fd(done as i32) };
    // An owned descriptor is given up to the op: the safe push takes it.
    ring.push(Close::new(fd).user_data(7)).unwrap();
    let done = ring.scope(|s| {
        // A slot to close is held exclusively.
        s.push(Close::new(files.get_mut(0).unwrap()).user_data(8)).unwrap();
        s.submit_and_wait(2).unwrap();
        let mut done: Vec<(u64, i32)> = s.completions().map(|c| (c.user_data(), c.res())).collect();
        done.sort();
        done
    });
    assert_eq!(done, [(7, 0), (8, 0)]);
}
