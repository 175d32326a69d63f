// `queue` runs its callback once, at the op's one completion; a multishot op
// posts many, each an item of its own. Queue it with `queue_multishot` (a
// callback per item) or read it as a stream (`stream`).
use uring::reactor::{Reactor, SharedFd, ops};

fn main() {
    let reactor = Reactor::new().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let listener = SharedFd::new(listener);
    let _ = reactor
        .handle()
        .queue(ops::AcceptMulti::new(&listener), |_, _| {});
}
