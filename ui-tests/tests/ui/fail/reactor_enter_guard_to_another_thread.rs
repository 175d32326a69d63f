// An `EnterGuard` takes its reactor's entry off the current thread's stack
// when dropped: dropped on another thread, it would take nothing there and
// leave the entry here. Enter the reactor on the thread that needs it.
use uring::reactor::Reactor;

fn main() {
    let reactor = Reactor::new().unwrap();
    let guard = reactor.enter();
    std::thread::spawn(move || drop(guard));
}
