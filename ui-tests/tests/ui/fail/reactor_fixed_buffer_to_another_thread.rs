// A `FixedBuffer` goes back to its reactor's pool when dropped, and that
// pool belongs to the reactor's thread: the buffer stays on it. Copy the
// bytes out to hand them to another thread.
use uring::reactor::Reactor;

fn main() {
    let reactor = Reactor::new().unwrap();
    let pool = reactor.register_buffers(1, 4096).unwrap();
    let buf = pool.take().unwrap();
    std::thread::spawn(move || drop(buf));
}
