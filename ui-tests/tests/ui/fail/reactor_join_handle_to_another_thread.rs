// A spawned task's `JoinHandle` stays on the reactor's thread, as the task
// does: await it there (in another task, or in `run_until`). To hand a
// result to another thread, send it over a channel from the task.
use uring::reactor::Reactor;

fn main() {
    let reactor = Reactor::new().unwrap();
    let handle = reactor.spawn(async { 7u32 });
    std::thread::spawn(move || drop(handle)).join().unwrap();
}
