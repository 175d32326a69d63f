// Arguments that name a file or memory other than the target borrow it for
// the scope: a cancel by file, a socket command, a futex word, a pipe's
// descriptor array, a `statx` buffer. Declared before the scope and kept
// open until it ends, they are pushed and read back after it.
use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::atomic::AtomicU32;
use uring::{
    Fd, Ring,
    ops::{CancelFd, FutexWake, Pipe, SocketInq, Statx},
};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let file = std::fs::File::open("/dev/null").unwrap();
    let a = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let word = AtomicU32::new(0);
    let mut fds = [-1; 2];
    // SAFETY: all-zero bytes are a valid `statx` (a C struct of integers).
    let mut st: libc::statx = unsafe { std::mem::zeroed() };
    let done = ring.scope(|s| {
        s.push(CancelFd::new(&file).user_data(1)).unwrap();
        s.push(SocketInq::new(&a).user_data(2)).unwrap();
        s.push(FutexWake::new(&word, 1).user_data(3)).unwrap();
        s.push(Pipe::new(&mut fds).user_data(4)).unwrap();
        s.push(Statx::new(Fd::CWD, c"/dev/null", &mut st).user_data(5))
            .unwrap();
        s.submit_and_wait(5).unwrap();
        let mut done: Vec<(u64, i32)> = s.completions().map(|c| (c.user_data(), c.res())).collect();
        done.sort();
        done
    });
    assert_eq!(done, [(1, -libc::ENOENT), (2, 0), (3, 0), (4, 0), (5, 0)]);
    assert!(fds.iter().all(|&fd| fd >= 0));
    // SAFETY: the pipe op completed with 0: the kernel opened both ends for
    // it and wrote their numbers, which nothing else owns.
    let _ends = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    assert_eq!(u32::from(st.stx_mode) & libc::S_IFMT, libc::S_IFCHR);
}
