// A spawned task's `JoinHandle` stays on the reactor's thread, as the task
// does: await it there (in another task, or in `run_until`). A task spawned
// from another thread through `Remote::spawn` has a handle that is `Send`.
use uring::reactor::Reactor;

fn main() {
    let reactor = Reactor::new().unwrap();
    let handle = reactor.spawn(async { 7u32 });
    std::thread::spawn(move || drop(handle)).join().unwrap();
}
