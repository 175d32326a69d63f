// A reactor is driven by one thread: its handles cannot be sent to another
// (give each thread a reactor of its own, with `Ring::create_many`).
use uring::reactor::{Reactor, ops};

fn main() {
    let reactor = Reactor::new().unwrap();
    let handle = reactor.handle();
    std::thread::spawn(move || {
        let _ = handle.queue(ops::Nop, |_, ()| {});
    })
    .join()
    .unwrap();
}
