// A ring lends out no descriptor (only its number, `AsRawFd`): a duplicate
// could post completions into it while a scope relies on them.
use std::os::fd::AsFd;
use uring::Ring;

fn main() {
    let ring = Ring::new(8).unwrap();
    let _dup = ring.as_fd().try_clone_to_owned();
}
