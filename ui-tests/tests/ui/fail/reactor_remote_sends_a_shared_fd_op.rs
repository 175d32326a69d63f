// A `Remote` sends ops to the reactor's thread, so they must be `Send`;
// an op over a `SharedFd` (shared by reference counts of one thread) is
// not: send the descriptor itself in `Remote::execute`, and make the op
// on the reactor's thread.
use uring::reactor::{Reactor, SharedFd, ops};

fn main() {
    let reactor = Reactor::new().unwrap();
    let remote = reactor.remote();
    let file = SharedFd::new(std::fs::File::open("/dev/zero").unwrap());
    std::thread::spawn(move || {
        remote
            .queue(ops::Read::new(&file, vec![0u8; 16], 0), |_, _| {})
            .unwrap();
    });
}
