// A registered file passed with `MsgRingFd` to a ring's free slot names
// the target ring through `&Ring`: a ring inside its own scope cannot be
// named, so no message lands in it while the scope runs.
use std::os::fd::AsFd;
use uring::{Ring, RingSlot, ops::MsgRingFd};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let file = std::fs::File::open("/dev/null").unwrap();
    let files = ring.register_files(&[file.as_fd()]).unwrap();
    ring.scope(|s| {
        let source = files.get(0).unwrap();
        let _ = s.push(MsgRingFd::new(RingSlot::alloc(&ring), source, 1));
    });
}
