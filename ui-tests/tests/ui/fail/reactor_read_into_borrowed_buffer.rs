// A reactor op keeps its buffer from its submission to its last completion,
// which can come after the caller has returned: a borrow of a local buffer
// is not memory it can keep.
use uring::reactor::{Reactor, SharedFd, ops};

fn main() {
    let reactor = Reactor::new().unwrap();
    let file = SharedFd::new(std::fs::File::open("/dev/zero").unwrap());
    let mut local = [0u8; 16];
    let read = ops::Read::new(&file, &mut local[..], 0);
    let _ = reactor.handle().queue(read, |_, _| {});
}
