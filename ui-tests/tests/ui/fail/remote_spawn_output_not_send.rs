// A task spawned through a `Remote` hands its output back to the spawning
// thread, so the output must be `Send` (the future made by `spawn_with`
// need not be: it stays on the reactor's thread). Return owned data, or
// send an `Arc` instead of an `Rc`.
use std::rc::Rc;
use uring::reactor::Reactor;

fn main() {
    let reactor = Reactor::new().unwrap();
    let remote = reactor.remote();
    let _task = remote.spawn_with(|_handle| async { Rc::new(7u32) });
}
