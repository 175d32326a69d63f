// An op's future belongs to the reactor's thread: the reactor holds the op's
// memory and wakes the future from its own loop. Await it there (or on the
// reactor's `spawn`); from another thread, reach the reactor through a
// `Remote`.
use uring::reactor::{Reactor, ops};

fn main() {
    let reactor = Reactor::new().unwrap();
    let future = reactor.handle().op(ops::Nop);
    std::thread::spawn(move || drop(future)).join().unwrap();
}
