// A wait on a pidfd (`WaitIdTarget::pidfd`) borrows the descriptor: it
// cannot be pushed after the pidfd is closed, when the number may name
// another process's pidfd or any file.
use std::os::fd::AsFd;
use uring::{Ring, WaitIdTarget, ops::WaitId};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let pidfd = std::fs::File::open("/dev/null").unwrap();
    // SAFETY: all-zero bytes are a valid `siginfo_t` (a C struct of integers).
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let who = WaitIdTarget::pidfd(pidfd.as_fd());
    drop(pidfd);
    ring.scope(|s| {
        s.push(WaitId::new(who, libc::WEXITED, &mut info)).unwrap();
    });
}
