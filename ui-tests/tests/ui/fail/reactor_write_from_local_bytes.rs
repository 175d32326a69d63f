// Bytes a reactor op sends must be owned by the op or live for the whole
// program: a slice of a local array is neither.
use uring::reactor::{Reactor, SharedFd, ops};

fn main() {
    let reactor = Reactor::new().unwrap();
    let file = SharedFd::new(std::fs::File::create("/dev/null").unwrap());
    let local = [1u8; 16];
    reactor
        .handle()
        .queue(ops::Write::new(&file, &local[..], 0), |_, _| {})
        .unwrap();
}
