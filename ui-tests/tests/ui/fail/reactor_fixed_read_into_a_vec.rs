// A fixed-buffer read names a slot of the ring's registered-buffer table,
// so its buffer must be one of those the reactor registered: a
// `FixedBuffer` from its pool (or a slice of one). A `Vec` of the
// program's own goes to the plain `Read`.
use std::os::fd::OwnedFd;
use uring::reactor::ops::ReadFixed;
use uring::reactor::{Reactor, SharedFd};

fn main() {
    let reactor = Reactor::new().unwrap();
    let fd = SharedFd::new(OwnedFd::from(std::fs::File::open("/dev/zero").unwrap()));
    let _read = reactor.op(ReadFixed::new(&fd, Vec::with_capacity(4096), 0));
}
